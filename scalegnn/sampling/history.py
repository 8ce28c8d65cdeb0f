r"""Historical embeddings as a control variate for sampled aggregation (VR-GCN style).

Chen, Zhu and Song, "Stochastic Training of Graph Convolutional Networks with
Variance Reduction" (ICML 2018), used by Cong et al., "Minimal Variance
Sampling with Provable Guarantees for Fast Training of Graph Neural Networks"
(KDD 2020) to cut the *embedding-approximation* variance of sampled GNNs.

At a snapshot step the exact embeddings :math:`\bar H^{(l)}` (the inputs of
layer :math:`l+1`) and their exact aggregations :math:`\hat A \bar H^{(l)}` are
stored for every node. Between snapshots, node :math:`i` of a mini-batch
aggregates its sampled neighbourhood (weights :math:`w_{ij}` that make the
sample unbiased, self-loop included) as

.. math::
    \widetilde{(\hat A H)}_i = \sum_{j \in \text{sample}(i)} w_{ij}\,(H_j - \bar H_j)
    \;+\; (\hat A \bar H)_i .

Only the difference to the history is sampled; the history's aggregation is
exact. So the estimate is unbiased whenever the plain sampled aggregation is,
and its variance shrinks with :math:`\|H - \bar H\|`: if the weights have not
changed since the snapshot (and no dropout is active), :math:`H = \bar H` and
the estimate equals :math:`(\hat A H)_i` exactly, whatever was sampled.

Layer 0's input is the constant feature matrix :math:`X`, so only
:math:`\hat A X` is stored for it (:meth:`HistoryEmbedding.push` with
``h=None``) and the first layer is computed exactly without sampling.

Memory: two ``[N, d_l]`` tables per hidden layer (one for layer 0), on the
device given (CPU memory for graphs whose history does not fit on the GPU);
:meth:`HistoryEmbedding.memory_bytes` reports it.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from scalegnn.data.validate import check_int, check_tensor

__all__ = ["HistoryEmbedding", "control_variate_aggregate"]


def control_variate_aggregate(
    h: Tensor,
    h_hist: Optional[Tensor],
    agg_hist: Tensor,
    edge_index: Tensor,
    edge_weight: Tensor,
    num_targets: Optional[int] = None,
) -> Tensor:
    r""":math:`\sum_{j} w_{ij}(H_j - \bar H_j) + (\hat A \bar H)_i` for the first ``num_targets`` local nodes.

    Args:
        h: ``[n_b, d]`` current embeddings of the batch's nodes.
        h_hist: ``[n_b, d]`` their stored embeddings, or ``None`` when ``h`` is the
            stored (constant) input itself: the result is then ``agg_hist``.
        agg_hist: ``[n_b, d]`` (or ``[num_targets, d]``) stored exact aggregations.
        edge_index: ``[2, E_b]`` local (source, target) edges of the sampled subgraph.
        edge_weight: ``[E_b]`` their unbiased sampling weights.
        num_targets: rows of the result (default ``n_b``); edges into other nodes are ignored.
    """
    n_out = h.size(0) if num_targets is None else int(num_targets)
    base = agg_hist[:n_out].to(h.dtype)
    if h_hist is None:
        return base
    diff = h - h_hist.to(h.dtype)
    dst = edge_index[1]
    keep = dst < n_out
    src, dst, w = edge_index[0][keep], dst[keep], edge_weight[keep].to(h.dtype)
    return base.index_add(0, dst, diff[src] * w.unsqueeze(-1))


class HistoryEmbedding:
    r"""Stored per-layer embeddings :math:`\bar H^{(l)}` and aggregations :math:`\hat A \bar H^{(l)}`.

    Args:
        num_nodes (int): nodes of the graph.
        device (str or torch.device): where the tables live (``'cpu'`` keeps GPU
            memory free; pulled rows are moved to the caller's device).
        dtype (torch.dtype): storage dtype. (default: ``torch.float32``)

    Layers are filled by :meth:`push` at a snapshot step and read with
    :meth:`pull`; :attr:`version` counts the snapshots. See the module docstring
    for the control variate they feed.
    """

    def __init__(self, num_nodes: int, device: Union[str, torch.device] = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.num_nodes = check_int(num_nodes, "num_nodes", min_value=1)
        self.device = torch.device(device)
        self.dtype = dtype
        self._h: Dict[int, Optional[Tensor]] = {}
        self._agg: Dict[int, Tensor] = {}
        self.version = 0

    def _check(self, t: Tensor, name: str) -> Tensor:
        check_tensor(t, name, dims=(2,), floating=True)
        if t.size(0) != self.num_nodes:
            raise ValueError(f"{name} has {t.size(0)} rows but the history holds {self.num_nodes} nodes")
        return t.detach().to(self.device, self.dtype)

    def push(self, layer: int, h: Optional[Tensor], agg: Tensor) -> None:
        """Store layer ``layer``'s input embeddings ``h`` (``None``: a constant input) and ``agg`` = Â h."""
        layer = check_int(layer, "layer", min_value=0)
        agg = self._check(agg, "agg")
        if h is not None:
            h = self._check(h, "h")
            if h.shape != agg.shape:
                raise ValueError(f"h has shape {list(h.shape)} but agg has {list(agg.shape)}")
        self._h[layer], self._agg[layer] = h, agg

    def mark_refreshed(self) -> None:
        """Count one more snapshot (call after pushing every layer)."""
        self.version += 1

    def __contains__(self, layer: int) -> bool:
        return layer in self._agg

    @property
    def layers(self) -> List[int]:
        return sorted(self._agg)

    def pull(self, layer: int, n_id: Tensor, device: Optional[torch.device] = None
             ) -> Tuple[Optional[Tensor], Tensor]:
        """``(h̄[n_id], (Â h̄)[n_id])`` of layer ``layer`` on ``device``; ``h̄`` is ``None`` for a constant input."""
        if layer not in self._agg:
            raise KeyError(f"layer {layer} has no history yet (layers stored: {self.layers}); run a snapshot first")
        idx = n_id.to(self.device)
        dev = device if device is not None else n_id.device
        h = self._h[layer]
        agg = self._agg[layer][idx].to(dev)
        return (h[idx].to(dev) if h is not None else None), agg

    def memory_bytes(self) -> int:
        """Bytes held by the stored tables."""
        tables = [t for t in self._agg.values()] + [t for t in self._h.values() if t is not None]
        return sum(t.numel() * t.element_size() for t in tables)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_nodes={self.num_nodes}, layers={self.layers}, "
                f"device={self.device}, memory={self.memory_bytes() / 2**20:.1f} MiB)")
