"""``partition_report``: several partitioners side by side on one graph (table and PNG)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from partitioning.graph import as_csr
from partitioning.metrics import communication_volume, edge_cut, imbalance
from partitioning.partition import METHODS, partition_with_info, resolve_vertex_weights

__all__ = ["format_report", "partition_report", "plot_part_loads", "plot_report"]


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
    **method_options: Any,
) -> List[Dict[str, Any]]:
    """Partition ``graph`` with every method for every ``k`` and measure the result.

    Returns:
        One dict per (method, k): ``method``, ``k``, ``volume`` (rows sent per
        layer), ``max_per_part`` (largest send + receive of one part),
        ``messages``, ``edge_cut`` (undirected), ``imbalance`` (by vertex count,
        or by ``vertex_weights`` when given), ``seconds``, and per part:
        ``send``, ``recv`` (lists of ``k`` row counts), ``messages_sent``,
        ``messages_received`` (peers), with their maxima ``max_send``,
        ``max_recv``, ``max_messages`` (sent + received). ``preset`` and
        ``vcycles`` configure the Mt-KaHyPar methods; ``method_options``
        (``core_fraction``, ``max_load_factor``, ``volume_slack``) go to
        ``'balanced-volume'`` (see :func:`partition`).
    """
    from partitioning.validation import check_choice, check_int

    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        ks = [ks]
    ks = [check_int("k", k, 1) for k in ks]
    if isinstance(methods, str):
        methods = [methods]
    methods = [check_choice("method", m, METHODS) for m in methods]
    if not ks or not methods:
        raise ValueError("partition_report needs at least one k and one method")
    csr = as_csr(graph)
    weights = resolve_vertex_weights(csr, vertex_weights)
    runs = [(k, m) for k in ks for m in methods]
    if progress:
        from tqdm import tqdm
        runs = tqdm(runs, desc="partitioning", unit="run")
    rows = []
    for k, method in runs:
        options = method_options if method == "balanced-volume" else {}
        result = partition_with_info(csr, k, method, imbalance_bound, seed, threads, weights, preset, vcycles,
                                     **options)
        cv = communication_volume(csr, result.parts, k)
        rows.append({
            "method": method, "k": int(k), "volume": cv.total, "max_per_part": cv.max_per_part,
            "messages": cv.messages, "edge_cut": edge_cut(csr, result.parts),
            "imbalance": imbalance(result.parts, k, weights), "seconds": result.seconds,
            "max_send": cv.max_send, "max_recv": cv.max_recv,
            "max_messages": int((cv.messages_sent + cv.messages_received).max()),
            "send": cv.send.tolist(), "recv": cv.recv.tolist(),
            "messages_sent": cv.messages_sent.tolist(), "messages_received": cv.messages_received.tolist(),
        })
    return rows


_ROW_KEYS = ("method", "k", "volume", "max_per_part", "messages", "edge_cut", "imbalance", "seconds")


def _check_rows(rows: Any) -> None:
    if not isinstance(rows, (list, tuple)) or not rows:
        raise ValueError("rows must be a non-empty list of partition_report rows")
    for r in rows:
        if not isinstance(r, dict):
            raise TypeError(f"each row must be a dict from partition_report, got {type(r).__name__}")
        missing = [key for key in _ROW_KEYS if key not in r]
        if missing:
            raise ValueError(f"a row lacks {missing}; pass the rows partition_report returns")


def format_report(rows: List[Dict[str, Any]], baseline: str = "metis") -> str:
    """A Markdown table of :func:`partition_report` rows, with each volume relative to ``baseline``."""
    _check_rows(rows)
    if not isinstance(baseline, str):
        raise TypeError(f"baseline must be a method name, got {type(baseline).__name__}")
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
    """Two grouped bar charts per ``k`` and method, saved as PNG (log scale):
    total volume, and the busiest part's send + receive, each relative to
    METIS's (edge cut) partition when ``'metis'`` is among the rows, else absolute.

    Ratios on a log axis keep a random partition (5-15x METIS) from dwarfing
    the 10-30% differences between the volume-aware methods.
    """
    _check_rows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ks = sorted({r["k"] for r in rows})
    known = [m for m in METHODS if any(r["method"] == m for r in rows)]
    methods = known + sorted({r["method"] for r in rows} - set(known))
    relative = any(r["method"] == "metis" for r in rows)
    x = np.arange(len(ks))
    width = 0.8 / max(len(methods), 1)
    fig, axes = plt.subplots(1, 2, figsize=(2.4 * len(ks) + 4, 4.2))
    for ax, key, label in ((axes[0], "volume", "total rows sent per layer"),
                           (axes[1], "max_per_part", "busiest part's send + receive")):
        base = {r["k"]: r[key] for r in rows if r["method"] == "metis"}
        value = {(r["method"], r["k"]): r[key] for r in rows}
        for i, m in enumerate(methods):
            ys = []
            for k in ks:
                v = value.get((m, k), np.nan)
                ys.append(v / base[k] if relative and base.get(k) else (v if not relative else np.nan))
            ys = np.asarray(ys, dtype=float)
            bottom = 1.0 if relative else 0.0  # ratio bars grow up or down from 1: below the line beats METIS
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, ys - bottom, width, bottom=bottom, label=m)
        ax.set_yscale("log")
        if relative:
            from matplotlib.ticker import FuncFormatter

            ax.axhline(1.0, color="black", lw=0.8)
            fmt = FuncFormatter(lambda v, _: f"{v:g}x")
            ax.yaxis.set_major_formatter(fmt)
            ax.yaxis.set_minor_formatter(fmt)
            ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xticks(x, [str(k) for k in ks])
        ax.set_xlabel("parts k")
        ax.set_ylabel(f"{label} / METIS's" if relative else label)
        ax.set_title(f"{label}" + (" relative to METIS (edge cut)" if relative else ""), fontsize=9)
    axes[1].legend(fontsize=7)
    fig.suptitle((title + ": " if title else "") + "lower is better")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_part_loads(rows: List[Dict[str, Any]], path: str, title: str = "") -> None:
    """Per-part send + receive of every method, one panel per ``k``, saved as PNG.

    Each method's parts are sorted from busiest to idlest and drawn as a line
    (stacked send and receive are in the rows' ``send``/``recv`` lists), so the
    height of a line's left end is the busiest rank and its flatness is how
    even the load is. Needs rows with per-part lists (from :func:`partition_report`).
    """
    _check_rows(rows)
    if any("send" not in r or "recv" not in r for r in rows):
        raise ValueError("rows lack per-part 'send'/'recv' lists; pass the rows partition_report returns")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ks = sorted({r["k"] for r in rows})
    known = [m for m in METHODS if any(r["method"] == m for r in rows)]
    methods = known + sorted({r["method"] for r in rows} - set(known))
    fig, axes = plt.subplots(1, len(ks), figsize=(3.6 * len(ks) + 1, 3.8), squeeze=False)
    for ax, k in zip(axes[0], ks):
        for m in methods:
            row = next((r for r in rows if r["method"] == m and r["k"] == k), None)
            if row is None:
                continue
            load = np.sort(np.asarray(row["send"]) + np.asarray(row["recv"]))[::-1]
            ax.plot(np.arange(1, load.size + 1), load, marker="." if k <= 16 else None, label=m)
        ax.set_title(f"k = {k}", fontsize=9)
        ax.set_xlabel("parts, busiest first")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("send + receive (rows per layer)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle((title + ": " if title else "") + "per-part communication volume")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
