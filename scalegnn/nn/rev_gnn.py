r"""RevGNN: deep GNNs of grouped reversible blocks (Li et al., ICML 2021).

Li, Müller, Ghanem and Koltun, "Training Graph Neural Networks with 1000
Layers", ICML 2021, https://arxiv.org/abs/2106.07476.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.adjacency import cached_adjacency, spmm, to_torch_csr
from scalegnn.data.validate import validate_edge_index
from scalegnn.nn.reversible import GroupedReversibleBlock, reversible_sequential
from scalegnn.nn.shared_dropout import SharedDropout

__all__ = [
    "RevGNN",
    "RevGNNGroup",
    "GCNLayer",
    "PairedAdjacency",
    "paired_adjacency",
    "make_norm",
    "make_conv",
    "prepare_adjacency",
    "CONVS",
    "NORMS",
]

CONVS = ("gcn", "sage", "gat", "gen")
NORMS = ("layer", "batch", None)


class PairedAdjacency(NamedTuple):
    """A sparse CSR adjacency with its transpose, so SpMM's backward needs no per-call transposition."""

    adj: Tensor
    adj_t: Tensor


class _PairedSpMM(torch.autograd.Function):
    """``adj @ x`` whose backward multiplies by the stored transpose (PyTorch rebuilds it at every call).

    The adjacency is a constant: no gradient flows to its values.
    """

    @staticmethod
    def forward(ctx, pair: PairedAdjacency, x: Tensor) -> Tensor:
        ctx.adj_t = pair.adj_t
        return torch.sparse.mm(pair.adj, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, torch.sparse.mm(ctx.adj_t, grad)


# Transposes memoized by the identity of the adjacency they belong to (weakly held).
_TRANSPOSES: Dict[int, Tuple["weakref.ref[Tensor]", Tensor]] = {}


def paired_adjacency(adj: Tensor) -> PairedAdjacency:
    """Pair a sparse adjacency (CSR or COO) with its CSR transpose, computed once per adjacency object."""
    adj = to_torch_csr(adj)
    entry = _TRANSPOSES.get(id(adj))
    if entry is None or entry[0]() is not adj:
        key = id(adj)
        _TRANSPOSES[key] = (weakref.ref(adj, lambda _, key=key: _TRANSPOSES.pop(key, None)),
                            adj.t().to_sparse_csr())
    return PairedAdjacency(adj, _TRANSPOSES[id(adj)][1])


class GCNLayer(torch.nn.Module):
    r"""GCN propagation on a pre-normalized adjacency: :math:`\hat A X W + b`.

    The same computation as PyG's ``GCNConv(normalize=False)`` (and the same
    parameter names, ``lin.weight`` and ``bias``); given a
    :class:`PairedAdjacency` its backward uses the stored transpose.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        from torch_geometric.nn.dense.linear import Linear

        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, adj: Any) -> Tensor:
        h = self.lin(x)
        if isinstance(adj, PairedAdjacency):
            out = _PairedSpMM.apply(adj, h)
        else:
            out = spmm(adj, h)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


def make_norm(norm: Optional[str], channels: int) -> torch.nn.Module:
    """``'layer'`` → LayerNorm, ``'batch'`` → BatchNorm1d, ``None`` → Identity."""
    if norm == "layer":
        return torch.nn.LayerNorm(channels)
    if norm == "batch":
        return torch.nn.BatchNorm1d(channels)
    if norm is None:
        return torch.nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")


def make_conv(conv: Union[str, Callable[..., torch.nn.Module]], channels: int, norm: Optional[str],
              has_edge_attr: bool, conv_kwargs: Optional[Dict[str, Any]] = None) -> torch.nn.Module:
    """Build one group's inner layer mapping ``channels`` to ``channels``."""
    kw = dict(conv_kwargs or {})
    if callable(conv) and not isinstance(conv, str):
        layer = conv(channels, channels, **kw)
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(f"conv callable must return a torch.nn.Module, got {type(layer).__name__}")
        return layer
    from torch_geometric.nn import GATConv, GENConv, SAGEConv

    if conv == "gcn":
        # RevGNN normalizes the adjacency once per graph (see prepare_adjacency).
        return GCNLayer(channels, channels, **kw)
    if conv == "sage":
        return SAGEConv(channels, channels, **kw)
    if conv == "gat":
        kw.setdefault("heads", 1)
        kw.setdefault("concat", False)
        if has_edge_attr:
            kw.setdefault("edge_dim", channels)
        return GATConv(channels, channels, **kw)
    if conv == "gen":
        kw.setdefault("aggr", "softmax")
        kw.setdefault("t", 1.0)
        kw.setdefault("learn_t", True)
        kw.setdefault("num_layers", 2)
        kw.setdefault("norm", norm)
        return GENConv(channels, channels, **kw)
    raise ValueError(f"unknown conv {conv!r}; choose one of {CONVS} or pass a callable (in, out) -> Module")


def prepare_adjacency(conv: Any, edge_index: Any, num_nodes: int, dtype: torch.dtype) -> Any:
    """Validate ``edge_index``; for ``conv='gcn'`` turn it into the GCN-normalized adjacency.

    For ``'gcn'`` an ``edge_index`` becomes :math:`D^{-1/2}(A+I)D^{-1/2}` as a
    sparse CSR matrix paired with its transpose, built once per graph
    (:func:`~scalegnn.data.adjacency.cached_adjacency`) instead of once per
    group and layer; a ``torch.sparse`` adjacency is taken as already
    normalized (and paired with its transpose). Other convolutions receive
    their input unchanged.
    """
    dense_index = isinstance(edge_index, Tensor) and edge_index.layout == torch.strided
    if dense_index:
        validate_edge_index(edge_index, num_nodes)
    if conv != "gcn":
        return edge_index
    if dense_index:
        return paired_adjacency(cached_adjacency(edge_index, num_nodes, "sym", dtype=dtype))
    if isinstance(edge_index, Tensor) and edge_index.layout in (torch.sparse_csr, torch.sparse_coo):
        return paired_adjacency(edge_index.to(dtype))
    return edge_index


class RevGNNGroup(torch.nn.Module):
    r"""One group function :math:`F_i`: norm → ReLU → shared dropout → conv (pre-activation)."""

    def __init__(self, norm: torch.nn.Module, dropout: SharedDropout, conv: torch.nn.Module) -> None:
        super().__init__()
        self.norm = norm
        self.dropout = dropout
        self.conv = conv

    def reset_parameters(self) -> None:
        for m in (self.norm, self.conv):
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def forward(self, x: Tensor, adj: Any, *extra: Any) -> Tensor:
        h = F.relu(self.norm(x))
        h = self.dropout(h)
        return self.conv(h, adj, *extra)


class RevGNN(torch.nn.Module):
    r"""The reversible GNN of Li et al., `"Training Graph Neural Networks with
    1000 Layers" <https://arxiv.org/abs/2106.07476>`_ (ICML 2021).

    .. math::

        H^{(0)} = X W_{\text{in}}, \qquad
        H^{(\ell)} = \operatorname{RevBlock}_\ell(H^{(\ell-1)}, A), \qquad
        \hat Y = \operatorname{ReLU}(\operatorname{Norm}(H^{(L)})) W_{\text{out}}

    where each :class:`~scalegnn.nn.reversible.GroupedReversibleBlock` splits
    the ``hidden_channels`` into ``num_groups`` groups and uses group functions
    :math:`F_i(Z) = \operatorname{Conv}(\operatorname{Dropout}(\operatorname{ReLU}(\operatorname{Norm}(Z))), A)`.
    With ``memory_saving=True`` the backward pass reconstructs every block's
    input from its output, so activation memory does not grow with
    ``num_layers``; ``memory_saving=False`` runs the identical computation
    through ordinary autograd.

    Dropout inside the blocks uses one mask of shape
    ``[N, hidden_channels / num_groups]`` drawn per forward pass and shared by
    all groups and layers (as in the paper's code), so the recomputation sees
    the same mask.

    Args:
        in_channels (int): input node features.
        hidden_channels (int): width of the reversible stack; divisible by ``num_groups``.
        out_channels (int): outputs (classes or binary tasks).
        num_layers (int): number of reversible blocks.
        num_groups (int): groups :math:`G \ge 2`. (default: ``2``)
        conv (str or callable): inner layer, ``'gcn'`` (:class:`GCNLayer`,
            PyG's GCN propagation on the symmetric-normalized adjacency with
            self-loops, computed once per graph from ``edge_index``; a sparse
            adjacency is used as given, i.e. already normalized), ``'sage'``,
            ``'gat'`` (one head), ``'gen'`` (GENConv, softmax aggregation with
            learnable temperature, uses edge features), or a callable
            ``(in_channels, out_channels, **conv_kwargs) -> Module`` called as
            ``layer(x, edge_index_or_adj[, edge_attr])``. (default: ``'gcn'``)
        dropout (float): dropout inside the blocks and before the output layer. (default: ``0.0``)
        norm (str or None): ``'layer'``, ``'batch'`` or ``None``. (default: ``'layer'``)
        weight_tying (bool): all blocks share one set of weights. (default: ``False``)
        memory_saving (bool): reversible recomputation (``True``) or plain autograd (``False``).
        edge_dim (int, optional): edge feature size; edge features are encoded
            by a linear layer to ``hidden_channels`` and split by group.
        conv_kwargs (dict, optional): extra keyword arguments for the inner layer.

    Shapes:
        - **input:** ``x`` ``[N, in_channels]``; ``edge_index`` ``[2, E]`` or a
          sparse adjacency (``torch.sparse`` / ``SparseTensor``, in PyG's
          ``adj_t`` orientation); ``edge_attr`` ``[E, edge_dim]`` (optional).
        - **output:** ``[N, out_channels]``.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int,
        num_groups: int = 2,
        conv: Union[str, Callable[..., torch.nn.Module]] = "gcn",
        dropout: float = 0.0,
        norm: Optional[str] = "layer",
        weight_tying: bool = False,
        memory_saving: bool = True,
        edge_dim: Optional[int] = None,
        conv_kwargs: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__()
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if int(num_groups) < 2:
            raise ValueError(
                f"num_groups must be >= 2, got {num_groups}: a reversible block needs at least two groups"
            )
        if hidden_channels % num_groups != 0:
            raise ValueError(
                f"hidden_channels={hidden_channels} is not divisible by num_groups={num_groups}; "
                f"each group needs hidden_channels/num_groups channels"
            )
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")
        if isinstance(conv, str) and conv not in CONVS:
            raise ValueError(f"unknown conv {conv!r}; choose one of {CONVS} or pass a callable (in, out) -> Module")
        if edge_dim is not None and isinstance(conv, str) and conv in ("gcn", "sage"):
            raise ValueError(f"conv={conv!r} does not use edge features; use 'gen' or 'gat' with edge_dim")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.num_layers = int(num_layers)
        self.num_groups = int(num_groups)
        self.conv = conv
        self.dropout = float(dropout)
        self.norm = norm
        self.weight_tying = weight_tying
        self.memory_saving = memory_saving
        self.edge_dim = edge_dim

        c = hidden_channels // num_groups
        self.node_encoder = torch.nn.Linear(in_channels, hidden_channels)
        self.edge_encoder = torch.nn.Linear(edge_dim, hidden_channels) if edge_dim is not None else None
        self.shared_dropout = SharedDropout(dropout)

        def block() -> GroupedReversibleBlock:
            fns = [
                RevGNNGroup(make_norm(norm, c), self.shared_dropout,
                            make_conv(conv, c, norm, edge_dim is not None, conv_kwargs))
                for _ in range(num_groups)
            ]
            return GroupedReversibleBlock(fns, memory_saving=memory_saving)

        self.blocks = torch.nn.ModuleList([block() for _ in range(1 if weight_tying else self.num_layers)])
        self.out_norm = make_norm(norm, hidden_channels)
        self.lin = torch.nn.Linear(hidden_channels, out_channels)

    @property
    def layers(self):
        """The ``num_layers`` blocks in order (the same block repeated under weight tying)."""
        return [self.blocks[0]] * self.num_layers if self.weight_tying else list(self.blocks)

    def reset_parameters(self) -> None:
        self.node_encoder.reset_parameters()
        if self.edge_encoder is not None:
            self.edge_encoder.reset_parameters()
        for b in self.blocks:
            b.reset_parameters()
        if hasattr(self.out_norm, "reset_parameters"):
            self.out_norm.reset_parameters()
        self.lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Any, edge_attr: Optional[Tensor] = None) -> Tensor:
        if x.dim() != 2 or x.size(-1) != self.in_channels:
            raise ValueError(f"x must have shape [N, {self.in_channels}], got {list(x.shape)}")
        n = x.size(0)
        adj = prepare_adjacency(self.conv, edge_index, n, x.dtype)
        args = [adj]
        if edge_attr is not None:
            if self.edge_encoder is None:
                raise ValueError("edge_attr was given but the model was built without edge_dim")
            if edge_attr.dim() == 1:
                edge_attr = edge_attr.unsqueeze(-1)
            args.append(self.edge_encoder(edge_attr))
        elif self.edge_encoder is not None:
            raise ValueError(f"the model was built with edge_dim={self.edge_dim}; pass edge_attr")

        h = self.node_encoder(x)
        self.shared_dropout.resample((n, self.hidden_channels // self.num_groups), x.device, x.dtype)
        try:
            h = reversible_sequential(self.layers, h, *args, memory_saving=self.memory_saving)
        finally:
            self.shared_dropout.clear()  # the memory-saving path recorded the mask it needs
        h = F.relu(self.out_norm(h))
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.lin(h)

    def __repr__(self) -> str:
        conv = self.conv if isinstance(self.conv, str) else getattr(self.conv, "__name__", "callable")
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers}, num_groups={self.num_groups}, conv={conv}, "
                f"norm={self.norm}, dropout={self.dropout}, weight_tying={self.weight_tying}, "
                f"memory_saving={self.memory_saving})")
