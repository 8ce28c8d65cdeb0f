"""The SEAL example scripts end to end on tiny data: OGB scripts on datasets written in OGB's raw layout
(``ogb.io.DatasetSaver``) and loaded through the real ``ogb`` code; the classic-network script on a
small SEAL network file."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ogb")

from ogb.io import DatasetSaver  # noqa: E402

from scalegnn.data.ogb_datasets import ogb_dir_name  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_tiny_ogbl(tmp_path: Path, name: str, metric: str, features: bool) -> Path:
    """A 60-node ogbl dataset in OGB's raw layout under ``<root>/OGB/<dir>``, with meta_dict.pt."""
    rng = np.random.default_rng(0)
    n = 60
    comm = np.arange(n) % 6  # six communities, links mostly inside them
    src, dst = [], []
    while len(src) < 240:
        a, b = rng.integers(0, n, 2)
        if a != b and (comm[a] == comm[b] or rng.random() < 0.1):
            src.append(a)
            dst.append(b)
    edges = np.unique(np.sort(np.stack([src, dst], 1), axis=1), axis=0)
    perm = rng.permutation(len(edges))
    tr, va, te = edges[perm[:150]], edges[perm[150:180]], edges[perm[180:]]
    # as in OGB's link datasets, the stored graph holds the training edges only (one direction each)
    graph = {"edge_index": tr.T.astype(np.int64), "num_nodes": n, "edge_feat": None,
             "node_feat": rng.standard_normal((n, 8)).astype(np.float32) if features else None}
    saver = DatasetSaver(name, is_hetero=False, version=1, root=str(tmp_path / "work" / "sub"))
    saver.save_graph_list([graph])
    saver.save_task_info("link prediction", metric)

    def negs(k):
        out = []
        while len(out) < k:
            a, b = rng.integers(0, n, 2)
            if a != b and comm[a] != comm[b]:
                out.append((a, b))
        return np.array(out, dtype=np.int64)

    saver.save_split({"train": {"edge": tr}, "valid": {"edge": va, "edge_neg": negs(60)},
                      "test": {"edge": te, "edge_neg": negs(60)}}, "random")
    mapping = tmp_path / "work" / "mapping"
    mapping.mkdir(parents=True, exist_ok=True)
    (mapping / "README.md").write_text("node ids are row numbers\n")
    saver.copy_mapping_dir(str(mapping))
    meta = saver.get_meta_dict()
    root = tmp_path / "root"
    dest = root / "OGB" / ogb_dir_name(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(saver.dataset_dir, dest)
    shutil.rmtree(dest / "processed", ignore_errors=True)
    meta = dict(meta)
    meta["dir_path"] = str(dest)
    torch.save(meta, dest / "meta_dict.pt")
    return root


def test_ogbl_collab_script_on_tiny_ogb_dataset(tmp_path):
    root = write_tiny_ogbl(tmp_path, "ogbl-tinycollab", "hits@50", features=True)
    module = load_example("ogbl_collab_seal")
    out = tmp_path / "run"
    summary = module.main(["--dataset", "ogbl-tinycollab", "--root", str(root), "--runs", "2", "--epochs", "3",
                           "--hidden-channels", "16", "--train-percent", "50", "--metric", "hits@10",
                           "--lr", "1e-2", "--out", str(out)])
    for key in ("val_hits@10", "test_hits@10"):
        assert summary[key]["runs"] == 2 and 0.0 <= summary[key]["mean"] <= 1.0
    assert summary["config"]["num_hops"] == 1 and summary["config"]["hidden_channels"] == 16
    assert (out / "summary.json").is_file() and (out / "run0" / "metrics.jsonl").is_file()
    # the summary is the runs' best-validation epochs, as logged by the Trainer
    import json

    final = [json.loads(line) for line in (out / "run0" / "metrics.jsonl").read_text().splitlines()][-1]
    assert final["best_test_hits@10"] == pytest.approx(summary["runs"][0]["test_hits@10"])


def test_ogbl_ddi_script_on_tiny_ogb_dataset(tmp_path):
    root = write_tiny_ogbl(tmp_path, "ogbl-tinyddi", "hits@20", features=False)
    module = load_example("ogbl_ddi_seal")
    summary = module.main(["--dataset", "ogbl-tinyddi", "--root", str(root), "--runs", "1", "--epochs", "2",
                           "--train-percent", "50", "--metric", "hits@20"])
    assert summary["config"]["ratio_per_hop"] == 0.2
    assert 0.0 <= summary["test_hits@20"]["mean"] <= 1.0


def test_ogb_link_split_uses_validation_edges_at_test_time(tmp_path):
    from scalegnn.data import load_dataset
    from scalegnn.linkpred import ogb_link_split

    root = write_tiny_ogbl(tmp_path, "ogbl-tinysplit", "hits@50", features=True)
    ds = load_dataset("ogbl-tinysplit", root=root, download=False)
    split = ogb_link_split(ds, use_valedges_as_input=True, seed=0)
    n = split.num_nodes
    key = lambda e: set((e.min(1).values * n + e.max(1).values).tolist())  # noqa: E731
    valid = key(ds.split["valid"]["edge"])
    assert not (key(split.edge_index.t()) & valid)
    assert valid <= key(split.test_edge_index.t())
    assert torch.equal(split.neg["test"], ds.split["test"]["edge_neg"])
    assert key(split.edge_index.t()) == key(ds.split["train"]["edge"])
    assert bool((split.edge_index.size(1) == 2 * ds.split["train"]["edge"].size(0)))  # both directions
    assert not (key(split.neg["train"]) & key(split.edge_index.t()))


def test_classic_script_on_a_small_network(tiny_usair, tmp_path):
    module = load_example("seal_classic")
    table = module.main(["--networks", "USAir", "--root", str(tiny_usair), "--runs", "2", "--epochs", "2",
                         "--out", str(tmp_path / "out")])
    row = table["USAir"]
    assert row["seal_auc"]["runs"] == 2 and len(row["runs"]) == 2
    assert 0.5 < row["aa_auc"]["mean"] <= 1.0 and 0.5 < row["cn_auc"]["mean"] <= 1.0
    assert (tmp_path / "out" / "summary.json").is_file()


def test_classic_hop_rules():
    """``degree``: 2 hops on sparse graphs only; ``auto`` (AA vs CN on held-out observed links) is 1 or 2 and seeded."""
    import torch
    from torch_geometric.data import Data

    from scalegnn.linkpred import random_link_split

    module = load_example("seal_classic")
    n = 60
    ring = torch.tensor([[i, (i + 1) % n] for i in range(n)] + [[i, (i + 2) % n] for i in range(n)]).t()
    pairs = torch.combinations(torch.arange(30))
    dense = pairs[torch.rand(pairs.size(0), generator=torch.Generator().manual_seed(0)) < 0.35].t()  # mean degree ~10
    for edges, nodes, expected in ((ring, n, 2), (dense, 30, 1)):
        data = Data(edge_index=torch.cat([edges, edges.flip(0)], dim=1), num_nodes=nodes)
        split = random_link_split(data, val=0.0, test=0.1, seed=0)
        assert module.degree_hops(split) == expected
        hops = module.auto_hops(split, seed=0)
        assert hops in (1, 2) and module.auto_hops(split, seed=0) == hops
    from scalegnn.train.entrypoint import UsageError

    with pytest.raises(UsageError, match="--num-hops"):
        module.main(["--num-hops", "many"])
