"""SEAL recipe options: DGCNN's graph convolution (GCN / GIN / SAGE), width, depth and sort-pooling size,
from ``SEALConfig`` to the model and from ``examples/seal_planetoid.py``'s flags to the run's config."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn import GCNConv, GINConv, SAGEConv

from scalegnn.linkpred import DGCNN, SEALGNN, SEALConfig, SEALNodeEncoder, extract_enclosing_subgraphs
from scalegnn.linkpred.recipe import build_model

from test_linkpred_extract import random_graph

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("conv, cls", [("gcn", GCNConv), ("gin", GINConv), ("sage", SAGEConv)])
def test_build_model_gives_dgcnn_the_configured_convolution(conv, cls):
    cfg = SEALConfig(conv=conv, hidden_channels=16, num_layers=2)
    model = build_model(cfg, num_features=3, num_nodes=30, max_z=20, k=12)
    assert isinstance(model, DGCNN) and model.conv_kind == conv
    assert len(model.convs) == 3 and all(isinstance(c, cls) for c in model.convs)
    assert model.hidden_channels == 16 and model.num_layers == 2 and model.k == 12
    # each link is scored from its own subgraph only, whatever the convolution
    torch.manual_seed(0)
    ei = random_graph(30, 70, 3)
    x = torch.randn(30, 3)
    pairs = torch.tensor([[0, 1], [4, 9], [2, 20]])
    model.eval()
    out = model(extract_enclosing_subgraphs(ei, pairs, 2, x=x))
    alone = model(extract_enclosing_subgraphs(ei, pairs[1:2], 2, x=x))
    assert out.shape == (3,) and torch.allclose(out[1:2], alone, atol=1e-5)


def test_conv_option_is_refused_where_it_would_do_nothing():
    with pytest.raises(ValueError, match="conv='sage' applies to model='dgcnn' only"):
        build_model(SEALConfig(model="gcn", conv="sage"), num_features=0, num_nodes=30, max_z=20, k=12)
    with pytest.raises(ValueError, match="conv"):
        DGCNN(SEALNodeEncoder(max_z=10), conv="gat")
    assert SEALGNN(SEALNodeEncoder(max_z=10), 8, 2, conv="sage", pooling="mean").conv_kind == "sage"


def test_planetoid_script_passes_model_flags_to_the_run(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("seal_planetoid", EXAMPLES / "seal_planetoid.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["seal_planetoid"] = module
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    data = Data(edge_index=random_graph(80, 300, 5), num_nodes=80, x=torch.rand(80, 6))
    monkeypatch.setattr(module, "load_dataset", lambda name, root=None: SimpleNamespace(data=data))
    summary = module.main(["--epochs", "1", "--conv", "sage", "--hidden-channels", "16", "--num-layers", "2",
                           "--sort-k", "12", "--train-both-directions", "--out", str(tmp_path / "out")])
    cfg = summary["config"]
    assert (cfg["conv"], cfg["hidden_channels"], cfg["num_layers"], cfg["sort_k"]) == ("sage", 16, 2, 12)
    assert cfg["use_features"] and summary["runs"][0]["k"] == 12
    assert 0.0 <= summary["test_auc"]["mean"] <= 1.0
    assert (tmp_path / "out" / "summary.json").is_file()


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    """Extending a finished 2-epoch run to 3 epochs gives the 3-epoch run's metrics and weights: the checkpoint
    restores model, optimizer and global generators, and the loader's shuffling generator is replayed."""
    import json

    from scalegnn.linkpred import random_link_split, train_seal

    torch.manual_seed(0)
    data = Data(edge_index=random_graph(80, 300, 5), num_nodes=80)
    split = random_link_split(data, val=0.1, test=0.1, seed=2)

    def run(epochs, out, resume=False):
        cfg = SEALConfig(num_hops=2, hidden_channels=8, epochs=epochs, batch_size=16, monitor="val_auc",
                         use_features=False, conv="gin", lr=1e-3, seed=2)
        return train_seal(split, cfg, out_dir=out, resume=resume)

    straight = run(3, tmp_path / "straight")
    run(2, tmp_path / "extended")
    extended = run(3, tmp_path / "extended", resume=True)

    def history(out):
        return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
                if '"epoch"' in line]

    a, b = history(tmp_path / "straight"), history(tmp_path / "extended")
    assert [r["epoch"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b):
        assert ra["loss"] == pytest.approx(rb["loss"], abs=1e-6)
        assert ra["val_auc"] == pytest.approx(rb["val_auc"], abs=1e-6)
    assert straight["test_auc"] == pytest.approx(extended["test_auc"], abs=1e-6)
    assert straight["best_epoch"] == extended["best_epoch"]
