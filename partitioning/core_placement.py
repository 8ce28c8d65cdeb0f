r"""Place the high-degree core of a graph: volume-aware, with every part carrying an equal share of its degree.

Why. On power-law graphs the rows the high-degree vertices ("hubs") need are
most of the communication. A volume minimizer gathers the hubs in a few parts
(low total volume, one overloaded part); METIS's edge-cut partition spreads
them (moderate busiest part) but ignores which hubs share neighbours, so a
low-degree vertex whose neighbours are hubs ends up needing rows from many
parts. This placement does both: it partitions only the core, on the
column-net hypergraph of :math:`A + I` restricted to the core (net :math:`j`
keeps its core pins; nets with fewer than two core pins are dropped), with
vertex weight :math:`1 + \deg(v)` and imbalance ``imbalance``. Minimizing
connectivity−1 there puts hubs that share neighbours in one part (fewer
parts per net, so a lower total), while the weighted balance gives every part
about the same total hub degree, which bounds the rows each part must send
and receive for its hubs.

It is the multi-constraint idea of UMPa (Deveci, Kaya, Uçar, Çatalyürek,
"Hypergraph partitioning for multiple communication cost metrics: model and
methods", JPDC 2015) applied to the part of the graph that causes the
imbalance, solved with Mt-KaHyPar (Gottesbüren et al., "Scalable
high-quality hypergraph partitioning", ACM TOPC 2024); the rest of the graph
is then partitioned around the fixed core (:mod:`partitioning.balanced_volume`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from partitioning.hypergraph import ColumnNetHypergraph
from partitioning.mtkahypar_backend import mtkahypar_partition

__all__ = ["core_subhypergraph", "place_core"]


def core_subhypergraph(hypergraph: ColumnNetHypergraph, core: np.ndarray) -> ColumnNetHypergraph:
    """The nets of ``hypergraph`` restricted to the vertices ``core`` (renumbered ``0..len(core)-1``).

    Nets left with fewer than two pins are dropped (they cannot be cut).
    ``net_column`` keeps the original net's column.
    """
    n = hypergraph.num_vertices
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[core] = np.arange(core.shape[0], dtype=np.int64)
    keep = new_id[hypergraph.pins] >= 0
    net_of_pin = np.repeat(np.arange(hypergraph.num_nets, dtype=np.int64), np.diff(hypergraph.net_ptr))[keep]
    count = np.bincount(net_of_pin, minlength=hypergraph.num_nets)
    kept_nets = count >= 2
    pins = new_id[hypergraph.pins[keep][kept_nets[net_of_pin]]]
    net_ptr = np.zeros(int(kept_nets.sum()) + 1, dtype=np.int64)
    np.cumsum(count[kept_nets], out=net_ptr[1:])
    return ColumnNetHypergraph(num_vertices=int(core.shape[0]), net_ptr=net_ptr, pins=pins,
                               net_column=hypergraph.net_column[kept_nets])


def _greedy_by_weight(weights: np.ndarray, k: int) -> np.ndarray:
    """Heaviest first, each to the currently lightest part (ties: lowest id): the fallback without nets."""
    place = np.empty(weights.shape[0], dtype=np.int64)
    load = np.zeros(k, dtype=np.int64)
    for v in np.lexsort((np.arange(weights.shape[0]), -weights)).tolist():
        p = int(np.argmin(load))
        place[v] = p
        load[p] += int(weights[v])
    return place


def place_core(
    hypergraph: ColumnNetHypergraph,
    core: np.ndarray,
    degree: np.ndarray,
    k: int,
    imbalance: float = 0.05,
    seed: int = 0,
    threads: Optional[int] = None,
    preset: str = "deterministic",
) -> np.ndarray:
    """Part in ``[0, k)`` for each vertex of ``core`` (see the module docstring).

    Args:
        hypergraph: the column-net model of the whole graph.
        core: ``[c]`` vertex ids of the core.
        degree: ``[c]`` their degrees; the balance weight is ``1 + degree``.
        k: number of parts.
        imbalance: allowed imbalance of the weighted core balance.
        seed, threads, preset: as in :func:`partitioning.mtkahypar_backend.mtkahypar_partition`.

    Returns:
        ``[c]`` part per core vertex. With fewer than ``k`` core vertices or no
        net among them, hubs go heaviest first to the lightest part.
    """
    weights = np.asarray(degree, dtype=np.int64) + 1
    sub = core_subhypergraph(hypergraph, np.asarray(core, dtype=np.int64))
    if core.shape[0] <= k or sub.num_pins == 0:
        return _greedy_by_weight(weights, k)
    place, _ = mtkahypar_partition(sub, k, imbalance, seed, threads, weights, preset)
    return place
