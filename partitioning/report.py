"""``partition_report``: several partitioners side by side on one graph (table and PNG)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from partitioning.graph import as_csr
from partitioning.metrics import communication_volume, edge_cut, imbalance
from partitioning.partition import METHODS, partition_with_info, resolve_vertex_weights

__all__ = ["format_report", "partition_report", "plot_report"]


def partition_report(
    graph: Any,
    ks: Iterable[int],
    methods: Sequence[str] = METHODS,
    imbalance_bound: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    vertex_weights: Any = None,
    progress: bool = False,
    preset: str = "deterministic",
    vcycles: int = 0,
) -> List[Dict[str, Any]]:
    """Partition ``graph`` with every method for every ``k`` and measure the result.

    Returns:
        One dict per (method, k): ``method``, ``k``, ``volume`` (rows sent per
        layer), ``max_per_part`` (largest send + receive of one part),
        ``messages``, ``edge_cut`` (undirected), ``imbalance`` (by vertex count,
        or by ``vertex_weights`` when given), ``seconds``. ``preset`` and
        ``vcycles`` configure the hypergraph method (see :func:`partition`).
    """
    csr = as_csr(graph)
    weights = resolve_vertex_weights(csr, vertex_weights)
    runs = [(k, m) for k in ks for m in methods]
    if progress:
        from tqdm import tqdm
        runs = tqdm(runs, desc="partitioning", unit="run")
    rows = []
    for k, method in runs:
        result = partition_with_info(csr, k, method, imbalance_bound, seed, threads, weights, preset, vcycles)
        cv = communication_volume(csr, result.parts, k)
        rows.append({
            "method": method, "k": int(k), "volume": cv.total, "max_per_part": cv.max_per_part,
            "messages": cv.messages, "edge_cut": edge_cut(csr, result.parts),
            "imbalance": imbalance(result.parts, k, weights), "seconds": result.seconds,
        })
    return rows


def format_report(rows: List[Dict[str, Any]], baseline: str = "metis") -> str:
    """A Markdown table of :func:`partition_report` rows, with each volume relative to ``baseline``."""
    base = {r["k"]: r["volume"] for r in rows if r["method"] == baseline}
    lines = ["| k | method | volume (rows/layer) | vs " + baseline + " | max per part | messages | edge cut | imbalance | time (s) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    order = {m: i for i, m in enumerate(METHODS)}
    for r in sorted(rows, key=lambda r: (r["k"], order.get(r["method"], len(order)), r["method"])):
        ratio = f"{r['volume'] / base[r['k']]:.2f}x" if base.get(r["k"]) else "-"
        lines.append(f"| {r['k']} | {r['method']} | {r['volume']:,} | {ratio} | {r['max_per_part']:,} | "
                     f"{r['messages']} | {r['edge_cut']:,} | {r['imbalance']:.3f} | {r['seconds']:.2f} |")
    return "\n".join(lines)


def plot_report(rows: List[Dict[str, Any]], path: str, title: str = "") -> None:
    """Grouped bar chart of communication volume per ``k`` and method, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ks = sorted({r["k"] for r in rows})
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    value = {(r["method"], r["k"]): r["volume"] for r in rows}
    x = np.arange(len(ks))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(ks) + 3, 4))
    for i, m in enumerate(methods):
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, [value.get((m, k), 0) for k in ks], width, label=m)
    ax.set_xticks(x, [str(k) for k in ks])
    ax.set_xlabel("parts k")
    ax.set_ylabel("feature rows sent per layer")
    ax.set_title(title or "communication volume")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
