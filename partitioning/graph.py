"""Input normalization: every public function of :mod:`partitioning` takes a graph through :func:`as_csr`.

A graph is the sparsity pattern of a square matrix :math:`A` in CSR form. Row
``i`` lists the vertices whose feature rows vertex ``i`` aggregates
(:math:`(AX)_i = \\sum_j A_{ij} X_j`, PyG's convention with ``edge_index[1]``
as rows). Values are ignored: only the pattern matters for partitioning.

Accepted inputs: any ``scipy.sparse`` matrix or array (CSR, COO, CSC, ...) and
a tuple ``(indptr, indices)`` of numpy-compatible integer arrays.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["as_csr", "degrees", "drop_self_loops", "graph_fingerprint", "symmetrize", "transpose_pattern"]


def _index_dtype(n: int, nnz: int) -> type:
    return np.int32 if max(n, nnz) < 2**31 - 1 else np.int64


def as_csr(graph: Any, *, symmetric: bool = False, copy: bool = False) -> sp.csr_matrix:
    """Validate ``graph`` and return its pattern as a canonical ``scipy.sparse.csr_matrix``.

    Canonical means: square, sorted column indices, no duplicate entries,
    ``int8`` ones as values (the pattern is what counts). The input's
    values, if any, are dropped; explicit zeros count as edges.

    Args:
        graph: a ``scipy.sparse`` matrix/array or a tuple ``(indptr, indices)``.
        symmetric: also add :math:`A^T` (make every edge two-way).
        copy: never share arrays with the input (by default an already
            canonical CSR input is wrapped without copying its index arrays).

    Raises:
        ValueError: non-square shape, malformed ``indptr``, negative or
            out-of-range column ids, or an empty graph.
        TypeError: an input of another type.
    """
    if isinstance(graph, tuple) and len(graph) == 2:
        indptr = np.asarray(graph[0])
        indices = np.asarray(graph[1])
        if indptr.ndim != 1 or indices.ndim != 1:
            raise ValueError(f"(indptr, indices) must be 1-D arrays, got shapes {indptr.shape} and {indices.shape}")
        if indptr.size == 0:
            raise ValueError("indptr is empty; a graph with n vertices has an indptr of length n + 1")
        n = indptr.size - 1
        _check_csr_arrays(indptr, indices, n)
        csr = sp.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n, n), copy=copy)
    elif sp.issparse(graph):
        shape = graph.shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"the adjacency matrix must be square, got shape {shape}")
        if graph.format == "csr":
            _check_csr_arrays(graph.indptr, graph.indices, shape[0])
            csr = sp.csr_matrix((np.ones(graph.indices.size, dtype=np.int8), graph.indices, graph.indptr),
                                shape=shape, copy=copy)
        else:
            coo = graph.tocoo()
            if coo.nnz and (coo.row.min() < 0 or coo.col.min() < 0):
                raise ValueError("the adjacency matrix has negative indices")
            csr = sp.csr_matrix((np.ones(coo.nnz, dtype=np.int8), (coo.row, coo.col)), shape=shape)
    else:
        raise TypeError(
            f"expected a scipy.sparse matrix or an (indptr, indices) tuple, got {type(graph).__name__}")
    if csr.shape[0] == 0:
        raise ValueError("the graph is empty: at least one vertex is required")
    if symmetric:
        csr = symmetrize(csr)
    return _canonical(csr)


def _check_csr_arrays(indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
    if not np.issubdtype(indptr.dtype, np.integer) or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indptr and indices must be integer arrays, got {indptr.dtype} and {indices.dtype}")
    if indptr[0] != 0 or indptr[-1] != indices.size:
        raise ValueError(
            f"malformed indptr: it must start at 0 and end at len(indices)={indices.size}, "
            f"got {int(indptr[0])} and {int(indptr[-1])}")
    if n and np.any(np.diff(indptr) < 0):
        raise ValueError("malformed indptr: it must be non-decreasing")
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0:
            raise ValueError(f"the graph has a negative vertex id ({lo})")
        if hi >= n:
            raise ValueError(f"the graph has vertex id {hi}, out of range for {n} vertices (valid ids 0..{n - 1})")


def _canonical(csr: sp.csr_matrix) -> sp.csr_matrix:
    dtype = _index_dtype(csr.shape[0], csr.nnz)
    if not csr.has_canonical_format:
        csr = csr.copy()  # the index arrays may be the caller's; sorting in place would corrupt their matrix
        csr.sum_duplicates()  # sorts indices and merges duplicates
    if csr.indices.dtype != dtype or csr.indptr.dtype != dtype:
        csr = sp.csr_matrix((csr.data, csr.indices.astype(dtype), csr.indptr.astype(dtype)), shape=csr.shape)
        csr.has_sorted_indices = True
        csr.has_canonical_format = True
    if csr.data.dtype != np.int8 or (csr.nnz and csr.data.max() != 1):
        csr.data = np.ones(csr.nnz, dtype=np.int8)
    return csr


def transpose_pattern(csr: sp.csr_matrix) -> sp.csr_matrix:
    """The pattern of :math:`A^T` in canonical CSR (row ``j`` lists the rows ``i`` with :math:`A_{ij} \\ne 0`)."""
    t = csr.tocsc()  # linear-time counting transpose; the CSC of A is the CSR of A^T
    out = sp.csr_matrix((t.data, t.indices, t.indptr), shape=csr.shape[::-1])
    return _canonical(out)


def symmetrize(csr: sp.csr_matrix) -> sp.csr_matrix:
    """The pattern of :math:`A + A^T`."""
    out = (csr + transpose_pattern(csr)).tocsr()
    out.data = np.ones(out.nnz, dtype=np.int8)
    return _canonical(out)


def drop_self_loops(csr: sp.csr_matrix) -> sp.csr_matrix:
    """The pattern without diagonal entries (METIS rejects self-loops)."""
    n = csr.shape[0]
    rows = np.repeat(np.arange(n, dtype=csr.indices.dtype), np.diff(csr.indptr))
    keep = rows != csr.indices
    if keep.all():
        return csr
    counts = np.bincount(rows[keep], minlength=n)
    indptr = np.zeros(n + 1, dtype=csr.indptr.dtype)
    np.cumsum(counts, out=indptr[1:])
    out = sp.csr_matrix((csr.data[keep], csr.indices[keep], indptr), shape=csr.shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def graph_fingerprint(csr: sp.csr_matrix) -> str:
    """A SHA-256 of the canonical pattern (vertex count, ``indptr``, ``indices`` as ``int64``).

    Two graphs have the same fingerprint exactly when they have the same
    vertex count and the same set of entries, whatever their input format.
    """
    csr = as_csr(csr)
    h = hashlib.sha256()
    h.update(f"scalegnn-graph-v1:{csr.shape[0]}:{csr.nnz}:".encode())
    step = 1 << 22
    for arr in (csr.indptr, csr.indices):
        for lo in range(0, arr.size, step):
            h.update(np.ascontiguousarray(arr[lo:lo + step], dtype="<i8").tobytes())
    return h.hexdigest()


def degrees(csr: sp.csr_matrix) -> np.ndarray:
    """Entries per row (the number of feature rows each vertex aggregates)."""
    return np.diff(csr.indptr).astype(np.int64)


