r"""GBP's reverse random walks: Monte-Carlo estimates of :math:`W^j` from the target nodes.

A walk from :math:`s` that is at :math:`u_{j-1}` moves to :math:`u_j` with
probability :math:`W_{u_{j-1} u_j}`, so
:math:`\Pr[u_j = u] = (W^j)_{su}` and the visit frequencies
:math:`S^{(j)}(s, u) = \#\{i : u_{i,j} = u\} / n_r` over :math:`n_r` walks are
unbiased estimates of the rows :math:`(W^j)_{s,:}`. :func:`sample_walks`
advances all :math:`|V_t| \cdot n_r` walks one step at a time in one vectorized
draw per step; :func:`walk_matrix` folds the visits of all steps into a single
sparse matrix, so that the walk correction of every level is one SpMM.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from scalegnn.nn.forward_push import TransitionMatrix

__all__ = ["sample_walks", "walk_matrix"]


def _step(T: TransitionMatrix, cur: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """One step of every walk: ``cur[i] -> u`` with probability ``W[cur[i], u]``.

    Rows of ``T.walk_next`` repeat each edge by its multiplicity, so a uniform
    pick within the row is the weighted step.
    """
    lo = T.walk_ptr[cur]
    count = T.walk_ptr[cur + 1] - lo
    rand = torch.rand(cur.numel(), dtype=torch.float64, device=cur.device, generator=generator)
    pick = lo + torch.minimum((rand * count).long(), count - 1)
    return T.walk_next[pick]


def sample_walks(
    T: TransitionMatrix,
    starts: Tensor,
    walks_per_node: int,
    length: int,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Positions of ``walks_per_node`` walks of ``length`` steps from each start node.

    Returns:
        ``[length, len(starts) * walks_per_node]`` long tensor: row ``j - 1``
        holds the node of every walk after step ``j``; walks of start
        ``starts[i]`` are columns ``i * walks_per_node ...``.
    """
    cur = starts.to(T.walk_next.device).repeat_interleave(walks_per_node)
    out = torch.empty(length, cur.numel(), dtype=torch.long, device=cur.device)
    for j in range(length):
        cur = _step(T, cur, generator)
        out[j] = cur
    return out


def walk_matrix(positions: Tensor, num_starts: int, walks_per_node: int, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    r"""Fold walk visits into one sparse matrix.

    Args:
        positions: ``[L, num_starts * walks_per_node]`` from :func:`sample_walks`.

    Returns:
        ``(M, visited)``: ``visited`` the sorted distinct nodes :math:`U` the
        walks reach, and ``M`` a ``[num_starts, L * |U|]`` CSR matrix with
        :math:`M[i, (j-1)|U| + a] = S^{(j)}(s_i, U_a)`, the fraction of the
        walks from :math:`s_i` that are at :math:`U_a` after step :math:`j`.
        For a stack :math:`G = [G_1; \dots; G_L]` of ``[|U|, c]`` blocks,
        ``M @ G`` is :math:`\sum_j S^{(j)} G_j`.
    """
    length, m = positions.shape
    device = positions.device
    # Distinct visited nodes and their compact ids, by a lookup table (no sort).
    seen = torch.zeros(int(positions.max()) + 1, dtype=torch.bool, device=device)
    seen[positions.flatten()] = True
    visited = seen.nonzero().flatten()
    lookup = torch.empty(seen.numel(), dtype=torch.long, device=device)
    lookup[visited] = torch.arange(visited.numel(), device=device)
    inverse = lookup[positions]
    u = visited.numel()
    step = torch.arange(length, device=device).unsqueeze(1)
    cols = (step * u + inverse).flatten()
    rows = torch.arange(num_starts, device=device).repeat_interleave(walks_per_node).repeat(length)
    vals = torch.full((cols.numel(),), 1.0 / walks_per_node, dtype=dtype, device=device)
    M = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (num_starts, length * u), check_invariants=False)
    return M.coalesce().to_sparse_csr(), visited
