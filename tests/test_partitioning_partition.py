"""partition(): balance bounds, vertex weights, quality ordering, and the torch-free guarantee."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from partitioning import communication_volume, partition, partition_with_info
from partitioning.metrics import part_weights
from partitioning.synthetic import powerlaw_sbm_graph


@pytest.fixture(scope="module")
def graph():
    return powerlaw_sbm_graph(3000, 24000, num_blocks=1, exponent=2.5, seed=4)[0]


@pytest.mark.parametrize("method", ["hypergraph", "refined-metis", "metis-volume", "metis", "random"])
@pytest.mark.parametrize("k", [2, 5, 8])
def test_parts_respect_the_imbalance_bound(graph, method, k):
    eps = 0.03
    parts = partition(graph, k, method, imbalance=eps, threads=2)
    assert parts.shape == (3000,) and parts.dtype == np.int64
    assert parts.min() >= 0 and parts.max() < k
    sizes = np.bincount(parts, minlength=k)
    assert sizes.min() > 0
    assert sizes.max() <= (1 + eps) * np.ceil(3000 / k)


@pytest.mark.parametrize("method", ["hypergraph", "refined-metis", "metis-volume", "metis"])
def test_degree_weights_balance_work(graph, method):
    eps = 0.05
    weights = np.diff(graph.indptr) + 1
    parts = partition(graph, 4, method, imbalance=eps, vertex_weights="degree", threads=2)
    load = part_weights(parts, 4, weights)
    # One heavy vertex may overshoot a bound computed for divisible weights.
    assert load.max() <= (1 + eps) * np.ceil(weights.sum() / 4) + weights.max()


def test_hypergraph_beats_metis_beats_random_on_a_power_law_graph(graph):
    volume = {m: communication_volume(graph, partition(graph, 8, m, threads=2)).total
              for m in ("hypergraph", "metis", "random")}
    assert volume["hypergraph"] < volume["metis"] < volume["random"]


def test_metis_volume_objective_is_really_used(graph):
    cut = partition(graph, 8, "metis", seed=0)
    volume = partition(graph, 8, "metis-volume", seed=0)
    assert (cut != volume).any()
    assert communication_volume(graph, volume).total < 0.95 * communication_volume(graph, cut).total


def test_metis_objective_errors(graph):
    from partitioning.metis_backend import metis_partition
    from partitioning.graph import as_csr

    with pytest.raises(ValueError, match="objective must be one of"):
        metis_partition(as_csr(graph), 4, objective="km1")
    with pytest.raises(ValueError, match="k-way"):
        metis_partition(as_csr(graph), 4, objective="volume", recursive=True)


def test_single_part_and_edgeless_graph():
    g = sp.csr_matrix((5, 5))
    np.testing.assert_array_equal(partition(g, 1), np.zeros(5))
    for method in ("hypergraph", "refined-metis", "metis-volume", "metis", "random"):
        parts = partition(g, 5, method)
        assert sorted(parts.tolist()) == [0, 1, 2, 3, 4]


def test_result_carries_timing_and_hypergraph_size(graph):
    r = partition_with_info(graph, 2, "hypergraph", threads=2)
    assert r.seconds > 0 and r.info["pins"] == graph.nnz + r.info["nets"]
    assert r.method == "hypergraph" and r.k == 2


def test_random_is_deterministic_by_seed(graph):
    np.testing.assert_array_equal(partition(graph, 4, "random", seed=3), partition(graph, 4, "random", seed=3))
    assert (partition(graph, 4, "random", seed=3) != partition(graph, 4, "random", seed=4)).any()


def test_package_never_imports_torch():
    code = ("import sys, partitioning, partitioning.__main__, partitioning.readers, partitioning.report; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.') or m.startswith('torch_')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
