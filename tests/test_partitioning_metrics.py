"""communication_volume / edge_cut / imbalance against brute-force counts on small random graphs."""
import numpy as np
import pytest
import scipy.sparse as sp

from partitioning import communication_volume, edge_cut, imbalance
from partitioning.metrics import check_parts


def random_graph(n, density, seed, symmetric=True):
    rng = np.random.default_rng(seed)
    dense = rng.random((n, n)) < density
    if symmetric:
        dense = dense | dense.T
    return sp.csr_matrix(dense.astype(np.float32)), dense


def brute_force_volume(dense, parts, k):
    """Halo rows per receiving part: {j : part[j] != q, A[i, j] != 0 for some i in part q}."""
    matrix = np.zeros((k, k), dtype=np.int64)
    n = dense.shape[0]
    for q in range(k):
        halo = set()
        for i in range(n):
            if parts[i] == q:
                for j in np.flatnonzero(dense[i]):
                    if parts[j] != q:
                        halo.add(j)
        for j in halo:
            matrix[parts[j], q] += 1
    return matrix


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("symmetric", [True, False])
def test_volume_equals_brute_force_halo_count(seed, symmetric):
    n, k = 60, [2, 3, 5][seed % 3]
    graph, dense = random_graph(n, 0.06, seed, symmetric)
    parts = np.random.default_rng(seed + 100).integers(0, k, n)
    cv = communication_volume(graph, parts, k)
    expected = brute_force_volume(dense, parts, k)
    np.testing.assert_array_equal(cv.matrix, expected)
    assert cv.total == expected.sum()
    np.testing.assert_array_equal(cv.send, expected.sum(1))
    np.testing.assert_array_equal(cv.recv, expected.sum(0))
    assert cv.messages == np.count_nonzero(expected)
    assert cv.max_per_part == (expected.sum(1) + expected.sum(0)).max()


def test_sorting_path_equals_bitmap_path(monkeypatch):
    import partitioning.metrics as metrics

    graph, _ = random_graph(80, 0.05, 7)
    parts = np.random.default_rng(0).integers(0, 4, 80)
    bitmap = communication_volume(graph, parts, 4)
    monkeypatch.setattr(metrics, "_BITMAP_LIMIT", 0)
    monkeypatch.setattr(metrics, "_ROW_CHUNK_NNZ", 17)
    sorted_ = communication_volume(graph, parts, 4)
    np.testing.assert_array_equal(bitmap.matrix, sorted_.matrix)


def test_self_loops_and_internal_edges_cost_nothing():
    graph = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]]))
    assert communication_volume(graph, [0, 0, 1]).total == 0
    # A row needed by two vertices of the same remote part is sent once.
    star = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]]))
    cv = communication_volume(star, [0, 1, 1])
    assert cv.total == 3 and cv.matrix[0, 1] == 1 and cv.matrix[1, 0] == 2


def test_edge_cut_brute_force():
    graph, dense = random_graph(50, 0.08, 3, symmetric=False)
    parts = np.random.default_rng(1).integers(0, 3, 50)
    directed = sum(1 for i, j in zip(*np.nonzero(dense)) if parts[i] != parts[j])
    undirected = len({(min(i, j), max(i, j)) for i, j in zip(*np.nonzero(dense)) if parts[i] != parts[j]})
    assert edge_cut(graph, parts, directed=True) == directed
    assert edge_cut(graph, parts) == undirected


def test_imbalance():
    assert imbalance([0, 0, 1, 1]) == 0.0
    assert imbalance([0, 0, 0, 1]) == pytest.approx(0.5)
    assert imbalance([0, 0, 1, 1], k=3) == pytest.approx(2 / (4 / 3) - 1)
    assert imbalance([0, 1], weights=[3, 1]) == pytest.approx(0.5)


@pytest.mark.parametrize("parts, k, message", [
    ([0, 1], None, "parts has 2 entries but the graph has 3 vertices"),
    ([0, -1, 1], None, "negative part id"),
    ([0, 1, 2], 2, "out of range for k=2"),
    ([[0, 1, 2]], None, "1-D"),
    ([0.5, 1, 0], None, "integer part ids"),
    ([0, 1, 0], 0, "k must be >= 1"),
])
def test_bad_parts_are_rejected(parts, k, message):
    graph = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match=message):
        communication_volume(graph, parts, k)


def test_check_parts_infers_k():
    arr, k = check_parts(np.array([0, 2, 1, 2]), 4)
    assert k == 3 and arr.dtype == np.int64
