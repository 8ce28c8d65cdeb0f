r"""Degree-Quant's protection of high in-degree nodes during quantization-aware training.

From `"Degree-Quant: Quantization-Aware Training for Graph Neural Networks"
<https://arxiv.org/abs/2008.05000>`_ (Tailor, Fernandez-Marques & Lane, ICLR
2021). Aggregation makes the activations of high in-degree nodes large and
their quantization error dominant; during training each node :math:`i` is
*protected* - kept in full precision - with probability

.. math::
    p_i = p_{\min} + (p_{\max} - p_{\min})\, r_i,

where :math:`r_i \in [0, 1]` is the rank of its in-degree among all nodes
(0 = lowest, 1 = highest), drawn independently at every forward pass. Only
unprotected nodes update the activation ranges, so the ranges are not
stretched by the outliers. At inference every node is quantized.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

__all__ = ["in_degree", "protection_probabilities", "protection_mask"]


def in_degree(graph: Any, num_nodes: int) -> Optional[Tensor]:
    """In-degree of each target node from an ``edge_index`` ``[2, E]`` (row 1 = target) or a sparse
    adjacency ``A`` used as ``A @ X`` (row :math:`i` = the neighbours aggregated into :math:`i`);
    ``None`` for anything else (the layer is not message passing)."""
    if isinstance(graph, Tensor):
        if graph.layout == torch.strided and graph.dim() == 2 and graph.size(0) == 2 and \
                not graph.is_floating_point():
            return torch.bincount(graph[1], minlength=num_nodes)[:num_nodes]
        if graph.layout == torch.sparse_csr:
            return (graph.crow_indices()[1:] - graph.crow_indices()[:-1])[:num_nodes]
        if graph.layout == torch.sparse_coo:
            return torch.bincount(graph.coalesce().indices()[0], minlength=num_nodes)[:num_nodes]
        return None
    storage = getattr(graph, "storage", None)  # torch_sparse.SparseTensor
    if storage is not None and hasattr(storage, "rowcount"):
        return storage.rowcount()[:num_nodes]
    return None


def protection_probabilities(degree: Tensor, p_min: float, p_max: float) -> Tensor:
    """:math:`p_i = p_{\\min} + (p_{\\max} - p_{\\min}) r_i` with :math:`r_i` the in-degree rank in [0, 1]."""
    if not 0.0 <= p_min <= p_max <= 1.0:
        raise ValueError(f"need 0 <= p_min <= p_max <= 1, got p_min={p_min}, p_max={p_max}")
    n = degree.numel()
    if n <= 1:
        return torch.full((n,), p_max, dtype=torch.float32, device=degree.device)
    order = torch.argsort(degree.to(torch.float64), stable=True)
    rank = torch.empty(n, dtype=torch.float32, device=degree.device)
    rank[order] = torch.arange(n, dtype=torch.float32, device=degree.device) / (n - 1)
    return p_min + (p_max - p_min) * rank


def protection_mask(degree: Tensor, p_min: float, p_max: float, generator: Optional[torch.Generator] = None) -> Tensor:
    """One Bernoulli draw: ``True`` for the nodes kept in full precision this step."""
    probs = protection_probabilities(degree, p_min, p_max)
    return torch.rand(probs.shape, generator=generator, device=probs.device) < probs
