"""Input validation at the library's public boundaries.

Every public entry point that receives a graph calls :func:`validate_graph`
(or the narrower :func:`validate_edge_index` / :func:`validate_features`) once,
so that malformed input fails here with a message naming the offending value,
rather than deep inside a sparse kernel or, worse, silently.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

__all__ = ["validate_graph", "validate_edge_index", "validate_features", "validate_node_ids"]


def validate_edge_index(edge_index: Tensor, num_nodes: int, name: str = "edge_index") -> None:
    """Check that ``edge_index`` is a ``[2, E]`` integer tensor with ids in ``[0, num_nodes)``."""
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"{name} must have an integer dtype (torch.long or torch.int), got {edge_index.dtype}"
        )
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"{name} must have shape [2, num_edges], got {list(edge_index.shape)}")
    if num_nodes <= 0:
        raise ValueError(f"the graph is empty: num_nodes={num_nodes}; at least one node is required")
    if edge_index.numel() == 0:
        return
    lo = int(edge_index.min())
    if lo < 0:
        col = int((edge_index < 0).any(dim=0).nonzero()[0])
        raise ValueError(f"{name} has a negative node index ({lo}) at edge {col}")
    hi = int(edge_index.max())
    if hi >= num_nodes:
        col = int((edge_index >= num_nodes).any(dim=0).nonzero()[0])
        raise ValueError(
            f"{name} has node index {hi} out of range for a graph with {num_nodes} nodes "
            f"(first offending edge: {col}); valid ids are 0..{num_nodes - 1}"
        )


def validate_features(x: Tensor, num_nodes: Optional[int] = None, name: str = "x") -> None:
    """Check a node feature matrix: one row per node, floating with finite values (or integer categorical)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_sparse or x.layout != torch.strided:
        return  # sparse feature matrices are checked by their consumers
    integer = x.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
    if not (torch.is_floating_point(x) or integer):
        raise ValueError(
            f"{name} must be a floating-point tensor (or integer categorical features), got dtype {x.dtype}"
        )
    if x.dim() not in (1, 2):
        raise ValueError(f"{name} must be 1- or 2-dimensional [num_nodes, channels], got {list(x.shape)}")
    if num_nodes is not None and x.size(0) != num_nodes:
        raise ValueError(f"{name} has {x.size(0)} rows but the graph has {num_nodes} nodes")
    if integer:
        return  # categorical features (e.g. OGB molecules' atom types) are always finite
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        kind = "NaN" if bool(torch.isnan(x).any()) else "inf"
        raise ValueError(f"{name} contains {kind} values (first at index {bad}); clean the features first")


def validate_node_ids(ids: Tensor, num_nodes: int, name: str = "node ids") -> None:
    """Check a vector of node ids (or a boolean mask) against ``num_nodes``."""
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(ids).__name__}")
    if ids.dtype == torch.bool:
        if ids.dim() != 1 or ids.numel() != num_nodes:
            raise ValueError(f"{name} is a mask of size {ids.numel()} but the graph has {num_nodes} nodes")
        return
    if ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must be integer ids or a boolean mask, got dtype {ids.dtype}")
    if ids.numel() == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= num_nodes:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} contains id {bad}, out of range for a graph with {num_nodes} nodes")


def validate_graph(data: Any, task: Optional[str] = None) -> None:
    """Validate a PyG ``Data`` object (or anything with the same attributes).

    Args:
        data: the graph (a ``Data`` or a ``Batch``).
        task: ``"node"``/``"link"``: ``y`` (if any) must have one row per node;
            ``"graph"``: one row per graph (``data.num_graphs``, 1 for a single
            ``Data``); ``None`` accepts either.

    Raises:
        ValueError: with a plain message for an empty graph, a non-integer or
            out-of-range ``edge_index``, feature/label/mask size mismatches, or
            NaN/inf features.
    """
    num_nodes = data.num_nodes
    if num_nodes is None or num_nodes <= 0:
        raise ValueError(f"the graph is empty: num_nodes={num_nodes}; at least one node is required")
    edge_index = getattr(data, "edge_index", None)
    if edge_index is not None:
        validate_edge_index(edge_index, num_nodes)
        edge_weight = getattr(data, "edge_weight", None)
        if edge_weight is not None and edge_weight.size(0) != edge_index.size(1):
            raise ValueError(
                f"edge_weight has {edge_weight.size(0)} entries but edge_index has {edge_index.size(1)} edges"
            )
    x = getattr(data, "x", None)
    if x is not None:
        validate_features(x, num_nodes)
    y = getattr(data, "y", None)
    if y is not None and isinstance(y, Tensor) and y.dim() > 0:
        # Graph-level labels: one per graph (a single Data is one graph).
        num_graphs = getattr(data, "num_graphs", None) or 1
        if task == "graph":
            if y.size(0) != num_graphs:
                raise ValueError(f"y has {y.size(0)} graph labels but there are {num_graphs} graph(s)")
        elif y.size(0) != num_nodes and (task is not None or y.size(0) != num_graphs):
            raise ValueError(f"y has {y.size(0)} labels but the graph has {num_nodes} nodes")
    for key in ("train_mask", "val_mask", "test_mask"):
        mask = getattr(data, key, None)
        if mask is not None and mask.numel() != num_nodes:
            raise ValueError(f"{key} has {mask.numel()} entries but the graph has {num_nodes} nodes")
