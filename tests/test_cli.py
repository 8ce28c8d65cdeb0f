"""The `scalegnn` command line."""
from __future__ import annotations

import json

import pytest

from scalegnn.cli import main


def test_default_train_reaches_paper_accuracy_on_bundled_cora(tmp_path, capsys):
    assert main(["train", "--quiet", "--out", str(tmp_path), "--plot"]) == 0
    printed = capsys.readouterr().out
    assert "gcn on Cora: test_acc" in printed
    final = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["final"] is True
    assert final["best_test_acc"] >= 0.80  # GCN paper: 81.5 on the public split
    assert (tmp_path / "curves.png").stat().st_size > 0
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()[:-1]]
    assert [r["epoch"] for r in records] == list(range(1, 201))
    assert {"loss", "train_acc", "val_acc", "test_acc"} <= set(records[0])


def test_resume_of_a_finished_run_trains_no_more(tmp_path, capsys):
    args = ["train", "--quiet", "--out", str(tmp_path), "--epochs", "5", "--checkpoint-every", "2"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args + ["--resume"]) == 0
    second = capsys.readouterr().out
    assert first.splitlines()[0] == second.splitlines()[0]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line).get("epoch") for line in lines[:-1]] == [1, 2, 3, 4, 5]


def test_datasets_lists_the_bundled_default(capsys):
    assert main(["datasets"]) == 0
    rows = capsys.readouterr().out.splitlines()
    bundled = [r for r in rows if r.startswith("cora-bundled")]
    assert bundled and "present" in bundled[0]


def test_cli_errors_are_plain(tmp_path):
    with pytest.raises(SystemExit, match="--resume needs --out"):
        main(["train", "--resume"])
    with pytest.raises(SystemExit):
        main(["train", "--model", "no-such-model"])
    with pytest.raises(SystemExit, match="--option expects KEY=VALUE"):
        main(["train", "--option", "K", "--epochs", "1", "--quiet"])


@pytest.mark.parametrize("model,extra", [
    ("sage", []), ("gat", []), ("gin", []), ("mlp", []),
    ("sgc", ["--lr", "0.2", "--weight-decay", "5e-5"]),
    ("gbp", ["--hidden", "64", "--option", "L=4"]),
    ("revgnn", ["--layers", "4", "--hidden", "32", "--dropout", "0.2"]),
])
def test_every_registered_model_learns_cora(model, extra, tmp_path, capsys):
    assert main(["train", "--quiet", "--model", model, "--epochs", "60", "--out", str(tmp_path), *extra]) == 0
    final = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    # far above chance (1/7; the largest class is ~0.3); the graph-free MLP is the weak baseline
    assert final["best_val_acc"] >= (0.35 if model == "mlp" else 0.65), final


def test_register_model_rejects_duplicates():
    from scalegnn.models import build_model, register_model, ModelConfig

    with pytest.raises(ValueError, match="already registered"):
        register_model("gcn", lambda i, o, c: None)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        build_model("nope", 3, 2, ModelConfig())
