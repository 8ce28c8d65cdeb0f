"""Connectivity−1 partitioning of a hypergraph with Mt-KaHyPar.

Mt-KaHyPar (Gottesbüren, Heuer, Sanders, Schlag et al., "Scalable High-Quality
Hypergraph Partitioning", ACM TOPC 2024) is a shared-memory multilevel
partitioner. Its Python bindings take hyperedges as Python lists of lists,
which costs tens of bytes and about half a microsecond per pin; instead the
hypergraph is written as a fixed-width hMETIS file straight from the numpy
arrays (vectorized, in chunks) and read by Mt-KaHyPar's own mmap-based reader.
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Dict, Optional, Tuple

import numpy as np

from partitioning.hypergraph import ColumnNetHypergraph
from partitioning.metrics import check_parts

__all__ = ["DETERMINISTIC_PRESETS", "PRESETS", "mtkahypar_partition", "write_hmetis"]

PRESETS = ("deterministic", "default", "quality", "highest_quality", "deterministic_quality", "large_k")
DETERMINISTIC_PRESETS = ("deterministic", "deterministic_quality")
_INITIALIZERS: Dict[int, object] = {}
_CHUNK = 1 << 22


def _fixed_width_ascii(values: np.ndarray, last: np.ndarray, width: int) -> bytes:
    """Right-aligned decimal fields of ``width`` characters, each followed by a space or a newline."""
    out = np.full((values.shape[0], width + 1), 32, dtype=np.uint8)
    v = values.astype(np.int64)
    for p in range(width):
        digit = (v % 10).astype(np.uint8) + 48
        out[:, width - 1 - p] = digit if p == 0 else np.where(v > 0, digit, 32)
        v //= 10
    out[:, width] = np.where(last, 10, 32)
    return out.tobytes()


def write_hmetis(path: str, hypergraph: ColumnNetHypergraph, vertex_weights: Optional[np.ndarray] = None) -> None:
    """Write ``hypergraph`` in hMETIS format (1-based pins; format ``10`` when weighted)."""
    pins, ptr = hypergraph.pins, hypergraph.net_ptr
    width = len(str(hypergraph.num_vertices))
    last = np.zeros(_CHUNK, dtype=bool)
    ends = ptr[1:] - 1
    with open(path, "wb") as f:
        fmt = " 10" if vertex_weights is not None else ""
        f.write(f"{hypergraph.num_nets} {hypergraph.num_vertices}{fmt}\n".encode())
        for lo in range(0, pins.shape[0], _CHUNK):
            hi = min(lo + _CHUNK, pins.shape[0])
            last[:] = False
            e = ends[(ends >= lo) & (ends < hi)] - lo
            last[e] = True
            f.write(_fixed_width_ascii(pins[lo:hi].astype(np.int64) + 1, last[:hi - lo], width))
        if vertex_weights is not None:
            w = np.asarray(vertex_weights, dtype=np.int64)
            wwidth = len(str(int(w.max())))
            for lo in range(0, w.shape[0], _CHUNK):
                chunk = w[lo:lo + _CHUNK]
                f.write(_fixed_width_ascii(chunk, np.ones(chunk.shape[0], dtype=bool), wwidth))


def _initializer(threads: int):
    import mtkahypar

    if threads not in _INITIALIZERS:
        _INITIALIZERS[threads] = mtkahypar.initialize(threads, False)
    return _INITIALIZERS[threads]


def mtkahypar_partition(
    hypergraph: ColumnNetHypergraph,
    k: int,
    imbalance: float = 0.03,
    seed: int = 0,
    threads: Optional[int] = None,
    vertex_weights: Optional[np.ndarray] = None,
    preset: str = "deterministic",
    tmp_dir: Optional[str] = None,
    vcycles: int = 0,
    initial_parts: Optional[np.ndarray] = None,
    fixed: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, Dict[str, float]]:
    """Minimize connectivity−1 of ``hypergraph`` over ``k`` balanced blocks.

    Args:
        hypergraph: the column-net model (:func:`partitioning.hypergraph.column_net_hypergraph`).
        k: number of blocks (>= 2).
        imbalance: :math:`\\epsilon`; every block weighs at most
            :math:`(1+\\epsilon)\\lceil w(V)/k \\rceil`.
        seed: Mt-KaHyPar's random seed. ``preset='deterministic'`` (and
            ``'deterministic_quality'``) give the same partition for the same
            seed on every run and for any thread count (Mt-KaHyPar-SDet); the
            other presets search in parallel and are not reproducible with more
            than one thread.
        threads: worker threads (default: all CPUs of this process).
        vertex_weights: optional positive integer weight per vertex.
        preset: one of :data:`PRESETS`.
        tmp_dir: where the temporary hMETIS file goes (default: the system temp dir).
        vcycles: extra V-cycles after the initial partition: each re-coarsens the
            hypergraph without contracting across blocks and refines again
            (Mt-KaHyPar's ``improve_partition``), so connectivity−1 never gets
            worse. It pays off most at small ``k`` (about 1-2% lower volume at
            ``k = 2`` on power-law graphs for roughly the partitioning time
            again); ``0`` skips it.
        initial_parts: an ``[n]`` partition to start from instead of
            partitioning from scratch (e.g. METIS's edge-cut partition). It is
            refined by ``max(vcycles, 1)`` V-cycles, about 1.5-3x faster than a
            full multilevel partition. A start within the balance bound is
            never made worse; Mt-KaHyPar rebalances one that is not.
        fixed: optional ``[n]`` block per vertex, ``-1`` for free vertices:
            Mt-KaHyPar never moves a fixed vertex (with ``initial_parts``, a
            fixed vertex must start in its block).

    Returns:
        ``(parts, info)`` with ``info['km1']`` (Mt-KaHyPar's own connectivity−1
        value) and ``info['imbalance']``.
    """
    import mtkahypar

    from partitioning.validation import check_choice, check_int

    preset = check_choice("preset", preset, PRESETS)
    vcycles = check_int("vcycles", vcycles, 0)
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    init = _initializer(int(threads))
    ctx = init.context_from_preset(getattr(mtkahypar.PresetType, preset.upper()))
    ctx.set_partitioning_parameters(int(k), float(imbalance), mtkahypar.Objective.KM1)
    ctx.logging = False
    mtkahypar.set_seed(int(seed))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scalegnn-hgr-", dir=tmp_dir) as tmp:
        path = os.path.join(tmp, "graph.hgr")
        write_hmetis(path, hypergraph, vertex_weights)
        t1 = time.perf_counter()
        hg = init.hypergraph_from_file(path, ctx, mtkahypar.FileFormat.HMETIS)
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=np.int64)
        if fixed.shape != (hypergraph.num_vertices,) or fixed.max() >= k or fixed.min() < -1:
            raise ValueError(f"fixed must hold one block in [-1, {k}) per vertex")
        hg.add_fixed_vertices(fixed.tolist(), int(k))
    t2 = time.perf_counter()
    if initial_parts is None:
        partitioned = hg.partition(ctx)
    else:
        initial_parts, _ = check_parts(initial_parts, hypergraph.num_vertices, int(k))
        partitioned = hg.create_partitioned_hypergraph(ctx, int(k), initial_parts.tolist())
        vcycles = max(int(vcycles), 1)
    t3 = time.perf_counter()
    info = {"initial_km1": int(partitioned.km1())}
    if vcycles:
        partitioned.improve_partition(ctx, int(vcycles))
    t4 = time.perf_counter()
    parts = np.asarray(partitioned.get_partition(), dtype=np.int64)
    info.update(km1=int(partitioned.km1()), imbalance=float(partitioned.imbalance(ctx)),
                hmetis_write_seconds=t1 - t0, hmetis_read_seconds=t2 - t1, mtkahypar_seconds=t3 - t2,
                vcycles=int(vcycles), vcycle_seconds=t4 - t3)
    return parts, info
