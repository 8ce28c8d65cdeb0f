"""One rank's share of a partitioned graph: its rows, its halo, its data and its exchange plan.

Read with :func:`load_local_graph` from a directory written by
:func:`scalegnn.distributed.prepare_partitions` (the :mod:`partitioning`
layout plus features, labels and split masks per part). Everything here is
sized by the rank's own rows and halo: ``O((num_owned + num_halo) * F + nnz)``
memory, never a tensor over all ``N`` vertices.

Local ids: ``0 .. num_owned-1`` are the owned vertices (increasing global id),
``num_owned .. num_local-1`` the halo, grouped by owner rank. The local graph
is bipartite, sources ``[owned | halo]`` to targets ``owned``:
``edge_index[0]`` are local source ids, ``edge_index[1]`` owned target ids
(PyG's ``source_to_target`` flow).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from scalegnn.distributed.context import DistContext, agree
from scalegnn.distributed.halo_exchange import ExchangePlan

__all__ = ["LocalGraph", "check_layer_input", "load_local_graph", "SPLITS"]

SPLITS = ("train", "valid", "test")


@dataclass
class LocalGraph:
    """The rows a rank owns and the halo rows it reads.

    Attributes:
        num_owned, num_halo: row counts; ``num_local = num_owned + num_halo``.
        num_nodes: vertices of the whole graph (a number, not a tensor).
        global_ids: ``[num_local]`` global id of every local id (for dropout masks and output order).
        edge_index: ``[2, nnz]`` local edges ``source -> owned target``.
        global_degree: ``[num_local]`` in-degree of every local vertex in the whole graph.
        x: ``[num_owned, F]`` owned features; y: owned labels.
        masks: ``{"train"|"valid"|"test": [num_owned] bool}``.
        split_sizes: global number of nodes in each split.
        plan: the :class:`ExchangePlan`.
        meta: the partition directory's manifest ``extra`` (dataset, classes, metric, ...).
    """

    num_owned: int
    num_halo: int
    num_nodes: int
    global_ids: Tensor
    edge_index: Tensor
    global_degree: Tensor
    x: Tensor
    y: Tensor
    masks: Dict[str, Tensor]
    split_sizes: Dict[str, int]
    plan: ExchangePlan
    meta: Dict = field(default_factory=dict)
    _cache: Dict = field(default_factory=dict, repr=False)

    @property
    def num_local(self) -> int:
        return self.num_owned + self.num_halo

    @property
    def device(self) -> torch.device:
        return self.x.device

    def gcn_adjacency(self, dtype: torch.dtype) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        r"""The owned rows of :math:`\hat D^{-1/2}(A+I)\hat D^{-1/2}` split by column block, with transposes.

        Returns CSR tensors ``(inner, halo, inner_t, halo_t)``: ``inner`` is
        ``[num_owned, num_owned]`` (columns owned here, self-loops included),
        ``halo`` is ``[num_owned, num_halo]``; ``*_t`` are their transposes
        (kept explicitly so backward SpMMs do not re-sort the edges).
        :math:`\hat d_i` is the global in-degree plus one, as in ``GCNConv``.
        """
        key = ("gcn", dtype)
        if key not in self._cache:
            src, dst = self.edge_index
            deg_inv_sqrt = (self.global_degree.to(dtype) + 1).pow(-0.5)
            loops = torch.arange(self.num_owned, device=self.device)
            src = torch.cat([src, loops])
            dst = torch.cat([dst, loops])
            value = deg_inv_sqrt[src] * deg_inv_sqrt[dst]
            inner = src < self.num_owned
            mats = []
            for keep, ncols, offset in ((inner, self.num_owned, 0), (~inner, self.num_halo, self.num_owned)):
                rows, cols, vals = dst[keep], src[keep] - offset, value[keep]
                shape = (self.num_owned, ncols)
                mats.append(_csr(rows, cols, vals, shape))
                mats.append(_csr(cols, rows, vals, shape[::-1]))
            self._cache[key] = (mats[0], mats[2], mats[1], mats[3])
        return self._cache[key]

    def to(self, device: Union[str, torch.device]) -> "LocalGraph":
        """A copy on ``device`` (the exchange plan moves with it)."""
        device = torch.device(device)
        plan = self.plan
        moved = ExchangePlan(plan.rank, plan.world_size, plan.num_owned, np.asarray(plan.send_ptr),
                             plan.send_index.cpu().numpy(), np.asarray(plan.recv_ptr), device, plan.transport)
        return LocalGraph(self.num_owned, self.num_halo, self.num_nodes, self.global_ids.to(device),
                          self.edge_index.to(device), self.global_degree.to(device), self.x.to(device),
                          self.y.to(device), {k: v.to(device) for k, v in self.masks.items()},
                          dict(self.split_sizes), moved, dict(self.meta))


def check_layer_input(layer: str, x: Tensor, graph: "LocalGraph") -> None:
    """The checks every row-parallel layer makes on ``(x, graph)``: a :class:`LocalGraph` and one row per owned vertex."""
    if not isinstance(graph, LocalGraph):
        raise TypeError(f"{layer} takes (x, local_graph) with a scalegnn.distributed.LocalGraph "
                        f"(from load_local_graph), got {type(graph).__name__}")
    if x.shape[0] != graph.num_owned:
        raise ValueError(f"{layer} got {x.shape[0]} rows, this rank owns {graph.num_owned}")


def _csr(rows: Tensor, cols: Tensor, vals: Tensor, shape: Tuple[int, int]) -> Tensor:
    order = torch.argsort(rows * max(shape[1], 1) + cols)
    rows, cols, vals = rows[order], cols[order], vals[order]
    crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=shape[0]), 0)
    return torch.sparse_csr_tensor(crow, cols, vals, shape, check_invariants=True)


def load_local_graph(
    ctx: DistContext,
    partition_dir: Union[str, Path],
    *,
    dataset: Optional[str] = None,
    fingerprint: Optional[str] = None,
    transport: str = "p2p",
    dtype: torch.dtype = torch.float32,
    verify: bool = True,
) -> LocalGraph:
    """Read this rank's part of ``partition_dir`` (every rank calls it; failures reach every rank).

    Args:
        ctx: the run's :class:`DistContext`; its ``world_size`` must equal the directory's ``k``.
        partition_dir: written by :func:`scalegnn.distributed.prepare_partitions`.
        dataset: if given, must be the dataset the directory was made from (its
            canonical name or, when recorded, the name it was requested by: ``extra["dataset_arg"]``).
        fingerprint: if given, the graph fingerprint the directory must carry.
        transport: ``"p2p"`` or ``"alltoall"`` (see :mod:`scalegnn.distributed.halo_exchange`).
        dtype: floating dtype of the features.
        verify: check every file's SHA-256 (sizes are always checked).

    Raises:
        DistributedSetupError: on every rank when any rank's part is missing,
            corrupted, made for another graph, dataset or number of ranks.
    """
    from partitioning import read_partitions

    def read() -> LocalGraph:
        part = read_partitions(partition_dir, ctx.rank, fingerprint=fingerprint, k=ctx.world_size, verify=verify)
        extra = part.manifest.get("extra") or {}
        names = {extra.get("dataset"), extra.get("dataset_arg")} - {None}
        if dataset is not None and names and dataset not in names:
            raise ValueError(f"{partition_dir} was made from dataset {extra.get('dataset')!r}, not {dataset!r}; "
                             "partition this dataset again or pass its own --partitions directory")
        if part.features is None or part.labels is None:
            raise ValueError(f"{partition_dir} holds no features/labels per part; write it with "
                             "scalegnn.distributed.prepare_partitions (or the distributed example), "
                             "not the structure-only `scalegnn partition`")
        missing = [f"{s}_mask" for s in SPLITS if f"{s}_mask" not in part.node_data]
        if missing:
            raise ValueError(f"{partition_dir} lacks the split arrays {missing}; write it with prepare_partitions")
        return _to_local_graph(part, extra, transport, dtype)

    graph = agree(ctx, read, f"reading partition directory {partition_dir}")
    sizes = ctx.all_reduce_sum([float(graph.masks[s].sum()) for s in SPLITS])
    graph.split_sizes = {s: int(v) for s, v in zip(SPLITS, sizes)}
    return graph.to(ctx.device) if ctx.device.type != "cpu" else graph


def _to_local_graph(part, extra: Dict, transport: str, dtype: torch.dtype) -> LocalGraph:
    n_own, n_halo = part.num_owned, part.num_halo
    rows = np.repeat(np.arange(n_own, dtype=np.int64), np.diff(part.indptr))
    edge_index = torch.from_numpy(np.stack([part.indices.astype(np.int64), rows]))
    x = torch.from_numpy(np.asarray(part.features)).to(dtype)
    if not torch.isfinite(x).all():
        raise ValueError("the features of this part hold NaN or inf values")
    y = torch.from_numpy(np.asarray(part.labels))
    y = y.to(dtype) if torch.is_floating_point(y) else y.long()
    masks = {s: torch.from_numpy(np.asarray(part.node_data[f"{s}_mask"])).bool() for s in SPLITS}
    plan = ExchangePlan(part.rank, part.k, n_own, part.send_ptr, part.send_local, part.recv_ptr,
                        transport=transport)
    return LocalGraph(n_own, n_halo, part.num_nodes, torch.from_numpy(part.local_to_global.astype(np.int64)),
                      edge_index, torch.from_numpy(part.global_degree.astype(np.int64)), x, y, masks, {}, plan,
                      dict(extra))
