"""Input normalization of partitioning: accepted formats and clear errors for bad graphs."""
import numpy as np
import pytest
import scipy.sparse as sp

from partitioning import as_csr, graph_fingerprint, partition, symmetrize
from partitioning.graph import drop_self_loops


def test_formats_give_the_same_canonical_pattern():
    dense = np.array([[0, 1, 0], [0, 0, 2], [3, 0, 1]], dtype=np.float64)
    csr = sp.csr_matrix(dense)
    ref = as_csr(csr)
    for other in (sp.coo_matrix(dense), sp.csc_matrix(dense), sp.csr_array(dense), (csr.indptr, csr.indices)):
        got = as_csr(other)
        assert (got != ref).nnz == 0
        assert graph_fingerprint(got) == graph_fingerprint(ref)
    assert set(np.unique(ref.data)) == {1}


def test_duplicates_are_merged_and_fingerprint_ignores_values():
    coo = sp.coo_matrix((np.array([5.0, 7.0, 1.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))), shape=(2, 2))
    csr = as_csr(coo)
    assert csr.nnz == 2
    assert graph_fingerprint(coo) == graph_fingerprint(sp.csr_matrix(np.array([[0, 1], [1, 0]])))
    assert graph_fingerprint(coo) != graph_fingerprint(sp.csr_matrix(np.array([[0, 1], [0, 0]])))


def test_symmetrize_and_drop_self_loops():
    dense = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0]])
    sym = symmetrize(as_csr(sp.csr_matrix(dense)))
    np.testing.assert_array_equal(sym.toarray(), ((dense + dense.T) > 0).astype(np.int8))
    assert drop_self_loops(sym).diagonal().sum() == 0


@pytest.mark.parametrize("graph, error, message", [
    (sp.csr_matrix(np.ones((2, 3))), ValueError, "must be square"),
    ((np.array([0, 1, 2]), np.array([0, 5])), ValueError, "vertex id 5, out of range for 2 vertices"),
    ((np.array([0, 1, 2]), np.array([0, -1])), ValueError, "negative vertex id"),
    ((np.array([0, 2, 1]), np.array([0, 1])), ValueError, "non-decreasing|must start at 0 and end"),
    ((np.array([0, 1]), np.array([0, 0])), ValueError, "must start at 0 and end at len"),
    ((np.array([0.0, 1.0]), np.array([0.0])), ValueError, "integer arrays"),
    (sp.csr_matrix((0, 0)), ValueError, "empty"),
    (np.eye(3), TypeError, "dense adjacency matrices are not accepted"),
    ("graph.txt", TypeError, "scipy.sparse matrix, an \\(indptr, indices\\) tuple, a \\[2, E\\] edge_index"),
])
def test_bad_graphs_are_rejected(graph, error, message):
    with pytest.raises(error, match=message):
        as_csr(graph)


def test_partition_rejects_bad_arguments():
    graph = sp.csr_matrix(np.ones((4, 4)))
    with pytest.raises(ValueError, match="k must be >= 1"):
        partition(graph, 0)
    with pytest.raises(ValueError, match="k=5 parts for a graph with only 4 vertices"):
        partition(graph, 5)
    with pytest.raises(ValueError, match="unknown method .spectral.. Choose one of"):
        partition(graph, 2, method="spectral")
    with pytest.raises(ValueError, match="imbalance must be in"):
        partition(graph, 2, imbalance=-0.1)
    with pytest.raises(ValueError, match="vertex_weights must have shape"):
        partition(graph, 2, vertex_weights=[1, 2])
    with pytest.raises(ValueError, match="must be positive"):
        partition(graph, 2, vertex_weights=[1, 0, 1, 1])
    with pytest.raises(ValueError, match="must be square"):
        partition(sp.csr_matrix(np.ones((3, 4))), 2)


def test_unsorted_input_is_not_modified():
    indptr, indices = np.array([0, 2, 3]), np.array([1, 0, 0])
    data = np.array([5.0, 6.0, 7.0])
    original = sp.csr_matrix((data, indices, indptr), shape=(2, 2))
    canonical = as_csr(original)
    np.testing.assert_array_equal(original.indices, [1, 0, 0])
    np.testing.assert_array_equal(indices, [1, 0, 0])
    np.testing.assert_array_equal(canonical.indices, [0, 1, 0])
