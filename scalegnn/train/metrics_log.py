"""JSON-lines metrics of a run, and optional PNG training curves."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.figure

__all__ = ["MetricsLog", "curves_figure", "plot_curves", "save_summary"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


class MetricsLog:
    """Append-only ``metrics.jsonl``: one JSON object per epoch, then one with ``"final": true``.

    On resume, :meth:`truncate_after` drops the lines of epochs that ran after
    the checkpoint being resumed, so each epoch appears exactly once.
    """

    def __init__(self, path: Union[str, os.PathLike]) -> None:
        self.path = Path(path)  # its folder is made on the first append, never by merely opening a log

    def append(self, record: Dict[str, Any]) -> None:
        line = json.dumps({k: _clean(v) for k, v in record.items()}, sort_keys=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()

    def read(self) -> List[Dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        break  # a line torn by a kill: everything after it is dropped
        return records

    def truncate_after(self, epoch: int) -> None:
        """Keep only per-epoch records with ``epoch <= epoch`` (rewritten atomically)."""
        kept = [r for r in self.read() if not r.get("final") and r.get("epoch", 0) <= epoch]
        tmp = self.path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for r in kept:
                f.write(json.dumps(r) + "\n")
        os.replace(tmp, self.path)


def curves_figure(records: List[Dict[str, Any]], title: Optional[str] = None, best_epoch: Optional[int] = None,
                  monitor: Optional[str] = None) -> "matplotlib.figure.Figure":
    """The training-curves figure of per-epoch ``records``: loss (left) and metrics (right).

    Args:
        records: ``metrics.jsonl`` records (the closing ``"final"`` record is ignored).
        title: the figure's title, e.g. ``"gcn on Cora"`` or the run directory.
        best_epoch: marked on both panels by a dashed vertical line (label
            ``best epoch N``, with the ``monitor`` value when given); ``None`` or
            ``0`` draws no mark.
        monitor: the metric that selected the best epoch; its curve gets a dot there.

    Returns:
        A ``matplotlib`` figure (not shown, not saved; see :func:`plot_curves`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if "epoch" in r and not r.get("final")]
    epochs = [r["epoch"] for r in rows]
    metric_keys = sorted({k for r in rows for k in r if k.split("_", 1)[0] in ("train", "val", "test")})
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r.get("loss") for r in rows], label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    for key in metric_keys:
        points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
        ax_metric.plot([e for e, _ in points], [v for _, v in points], label=key)
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel("metric")
    if best_epoch:
        best = next((r for r in rows if r["epoch"] == best_epoch), {})
        value = best.get(monitor) if monitor else None
        label = f"best epoch {best_epoch}" + (f" ({monitor} {value:.4f})" if isinstance(value, (int, float)) else "")
        for ax in (ax_loss, ax_metric):
            ax.axvline(best_epoch, color="black", linestyle="--", linewidth=1, label=label)
        if isinstance(value, (int, float)):
            ax_metric.plot([best_epoch], [value], "o", color="black")
    ax_loss.legend()
    if metric_keys or best_epoch:
        ax_metric.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(records: List[Dict[str, Any]], path: Union[str, os.PathLike], title: Optional[str] = None,
                best_epoch: Optional[int] = None, monitor: Optional[str] = None) -> Path:
    """Write :func:`curves_figure` of ``records`` to a PNG at ``path``."""
    import matplotlib.pyplot as plt

    fig = curves_figure(records, title=title, best_epoch=best_epoch, monitor=monitor)
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_summary(out_dir: Optional[Union[str, os.PathLike]], summary: Dict[str, Any]) -> Optional[Path]:
    """Write a run's closing ``summary.json`` into ``out_dir`` atomically (no-op when ``out_dir`` is None)."""
    if out_dir is None:
        return None
    path = Path(out_dir) / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path
