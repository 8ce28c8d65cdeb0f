"""Exact communication volume of every partitioner: hypergraph, refined METIS, METIS (volume and edge cut), random.

For each graph and k it prints the table of :func:`partitioning.partition_report`
(rows sent per layer, largest per-part send+receive, messages, edge cut,
imbalance, partitioning time) and, with ``--plot``, draws each volume-aware
method's volume relative to METIS's edge-cut partition against k for all graphs.

Graph names: any :func:`partitioning.readers.read_graph` name (``Cora``,
``arxiv-collab``, ``facebook``, ``BlogCatalog``, ``synthetic-<n>-<m>``,
...), ``powerlaw-<n>-<m>`` (a plain Chung–Lu power-law graph, γ = 2.5, no
planted communities) and ``ba-<n>-<d>`` (Barabási–Albert via networkx,
``d`` edges per new vertex).

    SCALEGNN_DATA=/path/to/data python -m benchmarks.partitioning_compare \\
        --graphs Cora arxiv-collab facebook BlogCatalog powerlaw-20k-200k synthetic-20k-200k ba-20k-5 \\
        --parts 2 4 8 16 32 --threads 2 --plot benchmarks/results/partitioning_volume.png
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from partitioning.graph import as_csr
from partitioning.partition import METHODS
from partitioning.readers import read_graph
from partitioning.report import format_report, partition_report
from partitioning.synthetic import _parse_count, powerlaw_sbm_graph


def load(name: str, root):
    if name.startswith("powerlaw-"):
        _, n, m = name.split("-")
        return powerlaw_sbm_graph(_parse_count(n, "nodes", name), _parse_count(m, "edges", name), num_blocks=1,
                                  exponent=2.5, seed=0)[0]
    if name.startswith("ba-"):
        import networkx as nx

        _, n, d = name.split("-")
        graph = nx.barabasi_albert_graph(_parse_count(n, "nodes", name), int(d), seed=0)
        return as_csr(nx.to_scipy_sparse_array(graph, format="csr"))
    return read_graph(name, root)


def plot_ratios(results, path):
    """One panel per volume-aware method: its volume / METIS's edge-cut volume against k, for every graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in ("hypergraph", "refined-metis", "metis-volume")
               if any(r["method"] == m for rows in results.values() for r in rows)]
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods) + 1, 4.2), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], methods):
        for name, rows in results.items():
            metis = {r["k"]: r["volume"] for r in rows if r["method"] == "metis"}
            volume = {r["k"]: r["volume"] for r in rows if r["method"] == method}
            ks = sorted(k for k in volume if metis.get(k))
            ax.plot(ks, [volume[k] / metis[k] for k in ks], marker="o", label=name)
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.axhline(0.8, color="gray", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("parts k")
        ax.set_title(method)
    axes[0][0].set_ylabel("volume / METIS (edge cut) volume")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("Exact communication volume (rows sent per layer), lower is better")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", nargs="+",
                   default=["Cora", "arxiv-collab", "facebook", "BlogCatalog", "powerlaw-20k-200k",
                            "synthetic-20k-200k", "ba-20k-5"])
    p.add_argument("--parts", nargs="+", type=int, default=[2, 4, 8, 16, 32])
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="default", help="Mt-KaHyPar preset for the hypergraph method")
    p.add_argument("--vcycles", type=int, default=0,
                   help="extra Mt-KaHyPar V-cycles for the hypergraph method (refined-metis runs at least one)")
    p.add_argument("--root", default=None)
    p.add_argument("--plot", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    results = {}
    for name in args.graphs:
        t = time.perf_counter()
        graph = load(name, args.root)
        print(f"\n### {name}: {graph.shape[0]:,} vertices, {graph.nnz:,} directed edges "
              f"(loaded in {time.perf_counter() - t:.1f}s)\n", flush=True)
        rows = partition_report(graph, args.parts, methods=args.methods, seed=args.seed, threads=args.threads,
                                progress=False, preset=args.preset, vcycles=args.vcycles)
        results[name] = rows
        print(format_report(rows), flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    if args.plot:
        plot_ratios(results, args.plot)
        print(f"\nplot: {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
