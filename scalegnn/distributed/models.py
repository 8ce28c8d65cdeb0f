"""Full-batch GNNs for row-parallel training, and the same model evaluated in one process.

:class:`DistributedGNN` stacks :class:`NodeDropout` -> convolution ->
activation layers whose convolutions are :class:`DistGCNConv` (``'gcn'``) or
PyG layers wrapped in :class:`DistributedConv` (``'sage'``, ``'gat'``,
``'gin'``). :func:`single_process_forward` runs the same parameters and the
same dropout masks with PyG's own layers on the whole graph: the reference a
distributed run must equal.
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.validate import check_int, check_option, check_probability
from scalegnn.distributed.conv_wrapper import DistributedConv
from scalegnn.distributed.gcn_conv import DistGCNConv
from scalegnn.distributed.local_graph import LocalGraph
from scalegnn.distributed.node_dropout import NodeDropout

__all__ = ["DISTRIBUTED_MODELS", "DistributedGNN", "single_process_forward"]

DISTRIBUTED_MODELS = ("gcn", "sage", "gat", "gin")


def _make_conv(model: str, in_channels: int, out_channels: int, heads: int, last: bool, overlap: bool,
               name: str) -> torch.nn.Module:
    from torch_geometric.nn import GATConv, GINConv, SAGEConv
    from torch_geometric.nn.models import MLP

    if model == "gcn":
        conv = DistGCNConv(in_channels, out_channels, overlap=overlap)
        conv.name = name
        return conv
    if model == "sage":
        return DistributedConv(SAGEConv(in_channels, out_channels), name)
    if model == "gat":
        if last:
            return DistributedConv(GATConv(in_channels, out_channels, heads=1, concat=False), name)
        return DistributedConv(GATConv(in_channels, out_channels // heads, heads=heads), name)
    mlp = MLP([in_channels, out_channels, out_channels], norm=None, act="relu")
    return DistributedConv(GINConv(mlp, train_eps=True), name)


class DistributedGNN(torch.nn.Module):
    """A ``num_layers``-deep GCN / GraphSAGE / GAT / GIN for row-parallel full-batch training.

    Layer :math:`\\ell`: :math:`H^{\\ell} = \\sigma(\\mathrm{conv}_\\ell(\\mathrm{drop}(H^{\\ell-1})))`,
    no activation after the last layer; :math:`\\sigma` is ReLU (ELU for GAT).
    Dropout masks depend on the seed and global node ids only (:class:`NodeDropout`),
    so the output is the same for every number of ranks and every partition.

    Args:
        model: ``'gcn'`` (Kipf & Welling, ICLR 2017), ``'sage'`` (Hamilton et al.,
            NeurIPS 2017), ``'gat'`` (Veličković et al., ICLR 2018) or ``'gin'``
            (Xu et al., ICLR 2019).
        in_channels, hidden_channels, out_channels: feature sizes.
        num_layers: number of convolutions (>= 1).
        dropout: feature dropout before every convolution.
        seed: seeds the dropout masks.
        heads: GAT attention heads in hidden layers (``hidden_channels`` must divide by it).
        overlap: overlap the exchange with the local SpMM in ``DistGCNConv``.

    ``forward(graph)`` reads ``graph.x`` and returns ``[num_owned, out_channels]`` logits.
    """

    def __init__(self, model: str, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 dropout: float = 0.5, seed: int = 0, heads: int = 8, overlap: bool = True) -> None:
        super().__init__()
        self.model = check_option(model, "model", DISTRIBUTED_MODELS)
        in_channels = check_int(in_channels, "in_channels", min_value=1)
        hidden_channels = check_int(hidden_channels, "hidden_channels", min_value=1)
        out_channels = check_int(out_channels, "out_channels", min_value=1)
        num_layers = check_int(num_layers, "num_layers", min_value=1)
        heads = check_int(heads, "heads", min_value=1)
        dropout = check_probability(dropout, "dropout", allow_one=False)
        if model == "gat" and num_layers > 1 and hidden_channels % heads:
            raise ValueError(f"hidden_channels={hidden_channels} must be divisible by heads={heads} for 'gat'")
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.dropouts = torch.nn.ModuleList(NodeDropout(dropout, seed, layer) for layer in range(num_layers))
        self.convs = torch.nn.ModuleList(
            _make_conv(model, sizes[i], sizes[i + 1], heads, i == num_layers - 1, overlap, f"layer{i}")
            for i in range(num_layers))
        self.act = F.elu if model == "gat" else F.relu

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for drop in self.dropouts:
            drop.reset_parameters()

    def forward(self, graph: LocalGraph) -> Tensor:
        owned_ids = graph.global_ids[:graph.num_owned]
        x = graph.x
        for i, (drop, conv) in enumerate(zip(self.dropouts, self.convs)):
            x = conv(drop(x, owned_ids), graph)
            if i < len(self.convs) - 1:
                x = self.act(x)
        return x


def single_process_forward(model: DistributedGNN, x: Tensor, edge_index: Tensor,
                           global_ids: Optional[Tensor] = None) -> Tensor:
    """``model`` evaluated on the whole graph in one process with PyG's own layers.

    ``DistGCNConv`` layers run as ``GCNConv`` with the same weights; wrapped
    layers run as themselves on ``edge_index``; dropout draws the same masks
    (global ids ``arange(N)`` unless given). A distributed run of ``model``
    must reproduce this output on every rank's rows.
    """
    from torch_geometric.nn import GCNConv

    if global_ids is None:
        global_ids = torch.arange(x.shape[0], device=x.device)
    layers: List[torch.nn.Module] = []
    for conv in model.convs:
        if isinstance(conv, DistGCNConv):
            ref = GCNConv(conv.in_channels, conv.out_channels, bias=conv.bias is not None).to(x.device, x.dtype)
            ref.load_state_dict(conv.state_dict())
            # share the parameters so gradients land on the distributed model's tensors
            ref.lin.weight = conv.lin.weight
            if conv.bias is not None:
                ref.bias = conv.bias
            layers.append(ref)
        else:
            layers.append(conv.conv)
    h = x
    for i, (drop, conv) in enumerate(zip(model.dropouts, layers)):
        h = conv(drop(h, global_ids), edge_index)
        if i < len(layers) - 1:
            h = model.act(h)
    return h
