"""``partition()``: one entry point for the hypergraph, METIS and random partitioners.

Every method ends with the same balance check (:mod:`partitioning.balance`):
a partition outside the imbalance bound is repaired by moving vertices, so no
method returns one (``info['rebalanced_moves']`` counts the moves).

Reproducibility: the same graph, ``k``, method, seed, imbalance and vertex
weights give the same parts on every run, for every method, with the default
``preset='deterministic'`` (Mt-KaHyPar's deterministic mode, Mt-KaHyPar-SDet,
whose result does not depend on the thread count either). METIS, the balance
repair and ``random`` are deterministic by seed. The other Mt-KaHyPar presets
(``'default'``, ``'quality'``, ...) search in parallel and may differ from run
to run when ``threads > 1``; ``info['deterministic']`` says which case a
result is in. Timings are never reproducible.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

import numpy as np

from partitioning.balance import enforce_balance
from partitioning.balanced_volume import balanced_volume_partition
from partitioning.graph import _to_numpy, as_csr, degrees
from partitioning.hypergraph import column_net_hypergraph
from partitioning.metis_backend import metis_partition
from partitioning.mtkahypar_backend import DETERMINISTIC_PRESETS, PRESETS, mtkahypar_partition
from partitioning.random_backend import random_partition
from partitioning.validation import check_choice, check_fraction, check_int, check_seed, check_threads

__all__ = ["METHODS", "PartitionResult", "partition", "partition_with_info", "resolve_vertex_weights"]

DEFAULT_PRESET = "deterministic"

METHODS = ("hypergraph", "refined-metis", "balanced-volume", "metis-volume", "metis", "random")


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
    """``None``, ``'degree'`` (entries per row + 1: the work of one SpMM row) or ``[n]`` positive integers.

    Arrays may be numpy arrays, lists or tensors (read through ``.numpy()``);
    integral floats are accepted, fractional ones, NaN/inf, zeros and
    negatives are not.
    """
    n = csr.shape[0]
    if vertex_weights is None:
        return None
    if isinstance(vertex_weights, str):
        check_choice("vertex_weights", vertex_weights, ("degree",))
        return degrees(csr) + 1
    try:
        w = _to_numpy(vertex_weights)
    except Exception as e:
        raise TypeError(f"vertex_weights must be None, 'degree' or an array of n integers ({e})") from None
    if w.dtype == object or w.dtype.kind in "USV":
        raise TypeError(f"vertex_weights must be numeric, got dtype {w.dtype}")
    if w.dtype == bool:
        raise TypeError("vertex_weights must be integers, got a boolean array")
    if w.shape != (n,):
        raise ValueError(f"vertex_weights must have shape ({n},) (one weight per vertex), got {w.shape}")
    if not np.issubdtype(w.dtype, np.integer):
        if not np.all(np.isfinite(w)):
            raise ValueError(f"vertex_weights contains NaN or inf (at vertex {int(np.flatnonzero(~np.isfinite(w))[0])})")
        if not np.all(np.mod(w, 1) == 0):
            raise ValueError("vertex_weights must be integers (scale and round real-valued weights first)")
    if w.size and w.min() < 1:
        first = int(np.flatnonzero(w < 1)[0])
        raise ValueError(f"vertex_weights must be positive, got {w[first].item()!r} at vertex {first}")
    if w.size and float(w.max()) * n >= 2**62:
        raise ValueError("vertex_weights are too large: their sum must fit in 64 bits")
    return w.astype(np.int64)


def _is_deterministic(method: str, preset: str) -> bool:
    if method in ("metis", "metis-volume", "random"):
        return True
    return preset in DETERMINISTIC_PRESETS  # other presets: reproducible only by luck (observed with 1 thread)


def partition_with_info(
    graph: Any,
    k: int,
    method: str = "hypergraph",
    imbalance: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    vertex_weights: Union[None, str, Any] = None,
    preset: str = DEFAULT_PRESET,
    vcycles: int = 0,
    progress: bool = False,
    *,
    core_fraction: Optional[float] = None,
    max_load_factor: float = 1.0,
    volume_slack: float = 0.02,
) -> PartitionResult:
    """Like :func:`partition`, returning a :class:`PartitionResult` with timing and diagnostics.

    ``info`` holds, besides the method's own facts, ``deterministic`` (whether
    the same arguments always give these parts) and ``rebalanced_moves``
    (vertices moved by the final balance repair; ``0`` when the method's
    partition was within the bound). ``progress=True`` prints one line per
    stage to stderr (the Mt-KaHyPar stages of a big graph run for minutes).
    """
    method = check_choice("method", method, METHODS)
    k = check_int("k", k, 1)
    imbalance = check_fraction("imbalance", imbalance)
    seed = check_seed(seed)
    threads = check_threads(threads)
    preset = check_choice("preset", preset, PRESETS)
    vcycles = check_int("vcycles", vcycles, 0)
    if core_fraction is not None:
        core_fraction = check_fraction("core_fraction", core_fraction, 1e-9, 1.0 + 1e-12)
    max_load_factor = check_fraction("max_load_factor", max_load_factor, 1e-9, float("inf"))
    volume_slack = check_fraction("volume_slack", volume_slack, 0.0, float("inf"))
    csr = as_csr(graph)
    n = csr.shape[0]
    if k > n:
        raise ValueError(f"k={k} parts for a graph with only {n} vertices; k must be <= n")
    weights = resolve_vertex_weights(csr, vertex_weights)
    say = _stage_printer(progress)
    start = time.perf_counter()
    info: Dict[str, Any] = {}
    if k == 1:
        parts = np.zeros(n, dtype=np.int64)
    elif method == "random":
        parts = random_partition(n, k, seed)
    elif method == "balanced-volume":
        parts, extra = balanced_volume_partition(csr, k, imbalance, seed, threads, weights, preset, vcycles,
                                                 core_fraction, max_load_factor, volume_slack, say)
        info.update(extra)
    elif method in ("metis", "metis-volume"):
        objective = "volume" if method == "metis-volume" else "cut"
        say(f"METIS ({'volume' if objective == 'volume' else 'edge-cut'} objective)")
        parts = metis_partition(csr, k, imbalance, seed, weights, objective=objective)
    else:
        initial = None
        if method == "refined-metis":
            say("METIS (edge cut), the starting partition")
            t0 = time.perf_counter()
            initial = metis_partition(csr, k, imbalance, seed, weights)
            info["metis_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("building the column-net hypergraph")
        hypergraph = column_net_hypergraph(csr)
        info.update(build_seconds=time.perf_counter() - t0, nets=hypergraph.num_nets, pins=hypergraph.num_pins)
        if hypergraph.num_pins == 0:  # no edges: any balanced partition has zero volume
            parts = random_partition(n, k, seed) if initial is None else initial
            info["km1"] = 0
        else:
            what = "V-cycles refining METIS's partition" if initial is not None else "multilevel partitioning"
            say(f"Mt-KaHyPar {what} ({preset} preset; no progress is reported until it returns)")
            parts, extra = mtkahypar_partition(hypergraph, k, imbalance, seed, threads, weights, preset,
                                               vcycles=vcycles, initial_parts=initial)
            info.update(extra)
    parts, moved = enforce_balance(csr, parts, k, imbalance, weights)
    info.update(deterministic=k == 1 or _is_deterministic(method, preset), rebalanced_moves=moved)
    if moved:
        info.pop("km1", None)  # Mt-KaHyPar's value no longer describes the returned parts
        say(f"moved {moved} vertices to meet the imbalance bound {imbalance}")
    seconds = time.perf_counter() - start
    say(f"done in {seconds:.1f}s")
    return PartitionResult(parts=parts, k=k, method=method, seconds=seconds, info=info)


def _stage_printer(enabled: bool):
    start = time.perf_counter()

    def say(message: str) -> None:
        if enabled:
            print(f"[partition {time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return say


def partition(
    graph: Any,
    k: int,
    method: str = "hypergraph",
    imbalance: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    vertex_weights: Union[None, str, Any] = None,
    preset: str = DEFAULT_PRESET,
    vcycles: int = 0,
    *,
    core_fraction: Optional[float] = None,
    max_load_factor: float = 1.0,
    volume_slack: float = 0.02,
) -> np.ndarray:
    """Split the vertices of ``graph`` into ``k`` balanced parts for row-parallel training.

    Args:
        graph: adjacency pattern: a ``scipy.sparse`` matrix, ``(indptr, indices)``,
            a PyG ``edge_index`` (``[2, E]`` tensor or array) or a PyG ``Data``
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
            ``'balanced-volume'`` minimizes the exact volume while keeping
            the busiest part's send + receive within METIS's (the core of
            the graph stays spread; :mod:`partitioning.balanced_volume`);
            ``'metis'`` minimizes the edge cut of :math:`A + A^T` with METIS
            (what PyG's ``ClusterData`` does);
            ``'random'`` is a balanced random assignment.
        imbalance: allowed load imbalance :math:`\\epsilon` (``0.03`` = 3%):
            every part weighs at most :math:`(1+\\epsilon)\\lceil w(V)/k\\rceil`
            (plus one vertex's weight when weighted vertices make that
            impossible; :mod:`partitioning.balance`). Every method's result is
            checked and, if needed, repaired by moving vertices.
        seed: random seed of the partitioner, an integer in ``[0, 2**31)``.
        threads: Mt-KaHyPar threads (default: all available); METIS is serial.
        vertex_weights: ``None`` (balance vertex counts), ``'degree'``
            (balance SpMM work: entries per row + 1) or ``[n]`` positive ints.
            Ignored by ``'random'``.
        preset: Mt-KaHyPar preset. ``'deterministic'`` (the default) gives
            the same parts on every run and for any ``threads``; ``'default'``,
            ``'quality'``, ... are faster or better but not reproducible with
            more than one thread (see the module docstring and
            ``benchmarks/results/partitioning.md`` for the cost).
        vcycles: extra Mt-KaHyPar V-cycles that refine the hypergraph partition
            further (never worse; worth it at small ``k``). Mt-KaHyPar methods
            only; ``'refined-metis'`` and ``'balanced-volume'`` always run at least one.
        core_fraction, max_load_factor, volume_slack: ``'balanced-volume'``
            only: the share of highest-degree vertices placed first (volume-aware,
            degree-balanced) and fixed (``None``: searched; ``1``: none moved by
            Mt-KaHyPar, only the local searches run), the busiest part's bound
            relative to METIS's, and how much the max-load polish may raise the total.

    Returns:
        ``[n]`` ``int64`` part ids in ``[0, k)``.
    """
    return partition_with_info(graph, k, method, imbalance, seed, threads, vertex_weights, preset, vcycles,
                               core_fraction=core_fraction, max_load_factor=max_load_factor,
                               volume_slack=volume_slack).parts
