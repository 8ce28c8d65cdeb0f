"""A person's mistakes on the command line and in the examples end with one readable line, never a traceback."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scalegnn.cli import main
from scalegnn.train.entrypoint import run_main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# the examples whose command line goes through scalegnn.train.entrypoint
OWN_EXAMPLES = ["sgc_planetoid", "gbp_planetoid", "ogbn_arxiv_sgc", "ogbn_products_sgc", "ogbn_arxiv_gbp",
                "ogbn_arxiv_revgnn", "ogbn_proteins_revgnn", "tu_mincut", "mincut_clustering"]


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err and "weights_only" not in err, err
    return err


@pytest.fixture
def empty_root(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEGNN_OFFLINE", "1")
    monkeypatch.delenv("SCALEGNN_DEBUG", raising=False)
    root = tmp_path / "empty-root"
    root.mkdir()
    return root


CLI_MISTAKES = [
    # (arguments after `train`, exit status, what the line must say)
    (["--epochs", "0"], 2, "--epochs: expected an integer >= 1, got '0'"),
    (["--epochs", "1.5"], 2, "--epochs: expected an integer >= 1, got '1.5'"),
    (["--epochs", "ten"], 2, "--epochs: expected an integer >= 1"),
    (["--patience", "0"], 2, "--patience: expected an integer >= 1"),
    (["--hidden", "0"], 2, "--hidden: expected an integer >= 1"),
    (["--layers", "2.5"], 2, "--layers: expected an integer >= 1"),
    (["--lr", "-0.01"], 2, "--lr: expected a number > 0"),
    (["--lr", "0"], 2, "--lr: expected a number > 0"),
    (["--lr", "nan"], 2, "--lr: expected a number > 0"),
    (["--weight-decay", "-1"], 2, "--weight-decay: expected a number >= 0"),
    (["--dropout", "1"], 2, "--dropout: expected a number in [0, 1)"),
    (["--dropout", "-0.1"], 2, "--dropout: expected a number in [0, 1)"),
    (["--seed", "-1"], 2, "--seed: expected an integer >= 0"),
    (["--checkpoint-every", "0"], 2, "--checkpoint-every: expected an integer >= 1"),
    (["--model", "transformer"], 2, "invalid choice: 'transformer'"),
    (["--feature-norm", "l2"], 2, "invalid choice: 'l2'"),
    (["--option", "K"], 2, "--option expects KEY=VALUE"),
    (["--option", "nope=1"], 2, "--model gcn has no option 'nope'; it accepts norm=null"),
    (["--model", "sgc", "--option", "k=2"], 2, "did you mean 'K'?"),
    (["--model", "sgc", "--option", "K=2.5"], 2, "--option K=2.5 for --model sgc: expected an integer"),
    (["--model", "sgc", "--option", "K=-1"], 2, "expected a value >= 0"),
    (["--model", "gat", "--option", "heads=0"], 2, "expected a value >= 1"),
    (["--model", "gbp", "--option", "alpha=0"], 2, "expected a value > 0"),
    (["--model", "revgnn", "--option", "conv=\"gen\""], 2, "expected one of 'gcn', 'sage', 'gat'"),
    (["--model", "mlp", "--option", "batch_norm=1"], 2, "expected true or false"),
    (["--model", "sgc", "--hidden", "64"], 2, "--hidden does not apply to --model sgc"),
    (["--model", "sgc", "--layers", "3", "--dropout", "0.2"], 2, "--layers and --dropout do not apply"),
    (["--resume"], 2, "--resume needs --out DIR"),
    (["--overwrite"], 2, "--overwrite needs --out DIR"),
    (["--plot"], 2, "--plot needs --out DIR"),
    (["--checkpoint-every", "5"], 2, "--checkpoint-every needs --out DIR"),
    (["--dataset", "Coraa"], 1, "unknown dataset 'Coraa'"),
    (["--dataset", "synthetic-10-3"], 1, "must be even"),
    (["--dataset", "Cora", "--root", "{root}"], 1, "Planetoid/Cora/raw"),
    (["--dataset", "ogbn-arxiv", "--root", "{root}"], 1, "OGB/ogbn_arxiv"),
    (["--dataset", "ogbn-papers100M", "--root", "{root}"], 1, "OGB/ogbn_papers100M"),
    # mini-batch training (--sampler)
    (["--sampler", "gibbs"], 2, "invalid choice: 'gibbs'"),
    (["--sampler", "mvs", "--batch-size", "141"], 2, "--batch-size 141 is larger than the 140 training nodes of Cora"),
    (["--sampler", "mvs", "--batch-size", "0"], 2, "--batch-size: expected an integer >= 1"),
    (["--batch-size", "32"], 2, "--batch-size does not apply to full-batch training: add --sampler mvs"),
    (["--fanout", "5", "--history"], 2, "--fanout and --history do not apply to full-batch training"),
    (["--sampler", "mvs", "--fanout", "0"], 2, "--fanout: expected an integer >= 1, a comma-separated list"),
    (["--sampler", "mvs", "--fanout", "5,x"], 2, "--fanout: expected an integer >= 1"),
    (["--sampler", "mvs", "--fanout", "5,5,5"], 2, "--fanout 5,5,5 lists 3 hops, but a 2-layer GCN with history "
                                                   "samples 1"),
    (["--sampler", "mvs", "--model", "sage"], 2, "--sampler trains a GCN"),
    (["--sampler", "mvs", "--option", "norm=\"batch_norm\""], 2, "does not apply with --sampler"),
    (["--sampler", "mvs", "--compress", "int8"], 2, "--compress does not combine with --sampler"),
    # compression (--compress)
    (["--compress", "zip"], 2, "argument --compress: unknown compression spec 'zip'"),
    (["--compress", "prune:x"], 2, "argument --compress: bad sparsity 'x'"),
    (["--compress", "int9"], 2, "--compress int9: bits must be in 1..8"),
    (["--compress", "prune:1.5"], 2, "--compress prune:1.5: sparsity must be in [0, 1)"),
    (["--compress", "heads:0.5"], 2, "--compress heads:0.5: compression spec 'heads:0.5' matched no layer"),
    (["--compress", "prune:0.9", "--patience", "5"], 2, "--patience does not combine with --compress prune:0.9"),
    # link prediction (--task link)
    (["--task", "graph"], 2, "invalid choice: 'graph'"),
    (["--task", "link", "--sampler", "mvs"], 2, "--sampler does not apply to --task link"),
    (["--task", "link", "--compress", "int8"], 2, "--compress is not available with --task link"),
    (["--task", "link", "--model", "sage"], 2, "--model sage is not a SEAL model"),
    (["--task", "link", "--weight-decay", "0.1", "--feature-norm", "row"], 2,
     "--weight-decay and --feature-norm do not apply to --task link"),
    (["--task", "link", "--fanout", "5"], 2, "--fanout does not apply to --task link"),
    (["--task", "link", "--plot", "--out", "{root}"], 2, "--plot is not available with --task link yet"),
    (["--task", "link", "--device", "cuda:0"], 2, "--device cuda:0 is not available with --task link yet"),
    (["--task", "link", "--num-hops", "0"], 2, "--num-hops: expected an integer >= 1"),
    (["--model", "dgcnn"], 2, "--model dgcnn is SEAL's link-prediction model: add --task link"),
    (["--num-hops", "2", "--max-nodes-per-hop", "10"], 2,
     "--num-hops and --max-nodes-per-hop do not apply to node classification: add --task link"),
]


@pytest.mark.parametrize("args,status,says", CLI_MISTAKES, ids=[" ".join(c[0]) for c in CLI_MISTAKES])
def test_cli_mistake_is_one_line_naming_the_problem(args, status, says, empty_root, capsys):
    args = [a.replace("{root}", str(empty_root)) for a in args]
    assert main(["train", "--quiet", *args]) == status
    err = _one_line_error(capsys)
    assert err.startswith("scalegnn: error: ") and says in err, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_it(capsys):
    assert main(["train", "--quiet", "--device", "cuda"]) == 2
    assert "CUDA is not available" in _one_line_error(capsys)


def test_graph_level_dataset_is_refused_by_train(capsys, monkeypatch):
    from scalegnn.data import LoadedDataset

    monkeypatch.setattr("scalegnn.data.load_dataset",
                        lambda *a, **k: LoadedDataset(name="MUTAG", task="graph", split={}, num_features=7,
                                                      num_classes=2, metric="acc", graphs=[]))
    assert main(["train", "--quiet", "--dataset", "MUTAG"]) == 2
    assert "MUTAG is a graph-level dataset" in _one_line_error(capsys)


@pytest.mark.parametrize("mode", [["--sampler", "mvs"], ["--task", "link"]], ids=["sampler", "link"])
def test_graph_level_dataset_is_refused_by_every_mode(mode, capsys, monkeypatch):
    from scalegnn.data import LoadedDataset

    monkeypatch.setattr("scalegnn.data.load_dataset",
                        lambda *a, **k: LoadedDataset(name="MUTAG", task="graph", split={}, num_features=7,
                                                      num_classes=2, metric="acc", graphs=[]))
    assert main(["train", "--quiet", "--dataset", "MUTAG", *mode]) == 2
    assert "MUTAG is a graph-level dataset" in _one_line_error(capsys)


def test_a_bug_is_still_one_line_with_the_way_to_the_traceback(capsys, monkeypatch):
    monkeypatch.delenv("SCALEGNN_DEBUG", raising=False)

    def broken(argv):
        raise RuntimeError("something inside broke")

    assert run_main(broken, [], prog="tool") == 1
    err = _one_line_error(capsys)
    assert "internal error: RuntimeError: something inside broke" in err and "--debug" in err
    with pytest.raises(RuntimeError):  # --debug lets it through
        run_main(broken, ["--debug"], prog="tool")
    monkeypatch.setenv("SCALEGNN_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run_main(broken, [], prog="tool")


def _scalegnn(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "SCALEGNN_DEBUG"}
    environment.update({"SCALEGNN_OFFLINE": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "scalegnn.cli", *args], capture_output=True, text=True,
                          timeout=300, env=environment)


def test_installed_command_prints_one_line_and_no_traceback(tmp_path):
    proc = _scalegnn("train", "--dataset", "Cora", "--root", str(tmp_path))
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert str(tmp_path) in proc.stderr and "Traceback" not in proc.stderr


def test_debug_flag_lets_the_exception_through(empty_root, monkeypatch):
    from scalegnn.data import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError):
        main(["train", "--debug", "--dataset", "Cora", "--root", str(empty_root)])
    with pytest.raises(DatasetNotFoundError):  # before the command, too
        main(["--debug", "train", "--dataset", "Cora", "--root", str(empty_root)])
    monkeypatch.setenv("SCALEGNN_DEBUG", "1")
    with pytest.raises(DatasetNotFoundError):
        main(["train", "--dataset", "Cora", "--root", str(empty_root)])


# -- the examples share the same boundary -----------------------------------------------------------------------

def _load_example(name):
    spec = importlib.util.spec_from_file_location(f"_example_errors_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_runnable_and_no_helper_module_sits_among_them():
    for path in sorted(EXAMPLES.glob("*.py")):
        assert 'if __name__ == "__main__":' in path.read_text(), f"{path.name} is not a runnable example"
    assert not (EXAMPLES / "decoupled_runs.py").exists()


@pytest.mark.parametrize("name", OWN_EXAMPLES)
def test_example_takes_out_and_rejects_mistakes_in_one_line(name, capsys, empty_root):
    example = _load_example(name)
    with pytest.raises(SystemExit) as info:
        run_main(example.main, ["--help"], prog=f"{name}.py")
    assert info.value.code == 0
    helptext = capsys.readouterr().out
    assert "--out OUT" in helptext and "--out-dir" not in helptext and "--overwrite" in helptext
    assert "--debug" in helptext
    for bad, says in ((["--out-dir", "x"], "unrecognized arguments: --out-dir"),
                      (["--epochs", "0"], "--epochs: expected an integer >= 1"),
                      (["--seed" if "--seed " in helptext else "--epochs", "-1"], "expected an integer")):
        assert run_main(example.main, bad, prog=f"{name}.py") == 2
        err = _one_line_error(capsys)
        assert err.startswith(f"{name}.py: error: ") and says in err, err


@pytest.mark.parametrize("name,args,says", [
    ("ogbn_arxiv_sgc", [], "OGB/ogbn_arxiv"),
    ("ogbn_arxiv_revgnn", [], "--synthetic"),
    ("ogbn_proteins_revgnn", [], "--synthetic"),
    ("sgc_planetoid", ["--dataset", "CiteSeer"], "Planetoid/CiteSeer/raw"),
    ("ogbn_arxiv_gbp", ["--dataset", "NoSuchSet"], "unknown dataset 'NoSuchSet'"),
])
def test_example_with_absent_data_names_the_path_and_the_fix(name, args, says, empty_root, capsys):
    example = _load_example(name)
    hints = getattr(example, "HINTS", None)
    assert run_main(example.main, ["--root", str(empty_root), *args], prog=f"{name}.py", hints=hints) == 1
    err = _one_line_error(capsys)
    assert says in err, err


def test_example_refuses_an_out_dir_holding_a_run_before_any_work(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--quiet", "--epochs", "1", "--out", str(out / "seed0")]) == 0
    capsys.readouterr()
    example = _load_example("sgc_planetoid")
    # the check runs before the dataset is loaded: no data root is needed to see it
    assert run_main(example.main, ["--root", str(tmp_path / "nowhere"), "--out", str(out)], prog="sgc") == 1
    err = _one_line_error(capsys)
    assert "seed0 already holds a training run" in err and "--overwrite" in err


def test_trainer_progress_bar_is_labelled(capsys):
    from scalegnn.train import Trainer

    class Task:
        def train_epoch(self, model, optimizer):
            return 0.5

        def evaluate(self, model):
            return {"val_acc": 0.5}

    model = torch.nn.Linear(1, 1)
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), Task(), epochs=3, progress="Cora run 1/3").fit()
    assert "Cora run 1/3" in capsys.readouterr().err
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), Task(), epochs=3, progress=False).fit()
    assert capsys.readouterr().err == ""


def test_repeats_helpers_moved_from_the_examples():
    import statistics

    from scalegnn.train import pct, run_seeds, split_data, summarize

    runs = run_seeds(lambda s: {"test_acc": 0.8 + s / 100}, range(4))
    assert [r["seed"] for r in runs] == [0, 1, 2, 3]
    summary = summarize(runs, "test_acc")
    values = [0.80, 0.81, 0.82, 0.83]
    assert summary["mean"] == pytest.approx(statistics.fmean(values))
    assert summary["std"] == pytest.approx(statistics.stdev(values)) and summary["runs"] == 4
    assert pct(summary) == f"{100 * statistics.fmean(values):.2f} +- {100 * statistics.stdev(values):.2f}"
    with pytest.raises(ValueError, match="at least one run"):
        summarize([], "test_acc")
    x, y = torch.arange(20.0).view(10, 2), torch.arange(10)
    data, rows = split_data(x, y, {"train": torch.tensor([7, 1]), "valid": torch.tensor([4]),
                                   "test": torch.tensor([9])})
    for name, ids in {"train": [7, 1], "valid": [4], "test": [9]}.items():
        assert torch.equal(data.x[rows[name]], x[ids]) and torch.equal(data.y[rows[name]], y[ids])
