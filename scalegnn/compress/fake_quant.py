r"""Uniform fake quantization: the integer codes, their scales, and the values the forward pass uses.

Weights use symmetric, narrow-range quantization with one scale per output
channel (row) or per tensor, as in `"Quantization and Training of Neural
Networks for Efficient Integer-Arithmetic-Only Inference"
<https://arxiv.org/abs/1712.05877>`_ (Jacob et al., CVPR 2018):

.. math::
    s = \frac{\max_j |W_{cj}|}{2^{b-1} - 1}, \qquad
    q = \mathrm{clamp}\big(\mathrm{round}(W / s), -(2^{b-1}-1), 2^{b-1}-1\big), \qquad
    W_{\text{eff}} = q\, s,

so every channel takes at most :math:`2^b - 1` distinct values. For
:math:`b = 1` the codes are signs and :math:`s = \mathrm{mean}_j |W_{cj}|`
(the XNOR-Net scale). Activations use asymmetric (affine) quantization over a
range :math:`[\ell, u]`: :math:`s = (u - \ell)/(2^b - 1)`,
:math:`q = \mathrm{clamp}(\mathrm{round}((x - \ell)/s), 0, 2^b - 1)`,
:math:`x_{\text{eff}} = q s + \ell`. Rounding uses the straight-through estimator.

The same functions produce the codes an exported model stores, so decoding
``codes * scale`` gives bit-identical weights.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from scalegnn.compress.ste import round_ste, sign_ste

__all__ = ["check_bits", "weight_scale", "weight_codes", "fake_quant_weight", "affine_fake_quant",
           "affine_codes", "affine_decode"]

_TINY = 1e-12


def check_bits(bits: int, name: str = "bits") -> int:
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"{name} must be an integer in 1..8, got {type(bits).__name__}")
    if not 1 <= bits <= 8:
        raise ValueError(f"{name} must be in 1..8, got {bits}")
    return bits


def _reduce_dims(weight: Tensor, per_channel: bool) -> Tuple[int, ...]:
    return tuple(range(1, weight.dim())) if per_channel and weight.dim() > 1 else tuple(range(weight.dim()))


def weight_scale(weight: Tensor, bits: int, per_channel: bool = True) -> Tensor:
    """The scale :math:`s` (shape broadcastable to ``weight``), never zero.

    For ``bits >= 2`` the max-abs scale is treated as a constant in backward; for
    ``bits == 1`` the mean-absolute scale is differentiated (as in XNOR-Net and
    Bi-GCN), which lets training change the magnitude of sign weights.
    """
    dims = _reduce_dims(weight, per_channel)
    if bits == 1:
        s = weight.abs().mean(dim=dims, keepdim=True)
    else:
        s = weight.detach().abs().amax(dim=dims, keepdim=True) / (2 ** (bits - 1) - 1)
    return s.clamp_min(_TINY)


def weight_codes(weight: Tensor, bits: int, per_channel: bool = True) -> Tuple[Tensor, Tensor]:
    """``(codes, scale)`` with integer-valued float ``codes`` such that the forward weight is ``codes * scale``."""
    scale = weight_scale(weight, bits, per_channel)
    if bits == 1:
        return sign_ste(weight), scale
    qmax = 2 ** (bits - 1) - 1
    return torch.clamp(round_ste(weight / scale), -qmax, qmax), scale


def fake_quant_weight(weight: Tensor, bits: int, per_channel: bool = True) -> Tensor:
    """:math:`W_{\\text{eff}} = q s` (straight-through gradient to ``weight``)."""
    codes, scale = weight_codes(weight, bits, per_channel)
    return codes * scale


def affine_fake_quant(x: Tensor, low: Tensor, high: Tensor, bits: int) -> Tensor:
    """Affine quantization of ``x`` over ``[low, high]``; gradient passes inside the range (clipped STE)."""
    scale = ((high - low) / (2 ** bits - 1)).clamp_min(_TINY)
    q = torch.clamp(round_ste((x - low) / scale), 0, 2 ** bits - 1)
    return q * scale + low


def affine_codes(x: Tensor, bits: int) -> Tuple[Tensor, Tensor, Tensor]:
    """``(uint8 codes, low, scale)`` of ``x`` over its own range (for storing small float tensors)."""
    x = x.detach()
    low, high = x.min(), x.max()
    scale = ((high - low) / (2 ** bits - 1)).clamp_min(_TINY)
    codes = torch.clamp(torch.round((x - low) / scale), 0, 2 ** bits - 1).to(torch.uint8)
    return codes, low, scale


def affine_decode(codes: Tensor, low: Tensor, scale: Tensor) -> Tensor:
    return codes.to(scale.dtype) * scale + low
