r"""Quantization of activations with ranges tracked during training.

The range :math:`[\ell, u]` of the tensor is an exponential moving average of
the per-batch minimum and maximum (momentum :math:`m`):
:math:`\ell \leftarrow (1 - m)\,\ell + m \min x` (the first batch sets it).
During training the batch range is updated first and then used; at inference
the stored range is used, so the quantized model is a fixed function. Rows
marked ``protect`` (Degree-Quant, :mod:`scalegnn.compress.degree_quant`) stay
in full precision and do not update the range.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from scalegnn.compress.fake_quant import affine_fake_quant, check_bits

__all__ = ["ActivationQuantizer"]


class ActivationQuantizer(torch.nn.Module):
    """Affine ``bits``-bit fake quantization of a tensor with a moving-average range.

    Args:
        bits: bit width (1..8).
        momentum: weight of the newest batch in the moving average.
    """

    def __init__(self, bits: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.bits = check_bits(bits, "activation bits")
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        self.momentum = momentum
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def get_extra_state(self) -> dict:
        return {"bits": self.bits}

    def set_extra_state(self, state: dict) -> None:
        self.bits = int(state["bits"])

    def forward(self, x: Tensor, protect: Optional[Tensor] = None) -> Tensor:
        rowwise = protect is not None and x.dim() >= 1 and protect.numel() == x.size(0)
        if self.training:
            with torch.no_grad():
                seen = x[~protect] if rowwise else x
                if seen.numel() > 0:
                    lo, hi = seen.min().to(self.low.dtype), seen.max().to(self.high.dtype)
                    if bool(self.initialized):
                        self.low.mul_(1 - self.momentum).add_(self.momentum * lo)
                        self.high.mul_(1 - self.momentum).add_(self.momentum * hi)
                    else:
                        self.low.copy_(lo)
                        self.high.copy_(hi)
                        self.initialized.fill_(True)
        if bool(self.initialized):
            low, high = self.low.to(x.dtype), self.high.to(x.dtype)
        else:  # evaluated before any training step: use this tensor's own range
            low, high = x.detach().min(), x.detach().max()
        xq = affine_fake_quant(x, low, high, self.bits)
        if rowwise and self.training:
            keep = protect.view(-1, *([1] * (x.dim() - 1)))
            xq = torch.where(keep, x, xq)
        return xq

    def extra_repr(self) -> str:
        return f"bits={self.bits}, momentum={self.momentum}"
