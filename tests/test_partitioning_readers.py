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


# --- every name `scalegnn datasets` lists ---------------------------------------------------------------------------

def _listed_names():
    pytest.importorskip("torch")
    from scalegnn.data import dataset_status

    return [row["name"] for row in dataset_status()]


def test_every_listed_dataset_name_is_accepted(tmp_path):
    """Each name `scalegnn datasets` prints either reads or fails with the missing path, never 'unknown'."""
    from partitioning.readers import resolve_name

    names = _listed_names()
    assert len(names) > 40
    for name in names:
        family, _ = resolve_name(name)
        if family in ("bundled", "synthetic"):
            assert read_graph(name, tmp_path).shape[0] > 0
            continue
        with pytest.raises(FileNotFoundError, match=str(tmp_path)):
            read_graph(name, tmp_path)  # empty root: the error names where the files were expected


def test_synthetic_and_pattern_names_resolve():
    from partitioning.readers import resolve_name

    assert resolve_name("synthetic-2k-10k") == ("synthetic", "synthetic-2k-10k")
    assert resolve_name("TU:NCI1") == ("tu", "NCI1")
    assert resolve_name("OGBN-ARXIV") == ("ogb", "ogbn-arxiv")
    assert resolve_name("ogbn-some-new-one") == ("ogb", "ogbn-some-new-one")
    assert resolve_name("default") == resolve_name("bundled") == ("bundled", "cora-bundled")


def test_bundled_cora_equals_the_scalegnn_data():
    pytest.importorskip("torch")
    from partitioning.graph import graph_fingerprint
    from scalegnn.data import load_dataset

    data = load_dataset("cora-bundled").data
    assert graph_fingerprint(read_graph("cora-bundled")) == graph_fingerprint(data)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["Cora", "USAir", "facebook", "Power-txt"])
def test_fingerprint_equals_scalegnn_load_dataset(real_data_root, name):
    """The partitioner's graph is the training graph: a partition directory made from the name matches it."""
    pytest.importorskip("torch")
    from partitioning.graph import graph_fingerprint
    from scalegnn.data import load_dataset

    data = load_dataset(name, root=real_data_root, download=False).data
    assert graph_fingerprint(read_graph(name, real_data_root)) == graph_fingerprint(data)


def _tu_reference(raw, name):
    """Brute force: the set of (i, j) pairs of the TU graphs' edges, both directions, no self-loops."""
    pairs = set()
    for line in open(raw / f"{name}_A.txt"):
        i, j = (int(v) - 1 for v in line.split(","))
        if i != j:
            pairs |= {(i, j), (j, i)}
    return pairs, sum(1 for _ in open(raw / f"{name}_graph_indicator.txt"))


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["MUTAG", "TU:ENZYMES"])
def test_tu_collection_is_the_disjoint_union(real_data_root, name):
    short = name.split(":")[-1]
    graph = read_graph(name, real_data_root).tocoo()
    pairs, n = _tu_reference(real_data_root / "TU" / short / "raw", short)
    assert graph.shape == (n, n)
    assert set(zip(graph.row.tolist(), graph.col.tolist())) == pairs


def test_ogb_raw_layouts(tmp_path):
    """OGB's downloaded layout (edge.csv.gz) and DatasetSaver's (data.npz), single graphs and collections."""
    import gzip

    rng = np.random.default_rng(3)
    sizes = [5, 7, 4]
    graphs = [rng.integers(0, n, size=(2, 2 * n)) for n in sizes]
    # Reference: the disjoint union with both directions, self-loops dropped.
    total = sum(sizes)
    dense = np.zeros((total, total), dtype=bool)
    offset = 0
    for n, e in zip(sizes, graphs):
        for s, d in e.T:
            if s != d:
                dense[offset + d, offset + s] = dense[offset + s, offset + d] = True
        offset += n
    raw = tmp_path / "OGB" / "ogbg_molfake" / "raw"
    raw.mkdir(parents=True)
    with gzip.open(raw / "edge.csv.gz", "wt") as f:
        for e in graphs:
            f.writelines(f"{s},{d}\n" for s, d in e.T)
    with gzip.open(raw / "num-node-list.csv.gz", "wt") as f:
        f.writelines(f"{n}\n" for n in sizes)
    with gzip.open(raw / "num-edge-list.csv.gz", "wt") as f:
        f.writelines(f"{e.shape[1]}\n" for e in graphs)
    np.testing.assert_array_equal(read_graph("ogbg-molfake", tmp_path).toarray().astype(bool), dense)

    ogb_io = pytest.importorskip("ogb.io")
    saver = ogb_io.DatasetSaver("ogbg-savedfake", is_hetero=False, version=1, root=str(tmp_path / "saver"))
    saver.save_graph_list([{"edge_index": e.astype(np.int64), "num_nodes": n, "node_feat": None, "edge_feat": None}
                           for n, e in zip(sizes, graphs)])
    dest = tmp_path / "OGB" / "ogbg_savedfake"
    shutil.move(saver.dataset_dir, dest)
    assert (dest / "raw" / "data.npz").is_file()
    np.testing.assert_array_equal(read_graph("ogbg-savedfake", tmp_path).toarray().astype(bool), dense)

    hetero = tmp_path / "OGB" / "ogbn_mag" / "raw" / "relations"
    hetero.mkdir(parents=True)
    with pytest.raises(ValueError, match="heterogeneous"):
        read_graph("ogbn-mag", tmp_path)
