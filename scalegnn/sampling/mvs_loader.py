r"""A PyG-style loader of minimal-variance mini-batches (MVS-GNN).

Cong, Forsati, Kandemir and Mahdavi, "Minimal Variance Sampling with Provable
Guarantees for Fast Training of Graph Neural Networks" (KDD 2020,
https://arxiv.org/abs/2006.13866).

Each step draws the seed (output) nodes with :class:`~scalegnn.sampling.MVSampler`
(Poisson sampling with :math:`p_i = \min(1, s_i/\mu)`, :math:`\sum p_i = B`) and
expands them ``num_hops`` hops with :class:`~scalegnn.sampling.NormalizedNeighborSampler`
(unbiased fan-out on the normalized adjacency). Every batch is a PyG ``Data``:

* ``x``, ``y`` and every other node-level attribute sliced to ``n_id`` (seeds first);
* ``edge_index`` (local ids, self-loops included) and ``edge_weight`` (the
  sampling-corrected :math:`\hat A` weights), so a PyG GCN built with
  ``normalize=False`` (e.g. ``torch_geometric.nn.models.GCN(..., normalize=False)``)
  consumes it as ``model(batch.x, batch.edge_index, batch.edge_weight)``;
* ``batch_size`` (number of seeds; their outputs are the first rows), ``n_id``,
  ``num_sampled_nodes`` (per hop) and ``loss_weight`` (``[batch_size]``,
  :math:`1/(n p_i)`): :math:`\sum_{i<B} w_i \ell_i` is an unbiased estimate of
  the mean training loss.

The scores start equal (uniform sampling) and are replaced with
:meth:`MVSLoader.update_scores`, e.g. by :class:`~scalegnn.sampling.MVSTask`
at each snapshot step from :func:`~scalegnn.sampling.output_gradient_norms`.
``sampler='uniform'`` gives the uniform-node-sampling baseline through the same
code path (same expected batch size, weights :math:`1/B`).
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional

import torch
from torch import Tensor

from scalegnn.data.adjacency import normalized_adjacency
from scalegnn.data.validate import check_int, validate_graph, validate_node_ids
from scalegnn.sampling.minimal_variance import MVSampler
from scalegnn.sampling.neighbor_sampling import Fanout, NormalizedNeighborSampler

__all__ = ["MVSLoader"]


class MVSLoader:
    r"""Iterate over minimal-variance (or uniform) node-sampled mini-batches.

    Args:
        data: a PyG ``Data`` with ``edge_index`` and node attributes (``x``, ``y``, ...).
        train_ids (Tensor): node ids (or a boolean mask) of the training nodes.
        batch_size (int): expected number of seed nodes per batch, ``1 <= B <= n_train``.
        num_hops (int): hops to expand; ``L`` for an ``L``-layer model
            (``L - 1`` with historical embeddings, whose first layer is exact).
            (default: ``2``)
        fanout (int, list or None): neighbours drawn per node and hop (``None``: all).
            (default: ``10``)
        sampler (str): ``'mvs'`` or ``'uniform'``. (default: ``'mvs'``)
        score_floor (float): see :class:`MVSampler`. (default: ``0.1``)
        num_steps (int, optional): batches per ``iter()`` (one epoch); default
            :math:`\lceil n_{train} / B \rceil`.
        adj (Tensor, optional): the normalized adjacency (sparse CSR); default
            GCN's :math:`D^{-1/2}(A+I)D^{-1/2}` from :func:`scalegnn.data.normalized_adjacency`.
        seed (int, optional): seed of the loader's own generator.
    """

    def __init__(
        self,
        data: Any,
        train_ids: Tensor,
        batch_size: int,
        num_hops: int = 2,
        fanout: Fanout = 10,
        sampler: str = "mvs",
        score_floor: float = 0.1,
        num_steps: Optional[int] = None,
        adj: Optional[Tensor] = None,
        seed: Optional[int] = None,
    ) -> None:
        validate_graph(data)
        if isinstance(train_ids, Tensor) and train_ids.dtype == torch.bool:
            if train_ids.numel() != data.num_nodes:
                raise ValueError(f"train mask has {train_ids.numel()} entries for {data.num_nodes} nodes")
            train_ids = train_ids.nonzero().view(-1)
        validate_node_ids(train_ids, data.num_nodes, name="train_ids")
        self.data = data
        self.num_hops = check_int(num_hops, "num_hops", min_value=0)
        self.fanout = fanout
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(int(seed))
        else:
            self.generator.seed()
        self.sampler = MVSampler(train_ids.cpu().long(), batch_size, mode=sampler, score_floor=score_floor,
                                 generator=self.generator)
        if adj is None:
            adj = normalized_adjacency(data.edge_index.cpu(), data.num_nodes)
        self.adj = adj
        self.neighbors = NormalizedNeighborSampler(adj)
        self.neighbors._fanouts(fanout, self.num_hops)  # validate now, not at the first batch
        n = self.sampler.num_train
        self.num_steps = (math.ceil(n / self.sampler.batch_size) if num_steps is None
                          else check_int(num_steps, "num_steps", min_value=1))
        self._node_keys = [k for k in data.keys() if k != "edge_index" and data.is_node_attr(k)]

    @property
    def train_ids(self) -> Tensor:
        return self.sampler.train_ids

    @property
    def batch_size(self) -> int:
        return self.sampler.batch_size

    def update_scores(self, scores: Tensor) -> Tensor:
        """New per-node scores (aligned with ``train_ids``); returns the new probabilities."""
        return self.sampler.update_scores(scores)

    def sample_batch(self) -> Any:
        """Draw one mini-batch (a PyG ``Data``; see the module docstring)."""
        seeds, weight = self.sampler.sample()
        sub = self.neighbors.sample(seeds, self.num_hops, self.fanout, self.generator)
        batch = type(self.data)()
        device = self.data.edge_index.device
        n_dev = sub.n_id.to(device)
        for key in self._node_keys:
            batch[key] = self.data[key][n_dev]
        batch.edge_index = sub.edge_index.to(device)
        batch.edge_weight = sub.edge_weight.to(device)
        batch.n_id = n_dev
        batch.batch_size = int(seeds.numel())
        batch.loss_weight = weight.to(device)
        batch.num_sampled_nodes = sub.num_sampled_nodes
        batch.num_nodes = int(sub.n_id.numel())
        return batch

    def __len__(self) -> int:
        return self.num_steps

    def __iter__(self) -> Iterator[Any]:
        for _ in range(self.num_steps):
            yield self.sample_batch()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_train={self.sampler.num_train}, batch_size={self.batch_size}, "
                f"num_hops={self.num_hops}, fanout={self.fanout}, sampler={self.sampler.mode!r})")
