"""Input normalization: every public function of :mod:`partitioning` takes a graph through :func:`as_csr`.

A graph is the sparsity pattern of a square matrix :math:`A` in CSR form. Row
``i`` lists the vertices whose feature rows vertex ``i`` aggregates
(:math:`(AX)_i = \\sum_j A_{ij} X_j`, PyG's convention with ``edge_index[1]``
as rows). Values are ignored: only the pattern matters for partitioning.

Accepted inputs (duck-typed, so torch is never imported here):

* any ``scipy.sparse`` matrix or array (CSR, COO, CSC, ...);
* a tuple ``(indptr, indices)`` of numpy-compatible integer arrays;
* a PyG-style ``edge_index``: a ``[2, E]`` integer array or tensor (anything
  with ``.numpy()`` or ``__array__``), edge ``(edge_index[0][e], edge_index[1][e])``
  meaning "row ``edge_index[1][e]`` aggregates vertex ``edge_index[0][e]``";
* an object with ``.edge_index`` (and optionally ``.num_nodes``), e.g. a PyG ``Data``;
* a torch sparse COO or CSR adjacency tensor (rows aggregate their columns).
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

__all__ = ["as_csr", "degrees", "drop_self_loops", "graph_fingerprint", "symmetrize", "transpose_pattern"]


def _index_dtype(n: int, nnz: int) -> type:
    return np.int32 if max(n, nnz) < 2**31 - 1 else np.int64


def as_csr(graph: Any, *, symmetric: bool = False, copy: bool = False,
           num_nodes: Optional[int] = None) -> sp.csr_matrix:
    """Validate ``graph`` and return its pattern as a canonical ``scipy.sparse.csr_matrix``.

    Canonical means: square, sorted column indices, no duplicate entries,
    ``int8`` ones as values (the pattern is what counts). The input's
    values, if any, are dropped; explicit zeros count as edges.

    Args:
        graph: a ``scipy.sparse`` matrix/array, a tuple ``(indptr, indices)``,
            a ``[2, E]`` ``edge_index`` (numpy array or torch tensor), an object
            with ``.edge_index`` such as a PyG ``Data``, or a torch sparse tensor
            (see the module docstring).
        symmetric: also add :math:`A^T` (make every edge two-way).
        copy: never share arrays with the input (by default an already
            canonical CSR input is wrapped without copying its index arrays).
        num_nodes: vertex count of an ``edge_index`` input (default: the
            ``Data``'s ``num_nodes``, else the largest id + 1). Not allowed
            with the other inputs, which carry their own size.

    Raises:
        ValueError: non-square shape, malformed ``indptr``, negative or
            out-of-range column ids, or an empty graph.
        TypeError: an input of another type.
    """
    if num_nodes is not None:
        from partitioning.validation import check_int

        num_nodes = check_int("num_nodes", num_nodes, 1)
    edge_index = _edge_index_of(graph)
    if edge_index is not None:
        if num_nodes is None and not isinstance(graph, tuple) and hasattr(graph, "edge_index"):
            declared = getattr(graph, "num_nodes", None)
            if declared is not None:
                from partitioning.validation import check_int

                num_nodes = check_int("num_nodes of the Data object", declared, 1)
        graph = _edge_index_to_csr(edge_index, num_nodes)
    elif num_nodes is not None:
        raise ValueError("num_nodes is only used with an edge_index input; a matrix or (indptr, indices) "
                         "carries its own size")
    torch_sparse = _torch_sparse_to_scipy(graph)
    if torch_sparse is not None:
        graph = torch_sparse
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
            "expected a scipy.sparse matrix, an (indptr, indices) tuple, a [2, E] edge_index or an object with "
            f".edge_index (a PyG Data), got {type(graph).__name__}")
    if csr.shape[0] == 0:
        raise ValueError("the graph is empty: at least one vertex is required")
    if symmetric:
        csr = symmetrize(csr)
    return _canonical(csr)


def _to_numpy(x: Any) -> np.ndarray:
    """A numpy view of an array-like; torch tensors go through ``.detach().cpu().numpy()``."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _is_torch_sparse(x: Any) -> bool:
    layout = str(getattr(x, "layout", ""))
    return hasattr(x, "detach") and "sparse" in layout


def _edge_index_of(graph: Any) -> Optional[np.ndarray]:
    """The ``[2, E]`` array of an ``edge_index`` or ``Data`` input, else ``None``."""
    if isinstance(graph, tuple) or sp.issparse(graph):
        return None
    if not isinstance(graph, np.ndarray) and hasattr(graph, "edge_index"):
        ei = graph.edge_index
        if ei is None:
            raise ValueError(f"the {type(graph).__name__} object has no edge_index (it is None)")
        if _is_torch_sparse(ei):
            raise TypeError("edge_index is a sparse tensor; pass it as the adjacency itself, not inside a Data")
        return _edge_index_array(ei, f"{type(graph).__name__}.edge_index")
    if _is_torch_sparse(graph):
        return None
    if isinstance(graph, np.ndarray) or hasattr(graph, "__array__") or hasattr(graph, "numpy"):
        return _edge_index_array(graph, "edge_index")
    return None


def _edge_index_array(x: Any, what: str) -> np.ndarray:
    try:
        arr = _to_numpy(x)
    except Exception as e:  # e.g. a tensor type numpy cannot view
        raise TypeError(f"{what} could not be converted to a numpy array ({e})") from None
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1] != 2:
        raise TypeError(f"got a dense {arr.shape[0]}x{arr.shape[1]} array; dense adjacency matrices are not accepted: "
                        "pass scipy.sparse.csr_matrix(dense) or a [2, num_edges] edge_index")
    if arr.ndim != 2 or arr.shape[0] != 2:
        raise ValueError(f"{what} must have shape [2, num_edges], got {list(arr.shape)}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must hold integer vertex ids, got dtype {arr.dtype}")
    return arr


def _edge_index_to_csr(edge_index: np.ndarray, num_nodes: Optional[int]) -> sp.csr_matrix:
    src = edge_index[0].astype(np.int64, copy=False)
    dst = edge_index[1].astype(np.int64, copy=False)
    if src.size:
        lo = int(min(src.min(), dst.min()))
        hi = int(max(src.max(), dst.max()))
        if lo < 0:
            raise ValueError(f"edge_index has a negative vertex id ({lo})")
        if num_nodes is None:
            num_nodes = hi + 1
        elif hi >= num_nodes:
            raise ValueError(f"edge_index has vertex id {hi}, out of range for num_nodes={num_nodes}")
    elif num_nodes is None:
        raise ValueError("edge_index is empty and num_nodes is not given: the vertex count is unknown")
    # PyG: messages flow edge_index[0] -> edge_index[1], so row edge_index[1] aggregates column edge_index[0].
    return sp.csr_matrix((np.ones(src.size, dtype=np.int8), (dst, src)), shape=(num_nodes, num_nodes))


def _torch_sparse_to_scipy(graph: Any) -> Optional[sp.spmatrix]:
    """A torch sparse COO/CSR tensor as scipy (pattern only), else ``None``."""
    if not _is_torch_sparse(graph):
        return None
    shape = tuple(int(s) for s in graph.shape)
    layout = str(graph.layout)
    if len(shape) != 2:
        raise ValueError(f"a sparse adjacency tensor must be 2-D, got shape {list(shape)}")
    if layout.endswith("sparse_coo"):
        idx = _to_numpy(graph.coalesce().indices())
        return sp.coo_matrix((np.ones(idx.shape[1], dtype=np.int8), (idx[0], idx[1])), shape=shape)
    if layout.endswith("sparse_csr"):
        indptr, indices = _to_numpy(graph.crow_indices()), _to_numpy(graph.col_indices())
        return sp.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=shape)
    raise TypeError(f"unsupported sparse tensor layout {layout}; use a COO or CSR tensor or an edge_index")


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
    csr = as_csr(csr)
    t = csr.tocsc()  # linear-time counting transpose; the CSC of A is the CSR of A^T
    out = sp.csr_matrix((t.data, t.indices, t.indptr), shape=csr.shape[::-1])
    return _canonical(out)


def symmetrize(csr: sp.csr_matrix) -> sp.csr_matrix:
    """The pattern of :math:`A + A^T` (``csr``: any graph :func:`as_csr` accepts)."""
    csr = as_csr(csr)
    out = (csr + transpose_pattern(csr)).tocsr()
    out.data = np.ones(out.nnz, dtype=np.int8)
    return _canonical(out)


def drop_self_loops(csr: sp.csr_matrix) -> sp.csr_matrix:
    """The pattern without diagonal entries (METIS rejects self-loops)."""
    csr = as_csr(csr)
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


