"""Input validation at the library's public boundaries.

Two layers:

* **argument checkers** (``check_*``): one scalar or tensor argument each
  (an int-like count, a probability, a string option, an edge-weight vector,
  ...). They return the value in canonical form (``check_int`` returns a Python
  ``int``) and raise ``TypeError`` for the wrong kind of value and
  ``ValueError`` for a value out of range; every message names the argument,
  the bad value and what is allowed.
* **graph validators** (``validate_*``): every public entry point that
  receives a graph calls :func:`validate_graph` (or the narrower
  :func:`validate_edge_index` / :func:`validate_features`) once, so that
  malformed input fails here with a message naming the offending value,
  rather than deep inside a sparse kernel or, worse, silently.

Int-like means a Python ``int``, a numpy integer or a 0-d integer tensor;
``bool`` and floats (even ``2.0``) are rejected rather than truncated.
"""
from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "validate_graph",
    "validate_edge_index",
    "validate_features",
    "validate_node_ids",
    "check_int",
    "check_float",
    "check_probability",
    "check_bool",
    "check_option",
    "did_you_mean",
    "check_tensor",
    "check_finite",
    "check_edge_weight",
    "check_edge_attr",
    "check_index",
]

_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _describe(value: Any) -> str:
    """``repr`` of a bad value, shortened, with its type (``2.5 (float)``)."""
    if isinstance(value, Tensor):
        if value.dim() == 0:
            return f"tensor({value.item()!r}, dtype={value.dtype})"
        return f"a tensor of shape {list(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _range_text(lo: Optional[float], hi: Optional[float], lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def check_int(value: Any, name: str, *, min_value: Optional[int] = None, max_value: Optional[int] = None) -> int:
    """``value`` as a Python ``int``, checked against ``[min_value, max_value]``.

    Accepts ``int``, numpy integers and 0-d integer tensors (or arrays); rejects
    ``bool`` and every float (``2.5`` is not silently truncated, ``2.0`` is a
    float too) with a ``TypeError``, and values out of range with a ``ValueError``.
    """
    if min_value in (0, 1) and max_value is None:
        want = "a non-negative integer" if min_value == 0 else "a positive integer"
    else:
        allowed = _range_text(min_value, max_value)
        want = f"an integer{' ' + allowed if allowed else ''}"
    out: Optional[int] = None
    if isinstance(value, (bool, np.bool_)):
        out = None
    elif isinstance(value, (int, np.integer)):
        out = int(value)
    elif isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0:
        dtype = value.dtype
        if (isinstance(value, Tensor) and dtype in _INT_DTYPES) or (
                isinstance(value, np.ndarray) and np.issubdtype(dtype, np.integer)):
            out = int(value.item())
    if out is None:
        raise TypeError(f"{name} must be {want}, got {_describe(value)}")
    if (min_value is not None and out < min_value) or (max_value is not None and out > max_value):
        raise ValueError(f"{name} must be {want}, got {out}")
    return out


def check_float(
    value: Any,
    name: str,
    *,
    min_value: Optional[float] = None,
    max_value: Optional[float] = None,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """``value`` as a finite Python ``float`` in the given range (``*_open``: bound excluded).

    Accepts ``int``/``float``, numpy numbers and 0-d real tensors; rejects ``bool``,
    strings, NaN and infinities.
    """
    if min_value == 0 and max_value is None:
        want = "a positive finite number" if min_open else "a non-negative finite number"
    else:
        allowed = _range_text(min_value, max_value, min_open, max_open)
        want = f"a finite number{' ' + allowed if allowed else ''}"
    out: Optional[float] = None
    if isinstance(value, (bool, np.bool_)):
        out = None
    elif isinstance(value, numbers.Real):
        out = float(value)
    elif isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0 and value.dtype not in (torch.bool, np.bool_):
        if not (isinstance(value, Tensor) and value.is_complex()):
            out = float(value.item())
    if out is None:
        raise TypeError(f"{name} must be {want}, got {_describe(value)}")
    bad = not math.isfinite(out)
    if min_value is not None:
        bad = bad or (out <= min_value if min_open else out < min_value)
    if max_value is not None:
        bad = bad or (out >= max_value if max_open else out > max_value)
    if bad:
        raise ValueError(f"{name} must be {want}, got {out}")
    return out


def check_probability(value: Any, name: str, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """A probability in ``[0, 1]`` (open at 0 / 1 when ``allow_zero`` / ``allow_one`` is False)."""
    return check_float(value, name, min_value=0.0, max_value=1.0, min_open=not allow_zero, max_open=not allow_one)


def check_bool(value: Any, name: str) -> bool:
    """A ``bool`` (or numpy bool); ``0``/``1``, strings and tensors are rejected."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def did_you_mean(value: Any, choices: Iterable[str], n: int = 3) -> str:
    """`` Did you mean 'x'?`` for the close matches of ``value`` in ``choices`` (case-insensitive), or ``""``."""
    choices = [str(c) for c in choices]
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(value).lower(), list(lower), n=n, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(lower[c]) for c in close)}?" if close else ""


def check_option(value: Any, name: str, choices: Sequence[str]) -> str:
    """A string option that must be one of ``choices`` (exactly); typos get a "did you mean" hint."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(choices)}, got {_describe(value)}")
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {list(choices)}.{did_you_mean(value, choices)}".rstrip("."))
    return value


def check_tensor(
    value: Any,
    name: str,
    *,
    dims: Optional[Sequence[int]] = None,
    floating: bool = False,
    integer: bool = False,
) -> Tensor:
    """A ``torch.Tensor`` with one of ``dims`` dimensions and, if asked, a floating / integer dtype."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(value)}")
    if dims is not None and value.dim() not in dims:
        want = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be {want}, got shape {list(value.shape)}")
    if floating and not torch.is_floating_point(value):
        raise ValueError(f"{name} must have a floating-point dtype, got {value.dtype}")
    if integer and value.dtype not in _INT_DTYPES:
        raise ValueError(f"{name} must have an integer dtype (torch.long or torch.int), got {value.dtype}")
    return value


def check_finite(t: Tensor, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN/inf entry of a dense floating tensor."""
    if t.layout != torch.strided or not torch.is_floating_point(t) or t.numel() == 0:
        return
    # Fast path without a bool copy of t: a finite sum means every entry is finite (NaN and inf
    # propagate). A non-finite sum (or an overflow of large finite values) takes the exact path.
    if bool(torch.isfinite(t.sum())):
        return
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        kind = "NaN" if bool(torch.isnan(t).any()) else "inf"
        raise ValueError(f"{name} contains {kind} values (first at index {bad}); only finite values are allowed")


def check_edge_weight(edge_weight: Any, num_edges: int, name: str = "edge_weight", *,
                      nonnegative: bool = True, allow_integer: bool = False) -> Tensor:
    """An ``[E]`` (or ``[E, 1]``) finite, by default non-negative, edge-weight vector for ``num_edges`` edges.

    The dtype must be floating (integer counts too with ``allow_integer``); an
    ``[E, 1]`` column is returned flattened to ``[E]``.
    """
    check_tensor(edge_weight, name)
    if edge_weight.dim() == 2 and edge_weight.size(1) == 1:
        edge_weight = edge_weight.view(-1)
    if edge_weight.dim() != 1 or edge_weight.numel() != num_edges:
        has = f"{edge_weight.numel()} entries" if edge_weight.dim() == 1 else f"shape {list(edge_weight.shape)}"
        raise ValueError(f"{name} has {has} but edge_index has {num_edges} edges; expected shape [{num_edges}]")
    if not (torch.is_floating_point(edge_weight) or (allow_integer and edge_weight.dtype in _INT_DTYPES)):
        raise ValueError(f"{name} must have a floating-point dtype, got {edge_weight.dtype}")
    check_finite(edge_weight, name)
    if nonnegative and edge_weight.numel() and bool((edge_weight < 0).any()):
        i = int((edge_weight < 0).nonzero()[0])
        raise ValueError(f"{name} must be non-negative, got {float(edge_weight[i])} at edge {i}")
    return edge_weight


def check_edge_attr(edge_attr: Any, num_edges: int, name: str = "edge_attr") -> Tensor:
    """An ``[E, ...]`` edge-feature tensor (finite if floating) with one row per edge."""
    check_tensor(edge_attr, name)
    if edge_attr.dim() == 0 or edge_attr.size(0) != num_edges:
        raise ValueError(f"{name} has shape {list(edge_attr.shape)} but edge_index has {num_edges} edges; "
                         f"expected [{num_edges}, ...]")
    check_finite(edge_attr, name)
    return edge_attr


def check_index(index: Any, name: str, size: int, *, what: str = "entries") -> Tensor:
    """A 1-D integer tensor with values in ``[0, size)`` (``what`` names the indexed things in messages)."""
    check_tensor(index, name, integer=True)
    if index.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {list(index.shape)}")
    if index.numel():
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} contains {bad}, out of range for {size} {what} (valid: 0..{size - 1})")
    return index


def validate_edge_index(edge_index: Tensor, num_nodes: int, name: str = "edge_index") -> None:
    """Check that ``edge_index`` is a ``[2, E]`` integer tensor with ids in ``[0, num_nodes)``."""
    num_nodes = check_int(num_nodes, "num_nodes")
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.layout != torch.strided:
        raise TypeError(f"{name} must be a dense [2, num_edges] tensor, got layout {edge_index.layout} "
                        f"(pass a sparse adjacency where the function accepts one)")
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
    if num_nodes is not None:
        num_nodes = check_int(num_nodes, "num_nodes")
    if x.is_sparse or x.layout != torch.strided:
        return  # sparse feature matrices are checked by their consumers
    integer = x.dtype in _INT_DTYPES
    if not (torch.is_floating_point(x) or integer):
        raise ValueError(
            f"{name} must be a floating-point tensor (or integer categorical features), got dtype {x.dtype}"
        )
    if x.dim() not in (1, 2):
        raise ValueError(f"{name} must be 1- or 2-dimensional [num_nodes, channels], got {list(x.shape)}")
    if num_nodes is not None and x.size(0) != num_nodes:
        raise ValueError(f"{name} has {x.size(0)} rows but the graph has {num_nodes} nodes")
    check_finite(x, name)  # integer (categorical) features are always finite


def validate_node_ids(ids: Tensor, num_nodes: int, name: str = "node ids") -> None:
    """Check a vector of node ids (or a boolean mask) against ``num_nodes``."""
    num_nodes = check_int(num_nodes, "num_nodes", min_value=0)
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
            NaN/inf features or edge weights, and ``edge_weight`` / ``edge_attr``
            sizes that do not match the edges.
        TypeError: when ``data`` is not graph-like (no ``num_nodes``).
    """
    if task is not None:
        check_option(task, "task", ("node", "link", "graph"))
    if not hasattr(data, "num_nodes"):
        raise TypeError(f"data must be a PyG Data/Batch (an object with num_nodes and edge_index), "
                        f"got {type(data).__name__}")
    num_nodes = data.num_nodes
    if num_nodes is None or num_nodes <= 0:
        raise ValueError(f"the graph is empty: num_nodes={num_nodes}; at least one node is required")
    edge_index = getattr(data, "edge_index", None)
    if edge_index is not None:
        validate_edge_index(edge_index, num_nodes)
        edge_weight = getattr(data, "edge_weight", None)
        if edge_weight is not None:
            # Signed weights are legal in a graph; consumers that need them >= 0 check that.
            check_edge_weight(edge_weight, edge_index.size(1), nonnegative=False, allow_integer=True)
        edge_attr = getattr(data, "edge_attr", None)
        if isinstance(edge_attr, Tensor):
            check_edge_attr(edge_attr, edge_index.size(1))
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
