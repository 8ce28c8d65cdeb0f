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
    for method in ("hypergraph", "refined-metis", "balanced-volume", "metis-volume", "metis", "random"):
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


# --- the final balance check -------------------------------------------------------------------------------------

# 8 vertices, k = 6: METIS's volume objective puts every vertex in part 5 (seed 0, pymetis 2025.2).
COLLAPSE_EDGES = [[6, 2], [3, 5], [6, 4], [0, 4], [5, 2], [6, 6], [2, 2], [6, 5], [0, 2], [5, 4], [2, 7], [5, 2],
                  [2, 3], [1, 3], [5, 6], [3, 3], [1, 4], [7, 5], [7, 4], [4, 0], [5, 7]]


def _collapse_graph():
    from partitioning.graph import as_csr

    e = np.array(COLLAPSE_EDGES)
    return as_csr(sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(8, 8)), symmetric=True)


def test_metis_volume_collapse_is_repaired_not_returned():
    from partitioning.balance import balance_bound
    from partitioning.metis_backend import metis_partition

    graph = _collapse_graph()
    raw = metis_partition(graph, 6, 0.03, 0, objective="volume")
    assert np.bincount(raw, minlength=6).max() == 8  # the backend really returns the collapsed partition
    result = partition_with_info(graph, 6, "metis-volume")
    sizes = np.bincount(result.parts, minlength=6)
    assert sizes.max() <= balance_bound(8, 6, 0.03) == 2
    assert result.info["rebalanced_moves"] >= 6
    # The CLI exits 0 only with a balanced partition.
    assert sizes.sum() == 8 and (result.parts >= 0).all() and (result.parts < 6).all()


@pytest.mark.parametrize("trial", range(40))
@pytest.mark.parametrize("method", ["metis", "metis-volume", "hypergraph", "refined-metis", "balanced-volume"])
def test_every_method_meets_the_bound_on_small_random_graphs(trial, method):
    from partitioning.balance import balance_bound
    from partitioning.graph import as_csr

    rng = np.random.default_rng(1000 + trial)
    n = int(rng.integers(5, 60))
    m = int(rng.integers(0, 3 * n))
    k = int(rng.integers(2, min(n, 9) + 1))
    e = rng.integers(0, n, (m, 2))
    graph = as_csr(sp.coo_matrix((np.ones(m), (e[:, 0], e[:, 1])), shape=(n, n)), symmetric=True)
    weights = rng.integers(1, 5, n) if trial % 2 else None
    parts = partition(graph, k, method, threads=1, seed=trial, vertex_weights=weights)
    w = np.ones(n, dtype=np.int64) if weights is None else weights
    load = np.bincount(parts, weights=w, minlength=k)
    assert load.max() <= balance_bound(int(w.sum()), k, 0.03, int(w.max()))


def test_repair_moves_only_what_it_must_and_keeps_neighbours_together():
    from partitioning.balance import enforce_balance

    # Two 10-cliques joined by one edge, all 20 vertices given to part 0 of k = 2.
    block = np.ones((10, 10)) - np.eye(10)
    dense = np.block([[block, np.zeros((10, 10))], [np.zeros((10, 10)), block]])
    dense[9, 10] = dense[10, 9] = 1
    graph = sp.csr_matrix(dense)
    parts, moved = enforce_balance(graph, np.zeros(20, dtype=np.int64), 2, 0.0)
    assert moved == 10 and np.bincount(parts).tolist() == [10, 10]
    assert communication_volume(graph, parts).total == 2  # the cliques end up whole, cut at the bridge
    same, none = enforce_balance(graph, parts, 2, 0.0)
    assert none == 0 and same is parts


# --- reproducibility -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    return powerlaw_sbm_graph(1200, 9600, num_blocks=1, exponent=2.5, seed=5)[0]


@pytest.mark.parametrize("method", ["hypergraph", "refined-metis", "balanced-volume", "metis-volume", "metis", "random"])
def test_same_seed_gives_the_same_partition(small, method):
    first = partition_with_info(small, 8, method, seed=5, threads=2)
    second = partition_with_info(small, 8, method, seed=5, threads=2)
    np.testing.assert_array_equal(first.parts, second.parts)
    assert first.info["deterministic"] is True


@pytest.mark.parametrize("method", ["hypergraph", "refined-metis", "balanced-volume"])
def test_deterministic_preset_does_not_depend_on_the_thread_count(small, method):
    np.testing.assert_array_equal(partition(small, 4, method, seed=1, threads=1),
                                  partition(small, 4, method, seed=1, threads=2))


def test_non_deterministic_presets_say_so(small):
    assert partition_with_info(small, 2, "hypergraph", threads=2, preset="default").info["deterministic"] is False


# --- PyG inputs (duck-typed: partitioning itself never imports torch) -----------------------------------------------

def test_partition_takes_a_pyg_edge_index_and_data():
    torch = pytest.importorskip("torch")
    Data = pytest.importorskip("torch_geometric.data").Data
    from partitioning.graph import as_csr, graph_fingerprint

    g = powerlaw_sbm_graph(500, 4000, seed=7)[0]
    coo = g.tocoo()
    # PyG convention: edge_index[1] aggregates edge_index[0], i.e. A[edge_index[1], edge_index[0]] = 1.
    edge_index = torch.from_numpy(np.stack([coo.col, coo.row]).astype(np.int64))
    reference = partition(g, 4, "metis", seed=0)
    np.testing.assert_array_equal(partition(edge_index, 4, "metis", seed=0), reference)
    data = Data(edge_index=edge_index, num_nodes=500)
    np.testing.assert_array_equal(partition(data, 4, "metis", seed=0), reference)
    assert communication_volume(data, reference).total == communication_volume(g, reference).total
    assert graph_fingerprint(data) == graph_fingerprint(g)
    # Direction: one edge 0 -> 1 means row 1 aggregates column 0.
    one = as_csr(torch.tensor([[0], [1]]), num_nodes=3)
    assert one.toarray().tolist() == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    # Isolated trailing vertices come from Data.num_nodes, not from the largest id.
    assert as_csr(Data(edge_index=torch.tensor([[0], [1]]), num_nodes=6)).shape == (6, 6)
    # Sparse adjacency tensors (COO and CSR) too.
    adj = torch.sparse_coo_tensor(torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64)),
                                  torch.ones(coo.nnz), (500, 500), check_invariants=True)
    assert graph_fingerprint(adj) == graph_fingerprint(g) == graph_fingerprint(adj.to_sparse_csr())


def test_read_partitions_checks_a_pyg_data_fingerprint(tmp_path):
    torch = pytest.importorskip("torch")
    Data = pytest.importorskip("torch_geometric.data").Data
    from partitioning import read_partitions, write_partitions

    g = powerlaw_sbm_graph(300, 2000, seed=8)[0]
    coo = g.tocoo()
    data = Data(edge_index=torch.from_numpy(np.stack([coo.col, coo.row]).astype(np.int64)), num_nodes=300)
    out = write_partitions(tmp_path / "p", data, partition(data, 2, "metis"))
    assert read_partitions(out, 1, graph=data, k=2).rank == 1
    other = Data(edge_index=data.edge_index[:, :-2], num_nodes=300)
    with pytest.raises(ValueError, match="made for another graph"):
        read_partitions(out, 0, graph=other)
