r"""Method ``'balanced-volume'``: minimize the total volume while the busiest part stays within METIS's.

Why. On power-law graphs every volume-minimizing partitioner (Mt-KaHyPar on
the column-net model, METIS's volume objective) gathers the high-degree "core"
of the graph in a few parts: that de-duplicates the rows the core needs, so the
total volume drops 20-30%, but the part holding the core must receive almost
every row of the graph and its send + receive grows 1.3-3.3x above METIS's
busiest part (``benchmarks/results/partitioning.md``). In bulk-synchronous
training the busiest rank sets the pace.

How (two phases, each exact on the column-net model):

1. **Core-fixed volume refinement.** METIS's edge-cut partition spreads the
   core evenly and has a moderate busiest part :math:`L^{\text{METIS}}`. The
   ``core_fraction`` highest-degree vertices are *fixed* in their METIS parts
   and Mt-KaHyPar V-cycles then minimize connectivity−1 (the exact total
   volume) over the remaining vertices, starting from METIS's partition (as
   ``'refined-metis'`` does, but unable to gather the core). With
   ``core_fraction=None`` the fraction is searched: 10%, then halved while the
   busiest part stays within ``max_load_factor`` :math:`\cdot L^{\text{METIS}}`
   (smaller cores leave more freedom, so lower totals), or doubled until it
   does (feasible means: after phase 2); the feasible result with the lowest
   total wins (fixing every vertex gives METIS's own partition, which is always
   feasible).
2. **Max-load polish**, after each phase-1 run (:func:`partitioning.volume_balance.refine_max_volume`):
   a greedy local search with exact per-part deltas that moves vertices off the
   busiest part while that lowers the maximum, letting the total grow by at
   most ``volume_slack``.

The result meets the same vertex-balance bound as every other method and is
deterministic with the default ``preset='deterministic'``. The two phases are
in the spirit of UMPa (Deveci, Kaya, Uçar, Çatalyürek, JPDC 2015), which
refines a volume-minimizing partition for the maximum send volume, and of the
fixed-vertex core placement of Mt-KaHyPar (Gottesbüren et al., ACM TOPC 2024).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from partitioning.balance import balance_bound, enforce_balance
from partitioning.graph import symmetrize
from partitioning.hypergraph import column_net_hypergraph
from partitioning.metis_backend import metis_partition
from partitioning.metrics import communication_volume
from partitioning.mtkahypar_backend import mtkahypar_partition
from partitioning.volume_balance import refine_max_volume

__all__ = ["balanced_volume_partition"]

_FIRST_FRACTION = 0.1
_MIN_FRACTION = 0.02


def balanced_volume_partition(
    csr: sp.csr_matrix,
    k: int,
    imbalance: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    weights: Optional[np.ndarray] = None,
    preset: str = "deterministic",
    vcycles: int = 0,
    core_fraction: Optional[float] = None,
    max_load_factor: float = 1.0,
    volume_slack: float = 0.02,
    say: Callable[[str], None] = lambda message: None,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Partition ``csr`` into ``k`` parts with a low total volume and a bounded busiest part.

    Args:
        csr: canonical CSR pattern (:func:`partitioning.graph.as_csr`).
        k: number of parts (>= 2).
        imbalance, seed, threads, weights, preset, vcycles: as in :func:`partitioning.partition`.
        core_fraction: share of vertices (highest degree first) fixed at their
            METIS part, in ``(0, 1]``; ``None`` searches it (see the module docstring).
        max_load_factor: the busiest part's send + receive the search aims to
            stay within, relative to METIS's busiest part.
        volume_slack: how much the polish may raise the total volume (relative).

    Returns:
        ``(parts, info)``; ``info`` holds METIS's busiest part and total, every
        core fraction tried with its total and busiest part, the fraction
        chosen, and the polish's moves.
    """
    n = csr.shape[0]
    w = np.ones(n, dtype=np.int64) if weights is None else weights
    bound = balance_bound(int(w.sum()), k, imbalance, int(w.max()))
    say("METIS (edge cut): spreads the high-degree core; its busiest part is the bound")
    t0 = time.perf_counter()
    metis, _ = enforce_balance(csr, metis_partition(csr, k, imbalance, seed, weights), k, imbalance, weights)
    cv = communication_volume(csr, metis, k)
    metis_max, metis_total = cv.max_per_part, cv.total
    target = max_load_factor * metis_max
    info: Dict[str, Any] = {"metis_seconds": time.perf_counter() - t0, "metis_max_per_part": metis_max,
                            "metis_total": metis_total, "target_max_per_part": target}
    sym = symmetrize(csr)
    order = np.lexsort((np.arange(n), -np.diff(sym.indptr)))  # highest degree first, ties by id
    del sym
    hypergraph = column_net_hypergraph(csr)
    tries: List[Dict[str, Any]] = []
    results: Dict[float, np.ndarray] = {}

    def attempt(fraction: float) -> Tuple[int, int]:
        size = max(1, int(round(fraction * n)))
        fixed = np.full(n, -1, dtype=np.int64)
        fixed[order[:size]] = metis[order[:size]]
        say(f"Mt-KaHyPar V-cycles on the exact volume with the top {fraction:.1%} of vertices by degree fixed "
            f"({preset} preset)")
        t = time.perf_counter()
        if hypergraph.num_pins == 0:
            parts = metis.copy()
        else:
            parts, _ = mtkahypar_partition(hypergraph, k, imbalance, seed, threads, weights, preset,
                                           vcycles=max(1, vcycles), initial_parts=metis, fixed=fixed)
        parts, _ = enforce_balance(csr, parts, k, imbalance, weights)
        say("polishing the busiest part (exact per-part deltas)")
        parts, polish = refine_max_volume(csr, parts, k, bound, weights, volume_slack=volume_slack)
        vol = communication_volume(csr, parts, k)
        tries.append({"core_fraction": fraction, "total": vol.total, "max_per_part": vol.max_per_part,
                      "before_polish_total": polish["start_total"], "before_polish_max": polish["start_max_load"],
                      "polish_moves": polish["moves"], "seconds": time.perf_counter() - t})
        results[fraction] = parts
        return vol.total, vol.max_per_part

    if core_fraction is not None:
        attempt(float(core_fraction))
    else:
        fraction = _FIRST_FRACTION
        _, peak = attempt(fraction)
        if peak <= target:
            while fraction / 2 >= _MIN_FRACTION:
                fraction /= 2
                if attempt(fraction)[1] > target:
                    break
        else:
            while fraction < 1.0:
                fraction = min(1.0, fraction * 2)
                if attempt(fraction)[1] <= target:
                    break
    feasible = [t for t in tries if t["max_per_part"] <= target]
    if feasible:
        best = min(feasible, key=lambda t: (t["total"], t["core_fraction"]))
        parts = results[best["core_fraction"]]
        info["core_fraction"] = best["core_fraction"]
    elif core_fraction is not None:
        best = tries[0]
        parts = results[best["core_fraction"]]
        info["core_fraction"] = best["core_fraction"]
    else:
        parts, info["core_fraction"] = metis, None
    info["core_tries"] = tries
    return parts, info
