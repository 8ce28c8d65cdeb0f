"""The training utility: resume after a kill, checkpoints, metrics log, early stopping."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from scalegnn.train import (NodeClassificationTask, Trainer, atomic_save, load_checkpoint, seed_everything)
from scalegnn.train.checkpoint import capture_rng_state, restore_rng_state

TRAIN_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from torch_geometric.nn.models import GCN
    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    out_dir, epochs, kill_at, resume = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(123)
    n = 120
    edge_index = torch.randint(0, n, (2, 600), generator=gen)
    x = torch.randn(n, 8, generator=gen)
    y = torch.randint(0, 3, (n,), generator=gen)
    split = {"train": torch.arange(0, 60), "valid": torch.arange(60, 90), "test": torch.arange(90, 120)}
    from torch_geometric.data import Data
    data = Data(x=x, edge_index=edge_index, y=y)

    class KillAt(NodeClassificationTask):
        epoch = 0
        def train_epoch(self, model, optimizer):
            KillAt.epoch += 1
            loss = super().train_epoch(model, optimizer)
            if KillAt.epoch == kill_at:  # die after the update, before its checkpoint
                os.kill(os.getpid(), signal.SIGKILL)
            return loss

    seed_everything(7)
    model = GCN(8, 16, 2, 3, dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    trainer = Trainer(model, optimizer, KillAt(data, split), epochs=epochs, out_dir=out_dir,
                      checkpoint_every=3, resume=resume, progress=False, scheduler=scheduler,
                      restore_best=False)
    if resume and os.path.exists(os.path.join(out_dir, "checkpoint.pt")):
        KillAt.epoch = torch.load(os.path.join(out_dir, "checkpoint.pt"), weights_only=True)["epoch"]
    trainer.fit()
    torch.save(model.state_dict(), os.path.join(out_dir, "final.pt"))
    """
)


def _run(script: Path, out_dir: Path, epochs: int, kill_at: int, resume: bool) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), str(out_dir), str(epochs), str(kill_at), "1" if resume else "0"],
                          capture_output=True, text=True, timeout=300)


def test_kill_and_resume_gives_same_final_weights(tmp_path):
    script = tmp_path / "train_script.py"
    script.write_text(TRAIN_SCRIPT)
    epochs = 20
    reference = _run(script, tmp_path / "reference", epochs, kill_at=-1, resume=False)
    assert reference.returncode == 0, reference.stderr

    interrupted = tmp_path / "interrupted"
    killed = _run(script, interrupted, epochs, kill_at=11, resume=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (interrupted / "final.pt").exists()
    checkpoint = load_checkpoint(interrupted / "checkpoint.pt")
    assert checkpoint["epoch"] == 9  # checkpoint_every=3: epochs 10-11 were lost and must be redone

    resumed = _run(script, interrupted, epochs, kill_at=-1, resume=True)
    assert resumed.returncode == 0, resumed.stderr

    want = torch.load(tmp_path / "reference" / "final.pt", weights_only=True)
    got = torch.load(interrupted / "final.pt", weights_only=True)
    assert want.keys() == got.keys()
    for key in want:
        assert torch.equal(want[key], got[key]), key

    # each epoch is logged exactly once, then one final record
    records = [json.loads(line) for line in (interrupted / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records[:-1]] == list(range(1, epochs + 1))
    assert records[-1]["final"] is True
    reference_records = [json.loads(line) for line in (tmp_path / "reference" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in records[:-1]] == [r["loss"] for r in reference_records[:-1]]


def test_atomic_save_leaves_no_temp_file_and_loads_weights_only(tmp_path):
    path = tmp_path / "ck.pt"
    atomic_save({"w": torch.arange(3.0), "meta": {"epoch": 2}}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    state = load_checkpoint(path)
    assert torch.equal(state["w"], torch.arange(3.0)) and state["meta"]["epoch"] == 2


class _Opaque:
    pass


def test_load_checkpoint_refuses_arbitrary_objects_and_torn_files(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": _Opaque()}, path)
    with pytest.raises(ValueError, match="not a scalegnn checkpoint"):
        load_checkpoint(path)
    torn = tmp_path / "torn.pt"
    atomic_save({"w": torch.randn(100)}, torn)
    torn.write_bytes(torn.read_bytes()[:50])
    with pytest.raises(ValueError, match="truncated"):
        load_checkpoint(torn)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_state_round_trip():
    import random

    import numpy as np

    seed_everything(3)
    state = capture_rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(state)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


class _ScriptedTask:
    """A task whose validation metric follows a script, to test selection and patience."""

    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def train_epoch(self, model, optimizer):
        optimizer.zero_grad()
        loss = model(torch.ones(1, 1)).sum() ** 2
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def evaluate(self, model):
        value = self.values[self.calls]
        self.calls += 1
        return {"val_acc": value, "test_acc": value / 2}


def test_best_epoch_selection_and_early_stopping(tmp_path):
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    task = _ScriptedTask([0.1, 0.5, 0.4, 0.5, 0.3, 0.2, 0.9])
    result = Trainer(model, optimizer, task, epochs=7, patience=3, progress=False, out_dir=tmp_path).fit()
    assert result.best_epoch == 2 and result.best["test_acc"] == 0.25
    assert result.stopped_early and len(result.history) == 5
    final = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["final"] and final["best_epoch"] == 2 and final["epochs_run"] == 5
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == 2


def test_trainer_rejects_bad_configuration():
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    task = _ScriptedTask([0.0])
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        Trainer(model, optimizer, task, epochs=0)
    with pytest.raises(ValueError, match="resume=True needs out_dir"):
        Trainer(model, optimizer, task, epochs=1, resume=True)
    with pytest.raises(TypeError, match="train_epoch"):
        Trainer(model, optimizer, object(), epochs=1)
    with pytest.raises(KeyError, match="monitor 'val_auc'"):
        Trainer(model, optimizer, task, epochs=1, monitor="val_auc", progress=False).fit()


def test_node_task_matches_manual_full_batch_step():
    seed_everything(0)
    n, f, c = 30, 5, 3
    x, y = torch.randn(n, f), torch.randint(0, c, (n,))
    edge_index = torch.randint(0, n, (2, 90))
    from torch_geometric.data import Data

    data = Data(x=x, edge_index=edge_index, y=y)
    split = {"train": torch.arange(10), "valid": torch.arange(10, 20), "test": torch.arange(20, 30)}
    from torch_geometric.nn import GCNConv

    model = GCNConv(f, c)
    reference = GCNConv(f, c)
    reference.load_state_dict(model.state_dict())
    opt, ref_opt = torch.optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(reference.parameters(), lr=0.1)
    task = NodeClassificationTask(data, split)
    loss = task.train_epoch(model, opt)
    ref_opt.zero_grad()
    ref_loss = torch.nn.functional.cross_entropy(reference(x, edge_index)[:10], y[:10])
    ref_loss.backward()
    ref_opt.step()
    assert loss == pytest.approx(float(ref_loss.detach()), abs=1e-6)
    for a, b in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    metrics = task.evaluate(model)
    with torch.no_grad():
        pred = model(x, edge_index).argmax(-1)
    assert metrics["val_acc"] == pytest.approx(float((pred[10:20] == y[10:20]).float().mean()))
    assert set(metrics) == {"train_acc", "val_acc", "test_acc"}


def test_node_task_validates_its_inputs():
    from torch_geometric.data import Data

    data = Data(x=torch.randn(5, 2), edge_index=torch.tensor([[0, 1], [1, 7]]), y=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        NodeClassificationTask(data, {"train": torch.arange(3)})
    data.edge_index = torch.tensor([[0, 1], [1, 4]])
    with pytest.raises(ValueError, match=r"split\['valid'\] contains id 9"):
        NodeClassificationTask(data, {"train": torch.arange(3), "valid": torch.tensor([9])})
    with pytest.raises(ValueError, match="needs a 'train' entry"):
        NodeClassificationTask(data, {"test": torch.arange(3)})
    data.y = torch.zeros(1, dtype=torch.long)  # one graph-level label is not node labels
    with pytest.raises(ValueError, match="y has 1 labels but the graph has 5 nodes"):
        NodeClassificationTask(data, {"train": torch.arange(3)})


def test_minibatch_task_with_one_full_batch_equals_full_batch_task():
    from torch_geometric.data import Data
    from torch_geometric.nn import GCNConv

    seed_everything(0)
    n, f, c = 40, 6, 3
    data = Data(x=torch.randn(n, f), edge_index=torch.randint(0, n, (2, 120)), y=torch.randint(0, c, (n,)))
    split = {"train": torch.arange(15), "valid": torch.arange(15, 30), "test": torch.arange(30, 40)}
    batch = data.clone()
    batch.batch_size = 15  # seed nodes first, as NeighborLoader yields them
    full, mini = GCNConv(f, c), GCNConv(f, c)
    mini.load_state_dict(full.state_dict())
    opt_full, opt_mini = torch.optim.SGD(full.parameters(), lr=0.1), torch.optim.SGD(mini.parameters(), lr=0.1)
    from scalegnn.train import MiniBatchNodeTask

    loss_full = NodeClassificationTask(data, split).train_epoch(full, opt_full)
    loss_mini = MiniBatchNodeTask([batch], data, split).train_epoch(mini, opt_mini)
    assert loss_mini == pytest.approx(loss_full, abs=1e-6)
    for a, b in zip(full.parameters(), mini.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="no training nodes"):
        empty = data.clone()
        empty.train_mask = torch.zeros(n, dtype=torch.bool)
        MiniBatchNodeTask([empty], data, split).train_epoch(mini, opt_mini)


def test_save_summary_writes_json_atomically(tmp_path):
    from scalegnn.train import save_summary

    assert save_summary(None, {"a": 1}) is None
    path = save_summary(tmp_path / "run", {"test_acc": 0.81, "out": tmp_path})
    assert json.loads(path.read_text()) == {"test_acc": 0.81, "out": str(tmp_path)}
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.json"]
