"""Partition a dataset for distributed training and write everything the ranks read.

The partition directory is :mod:`partitioning`'s layout (``FORMAT.md``) with,
per part, the owned rows of the features, the labels and the split masks
(``node_data``: ``train_mask``, ``valid_mask``, ``test_mask``), and in the
manifest's ``extra`` the dataset name, class count and metric. A rank then
needs nothing but its own files: no rank loads the whole dataset to train.

The trained graph is the dataset's ``edge_index`` coalesced and without
self-loops (GCN and GAT add their own); :func:`training_edge_index` returns it,
so a single-process reference can train on exactly the same graph.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from scalegnn.data.validate import check_int, validate_graph

__all__ = ["check_node_dataset", "prepare_partitions", "training_edge_index", "graph_csr"]


def check_node_dataset(dataset: Any) -> None:
    """Raise a clear ``ValueError`` unless ``dataset`` is a node-level ``LoadedDataset`` with one graph."""
    if getattr(dataset, "task", None) != "node" or getattr(dataset, "data", None) is None:
        raise ValueError(f"distributed full-batch training needs a node-level dataset, got "
                         f"{getattr(dataset, 'name', type(dataset).__name__)} ({getattr(dataset, 'task', '?')}-level)")


def training_edge_index(edge_index: Tensor, num_nodes: int) -> Tensor:
    """``edge_index`` coalesced (sorted, no duplicates) and without self-loops."""
    from torch_geometric.utils import coalesce, remove_self_loops

    edge_index, _ = remove_self_loops(edge_index)
    return coalesce(edge_index, num_nodes=num_nodes)


def graph_csr(edge_index: Tensor, num_nodes: int) -> sp.csr_matrix:
    """The pattern the partitioner sees: row ``i`` lists the sources of edges into ``i`` (``edge_index[1]`` = row)."""
    src, dst = edge_index.cpu().numpy()
    return sp.csr_matrix((np.ones(src.shape[0], dtype=np.int8), (dst, src)), shape=(num_nodes, num_nodes))


def _split_masks(split: Dict[str, Tensor], num_nodes: int) -> Dict[str, np.ndarray]:
    masks = {}
    for name in ("train", "valid", "test"):
        mask = np.zeros(num_nodes, dtype=bool)
        ids = split.get(name)
        if ids is not None:
            ids = ids.cpu()
            mask[(ids.nonzero().view(-1) if ids.dtype == torch.bool else ids).numpy()] = True
        masks[f"{name}_mask"] = mask
    return masks


def prepare_partitions(
    dataset: Any,
    k: int,
    out_dir: Union[str, Path],
    *,
    method: str = "hypergraph",
    seed: int = 0,
    imbalance: float = 0.03,
    preset: str = "deterministic",
    overwrite: bool = False,
    features: Optional[Tensor] = None,
    extra: Optional[Dict[str, Any]] = None,
    parts: Optional[Any] = None,
) -> Path:
    """Partition ``dataset`` into ``k`` parts and write the directory the ranks train from.

    Args:
        dataset: a :class:`scalegnn.data.LoadedDataset` of a node-level task.
        k: number of parts (= ranks of the training job); ``1 <= k <= num_nodes``.
        out_dir: the directory to write.
        method: a :func:`partitioning.partition` method (``'hypergraph'``, ``'refined-metis'``,
            ``'metis-volume'``, ``'metis'``, ``'random'``).
        seed, imbalance: passed to the partitioner.
        preset: Mt-KaHyPar preset of the ``'hypergraph'``, ``'refined-metis'`` and
            ``'balanced-volume'`` methods: ``'deterministic'`` (the same seed gives the same parts)
            or, e.g., ``'quality'`` (lower volume, not reproducible with several threads; on the
            power-law arxiv-size graph 0.80x / 0.75x METIS's bytes at k = 2 / 4 against
            0.87x / 0.80x, see ``benchmarks/results/distributed.md``).
        overwrite: replace an existing partition directory.
        features: the features to store (default ``dataset.data.x``), e.g. after normalization.
        extra: more facts for the manifest.
        parts: an explicit ``[num_nodes]`` part-id vector to use instead of running ``method``
            (recorded as method ``'given'``).

    Returns:
        The directory's path.
    """
    from partitioning import partition, write_partitions

    check_node_dataset(dataset)
    data = dataset.data
    validate_graph(data, task="node")
    n = int(data.num_nodes)
    k = check_int(k, "k", min_value=1)
    if k > n:
        raise ValueError(f"cannot split {dataset.name} ({n} vertices) into {k} parts: use at most {n} ranks")
    x = data.x if features is None else features
    if x is None or x.shape[0] != n:
        raise ValueError(f"features must have one row per vertex ({n})")
    edge_index = training_edge_index(data.edge_index, n)
    csr = graph_csr(edge_index, n)
    if parts is not None:
        parts, method = np.asarray(parts, dtype=np.int64), "given"
    elif k > 1:
        parts = partition(csr, k, method=method, imbalance=imbalance, seed=seed, preset=preset)
    else:
        parts = np.zeros(n, dtype=np.int64)
    labels = data.y.cpu().numpy()
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    meta = {"dataset": dataset.name, "num_classes": int(dataset.num_classes), "metric": dataset.metric,
            "num_features": int(x.shape[1]), "seed": seed, "imbalance_bound": imbalance,
            "preset": preset, **(extra or {})}
    return write_partitions(out_dir, csr, parts, features=x.cpu().numpy(), labels=labels, k=k, method=method,
                            extra=meta, overwrite=overwrite, node_data=_split_masks(dataset.split, n),
                            progress=n > 1_000_000)
