r"""SGC: the simplified graph convolution of Wu et al., ICML 2019.

`"Simplifying Graph Convolutional Networks" <https://arxiv.org/abs/1902.07153>`_
drops the nonlinearities of a :math:`K`-layer GCN, so the whole graph part
collapses into one fixed product computed once before training,

.. math::
    \bar X = S^K X, \qquad S = \tilde D^{-1/2} (A + I) \tilde D^{-1/2},

and the model is a single linear layer (logistic regression) on
:math:`\bar X`. :func:`sgc_precompute` computes :math:`S^K X` with the
``torch.sparse`` CSR SpMM (CPU and GPU), one block of feature columns at a
time so the extra memory stays within a budget; :class:`SGC` is the linear
model, which also works as a PyG-style layer on a graph.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from scalegnn.data.adjacency import cached_adjacency, to_torch_csr
from scalegnn.nn.column_chunks import column_chunks, progress_bar
from scalegnn.nn.csr_spmm import repeated_spmm
from scalegnn.nn.out_of_core import (
    FeatureSource,
    ResultSink,
    block_budget,
    check_features,
    compute_device,
    stream_blocks,
)
from scalegnn.nn.reordering import Reordered, apply_reordering, reordered_adjacency

__all__ = ["sgc_precompute", "SGC", "resolve_adjacency"]


def _is_edge_index(adj: Any) -> bool:
    return (
        isinstance(adj, Tensor)
        and adj.layout == torch.strided
        and not torch.is_floating_point(adj)
        and adj.dim() == 2
        and adj.size(0) == 2
    )


def resolve_adjacency(
    adj: Any,
    num_nodes: int,
    normalization: str,
    r: float,
    add_self_loops: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    """The propagation matrix as a CSR tensor on ``device``.

    ``adj`` is either an ``edge_index`` (normalized here, memoized per
    ``edge_index`` tensor by :func:`~scalegnn.data.adjacency.cached_adjacency`)
    or a prebuilt matrix
    (``torch.sparse`` of any layout, ``torch_sparse.SparseTensor`` or dense),
    which is used **as is**: it must already hold the self-loops and the
    normalization the caller wants.
    """
    if _is_edge_index(adj):
        return cached_adjacency(
            adj, num_nodes, normalization, r=r, add_self_loops=add_self_loops, dtype=dtype, device=device
        )
    if isinstance(adj, Tensor) and adj.layout == torch.strided and not torch.is_floating_point(adj):
        raise ValueError(
            f"an integer adjacency must be an edge_index of shape [2, num_edges], got {list(adj.shape)}"
        )
    csr = to_torch_csr(adj)
    if tuple(csr.shape) != (num_nodes, num_nodes):
        raise ValueError(f"the adjacency has shape {list(csr.shape)} but x has {num_nodes} rows")
    return csr.to(device=device, dtype=dtype)


def sgc_precompute(
    x: Union[Tensor, np.ndarray, str, os.PathLike],
    adj: Any,
    K: int,
    chunk_size: Optional[int] = None,
    *,
    num_nodes: Optional[int] = None,
    add_self_loops: bool = True,
    device: Optional[Union[str, torch.device]] = None,
    memory_budget: Optional[int] = None,
    progress: Optional[bool] = None,
    out: Optional[Union[str, os.PathLike]] = None,
    reorder: Optional[str] = "auto",
) -> Union[Tensor, Path]:
    r"""Compute :math:`S^K X` with :math:`S = \tilde D^{-1/2}(A+I)\tilde D^{-1/2}`.

    Args:
        x: ``[N, F]`` (or ``[N]``) floating node features; NaN/inf raise
            ``ValueError``. Also a numpy array / ``np.memmap`` or the path of
            an ``.npy`` file (``float32``/``float64``, ``[N, F]``): then the
            features are read one column block at a time and never held
            whole (see :mod:`scalegnn.nn.out_of_core`).
        adj: the graph: an ``edge_index`` ``[2, E]`` (PyG convention, edge
            ``j -> i`` is :math:`A_{ij}`), normalized here as above; or a
            prebuilt ``[N, N]`` propagation matrix (``torch.sparse`` CSR/COO,
            ``torch_sparse.SparseTensor`` or dense), used unchanged.
        K: number of hops, :math:`K \ge 0` (``K = 0`` returns a copy of ``x``).
        chunk_size: number of feature columns propagated at once. Default:
            as many as fit ``memory_budget`` (three ``N x width`` buffers).
        num_nodes: :math:`N` for an ``edge_index`` (default ``x.size(0)``).
        add_self_loops: for an ``edge_index``: add :math:`I` before
            normalizing, replacing existing self-loops by weight-1 loops (the
            SGC/GCN normalization needs them). With ``False`` the graph is
            normalized as given, and nodes without in-edges get all-zero rows.
        device: where to compute (default ``x.device``); the result is
            returned on ``x.device``, so a CPU feature matrix can be
            propagated on a GPU chunk by chunk.
        memory_budget: bytes the working buffers may take (default: half the
            free GPU memory, or a quarter of RAM up to 8 GiB).
        progress: show a progress bar over blocks x hops (default: only for large inputs).
        out: the path of a new ``.npy`` file to write :math:`S^K X` to, one
            column block at a time (Fortran order; ``np.load`` reads it as
            ``[N, F]``); it must not exist. With ``out`` (or features on disk)
            the peak memory is the graph plus three ``N x block`` buffers, and
            a ``chunk_size`` / ``memory_budget`` that cannot fit the process's
            memory limit (``RLIMIT_AS``/``RLIMIT_DATA``) raises ``ValueError``.
        reorder: relabel the nodes for locality of the SpMM's reads (see
            :mod:`scalegnn.nn.reordering`; the result is in the caller's
            order): ``"auto"`` (default: no order, which measured fastest end
            to end on the graphs benchmarked), ``"rcm"``, ``"degree"``,
            ``"dbg"`` or ``None``. An order is built once per ``edge_index``
            and cached with the graph. Needs an ``edge_index``.

    Returns:
        ``[N, F]`` tensor :math:`S^K X`, same dtype and device as ``x``
        (a CPU tensor for array or file features); the ``Path`` of the file
        when ``out`` is given. Differentiable with respect to a tensor ``x``.
    """
    host_to_gpu = (isinstance(x, Tensor) and x.device.type == "cpu" and device is not None
                   and torch.device(device).type == "cuda" and not x.requires_grad)
    if not isinstance(x, Tensor) or out is not None or host_to_gpu:
        # array/file features, a file result, or host features through a GPU (overlapped block streaming)
        return _sgc_streamed(x, adj, K, chunk_size, num_nodes, add_self_loops, device, memory_budget, progress, out,
                             reorder)
    if not isinstance(K, int) or isinstance(K, bool) or K < 0:
        raise ValueError(f"K must be a non-negative integer number of hops, got {K!r}")
    check_features(x)
    n = x.size(0)
    if num_nodes is not None and num_nodes != n:
        raise ValueError(f"num_nodes={num_nodes} but x has {n} rows")
    device = compute_device(device, x.device)
    vector = x.dim() == 1
    x2 = x.unsqueeze(1) if vector else x
    if K == 0:
        out = x2.clone()
        return out.squeeze(1) if vector else out
    chunks = column_chunks(
        x2.size(1), n, x2.element_size(), buffers=3, chunk_size=chunk_size,
        memory_budget=memory_budget, device=device,
    )
    S, order = _propagation_matrix(adj, n, add_self_loops, x.dtype, device, reorder)
    work = float(S.values().numel()) * x2.size(1) * K
    single = len(chunks) == 1 and device == x.device
    out = None if single else torch.empty_like(x2)
    with progress_bar(K * len(chunks), "sgc_precompute (blocks x hops)", progress, work) as bar:
        for cols in chunks:
            h = x2[:, cols].to(device).contiguous()
            if order is not None:
                h = order.to_local(h)
            for h in repeated_spmm(S, h, K):
                bar.update(1)
            if order is not None:
                h = order.to_caller(h)
            if single:
                out = h
            else:
                out[:, cols] = h.to(x.device)
    return out.squeeze(1) if vector else out


def _propagation_matrix(adj: Any, n: int, add_self_loops: bool, dtype: torch.dtype, device: torch.device,
                        reorder: Optional[str]) -> Tuple[Tensor, Optional[Reordered]]:
    """``S`` (reordered by :mod:`scalegnn.nn.reordering` when an order is asked for) and the order."""
    method = apply_reordering(reorder, _is_edge_index(adj))
    if method is None:
        return resolve_adjacency(adj, n, "sym", 0.5, add_self_loops, dtype, device), None
    order = reordered_adjacency(adj, n, "sym", 0.5, add_self_loops, dtype, device, method)
    return order.matrix, order


def _sgc_streamed(x: Any, adj: Any, K: int, chunk_size: Optional[int], num_nodes: Optional[int],
                  add_self_loops: bool, device: Any, memory_budget: Optional[int], progress: Optional[bool],
                  out: Any, reorder: Optional[str] = "auto") -> Union[Tensor, Path]:
    """:func:`sgc_precompute` for array/file features or a file result: column blocks streamed."""
    if not isinstance(K, int) or isinstance(K, bool) or K < 0:
        raise ValueError(f"K must be a non-negative integer number of hops, got {K!r}")
    vector = isinstance(x, Tensor) and x.dim() == 1
    if vector:
        x = x.unsqueeze(1)
    source = FeatureSource(x)
    n, f = source.shape
    if num_nodes is not None and num_nodes != n:
        raise ValueError(f"num_nodes={num_nodes} but x has {n} rows")
    device = compute_device(device, source.device)
    reordered = apply_reordering(reorder, _is_edge_index(adj)) is not None
    plan = block_budget(f, n, source.itemsize, 3 + int(reordered), chunk_size, memory_budget, device,
                        streamed=not source.in_memory)
    S, order = None, None
    if K > 0:
        S, order = _propagation_matrix(adj, n, add_self_loops, source.dtype, device, reorder)
    sink = ResultSink((n, f), source.dtype, out, device=source.device)
    source.window_bytes = sink.window_bytes = plan.window
    work = float(S.values().numel() if S is not None else 0) * f * K
    try:
        with progress_bar(max(K, 1) * len(plan.blocks), "sgc_precompute (blocks x hops)", progress, work) as bar:
            def compute(cols: slice, h: Tensor) -> Tensor:
                if order is not None:
                    h = order.to_local(h)
                for h in repeated_spmm(S, h, K):
                    bar.update(1)
                if K == 0:
                    bar.update(1)
                return h if order is None else order.to_caller(h)

            stream_blocks(source, plan.blocks, compute, sink, device)
    except BaseException:
        sink.abort()
        raise
    result = sink.result()
    return result.squeeze(1) if vector and isinstance(result, Tensor) else result


class SGC(torch.nn.Module):
    r"""The SGC model: one linear layer on :math:`S^K X`.

    From `"Simplifying Graph Convolutional Networks"
    <https://arxiv.org/abs/1902.07153>`_ (Wu et al., ICML 2019):

    .. math::
        \hat Y = \mathrm{softmax}\big(S^K X \Theta\big),
        \qquad S = \tilde D^{-1/2} (A + I) \tilde D^{-1/2}.

    Two ways to use it:

    * decoupled (the point of SGC): ``xs = sgc_precompute(x, edge_index, K)``
      once, then ``model(xs)`` applies only the linear layer, so training
      never touches the graph;
    * as a PyG layer: ``model(x, edge_index)`` (or a prebuilt normalized
      ``adj``) propagates then applies the linear layer, like
      :class:`torch_geometric.nn.SGConv` with ``cached=False``.

    Args:
        in_channels: input features :math:`F`.
        out_channels: outputs (classes) :math:`C`.
        K: number of hops (default 2, the paper's setting).
        bias: learn an additive bias (default True).
        add_self_loops: add :math:`I` when propagating an ``edge_index``
            (default True).

    Shapes:
        - input: ``x`` :math:`(N, F)` (precomputed or raw), optional
          ``edge_index`` :math:`(2, E)` or sparse ``adj`` :math:`(N, N)`
        - output: :math:`(N, C)` logits
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 2, bias: bool = True,
                 add_self_loops: bool = True):
        super().__init__()
        if not isinstance(K, int) or isinstance(K, bool) or K < 0:
            raise ValueError(f"K must be a non-negative integer number of hops, got {K!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.add_self_loops = add_self_loops
        self.lin = torch.nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Any = None) -> Tensor:
        """Logits; propagates ``x`` first when a graph (``edge_index`` or ``adj``) is given."""
        if edge_index is not None:
            x = sgc_precompute(x, edge_index, self.K, add_self_loops=self.add_self_loops)
        return self.lin(x)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, K={self.K})"
