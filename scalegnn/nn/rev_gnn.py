r"""RevGNN: deep GNNs of grouped reversible blocks (Li et al., ICML 2021).

Li, Müller, Ghanem and Koltun, "Training Graph Neural Networks with 1000
Layers", ICML 2021, https://arxiv.org/abs/2106.07476.
"""
from __future__ import annotations

import inspect
import weakref
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.adjacency import cached_adjacency, spmm, to_torch_csr
from scalegnn.data.validate import (check_bool, check_edge_attr, check_finite, check_int, check_option,
                                    check_probability, check_tensor, did_you_mean, validate_edge_index)
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
    "prepare_inputs",
    "check_conv",
    "check_norm",
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

        in_channels = check_int(in_channels, "in_channels", min_value=1)
        out_channels = check_int(out_channels, "out_channels", min_value=1)
        bias = check_bool(bias, "bias")
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


def check_norm(norm: Any, choices: Sequence[Optional[str]] = NORMS) -> Optional[str]:
    """``norm`` checked against ``choices`` (``None`` allowed when it is one of them); typos get a hint."""
    if norm is None and None in choices:
        return None
    names = [c for c in choices if c is not None]
    if not isinstance(norm, str):
        raise TypeError(f"norm must be one of {list(choices)}, got {norm!r} ({type(norm).__name__})")
    return check_option(norm, "norm", names)


def check_conv(conv: Any) -> Union[str, Callable[..., torch.nn.Module]]:
    """``conv``: one of :data:`CONVS` (typos get a "did you mean") or a callable ``(in, out, **kw) -> Module``."""
    if isinstance(conv, str):
        return check_option(conv, "conv", CONVS)
    if callable(conv):
        return conv
    raise TypeError(f"conv must be one of {list(CONVS)} or a callable (in_channels, out_channels) -> Module, "
                    f"got {conv!r} ({type(conv).__name__})")


def _conv_class(conv: str) -> type:
    from torch_geometric.nn import GATConv, GENConv, SAGEConv

    return {"gcn": GCNLayer, "sage": SAGEConv, "gat": GATConv, "gen": GENConv}[conv]


def _keyword_names(cls: type) -> Optional[List[str]]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the MRO; ``None`` if unbounded."""
    names: List[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return [n for n in dict.fromkeys(names) if n not in ("self", "in_channels", "out_channels")]
    return None


def check_conv_kwargs(conv: Union[str, Callable[..., Any]], conv_kwargs: Any) -> Dict[str, Any]:
    """``conv_kwargs`` as a dict of keyword arguments the inner layer accepts (typos get a "did you mean")."""
    if conv_kwargs is None:
        return {}
    if not isinstance(conv_kwargs, Mapping):
        raise TypeError(f"conv_kwargs must be a dict of keyword arguments for the inner layer, "
                        f"got {type(conv_kwargs).__name__}")
    kw = dict(conv_kwargs)
    for key in kw:
        if not isinstance(key, str):
            raise TypeError(f"conv_kwargs keys must be argument names (str), got {key!r}")
    for key in ("in_channels", "out_channels"):
        if key in kw:
            raise ValueError(f"conv_kwargs may not set {key}: the inner layer maps channels/num_groups channels "
                             "to as many")
    if isinstance(conv, str):
        accepted = _keyword_names(_conv_class(conv))
        name = _conv_class(conv).__name__
    else:
        try:
            params = inspect.signature(conv).parameters.values()
        except (TypeError, ValueError):  # no introspectable signature: the callable will judge
            return kw
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return kw
        accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][2:]
        name = getattr(conv, "__name__", type(conv).__name__)
    if accepted is not None:
        for key in kw:
            if key not in accepted:
                raise ValueError(f"conv_kwargs has {key!r}, which {name} does not accept; it accepts "
                                 f"{sorted(accepted)}.{did_you_mean(key, accepted)}".rstrip("."))
    return kw


def make_norm(norm: Optional[str], channels: int) -> torch.nn.Module:
    """``'layer'`` → LayerNorm, ``'batch'`` → BatchNorm1d, ``None`` → Identity."""
    norm = check_norm(norm)
    channels = check_int(channels, "channels", min_value=1)
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
    conv = check_conv(conv)
    channels = check_int(channels, "channels", min_value=1)
    norm = check_norm(norm)
    kw = check_conv_kwargs(conv, conv_kwargs)
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
    raise AssertionError(conv)  # check_conv admitted it


def prepare_adjacency(conv: Any, edge_index: Any, num_nodes: int, dtype: torch.dtype) -> Any:
    """Validate ``edge_index``; for ``conv='gcn'`` turn it into the GCN-normalized adjacency.

    For ``'gcn'`` an ``edge_index`` becomes :math:`D^{-1/2}(A+I)D^{-1/2}` as a
    sparse CSR matrix paired with its transpose, built once per graph
    (:func:`~scalegnn.data.adjacency.cached_adjacency`) instead of once per
    group and layer; a ``torch.sparse`` adjacency is taken as already
    normalized (and paired with its transpose). Other convolutions receive
    their input unchanged.
    """
    num_nodes = check_int(num_nodes, "num_nodes", min_value=1)
    _check_graph_argument(edge_index, num_nodes)
    if isinstance(edge_index, PairedAdjacency) and conv in ("sage", "gat", "gen"):
        raise TypeError(f"a PairedAdjacency is the prepared input of conv='gcn'; pass conv={conv!r} an "
                        "edge_index or a sparse adjacency")
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


def _is_sparse_tensor(a: Any) -> bool:
    return type(a).__name__ == "SparseTensor" and hasattr(a, "sizes")


def _check_graph_argument(edge_index: Any, num_nodes: int) -> None:
    """``edge_index`` ``[2, E]``, or an ``[N, N]`` sparse adjacency (torch.sparse, SparseTensor, PairedAdjacency)."""
    if isinstance(edge_index, PairedAdjacency):
        shape = list(edge_index.adj.shape)
    elif isinstance(edge_index, Tensor) and edge_index.layout == torch.strided:
        return  # validate_edge_index checks it
    elif isinstance(edge_index, Tensor) and edge_index.layout in (torch.sparse_coo, torch.sparse_csr):
        shape = list(edge_index.shape)
    elif _is_sparse_tensor(edge_index):
        shape = list(edge_index.sizes())
    else:
        raise TypeError(f"edge_index must be a [2, E] integer tensor or a sparse [N, N] adjacency "
                        f"(torch.sparse, torch_sparse.SparseTensor), got {type(edge_index).__name__}")
    if shape != [num_nodes, num_nodes]:
        raise ValueError(f"the sparse adjacency has shape {shape} but x has {num_nodes} rows (nodes); "
                         f"expected [{num_nodes}, {num_nodes}]")


def prepare_inputs(model: torch.nn.Module, x: Any, edge_index: Any, edge_attr: Any) -> List[Any]:
    """Validate a RevGNN/DEQGNN call and return the extra arguments of its group functions.

    ``x`` must be a finite floating ``[N, model.in_channels]`` tensor; ``edge_index``
    as in :func:`prepare_adjacency`; ``edge_attr`` (required exactly when the model
    has ``edge_dim``) ``[E, edge_dim]`` (or ``[E]`` when ``edge_dim=1``), finite, one
    row per edge, is encoded to ``hidden_channels``. Returns ``[adjacency]`` or
    ``[adjacency, encoded edge_attr]``.
    """
    check_tensor(x, "x", dims=(2,), floating=True)
    if x.size(-1) != model.in_channels:
        raise ValueError(f"x must have shape [N, {model.in_channels}] (in_channels={model.in_channels}), "
                         f"got {list(x.shape)}")
    if x.size(0) == 0:
        raise ValueError("x has no rows: the graph is empty, at least one node is required")
    check_finite(x, "x")
    adj = prepare_adjacency(model.conv, edge_index, x.size(0), x.dtype)
    if edge_attr is None:
        if model.edge_encoder is not None:
            raise ValueError(f"the model was built with edge_dim={model.edge_dim}; pass edge_attr")
        return [adj]
    if model.edge_encoder is None:
        raise ValueError("edge_attr was given but the model was built without edge_dim")
    if isinstance(edge_index, Tensor) and edge_index.layout == torch.strided:
        check_edge_attr(edge_attr, edge_index.size(1))
    else:
        check_tensor(edge_attr, "edge_attr")
        check_finite(edge_attr, "edge_attr")
    if not torch.is_floating_point(edge_attr):
        raise ValueError(f"edge_attr must have a floating-point dtype, got {edge_attr.dtype}")
    if edge_attr.dim() == 1:
        edge_attr = edge_attr.unsqueeze(-1)
    if edge_attr.dim() != 2 or edge_attr.size(-1) != model.edge_dim:
        raise ValueError(f"edge_attr must have shape [E, {model.edge_dim}] (edge_dim={model.edge_dim}), "
                         f"got {list(edge_attr.shape)}")
    return [adj, model.edge_encoder(edge_attr)]


def check_stack_arguments(in_channels: Any, hidden_channels: Any, out_channels: Any, num_groups: Any,
                          conv: Any, dropout: Any, norm: Any, edge_dim: Any, conv_kwargs: Any,
                          norms: Sequence[Optional[str]] = NORMS) -> Dict[str, Any]:
    """The arguments RevGNN and DEQGNN share, checked and in canonical form (Python ints and floats)."""
    out: Dict[str, Any] = {
        "in_channels": check_int(in_channels, "in_channels", min_value=1),
        "hidden_channels": check_int(hidden_channels, "hidden_channels", min_value=1),
        "out_channels": check_int(out_channels, "out_channels", min_value=1),
        "num_groups": check_int(num_groups, "num_groups"),
    }
    if out["num_groups"] < 2:
        raise ValueError(f"num_groups must be >= 2, got {out['num_groups']}: a reversible block needs at least "
                         "two groups")
    if out["hidden_channels"] % out["num_groups"] != 0:
        raise ValueError(f"hidden_channels={out['hidden_channels']} is not divisible by "
                         f"num_groups={out['num_groups']}; each group needs hidden_channels/num_groups channels")
    out["conv"] = check_conv(conv)
    out["dropout"] = check_probability(dropout, "dropout", allow_one=False)
    out["norm"] = check_norm(norm, norms)
    out["edge_dim"] = None if edge_dim is None else check_int(edge_dim, "edge_dim", min_value=1)
    if out["edge_dim"] is not None and out["conv"] in ("gcn", "sage"):
        raise ValueError(f"conv={out['conv']!r} does not use edge features; use 'gen' or 'gat' with edge_dim, "
                         "or drop edge_dim")
    out["conv_kwargs"] = check_conv_kwargs(out["conv"], conv_kwargs)
    return out


class RevGNNGroup(torch.nn.Module):
    r"""One group function :math:`F_i`: norm → ReLU → shared dropout → conv (pre-activation)."""

    def __init__(self, norm: torch.nn.Module, dropout: SharedDropout, conv: torch.nn.Module) -> None:
        super().__init__()
        for name, m in (("norm", norm), ("conv", conv)):
            if not isinstance(m, torch.nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
        if not isinstance(dropout, SharedDropout):
            raise TypeError(f"dropout must be a SharedDropout (one mask reused by the recomputation), "
                            f"got {type(dropout).__name__}")
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
        a = check_stack_arguments(in_channels, hidden_channels, out_channels, num_groups, conv, dropout, norm,
                                  edge_dim, conv_kwargs)
        in_channels, hidden_channels, out_channels = a["in_channels"], a["hidden_channels"], a["out_channels"]
        num_groups, conv, dropout, norm = a["num_groups"], a["conv"], a["dropout"], a["norm"]
        edge_dim, conv_kwargs = a["edge_dim"], a["conv_kwargs"]
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.num_layers = check_int(num_layers, "num_layers", min_value=1)
        self.num_groups = num_groups
        self.conv = conv
        self.dropout = dropout
        self.norm = norm
        self.weight_tying = check_bool(weight_tying, "weight_tying")
        self.memory_saving = check_bool(memory_saving, "memory_saving")
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
        args = prepare_inputs(self, x, edge_index, edge_attr)
        n = x.size(0)
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
