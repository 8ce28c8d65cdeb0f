r"""Binarization of any layer: sign weights with per-channel scales, optional binary node features.

From `"Bi-GCN: Binary Graph Convolutional Network"
<https://arxiv.org/abs/2010.07565>`_ (Wang et al., CVPR 2021), applied as a
wrapper: every weight matrix becomes

.. math::
    W_{\text{eff}} = \alpha \odot \mathrm{sign}(W), \qquad \alpha_c = \tfrac{1}{n} \lVert W_{c,:} \rVert_1,

(one scale per output channel, or per tensor) with the straight-through
gradient :math:`\mathbf 1_{|W| \le 1}` (and the exact gradient of the scale),
and with ``activations=True`` the layer's input features are binarized per
node (:class:`~scalegnn.compress.binary_activation.BinaryActivation`: batch
normalization without affine terms, then :math:`\beta_i\,\mathrm{sign}`, optionally
with INSTA-BNN's instance-aware thresholds). An exported binarized layer keeps
one bit per weight plus its scales.

Bi-GCN applies dropout *after* the binarization (a dropped entry is 0, not
:math:`\pm\beta_i`): give the wrapper ``dropout=p`` and build the model
without dropout between layers. Dropout applied by the model before the wrapper
still trains, but less well.

Args:
    module: the layer to binarize.
    activations: binarize the layer's input features (Bi-GCN).
    per_channel: one weight scale per output channel (default) or per tensor.
    instance_aware: INSTA-BNN thresholds for the binary features.
    momentum: moving-average momentum of the feature statistics.
    normalize: ``'batch'`` (default; per-channel batch normalization before the
        sign) or ``'none'`` (sign of the features themselves).
    dropout: dropout probability applied to the binary features in training
        (:func:`~scalegnn.compress.fast_dropout.fast_dropout`).
    quantize_statistics: train with the feature statistics coded as the exported
        model stores them (8-bit means, 4-bit log-deviations), so training sees
        the per-node scales inference will use (default; ``False``: exact batch
        statistics in training, Bi-GCN's batch normalization).
    in_channels: input feature size for binary activations (default: read
        from ``module.in_channels`` or ``module.in_features``).
    weights: the tensors to binarize (default: every weight matrix).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import Tensor

from scalegnn.compress.binary_activation import NORMALIZATIONS, BinaryActivation
from scalegnn.compress.fast_dropout import fast_dropout
from scalegnn.compress.fake_quant import fake_quant_weight, weight_codes
from scalegnn.compress.wrapper import CompressionWrapper, Reparametrization

__all__ = ["Binarized"]


class _SignWeight(Reparametrization):
    def __init__(self, per_channel: bool) -> None:
        super().__init__()
        self.per_channel = per_channel

    def transform(self, weight: Tensor) -> Tensor:
        return fake_quant_weight(weight, 1, self.per_channel)


def _in_channels(module: torch.nn.Module) -> Optional[int]:
    for attr in ("in_channels", "in_features"):
        value = getattr(module, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


class Binarized(CompressionWrapper):
    __doc__ = __doc__
    kind = "binarized"

    def __init__(self, module: torch.nn.Module, activations: bool = True, per_channel: bool = True, *,
                 instance_aware: bool = False, momentum: float = 0.1, in_channels: Optional[int] = None,
                 weights: Optional[Sequence[str]] = None, normalize: str = "batch", dropout: float = 0.0,
                 quantize_statistics: bool = True) -> None:
        super().__init__(module, weights)
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        if dropout and not activations:
            raise ValueError("dropout= acts on the binary features: it needs activations=True")
        self.activations, self.per_channel, self.instance_aware = activations, per_channel, instance_aware
        self.momentum, self.normalize, self.dropout = momentum, normalize, float(dropout)
        self.quantize_statistics = bool(quantize_statistics)
        for name in self.weight_names:
            self._reparametrize(name, _SignWeight(per_channel))
        self.binarizer: Optional[BinaryActivation] = None
        if activations:
            channels = in_channels if in_channels is not None else _in_channels(module)
            if channels is None:
                raise ValueError(f"binary activations need the input size: {type(module).__name__} has no integer "
                                 "in_channels/in_features; pass in_channels=")
            self.in_channels = channels
            self.binarizer = BinaryActivation(channels, instance_aware, momentum, normalize, quantize_statistics)
        else:
            self.in_channels = in_channels

    def codes(self, name: str) -> tuple:
        """``(signs in {-1, +1}, scale)`` of weight ``name``: the forward pass uses ``signs * scale``."""
        with torch.no_grad():
            return weight_codes(self.original(name), 1, self.parametrization(name).per_channel)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.binarizer is None or not self.compression_enabled:
            return self.module(*args, **kwargs)
        args = list(args)
        if args and isinstance(args[0], Tensor) and args[0].is_floating_point():
            args[0] = self._binary_features(args[0])
        elif isinstance(kwargs.get("x"), Tensor):
            kwargs = dict(kwargs, x=self._binary_features(kwargs["x"]))
        return self.module(*args, **kwargs)

    def _binary_features(self, x: Tensor) -> Tensor:
        assert self.binarizer is not None
        out = self.binarizer(x)
        return fast_dropout(out, self.dropout, self.training) if self.dropout else out

    def training_only_state(self) -> List[str]:
        if self.binarizer is None:
            return []
        used = set(self.binarizer.stored_statistics())
        return [f"binarizer.{n}" for n in ("running_mean", "running_std", "running_node_mean", "running_node_std",
                                           "initialized") if n not in used]

    def config(self) -> Dict[str, Any]:
        return {"activations": self.activations, "per_channel": self.per_channel,
                "instance_aware": self.instance_aware, "momentum": self.momentum, "in_channels": self.in_channels,
                "weights": list(self.weight_names), "normalize": self.normalize, "dropout": self.dropout,
                "quantize_statistics": self.quantize_statistics}
