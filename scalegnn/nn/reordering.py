r"""Node reordering for locality of CPU SpMM, computed once per graph and cached.

A CSR SpMM :math:`Y = A X` reads, for every row :math:`i`, the feature rows
:math:`X_j` of its neighbours. With node ids in random order those reads are
random over all of :math:`X`; once :math:`X` (``N x F`` floats) is larger than
the caches they miss. Relabelling the nodes by a permutation :math:`P` so
that neighbours get nearby ids and computing

.. math::
    (P A P^\top)^K (P X) = P (A^K X)

gives the same result, returned in the caller's order by :math:`P^\top`.
Orders available (:func:`locality_order`):

* ``"rcm"``: reverse Cuthill–McKee (Cuthill & McKee, ACM 1969; George 1971),
  a breadth-first order that keeps the bandwidth of the matrix small, via
  :func:`scipy.sparse.csgraph.reverse_cuthill_mckee`;
* ``"degree"``: nodes by decreasing degree (hubs, which most rows read,
  packed together at the front);
* ``"dbg"``: degree-based grouping (Faldu, Diamond, Grot, "A Closer Look at
  Lightweight Graph Reordering", IISWC 2019): nodes in a few groups of
  geometrically spaced degree ranges, hottest group first, each group in the
  caller's order. Packs the hubs like ``"degree"`` and keeps whatever locality
  the given ids already have inside a group (``"degree"`` scatters it);
* ``"none"``: the identity.

:func:`reordered_adjacency` builds the permuted normalized matrix once per
``edge_index`` (a weak-reference cache keyed like
:func:`scalegnn.data.adjacency.cached_adjacency`, with the order method).

``reorder="auto"`` (the precomputations' default) applies **no** order:
measured end to end in fresh processes (``benchmarks/propagation_locality.py``,
``benchmarks/results/propagation.md``) on the synthetic power-law graphs of
ogbn-arxiv and ogbn-products size, every order cost more than it saved once
the hops stopped page-faulting (products, K=10: ``"dbg"`` 0.93x, SGC K=2
0.72x; arxiv: ``"degree"`` 0.93x, ``"rcm"`` and ``"dbg"`` 0.6x). The orders
stay available by name for graphs where a measurement shows a gain.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from scalegnn.data.adjacency import _per_graph_cache, normalized_adjacency

__all__ = [
    "ORDER_METHODS",
    "locality_order",
    "permute_csr",
    "degree_groups_order",
    "DBG_GROUP_BOUNDS",
    "Reordered",
    "reordered_adjacency",
    "apply_reordering",
]

ORDER_METHODS = ("rcm", "degree", "dbg", "none")


def locality_order(crow: Tensor, col: Tensor, num_nodes: int, method: str = "rcm") -> Tensor:
    """A permutation ``perm`` (new node ``i`` is old node ``perm[i]``) from a CSR structure.

    Args:
        crow, col: the CSR row pointers and column indices of the graph (any values).
        num_nodes: :math:`N`.
        method: one of :data:`ORDER_METHODS`.
    """
    if method not in ORDER_METHODS:
        raise ValueError(f"unknown reordering {method!r}; choose one of {ORDER_METHODS}")
    if method == "none" or num_nodes == 0:
        return torch.arange(num_nodes)
    if method == "degree":
        deg = (crow[1:] - crow[:-1]).cpu()
        return torch.argsort(-deg, stable=True)
    if method == "dbg":
        return degree_groups_order(crow[1:] - crow[:-1])
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    indptr = crow.cpu().numpy()
    indices = col.cpu().numpy()
    data = np.ones(indices.size, dtype=np.int8)
    graph = sp.csr_matrix((data, indices, indptr), shape=(num_nodes, num_nodes), copy=False)
    # symmetric_mode=True: the breadth-first search follows each row's own neighbour list (for an undirected
    # graph the same as A + A^T), which saves scipy's A + A^T (about 40% of the order's time on the arxiv-size
    # graph). For a directed graph the order may be less local; any permutation gives the same result.
    perm = reverse_cuthill_mckee(graph, symmetric_mode=True)
    return torch.from_numpy(perm.astype(np.int64))


#: Group boundaries of ``"dbg"`` as multiples of the average degree: a node of
#: degree ``d`` falls in the first group whose bound ``d >= bound * avg`` holds.
DBG_GROUP_BOUNDS = (32.0, 16.0, 8.0, 4.0, 2.0, 1.0, 0.5)


def degree_groups_order(degree: Tensor) -> Tensor:
    """The ``"dbg"`` permutation: groups of :data:`DBG_GROUP_BOUNDS`, hottest first, ids ascending inside a group."""
    degree = degree.cpu().to(torch.float64)
    if degree.numel() == 0:
        return torch.empty(0, dtype=torch.long)
    avg = float(degree.mean())
    bounds = torch.tensor([b * avg for b in DBG_GROUP_BOUNDS], dtype=torch.float64)
    # group g = number of bounds above d: 0 for the hottest nodes, len(bounds) for the coldest
    group = len(bounds) - torch.searchsorted(bounds.flip(0), degree, right=True)
    return torch.argsort(group, stable=True)


def permute_csr(A: Tensor, perm: Tensor, inv: Optional[Tensor] = None) -> Tensor:
    r""":math:`P A P^\top` for a CSR ``A``: row ``i`` of the result is row ``perm[i]`` of ``A``, columns relabelled.

    Entries within a row keep their original order (the SpMM does not need
    them sorted); memory: a few ``nnz``-long index temporaries.
    """
    n = A.size(0)
    crow, col, val = A.crow_indices(), A.col_indices(), A.values()
    device = crow.device
    perm = perm.to(device)
    if inv is None:
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(n, device=device)
    deg = crow[1:] - crow[:-1]
    new_deg = deg.index_select(0, perm)
    new_crow = torch.zeros(n + 1, dtype=crow.dtype, device=device)
    torch.cumsum(new_deg, 0, out=new_crow[1:])
    shift = crow[:-1].index_select(0, perm) - new_crow[:-1]
    idx = torch.repeat_interleave(shift, new_deg, output_size=col.numel())
    idx += torch.arange(col.numel(), device=device)
    new_col = inv.index_select(0, col.index_select(0, idx))
    new_val = val.index_select(0, idx)
    del idx
    return torch.sparse_csr_tensor(new_crow, new_col, new_val, A.shape, check_invariants=False)


@dataclass
class Reordered:
    """A permuted propagation matrix: ``matrix = P M P^T``, ``perm`` / ``inv`` the permutation and its inverse."""

    matrix: Tensor
    perm: Tensor
    inv: Tensor
    method: str
    seconds: float

    def to_local(self, x: Tensor) -> Tensor:
        """Rows of ``x`` (caller's order) in the reordered order."""
        return x.index_select(0, self.perm.to(x.device))

    def to_caller(self, y: Tensor) -> Tensor:
        """Rows of ``y`` (reordered) back in the caller's order."""
        return y.index_select(0, self.inv.to(y.device))


def reordered_adjacency(
    edge_index: Tensor,
    num_nodes: int,
    normalization: str,
    r: float,
    add_self_loops: bool,
    dtype: torch.dtype,
    device: torch.device,
    method: str = "rcm",
) -> Reordered:
    """The normalized adjacency of ``edge_index`` (see :func:`~scalegnn.data.adjacency.normalized_adjacency`),
    permuted by :func:`locality_order`, built once per ``edge_index`` tensor and cached (weakly, like
    :func:`~scalegnn.data.adjacency.cached_adjacency`; in-place edits of ``edge_index`` make a fresh one).

    The unpermuted matrix is built, ordered, permuted and dropped, so only
    the permuted one stays in memory.
    """
    if method not in ORDER_METHODS:
        raise ValueError(f"unknown reordering {method!r}; choose one of {ORDER_METHODS}")
    device = torch.device(device)
    key = ("reordered", num_nodes, normalization, float(r), add_self_loops, dtype, str(device), method,
           edge_index._version)
    cache = _per_graph_cache(edge_index)  # the same weak per-graph cache as the normalized adjacency
    if key not in cache:
        t0 = time.perf_counter()
        A = normalized_adjacency(edge_index.to(device), num_nodes, normalization, r, add_self_loops, dtype=dtype)
        perm = locality_order(A.crow_indices(), A.col_indices(), num_nodes, method).to(device)
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(num_nodes, device=device)
        matrix = permute_csr(A, perm, inv)
        del A
        cache[key] = Reordered(matrix, perm, inv, method, time.perf_counter() - t0)
    return cache[key]


def apply_reordering(reorder: Optional[str], adj_is_edge_index: bool) -> Optional[str]:
    """The order method to use, or ``None`` for none.

    ``reorder``: ``"auto"`` (default of the precomputations: no order, see
    the module docstring), a method of :data:`ORDER_METHODS`, or
    ``None``/``"none"``.

    Raises:
        ValueError: an unknown ``reorder``, or an explicit order with a
            prebuilt matrix (only an ``edge_index`` is reordered here).
    """
    if reorder is None or reorder in ("none", "auto"):
        return None
    if reorder not in ORDER_METHODS:
        raise ValueError(f"reorder must be 'auto', None or one of {ORDER_METHODS}, got {reorder!r}")
    if not adj_is_edge_index:
        raise ValueError(f"reorder={reorder!r} needs the graph as an edge_index; a prebuilt matrix is used as is")
    return reorder
