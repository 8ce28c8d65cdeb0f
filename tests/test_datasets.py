"""Dataset loading: bundled default, Planetoid, TU, SEAL networks, offline errors, read-only root."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from scalegnn.data import DatasetNotFoundError, dataset_status, load_dataset, split_edges
from scalegnn.data.bundled import CORA_NPZ, load_cora_arrays
from scalegnn.data.datasets import cache_dir, dataset_root

KEYS = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")


def _snapshot(root: Path) -> dict:
    """Every path under ``root`` with its mtime and size (to prove nothing was written)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.lstat()
            out[str(p)] = (st.st_mtime_ns, st.st_size)
    st = root.stat()
    out[str(root)] = (st.st_mtime_ns, st.st_size)
    return out


# ------------------------------------------------------------------ bundled default


def test_default_is_bundled_cora():
    for name in (None, "default", "cora-bundled"):
        ds = load_dataset(name)
        assert ds.task == "node" and ds.metric == "acc"
        assert ds.data.num_nodes == 2708 and ds.data.edge_index.size(1) == 10556
        assert ds.num_features == 1433 and ds.num_classes == 7
        assert [len(ds.split[k]) for k in ("train", "valid", "test")] == [140, 500, 1000]
        assert ds.info["bundled"]


def test_bundled_loads_fast_and_small():
    load_dataset()  # warm imports
    t = time.perf_counter()
    load_dataset()
    assert time.perf_counter() - t < 1.0
    assert CORA_NPZ.stat().st_size < 1_000_000


def test_bundled_npz_readable_with_numpy_only():
    a = load_cora_arrays()
    assert a["edge_index"].dtype == np.int64 and a["edge_index"].shape == (2, 10556)


@pytest.mark.realdata
def test_bundled_equals_pyg_planetoid(real_data_root, tmp_path):
    from torch_geometric.datasets import Planetoid

    # PyG writes processed/ next to raw/: give it a private copy-by-symlink of the raw folder
    (tmp_path / "Cora").mkdir()
    os.symlink(real_data_root / "Planetoid" / "Cora" / "raw", tmp_path / "Cora" / "raw")
    ref = Planetoid(str(tmp_path), "Cora")[0]
    ours = load_dataset("cora-bundled").data
    assert set(ours.keys()) == set(ref.keys())
    for key in KEYS:
        a, b = getattr(ours, key), getattr(ref, key)
        assert a.dtype == b.dtype, key
        assert torch.equal(a, b), key


@pytest.mark.realdata
def test_make_cora_reproduces_shipped_file(real_data_root, tmp_path):
    from scalegnn.data.bundled.make_cora import main

    before = _snapshot(real_data_root)
    out = tmp_path / "cora.npz"
    assert main(["--root", str(real_data_root), "--out", str(out)]) == 0
    new, shipped = load_cora_arrays(out), load_cora_arrays()
    assert set(new) == set(shipped)
    for key in new:
        assert new[key].dtype == shipped[key].dtype and np.array_equal(new[key], shipped[key]), key
    assert _snapshot(real_data_root) == before


# ------------------------------------------------------------------ Planetoid


@pytest.mark.parametrize("name,n,e,f,c,split", [
    ("Cora", 2708, 10556, 1433, 7, (140, 500, 1000)),
    ("CiteSeer", 3327, 9104, 3703, 6, (120, 500, 1000)),
])
@pytest.mark.realdata
def test_planetoid(real_data_root, name, n, e, f, c, split):
    before = _snapshot(real_data_root)
    ds = load_dataset(name, root=real_data_root, download=False)
    assert ds.task == "node" and ds.metric == "acc"
    assert ds.data.num_nodes == n and ds.data.edge_index.size(1) == e
    assert ds.num_features == f and ds.data.x.size(1) == f and ds.num_classes == c
    assert tuple(len(ds.split[k]) for k in ("train", "valid", "test")) == split
    assert ds.split["train"].dtype == torch.long
    assert torch.equal(ds.data.train_mask.nonzero().view(-1), ds.split["train"])
    assert _snapshot(real_data_root) == before


@pytest.mark.realdata
def test_planetoid_from_env(real_data_root, monkeypatch):
    monkeypatch.setenv("SCALEGNN_DATA", str(real_data_root))
    assert dataset_root() == real_data_root
    assert load_dataset("cora").data.num_nodes == 2708  # case-insensitive


@pytest.mark.realdata
def test_cora_matches_bundled(real_data_root):
    a = load_dataset("Cora", root=real_data_root, download=False).data
    b = load_dataset().data
    for key in KEYS:
        assert torch.equal(getattr(a, key), getattr(b, key)), key


# ------------------------------------------------------------------ missing / offline


def test_missing_dataset_offline_names_expected_path(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("PubMed", root=tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path / "Planetoid" / "PubMed" / "raw") in msg
    assert "internet" in msg
    assert list(tmp_path.iterdir()) == []


def test_missing_dataset_download_failure_is_clear(tmp_path, monkeypatch):
    """With downloading enabled but the network failing, the error still names the path."""
    import urllib.request

    def no_network(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("PubMed", root=root)
    assert str(root / "Planetoid" / "PubMed" / "raw") in str(err.value)
    assert "internet" in str(err.value)
    assert not (root / "Planetoid" / "PubMed" / "raw").exists()  # no half-made folder left behind


def test_offline_env_disables_download(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEGNN_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="TU/DD/raw"):
        load_dataset("DD", root=tmp_path)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("no-such-dataset")


def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("SCALEGNN_DATA", raising=False)
    assert dataset_root() == Path.home() / ".scalegnn" / "data"
    assert dataset_root(tmp_path) == tmp_path
    monkeypatch.setenv("SCALEGNN_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_dataset_status_lists_everything(tmp_path):
    rows = dataset_status(tmp_path)
    names = {r["name"] for r in rows}
    assert {"cora-bundled", "Cora", "CiteSeer", "PubMed", "PROTEINS", "USAir", "BlogCatalog",
            "arxiv-collab", "facebook", "ogbn-arxiv", "ogbl-collab", "ogbg-molhiv"} <= names
    by = {r["name"]: r for r in rows}
    assert by["cora-bundled"]["present"]
    assert not by["Cora"]["present"]
    assert by["Cora"]["path"] == str(tmp_path / "Planetoid" / "Cora" / "raw")


@pytest.mark.realdata
def test_dataset_status_real(real_data_root):
    by = {r["name"]: r for r in dataset_status(real_data_root)}
    for name in ("Cora", "CiteSeer", "PROTEINS", "USAir", "BlogCatalog", "arxiv-collab", "facebook"):
        assert by[name]["present"], name
    assert not by["PubMed"]["present"]
    assert not by["ogbn-arxiv"]["present"]


# ------------------------------------------------------------------ TU


@pytest.mark.parametrize("name,graphs,classes", [
    ("PROTEINS", 1113, 2), ("ENZYMES", 600, 6), ("MUTAG", 188, 2), ("Mutagenicity", 4337, 2),
])
@pytest.mark.realdata
def test_tu(real_data_root, name, graphs, classes):
    before = _snapshot(real_data_root)
    ds = load_dataset(name, root=real_data_root, download=False)
    assert ds.task == "graph" and ds.metric == "acc" and set(ds.split) == {"train", "valid", "test"}
    assert sum(len(v) for v in ds.split.values()) == graphs
    assert len(ds.graphs) == graphs and ds.num_classes == classes
    assert ds.data is None and ds.num_features == ds.graphs.num_features
    assert _snapshot(real_data_root) == before
    # processed/ lives in the cache
    assert any(cache_dir().glob(f"TU/*/{name}/processed"))


@pytest.mark.realdata
def test_tu_total_nodes(real_data_root):
    ds = load_dataset("PROTEINS", root=real_data_root, download=False)
    assert sum(g.num_nodes for g in ds.graphs) == 43471


@pytest.mark.realdata
def test_tu_generic_prefix(real_data_root):
    assert len(load_dataset("TU:MUTAG", root=real_data_root, download=False).graphs) == 188


# ------------------------------------------------------------------ TU: the stratified 10-fold split


def _unbalanced_labels() -> torch.Tensor:
    """67 graph labels in 3 classes of very different sizes, interleaved (not sorted by class)."""
    y = torch.tensor([0] * 37 + [1] * 23 + [2] * 7)
    return y[torch.randperm(67, generator=torch.Generator().manual_seed(11))]


def test_stratified_folds_partition_stratify_and_repeat():
    from scalegnn.data.splits import stratified_folds

    y = _unbalanced_labels()
    folds = stratified_folds(y, 10, seed=0)
    assert folds.shape == (67,) and folds.dtype == torch.long
    assert int(folds.min()) == 0 and int(folds.max()) == 9  # every graph in exactly one fold
    sizes = torch.bincount(folds, minlength=10)
    assert int(sizes.sum()) == 67 and int(sizes.max() - sizes.min()) <= 1
    for c in range(3):  # stratified: each class spread over the folds as evenly as possible
        per_fold = torch.bincount(folds[y == c], minlength=10)
        n_c = int((y == c).sum())
        assert int(per_fold.min()) == n_c // 10 and int(per_fold.max()) == -(-n_c // 10), (c, per_fold)
    assert torch.equal(stratified_folds(y, 10, seed=0), folds)  # deterministic
    assert not torch.equal(stratified_folds(y, 10, seed=1), folds)  # the seed matters
    state = torch.get_rng_state()
    stratified_folds(y, 10, seed=0)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is not touched


def test_stratified_folds_without_class_labels():
    from scalegnn.data.splits import stratified_folds

    folds = stratified_folds(torch.rand(25, 3), 5, seed=0)  # multi-task labels: plain random folds
    assert torch.equal(torch.bincount(folds), torch.full((5,), 5))


def test_fold_split_protocol():
    from scalegnn.data.splits import fold_split, stratified_folds

    y = _unbalanced_labels()
    folds = stratified_folds(y, 10, seed=0)
    seen_test = torch.zeros(67, dtype=torch.long)
    seen_valid = torch.zeros(67, dtype=torch.long)
    for fold in range(10):
        split = fold_split(y, fold, 10, seed=0)
        tr, va, te = split["train"], split["valid"], split["test"]
        assert torch.equal(torch.sort(torch.cat([tr, va, te])).values, torch.arange(67))  # disjoint, covering
        assert torch.equal(te, (folds == fold).nonzero().view(-1))
        assert torch.equal(va, (folds == (fold - 1) % 10).nonzero().view(-1))
        assert all(torch.equal(v, v.sort().values) for v in split.values())
        seen_test[te] += 1
        seen_valid[va] += 1
    assert torch.all(seen_test == 1) and torch.all(seen_valid == 1)  # 10 folds: each graph tested once


def _write_tiny_tu(root: Path, name: str, labels) -> None:
    """A TU dataset in the TU Dortmund text format: one triangle per graph, the given graph labels."""
    raw = root / "TU" / name / "raw"
    raw.mkdir(parents=True)
    edges, indicator = [], []
    for g in range(len(labels)):
        a, b, c = 3 * g + 1, 3 * g + 2, 3 * g + 3
        edges += [(a, b), (b, a), (b, c), (c, b), (a, c), (c, a)]
        indicator += [g + 1] * 3
    (raw / f"{name}_A.txt").write_text("".join(f"{u}, {v}\n" for u, v in edges))
    (raw / f"{name}_graph_indicator.txt").write_text("".join(f"{g}\n" for g in indicator))
    (raw / f"{name}_graph_labels.txt").write_text("".join(f"{y}\n" for y in labels))


def test_tu_split_through_load_dataset(tmp_path):
    from scalegnn.data.splits import fold_split

    labels = [1] * 18 + [2] * 12  # TU files label 1/2; PyG shifts them to 0/1
    _write_tiny_tu(tmp_path, "TINY", labels)
    y = torch.tensor(labels) - 1
    ds = load_dataset("TU:TINY", root=tmp_path, download=False)
    assert ds.task == "graph" and len(ds.graphs) == 30
    expected = fold_split(y, 0, 10, seed=0)
    assert set(ds.split) == {"train", "valid", "test"}
    assert all(torch.equal(ds.split[k], expected[k]) for k in expected)
    assert [len(ds.split[k]) for k in ("train", "valid", "test")] == [24, 3, 3]
    for k in ("valid", "test"):  # stratified: 18/12 graphs -> about 1.8 / 1.2 per fold of each class
        counts = torch.bincount(y[ds.split[k]], minlength=2).tolist()
        assert counts in ([2, 1], [1, 2]), (k, counts)
    three = load_dataset("TU:TINY", root=tmp_path, download=False, fold=3, num_folds=5, seed=7)
    expected = fold_split(y, 3, 5, seed=7)
    assert all(torch.equal(three.split[k], expected[k]) for k in expected)
    assert three.info["fold"] == 3 and three.info["num_folds"] == 5 and "stratified 5-fold" in three.info["split"]
    # the graphs behind the ids carry the labels the split was stratified on
    assert [int(ds.graphs[i].y) for i in ds.split["test"].tolist()] == y[ds.split["test"]].tolist()


@pytest.mark.realdata
def test_tu_folds_on_proteins(real_data_root):
    from scalegnn.data.tu import tu_graph_labels

    first = load_dataset("PROTEINS", root=real_data_root, download=False)
    y = tu_graph_labels(first.graphs)
    assert torch.equal(y, torch.cat([first.graphs[i].y for i in range(len(first.graphs))]))
    tests = []
    for fold in (0, 5, 9):
        ds = first if fold == 0 else load_dataset("PROTEINS", root=real_data_root, download=False, fold=fold)
        tests.append(ds.split["test"])
        for k, v in ds.split.items():
            per_class = torch.bincount(y[v], minlength=2)
            share = per_class.double() / per_class.sum()
            overall = torch.bincount(y, minlength=2).double() / y.numel()
            assert torch.allclose(share, overall, atol=0.015), (fold, k, share, overall)
    assert len(set().union(*[set(t.tolist()) for t in tests])) == sum(t.numel() for t in tests)  # disjoint folds
    again = load_dataset("PROTEINS", root=real_data_root, download=False)
    assert all(torch.equal(again.split[k], first.split[k]) for k in first.split)


# ------------------------------------------------------------------ SEAL networks

SEAL_NODES = {"USAir": 332, "NS": 1589, "PB": 1222, "Yeast": 2375, "Celegans": 297,
              "Power": 4941, "Router": 5022, "Ecoli": 1805}


def _mat_nnz(path: Path) -> int:
    import scipy.io

    return int(scipy.io.loadmat(str(path))["net"].nnz)


@pytest.mark.parametrize("name", sorted(SEAL_NODES))
@pytest.mark.realdata
def test_seal_mat(real_data_root, name):
    ds = load_dataset(name, root=real_data_root, download=False)
    assert ds.task == "link" and ds.metric == "auc" and ds.split == {}
    d = ds.data
    assert d.num_nodes == SEAL_NODES[name]
    assert d.edge_index.size(1) == _mat_nnz(real_data_root / "SEAL" / f"{name}.mat")
    assert d.edge_index.size(1) % 2 == 0
    # undirected: every edge appears in both directions
    fwd = set(map(tuple, d.edge_index.t().tolist()))
    assert all((v, u) in fwd for u, v in fwd)


@pytest.mark.parametrize("name", ["USAir", "NS", "PB", "Yeast", "Celegans", "Power", "Router"])
@pytest.mark.realdata
def test_seal_txt_matches_mat(real_data_root, name):
    txt = load_dataset(f"{name}-txt", root=real_data_root, download=False).data
    mat = load_dataset(name, root=real_data_root, download=False).data
    assert txt.num_nodes == mat.num_nodes == SEAL_NODES[name]
    assert torch.equal(txt.edge_index, mat.edge_index)


@pytest.mark.realdata
def test_seal_edge_lists(real_data_root):
    arxiv = load_dataset("arxiv-collab", root=real_data_root, download=False)
    assert arxiv.data.num_nodes == 18772 and arxiv.data.edge_index.size(1) == 396160
    fb = load_dataset("facebook", root=real_data_root, download=False)
    assert fb.data.num_nodes == 4039 and fb.data.edge_index.size(1) == 2 * 88234


@pytest.mark.realdata
def test_blogcatalog(real_data_root):
    ds = load_dataset("BlogCatalog", root=real_data_root, download=False)
    assert ds.data.num_nodes == 10312 and ds.data.edge_index.size(1) == 667966
    assert ds.data.y.shape == (10312, 39) and ds.num_classes == 39


@pytest.mark.realdata
def test_seal_read_only(real_data_root):
    before = _snapshot(real_data_root)
    for name in ("USAir", "facebook", "BlogCatalog"):
        load_dataset(name, root=real_data_root, download=False)
    assert _snapshot(real_data_root) == before


def test_seal_missing_offline(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "SEAL" / "USAir.mat")):
        load_dataset("USAir", root=tmp_path, download=False)
    with pytest.raises(DatasetNotFoundError, match="arxiv_compressed.txt"):
        load_dataset("arxiv-collab", root=tmp_path)


def _toy_graph():
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 60, (2, 300), generator=g)
    ei = ei[:, ei[0] != ei[1]]
    return Data(edge_index=to_undirected(ei, num_nodes=60), num_nodes=60)


def test_split_edges_layout_and_determinism():
    data = _toy_graph()
    s1 = split_edges(data, seed=3)
    s2 = split_edges(data, seed=3)
    s3 = split_edges(data, seed=4)
    for part in ("train", "valid", "test"):
        for k in s1[part]:
            assert torch.equal(s1[part][k], s2[part][k])
    assert not torch.equal(s1["train"]["edge"], s3["train"]["edge"])
    und = data.edge_index[:, data.edge_index[0] < data.edge_index[1]].t()
    m = und.size(0)
    tr, va, te = (s1[p]["edge"] for p in ("train", "valid", "test"))
    assert tr.size(0) + va.size(0) + te.size(0) == m
    assert va.size(0) == round(0.05 * m) and te.size(0) == round(0.1 * m)
    all_pos = {tuple(e) for e in torch.cat([tr, va, te]).tolist()}
    assert all_pos == {tuple(e) for e in und.tolist()}  # a partition of the undirected edges
    for p in ("valid", "test"):
        neg = s1[p]["edge_neg"]
        assert neg.shape == s1[p]["edge"].shape
        assert not ({tuple(e) for e in neg.tolist()} & all_pos)
        assert bool((neg[:, 0] != neg[:, 1]).all())


@pytest.mark.realdata
def test_seal_with_split(real_data_root):
    ds = load_dataset("USAir", root=real_data_root, download=False, split_edges=True, seed=0)
    assert set(ds.split) == {"train", "valid", "test"}
    total = sum(ds.split[p]["edge"].size(0) for p in ds.split)
    assert total == 4252 // 2


# ------------------------------------------------------------------ dispatch and validation on load


def test_synthetic_dispatch(monkeypatch):
    """``synthetic-*`` names go to scalegnn.data.synthetic.load_synthetic (imported lazily), then validation."""
    import sys
    import types

    from scalegnn.data.loaded import LoadedDataset

    calls = []

    def fake_load_synthetic(name, seed=0, **kwargs):
        calls.append((name, seed))
        d = load_dataset().data
        return LoadedDataset(name=name, task="node", data=d, split={}, num_features=d.x.size(1),
                             num_classes=7, metric="acc")

    module = types.ModuleType("scalegnn.data.synthetic")
    module.load_synthetic = fake_load_synthetic
    monkeypatch.setitem(sys.modules, "scalegnn.data.synthetic", module)
    ds = load_dataset("synthetic-sbm-100")
    assert ds.name == "synthetic-sbm-100" and calls == [("synthetic-sbm-100", 0)]
    load_dataset("synthetic-sbm-100", seed=3)
    assert calls[-1] == ("synthetic-sbm-100", 3)

    def broken(name, seed=0):
        d = load_dataset().data.clone()
        d.x[0, 0] = float("nan")
        return LoadedDataset(name=name, task="node", data=d, split={}, num_features=1433, num_classes=7,
                             metric="acc")

    module.load_synthetic = broken
    with pytest.raises(ValueError, match="NaN"):
        load_dataset("synthetic-broken")


def test_collection_validation_names_the_bad_graph():
    from torch_geometric.data import Data, InMemoryDataset

    from scalegnn.data.datasets import _validate_collection

    good = [Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([1]))
            for _ in range(4)]
    ds = InMemoryDataset()
    ds.data, ds.slices = InMemoryDataset.collate(good)
    _validate_collection("toy", ds)  # fast path passes
    bad = list(good)
    bad[2] = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 3]]), y=torch.tensor([0]))
    ds.data, ds.slices = InMemoryDataset.collate(bad)
    with pytest.raises(ValueError, match=r"toy graph 2: edge_index has node index 3 out of range"):
        _validate_collection("toy", ds)
    bad[2] = Data(x=torch.full((3, 2), float("inf")), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([0]))
    ds.data, ds.slices = InMemoryDataset.collate(bad)
    with pytest.raises(ValueError, match=r"toy graph 2: x contains inf"):
        _validate_collection("toy", ds)


@pytest.mark.realdata
def test_seal_mat_falls_back_to_edge_list(real_data_root, tmp_path):
    (tmp_path / "SEAL" / "raw").mkdir(parents=True)
    os.symlink(real_data_root / "SEAL" / "raw" / "USAir.txt", tmp_path / "SEAL" / "raw" / "USAir.txt")
    ds = load_dataset("USAir", root=tmp_path, download=False)
    assert ds.data.num_nodes == 332 and ds.data.edge_index.size(1) == 4252
    assert ds.info["source"].endswith("USAir.txt")
    by = {r["name"]: r for r in dataset_status(tmp_path)}
    assert by["USAir"]["present"] and not by["NS"]["present"]


def test_split_rows_reindexes_into_the_concatenated_nodes():
    from scalegnn.data import split_rows

    split = {"test": torch.tensor([9, 1]), "train": torch.tensor([4, 7, 0]), "valid": torch.tensor([[3]])}
    nodes, rows = split_rows(split)
    assert torch.equal(nodes, torch.tensor([4, 7, 0, 3, 9, 1]))  # train, valid, test order
    for key in split:
        assert torch.equal(nodes[rows[key]], split[key].view(-1))
    nodes, rows = split_rows({"train": torch.tensor([2])})
    assert torch.equal(nodes, torch.tensor([2])) and list(rows) == ["train"]
