r"""The column-net hypergraph model of row-parallel SpMM.

For :math:`Y = AH` with rows of :math:`A`, :math:`H` and :math:`Y` owned by the
same part, column :math:`j` of :math:`A + I` becomes the net

.. math:: n_j = \{j\} \cup \{i : A_{ij} \ne 0\}

(for a symmetric graph, :math:`\{j\} \cup N(j)`). Row :math:`H_j` must reach
every part that holds a pin of :math:`n_j` other than its owner, so the
connectivity−1 metric :math:`\sum_j (\lambda_j - 1)` of a partition equals the
number of feature rows sent per layer exactly (Çatalyürek & Aykanat, IEEE TPDS
1999; Demirci et al., "Scalable Graph Convolutional Network Training on
Distributed-Memory Systems", PVLDB 2023).

Nets with a single pin (a vertex no other vertex aggregates) never cost
anything and are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from partitioning.graph import as_csr, transpose_pattern
from partitioning.metrics import check_parts

__all__ = ["ColumnNetHypergraph", "column_net_hypergraph"]


@dataclass
class ColumnNetHypergraph:
    """A hypergraph in CSR form: net ``e`` has the pins ``pins[net_ptr[e]:net_ptr[e+1]]``.

    Attributes:
        num_vertices: vertices (= graph vertices).
        net_ptr: ``[num_nets + 1]`` offsets into ``pins``.
        pins: vertex ids; each net starts with its own column ``j``, then the rows
            ``i != j`` with :math:`A_{ij} \\ne 0` in increasing order.
        net_column: ``[num_nets]`` the graph column (vertex whose row the net sends) of each net.
    """

    num_vertices: int
    net_ptr: np.ndarray
    pins: np.ndarray
    net_column: np.ndarray

    @property
    def num_nets(self) -> int:
        return int(self.net_ptr.shape[0] - 1)

    @property
    def num_pins(self) -> int:
        return int(self.pins.shape[0])

    def connectivity_minus_one(self, parts: Any, k: Optional[int] = None) -> int:
        r""":math:`\sum_e (\lambda_e - 1)`: distinct parts per net, minus one, summed."""
        parts, k = check_parts(parts, self.num_vertices, k)
        if self.num_pins == 0:
            return 0
        net = np.repeat(np.arange(self.num_nets, dtype=np.int64), np.diff(self.net_ptr))
        distinct = np.unique(net * k + parts[self.pins]).shape[0]
        return int(distinct - self.num_nets)


def column_net_hypergraph(graph: Any) -> ColumnNetHypergraph:
    """Build the column-net hypergraph of ``A + I`` (vectorized, :math:`O(\\mathrm{nnz})`).

    Args:
        graph: the adjacency pattern (see :func:`partitioning.graph.as_csr`).
    """
    csr = as_csr(graph)
    n = csr.shape[0]
    cols = transpose_pattern(csr)  # row j of A^T = the rows i with A_ij != 0
    ptr, rows = cols.indptr.astype(np.int64), cols.indices
    dtype = rows.dtype
    # Drop diagonal entries; every net gets its own column as its first pin instead.
    size = np.diff(ptr)
    owner = np.repeat(np.arange(n, dtype=dtype), size)
    diag = rows == owner
    if diag.any():
        size = size - np.bincount(owner[diag], minlength=n)
        rows = rows[~diag]
    del owner, diag
    keep = size > 0  # single-pin nets {j} cost nothing
    net_column = np.flatnonzero(keep).astype(dtype)
    num_nets = net_column.shape[0]
    net_size = size[keep] + 1
    net_ptr = np.zeros(num_nets + 1, dtype=np.int64)
    np.cumsum(net_size, out=net_ptr[1:])
    pins = np.empty(int(net_ptr[-1]), dtype=dtype)
    is_self = np.zeros(pins.shape[0], dtype=bool)
    is_self[net_ptr[:-1]] = True
    pins[net_ptr[:-1]] = net_column
    pins[~is_self] = rows  # rows of the dropped empty columns are absent already
    return ColumnNetHypergraph(num_vertices=n, net_ptr=net_ptr, pins=pins, net_column=net_column)
