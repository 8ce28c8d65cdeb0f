"""balanced-volume at fixed core fractions and options: where its total and busiest part come from.

Prints, per (k, configuration), the total and busiest part relative to METIS's
before the max-load polish, after it and at the end (after the total-volume
refinement under the bound), with the moves of each phase:

    SCALEGNN_DATA=/path/to/data python -m benchmarks.partitioning_balanced_explore powerlaw-20k-200k 16,64 \\
        "0.05;0.1:b;0.025:b;0.1:ci=0.2;0.1:vc=3"

A configuration is ``fraction[:option...]``: ``b`` stops the polish once the
busiest part is within METIS's (``polish_to_bound``), ``ci=X`` sets the core
placement's imbalance (``partitioning.balanced_volume.CORE_IMBALANCE``,
default 0.05), ``vc=N`` runs N Mt-KaHyPar V-cycles in phase 1 (default 1; 0 with ``s``),
``s`` partitions from scratch around the fixed core (``core_start='scratch'``), ``mv``
starts the V-cycles from METIS's total-volume partition (``core_start='metis-volume'``) and
``p=NAME`` sets the Mt-KaHyPar preset (default ``deterministic``).
Mt-KaHyPar 1 thread, seed 0.
"""
from __future__ import annotations

import os
import sys
import time

import partitioning.balanced_volume as bv
from benchmarks.partitioning_compare import load
from partitioning.metrics import communication_volume


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    name, ks, configs = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], sys.argv[3].split(";")
    graph = load(name, None)
    print("load average at start:", os.getloadavg(), flush=True)
    default_imbalance = bv.CORE_IMBALANCE
    for k in ks:
        for conf in configs:
            tokens = conf.split(":")
            fraction, options = float(tokens[0]), tokens[1:]
            bv.CORE_IMBALANCE = default_imbalance
            extra = {"polish_to_bound": "b" in options}
            for tok in options:
                if tok.startswith("ci="):
                    bv.CORE_IMBALANCE = float(tok[3:])
                elif tok.startswith("vc="):
                    extra["vcycles"] = int(tok[3:])
                elif tok.startswith("p="):
                    extra["preset"] = tok[2:]
                elif tok == "s":
                    extra["core_start"] = "scratch"
                elif tok == "mv":
                    extra["core_start"] = "metis-volume"
                elif tok != "b":
                    sys.exit(f"unknown option {tok!r} in {conf!r}")
            t = time.perf_counter()
            parts, info = bv.balanced_volume_partition(graph, k, threads=1, core_fraction=fraction, **extra)
            cv = communication_volume(graph, parts, k)
            tr = info["core_tries"][-1]
            mt, mm = info["metis_total"], info["metis_max_per_part"]
            print(f"{name} k={k} {conf}: total {cv.total / mt:.3f} busiest {cv.max_per_part / mm:.3f} | before polish "
                  f"{tr['before_polish_total'] / mt:.3f}/{tr['before_polish_max'] / mm:.3f}, after polish "
                  f"{tr['after_polish_total'] / mt:.3f}/{tr['after_polish_max'] / mm:.3f}, polish moves "
                  f"{tr['polish_moves']}, refine moves {tr['refine_moves']} in {tr['refine_passes']} passes | "
                  f"{time.perf_counter() - t:.1f} s, load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
