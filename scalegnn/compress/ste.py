r"""Straight-through estimators (STE) for rounding and sign.

The forward pass of quantization (``round``) and binarization (``sign``) has a
zero gradient almost everywhere; quantization-aware training replaces that
gradient by the identity (clipped to the representable range), as in
`"Estimating or Propagating Gradients Through Stochastic Neurons for
Conditional Computation" <https://arxiv.org/abs/1308.3432>`_ (Bengio et al.,
arXiv 2013) and `"Binarized Neural Networks"
<https://arxiv.org/abs/1602.02830>`_ (Hubara et al., NeurIPS 2016):

.. math::
    \frac{\partial\,\mathrm{round}(x)}{\partial x} := 1, \qquad
    \frac{\partial\,\mathrm{sign}(x)}{\partial x} := \mathbf 1_{|x| \le 1}.

Each estimator is a small :class:`torch.autograd.Function`; the ``*_reference``
twins compute the same values and gradients with plain autograd (the
``x + (f(x) - x).detach()`` trick) and exist so tests can compare the two.
:class:`InjectGradient` adds the gradient of an auxiliary loss to the backward
pass of a tensor without changing its value (used by the constrained
formulation of mixed precision, :mod:`scalegnn.compress.mixed_precision`).
"""
from __future__ import annotations

from typing import Any, Tuple

import torch
from torch import Tensor

__all__ = ["round_ste", "sign_ste", "round_ste_reference", "sign_ste_reference", "InjectGradient"]


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        # sign with sign(0) := +1, so every value is exactly +-1
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def round_ste(x: Tensor) -> Tensor:
    """``round(x)`` forward, identity backward."""
    return _RoundSTE.apply(x)


def sign_ste(x: Tensor) -> Tensor:
    """``+1`` where ``x >= 0`` else ``-1`` forward; ``1_{|x| <= 1}`` backward (hard-tanh STE)."""
    return _SignSTE.apply(x)


def round_ste_reference(x: Tensor) -> Tensor:
    """Plain-autograd twin of :func:`round_ste`."""
    return x + (torch.round(x) - x).detach()


def sign_ste_reference(x: Tensor) -> Tensor:
    """Plain-autograd twin of :func:`sign_ste`: the value of sign, the gradient of hard-tanh."""
    hard = torch.clamp(x, -1.0, 1.0)
    sign = torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    return hard + (sign - hard).detach()


class InjectGradient(torch.autograd.Function):
    r"""Return ``out`` unchanged; in backward also send gradient 1 into ``aux`` (a scalar).

    ``InjectGradient.apply(out, aux)`` behaves, for every parameter :math:`\theta`
    that reaches the training loss :math:`L` only through ``out``, as if the loss
    were :math:`L + \mathrm{aux}`: the wrapped model keeps its return value and
    the training loop needs no change. The gradient of ``aux`` is injected once
    per backward pass through ``out``.
    """

    @staticmethod
    def forward(ctx: Any, out: Tensor, aux: Tensor) -> Tensor:
        ctx.aux_shape, ctx.aux_dtype = aux.shape, aux.dtype
        return out.view_as(out)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor, Tensor]:
        return grad, torch.ones(ctx.aux_shape, dtype=ctx.aux_dtype, device=grad.device)
