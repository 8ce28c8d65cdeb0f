r"""Quantization of activations with ranges tracked during training.

The range :math:`[\ell, u]` of the tensor is an exponential moving average of
the per-batch minimum and maximum (momentum :math:`m`):
:math:`\ell \leftarrow (1 - m)\,\ell + m \min x` (the first batch sets it).
During training the batch range is updated first and then used; at inference
the stored range is used, so the quantized model is a fixed function. Rows
marked ``protect`` (Degree-Quant, :mod:`scalegnn.compress.degree_quant`) stay
in full precision and do not update the range. For an input that needs no
gradient (raw node features), per-row ranges and quantized values are cached
per tensor and range, so a constant feature matrix is quantized once, not at
every step (at the cost of one copy of it).
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
        self._cache: dict = {}

    def get_extra_state(self) -> dict:
        return {"bits": self.bits}

    def set_extra_state(self, state: dict) -> None:
        self.bits = int(state["bits"])

    def _cached(self, slot: str, x: Tensor, extra: tuple, compute) -> Tensor:
        # Inputs that need no gradient (raw node features) are usually the same tensor at every
        # step; their per-row ranges and quantized values are computed once per (tensor, range).
        if x.requires_grad:
            return compute()
        # the cache holds x itself, so identity plus version means the same values
        key = (x._version,) + extra
        hit = self._cache.get(slot)
        if hit is not None and hit[0] is x and hit[1] == key:
            return hit[2]
        value = compute()
        self._cache[slot] = (x, key, value)
        return value

    def forward(self, x: Tensor, protect: Optional[Tensor] = None) -> Tensor:
        rowwise = protect is not None and x.dim() >= 1 and protect.numel() == x.size(0) and bool(protect.any())
        if self.training:
            with torch.no_grad():
                flat = x.detach().reshape(x.size(0), -1) if x.dim() >= 1 and x.size(0) > 0 else x.detach().reshape(1, -1)
                row_lo, row_hi = self._cached("rows", x, (), lambda: (flat.amin(1), flat.amax(1)))
                if rowwise:
                    row_lo, row_hi = row_lo[~protect], row_hi[~protect]
                if row_lo.numel() > 0:
                    lo, hi = row_lo.min().to(self.low.dtype), row_hi.max().to(self.high.dtype)
                    if bool(self.initialized):
                        if not torch.equal(lo, self.low):
                            self.low.mul_(1 - self.momentum).add_(self.momentum * lo)
                        if not torch.equal(hi, self.high):
                            self.high.mul_(1 - self.momentum).add_(self.momentum * hi)
                    else:
                        self.low.copy_(lo)
                        self.high.copy_(hi)
                        self.initialized.fill_(True)
        if bool(self.initialized):
            low, high = self.low.to(x.dtype), self.high.to(x.dtype)
        else:  # evaluated before any training step: use this tensor's own range
            low, high = x.detach().min(), x.detach().max()
        xq = self._cached("values", x, (float(low), float(high), self.bits),
                          lambda: affine_fake_quant(x, low, high, self.bits))
        if rowwise and self.training:
            if x.requires_grad:
                keep = protect.view(-1, *([1] * (x.dim() - 1)))
                xq = torch.where(keep, x, xq)
            else:
                rows = protect.nonzero().view(-1)
                xq = xq.index_copy(0, rows, x.index_select(0, rows))
        return xq

    def extra_repr(self) -> str:
        return f"bits={self.bits}, momentum={self.momentum}"
