"""Torch-free dataset readers against the documented sizes and PyG's own Planetoid edge set."""
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

from partitioning.readers import read_edge_list, read_graph

@pytest.mark.realdata
@pytest.mark.parametrize("name, nodes, entries", [
    ("Cora", 2708, 10556), ("CiteSeer", 3327, 9104), ("facebook", 4039, 2 * 88234),
    ("BlogCatalog", 10312, 667966),
    # 396,160 listed lines include 60 self-loops, which are dropped.
    ("arxiv-collab", 18772, 396100),
    ("USAir", 332, None), ("NS", 1589, None), ("PB", 1222, None), ("Yeast", 2375, None), ("Celegans", 297, None),
    ("Power", 4941, None), ("Router", 5022, None), ("Ecoli", 1805, None),
])
def test_sizes(real_data_root, name, nodes, entries):
    graph = read_graph(name, real_data_root)
    assert graph.shape == (nodes, nodes)
    if entries is not None:
        assert graph.nnz == entries
    assert (graph != graph.T).nnz == 0 and graph.diagonal().sum() == 0


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["Cora", "CiteSeer"])
def test_planetoid_edges_equal_pyg(real_data_root, tmp_path, name):
    from torch_geometric.datasets import Planetoid

    shutil.copytree(real_data_root / "Planetoid" / name / "raw", tmp_path / name / "raw")
    data = Planetoid(str(tmp_path), name)[0]
    ei = data.edge_index.numpy()
    ref = sp.csr_matrix((np.ones(ei.shape[1]), (ei[1], ei[0])), shape=(data.num_nodes, data.num_nodes))
    ours = read_graph(name, real_data_root)
    assert ours.shape == ref.shape and (ours != ref).nnz == 0


def test_edge_list_reader(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("# comment\n1 2 0.5\n2 3 0.1\n3 3 1\n")
    g = read_edge_list(path, one_based=True)
    np.testing.assert_array_equal(g.toarray(), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    directed = read_edge_list(path, symmetric=False, num_nodes=5)
    assert directed.shape == (5, 5) and directed.nnz == 3
    with pytest.raises(ValueError, match="out of range for num_nodes=2"):
        read_edge_list(path, num_nodes=2)
    path.write_text("0 1\n")
    with pytest.raises(ValueError, match="negative vertex id"):
        read_edge_list(path, one_based=True)


def test_unknown_and_missing_datasets(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'Karate'"):
        read_graph("Karate", tmp_path)
    with pytest.raises(FileNotFoundError, match="expected .*Planetoid/Cora/raw/ind.cora.graph"):
        read_graph("Cora", tmp_path)
