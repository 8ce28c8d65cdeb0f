r"""Neighbourhood link-prediction heuristics: common neighbours and Adamic-Adar.

The first-order and second-order heuristics SEAL is compared with
(Zhang & Chen, NeurIPS 2018, Table 1), computed on the observed graph:

.. math::
    \mathrm{CN}(x, y) = |\Gamma(x) \cap \Gamma(y)|, \qquad
    \mathrm{AA}(x, y) = \sum_{z \in \Gamma(x) \cap \Gamma(y)} \frac{1}{\log |\Gamma(z)|}

(Adamic & Adar, "Friends and neighbors on the Web", Social Networks 2003).
Both are row-wise products of the sparse adjacency, taken in chunks of pairs
so memory stays bounded.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from scalegnn.linkpred.extract import check_pairs

__all__ = ["common_neighbors", "adamic_adar"]


def _adjacency(edge_index: Tensor, num_nodes: int) -> sp.csr_matrix:
    ei = edge_index.cpu().numpy()
    adj = sp.csr_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(num_nodes, num_nodes))
    adj.data[:] = 1.0  # duplicate edges count once
    adj.setdiag(0)
    adj.eliminate_zeros()
    return adj


def _score(left: sp.csr_matrix, right: sp.csr_matrix, pairs: Tensor, chunk: int) -> Tensor:
    p = pairs.cpu().numpy()
    out = np.empty(p.shape[0])
    for s in range(0, p.shape[0], chunk):
        q = p[s:s + chunk]
        out[s:s + chunk] = np.asarray(left[q[:, 0]].multiply(right[q[:, 1]]).sum(axis=1)).ravel()
    return torch.from_numpy(out)


def common_neighbors(edge_index: Tensor, pairs: Tensor, num_nodes: int, chunk: int = 100_000) -> Tensor:
    """``CN(x, y)`` for each of the ``[B, 2]`` pairs on the graph ``edge_index`` (both directions listed)."""
    pairs = check_pairs(pairs, num_nodes)
    adj = _adjacency(edge_index, num_nodes)
    return _score(adj, adj, pairs, chunk)


def adamic_adar(edge_index: Tensor, pairs: Tensor, num_nodes: int, chunk: int = 100_000) -> Tensor:
    """``AA(x, y)``: common neighbours weighted by ``1 / log(degree)`` (degree-1 neighbours cannot be common)."""
    pairs = check_pairs(pairs, num_nodes)
    adj = _adjacency(edge_index, num_nodes)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        w = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2)), 0.0)
    weighted = adj.multiply(w[None, :]).tocsr()
    return _score(adj, weighted, pairs, chunk)
