"""Command line: partition a graph and write the per-rank directory, or compare partitioners.

Examples::

    python -m partitioning --dataset Cora --parts 4 --method hypergraph --out runs/cora-4
    python -m partitioning --edges graph.txt --parts 8 --method metis --out runs/g-8
    python -m partitioning --dataset synthetic-1M-25M --parts 8 --method refined-metis --out runs/big-8
    python -m partitioning compare --dataset facebook --parts 2 4 8 16 32 --plot fb.png
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional

from partitioning.artifacts import check_output_dir, write_partitions
from partitioning.graph import as_csr
from partitioning.metrics import communication_volume, edge_cut, imbalance
from partitioning.mtkahypar_backend import DETERMINISTIC_PRESETS, PRESETS
from partitioning.partition import DEFAULT_PRESET, METHODS, partition_with_info
from partitioning.readers import DATASETS, PATTERNS, read_edge_list, read_graph
from partitioning.report import format_report, partition_report, plot_part_loads, plot_report
from partitioning.synthetic import parse_synthetic_name, synthetic_features, synthetic_graph_blocks


def _add_graph_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help=f"dataset name (every name `scalegnn datasets` lists): {', '.join(DATASETS)}; "
                                       f"also {', '.join(PATTERNS)}")
    src.add_argument("--edges", help="edge-list file (two whitespace-separated ids per line; # comments)")
    p.add_argument("--one-based", action="store_true", help="ids in --edges start at 1")
    p.add_argument("--root", default=None, help="data root (default: $SCALEGNN_DATA, else ~/.scalegnn/data)")
    p.add_argument("--imbalance", type=float, default=0.03, help="allowed imbalance epsilon (default 0.03)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="Mt-KaHyPar threads (default: all CPUs)")
    p.add_argument("--vertex-weights", choices=["degree"], default=None,
                   help="balance SpMM work (entries per row + 1) instead of vertex counts")
    p.add_argument("--preset", choices=PRESETS, default=DEFAULT_PRESET,
                   help="Mt-KaHyPar preset (hypergraph, refined-metis). 'deterministic' (default): the same seed gives "
                        "the same partition on every run; 'default'/'quality': faster or better, not reproducible "
                        "with more than one thread")
    p.add_argument("--core-fraction", type=float, default=None,
                   help="balanced-volume: share of highest-degree vertices placed first and fixed "
                        "(default: searched)")
    p.add_argument("--max-load-factor", type=float, default=1.0,
                   help="balanced-volume: bound on the busiest part's send+receive, relative to METIS's (default 1)")
    p.add_argument("--volume-slack", type=float, default=0.02,
                   help="balanced-volume: how much the final polish may raise the total volume (default 0.02)")
    p.add_argument("--vcycles", type=int, default=0,
                   help="extra Mt-KaHyPar V-cycles refining the hypergraph partition (never worse; helps at small k)")


def _load(args):
    """``(graph, blocks)``; ``blocks`` are the planted communities of synthetic datasets, else ``None``."""
    t = time.perf_counter()
    blocks = None
    if args.dataset and args.dataset.startswith("synthetic"):
        kind, n, m = parse_synthetic_name(args.dataset)
        graph, blocks = synthetic_graph_blocks(kind, n, m, seed=args.seed)
        graph = as_csr(graph)
        name = args.dataset
    elif args.dataset:
        graph = read_graph(args.dataset, args.root, seed=args.seed)
        name = args.dataset
    else:
        graph = read_edge_list(args.edges, one_based=args.one_based)
        name = args.edges
    print(f"{name}: {graph.shape[0]:,} vertices, {graph.nnz:,} directed edges "
          f"(read in {time.perf_counter() - t:.1f}s)", file=sys.stderr)
    return graph, blocks


def _method_options(args) -> dict:
    return {"core_fraction": args.core_fraction, "max_load_factor": args.max_load_factor,
            "volume_slack": args.volume_slack}


def _note_reproducibility(args) -> None:
    methods = getattr(args, "methods", None) or [getattr(args, "method", None)]
    uses_mtkahypar = any(m in ("hypergraph", "refined-metis", "balanced-volume") for m in methods)
    if uses_mtkahypar and args.preset not in DETERMINISTIC_PRESETS and args.threads != 1:
        print(f"note: --preset {args.preset} with more than one thread is not reproducible (the same seed can give "
              "another partition); use --preset deterministic (the default) for repeatable runs", file=sys.stderr)


SLOW_HYPERGRAPH_EDGES = 20_000_000  # above this many edges the CLI points big-graph users to refined-metis


def main_partition(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m partitioning", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_graph_args(p)
    p.add_argument("--parts", "-k", type=int, required=True, help="number of parts (ranks)")
    p.add_argument("--method", choices=METHODS, default="hypergraph",
                   help="hypergraph: Mt-KaHyPar on the exact volume; refined-metis: METIS then Mt-KaHyPar V-cycles "
                        "(faster on big graphs); balanced-volume: low total volume with the busiest part's "
                        "send+receive kept within METIS's; metis-volume: METIS's own volume objective; "
                        "metis: edge cut; random")
    p.add_argument("--out", required=True, help="output directory (layout: partitioning/FORMAT.md)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out directory")
    p.add_argument("--with-features", action="store_true",
                   help="synthetic datasets only: also write the generated features and labels per part")
    p.add_argument("--num-features", type=int, default=128)
    args = p.parse_args(argv)
    check_output_dir(args.out, args.overwrite)  # refuse a bad --out before a long run, not after it
    _note_reproducibility(args)
    graph, blocks = _load(args)
    if args.with_features and blocks is None:
        p.error("--with-features is only available for synthetic datasets")
    if args.method == "hypergraph" and graph.nnz >= SLOW_HYPERGRAPH_EDGES:
        print(f"note: Mt-KaHyPar from scratch on {graph.nnz:,} edges can take well over 10 minutes on a few cores "
              "(1M vertices / 25M edges: ~10 min on 2); --method refined-metis reaches nearly the same volume "
              "in under half the time", file=sys.stderr)
    result = partition_with_info(graph, args.parts, args.method, args.imbalance, args.seed, args.threads,
                                 args.vertex_weights, args.preset, args.vcycles, progress=True,
                                 **_method_options(args))
    cv = communication_volume(graph, result.parts, args.parts)
    features = labels = None
    if args.with_features:
        features, labels = synthetic_features(blocks, args.num_features, seed=args.seed), blocks
    t = time.perf_counter()
    write_partitions(args.out, graph, result.parts, features=features, labels=labels, k=args.parts,
                     method=args.method, overwrite=args.overwrite, progress=graph.shape[0] > 1_000_000,
                     extra={"dataset": args.dataset or args.edges, "seed": args.seed, "imbalance_bound": args.imbalance,
                            "seconds": result.seconds, **{k: v for k, v in result.info.items() if k != "imbalance"}})
    summary = {"method": args.method, "k": args.parts, "volume": cv.total, "max_per_part": cv.max_per_part,
               "max_send": cv.max_send, "max_recv": cv.max_recv, "messages": cv.messages, "edge_cut": edge_cut(graph, result.parts),
               "imbalance": round(imbalance(result.parts, args.parts), 4),
               "partition_seconds": round(result.seconds, 2), "write_seconds": round(time.perf_counter() - t, 2),
               "out": args.out}
    print(json.dumps(summary))
    return 0


def main_compare(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m partitioning compare",
                                description="Compare the hypergraph, refined-METIS, METIS (volume and edge cut) and "
                                            "random partitions of one graph.")
    _add_graph_args(p)
    p.add_argument("--parts", "-k", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--plot", default=None,
                   help="write a PNG here: total volume and busiest part's send+receive of each method relative "
                        "to METIS (log scale), per k")
    p.add_argument("--json", default=None, help="write the rows as JSON here")
    p.add_argument("--plot-parts", default=None,
                   help="write a PNG of every method's per-part send+receive distribution here")
    args = p.parse_args(argv)
    _note_reproducibility(args)
    graph, _ = _load(args)
    rows = partition_report(graph, args.parts, args.methods, args.imbalance, args.seed, args.threads,
                            args.vertex_weights, progress=True, preset=args.preset, vcycles=args.vcycles,
                            **_method_options(args))
    print(format_report(rows, baseline="metis" if "metis" in args.methods else args.methods[0]))
    if args.plot:
        print(f"drawing {args.plot} ...", file=sys.stderr, flush=True)
        plot_report(rows, args.plot, title=f"{args.dataset or args.edges}")
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.plot_parts:
        plot_part_loads(rows, args.plot_parts, title=f"{args.dataset or args.edges}")
        print(f"per-part plot written to {args.plot_parts}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "compare":
            return main_compare(argv[1:])
        return main_partition(argv)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as e:
        print(f"python -m partitioning: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
