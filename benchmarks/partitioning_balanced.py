"""Total volume and the busiest part together: METIS, metis-volume, hypergraph and balanced-volume.

For each graph and k prints one table (``partition_report`` rows: total rows
sent per layer, the busiest part's send + receive, its send and receive,
messages, the most messages one part sends + receives, partitioning time),
writes the rows as JSON (``--json``, one file per run, appended per graph)
and draws one PNG of every method's per-part send + receive distribution
(``--plot``: one row of panels per graph, one panel per k, parts sorted
busiest first). The process's peak resident memory is printed per graph.

    SCALEGNN_DATA=/path/to/data python -m benchmarks.partitioning_balanced \\
        --graphs powerlaw-20k-200k ba-20k-5 arxiv-collab facebook BlogCatalog --parts 8 16 32 64 \\
        --json balanced.json --plot benchmarks/results/partitioning_parts.png
    python -m benchmarks.partitioning_balanced --render balanced.json [more.json ...] \\
        --plot benchmarks/results/partitioning_parts.png     # tables and PNG from saved rows

``--render`` merges the files row by row: a later file's row for the same
(graph, k, method) replaces an earlier one, so a rerun of some methods
(``--methods balanced-volume``) can be combined with saved rows of the others
(deterministic methods give the same partition for the same seed).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

from benchmarks.partitioning_compare import load
from partitioning.report import partition_report

METHODS = ["metis", "metis-volume", "hypergraph", "balanced-volume"]


def table(name, rows) -> str:
    base = {r["k"]: r for r in rows if r["method"] == "metis"}
    lines = [f"#### {name}", "",
             "| k | method | total | vs METIS | busiest part send+recv | vs METIS | max send | max recv | messages "
             "| max messages per part | imbalance | time (s) | run |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: (r["k"], METHODS.index(r["method"]) if r["method"] in METHODS else 99)):
        b = base.get(r["k"])
        vt = f"{r['volume'] / b['volume']:.2f}x" if b else "-"
        vm = f"{r['max_per_part'] / b['max_per_part']:.2f}x" if b else "-"
        lines.append(f"| {r['k']} | {r['method']} | {r['volume']:,} | {vt} | {r['max_per_part']:,} | {vm} | "
                     f"{r['max_send']:,} | {r['max_recv']:,} | {r['messages']} | {r['max_messages']} | "
                     f"{r['imbalance']:.3f} | {r['seconds']:.1f} | {os.path.basename(r.get('source', '-'))} |")
    return "\n".join(lines)


def summary(results) -> str:
    """One row per (graph, k): balanced-volume's total and busiest part against METIS's and hypergraph's."""
    lines = ["| graph | k | total / METIS | busiest / METIS | busiest vs hypergraph's | messages / METIS "
             "| time (s): METIS, metis-volume, hypergraph, balanced-volume |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, rows in results.items():
        by = {(r["k"], r["method"]): r for r in rows}
        for k in sorted({r["k"] for r in rows}):
            b, m, h = by.get((k, "balanced-volume")), by.get((k, "metis")), by.get((k, "hypergraph"))
            if b is None or m is None:
                continue
            if h is None:
                vs_h = "not run"
            else:
                drop = 100 * (1 - b["max_per_part"] / h["max_per_part"])
                vs_h = f"{drop:.0f}% lower" if drop >= 0 else f"{-drop:.0f}% higher"
            times = ", ".join(f"{by[(k, x)]['seconds']:.1f}" if (k, x) in by else "-" for x in METHODS)
            lines.append(f"| {name} | {k} | {b['volume'] / m['volume']:.3f} | {b['max_per_part'] / m['max_per_part']:.3f} "
                         f"| {vs_h} | {b['messages'] / m['messages']:.2f} | {times} |")
    return "\n".join(lines)


def plot(results, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results)
    ks = sorted({r["k"] for rows in results.values() for r in rows})
    fig, axes = plt.subplots(len(names), len(ks), figsize=(3.3 * len(ks), 2.6 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for j, k in enumerate(ks):
            ax = axes[i][j]
            for m in METHODS:
                row = next((r for r in results[name] if r["method"] == m and r["k"] == k), None)
                if row is not None:
                    loads = np.sort(np.asarray(row["send"]) + np.asarray(row["recv"]))[::-1]
                    ax.plot(np.arange(1, loads.size + 1), loads, label=m, lw=1.2,
                            color=f"C{METHODS.index(m)}")  # one colour per method even where one is missing
            ax.set_yscale("log")
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(f"k = {k}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{name}\nsend + recv", fontsize=8)
            if i == len(names) - 1:
                ax.set_xlabel("parts, busiest first", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Per-part send + receive (rows per layer); the left end of each line is the busiest rank")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", nargs="+",
                   default=["powerlaw-20k-200k", "ba-20k-5", "arxiv-collab", "facebook", "BlogCatalog"])
    p.add_argument("--parts", nargs="+", type=int, default=[8, 16, 32, 64])
    p.add_argument("--methods", nargs="+", default=METHODS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--plot", default=None)
    p.add_argument("--render", nargs="+", default=None, help="only print tables / draw the PNG from saved JSON")
    args = p.parse_args()
    if args.render:
        results = {}
        for path in args.render:
            with open(path) as f:
                for name, rows in json.load(f).items():
                    old = {(r["k"], r["method"]): r for r in results.get(name, [])}
                    old.update({(r["k"], r["method"]): dict(r, source=path) for r in rows})
                    results[name] = list(old.values())
        print(summary(results) + "\n")
        for name, rows in results.items():
            print(table(name, rows) + "\n")
        if args.plot:
            plot(results, args.plot)
        return
    results = {}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for name in args.graphs:
        t = time.perf_counter()
        graph = load(name, args.root)
        print(f"\n{name}: {graph.shape[0]:,} vertices, {graph.nnz:,} directed edges "
              f"(loaded in {time.perf_counter() - t:.1f}s)", flush=True)
        rows = []
        for k in args.parts:  # one k at a time so partial results are saved
            rows += partition_report(graph, [k], args.methods, seed=args.seed, threads=args.threads)
            results[name] = rows
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
        print(table(name, rows), flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"peak RSS so far: {peak:.2f} GB; load average: {os.getloadavg()}", flush=True)
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
