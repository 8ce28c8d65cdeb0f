"""OGB datasets: tiny datasets written in OGB's raw layout with ``ogb.io.DatasetSaver`` and loaded
back by ``load_dataset`` through the real ``ogb`` PyG dataset classes (no network)."""
from __future__ import annotations

import builtins
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ogb")

from ogb.io import DatasetSaver  # noqa: E402

from scalegnn.data import DatasetNotFoundError, load_dataset  # noqa: E402
from scalegnn.data.ogb_datasets import ogb_dir_name  # noqa: E402


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.lstat()
            out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


def _place(saver: DatasetSaver, meta: dict, root: Path, name: str) -> Path:
    """Move the saver's dataset folder to ``<root>/OGB/<dir_name>`` with its ``meta_dict.pt``."""
    dest = root / "OGB" / ogb_dir_name(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(saver.dataset_dir, dest)
    shutil.rmtree(dest / "processed", ignore_errors=True)  # a pristine raw copy, as OGB ships it
    meta = dict(meta)
    meta["dir_path"] = str(dest)
    torch.save(meta, dest / "meta_dict.pt")
    return dest


def _graph(rng, n: int, e: int, feat: int = 5) -> dict:
    src = rng.integers(0, n, size=e)
    dst = rng.integers(0, n, size=e)
    return {"edge_index": np.stack([src, dst]).astype(np.int64), "num_nodes": n,
            "node_feat": rng.standard_normal((n, feat)).astype(np.float32), "edge_feat": None}


@pytest.fixture
def tiny_node_root(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    n = 40
    saver = DatasetSaver("ogbn-tiny", is_hetero=False, version=1, root=str(tmp_path / "work" / "sub"))
    saver.save_graph_list([_graph(rng, n, 120)])
    saver.save_target_labels(rng.integers(0, 3, size=(n, 1)))
    saver.save_task_info("multiclass classification", "acc", num_classes=3)
    perm = rng.permutation(n)
    saver.save_split({"train": perm[:24], "valid": perm[24:32], "test": perm[32:]}, "random")
    mapping = tmp_path / "work" / "mapping"
    mapping.mkdir(parents=True)
    (mapping / "README.md").write_text("node ids are row numbers\n")
    saver.copy_mapping_dir(str(mapping))
    meta = saver.get_meta_dict()
    root = tmp_path / "root"
    _place(saver, meta, root, "ogbn-tiny")
    return root


@pytest.fixture
def tiny_link_root(tmp_path) -> Path:
    rng = np.random.default_rng(1)
    n = 50
    saver = DatasetSaver("ogbl-tiny", is_hetero=False, version=1, root=str(tmp_path / "work" / "sub"))
    g = _graph(rng, n, 150)
    saver.save_graph_list([g])
    saver.save_task_info("link prediction", "hits@10")
    edges = g["edge_index"].T
    split = {
        "train": {"edge": edges[:100]},
        "valid": {"edge": edges[100:125], "edge_neg": rng.integers(0, n, size=(25, 2))},
        "test": {"edge": edges[125:], "edge_neg": rng.integers(0, n, size=(25, 2))},
    }
    saver.save_split(split, "random")
    mapping = tmp_path / "work" / "mapping"
    mapping.mkdir(parents=True)
    (mapping / "README.md").write_text("x\n")
    saver.copy_mapping_dir(str(mapping))
    meta = saver.get_meta_dict()
    root = tmp_path / "root"
    _place(saver, meta, root, "ogbl-tiny")
    return root


def _no_input(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("load_dataset must never prompt")

    monkeypatch.setattr(builtins, "input", fail)


def test_tiny_node_dataset_roundtrip(tiny_node_root, monkeypatch):
    before = _snapshot(tiny_node_root)
    ds = load_dataset("ogbn-tiny", root=tiny_node_root, download=False)
    assert ds.task == "node" and ds.metric == "acc"
    assert ds.data.num_nodes == 40 and ds.data.edge_index.size(1) == 120
    assert ds.num_features == 5 and ds.num_classes == 3
    assert [len(ds.split[k]) for k in ("train", "valid", "test")] == [24, 8, 8]
    assert all(v.dtype == torch.long for v in ds.split.values())
    # the Evaluator works on it
    y_true = ds.data.y[ds.split["test"]]
    res = ds.evaluator.eval({"y_true": y_true, "y_pred": y_true.clone()})
    assert res == {"acc": 1.0}
    res = ds.evaluator.eval({"y_true": y_true, "y_pred": (y_true + 1) % 3})
    assert res == {"acc": 0.0}
    # the data root is read-only: processed/ went to the cache
    assert _snapshot(tiny_node_root) == before
    assert not (tiny_node_root / "OGB" / "ogbn_tiny" / "processed").exists()
    # a second load reuses the cache (still no prompt, still no writes)
    _no_input(monkeypatch)
    again = load_dataset("ogbn-tiny", root=tiny_node_root, download=False)
    assert torch.equal(again.data.edge_index, ds.data.edge_index)
    assert _snapshot(tiny_node_root) == before


def test_tiny_node_dataset_explicit_meta_dict(tiny_node_root):
    meta_path = tiny_node_root / "OGB" / "ogbn_tiny" / "meta_dict.pt"
    meta = torch.load(meta_path, weights_only=False)
    meta_path.unlink()
    with pytest.raises(ValueError, match="meta_dict"):
        load_dataset("ogbn-tiny", root=tiny_node_root, download=False)
    ds = load_dataset("ogbn-tiny", root=tiny_node_root, download=False, meta_dict=meta)
    assert ds.data.num_nodes == 40


def test_tiny_link_dataset_roundtrip(tiny_link_root):
    before = _snapshot(tiny_link_root)
    ds = load_dataset("ogbl-tiny", root=tiny_link_root, download=False)
    assert ds.task == "link" and ds.metric == "hits@10"
    assert ds.data.num_nodes == 50
    assert ds.split["train"]["edge"].shape == (100, 2)
    assert ds.split["valid"]["edge_neg"].shape == (25, 2)
    pos = torch.ones(25)
    neg = torch.zeros(25)
    res = ds.evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})
    assert res["hits@10"] == 1.0
    assert _snapshot(tiny_link_root) == before


def test_ogb_version_mismatch_does_not_prompt(tiny_node_root, monkeypatch):
    """A local copy whose release note doesn't match loads with a warning, never an input() prompt."""
    d = tiny_node_root / "OGB" / "ogbn_tiny"
    (d / "RELEASE_v1.txt").rename(d / "RELEASE_v0.txt")
    _no_input(monkeypatch)
    with pytest.warns(UserWarning, match="RELEASE_v1"):
        ds = load_dataset("ogbn-tiny", root=tiny_node_root, download=False)
    assert ds.data.num_nodes == 40


def test_missing_ogb_offline(tmp_path, monkeypatch):
    _no_input(monkeypatch)
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("ogbn-arxiv", root=tmp_path, download=False)
    assert str(tmp_path / "OGB" / "ogbn_arxiv") in str(err.value)
    assert "internet" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_ogb_download_fails_cleanly(tmp_path, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    _no_input(monkeypatch)
    with pytest.raises(DatasetNotFoundError, match="ogbl_collab"):
        load_dataset("ogbl-collab", root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no half-made folders


def test_unknown_ogb_name_without_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="not an OGB dataset known"):
        load_dataset("ogbn-nonexistent", root=tmp_path)


def test_tiny_graph_dataset_roundtrip(tmp_path):
    """ogbg-style collection with integer (categorical) atom features, as OGB molecules have."""
    rng = np.random.default_rng(2)
    graphs = []
    for _ in range(12):
        n = int(rng.integers(3, 8))
        g = _graph(rng, n, 2 * n)
        g["node_feat"] = rng.integers(0, 9, size=(n, 2)).astype(np.int64)
        graphs.append(g)
    saver = DatasetSaver("ogbg-tiny", is_hetero=False, version=1, root=str(tmp_path / "work" / "sub"))
    saver.save_graph_list(graphs)
    saver.save_target_labels(rng.integers(0, 2, size=(12, 1)))
    saver.save_task_info("binary classification", "rocauc", num_classes=2)
    saver.save_split({"train": np.arange(8), "valid": np.arange(8, 10), "test": np.arange(10, 12)}, "scaffold")
    mapping = tmp_path / "work" / "mapping"
    mapping.mkdir(parents=True)
    (mapping / "README.md").write_text("x\n")
    saver.copy_mapping_dir(str(mapping))
    root = tmp_path / "root"
    _place(saver, saver.get_meta_dict(), root, "ogbg-tiny")
    before = _snapshot(root)
    ds = load_dataset("ogbg-tiny", root=root, download=False)
    assert ds.task == "graph" and ds.metric == "rocauc" and len(ds.graphs) == 12
    assert ds.data is None and ds.split["train"].tolist() == list(range(8))
    assert ds.num_classes == 1  # one binary task
    y = torch.tensor([[0], [1], [0], [1]])
    assert ds.evaluator.eval({"y_true": y, "y_pred": y.float()})["rocauc"] == 1.0
    assert _snapshot(root) == before
