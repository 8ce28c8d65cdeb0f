"""``partition()``: one entry point for the hypergraph, METIS and random partitioners."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

import numpy as np

from partitioning.graph import as_csr, degrees
from partitioning.hypergraph import column_net_hypergraph
from partitioning.metis_backend import metis_partition
from partitioning.mtkahypar_backend import mtkahypar_partition
from partitioning.random_backend import random_partition

__all__ = ["METHODS", "PartitionResult", "partition", "partition_with_info", "resolve_vertex_weights"]

METHODS = ("hypergraph", "refined-metis", "metis-volume", "metis", "random")


@dataclass
class PartitionResult:
    """Parts plus what it took to compute them.

    Attributes:
        parts: ``[n]`` part id per vertex (``int64``).
        k: number of parts.
        method: one of :data:`METHODS`.
        seconds: wall time of the partitioner, model building included.
        info: method-specific facts (``km1`` as reported by Mt-KaHyPar,
            hypergraph size, seconds per stage).
    """

    parts: np.ndarray
    k: int
    method: str
    seconds: float
    info: Dict[str, Any] = field(default_factory=dict)


def resolve_vertex_weights(csr, vertex_weights: Union[None, str, Any]) -> Optional[np.ndarray]:
    """``None``, ``'degree'`` (entries per row + 1: the work of one SpMM row) or an array of positive ints."""
    n = csr.shape[0]
    if vertex_weights is None:
        return None
    if isinstance(vertex_weights, str):
        if vertex_weights != "degree":
            raise ValueError(f"vertex_weights must be None, 'degree' or an array, got {vertex_weights!r}")
        return degrees(csr) + 1
    w = np.asarray(vertex_weights)
    if w.shape != (n,):
        raise ValueError(f"vertex_weights must have shape ({n},), got {w.shape}")
    if not np.issubdtype(w.dtype, np.integer):
        if not np.all(np.mod(w, 1) == 0):
            raise ValueError("vertex_weights must be integers (scale and round real-valued weights first)")
    w = w.astype(np.int64)
    if w.size and w.min() < 1:
        raise ValueError(f"vertex_weights must be positive, got a minimum of {int(w.min())}")
    return w


def partition_with_info(
    graph: Any,
    k: int,
    method: str = "hypergraph",
    imbalance: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    vertex_weights: Union[None, str, Any] = None,
    preset: str = "default",
    vcycles: int = 0,
) -> PartitionResult:
    """Like :func:`partition`, returning a :class:`PartitionResult` with timing and diagnostics."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0.0 <= float(imbalance) < 1.0:
        raise ValueError(f"imbalance must be in [0, 1), got {imbalance}")
    csr = as_csr(graph)
    n = csr.shape[0]
    if k > n:
        raise ValueError(f"k={k} parts for a graph with only {n} vertices; k must be <= n")
    weights = resolve_vertex_weights(csr, vertex_weights)
    start = time.perf_counter()
    info: Dict[str, Any] = {}
    if k == 1:
        parts = np.zeros(n, dtype=np.int64)
    elif method == "random":
        parts = random_partition(n, k, seed)
    elif method in ("metis", "metis-volume"):
        objective = "volume" if method == "metis-volume" else "cut"
        parts = metis_partition(csr, k, imbalance, seed, weights, objective=objective)
    else:
        initial = None
        if method == "refined-metis":
            t0 = time.perf_counter()
            initial = metis_partition(csr, k, imbalance, seed, weights)
            info["metis_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        hypergraph = column_net_hypergraph(csr)
        info.update(build_seconds=time.perf_counter() - t0, nets=hypergraph.num_nets, pins=hypergraph.num_pins)
        if hypergraph.num_pins == 0:  # no edges: any balanced partition has zero volume
            parts = random_partition(n, k, seed) if initial is None else initial
            info["km1"] = 0
        else:
            parts, extra = mtkahypar_partition(hypergraph, k, imbalance, seed, threads, weights, preset,
                                               vcycles=vcycles, initial_parts=initial)
            info.update(extra)
    return PartitionResult(parts=parts, k=k, method=method, seconds=time.perf_counter() - start, info=info)


def partition(
    graph: Any,
    k: int,
    method: str = "hypergraph",
    imbalance: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    vertex_weights: Union[None, str, Any] = None,
    preset: str = "default",
    vcycles: int = 0,
) -> np.ndarray:
    """Split the vertices of ``graph`` into ``k`` balanced parts for row-parallel training.

    Args:
        graph: adjacency pattern: a ``scipy.sparse`` matrix or ``(indptr, indices)``
            (see :func:`partitioning.graph.as_csr`).
        k: number of parts, ``1 <= k <= n``.
        method: ``'hypergraph'`` minimizes the exact communication volume
            (connectivity−1 of the column-net model) with Mt-KaHyPar;
            ``'refined-metis'`` starts from METIS's partition and lowers its
            exact volume with Mt-KaHyPar V-cycles (never above METIS's volume;
            1.5-2.5x faster than ``'hypergraph'``, within about 1% of its
            volume on power-law graphs and up to ~5% above it on some real
            graphs; see ``benchmarks/results/partitioning.md``);
            ``'metis-volume'`` runs METIS k-way with its own total-volume
            objective (the same quantity, optimized on the graph; fast, but
            typically 5-20% above ``'hypergraph'`` and occasionally worse than
            edge-cut METIS);
            ``'metis'`` minimizes the edge cut of :math:`A + A^T` with METIS
            (what PyG's ``ClusterData`` does);
            ``'random'`` is a balanced random assignment.
        imbalance: allowed load imbalance :math:`\\epsilon` (``0.03`` = 3%).
        seed: random seed of the partitioner.
        threads: Mt-KaHyPar threads (default: all available); METIS is serial.
        vertex_weights: ``None`` (balance vertex counts), ``'degree'``
            (balance SpMM work: entries per row + 1) or ``[n]`` positive ints.
            Ignored by ``'random'``.
        preset: Mt-KaHyPar preset (``'default'``, ``'quality'``, ``'deterministic'``, ...).
        vcycles: extra Mt-KaHyPar V-cycles that refine the hypergraph partition
            further (never worse; worth it at small ``k``). ``'hypergraph'`` and
            ``'refined-metis'`` only; the latter always runs at least one.

    Returns:
        ``[n]`` ``int64`` part ids in ``[0, k)``.
    """
    return partition_with_info(graph, k, method, imbalance, seed, threads, vertex_weights, preset, vcycles).parts
