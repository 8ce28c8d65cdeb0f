"""The modes of `scalegnn train`: mini-batch sampling (--sampler), compression (--compress) and SEAL link
prediction (--task link). Each runs end to end in seconds, equals the library recipe it wires (same seed, same
numbers), writes metrics.jsonl, and resumes (or refuses to, in one line) from its run directory."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scalegnn.cli import main


def _records(out: Path) -> list:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _saved_settings(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["config"]["settings"]


def _bundled_cora_row_normalized():
    """What the CLI trains on by default: the bundled Cora with row-normalized features."""
    from scalegnn.data import load_dataset

    ds = load_dataset(None)
    data = ds.data.clone()
    data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return ds, data


# ------------------------------------------------------------------------------------------------ --sampler
def test_sampler_equals_the_mvs_recipe_and_resumes_with_its_saved_settings(tmp_path, capsys):
    from torch_geometric.nn.models import GCN

    from scalegnn.sampling import MVSLoader, MVSTask
    from scalegnn.train import Trainer, seed_everything

    out = tmp_path / "run"
    assert main(["train", "--quiet", "--sampler", "mvs", "--batch-size", "32", "--epochs", "2",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gcn (mvs sampling) on Cora: test_acc" in printed
    assert "mini-batches: 10 steps of about 32 seed nodes, 2 snapshots" in printed  # ceil(140 / 32) = 5 per epoch
    settings = _saved_settings(out)
    assert (settings["sampler"], settings["batch_size"], settings["fanout"], settings["history"]) == ("mvs", 32, 10,
                                                                                                     True)
    records = _records(out)
    assert [r["epoch"] for r in records[:-1]] == [1, 2] and records[-1]["final"] is True

    # the reference: examples/mvs_gnn.py's recipe on the same data and seed
    seed_everything(0)
    ds, data = _bundled_cora_row_normalized()
    loader = MVSLoader(data, ds.split["train"], batch_size=32, num_hops=1, fanout=10, sampler="mvs", seed=0)
    task = MVSTask(loader, ds.split, metric="acc", history=True)
    model = GCN(data.num_features, 16, 2, ds.num_classes, normalize=False, dropout=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    history = Trainer(model, opt, task, epochs=2, progress=False).fit().history
    for ours, ref in zip(records[:-1], history):
        assert ours["loss"] == pytest.approx(ref["loss"], rel=1e-6, abs=1e-7)
        assert (ours["val_acc"], ours["test_acc"]) == (ref["val_acc"], ref["test_acc"])

    # --resume takes the mode from run.json and extends the run
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "gcn (mvs sampling) on Cora" in printed and "5 steps" in printed
    assert [r["epoch"] for r in _records(out)[:-1]] == [1, 2, 3]
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--sampler", "uniform"]) == 2
    err = capsys.readouterr().err
    assert "--sampler uniform (saved mvs) contradicts the run saved in" in err and err.count("\n") == 1


def test_uniform_sampler_without_history_samples_every_layer(capsys):
    assert main(["train", "--quiet", "--dataset", "synthetic-300-3000", "--sampler", "uniform", "--no-history",
                 "--fanout", "5,5", "--batch-size", "16", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "gcn (uniform sampling) on synthetic-300-3000" in printed
    assert "0 snapshots, history 0.0 MiB" in printed  # uniform without history needs no exact pass


# ----------------------------------------------------------------------------------------------- --compress
def test_compress_int8_equals_the_compress_recipe_and_exports_the_best_model(tmp_path, capsys):
    from scalegnn import compress
    from scalegnn.models import MODELS, ModelConfig, resolve_options
    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    out = tmp_path / "run"
    assert main(["train", "--quiet", "--compress", "int8", "--epochs", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gcn (int8) on Cora: test_acc" in printed
    line = next(x for x in printed.splitlines() if x.startswith("--compress int8: exported"))
    size = int(line.split("exported ")[1].split(" bytes")[0])
    assert (out / "model.sgc").stat().st_size == size
    assert _saved_settings(out)["compress"] == "int8"
    records = _records(out)
    assert "val_acc_compressed" not in records[0]  # int8 is complete from the start: the plain monitor

    seed_everything(0)
    ds, data = _bundled_cora_row_normalized()
    config = ModelConfig(16, 2, 0.5, resolve_options("gcn", {}))
    model = compress.apply(MODELS["gcn"].build(data.num_features, ds.num_classes, config), "int8")
    scheduler = compress.CompressionScheduler(model, total_steps=3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    task = NodeClassificationTask(data, ds.split, ds.metric, ds.evaluator)
    result = Trainer(model, opt, task, epochs=3, progress=False, scheduler=scheduler).fit()
    for ours, ref in zip(records[:-1], result.history):
        assert ours["loss"] == pytest.approx(ref["loss"], rel=1e-6, abs=1e-7)
        assert ours["val_acc"] == ref["val_acc"]
    # the exported file is the best-validation model: reloaded, it gives the reference's outputs
    model.eval()
    fresh = MODELS["gcn"].build(data.num_features, ds.num_classes, config)
    restored = compress.load(out / "model.sgc", fresh).eval()
    with torch.no_grad():
        torch.testing.assert_close(restored(data.x, data.edge_index), model(data.x, data.edge_index))
    assert compress.float32_bytes(fresh) / size >= 3.9


def test_pruning_is_selected_only_once_complete_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--compress", "prune:0.5", "--epochs", "3", "--out", str(out)]) == 0
    assert "--compress prune:0.5: exported" in capsys.readouterr().out and (out / "model.sgc").is_file()
    records = _records(out)
    # one-cycle pruning reaches its sparsity at the last step: only that epoch may be chosen
    assert [r["val_acc_compressed"] for r in records[:2]] == [-1.0, -1.0]
    assert records[2]["val_acc_compressed"] == records[2]["val_acc"] and records[-1]["best_epoch"] == 3
    best = torch.load(out / "best.pt", weights_only=False)["model"]
    masks = [v for k, v in best.items() if k.endswith("mask")]
    pruned = sum(int((m == 0).sum()) for m in masks) / sum(m.numel() for m in masks)
    assert len(masks) == 2 and pruned == pytest.approx(0.5, abs=1e-3)
    # resumed with more epochs, the run goes on from its checkpoint (same wrappers, scheduler state restored)
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--epochs", "4"]) == 0
    assert "gcn (prune:0.5) on Cora" in capsys.readouterr().out
    assert [r["epoch"] for r in _records(out)[:-1]] == [1, 2, 3, 4]


def test_compress_mixed_rewind_equals_the_library_recipe(tmp_path, capsys):
    """--compress mixed:B:rewind hands the optimizer to the scheduler, which rewinds after choosing the bits."""
    from scalegnn import compress
    from scalegnn.models import MODELS, ModelConfig, resolve_options
    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    out = tmp_path / "run"
    assert main(["train", "--quiet", "--compress", "mixed:5:rewind", "--epochs", "8", "--out", str(out)]) == 0
    assert "--compress mixed:5:rewind: exported" in capsys.readouterr().out
    records = _records(out)

    seed_everything(0)
    ds, data = _bundled_cora_row_normalized()
    config = ModelConfig(16, 2, 0.5, resolve_options("gcn", {}))
    model = compress.apply(MODELS["gcn"].build(data.num_features, ds.num_classes, config), "mixed:5:rewind")
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    scheduler = compress.CompressionScheduler(model, total_steps=8, optimizer=opt)
    assert scheduler.rewind
    rewound = []
    step = scheduler.step

    def step_and_check():  # right after the allocation step the weights are the initial ones again
        step()
        if scheduler.steps == scheduler.allocate_step:
            rewound.append(all(torch.equal(p, initial[n]) for n, p in model.named_parameters()))

    scheduler.step = step_and_check
    task = NodeClassificationTask(data, ds.split, ds.metric, ds.evaluator)
    result = Trainer(model, opt, task, epochs=8, progress=False, scheduler=scheduler).fit()
    assert rewound == [True] and scheduler.allocation is not None
    for ours, ref in zip(records[:-1], result.history):
        assert ours["loss"] == pytest.approx(ref["loss"], rel=1e-6, abs=1e-7)
        assert ours["val_acc"] == ref["val_acc"]


def test_compress_binary_drops_after_the_sign_as_bigcn_and_reloads(tmp_path, capsys):
    """--compress binary gets Bi-GCN's order (dropout after the sign) from compress.apply, like the library."""
    from scalegnn import compress
    from scalegnn.models import MODELS, ModelConfig, resolve_options

    out = tmp_path / "run"
    assert main(["train", "--quiet", "--compress", "binary", "--epochs", "2", "--out", str(out)]) == 0
    assert "--compress binary: exported" in capsys.readouterr().out
    ds, data = _bundled_cora_row_normalized()
    config = ModelConfig(16, 2, 0.5, resolve_options("gcn", {}))
    best = torch.load(out / "best.pt", weights_only=False)["model"]
    model = compress.apply(MODELS["gcn"].build(data.num_features, ds.num_classes, config), "binary")
    assert model.dropout.p == 0.0 and [model.convs[i].dropout for i in (0, 1)] == [0.5, 0.5]
    model.load_state_dict(best)
    model.eval()
    fresh = MODELS["gcn"].build(data.num_features, ds.num_classes, config)
    restored = compress.load(out / "model.sgc", fresh).eval()
    assert [restored.convs[i].dropout for i in (0, 1)] == [0.5, 0.5]
    with torch.no_grad():
        ours, ref = restored(data.x, data.edge_index), model(data.x, data.edge_index)
    torch.testing.assert_close(ours, ref)  # inference reads the statistics as the export stores them


# ---------------------------------------------------------------------------------------------- --task link
def test_link_task_equals_the_seal_recipe(tiny_usair, tmp_path, capsys):
    from scalegnn.data import load_dataset
    from scalegnn.linkpred import SEALConfig, random_link_split, train_seal

    out = tmp_path / "run"
    args = ["train", "--quiet", "--task", "link", "--dataset", "USAir", "--root", str(tiny_usair), "--epochs", "2",
            "--lr", "0.01", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "dgcnn (SEAL, 1-hop) on USAir: test_auc" in printed and "test_ap" in printed
    records = _records(out)
    assert [r["epoch"] for r in records[:-1]] == [1, 2]
    assert {"loss", "val_auc", "val_ap", "test_auc", "test_ap"} <= set(records[0])

    ds = load_dataset("USAir", root=tiny_usair)
    split = random_link_split(ds.data, val=0.05, test=0.10, seed=0)
    ref = train_seal(split, SEALConfig(epochs=2, lr=0.01, monitor="val_auc", use_features=False, seed=0))
    assert records[-1]["best_epoch"] == ref["best_epoch"]
    assert records[-1]["best_test_auc"] == pytest.approx(ref["test_auc"], abs=1e-9)
    assert records[-1]["best_test_ap"] == pytest.approx(ref["test_ap"], abs=1e-9)

    # a second run into the same directory: refused without --overwrite, replaces it with --overwrite
    assert main(args) == 1
    assert "already holds a training run" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--model", "gcn", "--epochs", "1"]) == 0
    assert "gcn (SEAL, 1-hop) on USAir" in capsys.readouterr().out
    assert [r["epoch"] for r in _records(out)[:-1]] == [1]
    # resuming is not available until the recipe passes Trainer settings through: one line, nothing changed
    before = (out / "metrics.jsonl").read_bytes()
    assert main(["train", "--quiet", "--task", "link", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume is not available with --task link yet" in err and err.count("\n") == 1
    assert (out / "metrics.jsonl").read_bytes() == before


def test_a_link_dataset_is_refused_by_node_training_with_the_fix(tiny_usair, capsys):
    assert main(["train", "--quiet", "--dataset", "USAir", "--root", str(tiny_usair)]) == 2
    err = capsys.readouterr().err
    assert "USAir is a link-level dataset: train it with --task link" in err and err.count("\n") == 1


def test_link_task_on_an_ogbl_dataset_uses_its_split_evaluator_and_metric(tmp_path, capsys):
    pytest.importorskip("ogb")
    from test_linkpred_examples import write_tiny_ogbl

    from scalegnn.data import load_dataset
    from scalegnn.linkpred import SEALConfig, ogb_link_split, train_seal

    root = write_tiny_ogbl(tmp_path, "ogbl-tinycli", "hits@20", features=True)
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--task", "link", "--dataset", "ogbl-tinycli", "--root", str(root),
                 "--epochs", "2", "--out", str(out)]) == 0
    assert "dgcnn (SEAL, 1-hop) on ogbl-tinycli: test_hits@20" in capsys.readouterr().out
    final = _records(out)[-1]
    assert _saved_settings(out)["task"] == "link"

    ds = load_dataset("ogbl-tinycli", root=root, download=False)
    cfg = SEALConfig(epochs=2, metrics=("hits@20",), monitor="val_hits@20", seed=0)
    ref = train_seal(ogb_link_split(ds, seed=0), cfg, x=ds.data.x, evaluator=ds.evaluator)
    assert (final["best_epoch"], final["best_test_hits@20"]) == (ref["best_epoch"], ref["test_hits@20"])
