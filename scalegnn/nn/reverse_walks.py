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

from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from scalegnn.nn.forward_push import TransitionMatrix

__all__ = ["sample_walks"]


def _step(ptr: Tensor, count: Tensor, nxt: Tensor, cur: Tensor, generator: Optional[torch.Generator],
          rand: Optional[Tensor] = None, out: Optional[Tensor] = None) -> Tensor:
    """One step of every walk: ``cur[i] -> u`` with probability ``W[cur[i], u]`` (written into ``out``).

    ``ptr``/``nxt`` are ``T.walk_ptr``/``T.walk_next`` (rows of ``nxt`` repeat
    each edge by its multiplicity, so a uniform pick within the row is the
    weighted step) and ``count`` the row lengths as float64. The pick
    ``floor(U * count)`` needs no clamp: for ``U <= 1 - 2^-53`` (``torch.rand``
    is in ``[0, 1)`` on the 2^-53 grid) and an integer ``count < 2^53`` the
    rounded product is below ``count`` (for ``count = 2^k`` it is exact; otherwise
    ``count * 2^-53`` exceeds half an ulp of ``count``, so it rounds down to
    ``count - ulp``); ``tests/test_gbp.py`` checks it.
    """
    # index_select rather than advanced indexing: several times faster on CPU for 1-D gathers.
    lo = ptr.index_select(0, cur)
    if rand is None:
        rand = torch.rand(cur.numel(), dtype=torch.float64, device=cur.device, generator=generator)
    pick = rand.mul_(count.index_select(0, cur)).long().add_(lo)
    step = nxt.index_select(0, pick)  # (index_select with out= is several times slower on CPU)
    if out is None:
        return step
    out.copy_(step)
    return out


def _uniforms(generator: Optional[torch.Generator], device: torch.device) -> Callable[[int], Tensor]:
    """``draw(m)``: ``m`` float64 uniforms in ``[0, 1)`` (on the 2^-53 grid), determined by ``generator``'s state.

    On CPU they come from numpy's PCG64 (``numpy.random.Generator.random``, 2-3x faster than ``torch.rand`` for
    float64 here), seeded by one draw from ``generator`` (``None``: torch's global generator, so
    ``torch.manual_seed`` still fixes the walks); elsewhere from ``torch.rand`` on the device."""
    if device.type != "cpu":
        return lambda m: torch.rand(m, dtype=torch.float64, device=device, generator=generator)
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    rng = np.random.default_rng(seed)
    return lambda m: torch.from_numpy(rng.random(m))


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
    device = T.walk_next.device
    cur = starts.to(device).repeat_interleave(walks_per_node)
    out = torch.empty(length, cur.numel(), dtype=torch.long, device=device)
    if T.walk_count is not None:
        count = T.walk_count.to(torch.float64)
    else:
        count = (T.walk_ptr[1:] - T.walk_ptr[:-1]).to(torch.float64)
    draw = _uniforms(generator, device)
    for j in range(length):
        rand = None if j == 0 and stratify_first_step and walks_per_node > 1 else draw(cur.numel())
        if rand is None:
            u = draw(starts.numel())
            k = torch.arange(walks_per_node, dtype=torch.float64, device=device)
            # (k + U) / n_r can round up to 1.0 for k = n_r - 1: keep it in [0, 1), as _step needs
            rand = (k.unsqueeze(0) + u.unsqueeze(1)).flatten().div_(walks_per_node).clamp_(max=1.0 - 2.0 ** -53)
        cur = _step(T.walk_ptr, count, T.walk_next, cur, generator, rand, out=out[j])
    return out
