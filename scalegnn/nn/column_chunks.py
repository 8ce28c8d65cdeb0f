"""Splitting a feature matrix into column chunks that fit a memory budget.

Propagation ``S^K X`` (and its generalizations) acts on each feature column
independently, so a precomputation can process ``X[:, a:b]`` one slice at a
time and keep only a few ``N x (b - a)`` buffers alive. :func:`column_chunks`
picks the slices; :func:`progress_bar` shows progress on large inputs.
"""
from __future__ import annotations

import os
from typing import List, Optional

import torch
from tqdm.auto import tqdm

from scalegnn.data.validate import check_bool, check_float, check_int

__all__ = ["column_chunks", "default_memory_budget", "progress_bar", "PROGRESS_MIN_WORK"]

#: work (in multiply-adds) above which ``progress=None`` shows a progress bar.
PROGRESS_MIN_WORK = 2e9


def _as_device(device) -> torch.device:
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a torch.device or a name like 'cpu' / 'cuda:0', got {device!r}")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be a torch.device or a name like 'cpu' / 'cuda:0', got {device!r}") from err


def default_memory_budget(device: torch.device) -> int:
    """Bytes the working buffers of one chunk may take: half the free GPU memory, or a quarter of RAM (max 8 GiB)."""
    device = _as_device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free // 2)
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        ram = 16 << 30
    return int(min(8 << 30, ram // 4))


def column_chunks(
    num_cols: int,
    num_rows: int,
    itemsize: int,
    buffers: float,
    chunk_size: Optional[int] = None,
    memory_budget: Optional[int] = None,
    device: torch.device = torch.device("cpu"),
) -> List[slice]:
    """Column slices covering ``range(num_cols)``.

    Args:
        num_cols: number of feature columns.
        num_rows: rows of each working buffer (nodes).
        itemsize: bytes per element.
        buffers: how many ``num_rows x width`` buffers one chunk keeps alive.
        chunk_size: explicit width; overrides the budget.
        memory_budget: bytes the buffers may take, positive (default :func:`default_memory_budget`).
        device: where the buffers live (for the default budget).
    """
    num_cols = check_int(num_cols, "num_cols", min_value=0)
    num_rows = check_int(num_rows, "num_rows", min_value=0)
    itemsize = check_int(itemsize, "itemsize", min_value=1)
    buffers = check_float(buffers, "buffers", min_value=0.0, min_open=True)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", min_value=1)
    if memory_budget is not None:
        # a byte budget, so 1e9 is fine; fractions of a byte are rounded down
        memory_budget = max(1, int(check_float(memory_budget, "memory_budget", min_value=0.0, min_open=True)))
    if num_cols == 0:
        return []
    if chunk_size is not None:
        width = chunk_size
    else:
        if memory_budget is None:
            memory_budget = default_memory_budget(device)
        width = int(memory_budget // max(1.0, buffers * num_rows * itemsize))
        width = max(1, width)
    width = min(width, num_cols)
    return [slice(a, min(a + width, num_cols)) for a in range(0, num_cols, width)]


def progress_bar(total: int, desc: str, progress: Optional[bool], work: float) -> tqdm:
    """A tqdm bar over ``total`` steps, shown when ``progress`` is True, or None and ``work`` is large."""
    total = check_int(total, "total", min_value=0)
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {desc!r}")
    if progress is not None:
        check_bool(progress, "progress")
    work = check_float(work, "work", min_value=0.0)
    show = bool(progress) if progress is not None else work >= PROGRESS_MIN_WORK
    return tqdm(total=total, desc=desc, disable=not show, leave=False)
