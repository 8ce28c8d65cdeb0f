r"""Double-Radius Node Labeling (DRNL) of enclosing subgraphs.

From Zhang & Chen, `"Link Prediction Based on Graph Neural Networks"
<https://arxiv.org/abs/1802.09691>`_ (NeurIPS 2018). In the enclosing subgraph
of a target pair :math:`(x, y)` every node :math:`i` gets the label

.. math::
    f(i) = 1 + \min(d_x, d_y) + \lfloor d/2 \rfloor\,\big(\lfloor d/2 \rfloor + (d \bmod 2) - 1\big),
    \qquad d = d_x + d_y,

where :math:`d_x` is the shortest-path distance from :math:`i` to :math:`x`
*in the subgraph with* :math:`y` *removed* and :math:`d_y` the distance to
:math:`y` with :math:`x` removed. The two targets get label 1; a node with an
infinite :math:`d_x` or :math:`d_y` (not reachable from one target, or from
either, once the other is removed) gets label 0, as in the authors' reference
code. Equal labels mean equal (unordered) distance pairs, and the labels grow
with :math:`d`, so one-hot or embedding tables stay small.

:func:`drnl_labels` labels one subgraph; :func:`drnl_labels_batched` labels
every subgraph of a mini-batch (disjoint union) in one pass: two multi-source
breadth-first searches over the batch's CSR (in compiled code, SciPy's
``breadth_first_order`` from a virtual super-source), one from all first
targets with all second targets blocked and one the other way round, so the
cost is :math:`O(|E_{batch}|)` whatever the number of subgraphs. When the
subgraphs are contiguous blocks of the batch (as
:mod:`scalegnn.linkpred.extract` lays them out), consecutive subgraphs are
searched by groups, each on a renumbered copy of just its rows: the same
searches on a graph that stays in cache.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from scalegnn.data.validate import validate_edge_index
from scalegnn.linkpred._ranges import concat_ranges

__all__ = ["drnl_hash", "drnl_labels", "drnl_labels_batched", "bfs_distances"]

UNREACHABLE = -1
_GROUP_EDGES = 1 << 18  # edges per group of subgraphs searched together (a cache-sized graph)


def drnl_hash(dist_src: Tensor, dist_dst: Tensor) -> Tensor:
    r"""The DRNL label of nodes with distances ``dist_src`` (:math:`d_x`) and ``dist_dst`` (:math:`d_y`).

    Distances are integer tensors with ``-1`` for "unreachable"; such nodes get 0.
    Target nodes are not special-cased here (callers set them to 1).
    """
    dx, dy = dist_src.long(), dist_dst.long()
    d = dx + dy
    half, odd = torch.div(d, 2, rounding_mode="floor"), d % 2
    z = 1 + torch.minimum(dx, dy) + half * (half + odd - 1)
    return torch.where((dx < 0) | (dy < 0), torch.zeros_like(z), z)


def _neighbours(rowptr: Tensor, col: Tensor, nodes: Tensor) -> Tensor:
    """All CSR neighbours of ``nodes`` (with repetition), in one gather."""
    start = rowptr[nodes]
    return col[concat_ranges(start, rowptr[nodes + 1] - start)]


def bfs_distances(rowptr: Tensor, col: Tensor, sources: Tensor, blocked: Optional[Tensor] = None) -> Tensor:
    """Hop distances from the nearest of ``sources`` (node ids) avoiding ``blocked`` nodes; ``-1`` if unreachable.

    A multi-source BFS over a CSR graph: each level gathers the neighbours of
    the current frontier only, so the work is the sum of the degrees of the
    visited nodes. Blocked nodes are never entered.
    """
    n = rowptr.numel() - 1
    dist = torch.full((n,), UNREACHABLE, dtype=torch.long, device=col.device)
    seen = torch.zeros(n, dtype=torch.bool, device=col.device)
    if blocked is not None:
        seen[blocked] = True
    dist[sources] = 0
    seen[sources] = True
    frontier, level = sources, 0
    while frontier.numel():
        level += 1
        nbr = _neighbours(rowptr, col, frontier)
        nbr = nbr[~seen[nbr]]
        if nbr.numel() == 0:
            break
        dist[nbr] = level  # duplicates write the same value
        seen[nbr] = True
        # distinct next frontier: sort the (usually few) new nodes, or scan all nodes when they are many
        frontier = torch.unique(nbr) if nbr.numel() * 8 < n else (dist == level).nonzero().view(-1)
    return dist


def csr_from_sorted_rows(row: Tensor, col: Tensor, num_nodes: int):
    """``(rowptr, col)`` of an edge list already sorted by ``row``."""
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=row.device)
    torch.cumsum(torch.bincount(row, minlength=num_nodes), 0, out=rowptr[1:])
    return rowptr, col


def _bfs_depth(graph, indptr: np.ndarray, buf: np.ndarray, num_edges: int, sources: np.ndarray,
               blocked: np.ndarray, num_nodes: int) -> np.ndarray:
    """Hop distance of every node from the nearest of ``sources``, never passing through ``blocked``; -1 if unreachable.

    One breadth-first search in compiled code (``scipy.sparse.csgraph.breadth_first_order``).
    ``graph`` is the CSR ``(indptr, buf[:num_edges])`` plus a virtual
    super-source (node ``num_nodes``) whose row is ``buf[num_edges:]``; ``buf``
    is the graph's own column array, so writing it edits the graph: the
    super-source is pointed at ``sources``, and each blocked node's out-edges
    are turned into self-loops (the search may reach it but never leaves it),
    then restored. The depths follow from the FIFO order's level blocks (binary
    searches over the parents' positions).
    """
    from scipy.sparse.csgraph import breadth_first_order

    b_start = indptr[blocked]
    b_deg = indptr[blocked + 1] - b_start
    b_pos = _np_ranges(b_start, b_deg)
    saved = buf[b_pos]
    buf[b_pos] = np.repeat(blocked, b_deg)
    buf[num_edges:] = sources
    order, pred = breadth_first_order(graph, num_nodes, directed=True, return_predecessors=True)
    buf[b_pos] = saved
    # FIFO order: the parents' positions are non-decreasing along it, so each BFS level is one
    # contiguous block whose end is found by a binary search over the parents' positions
    pos = np.empty(num_nodes + 1, dtype=np.int32)
    pos[order] = np.arange(order.size, dtype=np.int32)
    parent_pos = pos[pred[order[1:]]]
    bounds = [0, 1]
    while bounds[-1] < order.size:
        bounds.append(1 + int(np.searchsorted(parent_pos, bounds[-1], side="left")))
    depth = np.full(num_nodes + 1, -1, dtype=np.int64)
    depth[order] = np.repeat(np.arange(-1, len(bounds) - 2), np.diff(bounds))  # sources at 0
    return depth[:num_nodes]


def _search_graph(indptr: np.ndarray, buf: np.ndarray, num_edges: int, num_nodes: int):
    """``(graph, buf)``: the CSR ``(indptr, buf[:num_edges])`` plus a super-source row ``buf[num_edges:]``.

    The returned ``buf`` is the column array the graph holds (scipy copies a
    view of a much larger array): edit that one.
    """
    from scipy.sparse import csr_matrix

    ptr = np.empty(num_nodes + 2, dtype=np.int32 if buf.size < 2 ** 31 else np.int64)
    ptr[:-1] = indptr
    ptr[-1] = buf.size
    # the search reads only the structure: a constant, zero-stride data array costs nothing
    ones = np.broadcast_to(np.float64(1.0), (buf.size,))
    graph = csr_matrix((ones, buf, ptr), shape=(num_nodes + 1, num_nodes + 1))
    return graph, graph.indices


def _drnl_hash_np(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """:func:`drnl_hash` on int64 numpy arrays (``-1``: unreachable, label 0)."""
    d = dx + dy
    half = d >> 1
    z = half + (d & 1) - 1
    z *= half
    z += np.minimum(dx, dy)
    z += 1
    z[(dx < 0) | (dy < 0)] = 0
    return z


def _np_ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) ...])`` in numpy."""
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offset = np.repeat(start.astype(np.int64) - (np.cumsum(count) - count), count)
    return np.arange(total, dtype=np.int64) + offset


def _labels_np(indptr: np.ndarray, indices: np.ndarray, src: np.ndarray, dst: np.ndarray,
               num_nodes: int, buf: Optional[np.ndarray] = None, blocks: Optional[np.ndarray] = None,
               group_edges: Optional[int] = None) -> Tensor:
    """DRNL labels of a batch given as CSR arrays (``src``/``dst``: each subgraph's targets).

    ``buf``: optional working array of ``len(indices) + len(src)`` entries whose
    first ``len(indices)`` already are ``indices`` (e.g. ``indices`` with spare
    room behind it); it saves a copy, and ``indices`` is left as it was.
    ``blocks``: optional ``[B + 1]`` node offsets when subgraph ``i`` is the
    nodes ``blocks[i]:blocks[i + 1]`` (as in :mod:`scalegnn.linkpred.extract`);
    then consecutive subgraphs of about ``group_edges`` (default ``_GROUP_EDGES``) edges in all are
    searched together, on a copy of just their rows renumbered from 0: a
    cache-sized graph instead of the whole batch (``buf`` is not used).
    """
    num_edges = indices.size
    if blocks is None or src.size == 1:
        if buf is None:
            buf = np.empty(num_edges + src.size, dtype=np.int32)
            buf[:num_edges] = indices
        graph, buf = _search_graph(indptr, buf, num_edges, num_nodes)
        dist_src = _bfs_depth(graph, indptr, buf, num_edges, src, dst, num_nodes)
        dist_dst = _bfs_depth(graph, indptr, buf, num_edges, dst, src, num_nodes)
    else:
        group = indptr[blocks[:-1]] // (group_edges or _GROUP_EDGES)  # each subgraph's group: by the edges before it
        cut = [0] + (np.flatnonzero(group[1:] != group[:-1]) + 1).tolist() + [src.size]
        dist_src = np.empty(num_nodes, dtype=np.int64)
        dist_dst = np.empty(num_nodes, dtype=np.int64)
        for g0, g1 in zip(cut[:-1], cut[1:]):
            p0, q = int(blocks[g0]), int(blocks[g1])
            e0, e1 = int(indptr[p0]), int(indptr[q])
            local = np.empty(e1 - e0 + g1 - g0, dtype=np.int32)
            np.subtract(indices[e0:e1], p0, out=local[:e1 - e0])
            ptr = indptr[p0:q + 1] - e0
            graph, local = _search_graph(ptr, local, e1 - e0, q - p0)
            s, d = src[g0:g1] - p0, dst[g0:g1] - p0
            dist_src[p0:q] = _bfs_depth(graph, ptr, local, e1 - e0, s, d, q - p0)
            dist_dst[p0:q] = _bfs_depth(graph, ptr, local, e1 - e0, d, s, q - p0)
    z = _drnl_hash_np(dist_src, dist_dst)
    z[src] = 1
    z[dst] = 1
    return torch.from_numpy(z)


def _labels(rowptr: Tensor, col: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    n = rowptr.numel() - 1
    return _labels_np(rowptr.numpy(), col.numpy(), src.numpy(), dst.numpy(), n)


def drnl_labels_batched(edge_index: Tensor, src: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """DRNL labels of every subgraph of a batch (a disjoint union) at once.

    Args:
        edge_index: ``[2, E]`` edges of the batch in batch numbering (both
            directions of each undirected edge).
        src, dst: ``[B]`` batch-numbered ids of each subgraph's two targets.
        num_nodes: nodes in the batch.

    Returns:
        ``LongTensor[num_nodes]`` of labels (1 for targets, 0 for unreachable nodes).
    """
    src, dst = torch.as_tensor(src).long().view(-1), torch.as_tensor(dst).long().view(-1)
    if src.numel() != dst.numel():
        raise ValueError(f"src and dst must have the same length, got {src.numel()} and {dst.numel()}")
    validate_edge_index(edge_index, num_nodes)
    for name, t in (("src", src), ("dst", dst)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_nodes):
            raise ValueError(f"{name} has a node id outside 0..{num_nodes - 1}")
    if bool((src == dst).any()):
        raise ValueError("a subgraph's two targets must be different nodes (src == dst found)")
    row, col = edge_index[0].long(), edge_index[1].long()
    if row.numel() > 1 and not bool((row[1:] >= row[:-1]).all()):
        perm = torch.argsort(row, stable=True)
        row, col = row[perm], col[perm]
    return _labels(*csr_from_sorted_rows(row, col, num_nodes), src, dst)


def drnl_labels(edge_index: Tensor, src: int, dst: int, num_nodes: Optional[int] = None) -> Tensor:
    """DRNL labels of one subgraph with targets ``src`` and ``dst``.

    Args:
        edge_index: ``[2, E]`` edges of the subgraph (undirected graphs list both directions).
        src, dst: the two target nodes.
        num_nodes: nodes of the subgraph (default ``edge_index.max() + 1``,
            or ``max(src, dst) + 1`` if larger).

    Returns:
        ``LongTensor[num_nodes]``: 1 for ``src`` and ``dst``, 0 for nodes with
        no path to one of the targets once the other is removed, else the DRNL hash.
    """
    src, dst = int(src), int(dst)
    if num_nodes is None:
        num_nodes = max(int(edge_index.max()) + 1 if edge_index.numel() else 0, src + 1, dst + 1)
    return drnl_labels_batched(edge_index, torch.tensor([src]), torch.tensor([dst]), int(num_nodes))
