"""Node inputs of a SEAL subgraph: DRNL label encoding, node features and learned node embeddings.

SEAL (Zhang & Chen, "Link Prediction Based on Graph Neural Networks",
NeurIPS 2018) builds each subgraph node's input by concatenating

* its DRNL structural label, one-hot (``max_z`` classes) or through a
  learned embedding table;
* its explicit features ``x`` (when the graph has them), and
* a learned *latent* embedding of its original node id (when asked),

so one GNN combines structural, latent and explicit information.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.validate import check_int, check_option

__all__ = ["SEALNodeEncoder"]


class SEALNodeEncoder(torch.nn.Module):
    """``[z-encoding || x || node embedding]`` for every node of a SEAL batch.

    Args:
        max_z: number of DRNL label values encoded; larger labels share the
            last one (``min(z, max_z - 1)``).
        label_mode: ``"onehot"`` or ``"embedding"``.
        label_dim: embedding width when ``label_mode="embedding"``.
        num_features: width of ``batch.x`` (0: no features).
        num_nodes: nodes of the whole graph, needed for learned node embeddings.
        node_embedding_dim: width of the learned node embeddings (0: none).

    Shapes:
        input: a batch with ``z [N]`` and, as configured, ``x [N, F]`` and ``node_id [N]``;
        output: ``[N, out_channels]``.
    """

    def __init__(self, max_z: int = 1000, label_mode: str = "onehot", label_dim: int = 32,
                 num_features: int = 0, num_nodes: Optional[int] = None, node_embedding_dim: int = 0) -> None:
        super().__init__()
        self.max_z = check_int(max_z, "max_z", min_value=2)
        self.label_mode = check_option(label_mode, "label_mode", ("onehot", "embedding"))
        self.num_features = check_int(num_features, "num_features", min_value=0)
        self.node_embedding_dim = check_int(node_embedding_dim, "node_embedding_dim", min_value=0)
        self.label_embedding = (torch.nn.Embedding(self.max_z, check_int(label_dim, "label_dim", min_value=1))
                                if self.label_mode == "embedding" else None)
        self.node_embedding = None
        if self.node_embedding_dim:
            if num_nodes is None:
                raise ValueError("node_embedding_dim > 0 needs num_nodes (the size of the embedding table)")
            self.node_embedding = torch.nn.Embedding(check_int(num_nodes, "num_nodes", min_value=1),
                                                     self.node_embedding_dim)
        self.reset_parameters()

    @property
    def out_channels(self) -> int:
        width = self.max_z if self.label_embedding is None else self.label_embedding.embedding_dim
        return width + self.num_features + self.node_embedding_dim

    def reset_parameters(self) -> None:
        if self.label_embedding is not None:
            self.label_embedding.reset_parameters()
        if self.node_embedding is not None:
            torch.nn.init.xavier_uniform_(self.node_embedding.weight)

    def forward(self, batch: Any) -> Tensor:
        z = batch.z.clamp(max=self.max_z - 1)
        parts = [F.one_hot(z, self.max_z).float() if self.label_embedding is None else self.label_embedding(z)]
        if self.num_features:
            x = getattr(batch, "x", None)
            if x is None or x.size(-1) != self.num_features:
                got = None if x is None else x.size(-1)
                raise ValueError(f"the encoder expects batch.x with {self.num_features} features, got {got}")
            parts.append(x.float())
        if self.node_embedding is not None:
            parts.append(self.node_embedding(batch.node_id))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(max_z={self.max_z}, label_mode={self.label_mode!r}, "
                f"num_features={self.num_features}, node_embedding_dim={self.node_embedding_dim})")
