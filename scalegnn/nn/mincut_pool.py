r"""minCUT pooling on sparse mini-batches (and a safe dense path).

Bianchi, Grattarola and Alippi, "Spectral Clustering with Graph Neural
Networks for Graph Pooling", ICML 2020.

PyG ships only :func:`torch_geometric.nn.dense_mincut_pool`, which takes a
dense ``[B, N_max, N_max]`` adjacency. :func:`sparse_mincut_pool` computes the
same four outputs from ``edge_index`` / ``batch`` with sparse products and
per-graph (segment) reductions only:

* ``A S`` is one sparse-dense product (``torch.sparse.mm``, ``O(E + N K)``);
* the per-graph products ``S_b^T X_b``, ``S_b^T (A S)_b``, ``S_b^T S_b`` are
  batched matmuls over graphs grouped in size buckets (each bucket zero-padded
  to its largest graph, at most twice its size), ``O(N (K + F))`` memory,
  never ``N x N`` and never ``N x K x F``;
* the degree term ``Tr(S^T D S) = sum_n d_n ||s_n||^2`` is a scatter.

Conventions are PyG's (they are the ones checked by the tests against
``dense_mincut_pool`` on ``to_dense_adj`` / ``to_dense_batch`` of the same
batch): an edge ``(j, i)`` of ``edge_index`` is the dense entry
``adj[b, j, i]`` (duplicates summed), degrees are row sums of ``adj`` (i.e.
weighted out-degree ``scatter(w, edge_index[0])``), ``softmax(s / temp)`` is
taken inside, both losses are averaged over the graphs of the batch, the
pooled adjacency has its diagonal zeroed and is normalized as
``D^{-1/2} A' D^{-1/2}`` with ``sqrt(d) + 1e-15`` in the denominators.

Numerical safety (the only places where the result differs from PyG's, which
returns NaN there):

* a graph without edges (``Tr(S^T D S) = 0``) gets a minCUT loss of 0
  instead of ``-0/0``;
* a pooled node with zero pooled degree (e.g. every cluster of an edgeless
  graph) keeps a zero row/column, and its gradient is 0 instead of NaN
  (``d/dd sqrt(d)`` at 0);
* an empty graph id inside the batch (``batch = [0, 0, 2]``) yields zero
  pooled features/adjacency and zero losses for that graph.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from scalegnn.data.validate import (check_edge_weight, check_finite, check_float, check_int, check_probability,
                                    check_tensor, validate_edge_index)

__all__ = ["MinCutPool", "MinCutOutput", "sparse_mincut_pool", "dense_mincut_pool", "EPS"]

EPS = 1e-15  # the constant of PyG's dense_mincut_pool


class MinCutOutput(NamedTuple):
    """Pooled graph and auxiliary losses (unpacks like PyG's 4-tuple)."""

    x: Tensor  #: pooled features ``[B, K, F]``
    adj: Tensor  #: pooled, normalized adjacency ``[B, K, K]`` with zero diagonal
    mincut_loss: Tensor  #: scalar, mean over graphs of ``-Tr(S^T A S) / Tr(S^T D S)``
    ortho_loss: Tensor  #: scalar, mean over graphs of ``||S^T S/||S^T S||_F - I/sqrt(K)||_F``


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
class _SegmentPlan:
    r"""Per-graph products ``a_g^T b_g`` for a sorted ``batch`` without ``N x P x Q`` tensors.

    Graphs are grouped into buckets of similar size (node counts in
    ``(2^(j-1), 2^j]``); the nodes of a bucket are copied into a zero-padded
    ``[G_j, n_j, P]`` block (``n_j`` = the largest graph of the bucket, so the
    padding at most doubles the bucket's size) and reduced with one ``bmm``.
    Memory ``O(N (P + Q) + B P Q)``; autograd flows through the index copies.
    One graph is a single matmul.
    """

    def __init__(self, batch: Optional[Tensor], num_graphs: int, num_nodes: int) -> None:
        self.num_graphs = num_graphs
        self.buckets = []  # (graph ids, padded size, node ids, slot of each node)
        if batch is None or num_graphs == 1:
            return
        counts = torch.bincount(batch, minlength=num_graphs)
        ptr = torch.cumsum(counts, 0) - counts
        pos = torch.arange(num_nodes, device=batch.device) - ptr[batch]
        level = torch.ceil(torch.log2(counts.clamp_min(1).double())).long()
        level = torch.where(counts > 0, level, torch.full_like(level, -1))
        node_level = level[batch]
        local = torch.empty_like(counts)
        for j in torch.unique(level).tolist():
            if j < 0:
                continue
            graphs = (level == j).nonzero().view(-1)
            size = int(counts[graphs].max())
            local[graphs] = torch.arange(graphs.numel(), device=batch.device)
            nodes = (node_level == j).nonzero().view(-1)
            slot = local[batch[nodes]] * size + pos[nodes]
            self.buckets.append((graphs, size, nodes, slot))

    def pad(self, a: Tensor):
        """Zero-padded per-bucket blocks ``[G_j, n_j, P]`` of the node tensor ``a`` ``[N, P]``."""
        if not self.buckets:
            return a
        blocks = []
        for graphs, size, nodes, slot in self.buckets:
            block = a.new_zeros(graphs.numel() * size, a.size(1)).index_copy(0, slot, a.index_select(0, nodes))
            blocks.append(block.view(graphs.numel(), size, a.size(1)))
        return blocks

    def outer(self, pa, pb) -> Tensor:
        """``[B, P, Q]`` per-graph ``a^T b`` from :meth:`pad` outputs."""
        if not self.buckets:
            return (pa.t() @ pb).unsqueeze(0)
        p, q = pa[0].size(-1), pb[0].size(-1)
        out = pa[0].new_zeros(self.num_graphs, p, q)
        for (graphs, _, _, _), ba, bb in zip(self.buckets, pa, pb):
            out = out.index_copy(0, graphs, ba.transpose(1, 2) @ bb)
        return out


def _safe_inv_sqrt(d: Tensor) -> Tensor:
    """``1 / (sqrt(d) + EPS)`` for ``d > 0`` and 0 elsewhere, with finite gradients."""
    positive = d > 0
    root = torch.sqrt(torch.where(positive, d, torch.ones_like(d)))
    return torch.where(positive, 1.0 / (root + EPS), torch.zeros_like(d))


def _finish(
    out_adj: Tensor, mincut_num: Tensor, mincut_den: Tensor, ss: Tensor
) -> Tuple[Tensor, Tensor, Tensor]:
    """Losses and the normalized pooled adjacency, shared by the sparse and dense paths."""
    k = out_adj.size(-1)
    positive = mincut_den > 0
    mincut = -torch.where(positive, mincut_num / torch.where(positive, mincut_den, torch.ones_like(mincut_den)),
                          torch.zeros_like(mincut_num))
    mincut_loss = mincut.mean()

    ss_norm = torch.linalg.matrix_norm(ss, keepdim=True)  # Frobenius, [B, 1, 1]
    nonempty = ss_norm > 0
    ss_unit = torch.where(nonempty, ss / torch.where(nonempty, ss_norm, torch.ones_like(ss_norm)),
                          torch.zeros_like(ss))
    eye = torch.eye(k, dtype=ss.dtype, device=ss.device) / (k ** 0.5)
    ortho = torch.linalg.matrix_norm(ss_unit - eye)
    ortho = torch.where(nonempty.view(-1), ortho, torch.zeros_like(ortho))
    ortho_loss = ortho.mean()

    ind = torch.arange(k, device=out_adj.device)
    out_adj = out_adj.clone()
    out_adj[:, ind, ind] = 0
    inv = _safe_inv_sqrt(out_adj.sum(dim=-1))  # [B, K]
    out_adj = out_adj * inv.unsqueeze(1) * inv.unsqueeze(2)
    return out_adj, mincut_loss, ortho_loss


def _check_clusters(k: int, num_nodes: int, single_graph: bool = True) -> None:
    """``K >= 2`` always; ``K <= N`` for a single graph.

    In a mini-batch the number of clusters is fixed for the whole dataset (the
    paper uses half the average graph size), so graphs smaller than ``K`` are
    normal there and their surplus clusters simply stay empty; pooling one
    lone graph into more clusters than it has nodes is a configuration error.
    """
    if k < 2:
        raise ValueError(f"minCUT pooling needs at least 2 clusters, got num_clusters={k}")
    if single_graph and k > num_nodes:
        raise ValueError(
            f"num_clusters={k} exceeds the number of nodes in the input ({num_nodes}); "
            "a graph cannot be pooled into more clusters than it has nodes"
        )


def _check_temp(temp: Any) -> float:
    return check_float(temp, "temp", min_value=0.0, min_open=True)


def _check_batch(batch: Tensor, num_nodes: int) -> int:
    """Validate a PyG batch vector and return the number of graphs."""
    if not isinstance(batch, Tensor) or batch.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"batch must be an integer tensor, got {getattr(batch, 'dtype', type(batch).__name__)}")
    if batch.dim() != 1 or batch.numel() != num_nodes:
        raise ValueError(f"batch has shape {list(batch.shape)} but there are {num_nodes} nodes; expected [{num_nodes}]")
    if num_nodes == 0:
        return 0
    if int(batch.min()) < 0:
        raise ValueError("batch contains a negative graph id")
    if num_nodes > 1:
        drops = batch[1:] < batch[:-1]
        if bool(drops.any()):
            pos = int(drops.nonzero()[0]) + 1
            raise ValueError(
                f"batch must be sorted (nodes of each graph contiguous, as PyG's DataLoader makes it); "
                f"batch[{pos}]={int(batch[pos])} follows batch[{pos - 1}]={int(batch[pos - 1])}"
            )
    return int(batch[-1]) + 1


# ---------------------------------------------------------------------------
# sparse path
# ---------------------------------------------------------------------------
def sparse_mincut_pool(
    x: Tensor,
    edge_index: Tensor,
    s: Tensor,
    batch: Optional[Tensor] = None,
    edge_weight: Optional[Tensor] = None,
    temp: float = 1.0,
) -> MinCutOutput:
    r"""minCUT pooling of a (batch of) sparse graph(s), equal to PyG's ``dense_mincut_pool``.

    Args:
        x: node features ``[N, F]`` (or ``[N]``, treated as ``F = 1``).
        edge_index: ``[2, E]``; edge ``(j, i)`` is the dense entry ``A[j, i]``.
            Edges must stay inside their graph.
        s: assignment logits ``[N, K]`` (softmax over ``K`` is applied here).
        batch: sorted graph id of every node (PyG mini-batch); ``None`` is one graph.
            A lone graph (``batch=None``) must have at least ``K`` nodes; graphs of a
            mini-batch may be smaller than ``K`` (their surplus clusters stay empty).
        edge_weight: optional ``[E]`` nonnegative edge weights (gradients flow to them).
        temp: softmax temperature, as in PyG.

    Returns:
        :class:`MinCutOutput` ``(x [B, K, F], adj [B, K, K], mincut_loss, ortho_loss)``,
        the values of ``dense_mincut_pool(to_dense_batch(x), to_dense_adj(...),
        to_dense_batch(s), mask)`` up to the numerical-safety cases in the module doc.
        Memory is ``O(E + N (K + F) + B K max(K, F))``.
    """
    check_tensor(x, "x")
    check_tensor(s, "s")
    temp = _check_temp(temp)
    if x.dim() == 1:
        x = x.unsqueeze(-1)
    if x.dim() != 2:
        raise ValueError(f"x must be [num_nodes, channels], got shape {list(x.shape)}")
    if s.dim() != 2:
        raise ValueError(f"s must be [num_nodes, num_clusters], got shape {list(s.shape)}")
    n = x.size(0)
    if s.size(0) != n:
        raise ValueError(
            f"features and assignments disagree: x has {n} rows (nodes) but s has {s.size(0)}"
        )
    if not torch.is_floating_point(x) or not torch.is_floating_point(s):
        raise ValueError(f"x and s must be floating point, got {x.dtype} and {s.dtype}")
    check_finite(x, "x")
    check_finite(s, "s")
    k = s.size(1)
    _check_clusters(k, n, single_graph=batch is None)
    validate_edge_index(edge_index, n)
    src, dst = edge_index[0].long(), edge_index[1].long()
    if batch is None:
        num_graphs = 1
    else:
        num_graphs = _check_batch(batch, n)
        batch = batch.long()
        if src.numel() and bool((batch[src] != batch[dst]).any()):
            e = int((batch[src] != batch[dst]).nonzero()[0])
            raise ValueError(
                f"edge {e} ({int(src[e])} -> {int(dst[e])}) joins graph {int(batch[src[e]])} "
                f"and graph {int(batch[dst[e]])}; edges must stay inside their graph"
            )
    dtype = torch.promote_types(x.dtype, s.dtype)
    if edge_weight is None:
        weight = torch.ones(src.numel(), dtype=dtype, device=x.device)
    else:
        weight = check_edge_weight(edge_weight, src.numel()).to(dtype)  # finite, >= 0 (degrees, cut)

    s = torch.softmax(s / temp if temp != 1.0 else s, dim=-1).to(dtype)
    x = x.to(dtype)

    # A S with A[j, i] = w for edge (j, i): (A S)[j] = sum_{(j, i)} w s[i].
    adj = torch.sparse_coo_tensor(torch.stack([src, dst]), weight, (n, n), check_invariants=False)
    a_s = torch.sparse.mm(adj, s)

    plan = _SegmentPlan(batch, num_graphs, n)
    ps = plan.pad(s)
    out = plan.outer(ps, plan.pad(x))  # S^T X
    out_adj = plan.outer(ps, plan.pad(a_s))  # S^T A S
    ss = plan.outer(ps, ps)  # S^T S

    mincut_num = torch.diagonal(out_adj, dim1=-2, dim2=-1).sum(-1)
    deg = torch.zeros(n, dtype=dtype, device=x.device).index_add(0, src, weight)  # row sums of A
    per_node = deg * (s * s).sum(-1)
    if batch is None:
        mincut_den = per_node.sum().view(1)
    else:
        mincut_den = per_node.new_zeros(num_graphs).index_add(0, batch, per_node)

    out_adj, mincut_loss, ortho_loss = _finish(out_adj, mincut_num, mincut_den, ss)
    return MinCutOutput(out, out_adj, mincut_loss, ortho_loss)


# ---------------------------------------------------------------------------
# dense path
# ---------------------------------------------------------------------------
def dense_mincut_pool(
    x: Tensor, adj: Tensor, s: Tensor, mask: Optional[Tensor] = None, temp: float = 1.0
) -> MinCutOutput:
    """Drop-in for PyG's ``dense_mincut_pool`` (same inputs, same values), NaN-safe.

    ``x [B, N, F]``, ``adj [B, N, N]``, ``s [B, N, K]`` logits, optional ``mask [B, N]``
    (2-D inputs are one graph). Differs from PyG only where PyG returns NaN (see
    the module doc). Memory ``O(B N^2)``: use :func:`sparse_mincut_pool` for large graphs.
    """
    for t, name in ((x, "x"), (adj, "adj"), (s, "s")):
        check_tensor(t, name, dims=(2, 3), floating=True)
        check_finite(t, name)
    temp = _check_temp(temp)
    if adj.layout != torch.strided:
        raise TypeError(f"adj must be a dense tensor here, got layout {adj.layout}; sparse graphs go through "
                        f"sparse_mincut_pool (x, edge_index, s, batch)")
    if bool((adj < 0).any()):
        raise ValueError("adj has negative entries; minCUT pooling needs non-negative edge weights")
    if mask is not None:
        check_tensor(mask, "mask", dims=(1, 2))
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor [B, N], got dtype {mask.dtype}")
        mask = mask.unsqueeze(0) if mask.dim() == 1 else mask
    x = x.unsqueeze(0) if x.dim() == 2 else x
    adj = adj.unsqueeze(0) if adj.dim() == 2 else adj
    s = s.unsqueeze(0) if s.dim() == 2 else s
    if x.dim() != 3 or adj.dim() != 3 or s.dim() != 3:
        raise ValueError("dense inputs must be x [B, N, F], adj [B, N, N], s [B, N, K]")
    b, n, _ = x.shape
    if s.shape[:2] != (b, n):
        raise ValueError(
            f"features and assignments disagree: x is {list(x.shape)} but s is {list(s.shape)}"
        )
    if adj.shape != (b, n, n):
        raise ValueError(f"adj must be [{b}, {n}, {n}] to match x, got {list(adj.shape)}")
    k = s.size(-1)
    _check_clusters(k, n, single_graph=(b == 1 and mask is None))
    s = torch.softmax(s / temp if temp != 1.0 else s, dim=-1)
    if mask is not None:
        if mask.shape != (b, n):
            raise ValueError(f"mask must be [{b}, {n}], got {list(mask.shape)}")
        m = mask.view(b, n, 1).to(x.dtype)
        x, s = x * m, s * m
    out = s.transpose(1, 2) @ x
    out_adj = s.transpose(1, 2) @ adj @ s
    mincut_num = torch.diagonal(out_adj, dim1=-2, dim2=-1).sum(-1)
    deg = adj.sum(-1)  # [B, N]
    mincut_den = (deg * (s * s).sum(-1)).sum(-1)
    ss = s.transpose(1, 2) @ s
    out_adj, mincut_loss, ortho_loss = _finish(out_adj, mincut_num, mincut_den, ss)
    return MinCutOutput(out, out_adj, mincut_loss, ortho_loss)


# ---------------------------------------------------------------------------
# module
# ---------------------------------------------------------------------------
def _is_sparse_adjacency(obj: Any) -> bool:
    return isinstance(obj, Tensor) and obj.layout in (torch.sparse_coo, torch.sparse_csr) or (
        type(obj).__name__ == "SparseTensor" and hasattr(obj, "coo")
    )


class MinCutPool(torch.nn.Module):
    r"""The minCUT pooling layer from `"Spectral Clustering with Graph Neural
    Networks for Graph Pooling" <https://arxiv.org/abs/1907.00481>`_
    (Bianchi, Grattarola and Alippi, ICML 2020), for sparse mini-batches.

    An MLP computes soft cluster assignments, then each graph is coarsened:

    .. math::
        \mathbf{S} = \mathrm{softmax}(\mathrm{MLP}(\mathbf{X}) / \tau), \qquad
        \mathbf{X}' = \mathbf{S}^{\top}\mathbf{X}, \qquad
        \mathbf{A}' = \tilde{\mathbf{D}}^{-1/2}\,\mathrm{offdiag}(\mathbf{S}^{\top}\mathbf{A}\mathbf{S})
        \,\tilde{\mathbf{D}}^{-1/2}

    with the auxiliary losses (averaged over the graphs of the batch)

    .. math::
        \mathcal{L}_c = -\frac{\mathrm{Tr}(\mathbf{S}^{\top}\mathbf{A}\mathbf{S})}
        {\mathrm{Tr}(\mathbf{S}^{\top}\mathbf{D}\mathbf{S})}, \qquad
        \mathcal{L}_o = \left\| \frac{\mathbf{S}^{\top}\mathbf{S}}{\|\mathbf{S}^{\top}\mathbf{S}\|_F}
        - \frac{\mathbf{I}_K}{\sqrt{K}} \right\|_F .

    Sparse input goes through :func:`sparse_mincut_pool` (memory
    ``O(E + N (K + F))``, never ``N x N``); dense input through
    :func:`dense_mincut_pool` (PyG's ``dense_mincut_pool``, NaN-safe).

    Args:
        in_channels (int): node feature size :math:`F`.
        num_clusters (int): number of clusters :math:`K \geq 2`.
        mlp_hidden (Sequence[int], optional): hidden sizes of the assignment
            MLP; ``()`` is a single linear layer (PyG's example), ``(16,)`` the
            authors' graph-classification setting. (default: ``()``)
        act (torch.nn.Module, optional): activation between MLP layers.
            (default: ``ReLU``)
        dropout (float, optional): dropout before every MLP layer. (default: ``0.0``)
        temp (float, optional): softmax temperature :math:`\tau`. (default: ``1.0``)

    Shapes:
        - **input (sparse):** ``x [N, F]``, ``edge_index [2, E]`` (or a
          ``torch.sparse`` / ``torch_sparse.SparseTensor`` adjacency), optional
          sorted ``batch [N]`` and ``edge_weight [E]``.
        - **input (dense):** ``x [B, N, F]``, ``adj [B, N, N]``, optional ``mask [B, N]``.
        - **output:** :class:`MinCutOutput` ``(x [B, K, F], adj [B, K, K],
          mincut_loss [], ortho_loss [])``.
    """

    def __init__(
        self,
        in_channels: int,
        num_clusters: int,
        mlp_hidden: Sequence[int] = (),
        act: Optional[torch.nn.Module] = None,
        dropout: float = 0.0,
        temp: float = 1.0,
    ) -> None:
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min_value=1)
        num_clusters = check_int(num_clusters, "num_clusters")
        if num_clusters < 2:
            raise ValueError(f"minCUT pooling needs at least 2 clusters, got num_clusters={num_clusters}")
        if isinstance(mlp_hidden, (str, bytes)) or not hasattr(mlp_hidden, "__iter__"):
            raise TypeError(f"mlp_hidden must be a sequence of hidden sizes such as (16,), got {mlp_hidden!r}")
        mlp_hidden = [check_int(h, f"mlp_hidden[{i}]", min_value=1) for i, h in enumerate(mlp_hidden)]
        if act is not None and not isinstance(act, torch.nn.Module):
            raise TypeError(f"act must be a torch.nn.Module such as torch.nn.ReLU() or None, got {act!r}")
        dropout = check_probability(dropout, "dropout", allow_one=False)
        self.in_channels = in_channels
        self.num_clusters = num_clusters
        self.temp = _check_temp(temp)
        layers = []
        sizes = [in_channels, *mlp_hidden, num_clusters]
        for i in range(len(sizes) - 1):
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(act if act is not None else torch.nn.ReLU())
        self.mlp = torch.nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.mlp:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()

    def logits(self, x: Tensor) -> Tensor:
        """Assignment logits ``MLP(x)`` (``[..., K]``)."""
        check_tensor(x, "x", floating=True)
        if x.dim() == 0 or x.size(-1) != self.in_channels:
            raise ValueError(f"x has {x.size(-1)} channels but MinCutPool expects in_channels={self.in_channels}")
        return self.mlp(x)

    def assign(self, x: Tensor) -> Tensor:
        """Soft cluster assignments ``softmax(MLP(x) / temp)``; ``argmax(-1)`` gives hard clusters."""
        z = self.logits(x)
        return torch.softmax(z / self.temp if self.temp != 1.0 else z, dim=-1)

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        batch: Optional[Tensor] = None,
        edge_weight: Optional[Tensor] = None,
        mask: Optional[Tensor] = None,
    ) -> MinCutOutput:
        check_tensor(x, "x", dims=(2, 3), floating=True)
        if not isinstance(edge_index, Tensor) and not _is_sparse_adjacency(edge_index):
            raise TypeError(f"edge_index must be a [2, E] tensor, a sparse adjacency or a dense adj [B, N, N], "
                            f"got {type(edge_index).__name__}")
        if isinstance(edge_index, Tensor) and edge_index.layout == torch.strided and torch.is_floating_point(edge_index):
            if batch is not None or edge_weight is not None:
                raise ValueError("the dense path takes (x, adj, mask=...); batch/edge_weight belong to the sparse path")
            return dense_mincut_pool(x, edge_index, self.logits(x), mask, self.temp)
        if mask is not None:
            raise ValueError("mask is for the dense path; the sparse path takes a batch vector")
        if _is_sparse_adjacency(edge_index):
            if isinstance(edge_index, Tensor):
                coo = edge_index.to_sparse_coo().coalesce() if edge_index.layout != torch.sparse_coo else edge_index.coalesce()
                ei, edge_weight = coo.indices(), coo.values()
            else:
                row, col, val = edge_index.coo()
                ei, edge_weight = torch.stack([row, col]), val
            edge_index = ei
        if x.dim() != 2:
            raise ValueError(f"the sparse path needs x [num_nodes, channels], got shape {list(x.shape)}")
        return sparse_mincut_pool(x, edge_index, self.logits(x), batch, edge_weight, self.temp)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, num_clusters={self.num_clusters}, temp={self.temp}"
