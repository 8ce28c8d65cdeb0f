r"""The base of every compression wrapper: reparametrize a module's weights, never fork its code.

A wrapper holds the original module as ``self.module`` and replaces each of its
weight tensors :math:`W` by a *parametrization*
:math:`W_{\text{eff}} = g(W)` with :func:`torch.nn.utils.parametrize.register_parametrization`:
the module still reads ``self.weight`` (``lin.weight``, ``nn.0.weight``, ...) in
its own ``forward``, and now gets the masked, quantized or binarized tensor.
This works for any layer that reads its weights as attributes - PyG's
``GCNConv``, ``SAGEConv``, ``GATConv``, ``GINConv``, ``torch.nn.Linear``,
PyG's ``Linear``, and this project's layers - without changing their code.

The trainable tensor becomes ``<owner>.parametrizations.<name>.original`` in the
state dict; the parametrization's buffers (masks, bit widths, ...) are stored
beside it, so a checkpoint restores the compressed model exactly.

By default the compressed tensors are the *weight matrices*: parameters whose
name ends in ``weight`` with two or more dimensions (biases, normalization
scales and attention vectors stay in full precision).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn.utils import parametrize

__all__ = ["CompressionWrapper", "Reparametrization", "weight_matrix_names", "compression_wrappers"]


def weight_matrix_names(module: torch.nn.Module) -> List[str]:
    """Names (relative to ``module``) of parameters ending in ``weight`` with ``dim() >= 2``."""
    names = []
    for name, p in module.named_parameters():
        if name.rsplit(".", 1)[-1].endswith("weight") and p.dim() >= 2:
            names.append(name)
    return names


def _split(module: torch.nn.Module, name: str) -> Tuple[torch.nn.Module, str]:
    *path, attr = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


class Reparametrization(torch.nn.Module):
    """One tensor's parametrization ``W -> g(W)``; subclasses implement :meth:`transform`.

    ``enabled = False`` returns ``W`` unchanged (the wrapped layer's exact
    output); a ``frozen`` tensor (set when loading an exported model) is
    returned as is.
    """

    def __init__(self) -> None:
        super().__init__()
        self.enabled = True
        self.frozen: Optional[Tensor] = None

    def transform(self, weight: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, weight: Tensor) -> Tensor:
        if self.frozen is not None:
            return self.frozen
        if not self.enabled:
            return weight
        return self.transform(weight)


class CompressionWrapper(torch.nn.Module):
    """Base class: wraps ``module`` and reparametrizes the tensors named in ``weights``.

    Args:
        module: any module holding weight tensors.
        weights: names of the tensors to compress, relative to ``module``
            (default: every weight matrix, see :func:`weight_matrix_names`).

    Subclasses call :meth:`_reparametrize` for each tensor and may transform
    the inputs and output of ``module`` in :meth:`forward`.
    """

    kind: str = "base"

    def __init__(self, module: torch.nn.Module, weights: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"{type(self).__name__} wraps a torch.nn.Module, got {type(module).__name__}")
        if isinstance(module, CompressionWrapper):
            raise ValueError(f"{type(module).__name__} is already a compression wrapper; wrap the layer itself")
        if any(parametrize.is_parametrized(m) for m in module.modules()):
            raise ValueError(f"{type(module).__name__} already has parametrized tensors; it cannot be wrapped twice")
        for name, p in module.named_parameters():
            if isinstance(p, torch.nn.parameter.UninitializedParameter):
                raise ValueError(f"parameter {name!r} of {type(module).__name__} is not initialized (lazy in_channels=-1);"
                                 " run one forward pass or give in_channels before compressing")
        names = list(weights) if weights is not None else weight_matrix_names(module)
        if not names:
            raise ValueError(f"{type(module).__name__} has no weight matrices to compress (no parameter named "
                             f"'*weight' with 2 or more dimensions); wrap a layer that has weights")
        params = dict(module.named_parameters())
        for name in names:
            if name not in params:
                raise ValueError(f"{type(module).__name__} has no parameter {name!r}; its parameters are {sorted(params)}")
        self.module = module
        self.weight_names: List[str] = names
        self.default_weights = weights is None
        self._reparametrized: List[str] = []
        self.register_state_dict_post_hook(_drop_shadow_keys)

    # ------------------------------------------------------------ tensors
    def _reparametrize(self, name: str, parametrization: Reparametrization) -> None:
        owner, attr = _split(self.module, name)
        parametrize.register_parametrization(owner, attr, parametrization)
        self._reparametrized.append(name)

    def parametrization(self, name: str) -> Reparametrization:
        """The parametrization module of tensor ``name``."""
        owner, attr = _split(self.module, name)
        return owner.parametrizations[attr][0]

    def original(self, name: str) -> Tensor:
        """The trainable tensor behind ``name`` (before mask, quantizer or sign)."""
        owner, attr = _split(self.module, name)
        return owner.parametrizations[attr].original

    def effective(self, name: str) -> Tensor:
        owner, attr = _split(self.module, name)
        return getattr(owner, attr)

    def effective_weights(self) -> Dict[str, Tensor]:
        """``{name: tensor}``: the compressed tensors exactly as the forward pass uses them."""
        return {name: self.effective(name) for name in self._reparametrized}

    # ------------------------------------------------------------ switches
    @property
    def compression_enabled(self) -> bool:
        return all(self.parametrization(n).enabled for n in self._reparametrized)

    @compression_enabled.setter
    def compression_enabled(self, value: bool) -> None:
        for name in self._reparametrized:
            self.parametrization(name).enabled = bool(value)

    def freeze(self, name: str, value: Tensor) -> None:
        """Make tensor ``name`` exactly ``value`` (used when loading an exported model)."""
        p = self.parametrization(name)
        with torch.no_grad():
            self.original(name).copy_(value)
        p.frozen = value.detach().clone()

    def step(self) -> None:
        """Advance the compression schedule by one optimizer step (no-op by default)."""

    def config(self) -> Dict[str, Any]:
        """Constructor arguments (JSON types) that rebuild this wrapper around the same layer."""
        return {"weights": list(self.weight_names)}

    def training_only_state(self) -> List[str]:
        """State-dict keys (relative to the wrapper) that inference does not need."""
        return []

    def reset_parameters(self) -> None:
        """Reset the wrapped layer's parameters (the trainable originals)."""
        if not hasattr(self.module, "reset_parameters"):
            raise TypeError(f"{type(self.module).__name__} has no reset_parameters()")
        # reset a plain twin and copy the fresh values into the trainable originals
        saved = {name: self.original(name) for name in self._reparametrized}
        twin = copy.deepcopy(self.module)
        for name in self._reparametrized:
            owner, attr = _split(twin, name)
            parametrize.remove_parametrizations(owner, attr, leave_parametrized=False)
        twin.reset_parameters()
        fresh = dict(twin.named_parameters())
        with torch.no_grad():
            for name, tensor in saved.items():
                tensor.copy_(fresh[name])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "weights")


def _drop_shadow_keys(module: CompressionWrapper, state_dict: Dict[str, Any], prefix: str,
                      local_metadata: Any) -> None:
    # Some layers (PyG's Linear) write ``self.weight`` into their state dict by hand;
    # once ``weight`` is parametrized that entry is the *effective* tensor, which is
    # not a parameter and would break loading. The original lives under
    # ``parametrizations.<name>.original``.
    for name in module._reparametrized:
        state_dict.pop(f"{prefix}module.{name}", None)


def compression_wrappers(model: torch.nn.Module) -> Iterator[Tuple[str, CompressionWrapper]]:
    """``(qualified name, wrapper)`` for every compression wrapper inside ``model``."""
    for name, m in model.named_modules():
        if isinstance(m, CompressionWrapper):
            yield name, m
