"""Synthetic node-classification graphs at any size (torch wrapper of :mod:`partitioning.synthetic`).

Names understood by :func:`load_synthetic` (and :func:`scalegnn.data.load_dataset`):

* ``synthetic-<n>-<m>``: power-law degrees (:math:`\\gamma = 2.5`, Chung–Lu
  weights) with 40 planted communities (80% of edge endpoints drawn inside
  the community); the community is the label, like ogbn-arxiv's 40 classes.
* ``synthetic-sbm-<n>-<m>``: the same communities with equal expected degrees
  (a classic stochastic block model).

``n`` is the node count and ``m`` the number of directed edges (both
directions counted, as PyG's ``num_edges``); both accept ``k``/``M``/``G``
suffixes, e.g. ``synthetic-2.4M-60M`` (about ogbn-products' node count). The
graph is the one :mod:`partitioning` builds for the same name and seed, so a
partition directory written by ``python -m partitioning --dataset synthetic-...``
matches it (same fingerprint).

Features are ``float32`` Gaussians with class-dependent means (128 channels by
default), generated in chunks; the split is a random 60/20/20 node split.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from partitioning.synthetic import (
    DEFAULT_NUM_BLOCKS,
    SYNTHETIC_KINDS,
    parse_synthetic_name,
    synthetic_features,
    synthetic_graph_blocks,
)
from scalegnn.data.loaded import LoadedDataset
from scalegnn.data.validate import check_float, check_int, check_option

__all__ = ["load_synthetic", "random_node_split", "synthetic_graph"]

DEFAULT_NUM_FEATURES = 128


def synthetic_graph(
    num_nodes: int,
    num_edges: int,
    num_features: int = DEFAULT_NUM_FEATURES,
    num_classes: int = DEFAULT_NUM_BLOCKS,
    kind: str = "powerlaw",
    seed: int = 0,
) -> Data:
    """A PyG ``Data(x, edge_index, y)`` with planted communities as labels.

    Args:
        num_nodes: nodes, ``>= 1``.
        num_edges: directed edges (both directions counted), even, ``>= 0``;
            realized exactly (see :func:`partitioning.synthetic.powerlaw_sbm_graph`).
        num_features: feature channels, ``>= 1``.
        num_classes: communities = classes, ``1 <= num_classes <= num_nodes``.
        kind: ``'powerlaw'`` (degree-corrected, :math:`\\gamma = 2.5`) or ``'sbm'`` (equal expected degrees).
        seed: equal seeds give identical graphs, features and labels.

    Returns:
        ``Data`` with ``x [n, num_features]`` (``float32``), ``edge_index [2, m]``
        (``int64``, symmetric, no self-loops, sorted by source then target) and
        ``y [n]`` (``int64``).
    """
    check_option(kind, "kind", SYNTHETIC_KINDS)
    num_nodes = check_int(num_nodes, "num_nodes", min_value=1)
    num_edges = check_int(num_edges, "num_edges", min_value=0)
    if num_edges % 2:
        raise ValueError(f"num_edges counts both directions of each edge: it must be even and >= 0, got {num_edges}")
    if num_edges > num_nodes * (num_nodes - 1):
        raise ValueError(f"num_edges={num_edges} exceeds the {num_nodes * (num_nodes - 1)} directed edges a simple "
                         f"graph on {num_nodes} nodes can have")
    num_features = check_int(num_features, "num_features", min_value=1)
    num_classes = check_int(num_classes, "num_classes", min_value=1, max_value=num_nodes)
    seed = check_int(seed, "seed", min_value=0)
    adj, blocks = synthetic_graph_blocks(kind, num_nodes, num_edges, num_blocks=num_classes, seed=seed)
    x = synthetic_features(blocks, num_features, num_classes=num_classes, seed=seed)
    edge_index = torch.empty((2, adj.nnz), dtype=torch.long)
    edge_index[0] = torch.repeat_interleave(torch.arange(num_nodes), torch.from_numpy(np.diff(adj.indptr).astype(np.int64)))
    edge_index[1] = torch.from_numpy(adj.indices)
    del adj
    return Data(x=torch.from_numpy(x), edge_index=edge_index, y=torch.from_numpy(blocks), num_nodes=num_nodes)


def random_node_split(num_nodes: int, seed: int = 0, fractions=(0.6, 0.2, 0.2)) -> Dict[str, Tensor]:
    """Disjoint ``train``/``valid``/``test`` node ids covering all nodes (sorted ``int64`` tensors).

    ``fractions`` are three non-negative numbers summing to 1 (train, valid, test).
    """
    num_nodes = check_int(num_nodes, "num_nodes", min_value=1)
    seed = check_int(seed, "seed", min_value=0)
    try:
        fractions = tuple(check_float(f, "each of fractions", min_value=0.0, max_value=1.0) for f in fractions)
    except TypeError as err:
        raise TypeError(f"fractions must be three numbers (train, valid, test), got {fractions!r}: {err}") from None
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three numbers (train, valid, test) in [0, 1] summing to 1, "
                         f"got {fractions}")
    perm = np.random.default_rng([seed, 2]).permutation(num_nodes)
    n_train = int(round(fractions[0] * num_nodes))
    n_valid = int(round(fractions[1] * num_nodes))
    cuts = {"train": perm[:n_train], "valid": perm[n_train:n_train + n_valid], "test": perm[n_train + n_valid:]}
    return {k: torch.from_numpy(np.sort(v).astype(np.int64)) for k, v in cuts.items()}


def load_synthetic(name: str, seed: int = 0) -> LoadedDataset:
    """Load ``synthetic-<n>-<m>`` or ``synthetic-sbm-<n>-<m>`` (see the module docstring).

    Returns:
        A node-classification :class:`~scalegnn.data.LoadedDataset`: ``data`` a
        PyG ``Data(x, edge_index, y)``, a random 60/20/20 split, metric ``'acc'``,
        ``min(40, n)`` classes and 128 feature channels.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string like 'synthetic-10k-100k', got {name!r} ({type(name).__name__})")
    seed = check_int(seed, "seed", min_value=0)
    kind, n, m = parse_synthetic_name(name)
    num_classes = min(DEFAULT_NUM_BLOCKS, n)
    data = synthetic_graph(n, m, DEFAULT_NUM_FEATURES, num_classes, kind=kind, seed=seed)
    return LoadedDataset(
        name=name, task="node", data=data, split=random_node_split(n, seed), num_features=DEFAULT_NUM_FEATURES,
        num_classes=num_classes, metric="acc",
        info={"kind": kind, "num_nodes": n, "num_edges": m, "seed": seed, "source": "generated"},
    )
