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
from scalegnn.linkpred._ranges import concat_ranges
from scalegnn.linkpred.drnl import _labels, csr_from_sorted_rows

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
    slot = torch.full((chunk * n,), -1, dtype=torch.int32)  # reused by every chunk, reset after use
    parts = [_extract_chunk(csr, pairs[s:s + chunk], remove_mask[s:s + chunk], num_hops, max_nodes_per_hop,
                            ratio_per_hop, generator, labels, slot)
             for s in range(0, num_pairs, chunk)]
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

    ``slot[pair * N + node]`` holds the node's position in the batch while the
    chunk is built (a dense hash of the visited keys); it is reset to ``-1``
    before returning.
    """
    rowptr, col = csr.rowptr, csr.col
    n = csr.num_nodes
    num_pairs = pairs.size(0)
    src, dst = pairs[:, 0], pairs[:, 1]
    pid = torch.arange(num_pairs)

    # ---- node sets: hop-by-hop frontier expansion over all pairs at once
    frontier = torch.cat([pid * n + src, pid * n + dst])
    slot[frontier] = 0  # visited marker (positions are assigned later)
    hop_keys, hop_of = [frontier], [torch.zeros(frontier.numel(), dtype=torch.long)]
    for h in range(1, num_hops + 1):
        f_node = frontier % n
        start = rowptr[f_node]
        deg = rowptr[f_node + 1] - start
        cand = torch.repeat_interleave(frontier - f_node, deg) + col[concat_ranges(start, deg)]
        cand = cand[slot[cand] < 0]
        if cand.numel() == 0:
            break
        # distinct new keys without sorting: the last writer of each key wins
        slot[cand] = torch.arange(cand.numel(), dtype=torch.int32)
        new = cand[slot[cand] == torch.arange(cand.numel(), dtype=torch.int32)]
        slot[new] = -1
        new = torch.sort(new).values
        if max_nodes_per_hop is not None or ratio_per_hop < 1.0:
            new = _sample_fringe(new, torch.div(new, n, rounding_mode="floor"), num_pairs,
                                 ratio_per_hop, max_nodes_per_hop, generator)
        if new.numel() == 0:
            break
        slot[new] = 0
        hop_keys.append(new)
        hop_of.append(torch.full((new.numel(),), h, dtype=torch.long))
        frontier = new
    keys = torch.cat(hop_keys)
    hops = torch.cat(hop_of)
    node_pid = torch.div(keys, n, rounding_mode="floor")
    node = keys - node_pid * n

    # ---- layout: per pair [src, dst, others by id]; slot[key] = position
    rank = torch.where(node == src[node_pid], 0, torch.where(node == dst[node_pid], 1, node + 2))
    layout = torch.argsort(node_pid * (n + 2) + rank)
    keys, node, node_pid, hops = keys[layout], node[layout], node_pid[layout], hops[layout]
    num_batch_nodes = keys.numel()
    slot[keys] = torch.arange(num_batch_nodes, dtype=torch.int32)

    # ---- induced edges: neighbours of every subgraph node inside the same subgraph (rows come out sorted)
    start = rowptr[node]
    deg = rowptr[node + 1] - start
    target = slot[torch.repeat_interleave(keys - node, deg) + col[concat_ranges(start, deg)]]
    row = torch.repeat_interleave(torch.arange(num_batch_nodes), deg)
    inside = target >= 0
    row, target = row[inside], target[inside].long()
    slot[keys] = -1
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
    z = _labels(*csr_from_sorted_rows(row, target, num_batch_nodes), first, first + 1) if labels else None
    return torch.stack([row, target]), node_pid, node, hops, ptr, z
