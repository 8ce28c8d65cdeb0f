"""The column-net model: its nets, and connectivity−1 (ours and Mt-KaHyPar's) = communication volume."""
import numpy as np
import pytest
import scipy.sparse as sp

from partitioning import column_net_hypergraph, communication_volume, partition_with_info
from partitioning.mtkahypar_backend import mtkahypar_partition
from partitioning.synthetic import powerlaw_sbm_graph


def test_nets_are_columns_of_a_plus_identity():
    rng = np.random.default_rng(0)
    dense = rng.random((30, 30)) < 0.1
    np.fill_diagonal(dense[:5, :5], True)  # some self-loops must not duplicate pins
    hg = column_net_hypergraph(sp.csr_matrix(dense.astype(np.float32)))
    with_identity = dense | np.eye(30, dtype=bool)
    expected = {j: set(np.flatnonzero(with_identity[:, j])) for j in range(30)}
    got = {int(hg.net_column[e]): hg.pins[hg.net_ptr[e]:hg.net_ptr[e + 1]] for e in range(hg.num_nets)}
    for j, pins in expected.items():
        if len(pins) == 1:
            assert j not in got  # single-pin nets are dropped: they never cost anything
        else:
            assert got[j][0] == j and len(got[j]) == len(pins) and set(got[j].tolist()) == pins


@pytest.mark.parametrize("seed", range(4))
def test_connectivity_minus_one_equals_volume(seed):
    rng = np.random.default_rng(seed)
    dense = rng.random((50, 50)) < 0.08  # directed on purpose
    graph = sp.csr_matrix(dense.astype(np.float32))
    parts = rng.integers(0, 4, 50)
    assert column_net_hypergraph(graph).connectivity_minus_one(parts, 4) == communication_volume(graph, parts, 4).total


@pytest.mark.parametrize("k", [2, 4, 7])
def test_mtkahypar_objective_equals_our_volume(k):
    graph, _ = powerlaw_sbm_graph(1500, 12000, num_blocks=3, seed=k)
    result = partition_with_info(graph, k, "hypergraph", threads=2, seed=1)
    assert result.info["km1"] == communication_volume(graph, result.parts, k).total


def test_mtkahypar_objective_equals_volume_on_directed_graph():
    rng = np.random.default_rng(5)
    graph = sp.random(400, 400, density=0.02, random_state=5, format="csr")
    result = partition_with_info(graph, 3, "hypergraph", threads=2)
    assert result.info["km1"] == communication_volume(graph, result.parts, 3).total


@pytest.mark.parametrize("k", [2, 5])
def test_vcycles_refine_without_breaking_balance_or_the_objective(k):
    graph, _ = powerlaw_sbm_graph(3000, 30000, num_blocks=1, seed=k)
    result = partition_with_info(graph, k, "hypergraph", threads=1, seed=0, vcycles=2)
    volume = communication_volume(graph, result.parts, k).total
    assert result.info["vcycles"] == 2
    assert result.info["km1"] == volume  # the refined partition is what we measure
    assert volume <= result.info["initial_km1"]  # V-cycles never make it worse
    assert np.bincount(result.parts, minlength=k).max() <= 1.03 * np.ceil(3000 / k)


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_bad_vcycles_rejected(bad):
    graph, _ = powerlaw_sbm_graph(200, 1000, seed=0)
    with pytest.raises((ValueError, TypeError), match="vcycles"):
        partition_with_info(graph, 2, "hypergraph", threads=1, vcycles=bad)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_refined_metis_never_sends_more_than_metis(k):
    graph, _ = powerlaw_sbm_graph(3000, 30000, num_blocks=1, seed=10 + k)
    metis = partition_with_info(graph, k, "metis", seed=0)
    refined = partition_with_info(graph, k, "refined-metis", threads=1, seed=0)
    metis_volume = communication_volume(graph, metis.parts, k).total
    volume = communication_volume(graph, refined.parts, k).total
    assert refined.info["initial_km1"] == metis_volume  # it really starts from METIS's partition
    assert refined.info["km1"] == volume  # Mt-KaHyPar's objective is the volume we measure
    assert refined.info["vcycles"] == 1  # at least one V-cycle even when none is asked for
    assert volume < metis_volume  # on a power-law graph the refinement finds real gains
    assert np.bincount(refined.parts, minlength=k).max() <= 1.03 * np.ceil(3000 / k)


def test_refinement_of_an_infeasible_start_restores_balance():
    graph, _ = powerlaw_sbm_graph(3000, 24000, seed=1)
    start = np.zeros(3000, dtype=np.int64)
    start[:600], start[600:1000], start[1000:1400] = 1, 2, 3  # block 0 holds 1600 > 1.03 * 750
    parts, info = mtkahypar_partition(column_net_hypergraph(graph), 4, threads=1, initial_parts=start)
    assert np.bincount(parts, minlength=4).max() <= 1.03 * 750
    assert info["km1"] == communication_volume(graph, parts, 4).total


@pytest.mark.parametrize("bad, message", [
    (np.zeros(10, dtype=np.int64), "10 entries but the graph has 200 vertices"),
    (np.full(200, 2, dtype=np.int64), "out of range for k=2"),
    (np.full(200, -1, dtype=np.int64), "negative part id"),
    (np.full(200, 0.5), "integer part ids"),
])
def test_bad_initial_parts_rejected(bad, message):
    graph, _ = powerlaw_sbm_graph(200, 1000, seed=0)
    with pytest.raises(ValueError, match=message):
        mtkahypar_partition(column_net_hypergraph(graph), 2, threads=1, initial_parts=bad)
