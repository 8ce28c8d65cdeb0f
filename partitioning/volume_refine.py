r"""Refinement that lowers the total volume while no part's send + receive exceeds a bound.

The dual of :mod:`partitioning.volume_balance`: there the busiest part's load
:math:`L_p = \mathrm{send}_p + \mathrm{recv}_p` is lowered at a bounded cost
in total volume; here the total volume (connectivity−1 of the column-net
model) is lowered subject to :math:`L_p \le \max(B, L_p^{\text{now}})` for
every part (a part already above the bound ``B`` may not grow) and to the
vertex-balance bound. This is the constrained formulation of the
multi-objective problem of UMPa (Deveci, Kaya, Uçar, Çatalyürek, "Hypergraph
partitioning for multiple communication cost metrics: model and methods",
JPDC 2015): minimize the total subject to the maximum, instead of the maximum
subject to the total.

One pass (label-propagation style candidate selection, exact sequential
acceptance):

1. **Vectorized gains.** With :math:`\Phi_{j,q}` the pins of net :math:`j` in
   part :math:`q` and :math:`P(v) = \{v\} \cup \{j : A_{vj} \ne 0\}` the nets
   vertex :math:`v` is a pin of, moving :math:`v` from :math:`a` to :math:`b`
   lowers the total by

   .. math:: g(v, b) = |\{j \in P(v) : \Phi_{j,a} = 1\}| - |\{j \in P(v) : \Phi_{j,b} = 0\}|,

   computed for all vertices and all :math:`b` at once with one sparse-dense
   product :math:`S \cdot [\Phi > 0]` (:math:`S` the off-diagonal pattern of
   :math:`A`, ``nnz * k`` work).
2. **Exact acceptance.** Vertices with a positive best gain are visited in
   order of decreasing gain (ties by id); for each, the exact change of every
   part's load for every target (``_State.move_deltas``, from the current
   pin counts, so earlier moves of the pass are accounted for) decides the
   move: the target with the largest exact total decrease among those that
   keep every part within its load cap and the target part within the size
   bound.

Passes repeat until one moves nothing, ``passes`` is reached or the time
limit runs out. The visiting order and every tie are fixed by the input, so
the result is deterministic. Per pass: ``O(nnz * k)`` vectorized work plus
``O(deg(v) * k + k^2)`` per visited candidate; ``max_candidates`` bounds the
visits per pass on very large graphs.
"""
from __future__ import annotations

import time
from typing import Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from partitioning.volume_balance import _State

__all__ = ["refine_total_volume", "total_volume_gains"]


def total_volume_gains(state: _State) -> Tuple[np.ndarray, np.ndarray]:
    """Best target part and its total-volume gain for every vertex (gain ``<= 0`` means no improving move).

    Exact for a single move from the current partition (see the module docstring).
    """
    n, k = state.n, state.k
    if state.pattern is None:
        state.pattern = sp.csr_matrix((np.ones(state.indices.size, dtype=np.float32), state.indices,
                                       state.indptr), shape=(n, n))
    present = (state.phi > 0).astype(np.float32)
    # Nets of P(v) already present in b: the row's nets plus v's own net.
    count_present = np.asarray(state.pattern @ present)
    count_present += present
    del present
    a = state.parts
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(state.indptr))
    only = state.phi[state.indices, a[rows]] == 1  # v is the last pin of net j in its part
    lose = np.bincount(rows, weights=only, minlength=n)
    del rows, only
    lose += state.phi[np.arange(n), a] == 1
    pins = np.diff(state.indptr).astype(np.float32) + 1
    gain = count_present  # reuse the buffer: gain(v, b) = lose(v) - (pins(v) - present(v, b))
    gain -= pins[:, None]
    gain += lose.astype(np.float32)[:, None]
    gain[np.arange(n), a] = -np.inf
    best = np.argmax(gain, axis=1)
    return best, gain[np.arange(n), best]


def refine_total_volume(
    csr: sp.csr_matrix,
    parts: np.ndarray,
    k: int,
    size_bound: int,
    max_load: int,
    weights: Optional[np.ndarray] = None,
    passes: int = 20,
    max_candidates: Optional[int] = None,
    time_limit: Optional[float] = None,
    state: Optional[_State] = None,
) -> Tuple[np.ndarray, Dict[str, float]]:
    """Lower the total volume while every part stays within ``max(max_load, its load)`` (see the module docstring).

    Args:
        csr: canonical CSR pattern of :math:`A` (:func:`partitioning.graph.as_csr`).
        parts: ``[n]`` starting partition.
        k: number of parts.
        size_bound: the largest allowed part weight.
        max_load: the bound ``B`` on each part's send + receive.
        weights: ``[n]`` positive integer vertex weights (default ones).
        passes: at most this many passes.
        max_candidates: visit at most this many candidates per pass (default: all).
        time_limit: stop after this many seconds (checked between candidates).
        state: a :class:`partitioning.volume_balance._State` of ``parts`` to
            reuse (updated in place); built from ``csr`` when ``None``.

    Returns:
        ``(parts, info)``: the refined partition (a copy) and the moves, passes,
        start and end total and maximum load, seconds.
    """
    start = time.perf_counter()
    n = csr.shape[0]
    w = np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    if state is None:
        state = _State(csr, parts, k, w)
    info: Dict[str, float] = {"start_total": state.total, "start_max_load": int(state.load.max())}
    moves = done_passes = 0
    out_of_time = False
    for _ in range(passes):
        done_passes += 1
        best, gain = total_volume_gains(state)
        candidates = np.flatnonzero(gain > 0)
        candidates = candidates[np.lexsort((candidates, -gain[candidates]))]
        if max_candidates is not None:
            candidates = candidates[:max_candidates]
        moved = 0
        for v in candidates.tolist():
            if time_limit is not None and time.perf_counter() - start > time_limit:
                out_of_time = True
                break
            deltas = state.move_deltas(v)
            change = deltas.sum(axis=1) // 2  # the total's change per target
            cap = np.maximum(state.load, max_load)
            ok = (change < 0) & np.all(state.load[None, :] + deltas <= cap[None, :], axis=1)
            ok &= state.sizes + w[v] <= size_bound
            ok[state.parts[v]] = False
            if not ok.any():
                continue
            targets = np.flatnonzero(ok)
            b = int(targets[np.argmin(change[targets])])  # ties: lowest part id
            state.apply(v, b, deltas[b])
            moved += 1
        moves += moved
        if moved == 0 or out_of_time:
            break
    info.update(moves=moves, passes=done_passes, end_total=state.total, end_max_load=int(state.load.max()),
                seconds=time.perf_counter() - start)
    return state.parts.copy(), info
