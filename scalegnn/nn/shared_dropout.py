r"""Dropout whose mask is drawn once and reused, so a recomputation sees the same mask.

A reversible network reconstructs each block's input from its output during
the backward pass, by running the block's inner functions a second time. With
ordinary :class:`torch.nn.Dropout` the second run draws a new mask and the
reconstruction is wrong. :class:`SharedDropout` instead applies a mask that
its owner draws once per forward pass (:meth:`SharedDropout.resample`); every
call until the next draw, including the recomputation in backward, uses it.

As in the reference implementation of Li et al., "Training Graph Neural
Networks with 1000 Layers" (ICML 2021, https://arxiv.org/abs/2106.07476), one
mask of shape ``[num_nodes, channels_per_group]`` is shared by every group of
every block, which keeps the memory of the masks independent of depth.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from scalegnn.data.validate import check_int, check_probability, check_tensor

__all__ = ["SharedDropout"]


class SharedDropout(torch.nn.Module):
    r"""Inverted dropout with a mask that persists between calls.

    In training mode, ``forward(x)`` returns ``x * mask`` where ``mask`` holds
    ``0`` with probability :math:`p` and :math:`1/(1-p)` otherwise; the mask is
    drawn by :meth:`resample` and kept until the next :meth:`resample` or
    :meth:`clear`. In evaluation mode, or with ``p = 0``, it is the identity.

    Args:
        p (float): drop probability, ``0 <= p < 1``. (default: ``0.0``)

    Shapes:
        - **input:** ``x`` of the shape passed to :meth:`resample`.
        - **output:** same as input.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = check_probability(p, "p", allow_one=False)
        self.mask: Optional[Tensor] = None

    @property
    def active(self) -> bool:
        """Whether :meth:`forward` drops anything (training mode and ``p > 0``)."""
        return self.training and self.p > 0.0

    def resample(self, shape: Sequence[int], device=None, dtype=torch.float32) -> Optional[Tensor]:
        """Draw a fresh mask of ``shape`` (a no-op returning ``None`` when not :attr:`active`)."""
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
            raise TypeError(f"shape must be a sequence of sizes such as (num_nodes, channels), got {shape!r}")
        shape = tuple(check_int(s, f"shape[{i}]", min_value=0) for i, s in enumerate(shape))
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype such as torch.float32, got {dtype!r}")
        if device is not None and not isinstance(device, torch.device):
            try:
                device = torch.device(device)
            except (RuntimeError, TypeError):
                raise ValueError(f"device must be a torch.device or a name like 'cpu' / 'cuda:0', got {device!r}") \
                    from None
        if not self.active:
            self.mask = None
            return None
        keep = 1.0 - self.p
        self.mask = torch.empty(shape, device=device, dtype=dtype).bernoulli_(keep).div_(keep)
        return self.mask

    def clear(self) -> None:
        """Forget the current mask."""
        self.mask = None

    def forward(self, x: Tensor) -> Tensor:
        check_tensor(x, "x", floating=True)
        if not self.active:
            return x
        mask = self.mask
        if mask is None:
            raise RuntimeError(
                "SharedDropout has no mask: its owner must call resample(shape) before the forward pass"
            )
        if mask.shape != x.shape:
            raise ValueError(
                f"SharedDropout mask has shape {list(mask.shape)} but the input has shape {list(x.shape)}"
            )
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
