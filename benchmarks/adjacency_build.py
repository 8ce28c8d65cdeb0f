"""Before / after of the normalized-adjacency build at products size: K=10 ``gbp_exact`` and SGC K=2 end to end.

The previous build (``torch.sparse_coo_tensor(...).coalesce().to_sparse_csr()`` with self-loops removed by a
boolean mask) is read from git at ``--previous`` and run in the same rounds as the current one, interleaved;
every call gets a fresh view of ``edge_index``, so the normalization is inside each timed call::

    python -m benchmarks.adjacency_build --size products --rounds 3

Prints per-call wall and CPU seconds, the max difference of the results, medians and ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types

import torch

from benchmarks.propagation import SIZES, bench_graph
import scalegnn.data.adjacency as adjacency
import scalegnn.nn.reordering as reordering
from scalegnn.nn.gbp import gbp_exact
from scalegnn.nn.sgc import sgc_precompute

PREVIOUS = "1f6d481"  # the last commit before the SciPy build


def previous_module(commit: str) -> types.ModuleType:
    done = subprocess.run(["git", "show", f"{commit}:scalegnn/data/adjacency.py"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cannot read the previous build from git at {commit!r} (run this from a git checkout of "
                         f"scalegnn): {done.stderr.strip()}")
    source = done.stdout
    module = types.ModuleType("adjacency_previous")
    exec(compile(source, f"<git {commit}:scalegnn/data/adjacency.py>", "exec"), module.__dict__)
    return module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="products")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--previous", default=PREVIOUS, help="git commit holding the previous build")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    old = previous_module(args.previous)
    new_build = adjacency.normalized_adjacency
    ei, x, _ = bench_graph(args.size, 0)
    print(f"graph {x.size(0):,} nodes, {ei.size(1):,} directed edges, {x.size(1)} features; {args.threads} thread(s); "
          f"load {os.getloadavg()}", flush=True)
    ppr = [0.1 * 0.9 ** level for level in range(11)]
    calls = {
        "gbp K=10 previous": (old.normalized_adjacency, lambda: gbp_exact(x, ei.view(2, -1), ppr, progress=False,
                                                                          reorder=None)),
        "gbp K=10 new": (new_build, lambda: gbp_exact(x, ei.view(2, -1), ppr, progress=False, reorder=None)),
        "sgc K=2 previous": (old.normalized_adjacency, lambda: sgc_precompute(x, ei.view(2, -1), 2, progress=False,
                                                                              reorder=None)),
        "sgc K=2 new": (new_build, lambda: sgc_precompute(x, ei.view(2, -1), 2, progress=False, reorder=None)),
    }
    times = {name: [] for name in calls}
    first = {}
    try:
        for rnd in range(args.rounds):
            for name, (build, call) in calls.items():
                adjacency.normalized_adjacency = reordering.normalized_adjacency = build
                t, c = time.perf_counter(), time.process_time()
                out = call()
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                times[name].append(wall)
                kind = name.rsplit(" ", 1)[0]
                if rnd == 0 and kind in first:
                    print(f"  {kind}: max |previous - new| = {float((first.pop(kind) - out).abs().max()):.2e}", flush=True)
                elif rnd == 0:
                    first[kind] = out
                del out
                print(f"round {rnd} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, load {os.getloadavg()[0]:.2f}",
                      flush=True)
    finally:
        adjacency.normalized_adjacency = reordering.normalized_adjacency = new_build
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.1f} s ({', '.join(f'{v:.1f}' for v in values)})")
    for kind in ("gbp K=10", "sgc K=2"):
        ratio = statistics.median(times[kind + " previous"]) / statistics.median(times[kind + " new"])
        print(f"{kind}: {ratio:.2f}x faster end to end")
    print("load at end", os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
