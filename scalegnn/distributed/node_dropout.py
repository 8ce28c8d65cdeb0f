r"""Dropout whose mask is a function of (seed, call, global node id, column), not of the process.

In row-parallel training each rank drops entries of its own rows. With the
process RNG the masks would depend on which rank owns which row, so a run on 4
ranks would not equal a run on 1. Here the keep/drop decision of entry
:math:`(i, c)` is a hash of ``(seed, layer, call, global_id(i), c)`` — a
counter-based generator in the spirit of Salmon et al., "Parallel Random
Numbers: As Easy as 1, 2, 3" (SC 2011) — so every partition of the graph, and
a single process, draw the same mask:

.. math::
    \operatorname{drop}(X)_{ic} = \frac{X_{ic}}{1 - p}\,
    \mathbb{1}\left[u(\text{seed}, \ell, t, i, c) \ge p\right],
    \quad u \in \{0, 2^{-24}, \dots\} \text{ uniform}.

``t`` counts the training-mode calls of the module; it is a buffer, so it is
saved in checkpoints and a resumed run continues the same sequence of masks.
"""
from __future__ import annotations

import torch
from torch import Tensor

from scalegnn.data.validate import check_int, check_probability

__all__ = ["NodeDropout", "hash32"]

_M32 = 0xFFFFFFFF


def hash32(x: Tensor) -> Tensor:
    """A 32-bit integer mix (the "lowbias32" constants of C. Wellons) on int64 tensors holding 0 <= x < 2^32."""
    x = x & _M32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def _to_int32(x: Tensor) -> Tensor:
    """Reinterpret int64 values in ``[0, 2^32)`` as int32 bit patterns."""
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


class NodeDropout(torch.nn.Module):
    """Feature dropout with masks fixed by the seed and the global node ids (see module docstring).

    Args:
        p: drop probability in ``[0, 1)``.
        seed: the run's seed.
        layer: distinguishes the dropout sites of one model.

    ``forward(x, global_ids)``: ``x`` ``[rows, F]``, ``global_ids`` ``[rows]``
    (the global vertex id of each row; ``torch.arange(N)`` on a whole graph).
    """

    def __init__(self, p: float, seed: int = 0, layer: int = 0) -> None:
        super().__init__()
        self.p = check_probability(p, "p", allow_one=False)
        self.seed = check_int(seed, "seed", min_value=0)
        self.layer = check_int(layer, "layer", min_value=0)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def reset_parameters(self) -> None:
        self.calls.zero_()

    def mask(self, global_ids: Tensor, num_columns: int, call: int) -> Tensor:
        """The keep mask ``[rows, num_columns]`` (bool) of training call ``call``."""
        key = hash32(torch.tensor([self.seed], dtype=torch.long))
        key = hash32(key ^ hash32(torch.tensor([self.layer * 0x9E3779B9 + call], dtype=torch.long) & _M32))
        key = key.to(global_ids.device)
        gid = global_ids.long()
        row = _to_int32(hash32(hash32(key ^ (gid & _M32)) ^ (gid >> 32)))
        col = _to_int32(hash32(torch.arange(num_columns, device=gid.device, dtype=torch.long) + 0x5BD1E995))
        # one more 32-bit mix of the two well-mixed keys per entry, in int32 (wrapping multiplies,
        # logical shifts by masking): half the memory traffic of int64
        h = row[:, None] ^ col[None, :]
        h ^= (h >> 16) & 0xFFFF
        h.mul_(0x7FEB352D)
        h ^= (h >> 15) & 0x1FFFF
        h.mul_(-0x7B935975)  # 0x846CA68B as a signed 32-bit integer
        h ^= (h >> 16) & 0xFFFF
        return ((h >> 8) & 0xFFFFFF) >= int(round(self.p * (1 << 24)))  # 24 uniform bits

    def forward(self, x: Tensor, global_ids: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if global_ids.shape[0] != x.shape[0]:
            raise ValueError(f"NodeDropout got {x.shape[0]} rows but {global_ids.shape[0]} global ids")
        keep = self.mask(global_ids, x.shape[1], int(self.calls))
        self.calls += 1
        return (x * keep).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}, seed={self.seed}, layer={self.layer}"
