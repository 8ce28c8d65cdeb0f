"""``DistributedConv``: run an ordinary PyG convolution row-parallel, unchanged.

Any PyG layer that accepts bipartite input ``((x_src, x_dst), edge_index,
size=(num_src, num_dst))`` — ``SAGEConv``, ``GATConv``, ``GINConv``,
``GraphConv``, ``GATv2Conv``, ``TransformerConv``, ... — computes a rank's
owned output rows from the local sources ``[owned | halo]`` and the owned
targets. The wrapper fetches the halo with :func:`halo_exchange` and calls the
layer on the local bipartite graph, so the output equals the layer on the whole
graph (up to floating-point summation order), and its gradients flow back to
the rows' owners. Because the owned rows come first among the local sources,
self-loops a layer adds (``GATConv``) connect each owned row to itself.
"""
from __future__ import annotations

import inspect

import torch
from torch import Tensor

from scalegnn.distributed.halo_exchange import halo_exchange
from scalegnn.distributed.local_graph import LocalGraph, check_layer_input

__all__ = ["DistributedConv"]


class DistributedConv(torch.nn.Module):
    """Wrap a PyG message-passing layer for row-parallel training (see module docstring).

    Args:
        conv: the layer; its parameters stay in ``self.conv`` (state dicts
            are the layer's own under the ``conv.`` prefix).
        name: the exchange's name in the communication statistics.

    Raises:
        TypeError: ``conv`` is not a PyG ``MessagePassing`` layer taking ``(x_src, x_dst)``.
        ValueError: ``conv`` draws dropout from the process RNG (e.g. ``GATConv(dropout>0)``),
            whose masks would depend on the partition.
    """

    def __init__(self, conv: torch.nn.Module, name: str = "conv") -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv, MessagePassing

        if not isinstance(conv, MessagePassing):
            raise TypeError(f"DistributedConv wraps a PyG MessagePassing layer, got {type(conv).__name__}")
        if isinstance(conv, GCNConv):
            raise TypeError("GCNConv does not take bipartite input; use scalegnn.distributed.DistGCNConv, "
                            "which normalizes by the global degrees")
        attention_dropout = getattr(conv, "dropout", 0.0)
        if isinstance(attention_dropout, float) and attention_dropout > 0:
            raise ValueError(f"{type(conv).__name__}(dropout={attention_dropout}) draws its dropout masks from the "
                             "process RNG, so results would depend on the partition; set dropout=0 in the layer and "
                             "use NodeDropout on its input")
        self.conv = conv
        self.name = name
        self._takes_size = "size" in inspect.signature(conv.forward).parameters

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()

    def forward(self, x: Tensor, graph: LocalGraph) -> Tensor:
        check_layer_input(self.name, x, graph)
        x_local = halo_exchange(x, graph.plan, self.name)
        if self._takes_size:
            return self.conv((x_local, x), graph.edge_index, size=(graph.num_local, graph.num_owned))
        return self.conv((x_local, x), graph.edge_index)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.conv})"
