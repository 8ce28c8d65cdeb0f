"""``DistGCNConv``: PyG's ``GCNConv`` on a rank's rows, normalized by the whole graph's degrees."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import zeros

from scalegnn.data.validate import check_int
from scalegnn.distributed.halo_spmm import halo_spmm
from scalegnn.distributed.local_graph import LocalGraph, check_layer_input

__all__ = ["DistGCNConv"]


class DistGCNConv(torch.nn.Module):
    r"""The graph convolution of Kipf & Welling ("Semi-Supervised Classification with Graph
    Convolutional Networks", ICLR 2017), computed row-parallel across ranks:

    .. math::
        X'_{V_p} = \left(\hat D^{-1/2} \hat A \hat D^{-1/2}\right)_{V_p,:} X \Theta + b,
        \qquad \hat A = A + I,\ \hat D_{ii} = 1 + \sum_j A_{ij},

    where rank :math:`p` holds only the rows :math:`V_p` of :math:`X` and
    receives its halo rows of :math:`X\Theta` (transform first, then exchange:
    ``out_channels`` columns travel) through an overlapped halo SpMM
    (:mod:`scalegnn.distributed.halo_spmm`). The degrees are the *global*
    ones, read from the partition, so the result equals ``GCNConv`` on the
    whole graph (self-loops added as ``add_remaining_self_loops`` does on a
    loop-free graph). Parameters are named as in ``GCNConv`` (``lin.weight``,
    ``bias``), so state dicts load into either.

    Args:
        in_channels, out_channels: feature sizes.
        bias: add a learnable bias.
        overlap: hide the exchange behind the inner SpMM (``False``: plain-autograd twin).

    Shapes:
        input ``x`` ``[num_owned, in_channels]`` and a :class:`LocalGraph`;
        output ``[num_owned, out_channels]``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, overlap: bool = True) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", min_value=1)
        self.out_channels = check_int(out_channels, "out_channels", min_value=1)
        self.overlap = bool(overlap)
        self.lin = Linear(self.in_channels, self.out_channels, bias=False, weight_initializer="glorot")
        self.bias = Parameter(torch.empty(self.out_channels)) if bias else None
        self.name = "gcn"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        if self.bias is not None:
            zeros(self.bias)

    def forward(self, x: Tensor, graph: LocalGraph) -> Tensor:
        check_layer_input(type(self).__name__, x, graph)
        h = self.lin(x)
        out = halo_spmm(h, graph.plan, graph.gcn_adjacency(h.dtype), self.name, self.overlap)
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"
