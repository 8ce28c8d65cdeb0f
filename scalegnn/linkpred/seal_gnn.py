r"""A plain GCN / GIN head for SEAL subgraphs, with target-pair or whole-graph pooling.

The alternative to DGCNN used by the SEAL-OGB code (Zhang & Chen, NeurIPS
2018; Zhang et al., "Labeling Trick", NeurIPS 2021): :math:`L` graph
convolutions with ReLU and dropout on the DRNL-encoded node inputs, then a
readout per subgraph:

* ``"target"``: :math:`h_x \odot h_y`, the product of the two target nodes'
  representations (the "center pooling" of SEAL-OGB's GCN);
* ``"sum"`` / ``"mean"``: over all nodes of the subgraph (GIN's readout,
  with every layer's output concatenated for GIN as in Xu et al., ICLR 2019);

and an MLP giving one logit per target link.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP, global_add_pool, global_mean_pool

from scalegnn.data.validate import check_float, check_int, check_option
from scalegnn.linkpred.dgcnn import CONVS, make_conv
from scalegnn.linkpred.node_input import SEALNodeEncoder

__all__ = ["SEALGNN"]


class SEALGNN(torch.nn.Module):
    """``model(batch) -> logits [num_graphs]`` with GCN or GIN layers.

    Args:
        encoder: the node-input encoder.
        hidden_channels: layer width.
        num_layers: graph convolutions.
        conv: ``"gcn"``, ``"gin"`` or ``"sage"``.
        pooling: ``"target"``, ``"sum"`` or ``"mean"``.
        dropout: dropout after each layer.
    """

    def __init__(self, encoder: SEALNodeEncoder, hidden_channels: int = 32, num_layers: int = 3,
                 conv: str = "gcn", pooling: str = "target", dropout: float = 0.5) -> None:
        super().__init__()
        self.encoder = encoder
        self.conv_kind = check_option(conv, "conv", CONVS)
        self.pooling = check_option(pooling, "pooling", ("target", "sum", "mean"))
        self.dropout = check_float(dropout, "dropout", min_value=0.0, max_value=1.0, max_open=True)
        hidden_channels = check_int(hidden_channels, "hidden_channels", min_value=1)
        num_layers = check_int(num_layers, "num_layers", min_value=1)
        self.convs = torch.nn.ModuleList(
            make_conv(conv, encoder.out_channels if i == 0 else hidden_channels, hidden_channels)
            for i in range(num_layers))
        readout = hidden_channels * (num_layers if conv == "gin" else 1)
        self.mlp = MLP([readout, hidden_channels, 1], dropout=self.dropout, norm=None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        for c in self.convs:
            c.reset_parameters()
        self.mlp.reset_parameters()

    def forward(self, batch: Any) -> Tensor:
        x = self.encoder(batch)
        xs = []
        for conv in self.convs:
            x = F.dropout(F.relu(conv(x, batch.edge_index)), p=self.dropout, training=self.training)
            xs.append(x)
        h = torch.cat(xs, dim=-1) if self.conv_kind == "gin" else x
        if self.pooling == "target":
            first = batch.ptr[:-1]
            h = h[first] * h[first + 1]
        elif self.pooling == "sum":
            h = global_add_pool(h, batch.batch, size=batch.num_graphs)
        else:
            h = global_mean_pool(h, batch.batch, size=batch.num_graphs)
        return self.mlp(h).view(-1)
