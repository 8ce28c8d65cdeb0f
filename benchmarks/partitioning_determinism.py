"""What reproducibility costs: Mt-KaHyPar's ``deterministic`` preset vs its ``default`` preset.

For each graph, k and method (``hypergraph``, ``refined-metis``), runs both
presets ``--reps`` times, interleaved (default, deterministic, default, ...),
all with the same seed, and reports the median wall time, the median and range
of the exact communication volume, and how many distinct partitions the
repetitions produced (1 = reproducible).

    SCALEGNN_DATA=/path/to/data python -m benchmarks.partitioning_determinism \\
        --graphs arxiv-collab BlogCatalog powerlaw-20k-200k --parts 8 32 --threads 2 --reps 5
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time

from benchmarks.partitioning_compare import load
from partitioning import communication_volume, partition_with_info

PRESETS = ("default", "deterministic")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", nargs="+", default=["arxiv-collab", "BlogCatalog", "powerlaw-20k-200k"])
    p.add_argument("--parts", nargs="+", type=int, default=[8, 32])
    p.add_argument("--methods", nargs="+", default=["hypergraph", "refined-metis"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rows = []
    print("| graph | k | method | preset | median time (s) | median volume | volume range | distinct partitions |")
    print("|---|---:|---|---|---:|---:|---:|---:|", flush=True)
    for name in args.graphs:
        graph = load(name, args.root)
        for k in args.parts:
            for method in args.methods:
                runs = {preset: [] for preset in PRESETS}
                for _ in range(args.reps):
                    for preset in PRESETS:  # interleaved, so load changes hit both presets alike
                        t = time.perf_counter()
                        r = partition_with_info(graph, k, method, seed=args.seed, threads=args.threads, preset=preset)
                        seconds = time.perf_counter() - t
                        runs[preset].append((seconds, communication_volume(graph, r.parts, k).total,
                                             hashlib.sha1(r.parts.tobytes()).hexdigest()))
                for preset in PRESETS:
                    times, volumes, digests = zip(*runs[preset])
                    row = {"graph": name, "k": k, "method": method, "preset": preset,
                           "median_seconds": statistics.median(times), "median_volume": statistics.median(volumes),
                           "min_volume": min(volumes), "max_volume": max(volumes), "distinct": len(set(digests)),
                           "times": times, "volumes": volumes}
                    rows.append(row)
                    print(f"| {name} | {k} | {method} | {preset} | {row['median_seconds']:.2f} | "
                          f"{row['median_volume']:,.0f} | {row['min_volume']:,}-{row['max_volume']:,} | "
                          f"{row['distinct']} of {args.reps} |", flush=True)
                if args.json:
                    with open(args.json, "w") as f:
                        json.dump(rows, f, indent=1)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
