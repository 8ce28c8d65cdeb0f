r"""Enclosing subgraphs of many target links at once, with DRNL labels.

SEAL (Zhang & Chen, `"Link Prediction Based on Graph Neural Networks"
<https://arxiv.org/abs/1802.09691>`_, NeurIPS 2018) predicts a link
:math:`(x, y)` from its :math:`h`-hop enclosing subgraph: the subgraph induced
by :math:`\{i : d(i, x) \le h \text{ or } d(i, y) \le h\}`, with every node
labeled by DRNL (:mod:`scalegnn.linkpred.drnl`).

:func:`extract_enclosing_subgraphs` builds the subgraphs of a whole batch of
pairs without a Python loop over pairs. Every visited node is a key
``pair_id * N + node``; one hop expands the current frontier of *all* pairs
through the CSR graph in a single gather, deduplicates with ``torch.unique``,
drops keys already visited (``searchsorted`` against the sorted visited
keys) and, optionally, samples each pair's new nodes (the *fringe*) down to
``ratio_per_hop`` of them and at most ``max_nodes_per_hop``, as the authors'
reference code does. The induced edges are found the same way: the neighbours
of every subgraph node, kept when their key is a node of the same subgraph.
The cost is the sum of the degrees of the visited nodes, and memory is set by
the batch, not by the number of links.

For a positive *training* pair the target edge is part of the observed graph;
``remove_target=True`` removes it from that pair's subgraph (both
directions), so the model cannot read the answer off its input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import Tensor
from torch_geometric.data import Batch

from scalegnn.data.validate import check_float, check_int, validate_edge_index
from scalegnn.linkpred.drnl import _labels, _neighbours, csr_from_sorted_rows

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
    rowptr, col = csr.rowptr, csr.col
    src, dst = pairs[:, 0], pairs[:, 1]
    pid = torch.arange(num_pairs)

    # ---- node sets: hop-by-hop frontier expansion over all pairs at once
    frontier = torch.cat([pid * n + src, pid * n + dst])
    visited = torch.sort(frontier).values
    hop_keys, hop_of = [visited], [torch.zeros(visited.numel(), dtype=torch.long)]
    for h in range(1, num_hops + 1):
        f_pid, f_node = torch.div(frontier, n, rounding_mode="floor"), frontier % n
        deg = rowptr[f_node + 1] - rowptr[f_node]
        nbr = _neighbours(rowptr, col, f_node)
        if nbr.numel() == 0:
            break
        cand = torch.unique(torch.repeat_interleave(f_pid, deg) * n + nbr)
        pos = torch.searchsorted(visited, cand).clamp(max=visited.numel() - 1)
        new = cand[visited[pos] != cand]
        if new.numel() and (max_nodes_per_hop is not None or ratio_per_hop < 1.0):
            new = _sample_fringe(new, torch.div(new, n, rounding_mode="floor"), num_pairs,
                                 ratio_per_hop, max_nodes_per_hop, generator)
        if new.numel() == 0:
            break
        hop_keys.append(new)
        hop_of.append(torch.full((new.numel(),), h, dtype=torch.long))
        visited = torch.sort(torch.cat([visited, new])).values
        frontier = new
    keys = torch.cat(hop_keys)
    hops = torch.cat(hop_of)
    node_pid = torch.div(keys, n, rounding_mode="floor")
    node = keys % n

    # ---- layout: per pair [src, dst, others by id]
    rank = torch.where(node == src[node_pid], 0, torch.where(node == dst[node_pid], 1, node + 2))
    layout = torch.argsort(node_pid * (n + 2) + rank)
    keys, node, node_pid, hops = keys[layout], node[layout], node_pid[layout], hops[layout]
    num_batch_nodes = keys.numel()
    sorted_keys, key_perm = torch.sort(keys)  # sorted_keys[i] is node key_perm[i] of the layout

    # ---- induced edges: neighbours of every subgraph node inside the same subgraph (rows come out sorted)
    deg = rowptr[node + 1] - rowptr[node]
    nbr = _neighbours(rowptr, col, node)
    row = torch.repeat_interleave(torch.arange(num_batch_nodes), deg)
    nbr_key = node_pid[row] * n + nbr
    pos = torch.searchsorted(sorted_keys, nbr_key).clamp(max=num_batch_nodes - 1)
    inside = sorted_keys[pos] == nbr_key
    row, target = row[inside], key_perm[pos[inside]]
    counts = torch.bincount(node_pid, minlength=num_pairs)
    ptr = torch.zeros(num_pairs + 1, dtype=torch.long)
    torch.cumsum(counts, 0, out=ptr[1:])
    first = ptr[:-1]
    if bool(remove_mask.any()):
        p = node_pid[row]
        local_r, local_t = row - first[p], target - first[p]
        is_target_edge = ((local_r == 0) & (local_t == 1)) | ((local_r == 1) & (local_t == 0))
        keep = ~(is_target_edge & remove_mask[p])
        row, target = row[keep], target[keep]
    edge_index = torch.stack([row, target])

    out = Batch(edge_index=edge_index, batch=node_pid, ptr=ptr, node_id=node, hop=hops, pair=pairs)
    out._num_graphs = num_pairs
    if labels:
        out.z = _labels(*csr_from_sorted_rows(row, target, num_batch_nodes), first, first + 1)
    if x is not None:
        out.x = x[node]
    if y is not None:
        out.y = y
    return out
