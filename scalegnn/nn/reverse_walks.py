r"""GBP's reverse random walks: Monte-Carlo estimates of :math:`W^j` from the target nodes.

A walk from :math:`s` that is at :math:`u_{j-1}` moves to :math:`u_j` with
probability :math:`W_{u_{j-1} u_j}`, so
:math:`\Pr[u_j = u] = (W^j)_{su}` and the visit frequencies
:math:`S^{(j)}(s, u) = \#\{i : u_{i,j} = u\} / n_r` over :math:`n_r` walks are
unbiased estimates of the rows :math:`(W^j)_{s,:}`. :func:`sample_walks`
advances all :math:`|V_t| \cdot n_r` walks one step at a time in one vectorized
draw per step; GBP's correction then reads the leftover residues at the
visited rows only (see :func:`scalegnn.nn.gbp.gbp_precompute`).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from scalegnn.nn.forward_push import TransitionMatrix

__all__ = ["sample_walks"]


def _step(T: TransitionMatrix, cur: Tensor, generator: Optional[torch.Generator],
          rand: Optional[Tensor] = None) -> Tensor:
    """One step of every walk: ``cur[i] -> u`` with probability ``W[cur[i], u]``.

    Rows of ``T.walk_next`` repeat each edge by its multiplicity, so a uniform
    pick within the row is the weighted step.
    """
    # index_select rather than advanced indexing: several times faster on CPU for 1-D gathers.
    lo = T.walk_ptr.index_select(0, cur)
    if T.walk_count is not None:
        count = T.walk_count.index_select(0, cur)
    else:
        count = T.walk_ptr.index_select(0, cur + 1).sub_(lo)
    if rand is None:
        rand = torch.rand(cur.numel(), dtype=torch.float64, device=cur.device, generator=generator)
    pick = torch.minimum((rand * count).long(), count - 1).add_(lo)
    return T.walk_next.index_select(0, pick)


def sample_walks(
    T: TransitionMatrix,
    starts: Tensor,
    walks_per_node: int,
    length: int,
    generator: Optional[torch.Generator] = None,
    stratify_first_step: bool = False,
) -> Tensor:
    r"""Positions of ``walks_per_node`` walks of ``length`` steps from each start node.

    With ``stratify_first_step`` the first steps of the ``n_r`` walks of a
    start are drawn by *systematic sampling*: walk ``k`` uses the uniform
    ``(k + U)/n_r`` with one ``U ~ U[0, 1)`` per start, so the ``n_r`` first
    steps cover the start's weighted in-neighbour list evenly (each neighbour
    ``u`` is chosen :math:`n_r W_{su}` times, rounded up or down). Every later
    step is independent as usual. The walks of a start are then no longer
    independent, but their *average* is still unbiased:
    :math:`\frac1{n_r}\sum_k \Pr[u^{(k)}_1 = u] = W_{su}`, and each walk
    continues as a Markov chain from its first step. It removes the variance of
    the first step at no cost.

    Returns:
        ``[length, len(starts) * walks_per_node]`` long tensor: row ``j - 1``
        holds the node of every walk after step ``j``; walks of start
        ``starts[i]`` are columns ``i * walks_per_node ...``.
    """
    cur = starts.to(T.walk_next.device).repeat_interleave(walks_per_node)
    out = torch.empty(length, cur.numel(), dtype=torch.long, device=cur.device)
    for j in range(length):
        if j == 0 and stratify_first_step and walks_per_node > 1:
            u = torch.rand(starts.numel(), dtype=torch.float64, device=cur.device, generator=generator)
            k = torch.arange(walks_per_node, dtype=torch.float64, device=cur.device)
            rand = (k.unsqueeze(0) + u.unsqueeze(1)).flatten().div_(walks_per_node)
            cur = _step(T, cur, generator, rand)
        else:
            cur = _step(T, cur, generator)
        out[j] = cur
    return out
