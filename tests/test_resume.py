"""Run directories keep a person's results: resume restores the run, nothing is deleted by mistake,
a damaged checkpoint is one clear line."""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from scalegnn.cli import main
from scalegnn.train import CheckpointError, NodeClassificationTask, RunDirError, Trainer, seed_everything
from scalegnn.train.run_dir import RUN_FILES, is_run_dir

# -- a small, fast, deterministic training problem --------------------------------------------------------------


def _data():
    gen = torch.Generator().manual_seed(123)
    n = 60
    data = Data(x=torch.randn(n, 6, generator=gen), edge_index=torch.randint(0, n, (2, 240), generator=gen),
                y=torch.randint(0, 3, (n,), generator=gen))
    split = {"train": torch.arange(0, 30), "valid": torch.arange(30, 45), "test": torch.arange(45, 60)}
    return data, split


def _trainer(out_dir, epochs, hidden=8, **kwargs):
    seed_everything(7)
    data, split = _data()
    model = GCN(6, hidden, 2, 3, dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    kwargs.setdefault("progress", False)
    return Trainer(model, optimizer, NodeClassificationTask(data, split), epochs=epochs, out_dir=out_dir, **kwargs)


def _snapshot(directory: Path):
    """Every file's bytes and modification time (a run that 'changes nothing' keeps both)."""
    return {p.relative_to(directory).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _records(out_dir: Path):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


# -- fresh runs never delete a run ------------------------------------------------------------------------------

@pytest.mark.parametrize("existing", RUN_FILES)
def test_fresh_run_refuses_a_directory_holding_any_run_file(tmp_path, existing):
    out = tmp_path / "run"
    _trainer(out, 2).fit()
    for name in RUN_FILES:  # keep only one of the run's files
        if name != existing and (out / name).exists():
            (out / name).unlink()
    if not (out / existing).exists():
        (out / existing).write_text("{}")
    before = _snapshot(out)
    with pytest.raises(RunDirError, match="already holds a training run.*--resume.*--overwrite"):
        _trainer(out, 2).fit()
    assert _snapshot(out) == before


def test_overwrite_replaces_only_the_run_files_of_a_recognised_run(tmp_path):
    out = tmp_path / "run"
    _trainer(out, 3).fit()
    (out / "notes.txt").write_text("mine")
    (out / "sub").mkdir()
    (out / "sub" / "data.bin").write_bytes(b"\x00\x01")
    (out / ".checkpoint.pt.abc.tmp").write_bytes(b"torn")  # left by a killed atomic write
    result = _trainer(out, 2, overwrite=True).fit()
    assert [r["epoch"] for r in _records(out)[:-1]] == [1, 2] and result.best_epoch >= 1
    assert (out / "notes.txt").read_text() == "mine" and (out / "sub" / "data.bin").read_bytes() == b"\x00\x01"
    assert not (out / ".checkpoint.pt.abc.tmp").exists()


@pytest.mark.parametrize("foreign", [
    {"checkpoint.pt": b"not ours"},
    {"metrics.jsonl": b'{"step": 1, "reward": 3}\n'},
    {"run.json": b'{"name": "someone else"}'},
    {"run.json": b"\x00\xff garbage", "metrics.jsonl": b'{"epoch": 1, "loss": 0.5}\n'},
    {"summary.json": b"{}"},
])
def test_overwrite_refuses_a_directory_that_is_not_a_scalegnn_run(tmp_path, foreign):
    out = tmp_path / "elsewhere"
    out.mkdir()
    for name, content in foreign.items():
        (out / name).write_bytes(content)
    before = _snapshot(out)
    assert not is_run_dir(out)
    with pytest.raises(RunDirError, match="not recognisably a scalegnn run"):
        _trainer(out, 1, overwrite=True).fit()
    assert _snapshot(out) == before
    assert main(["train", "--quiet", "--epochs", "1", "--out", str(out), "--overwrite"]) == 1
    assert _snapshot(out) == before


def test_a_run_from_before_run_json_is_recognised(tmp_path):
    out = tmp_path / "old"
    _trainer(out, 2).fit()
    (out / "run.json").unlink()  # as the Trainer wrote runs before the marker
    assert is_run_dir(out)
    _trainer(out, 2, overwrite=True).fit()
    assert (out / "run.json").is_file()


# -- resume -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["missing", "empty", "metrics only"])
def test_resume_without_a_checkpoint_is_an_error_and_deletes_nothing(tmp_path, layout):
    out = tmp_path / "run"
    if layout != "missing":
        out.mkdir()
    if layout == "metrics only":  # killed before the first checkpoint
        _trainer(out, 3, checkpoint_every=10).fit()
        (out / "checkpoint.pt").unlink()
    before = _snapshot(out) if out.exists() else None
    with pytest.raises(RunDirError, match="nothing to resume"):
        _trainer(out, 3, resume=True).fit()
    assert (_snapshot(out) if out.exists() else None) == before
    assert main(["train", "--quiet", "--out", str(out), "--resume"]) == 1
    assert (_snapshot(out) if out.exists() else None) == before


@pytest.mark.parametrize("how", ["all epochs", "stopped early"])
def test_resuming_a_finished_run_changes_nothing(tmp_path, how):
    out = tmp_path / "run"
    patience = 1 if how == "stopped early" else None
    done = _trainer(out, 30, patience=patience).fit()
    assert done.stopped_early == (how == "stopped early")
    before = _snapshot(out)
    for epochs in (30, 40):  # more epochs extend a completed run, but never one that stopped early
        if how == "all epochs" and epochs == 40:
            continue
        trainer = _trainer(out, epochs, patience=patience, resume=True, plot=True)
        again = trainer.fit()
        assert again.already_finished and again.best == done.best and again.best_epoch == done.best_epoch
        assert _snapshot(out) == before
        best = torch.load(out / "best.pt", weights_only=True)["model"]  # restore_best: the model holds the best weights
        for key, value in trainer.model.state_dict().items():
            assert torch.equal(value, best[key]), key


def test_extending_a_finished_run_equals_one_long_run(tmp_path):
    short, long = tmp_path / "short", tmp_path / "long"
    _trainer(short, 5, checkpoint_every=2, restore_best=False).fit()
    extended = _trainer(short, 8, checkpoint_every=2, resume=True, restore_best=False)
    extended.fit()
    reference = _trainer(long, 8, checkpoint_every=2, restore_best=False)
    reference.fit()
    got, want = _records(short), _records(long)
    assert [r.get("epoch") for r in got] == list(range(1, 9)) + [None] and got[-1]["final"]
    assert [r["loss"] for r in got[:-1]] == [r["loss"] for r in want[:-1]]
    for key, value in reference.model.state_dict().items():
        assert torch.equal(value, extended.model.state_dict()[key]), key
    with pytest.raises(ValueError, match="epochs can only be raised"):
        _trainer(short, 4, resume=True).fit()


def test_resume_completes_a_run_killed_while_closing(tmp_path):
    out = tmp_path / "run"
    _trainer(out, 4).fit()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    (out / "metrics.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # the final record never got written
    result = _trainer(out, 4, resume=True).fit()
    assert result.already_finished
    records = _records(out)
    assert [r.get("epoch") for r in records[:-1]] == [1, 2, 3, 4] and records[-1]["final"]
    assert sum(1 for r in records if r.get("final")) == 1


def test_non_main_process_writes_nothing_but_reads_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    _trainer(out, 3, checkpoint_every=1).fit()
    before = _snapshot(out)
    worker = _trainer(out, 5, resume=True, is_main_process=False, plot=True)
    result = worker.fit()
    assert not result.already_finished and [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5]
    assert _snapshot(out) == before
    fresh = tmp_path / "fresh"
    _trainer(fresh, 2, is_main_process=False).fit()
    assert not fresh.exists()


# -- damaged, foreign and other-version checkpoints -------------------------------------------------------------

class _Foreign:
    pass


def _good_checkpoint(out: Path) -> bytes:
    _trainer(out, 2).fit()
    return (out / "checkpoint.pt").read_bytes()


def _checkpoint_of_another_model(path: Path) -> None:
    _trainer(path.parent / "other", 2, hidden=4).fit()
    path.write_bytes((path.parent / "other" / "checkpoint.pt").read_bytes())


DAMAGES = {
    "empty": lambda good, path: path.write_bytes(b""),
    "truncated to half": lambda good, path: path.write_bytes(good[: len(good) // 2]),
    "truncated to 100 bytes": lambda good, path: path.write_bytes(good[:100]),
    "random bytes": lambda good, path: path.write_bytes(os.urandom(4096)),
    "text": lambda good, path: path.write_text("hello, I am a checkpoint"),
    "pickle of a foreign object": lambda good, path: path.write_bytes(pickle.dumps(_Foreign())),
    "torch file with a foreign object": lambda good, path: torch.save({"obj": _Foreign()}, path),
    "torch file of a tensor": lambda good, path: torch.save(torch.randn(3), path),
    "torch file of another dict": lambda good, path: torch.save({"state_dict": {"w": torch.randn(2)}}, path),
    "another format version": lambda good, path: torch.save({"format": 99, "epoch": 1}, path),
    "incomplete state": lambda good, path: torch.save({"format": 1, "epoch": 1}, path),
    "another model": lambda good, path: _checkpoint_of_another_model(path),
}
EXPECTED = {
    "empty": "is empty", "truncated to half": "truncated", "truncated to 100 bytes": "truncated",
    "random bytes": "not a scalegnn checkpoint", "text": "not a scalegnn checkpoint",
    "pickle of a foreign object": "not a scalegnn checkpoint",
    "torch file with a foreign object": "not a scalegnn checkpoint",
    "torch file of a tensor": "not a scalegnn training checkpoint",
    "torch file of another dict": "not a scalegnn training checkpoint",
    "another format version": "from another version", "incomplete state": "not a complete scalegnn",
    "another model": "written for a different model",
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_checkpoint_is_one_clear_line(tmp_path, damage, capsys):
    out = tmp_path / "run"
    good = _good_checkpoint(out)
    path = out / "checkpoint.pt"
    DAMAGES[damage](good, path)
    with pytest.raises(CheckpointError) as info:
        _trainer(out, 3, resume=True).fit()
    message = str(info.value)
    assert EXPECTED[damage] in message and str(path) in message
    assert "\n" not in message and "weights_only" not in message


def test_damaged_checkpoint_through_the_cli_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--epochs", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    path = out / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])
    before = _snapshot(out)
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--epochs", "3"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "truncated" in err and str(path) in err, err
    assert "Traceback" not in err and "weights_only" not in err
    assert _snapshot(out) == before


# -- the command line restores the run --------------------------------------------------------------------------

def test_readme_resume_restores_every_setting_after_an_interruption(tmp_path, capsys, monkeypatch):
    """`scalegnn train --out DIR --resume` alone continues an interrupted non-default run exactly."""
    flags = ["--model", "sage", "--hidden", "8", "--lr", "0.02", "--weight-decay", "1e-4", "--dropout", "0.3",
             "--seed", "3", "--option", "aggr=\"max\"", "--feature-norm", "none", "--epochs", "6",
             "--checkpoint-every", "2", "--quiet"]
    reference, out = tmp_path / "reference", tmp_path / "run"
    assert main(["train", *flags, "--out", str(reference)]) == 0
    expected = capsys.readouterr().out.splitlines()[0]

    calls = {"n": 0}
    original = NodeClassificationTask.train_epoch

    def interrupted(self, model, optimizer):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, model, optimizer)

    monkeypatch.setattr(NodeClassificationTask, "train_epoch", interrupted)
    assert main(["train", *flags, "--out", str(out)]) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(NodeClassificationTask, "train_epoch", original)
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == expected
    got, want = _records(out), _records(reference)
    assert [r.get("epoch") for r in got] == [1, 2, 3, 4, 5, 6, None]
    assert [r["loss"] for r in got[:-1]] == [r["loss"] for r in want[:-1]]
    settings = json.loads((out / "run.json").read_text())["config"]["settings"]
    assert settings["model"] == "sage" and settings["hidden"] == 8 and settings["options"]["aggr"] == "max"


@pytest.fixture(scope="module")
def finished_sage_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sage") / "run"
    assert main(["train", "--quiet", "--model", "sage", "--hidden", "8", "--epochs", "3", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("flag,value,saved", [
    ("--model", "gcn", "sage"), ("--hidden", "16", "8"), ("--lr", "0.5", "0.01"), ("--seed", "1", "0"),
    ("--feature-norm", "none", "auto"), ("--option", "aggr=\"sum\"", '"mean"'), ("--patience", "5", "None"),
    ("--epochs", "2", "3"), ("--dataset", "synthetic-300-3000", "cora-bundled"),
])
def test_resume_flags_that_contradict_the_saved_run_are_refused(tmp_path, capsys, finished_sage_run, flag, value,
                                                                saved):
    out = tmp_path / "run"
    shutil.copytree(finished_sage_run, out)
    before = _snapshot(out)
    assert main(["train", "--quiet", "--out", str(out), "--resume", flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and flag in err and f"saved {saved}" in err and "run.json" in err, err
    assert _snapshot(out) == before
    # the same values as saved, and the settings that do not change the result, are accepted
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--hidden", "8", "--root", str(tmp_path),
                 "--device", "cpu", "--checkpoint-every", "3"]) == 0
    assert "already finished" in capsys.readouterr().out


def test_fresh_cli_run_into_a_run_directory_names_resume_and_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--quiet", "--epochs", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert main(["train", "--quiet", "--epochs", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and _snapshot(out) == before
    assert main(["train", "--quiet", "--epochs", "3", "--out", str(out), "--overwrite"]) == 0
    assert [r.get("epoch") for r in _records(out)] == [1, 2, 3, None]
    assert main(["train", "--quiet", "--out", str(out), "--resume", "--overwrite"]) == 1
    assert "contradict" in capsys.readouterr().err


def test_curves_have_a_title_and_mark_the_best_epoch(tmp_path):
    import matplotlib.pyplot as plt

    from scalegnn.train import curves_figure

    records = [{"epoch": e, "loss": 1.0 / e, "val_acc": v, "test_acc": v - 0.1}
               for e, v in enumerate([0.2, 0.5, 0.7, 0.6], start=1)] + [{"final": True}]
    fig = curves_figure(records, title="gcn on Cora", best_epoch=3, monitor="val_acc")
    assert fig._suptitle.get_text() == "gcn on Cora"
    for ax in fig.axes:
        marks = [line for line in ax.get_lines() if list(line.get_xdata()) == [3, 3]]
        assert marks and marks[0].get_label().startswith("best epoch 3")
    metric_ax = fig.axes[1]
    assert "best epoch 3 (val_acc 0.7000)" in [t.get_text() for t in metric_ax.get_legend().get_texts()]
    plt.close(fig)
    fig = curves_figure(records[:-1], title=None, best_epoch=0)
    assert fig._suptitle is None and all(len(ax.get_lines()) == len({*ax.get_lines()}) for ax in fig.axes)
    assert not [line for ax in fig.axes for line in ax.get_lines() if line.get_label().startswith("best")]
    plt.close(fig)


def test_trainer_titles_its_curves_with_the_run(tmp_path, monkeypatch):
    import scalegnn.train.trainer as trainer_module

    seen = {}
    monkeypatch.setattr(trainer_module, "plot_curves", lambda records, path, **kw: seen.update(kw, path=path))
    result = _trainer(tmp_path / "run", 3, plot=True).fit()
    assert seen["title"] == str(tmp_path / "run") and seen["best_epoch"] == result.best_epoch
    assert seen["monitor"] == "val_acc"
    _trainer(tmp_path / "named", 3, plot=True, title="gcn on toy").fit()
    assert seen["title"] == "gcn on toy"


@pytest.mark.realdata
def test_readme_commands_on_citeseer(real_data_root, tmp_path, capsys):
    """The README's pair: a SAGE run on CiteSeer, then `scalegnn train --out DIR --resume` alone."""
    out = tmp_path / "runs" / "citeseer"
    assert main(["train", "--model", "sage", "--dataset", "CiteSeer", "--root", str(real_data_root), "--epochs", "3",
                 "--out", str(out), "--quiet"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("sage on CiteSeer")
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == first
    assert main(["train", "--out", str(out), "--resume", "--epochs", "5", "--quiet"]) == 0
    assert "of 5" in capsys.readouterr().out.splitlines()[0]
    assert [r.get("epoch") for r in _records(out)] == [1, 2, 3, 4, 5, None]
