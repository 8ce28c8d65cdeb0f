r"""The balance guarantee every partitioning method ends with: check, and repair by moving vertices.

Bound. With total vertex weight :math:`W`, ``k`` parts, imbalance :math:`\epsilon`
and heaviest vertex :math:`w_{\max}`, every part weight must satisfy

.. math:: w(V_p) \le L = \max\left(\left\lfloor(1+\epsilon)\lceil W/k \rceil\right\rfloor,\;
          \lceil W/k \rceil - 1 + w_{\max}\right).

The first term is Mt-KaHyPar's constraint; the second only matters for
weighted vertices heavier than :math:`\epsilon\lceil W/k\rceil` (unit weights
give :math:`\lceil n/k \rceil \le` the first term), and is what any partition
can be repaired to: while a part is heavier than :math:`L`, some part is
lighter than :math:`\lceil W/k\rceil`, and one vertex moved there stays
within :math:`L`.

Repair (used when a partitioner overshoots, e.g. METIS's approximate
``ufactor`` or its volume objective collapsing a small graph into one part):
for each overloaded part, its vertices are ranked by how many neighbours
(in :math:`A + A^T`) they have in their best other part minus in their own
part; the best-ranked are moved to that part while it has room, else to the
currently lightest part, until the part fits. The order is fully determined
by the input (ties by vertex id), so the repair is deterministic.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp

__all__ = ["balance_bound", "enforce_balance"]


def _best_other_part(sym, parts, members, k, p):
    """For each vertex in ``members`` (all in part ``p``): the other part holding most of its
    neighbours (``-1`` if none; ties to the lower id) and that count minus its neighbours in ``p``."""
    rows = sym[members]
    local = np.repeat(np.arange(members.size, dtype=np.int64), np.diff(rows.indptr))
    key, count = np.unique(local * k + parts[rows.indices], return_counts=True)
    who, part = np.divmod(key, k)
    own = np.zeros(members.size, dtype=np.int64)
    mine = part == p
    own[who[mine]] = count[mine]
    who, part, count = who[~mine], part[~mine], count[~mine]
    best = np.lexsort((part, -count, who))  # per member: most neighbours first, ties by part id
    first = np.ones(best.size, dtype=bool)
    first[1:] = who[best][1:] != who[best][:-1]
    best = best[first]
    target = np.full(members.size, -1, dtype=np.int64)
    gain = -own
    target[who[best]] = part[best]
    gain[who[best]] += count[best]
    return target, gain


def balance_bound(total_weight: int, k: int, imbalance: float, max_weight: int = 1) -> int:
    """The largest part weight :math:`L` a partition may have (see the module docstring)."""
    per_part = -(-int(total_weight) // int(k))  # ceil
    return int(max(np.floor((1.0 + imbalance) * per_part + 1e-9), per_part - 1 + int(max_weight)))


def enforce_balance(
    csr: sp.csr_matrix,
    parts: np.ndarray,
    k: int,
    imbalance: float,
    weights: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, int]:
    """Return ``(parts, moved)``: ``parts`` unchanged when within the bound, else repaired.

    Args:
        csr: the graph's canonical pattern (symmetrized here only when a repair is needed).
        parts: ``[n]`` part ids in ``[0, k)``.
        k: number of parts.
        imbalance: :math:`\\epsilon`.
        weights: ``[n]`` positive integer vertex weights (default: all ones).

    Raises:
        RuntimeError: if the repair fails to reach the bound (it cannot, by
            the argument in the module docstring; this guards the code).
    """
    n = parts.shape[0]
    w = np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    load = np.bincount(parts, weights=w, minlength=k).astype(np.int64)
    bound = balance_bound(int(w.sum()), k, imbalance, int(w.max()) if n else 1)
    if load.max() <= bound:
        return parts, 0
    from partitioning.graph import symmetrize

    sym = symmetrize(csr)
    parts = parts.copy()
    moved = 0
    fair = -(-int(w.sum()) // k)  # ceil(W/k): where fallback moves stop filling a part
    for p in np.flatnonzero(load > bound):
        sticky = -1
        while load[p] > bound:
            # Rounds: gains are recomputed after each quarter of the excess, so the neighbours of
            # moved vertices follow them instead of being scattered.
            quota = max(1, (int(load[p]) - bound + 3) // 4)
            members = np.flatnonzero(parts == p)
            target, gain = _best_other_part(sym, parts, members, k, p)
            order = np.lexsort((members, -gain))  # best gain first, ties by vertex id
            shipped = 0
            for i in order:
                if load[p] <= bound or shipped >= quota:
                    break
                v, wv = members[i], w[members[i]]
                q = target[i]
                if q < 0 or load[q] + wv > bound:
                    if sticky < 0 or load[sticky] + wv > min(bound, max(fair, wv)):
                        light = load.copy()
                        light[p] = np.iinfo(np.int64).max
                        sticky = int(light.argmin())
                    q = sticky
                    if load[q] + wv > bound:
                        continue
                parts[v] = q
                load[p] -= wv
                load[q] += wv
                shipped += wv
                moved += 1
            if shipped == 0:
                break
    if load.max() > bound:
        raise RuntimeError(f"could not rebalance the partition: heaviest part {int(load.max())} > bound {bound}")
    return parts, moved
