r"""DGCNN: graph convolutions, sort pooling and 1-D convolutions, as SEAL's graph classifier.

Zhang, Cui, Neumann & Chen, `"An End-to-End Deep Learning Architecture for Graph
Classification" <https://ojs.aaai.org/index.php/AAAI/article/view/11782>`_ (AAAI
2018), used by SEAL (Zhang & Chen, NeurIPS 2018) to score enclosing subgraphs.
With node inputs :math:`Z^0` (the DRNL encoding, features, embeddings):

.. math::
    Z^{t+1} = \tanh\big(\mathrm{GNN}_t(Z^t, A)\big), \quad t = 0..L,
    \qquad Z^{1:L+1} = [Z^1 \| \dots \| Z^{L+1}]

(the last layer has one channel, the "sort channel"). *Sort pooling* orders
each graph's nodes by that last channel (descending) and keeps the top
:math:`k` rows (zero-padded), giving a :math:`k \times D` matrix per graph,
flattened and read by a 1-D convolution with kernel and stride :math:`D` (one
output per node), max pooling, a second 1-D convolution and an MLP that
outputs one logit per graph (per target link).

``k`` is an integer or a fraction: ``k=0.6`` picks the subgraph size below
which 60% of the given training subgraphs fall (at least 10), as the SEAL code does.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP, GCNConv, GINConv, SAGEConv
from torch_geometric.nn.aggr import SortAggregation

from scalegnn.data.validate import check_int, check_option
from scalegnn.linkpred.node_input import SEALNodeEncoder

__all__ = ["DGCNN", "sort_pool_k", "make_conv"]


def sort_pool_k(num_nodes: Union[Sequence[int], Tensor], fraction: float = 0.6, minimum: int = 10) -> int:
    """The sort-pooling size: the ``fraction`` quantile of the subgraph sizes, at least ``minimum``."""
    sizes = torch.as_tensor(num_nodes).view(-1).sort().values
    if sizes.numel() == 0:
        raise ValueError("sort_pool_k needs at least one subgraph size")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    idx = max(int(math.ceil(fraction * sizes.numel())) - 1, 0)
    return max(minimum, int(sizes[idx]))


CONVS = ("gcn", "gin", "sage")


def make_conv(kind: str, in_channels: int, out_channels: int) -> torch.nn.Module:
    """A ``GCNConv`` (``"gcn"``), a ``GINConv`` with a 2-layer MLP (``"gin"``) or a mean ``SAGEConv`` (``"sage"``)."""
    kind = check_option(kind, "conv", CONVS)
    if kind == "gcn":
        return GCNConv(in_channels, out_channels)
    if kind == "sage":
        return SAGEConv(in_channels, out_channels)
    return GINConv(MLP([in_channels, out_channels, out_channels], norm=None), train_eps=True)


class DGCNN(torch.nn.Module):
    """DGCNN over SEAL batches: ``model(batch) -> logits [num_graphs]``.

    Args:
        encoder: the node-input encoder (:class:`SEALNodeEncoder`).
        hidden_channels: width of the graph convolutions (32 in the paper).
        num_layers: graph convolutions before the 1-channel sort layer (3).
        k: sort-pooling size (an int, at least 10 rounded up to make the 1-D convolutions fit).
        conv: ``"gcn"`` (the paper), ``"gin"`` or ``"sage"``.
        conv1d_channels: channels of the two 1-D convolutions (16, 32).
        mlp_hidden: hidden width of the final MLP (128).
        dropout: dropout before the output layer (0.5).
    """

    def __init__(self, encoder: SEALNodeEncoder, hidden_channels: int = 32, num_layers: int = 3, k: int = 30,
                 conv: str = "gcn", conv1d_channels: Sequence[int] = (16, 32), mlp_hidden: int = 128,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.encoder = encoder
        self.hidden_channels = check_int(hidden_channels, "hidden_channels", min_value=1)
        self.num_layers = check_int(num_layers, "num_layers", min_value=1)
        self.k = max(check_int(k, "k", min_value=1), 10)
        self.conv_kind = check_option(conv, "conv", CONVS)
        in_ch = encoder.out_channels
        self.convs = torch.nn.ModuleList()
        for i in range(self.num_layers):
            self.convs.append(make_conv(conv, in_ch if i == 0 else hidden_channels, hidden_channels))
        self.convs.append(make_conv(conv, hidden_channels, 1))
        total = hidden_channels * self.num_layers + 1
        c1, c2 = conv1d_channels
        self.pool = SortAggregation(self.k)
        self.conv1 = torch.nn.Conv1d(1, c1, total, total)
        self.maxpool = torch.nn.MaxPool1d(2, 2)
        self.conv2 = torch.nn.Conv1d(c1, c2, 5, 1)
        dense = (int((self.k - 2) / 2 + 1) - 5 + 1) * c2
        self.mlp = MLP([dense, mlp_hidden, 1], dropout=dropout, norm=None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        for c in self.convs:
            c.reset_parameters()
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()
        self.mlp.reset_parameters()

    def forward(self, batch: Any) -> Tensor:
        x = self.encoder(batch)
        edge_index = batch.edge_index
        xs = []
        for conv in self.convs:
            x = torch.tanh(conv(x, edge_index))
            xs.append(x)
        x = torch.cat(xs, dim=-1)
        x = self.pool(x, batch.batch, dim_size=batch.num_graphs)  # [B, k * total]
        x = F.relu(self.conv1(x.unsqueeze(1)))
        x = self.maxpool(x)
        x = F.relu(self.conv2(x))
        return self.mlp(x.flatten(1)).view(-1)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.encoder.out_channels}, hidden={self.hidden_channels}, "
                f"layers={self.num_layers}, k={self.k}, conv={self.conv_kind!r})")
