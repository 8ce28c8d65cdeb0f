r"""Wrap the matching layers of any model with a compression wrapper, from a short spec.

Specs (strings, as on the command line, or dicts):

=================== =====================================================================
``"int8"``, ``"int4"``, ``"intN"``  :class:`~scalegnn.compress.Quantized` with ``bits=N`` (weights and activations)
``"binary"``        :class:`~scalegnn.compress.Binarized` (sign weights, binary features);
                    a model's own ``dropout`` module moves behind the signs (see below)
``"prune:S"``       :class:`~scalegnn.compress.Pruned`, sparsity ``S`` of all the wrapped
                    weights ranked together (``scope='global'``; pass ``scope='layer'``
                    for ``S`` in every layer), one-cycle schedule;
                    ``"prune:S:gradual"`` / ``"prune:S:one_shot"`` choose the schedule
``"channels:S"``    structured pruning of a fraction ``S`` of output channels
``"heads:S"``       structured pruning of a fraction ``S`` of attention heads
``"mixed:B"``       mixed precision at a ``B``-times size budget: quantized layers track their
                    sensitivity, and :class:`~scalegnn.compress.CompressionScheduler` chooses the
                    bits (:func:`~scalegnn.compress.mixed_precision.allocate_bits`);
                    ``"mixed:B:rewind"`` then trains the chosen bits from the initialization
                    (the scheduler's ``rewind``; it needs the optimizer)
=================== =====================================================================

A dict spec is ``{"method": "quantize" | "binarize" | "prune" | "mixed", **wrapper arguments}``.

By default the targets are the outermost layers that are message-passing
convolutions (``torch_geometric.nn.MessagePassing``) or linear layers
(``torch.nn.Linear``, PyG's ``Linear``) - so a ``GCNConv`` is wrapped as a whole,
not its inner ``lin`` - and, for ``heads:S``, the layers with a ``heads``
attribute. ``include`` narrows them by qualified-name pattern (``fnmatch``:
``"convs.*"``) or by type; ``exclude`` removes some.

Binarization drops features *after* the sign, as Bi-GCN does (`"Bi-GCN: Binary
Graph Convolutional Network" <https://arxiv.org/abs/2010.07565>`_, Wang et al.,
CVPR 2021): a dropped entry is 0 rather than :math:`\pm\beta_i`. So when a
binarize spec with binary features gives no ``dropout`` of its own and the model
has a ``dropout`` attribute that is a ``torch.nn.Dropout`` (PyG's ``GCN``, ``GAT``,
``GraphSAGE``, ``GIN``), its probability moves into the wrappers (each drops its
binary input features) and the model's own dropout is set to 0. Pass
``dropout=`` explicitly (``{"method": "binarize", "dropout": 0.0}``) to leave
the model's dropout alone.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

import torch

from scalegnn.compress.binarized import Binarized
from scalegnn.compress.global_pruning import global_prune
from scalegnn.compress.mixed_precision import DEFAULT_BIT_CHOICES
from scalegnn.compress.pruned import Pruned
from scalegnn.compress.quantized import Quantized
from scalegnn.compress.wrapper import CompressionWrapper, weight_matrix_names

__all__ = ["parse_spec", "apply", "default_targets"]

Selector = Union[str, Type[torch.nn.Module]]


def parse_spec(spec: Union[str, Dict[str, Any]]) -> Tuple[str, Dict[str, Any]]:
    """``"prune:0.9:gradual" -> ("prune", {"sparsity": 0.9, "schedule": "gradual"})``."""
    if isinstance(spec, dict):
        spec = dict(spec)
        method = spec.pop("method", None)
        if method not in ("quantize", "binarize", "prune", "mixed"):
            raise ValueError(f"a dict spec needs method= 'quantize', 'binarize', 'prune' or 'mixed'; got {method!r}")
        return method, spec
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string or a dict, got {type(spec).__name__}")
    parts = spec.strip().lower().split(":")
    head = parts[0]

    def number(text: str, what: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"bad {what} {text!r} in compression spec {spec!r}") from None

    if head.startswith("int") and len(parts) == 1:
        bits = head[3:]
        if not bits.isdigit():
            raise ValueError(f"bad compression spec {spec!r}: expected intN with N in 1..8")
        return "quantize", {"bits": int(bits)}
    if head in ("binary", "binarize", "bi") and len(parts) == 1:
        return "binarize", {}
    if head in ("prune", "channels", "heads") and len(parts) in (2, 3):
        kwargs: Dict[str, Any] = {"sparsity": number(parts[1], "sparsity")}
        if len(parts) == 3:
            kwargs["schedule"] = parts[2]
        if head != "prune":
            kwargs["structured"] = "channel" if head == "channels" else "head"
        return "prune", kwargs
    if head == "mixed" and (len(parts) == 2 or (len(parts) == 3 and parts[2] == "rewind")):
        kwargs = {"budget": number(parts[1], "budget")}
        if len(parts) == 3:
            kwargs["rewind"] = True
        return "mixed", kwargs
    raise ValueError(f"unknown compression spec {spec!r}; use intN, binary, prune:S[:schedule], channels:S, "
                     "heads:S or mixed:B[:rewind]")


def _is_default_target(module: torch.nn.Module) -> bool:
    from torch_geometric.nn import MessagePassing
    from torch_geometric.nn.dense.linear import Linear as PyGLinear

    return isinstance(module, (MessagePassing, torch.nn.Linear, PyGLinear)) and bool(weight_matrix_names(module))


def default_targets(model: torch.nn.Module, heads_only: bool = False) -> List[str]:
    """Qualified names of the outermost default targets (see the module docstring)."""
    names: List[str] = []
    for name, module in model.named_modules():
        if any(name == n or name.startswith(n + ".") or n == "" for n in names):
            continue
        if isinstance(module, CompressionWrapper):
            continue
        ok = isinstance(getattr(module, "heads", None), int) if heads_only else _is_default_target(module)
        if ok and bool(weight_matrix_names(module)):
            names.append(name)
    return names


def _matches(name: str, module: torch.nn.Module, selectors: Sequence[Selector]) -> bool:
    for sel in selectors:
        if isinstance(sel, str) and fnmatch.fnmatchcase(name, sel):
            return True
        if isinstance(sel, type) and isinstance(module, sel):
            return True
    return False


def _selectors(value: Optional[Union[Selector, Sequence[Selector]]]) -> Optional[List[Selector]]:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, type)) else list(value)
    for s in items:
        if not isinstance(s, (str, type)):
            raise TypeError(f"include/exclude take name patterns or module types, got {s!r}")
    return items


def _build(method: str, module: torch.nn.Module, kwargs: Dict[str, Any]) -> CompressionWrapper:
    if method == "quantize":
        return Quantized(module, **kwargs)
    if method == "binarize":
        return Binarized(module, **kwargs)
    if method == "prune":
        return Pruned(module, **kwargs)
    kw = dict(kwargs)
    budget = kw.pop("budget")
    rewind = bool(kw.pop("rewind", False))
    choices = tuple(kw.pop("choices", DEFAULT_BIT_CHOICES))
    kw.setdefault("bits", kw.pop("calibration_bits", 4))
    kw.setdefault("track_sensitivity", True)
    kw.setdefault("epsilon", 1e-3)
    q = Quantized(module, **kw)
    q.mixed_budget, q.bit_choices, q.mixed_rewind = float(budget), choices, rewind
    return q


def apply(model: torch.nn.Module, spec: Union[str, Dict[str, Any]], *,
          include: Optional[Union[Selector, Sequence[Selector]]] = None,
          exclude: Optional[Union[Selector, Sequence[Selector]]] = None, **kwargs: Any) -> torch.nn.Module:
    """Wrap the matching layers of ``model`` in place and return the model.

    Args:
        model: any model (a single layer is returned wrapped).
        spec: a spec string or dict (see the module docstring).
        include: name patterns and/or types selecting the layers (default: see above).
        exclude: name patterns and/or types to leave alone.
        **kwargs: extra wrapper arguments (``total_steps=``, ``criterion=``, ``degree_quant=``, ...).

    Raises ``ValueError`` when nothing matches.
    """
    method, spec_kwargs = parse_spec(spec)
    if method == "mixed" and float(spec_kwargs["budget"]) <= 1:
        raise ValueError(f"mixed precision needs a budget > 1 (a compression factor), got {spec_kwargs['budget']}")
    wrapper_kwargs = {**spec_kwargs, **kwargs}
    if method == "prune" and wrapper_kwargs.get("structured") is None:
        wrapper_kwargs.setdefault("scope", "global")
    inc, exc = _selectors(include), _selectors(exclude)
    heads_only = wrapper_kwargs.get("structured") == "head" and inc is None
    if inc is None:
        candidates = default_targets(model, heads_only=heads_only)
    else:
        candidates = []
        for name, module in model.named_modules():
            if isinstance(module, CompressionWrapper) or any(
                    name.startswith(c + ".") or c == "" for c in candidates):
                continue
            if _matches(name, module, inc):
                candidates.append(name)
    moved_dropout = None
    if (method == "binarize" and "dropout" not in wrapper_kwargs and wrapper_kwargs.get("activations", True)
            and isinstance(getattr(model, "dropout", None), torch.nn.Dropout) and model.dropout.p > 0):
        moved_dropout = model.dropout  # Bi-GCN: drop the binary features after the sign instead
        wrapper_kwargs["dropout"] = float(moved_dropout.p)
    modules = dict(model.named_modules())
    targets = [n for n in candidates if not (exc and _matches(n, modules[n], exc))]
    if not targets:
        available = [n or "<model>" for n, m in model.named_modules() if weight_matrix_names(m)][:20]
        raise ValueError(f"compression spec {spec!r} matched no layer (include={include!r}, exclude={exclude!r}); "
                         f"layers with weights: {available}")
    built: List[CompressionWrapper] = []
    for name in targets:
        module = modules[name]
        wrapped = _build(method, module, wrapper_kwargs)
        built.append(wrapped)
        if name == "":
            model = wrapped
        else:
            parent_name, _, child = name.rpartition(".")
            setattr(modules[parent_name], child, wrapped)
    if moved_dropout is not None:
        moved_dropout.p = 0.0
    global_layers = [w for w in built if isinstance(w, Pruned) and w.scope == "global"]
    if global_layers:
        lead = global_layers[0]
        if lead.total_steps is None and lead.schedule == "one_shot":
            global_prune(global_layers, lead.sparsity)  # what a single layer does at construction
        elif lead.total_steps is not None:
            global_prune(global_layers, lead.target_sparsity())
    return model
