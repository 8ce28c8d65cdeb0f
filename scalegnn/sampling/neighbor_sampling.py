r"""L-hop mini-batch subgraphs whose sampled edges estimate :math:`\hat A H` without bias.

For a normalized adjacency :math:`\hat A` (e.g. GCN's
:math:`D^{-1/2}(A+I)D^{-1/2}`; Kipf & Welling, ICLR 2017) the aggregation of
node :math:`i` is :math:`(\hat A H)_i = \hat A_{ii} H_i + \sum_{j \in N(i)} \hat A_{ij} H_j`.
Node :math:`i` keeps its self-loop exactly and draws
:math:`k_i = \min(k, |N(i)|)` of its :math:`|N(i)|` neighbours uniformly without
replacement; each drawn edge gets the weight

.. math::
    w_{ij} = \hat A_{ij} \, \frac{|N(i)|}{k_i},

the inverse of its inclusion probability :math:`k_i/|N(i)|`, so
:math:`\mathbb{E}\big[\hat A_{ii} H_i + \sum_{j \text{ drawn}} w_{ij} H_j\big] = (\hat A H)_i`
(the GraphSAGE fan-out of Hamilton et al., NeurIPS 2017, with the importance
weights that make it unbiased). With ``fanout=None`` every neighbour is kept and
the weights are exactly :math:`\hat A_{ij}`.

Hops expand as in PyG's ``NeighborLoader``: each node's neighbours are drawn
once, at the hop where the node first appears, and the result is one subgraph
(the union over hops) with the seed nodes first. Running an
:math:`L`-layer model on it with ``num_hops = L`` computes for every seed the
sampled estimate of its :math:`L`-layer output: a node found at hop :math:`h`
is correct up to layer :math:`L - h`, which is all the seeds need. For a linear
model and :math:`L \le 2` the seed outputs are unbiased; with more layers a node
can reuse its own sample on two layers of one path, a small correlation the
one-sample-per-node union graph accepts, as ``NeighborLoader`` does.

Isolated nodes (no neighbours) keep their self-loop only, which is their exact
aggregation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor

from scalegnn.data.validate import check_int, check_tensor

__all__ = ["NormalizedNeighborSampler", "SampledSubgraph"]

Fanout = Union[None, int, Sequence[Optional[int]]]


@dataclass
class SampledSubgraph:
    """One sampled subgraph: global ids ``n_id`` (seeds first), local ``edge_index`` with ``edge_weight``.

    ``num_sampled_nodes[h]`` counts the nodes first reached at hop ``h`` (hop 0: the seeds).
    Self-loops of every node come last in ``edge_index``.
    """

    n_id: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    num_sampled_nodes: List[int]


class NormalizedNeighborSampler:
    r"""Samples L-hop subgraphs of a normalized adjacency with unbiased edge weights.

    Args:
        adj (Tensor): the ``[N, N]`` normalized adjacency :math:`\hat A` as a
            ``torch.sparse_csr_tensor`` (row :math:`i` = target, column :math:`j`
            = source), e.g. :func:`scalegnn.data.normalized_adjacency`. Diagonal
            entries are the self-loops, kept exactly.

    See the module docstring for the estimator.
    """

    def __init__(self, adj: Tensor) -> None:
        if not isinstance(adj, Tensor) or adj.layout != torch.sparse_csr:
            raise TypeError("adj must be a torch.sparse_csr_tensor (see scalegnn.data.normalized_adjacency)")
        if adj.dim() != 2 or adj.size(0) != adj.size(1):
            raise ValueError(f"adj must be square [N, N], got shape {list(adj.shape)}")
        n = adj.size(0)
        crow, col, val = adj.crow_indices().cpu().long(), adj.col_indices().cpu().long(), adj.values().cpu()
        row = torch.repeat_interleave(torch.arange(n), crow.diff())
        diag = row == col
        self.self_weight = torch.zeros(n, dtype=val.dtype).index_add_(0, row[diag], val[diag])
        off = ~diag
        self.col, self.weight = col[off], val[off]
        self.rowptr = torch.zeros(n + 1, dtype=torch.long)
        self.rowptr[1:] = torch.cumsum(torch.bincount(row[off], minlength=n), 0)
        self.num_nodes = n
        self._local = torch.full((n,), -1, dtype=torch.long)

    @property
    def degree(self) -> Tensor:
        """Number of neighbours (self-loop excluded) of every node."""
        return self.rowptr.diff()

    def _fanouts(self, fanout: Fanout, num_hops: int) -> List[Optional[int]]:
        if fanout is None or isinstance(fanout, int):
            fanouts = [fanout] * num_hops
        else:
            fanouts = list(fanout)
            if len(fanouts) != num_hops:
                raise ValueError(f"fanout lists {len(fanouts)} hops but num_hops={num_hops}")
        for h, k in enumerate(fanouts):
            if k is not None:
                check_int(k, f"fanout[{h}]", min_value=1)
        return fanouts

    def sample(
        self,
        seeds: Tensor,
        num_hops: int,
        fanout: Fanout = None,
        generator: Optional[torch.Generator] = None,
    ) -> SampledSubgraph:
        """Sample the ``num_hops``-hop subgraph around ``seeds`` (distinct global ids).

        Args:
            seeds: ``[B]`` distinct node ids (may be empty).
            num_hops: hops to expand (``0``: the seeds with their self-loops only).
            fanout: neighbours drawn per node: an int, ``None`` (all), or one per hop.
            generator: source of randomness.
        """
        check_tensor(seeds, "seeds", dims=(1,), integer=True)
        num_hops = check_int(num_hops, "num_hops", min_value=0)
        fanouts = self._fanouts(fanout, num_hops)
        seeds = seeds.cpu().long()
        if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= self.num_nodes):
            raise ValueError(f"seeds must be node ids in [0, {self.num_nodes}), got range "
                             f"[{int(seeds.min())}, {int(seeds.max())}]")
        if torch.unique(seeds).numel() != seeds.numel():
            raise ValueError("seeds contains repeated node ids")
        local = self._local
        local[seeds] = torch.arange(seeds.numel())
        parts, counts = [seeds], [seeds.numel()]
        srcs, dsts, weights = [], [], []
        frontier, total = seeds, seeds.numel()
        try:
            for k in fanouts:
                if frontier.numel() == 0:
                    counts.append(0)
                    continue
                start = self.rowptr[frontier]
                deg = self.rowptr[frontier + 1] - start
                owner = torch.repeat_interleave(torch.arange(frontier.numel()), deg)
                offset = torch.cumsum(deg, 0) - deg
                pos = start[owner] + torch.arange(owner.numel()) - offset[owner]
                if k is not None and bool((deg > k).any()):
                    # Uniform without replacement per row: random keys, keep each row's k smallest.
                    keys = torch.rand(owner.numel(), generator=generator, dtype=torch.float64)
                    order = torch.argsort(owner.to(torch.float64) + keys)
                    owner, pos = owner[order], pos[order]
                    rank = torch.arange(owner.numel()) - offset[owner]
                    keep = rank < k
                    owner, pos = owner[keep], pos[keep]
                    kept = deg.clamp(max=k)
                else:
                    kept = deg
                scale = deg.to(self.weight.dtype) / kept.clamp(min=1).to(self.weight.dtype)
                src = self.col[pos]
                new = torch.unique(src[local[src] < 0])
                local[new] = torch.arange(total, total + new.numel())
                total += new.numel()
                srcs.append(src)
                dsts.append(frontier[owner])
                weights.append(self.weight[pos] * scale[owner])
                parts.append(new)
                counts.append(new.numel())
                frontier = new
            n_id = torch.cat(parts)
            src = torch.cat(srcs + [n_id])
            dst = torch.cat(dsts + [n_id])
            edge_weight = torch.cat(weights + [self.self_weight[n_id]])
            edge_index = torch.stack([local[src], local[dst]])
        finally:
            local[torch.cat(parts)] = -1
        return SampledSubgraph(n_id, edge_index, edge_weight, counts)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(num_nodes={self.num_nodes}, num_edges={self.col.numel()})"
