r"""Method ``'balanced-volume'``: minimize the total volume while the busiest part stays within METIS's.

Why. On power-law graphs every volume-minimizing partitioner (Mt-KaHyPar on
the column-net model, METIS's volume objective) gathers the high-degree "core"
of the graph in a few parts: that de-duplicates the rows the core needs, so the
total volume drops 20-30%, but the part holding the core must receive almost
every row of the graph and its send + receive grows 1.3-3.3x above METIS's
busiest part (``benchmarks/results/partitioning.md``). In bulk-synchronous
training the busiest rank sets the pace.

How (three phases, each exact on the column-net model):

1. **Core-fixed volume refinement.** METIS's edge-cut partition spreads the
   core evenly and has a moderate busiest part :math:`L^{\text{METIS}}`. The
   ``core_fraction`` highest-degree vertices are *fixed* (placed by
   :func:`partitioning.core_placement.place_core`: connectivity−1 of the core's
   own nets, balanced by degree, so hubs that share neighbours share a part
   but every part carries the same hub degree) and Mt-KaHyPar V-cycles then
   minimize connectivity−1 (the exact total volume) over the remaining
   vertices, starting from METIS's partition with the core moved to its
   places (as ``'refined-metis'`` does, but unable to gather the core).
   ``core_fraction=1`` fixes everything: phase 1 is skipped and METIS's
   partition goes straight to phases 2 and 3.
2. **Max-load polish** (:func:`partitioning.volume_balance.refine_max_volume`):
   a greedy local search with exact per-part deltas that moves vertices off the
   busiest part while that lowers the maximum, letting the total grow by at
   most ``volume_slack``.
3. **Constrained total-volume refinement**
   (:func:`partitioning.volume_refine.refine_total_volume`): vectorized
   connectivity−1 gains for every vertex and target, then exact sequential
   acceptance of the improving moves that keep every part's send + receive
   within the bound :math:`B = ` ``max_load_factor`` :math:`\cdot L^{\text{METIS}}`
   (minimize the total *subject to* the maximum; it spends the slack the
   first two phases leave under :math:`B`).

With ``core_fraction=None`` the fraction is searched: METIS refined by
phases 2-3 (fraction 1, cheap and within :math:`B` by construction), then
10% and, once, 5% if 10% ended within :math:`B`, else 20%
(``_MAX_VCYCLE_TRIES`` V-cycle runs at most). The result within :math:`B`
with the lowest total wins (the one with the smallest maximum if none is).
Graphs with more than ``VCYCLE_PIN_LIMIT`` pins skip the V-cycles (only
fraction 1), so the method stays near-linear: vectorized numpy passes plus
per-candidate work bounded by deterministic caps.

The result meets the same vertex-balance bound as every other method and is
deterministic with the default ``preset='deterministic'``. The two phases are
in the spirit of UMPa (Deveci, Kaya, Uçar, Çatalyürek, "Hypergraph partitioning
for multiple communication cost metrics: model and methods", JPDC 2015), which
refines a volume-minimizing partition for the maximum send volume, and of the
fixed-vertex core placement of Mt-KaHyPar (Gottesbüren et al., ACM TOPC 2024).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from partitioning.balance import balance_bound, enforce_balance
from partitioning.core_placement import place_core
from partitioning.graph import symmetrize
from partitioning.hypergraph import column_net_hypergraph
from partitioning.metis_backend import metis_partition
from partitioning.metrics import communication_volume
from partitioning.mtkahypar_backend import mtkahypar_partition
from partitioning.volume_balance import _State, refine_max_volume
from partitioning.volume_refine import refine_total_volume

__all__ = ["balanced_volume_partition"]

_FIRST_FRACTION = 0.1
#: Where phase 1's V-cycles start (``core_start``).
CORE_STARTS = ("metis", "metis-volume", "scratch")
#: Imbalance of the degree-weighted core placement (partitioning.core_placement).
CORE_IMBALANCE = 0.05
_MAX_VCYCLE_TRIES = 2
#: Above this many pins (nonzeros of A + I) the Mt-KaHyPar V-cycles of phase 1 are skipped and only the
#: METIS start (``core_fraction=1``) is refined: the deterministic V-cycles alone took 521 s on an idle
#: 2-core machine at 2.4M vertices / 60M edges (benchmarks/results/partitioning.md, section 2).
VCYCLE_PIN_LIMIT = 20_000_000
#: Work caps that keep the local searches near-linear on big graphs (deterministic, unlike time limits):
#: polish moves, polish rounds (each costs O(nnz / k), so about _POLISH_WORK / nnz rounds, at least
#: _POLISH_MIN_ROUNDS) and candidates visited per pass of the total-volume refinement.
_POLISH_MAX_MOVES = 20_000
_POLISH_WORK = 200_000_000
_POLISH_MIN_ROUNDS = 50
_REFINE_MAX_CANDIDATES = 200_000


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
    core_placement: str = "degree-balanced",
    polish_to_bound: bool = False,
    core_start: str = "metis",
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
        core_placement: where the fixed core goes: ``'degree-balanced'``
            (:func:`partitioning.core_placement.place_core`) or ``'metis'``
            (its METIS parts; the first version of this method).
        polish_to_bound: stop the max-load polish as soon as the busiest part
            is within the bound (instead of lowering it as far as the volume
            slack allows), leaving the total lower for phase 3. Off by default
            (the second version's measured behaviour).
        core_start: where phase 1 starts once the core is fixed: ``'metis'``
            (METIS's edge-cut partition with the core moved, refined by
            V-cycles), ``'metis-volume'`` (the same from METIS's
            total-volume partition, which starts with a lower total) or
            ``'scratch'`` (a full multilevel Mt-KaHyPar run around the fixed
            core, then ``vcycles`` V-cycles).

    Returns:
        ``(parts, info)``; ``info`` holds METIS's busiest part and total, every
        core fraction tried with its total and busiest part, the fraction
        chosen, and the polish's moves.
    """
    if core_placement not in ("degree-balanced", "metis"):
        raise ValueError(f"core_placement must be 'degree-balanced' or 'metis', got {core_placement!r}")
    if core_start not in CORE_STARTS:
        raise ValueError(f"core_start must be one of {CORE_STARTS}, got {core_start!r}")
    n = csr.shape[0]
    w = np.ones(n, dtype=np.int64) if weights is None else weights
    bound = balance_bound(int(w.sum()), k, imbalance, int(w.max()))
    say("METIS (edge cut): spreads the high-degree core; its busiest part is the bound")
    t0 = time.perf_counter()
    metis, _ = enforce_balance(csr, metis_partition(csr, k, imbalance, seed, weights), k, imbalance, weights)
    cv = communication_volume(csr, metis, k)
    metis_max, metis_total = cv.max_per_part, cv.total
    target = max_load_factor * metis_max
    cap = int(np.floor(target + 1e-9))
    info: Dict[str, Any] = {"metis_seconds": time.perf_counter() - t0, "metis_max_per_part": metis_max,
                            "metis_total": metis_total, "target_max_per_part": target}
    pins = csr.nnz + n
    use_vcycles = pins <= VCYCLE_PIN_LIMIT
    order = hypergraph = None
    if use_vcycles and (core_fraction is None or core_fraction < 1.0):
        degree = np.diff(symmetrize(csr).indptr)
        order = np.lexsort((np.arange(n), -degree))  # highest degree first, ties by id
        hypergraph = column_net_hypergraph(csr)
    tries: List[Dict[str, Any]] = []
    results: Dict[float, np.ndarray] = {}

    volume_cache: List[np.ndarray] = []

    def volume_start() -> np.ndarray:
        if not volume_cache:
            say("METIS (total volume): the start of the V-cycles")
            start = metis_partition(csr, k, imbalance, seed, weights, objective="volume")
            volume_cache.append(enforce_balance(csr, start, k, imbalance, weights)[0])
        return volume_cache[0]

    def attempt(fraction: float) -> Tuple[int, int]:
        t = time.perf_counter()
        if fraction >= 1.0 or hypergraph is None or hypergraph.num_pins == 0:
            parts = metis.copy()  # everything fixed: the V-cycles could not move anything
        else:
            size = max(1, int(round(fraction * n)))
            core = order[:size]
            if core_placement == "metis":
                place = metis[core]
            else:
                say(f"placing the top {fraction:.1%} of vertices by degree (volume-aware, degree-balanced)")
                place = place_core(hypergraph, core, degree[core], k, CORE_IMBALANCE, seed, threads, preset)
            fixed = np.full(n, -1, dtype=np.int64)
            fixed[core] = place
            if core_start == "scratch":
                say(f"Mt-KaHyPar on the exact volume from scratch around the fixed top {fraction:.1%} of vertices "
                    f"by degree ({preset} preset)")
                parts, _ = mtkahypar_partition(hypergraph, k, imbalance, seed, threads, weights, preset,
                                               vcycles=vcycles, fixed=fixed)
            else:
                initial = (volume_start() if core_start == "metis-volume" else metis).copy()
                initial[core] = place
                say(f"Mt-KaHyPar V-cycles on the exact volume with the top {fraction:.1%} of vertices by degree "
                    f"fixed ({preset} preset)")
                parts, _ = mtkahypar_partition(hypergraph, k, imbalance, seed, threads, weights, preset,
                                               vcycles=max(1, vcycles), initial_parts=initial, fixed=fixed)
            parts, _ = enforce_balance(csr, parts, k, imbalance, weights)
        state = _State(csr, parts, k, w)
        say("polishing the busiest part (exact per-part deltas)")
        parts, polish = refine_max_volume(csr, parts, k, bound, weights, volume_slack=volume_slack,
                                          max_moves=_POLISH_MAX_MOVES, state=state,
                                          max_rounds=max(_POLISH_MIN_ROUNDS, _POLISH_WORK // pins),
                                          stop_at=cap if polish_to_bound else None)
        say("lowering the total with every part's send + receive within the bound (exact deltas)")
        parts, lower = refine_total_volume(csr, parts, k, bound, cap, weights, state=state,
                                           max_candidates=_REFINE_MAX_CANDIDATES)
        del state
        vol = communication_volume(csr, parts, k)
        tries.append({"core_fraction": fraction, "total": vol.total, "max_per_part": vol.max_per_part,
                      "before_polish_total": polish["start_total"], "before_polish_max": polish["start_max_load"],
                      "polish_moves": polish["moves"], "after_polish_total": polish["end_total"],
                      "after_polish_max": polish["end_max_load"], "refine_moves": lower["moves"],
                      "refine_passes": lower["passes"], "seconds": time.perf_counter() - t})
        results[fraction] = parts
        return vol.total, vol.max_per_part

    if core_fraction is not None:
        attempt(float(core_fraction) if use_vcycles else 1.0)
    else:
        attempt(1.0)  # METIS, polished and refined: cheap, always feasible in practice
        if use_vcycles:
            fraction = _FIRST_FRACTION
            feasible_now = attempt(fraction)[1] <= target
            for _ in range(_MAX_VCYCLE_TRIES - 1):
                fraction = fraction / 2 if feasible_now else fraction * 2
                if fraction >= 1.0:
                    break
                if (attempt(fraction)[1] <= target) != feasible_now:
                    break
    feasible = [t for t in tries if t["max_per_part"] <= target]
    if feasible:
        best = min(feasible, key=lambda t: (t["total"], t["max_per_part"], t["core_fraction"]))
    else:
        best = min(tries, key=lambda t: (t["max_per_part"], t["total"], t["core_fraction"]))
    parts = results[best["core_fraction"]]
    info["core_fraction"] = best["core_fraction"]
    info["vcycles_skipped"] = not use_vcycles
    info["core_tries"] = tries
    return parts, info
