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


# ------------------------------------------------------------------ Planetoid


@pytest.mark.parametrize("name,n,e,f,c,split", [
    ("Cora", 2708, 10556, 1433, 7, (140, 500, 1000)),
    ("CiteSeer", 3327, 9104, 3703, 6, (120, 500, 1000)),
])
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


def test_planetoid_from_env(real_data_root, monkeypatch):
    monkeypatch.setenv("SCALEGNN_DATA", str(real_data_root))
    assert dataset_root() == real_data_root
    assert load_dataset("cora").data.num_nodes == 2708  # case-insensitive


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


def test_dataset_status_real(real_data_root):
    by = {r["name"]: r for r in dataset_status(real_data_root)}
    for name in ("Cora", "CiteSeer", "PROTEINS", "USAir", "BlogCatalog", "arxiv-collab", "facebook"):
        assert by[name]["present"], name
    assert not by["PubMed"]["present"]
    assert not by["ogbn-arxiv"]["present"]
