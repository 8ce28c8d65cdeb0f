"""JSON-lines metrics of a run, and optional PNG training curves."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

__all__ = ["MetricsLog", "plot_curves", "save_summary"]


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
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: Dict[str, Any]) -> None:
        line = json.dumps({k: _clean(v) for k, v in record.items()}, sort_keys=False)
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


def plot_curves(records: List[Dict[str, Any]], path: Union[str, os.PathLike], title: Optional[str] = None) -> Path:
    """Write loss and metric curves (one panel each) of per-epoch ``records`` to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in records if "epoch" in r and not r.get("final")]
    rows = [r for r in records if "epoch" in r and not r.get("final")]
    metric_keys = sorted({k for r in rows for k in r if k.split("_", 1)[0] in ("train", "val", "test")})
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r.get("loss") for r in rows], label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    for key in metric_keys:
        ax_metric.plot(epochs, [r.get(key) for r in rows], label=key)
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel("metric")
    if metric_keys:
        ax_metric.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
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
