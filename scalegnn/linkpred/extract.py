r"""Enclosing subgraphs of many target links at once, with DRNL labels.

SEAL (Zhang & Chen, `"Link Prediction Based on Graph Neural Networks"
<https://arxiv.org/abs/1802.09691>`_, NeurIPS 2018) predicts a link
:math:`(x, y)` from its :math:`h`-hop enclosing subgraph: the subgraph induced
by :math:`\{i : d(i, x) \le h \text{ or } d(i, y) \le h\}`, with every node
labeled by DRNL (:mod:`scalegnn.linkpred.drnl`).

:func:`extract_enclosing_subgraphs` builds the subgraphs of a whole batch of
pairs with every heavy step in compiled (SciPy sparse, NumPy, torch) code. Every
visited node is a key ``pair_id * N + node`` marked in a dense map of the
chunk's keys. One hop is a boolean sparse product ``frontier @ A``
(``frontier``: one row per pair), which gathers and deduplicates every pair's
neighbours at once; keys already visited are dropped and, optionally, each
pair's new nodes (the *fringe*) are sampled down to ``ratio_per_hop`` of them
and at most ``max_nodes_per_hop``, as the authors' reference code does. The
induced edges come from one row gather ``A[nodes]`` of all the batch's subgraph
nodes; each neighbour is then looked up in its pair's ``N``-entry slice of the
map (which holds batch positions) and the misses are packed away, one pair (or
one run of small pairs) at a time so that the working arrays stay in cache.
DRNL labels come from two breadth-first searches per group of subgraphs, each
group searched on its own cache-sized copy. The cost is the sum of the degrees
of the visited nodes, and memory is set by the batch, not by the number of
links. Outputs do not depend on the grouping: they equal a per-pair
breadth-first reference (node sets, node order, edges with multiplicity and
their order, labels).

For a positive *training* pair the target edge is part of the observed graph;
``remove_target=True`` removes it from that pair's subgraph (both
directions), so the model cannot read the answer off its input.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Batch

from scalegnn.data.validate import check_float, check_int, validate_edge_index
from scalegnn.linkpred.drnl import _labels_np

__all__ = ["CSRGraph", "extract_enclosing_subgraphs", "check_pairs"]


@dataclass
class CSRGraph:
    """A graph in compressed sparse row form: node ``u``'s neighbours are ``col[rowptr[u]:rowptr[u + 1]]``.

    Build it once with :meth:`from_edge_index` and pass it to
    :func:`extract_enclosing_subgraphs` for every batch. For an undirected
    graph ``edge_index`` must list both directions of each edge.
    """

    rowptr: Tensor
    col: Tensor

    @property
    def num_nodes(self) -> int:
        return self.rowptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.col.numel()

    def degree(self) -> Tensor:
        return self.rowptr[1:] - self.rowptr[:-1]

    def scipy(self) -> sp.csr_matrix:
        """The same graph as a boolean ``scipy.sparse.csr_matrix`` (built once, then cached)."""
        cached = self.__dict__.get("_scipy")
        if cached is None:
            big = max(self.num_nodes, self.num_edges) >= 2 ** 31
            idx = np.int64 if big else np.int32
            cached = sp.csr_matrix((np.ones(self.num_edges, dtype=bool), self.col.numpy().astype(idx),
                                    self.rowptr.numpy().astype(idx)), shape=(self.num_nodes, self.num_nodes))
            self.__dict__["_scipy"] = cached
        return cached

    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: Optional[int] = None) -> "CSRGraph":
        """CSR of ``edge_index`` (duplicates kept; sorted by source, then target)."""
        if num_nodes is None:
            num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
        num_nodes = check_int(num_nodes, "num_nodes", min_value=1)
        validate_edge_index(edge_index, num_nodes)
        row, col = edge_index[0].long(), edge_index[1].long()
        perm = torch.argsort(row * num_nodes + col)
        row, col = row[perm], col[perm]
        rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        torch.cumsum(torch.bincount(row, minlength=num_nodes), 0, out=rowptr[1:])
        return cls(rowptr, col.contiguous())


def check_pairs(pairs: Tensor, num_nodes: int, name: str = "pairs") -> Tensor:
    """``pairs`` as a ``[B, 2]`` long tensor of distinct in-range node ids; ``ValueError`` otherwise."""
    if not isinstance(pairs, Tensor):
        raise TypeError(f"{name} must be a [num_pairs, 2] torch.Tensor, got {type(pairs).__name__}")
    if pairs.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must have an integer dtype, got {pairs.dtype}")
    if pairs.dim() != 2 or pairs.size(1) != 2:
        raise ValueError(f"{name} must have shape [num_pairs, 2], got {list(pairs.shape)}")
    if pairs.size(0) == 0:
        raise ValueError(f"{name} is empty: at least one target pair is needed")
    pairs = pairs.long()
    lo, hi = int(pairs.min()), int(pairs.max())
    if lo < 0 or hi >= num_nodes:
        bad = int(((pairs < 0) | (pairs >= num_nodes)).any(dim=1).nonzero()[0])
        raise ValueError(f"{name}[{bad}] = {pairs[bad].tolist()} has a node id outside 0..{num_nodes - 1}")
    same = pairs[:, 0] == pairs[:, 1]
    if bool(same.any()):
        bad = int(same.nonzero()[0])
        raise ValueError(f"{name}[{bad}] = {pairs[bad].tolist()} is a self-pair; the two targets must differ")
    return pairs


def _sample_fringe(keys: Tensor, pid: Tensor, num_pairs: int, ratio: float, cap: Optional[int],
                   generator: Optional[torch.Generator]) -> Tensor:
    """Keep ``min(cap, floor(ratio * count))`` uniformly random keys of each pair (keys sorted by pair)."""
    counts = torch.bincount(pid, minlength=num_pairs)
    keep = counts
    if ratio < 1.0:
        keep = torch.floor(counts.double() * ratio).long()
    if cap is not None:
        keep = keep.clamp(max=cap)
    if bool((keep == counts).all()):
        return keys
    # random rank of each key inside its pair: sort by (pair, random)
    shuffled = torch.randperm(keys.numel(), generator=generator)
    order = shuffled[torch.argsort(pid[shuffled], stable=True)]
    start = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel()) - start[pid[order]]
    return keys[rank < keep[pid]]


_MAPS = threading.local()
_RUN_ENTRIES = 1 << 15  # gathered neighbour entries per run of pairs (see _extract_chunk)


def _take_map(size: int) -> Tensor:
    """An all ``-1`` int32 map of at least ``size`` entries: this thread's cached one if large enough.

    Filling a fresh map costs as much as a small batch's whole extraction (it
    is ``batch * N`` entries), so the map is handed back to a per-thread cache
    after use, reset (its size is bounded by ``map_budget``).
    """
    cached = getattr(_MAPS, "free", None)
    _MAPS.free = None
    if cached is not None and cached.numel() >= size:
        return cached
    return torch.from_numpy(np.full(size, -1, dtype=np.int32))


def extract_enclosing_subgraphs(
    graph: Union[Tensor, CSRGraph],
    pairs: Tensor,
    num_hops: int,
    max_nodes_per_hop: Optional[int] = None,
    *,
    ratio_per_hop: float = 1.0,
    num_nodes: Optional[int] = None,
    remove_target: Union[bool, Tensor] = True,
    x: Optional[Tensor] = None,
    y: Optional[Tensor] = None,
    generator: Optional[torch.Generator] = None,
    labels: bool = True,
    map_budget: int = 1 << 25,
) -> Batch:
    """The ``num_hops``-hop enclosing subgraphs of all ``pairs``, DRNL-labeled, as one PyG ``Batch``.

    Args:
        graph: the observed graph: ``edge_index [2, E]`` (both directions of
            each undirected edge) or a prebuilt :class:`CSRGraph`.
        pairs: ``[B, 2]`` target pairs (distinct nodes).
        num_hops: :math:`h \\ge 1`.
        max_nodes_per_hop: at most this many new nodes per pair and hop
            (uniformly sampled); ``None`` keeps all.
        ratio_per_hop: keep ``floor(ratio * count)`` of each hop's new nodes
            first (``1.0`` keeps all), as in the SEAL-OGB recipes.
        num_nodes: nodes of ``graph`` when it is an ``edge_index``.
        remove_target: drop the edge between the two targets from their
            subgraph (a bool for all pairs, or a ``[B]`` bool tensor). Use it for
            positive training pairs, whose edge is in the observed graph.
        x: optional ``[N, F]`` node features, gathered into ``batch.x``.
        y: optional ``[B]`` link labels, stored as ``batch.y``.
        generator: random generator for the per-hop sampling.
        labels: compute DRNL labels (``batch.z``).
        map_budget: entries of the ``int32`` (pair, node) -> position map;
            pairs are processed in chunks of ``map_budget // num_nodes`` (at
            least one), which bounds this map's memory (128 MB by default).
            The map is kept (one per thread) and reused by the next call.

    Returns:
        A ``Batch`` of ``B`` graphs with ``edge_index`` (batch numbering),
        ``batch``, ``ptr``, ``node_id`` (original ids), ``hop`` (hop at which
        each node was reached), ``z`` (DRNL labels), ``pair`` ``[B, 2]`` and, if
        given, ``x`` and ``y``. In every subgraph the first node is the pair's
        first target and the second node its second target (so
        ``ptr[:-1]`` and ``ptr[:-1] + 1`` index them); the others follow in
        increasing original id.
    """
    if isinstance(graph, CSRGraph):
        csr = graph
    elif isinstance(graph, Tensor):
        csr = CSRGraph.from_edge_index(graph, num_nodes)
    else:
        raise TypeError(f"graph must be an edge_index tensor or a CSRGraph, got {type(graph).__name__}")
    num_hops = check_int(num_hops, "num_hops", min_value=1)
    if max_nodes_per_hop is not None:
        max_nodes_per_hop = check_int(max_nodes_per_hop, "max_nodes_per_hop", min_value=1)
    ratio_per_hop = check_float(ratio_per_hop, "ratio_per_hop", min_value=0.0, max_value=1.0, min_open=True)
    n = csr.num_nodes
    pairs = check_pairs(pairs, n)
    num_pairs = pairs.size(0)
    if isinstance(remove_target, Tensor):
        if remove_target.dtype != torch.bool or remove_target.numel() != num_pairs:
            raise ValueError(f"remove_target must be a bool or a [{num_pairs}] bool tensor, "
                             f"got dtype {remove_target.dtype} and {remove_target.numel()} entries")
        remove_mask = remove_target.view(-1)
    elif isinstance(remove_target, bool):
        remove_mask = torch.full((num_pairs,), remove_target, dtype=torch.bool)
    else:
        raise TypeError(f"remove_target must be a bool or a bool tensor, got {type(remove_target).__name__}")
    if y is not None and y.size(0) != num_pairs:
        raise ValueError(f"y has {y.size(0)} entries for {num_pairs} pairs")
    chunk = max(1, min(num_pairs, map_budget // n))
    slot = _take_map(chunk * n)  # reused by every chunk, reset after use
    try:
        parts = [_extract_chunk(csr, pairs[s:s + chunk], remove_mask[s:s + chunk], num_hops, max_nodes_per_hop,
                                ratio_per_hop, generator, labels, slot)
                 for s in range(0, num_pairs, chunk)]
    except BaseException:
        slot = None  # possibly left dirty: not returned to the cache
        raise
    finally:
        if slot is not None:
            _MAPS.free = slot
    if len(parts) == 1:
        edge_index, node_pid, node, hops, ptr, z = parts[0]
    else:
        offsets = torch.tensor([0] + [p[2].numel() for p in parts]).cumsum(0)
        edge_index = torch.cat([p[0] + offsets[i] for i, p in enumerate(parts)], dim=1)
        node_pid = torch.cat([p[1] + i * chunk for i, p in enumerate(parts)])
        node = torch.cat([p[2] for p in parts])
        hops = torch.cat([p[3] for p in parts])
        ptr = torch.cat([parts[0][4]] + [p[4][1:] + offsets[i] for i, p in enumerate(parts) if i > 0])
        z = torch.cat([p[5] for p in parts]) if labels else None
    out = Batch(edge_index=edge_index, batch=node_pid, ptr=ptr, node_id=node, hop=hops, pair=pairs)
    out._num_graphs = num_pairs
    if labels:
        out.z = z
    if x is not None:
        out.x = x[node]
    if y is not None:
        out.y = y
    return out


def _extract_chunk(csr: CSRGraph, pairs: Tensor, remove_mask: Tensor, num_hops: int,
                   max_nodes_per_hop: Optional[int], ratio_per_hop: float,
                   generator: Optional[torch.Generator], labels: bool, slot: Tensor):
    """Subgraphs of one chunk of pairs; ``slot`` is an all ``-1`` map of at least ``len(pairs) * N`` entries.

    ``slot[pair * N + node]`` marks the visited keys while the node sets grow and
    then holds each node's position in the batch (the global-to-local map of
    the chunk); it is reset to ``-1`` before returning. Steps: a sparse product
    ``frontier @ A`` per hop (gathers and deduplicates every pair's next hop);
    one row gather ``A[nodes]``; per pair, or per run of pairs with together
    about ``_RUN_ENTRIES`` gathered entries, one lookup of the neighbours in the
    pair's slice of ``slot`` and one packing of the hits (both on arrays that
    stay in cache); DRNL by groups of subgraphs (:func:`_labels_np` with
    ``blocks``); the ``int64`` edge_index written once.
    """
    A = csr.scipy()
    n = csr.num_nodes
    num_pairs = pairs.size(0)
    slot_np = slot.numpy()
    kdt = np.int32 if slot_np.size < 2 ** 31 else np.int64
    pr = pairs.numpy().astype(kdt)
    src, dst = pr[:, 0], pr[:, 1]
    base = np.arange(num_pairs, dtype=kdt) * kdt(n)

    # ---- node sets: hop-by-hop frontier expansion of all pairs at once (a sparse product per hop)
    frontier = np.sort(np.concatenate([base + src, base + dst]))
    slot_np[frontier] = 0  # visited marker (positions are assigned later)
    hop_keys, hop_of = [frontier], [np.zeros(frontier.size, dtype=np.int64)]
    for h in range(1, num_hops + 1):
        f_pid = frontier // n
        indptr = np.zeros(num_pairs + 1, dtype=np.int64)
        np.cumsum(np.bincount(f_pid, minlength=num_pairs), out=indptr[1:])
        front = sp.csr_matrix((np.ones(frontier.size, dtype=bool), (frontier - f_pid * n).astype(A.indices.dtype),
                               indptr.astype(A.indptr.dtype)), shape=(num_pairs, n))
        reached = front @ A  # boolean: each pair's distinct neighbours of its frontier
        cand = np.repeat(base, np.diff(reached.indptr)) + reached.indices.astype(kdt, copy=False)
        new = np.sort(np.compress(slot_np[cand] < 0, cand))
        if max_nodes_per_hop is not None or ratio_per_hop < 1.0:
            kept = _sample_fringe(torch.from_numpy(new.astype(np.int64)), torch.from_numpy((new // n).astype(np.int64)),
                                  num_pairs, ratio_per_hop, max_nodes_per_hop, generator)
            new = kept.numpy().astype(kdt)
        if new.size == 0:
            break
        slot_np[new] = 0
        hop_keys.append(new)
        hop_of.append(np.full(new.size, h, dtype=np.int64))
        frontier = new
    keys = np.concatenate(hop_keys)
    hops = np.concatenate(hop_of)
    node_pid = (keys // n).astype(np.int64)
    node = (keys - node_pid * n).astype(np.int64)

    # ---- layout: per pair [src, dst, others by id]; slot[key] = position
    rank = np.where(node == src[node_pid], 0, np.where(node == dst[node_pid], 1, node + 2))
    layout = np.argsort(node_pid * (n + 2) + rank, kind="stable")
    keys, node, node_pid, hops = keys[layout], node[layout], node_pid[layout], hops[layout]
    num_batch_nodes = keys.size
    slot_np[keys] = np.arange(num_batch_nodes, dtype=np.int32)
    counts = np.bincount(node_pid, minlength=num_pairs)
    ptr = np.zeros(num_pairs + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    first = ptr[:-1]

    # ---- induced edges: every subgraph node's neighbours, kept when they are in the same subgraph
    rows = A[node]  # one compiled row gather, duplicates and order kept
    gptr, nbr = rows.indptr, rows.indices
    idt = np.int32 if nbr.size < 2 ** 31 else np.int64
    seg_np = gptr[ptr]
    seg = seg_np.tolist()  # pair i's gathered entries are nbr[seg[i]:seg[i + 1]]
    # runs of consecutive pairs with about _RUN_ENTRIES gathered entries (a large pair is a run of its own):
    # one lookup and one packing per run, so that small subgraphs do not pay one Python step each
    run = seg_np[:-1] // _RUN_ENTRIES
    cut = [0] + (np.flatnonzero(run[1:] != run[:-1]) + 1).tolist() + [num_pairs]
    longest = max(seg[j] - seg[i] for i, j in zip(cut[:-1], cut[1:]))
    # Run by run, with the run's working arrays kept in cache: look each neighbour up in its pair's
    # N-entry slice of the map (its batch position, or -1), drop the target edge if asked, and pack the
    # hits into ``buf`` with np.compress; a running count of the hits gives the CSR row pointers.
    look = np.empty(longest, dtype=np.int32)
    hit = np.empty(longest, dtype=bool)
    count = np.zeros(longest + 1, dtype=idt)
    buf = np.empty(nbr.size + num_pairs, dtype=np.int32)  # packed edges, then the DRNL search's spare room
    out_ptr = np.empty(num_batch_nodes + 1, dtype=idt)
    out_ptr[0] = 0
    look_t, slot_t, nbr_t = torch.from_numpy(look), slot, torch.from_numpy(nbr)
    remove = remove_mask.numpy()
    num_edges = 0
    for i, j in zip(cut[:-1], cut[1:]):
        a, e = seg[i], seg[j]
        size = e - a
        t = look[:size]
        index = nbr_t[a:e]
        if j - i > 1:  # entries of the run's k-th pair look into the k-th N-entry slice of the run's map
            index = torch.from_numpy(np.repeat(np.arange(0, (j - i) * n, n, dtype=kdt), np.diff(seg_np[i:j + 1]))
                                     + nbr[a:e])
        # torch gathers with an int32 index as it is (numpy would first convert it to int64)
        torch.index_select(slot_t[i * n:j * n], 0, index, out=look_t[:size])
        for k in np.flatnonzero(remove[i:j]).tolist():
            # the target edge, both directions: rows p0 and p0 + 1 come first in the pair
            p0 = int(ptr[i + k])
            r0, r1, r2 = int(gptr[p0]) - a, int(gptr[p0 + 1]) - a, int(gptr[p0 + 2]) - a
            row = t[r0:r1]
            row[row == p0 + 1] = -1
            row = t[r1:r2]
            row[row == p0] = -1
        np.greater_equal(t, 0, out=hit[:size])
        np.cumsum(hit[:size], out=count[1:size + 1])
        kept = int(count[size])
        np.compress(hit[:size], t, out=buf[num_edges:num_edges + kept])
        p0, q = int(ptr[i]), int(ptr[j])
        out_ptr[p0 + 1:q + 1] = count[gptr[p0 + 1:q + 1] - a]
        out_ptr[p0 + 1:q + 1] += num_edges
        num_edges += kept
    slot_np[keys] = -1
    del look, hit, count, rows, nbr_t
    col = buf[:num_edges]
    z = None
    if labels:
        z = _labels_np(out_ptr, col, first, first + 1, num_batch_nodes, buf=buf[:num_edges + num_pairs], blocks=ptr)
    ei = np.empty((2, num_edges), dtype=np.int64)
    # rows: each non-empty row's id written where its edges start, the gaps filled by a running sum
    row = ei[0]
    row.fill(0)
    filled = np.flatnonzero(out_ptr[1:] > out_ptr[:-1])
    if filled.size:
        row[out_ptr[filled[1:]]] = np.diff(filled)
        row[0] = filled[0]
        np.cumsum(row, out=row)
    ei[1] = col
    edge_index = torch.from_numpy(ei)
    return (edge_index, torch.from_numpy(node_pid), torch.from_numpy(node), torch.from_numpy(hops),
            torch.from_numpy(ptr), z)
