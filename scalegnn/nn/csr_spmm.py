r"""Fast CSR sparse x dense products for the propagation precomputations.

:math:`Y = A X` with :math:`A` in CSR is, row by row, a weighted sum of rows
of :math:`X`: :math:`Y_i = \sum_{k=\mathrm{crow}_i}^{\mathrm{crow}_{i+1}-1}
\mathrm{val}_k X_{\mathrm{col}_k}`. That is exactly a *bag* of
:func:`torch.nn.functional.embedding_bag` (``mode='sum'``, the CSR values as
``per_sample_weights``, ``crow`` as the bag offsets), whose CPU kernel is
vectorized and parallel over rows. On the machines measured it is 1.5-2x
faster than ``torch.sparse.mm`` on a CSR tensor (``benchmarks/results/propagation.md``)
and adds the terms of a row in the same order, so both give the same result.

:func:`csr_spmm` uses it on CPU and ``torch.sparse.mm`` elsewhere (cuSPARSE on
GPU). Both are differentiable with respect to :math:`X`.

:func:`repeated_spmm` applies the same matrix hop after hop (:math:`AX,
A^2X, \dots`). On CPU, outside autograd, it writes the hops alternately into
two buffers allocated once instead of a fresh ``N x c`` tensor per hop: a
fresh tensor of that size is new memory from the operating system, and
faulting its pages in cost about as much as the SpMM itself on the machines
measured (``benchmarks/results/propagation.md``). The rows are computed in
slices of :data:`ROW_SLICE_BYTES` whose small temporaries the allocator
reuses; every row's terms are still added in the same order, so the result is
bit-identical to :func:`csr_spmm`.
"""
from __future__ import annotations

from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.adjacency import spmm

__all__ = ["csr_spmm", "repeated_spmm", "ROW_SLICE_BYTES"]

#: Output bytes per ``embedding_bag`` call when :func:`csr_spmm` writes into ``out``.
ROW_SLICE_BYTES = 8 << 20


def _fast_path(A: Tensor, X: Tensor) -> bool:
    return (
        isinstance(A, Tensor)
        and A.layout == torch.sparse_csr
        and X.device.type == "cpu"
        and A.device.type == "cpu"
        and X.dim() == 2
        and X.dtype in (torch.float32, torch.float64)
        and A.dtype == X.dtype
    )


def csr_spmm(A: Tensor, X: Tensor, out: Optional[Tensor] = None) -> Tensor:
    """``A @ X`` for an ``[N, M]`` sparse ``A`` (any layout; CSR is the fast path) and a dense ``[M, c]`` ``X``.

    On CPU with a CSR ``A`` and floating ``X`` of ``A``'s dtype this is one
    ``embedding_bag`` over the rows of ``A``; otherwise it falls back to
    :func:`scalegnn.data.adjacency.spmm`.

    ``out``: an ``[N, c]`` contiguous tensor of ``X``'s dtype and device, not
    sharing memory with ``X``, to write the result into (returned). Not
    differentiable; the fast path then works in row slices of
    :data:`ROW_SLICE_BYTES` of output.
    """
    fast = _fast_path(A, X)
    if fast and A.size(1) != X.size(0):
        raise ValueError(f"adjacency has {A.size(1)} columns but x has {X.size(0)} rows")
    if out is not None:
        _check_out(out, A, X)
    if not fast:
        return spmm(A, X) if out is None else out.copy_(spmm(A, X))
    n, c = A.size(0), X.size(1)
    if c == 0 or n == 0:
        return X.new_zeros(n, c) if out is None else out.zero_()
    X = X.contiguous()
    crow, col, val = A.crow_indices(), A.col_indices(), A.values()
    if out is None:
        return F.embedding_bag(col, X, crow, mode="sum", per_sample_weights=val, include_last_offset=True)
    rows = max(1, ROW_SLICE_BYTES // (c * X.element_size()))
    bounds = crow[:: rows].tolist() + ([int(crow[-1])] if (n % rows) else [])
    for i, a in enumerate(range(0, n, rows)):
        b = min(a + rows, n)
        lo, hi = bounds[i], bounds[i + 1]
        out[a:b] = F.embedding_bag(col[lo:hi], X, crow[a:b + 1] - lo, mode="sum", per_sample_weights=val[lo:hi],
                                   include_last_offset=True)
    return out


def _check_out(out: Tensor, A: Tensor, X: Tensor) -> None:
    if not isinstance(out, Tensor) or out.shape != (A.size(0), X.size(1)) or out.dtype != X.dtype \
            or out.device != X.device or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous [{A.size(0)}, {X.size(1)}] {X.dtype} tensor on {X.device}, got "
                         f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
    if out.untyped_storage().data_ptr() == X.untyped_storage().data_ptr():
        raise ValueError("out must not share memory with X (the product reads X while writing out)")
    if torch.is_grad_enabled() and X.requires_grad:
        raise ValueError("out= is not differentiable; call csr_spmm without out for autograd")


def repeated_spmm(A: Tensor, X: Tensor, hops: int) -> Iterator[Tensor]:
    r"""Yield :math:`AX, A^2X, \dots, A^{hops}X`.

    On CPU outside autograd the hops are written alternately into two
    buffers allocated once (see the module docstring), so a yielded tensor is
    overwritten two hops later: use it (or clone it) before asking for the
    next one but one. With autograd (``X.requires_grad``) or on another device
    every hop is a fresh, differentiable :func:`csr_spmm`.
    """
    h = X
    reuse = _fast_path(A, X) and not (torch.is_grad_enabled() and X.requires_grad) and X.numel() > 0
    buffers = []
    for step in range(hops):
        if not reuse:
            h = csr_spmm(A, h)
        else:
            if len(buffers) < 2:
                buffers.append(torch.empty(A.size(0), X.size(1), dtype=X.dtype, device=X.device))
            h = csr_spmm(A, h, out=buffers[step % 2])
        yield h
