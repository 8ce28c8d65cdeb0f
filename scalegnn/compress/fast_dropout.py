r"""Dropout with a mask drawn 16 bits per element from 64-bit random words.

Bi-GCN (`"Bi-GCN: Binary Graph Convolutional Network"
<https://arxiv.org/abs/2010.07565>`_, Wang et al., CVPR 2021) drops entries of
the binary input features, a dense :math:`N \times F` matrix (2708 x 1433 on
Cora), at every step. ``torch.nn.functional.dropout`` draws one Bernoulli
sample per element, which on a CPU costs several times the layer's matrix
product; this version draws one 64-bit random word per four elements and keeps
an element when its 16-bit slice falls below :math:`(1 - p)\,2^{16}`, so the
drop probability is :math:`p` rounded to a multiple of :math:`2^{-16}`. Kept
entries are divided by the exact keep probability, so the expectation is
unchanged, as with inverted dropout (`"Dropout: A Simple Way to Prevent Neural
Networks from Overfitting" <https://jmlr.org/papers/v15/srivastava14a.html>`_,
Srivastava et al., JMLR 2014).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fast_dropout", "keep_threshold"]

_LEVELS = 1 << 16


def keep_threshold(p: float) -> int:
    """Number of the :math:`2^{16}` levels kept: the keep probability is ``keep_threshold(p) / 2**16``."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
    return max(1, round((1.0 - p) * _LEVELS))


def fast_dropout(x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout of ``x`` with probability ``p`` (rounded to a multiple of ``2**-16``)."""
    keep = keep_threshold(p)
    if not training or p == 0.0:
        return x
    n = x.numel()
    words = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64, device=x.device,
                          generator=generator)
    slices = words.view(torch.int16)[:n].view(x.shape)  # uniform over [-2**15, 2**15)
    mask = slices < keep - (1 << 15)
    return x * mask.to(x.dtype) * (_LEVELS / keep)
