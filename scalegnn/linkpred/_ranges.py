"""Concatenated integer ranges, the gather index behind CSR slicing."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["concat_ranges"]


def concat_ranges(start: Tensor, count: Tensor) -> Tensor:
    """``cat([arange(s, s + c) for s, c in zip(start, count)])`` without a Python loop."""
    total = int(count.sum())
    if total == 0:
        return start.new_empty(0)
    offset = torch.repeat_interleave(start - (torch.cumsum(count, 0) - count), count)
    return torch.arange(total, device=start.device) + offset
