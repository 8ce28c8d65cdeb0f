r"""Mini-batches from random node partitions, as RevGNN trains on ogbn-proteins.

Li, Müller, Ghanem and Koltun, "Training Graph Neural Networks with 1000
Layers" (ICML 2021, https://arxiv.org/abs/2106.07476), following DeeperGCN:
each epoch the nodes are split uniformly at random into ``num_parts`` parts and
every part's induced subgraph is one mini-batch. At test time predictions are
averaged over several independent random partitions ("multi-view inference",
:func:`predict_random_partitions`).

Building all subgraphs of one partition costs :math:`O(N + E)` (one pass
sorting edges by part), not :math:`O(\text{parts} \cdot E)`.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional

import torch
from torch import Tensor

from scalegnn.data.validate import check_bool, check_index, check_int, validate_graph

__all__ = ["RandomPartitionLoader", "random_partition", "partition_subgraphs", "predict_random_partitions"]


def _check_num_parts(num_parts: Any) -> int:
    num_parts = check_int(num_parts, "num_parts")
    if num_parts < 1:
        raise ValueError(f"num_parts must be >= 1, got {num_parts}")
    return num_parts


def random_partition(num_nodes: int, num_parts: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """A part id in ``[0, num_parts)`` per node; parts differ in size by at most one node."""
    num_nodes = check_int(num_nodes, "num_nodes", min_value=1)
    num_parts = _check_num_parts(num_parts)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if num_parts > num_nodes:
        raise ValueError(f"num_parts={num_parts} exceeds the number of nodes ({num_nodes})")
    perm = torch.randperm(num_nodes, generator=generator)
    part = torch.empty(num_nodes, dtype=torch.long)
    part[perm] = torch.arange(num_nodes) % num_parts
    return part


def partition_subgraphs(data: Any, part: Tensor, num_parts: int) -> Iterator[Any]:
    """Yield the induced subgraph of every part of ``part`` (a PyG ``Data`` each).

    Node-level attributes (``x``, ``y``, masks, ...) are sliced to the part's
    nodes and edge-level ones (``edge_attr``, ...) to its internal edges;
    ``n_id`` holds the global ids of the batch's nodes (ascending) and
    ``e_id`` those of its edges. Edges between parts are dropped.
    """
    validate_graph(data)
    num_parts = _check_num_parts(num_parts)
    check_index(part, "part", num_parts, what="parts")
    if part.numel() != data.num_nodes:
        raise ValueError(f"part has {part.numel()} entries but the graph has {data.num_nodes} nodes")
    return _subgraphs(data, part, num_parts)


def _subgraphs(data: Any, part: Tensor, num_parts: int) -> Iterator[Any]:
    """:func:`partition_subgraphs` on arguments already checked (the loader's per-epoch path)."""
    num_nodes = data.num_nodes
    part = part.to(torch.long).cpu()
    # Nodes grouped by part, ascending global id inside each part.
    node_order = torch.argsort(part * num_nodes + torch.arange(num_nodes))
    node_counts = torch.bincount(part, minlength=num_parts)
    node_ptr = torch.cat([torch.zeros(1, dtype=torch.long), node_counts.cumsum(0)])
    local = torch.empty(num_nodes, dtype=torch.long)
    local[node_order] = torch.arange(num_nodes) - node_ptr[part[node_order]]

    edge_index = data.edge_index.cpu()
    src_part, dst_part = part[edge_index[0]], part[edge_index[1]]
    internal = (src_part == dst_part).nonzero().view(-1)
    edge_order = internal[torch.argsort(src_part[internal], stable=True)]
    edge_counts = torch.bincount(src_part[edge_order], minlength=num_parts)
    edge_ptr = torch.cat([torch.zeros(1, dtype=torch.long), edge_counts.cumsum(0)])

    node_keys = [k for k in data.keys() if k != "edge_index" and data.is_node_attr(k)]
    edge_keys = [k for k in data.keys() if k != "edge_index" and data.is_edge_attr(k) and k not in node_keys]
    other_keys = [k for k in data.keys() if k not in node_keys and k not in edge_keys and k != "edge_index"]
    device = data.edge_index.device
    for p in range(num_parts):
        n_id = node_order[node_ptr[p]: node_ptr[p + 1]]
        e_id = edge_order[edge_ptr[p]: edge_ptr[p + 1]]
        batch = type(data)()
        batch.edge_index = local[edge_index[:, e_id]].to(device)
        n_dev, e_dev = n_id.to(device), e_id.to(device)
        for k in node_keys:
            batch[k] = data[k][n_dev]
        for k in edge_keys:
            batch[k] = data[k][e_dev]
        for k in other_keys:
            batch[k] = data[k]
        batch.n_id, batch.e_id = n_dev, e_dev
        batch.num_nodes = int(n_id.numel())
        yield batch


class RandomPartitionLoader:
    r"""Iterate over the induced subgraphs of a fresh random node partition.

    Every ``iter(loader)`` (one epoch) draws a new partition of the nodes into
    ``num_parts`` parts of equal size (±1) and yields one PyG ``Data`` per part,
    in random order when ``shuffle``. With ``num_parts=1`` it yields the whole
    graph (full-batch training through the same code path).

    Args:
        data: a PyG ``Data`` with ``edge_index`` (and any node/edge attributes).
        num_parts (int): parts per epoch (the paper uses 10 on ogbn-proteins).
        shuffle (bool): yield the parts in random order. (default: ``True``)
        seed (int, optional): seed of the loader's own generator, for
            reproducible partitions independent of the global RNG.

    Each batch carries ``n_id`` (global node ids) and ``e_id`` (global edge ids)
    besides the sliced attributes, so ``train_mask`` of the batch selects its
    training nodes for :class:`scalegnn.train.MiniBatchNodeTask`.
    """

    def __init__(self, data: Any, num_parts: int, shuffle: bool = True, seed: Optional[int] = None) -> None:
        validate_graph(data)
        num_parts = _check_num_parts(num_parts)
        if num_parts > data.num_nodes:
            raise ValueError(f"num_parts={num_parts} exceeds the number of nodes ({data.num_nodes})")
        self.data = data
        self.num_parts = num_parts
        self.shuffle = check_bool(shuffle, "shuffle")
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(check_int(seed, "seed", min_value=0))
        else:
            self.generator.seed()

    def __len__(self) -> int:
        return self.num_parts

    def __iter__(self) -> Iterator[Any]:
        part = random_partition(self.data.num_nodes, self.num_parts, self.generator)
        batches: List[Any] = list(_subgraphs(self.data, part, self.num_parts))
        order = torch.randperm(self.num_parts, generator=self.generator) if self.shuffle else range(self.num_parts)
        for i in order:
            yield batches[int(i)]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(num_nodes={self.data.num_nodes}, num_parts={self.num_parts})"


@torch.no_grad()
def predict_random_partitions(
    forward: Callable[[Any], Tensor],
    data: Any,
    num_parts: int,
    num_views: int = 1,
    seed: Optional[int] = None,
) -> Tensor:
    """Multi-view inference: average ``forward(batch)`` over ``num_views`` random partitions.

    Args:
        forward: ``forward(batch) -> [batch.num_nodes, C]`` predictions (e.g.
            logits or probabilities) for one subgraph.
        data: the full graph.
        num_parts: parts per view.
        num_views: independent random partitions to average. (default: ``1``)
        seed: seed of the partitions.

    Returns:
        ``[N, C]`` mean prediction of every node over the views.
    """
    if not callable(forward):
        raise TypeError(f"forward must be a callable batch -> predictions, got {type(forward).__name__}")
    num_views = check_int(num_views, "num_views", min_value=1)
    loader = RandomPartitionLoader(data, num_parts, shuffle=False, seed=seed)
    total: Optional[Tensor] = None
    for _ in range(num_views):
        for batch in loader:
            out = forward(batch)
            if out.size(0) != batch.num_nodes:
                raise ValueError(f"forward returned {out.size(0)} rows for a batch of {batch.num_nodes} nodes")
            if total is None:
                total = out.new_zeros((data.num_nodes,) + tuple(out.shape[1:]))
            total[batch.n_id] += out
    return total / num_views
