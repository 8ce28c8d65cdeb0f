r"""Partition quality: exact communication volume, edge cut and imbalance.

Row-parallel (1-D) full-batch GNN training: rank :math:`p` owns the vertices
:math:`V_p` (rows of :math:`A` and of the feature matrix :math:`H`) and computes
:math:`(AH)_i = \sum_j A_{ij} H_j` for :math:`i \in V_p`. It must receive, every
layer, the row :math:`H_j` of every :math:`j \notin V_p` with some
:math:`A_{ij} \ne 0, i \in V_p`, once (the receiver keeps one halo copy).
Counting the pairs (row :math:`j`, receiving part :math:`q \ne` owner of
:math:`j`) gives the exact number of feature rows sent per layer, which is the
connectivity−1 (:math:`\lambda - 1`) metric of the column-net hypergraph
(:mod:`partitioning.hypergraph`). The backward pass sends the same number of
gradient rows the other way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from partitioning.graph import as_csr

__all__ = ["CommunicationVolume", "check_parts", "communication_volume", "edge_cut", "imbalance", "part_weights"]

_BITMAP_LIMIT = 1 << 28  # use an n*k boolean table below this size, sorting above it
_ROW_CHUNK_NNZ = 1 << 23


def check_parts(parts: Any, num_nodes: int, k: Optional[int] = None) -> tuple:
    """Validate a part-id vector and return ``(parts as int64 array, k)``.

    ``k`` defaults to ``parts.max() + 1``.
    """
    from partitioning.graph import _to_numpy
    from partitioning.validation import check_int

    try:
        arr = _to_numpy(parts)
    except Exception as e:
        raise TypeError(f"parts must be an array of part ids ({e})") from None
    if arr.dtype == object or arr.dtype.kind in "USVb":
        raise TypeError(f"parts must hold integer part ids, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"parts must be a 1-D array of part ids, got shape {arr.shape}")
    if arr.shape[0] != num_nodes:
        raise ValueError(f"parts has {arr.shape[0]} entries but the graph has {num_nodes} vertices")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"parts must hold integer part ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        first = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"parts has a negative part id ({int(arr[first])}) at vertex {first}")
    top = int(arr.max()) + 1 if arr.size else 1
    if k is None:
        k = top
    else:
        k = check_int("k", k, 1)
        if top > k:
            first = int(np.flatnonzero(arr >= k)[0])
            raise ValueError(f"parts has part id {int(arr[first])} at vertex {first}, out of range for k={k}")
    return arr, k


@dataclass
class CommunicationVolume:
    """Per-layer halo traffic of a 1-D row partition (one direction; backward mirrors it).

    Attributes:
        total: feature rows sent per layer over all ranks (= connectivity−1).
        send: ``[k]`` rows each part sends.
        recv: ``[k]`` rows each part receives (its halo size).
        matrix: ``[k, k]`` rows sent from part ``p`` (row) to part ``q`` (column).
        messages: number of (sender, receiver) pairs that exchange at least one row.

    Per-part views (properties): :attr:`load` (send + receive),
    :attr:`messages_sent` and :attr:`messages_received` (peers with a
    non-empty message).
    """

    total: int
    send: np.ndarray
    recv: np.ndarray
    matrix: np.ndarray = field(repr=False)
    messages: int

    @property
    def k(self) -> int:
        return int(self.send.shape[0])

    @property
    def max_send(self) -> int:
        return int(self.send.max())

    @property
    def max_recv(self) -> int:
        return int(self.recv.max())

    @property
    def load(self) -> np.ndarray:
        """``[k]`` rows each part sends plus rows it receives per layer."""
        return self.send + self.recv

    @property
    def messages_sent(self) -> np.ndarray:
        """``[k]`` number of peers each part sends a non-empty message to."""
        return np.count_nonzero(self.matrix, axis=1).astype(np.int64)

    @property
    def messages_received(self) -> np.ndarray:
        """``[k]`` number of peers each part receives a non-empty message from."""
        return np.count_nonzero(self.matrix, axis=0).astype(np.int64)

    @property
    def max_per_part(self) -> int:
        """The largest send + receive volume of any single part (the bottleneck rank)."""
        return int((self.send + self.recv).max())

    def as_dict(self) -> Dict[str, Any]:
        return {"total": self.total, "max_send": self.max_send, "max_recv": self.max_recv,
                "max_per_part": self.max_per_part, "messages": self.messages,
                "send": self.send.tolist(), "recv": self.recv.tolist(),
                "messages_sent": self.messages_sent.tolist(), "messages_received": self.messages_received.tolist()}


def communication_volume(graph: Any, parts: Any, k: Optional[int] = None) -> CommunicationVolume:
    """Exact number of feature rows exchanged per layer by a row partition of ``graph``.

    Args:
        graph: the adjacency pattern (see :func:`partitioning.graph.as_csr`);
            row ``i`` lists the vertices whose rows vertex ``i`` aggregates.
        parts: ``[n]`` part id per vertex.
        k: number of parts (default ``parts.max() + 1``); empty parts are allowed.

    Returns:
        A :class:`CommunicationVolume`. Self-loops and entries within a part
        cost nothing; a row needed by several vertices of one part is sent once.
    """
    csr = as_csr(graph)
    n = csr.shape[0]
    parts, k = check_parts(parts, n, k)
    bitmap = n * k <= _BITMAP_LIMIT
    needed = np.zeros(n * k, dtype=bool) if bitmap else None
    chunks = []
    indptr, indices = csr.indptr, csr.indices
    # Walk rows in chunks of about _ROW_CHUNK_NNZ entries to bound temporary memory.
    bounds = np.searchsorted(indptr, np.arange(0, csr.nnz + _ROW_CHUNK_NNZ, _ROW_CHUNK_NNZ), side="left")
    bounds = np.unique(np.clip(np.concatenate([[0], bounds, [n]]), 0, n))
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        lo, hi = indptr[r0], indptr[r1]
        if hi == lo:
            continue
        receiver = np.repeat(parts[r0:r1], np.diff(indptr[r0:r1 + 1]))
        col = indices[lo:hi].astype(np.int64)
        remote = parts[col] != receiver
        key = col[remote] * k + receiver[remote]
        if bitmap:
            needed[key] = True
        else:
            chunks.append(np.unique(key))
    if bitmap:
        key = np.flatnonzero(needed)
    else:
        key = np.unique(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.int64)
    row, receiver = np.divmod(key, k)
    sender = parts[row]
    matrix = np.bincount(sender * k + receiver, minlength=k * k).reshape(k, k).astype(np.int64)
    return CommunicationVolume(
        total=int(key.shape[0]),
        send=matrix.sum(axis=1),
        recv=matrix.sum(axis=0),
        matrix=matrix,
        messages=int(np.count_nonzero(matrix)),
    )


def edge_cut(graph: Any, parts: Any, directed: bool = False) -> int:
    """Number of edges whose endpoints lie in different parts.

    ``directed=False`` (METIS's convention) counts unordered pairs
    :math:`\\{i, j\\}` with :math:`A_{ij}` or :math:`A_{ji}` nonzero once;
    ``directed=True`` counts nonzero entries :math:`A_{ij}`.
    """
    if not isinstance(directed, (bool, np.bool_)):
        raise TypeError(f"directed must be True or False, got {directed!r}")
    csr = as_csr(graph)
    n = csr.shape[0]
    parts, _ = check_parts(parts, n)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(csr.indptr))
    cols = csr.indices.astype(np.int64)
    cut = parts[rows] != parts[cols]
    if directed:
        return int(np.count_nonzero(cut))
    a, b = rows[cut], cols[cut]
    return int(np.unique(np.minimum(a, b) * n + np.maximum(a, b)).shape[0])


def part_weights(parts: Any, k: Optional[int] = None, weights: Optional[Any] = None) -> np.ndarray:
    """``[k]`` total vertex weight per part (vertex counts without ``weights``)."""
    from partitioning.graph import _to_numpy

    raw = _to_numpy(parts)
    arr, k = check_parts(raw, raw.shape[0] if raw.ndim else -1, k)
    w = None
    if weights is not None:
        w = _to_numpy(weights)
        if w.dtype == object or w.dtype.kind in "USVb":
            raise TypeError(f"weights must be numeric, got dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.shape != arr.shape:
            raise ValueError(f"weights has shape {w.shape} but parts has {arr.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("weights contains NaN or inf")
        if w.size and w.min() < 0:
            raise ValueError(f"weights must be >= 0, got {float(w.min())!r}")
    return np.bincount(arr, weights=w, minlength=k)


def imbalance(parts: Any, k: Optional[int] = None, weights: Optional[Any] = None) -> float:
    r"""Load imbalance :math:`\max_p w(V_p) / (w(V)/k) - 1` (0 is perfect balance).

    A partition computed with ``imbalance=eps`` satisfies
    :math:`w(V_p) \le (1+\epsilon)\lceil w(V)/k \rceil` (Mt-KaHyPar's
    constraint; METIS's is approximate), so this value can slightly exceed
    ``eps`` when ``w(V)/k`` is not an integer.
    """
    pw = part_weights(parts, k, weights)
    total = pw.sum()
    if total == 0:
        return 0.0
    return float(pw.max() / (total / pw.shape[0]) - 1.0)
