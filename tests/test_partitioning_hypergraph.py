"""The column-net model: its nets, and connectivity−1 (ours and Mt-KaHyPar's) = communication volume."""
import numpy as np
import pytest
import scipy.sparse as sp

from partitioning import column_net_hypergraph, communication_volume, partition_with_info
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
    with pytest.raises(ValueError, match="vcycles"):
        partition_with_info(graph, 2, "hypergraph", threads=1, vcycles=bad)
