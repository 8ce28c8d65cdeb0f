"""The ``scalegnn`` command line: ``train``, ``datasets``, ``partition``, ``bench``.

``scalegnn train`` with no arguments trains a 2-layer GCN on the bundled Cora
(shipped inside the package, no download) and prints its test accuracy.

``scalegnn train ... --out DIR`` saves the run's settings in ``DIR/run.json``;
``scalegnn train --out DIR --resume`` restores them and continues from the last
checkpoint. A flag given with ``--resume`` must agree with the saved setting,
except ``--epochs``, which may be raised to extend the run, and the settings
that do not change the result (``--root``, ``--device``, ``--checkpoint-every``,
``--plot``, ``--quiet``). Mistakes end with one line on stderr (``--debug`` or
``SCALEGNN_DEBUG=1`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from scalegnn.train.entrypoint import (ArgumentParser, UsageError, fraction, nonnegative_float, nonnegative_int,
                                       positive_float, positive_int, run_main)

__all__ = ["main", "build_parser", "TRAIN_DEFAULTS"]

# Bag-of-words citation graphs are trained on row-normalized features (Kipf & Welling, ICLR 2017).
ROW_NORMALIZED_BY_DEFAULT = {"cora-bundled", "Cora", "CiteSeer", "PubMed"}

# The settings of a training run: saved in OUT/run.json, restored by --resume.
TRAIN_DEFAULTS: Dict[str, Any] = {
    "model": "gcn", "dataset": "cora-bundled", "root": None, "epochs": 200, "lr": 0.01, "weight_decay": 5e-4,
    "hidden": 16, "layers": 2, "dropout": 0.5, "options": {}, "feature_norm": "auto", "seed": 0, "patience": None,
}
# settings a resumed run may take from the command line without contradicting the saved run
RESUME_MAY_CHANGE = {"root"}
# the model hyper-parameter behind each shared flag
SHARED_FLAGS = {"hidden": "hidden_channels", "layers": "num_layers", "dropout": "dropout"}

# synthetic graphs at the sizes of the OGB node-property datasets (both edge directions counted)
SYNTHETIC_PRESETS = (
    ("synthetic-169343-2332486", "the size of ogbn-arxiv (undirected)"),
    ("synthetic-132534-79122504", "the size of ogbn-proteins"),
    ("synthetic-2449029-123718280", "the size of ogbn-products"),
    ("synthetic-1M-25M", "1M nodes, 25M edges"),
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from scalegnn.models import MODELS

    d = TRAIN_DEFAULTS
    p.add_argument("--model", default=None, choices=sorted(MODELS),
                   help=f"(default {d['model']}) " + "; ".join(f"{k}: {v.description}" for k, v in sorted(MODELS.items())))
    p.add_argument("--dataset", default=None, help=f"dataset name (default {d['dataset']}; see `scalegnn datasets`)")
    p.add_argument("--root", default=None, help="data root (default: $SCALEGNN_DATA, else ~/.scalegnn/data)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"(default {d['epochs']}); with --resume, a larger value extends the run")
    p.add_argument("--lr", type=positive_float, default=None, help=f"learning rate (default {d['lr']})")
    p.add_argument("--weight-decay", type=nonnegative_float, default=None, help=f"(default {d['weight_decay']})")
    p.add_argument("--hidden", type=positive_int, default=None, help=f"hidden channels (default {d['hidden']})")
    p.add_argument("--layers", type=positive_int, default=None, help=f"number of layers (default {d['layers']})")
    p.add_argument("--dropout", type=fraction, default=None, help=f"dropout in [0, 1) (default {d['dropout']})")
    accepted = "; ".join(f"{name}: " + " ".join(o.describe(k) for k, o in spec.options.items())
                         for name, spec in sorted(MODELS.items()) if spec.options)
    p.add_argument("--option", action="append", default=None, metavar="KEY=VALUE",
                   help=f"model option (JSON value), e.g. --option K=2; repeatable. Options and defaults: {accepted}")
    p.add_argument("--feature-norm", choices=["auto", "row", "none"], default=None,
                   help="row-normalize node features (auto, the default: yes for the Planetoid citation graphs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=nonnegative_int, default=None, help=f"(default {d['seed']})")
    p.add_argument("--patience", type=positive_int, default=None, help="early-stopping patience in epochs")
    p.add_argument("--out", default=None, help="run directory: run.json, checkpoints, metrics.jsonl, curves.png")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT with its saved settings")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in OUT (only a scalegnn run directory is replaced)")
    p.add_argument("--checkpoint-every", type=positive_int, default=None, help="epochs between checkpoints (10)")
    p.add_argument("--plot", action="store_true", help="write OUT/curves.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parse_options(pairs: List[str]) -> Dict[str, Any]:
    options: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _explicit_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The run settings given on the command line (flags left out are not in the result)."""
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS if k != "options" and getattr(args, k) is not None}
    if args.option is not None:
        given["options"] = _parse_options(args.option)
    return given


def _resolve_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The run's settings: saved ones on --resume (checked against the flags), else flags over defaults."""
    from scalegnn.train.run_dir import check_out_dir, read_run_config

    given = _explicit_settings(args)
    if args.out is None:
        for flag, on in (("--resume", args.resume), ("--overwrite", args.overwrite), ("--plot", args.plot),
                         ("--checkpoint-every", args.checkpoint_every is not None)):
            if on:
                raise UsageError(f"{flag} needs --out DIR (the run directory)")
        return {**TRAIN_DEFAULTS, **given}
    check_out_dir(args.out, resume=args.resume, overwrite=args.overwrite)
    if not args.resume:
        return {**TRAIN_DEFAULTS, **given}
    saved = read_run_config(args.out)
    if saved is None or not saved.get("settings"):
        print(f"note: {args.out} has no saved settings (a run from before run.json); resuming with the flags given",
              file=sys.stderr)
        return {**TRAIN_DEFAULTS, **given}
    settings = {**TRAIN_DEFAULTS, **saved["settings"]}
    conflicts = []
    for key, value in given.items():
        if key in RESUME_MAY_CHANGE:
            continue
        old = settings.get(key)
        if key == "epochs" and value >= old:
            continue
        if key == "options":
            clash = {k: v for k, v in value.items() if settings["options"].get(k, object()) != v}
            if clash:
                conflicts.append(", ".join(f"--option {k}={json.dumps(v)} (saved {json.dumps(settings['options'].get(k))})"
                                           for k, v in clash.items()))
            continue
        if value != old:
            extra = " (--epochs can only be raised, to extend the run)" if key == "epochs" else ""
            conflicts.append(f"{_flag(key)} {value} (saved {old}){extra}")
    if conflicts:
        raise UsageError(f"{'; '.join(conflicts)} contradicts the run saved in {Path(args.out) / 'run.json'}: "
                         f"resume without those flags, or start a new run with another --out")
    settings.update({k: v for k, v in given.items() if k != "options"})
    return settings


def _check_model_settings(settings: Dict[str, Any], given: Dict[str, Any]) -> Dict[str, Any]:
    """Refuse flags the model does not use; returns the model's options, checked and completed."""
    from scalegnn.models import MODELS, resolve_options

    name = settings["model"]
    spec = MODELS[name]
    unused = [_flag(f) for f, attr in SHARED_FLAGS.items() if f in given and attr not in spec.uses]
    if unused:
        raise UsageError(f"{' and '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to --model {name} "
                         f"({spec.description.split(':')[0]}): remove {'it' if len(unused) == 1 else 'them'}")
    try:
        return resolve_options(name, settings["options"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from scalegnn.data import load_dataset, validate_graph
    from scalegnn.models import MODELS, ModelConfig
    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    settings = _resolve_settings(args)
    settings["options"] = _check_model_settings(settings, _explicit_settings(args))
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: CUDA is not available on this machine; use --device cpu")
    seed_everything(settings["seed"])
    dataset = load_dataset(settings["dataset"], root=settings["root"])
    if dataset.task != "node":
        raise UsageError(f"`scalegnn train` trains node-level tasks; {dataset.name} is a {dataset.task}-level "
                         f"dataset (see examples/ for graph- and link-level training)")
    data = dataset.data
    validate_graph(data, task=dataset.task)
    norm = settings["feature_norm"]
    if norm == "row" or (norm == "auto" and dataset.name in ROW_NORMALIZED_BY_DEFAULT):
        data = data.clone()
        data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    spec = MODELS[settings["model"]]
    config = ModelConfig(settings["hidden"], settings["layers"], settings["dropout"], settings["options"])
    if spec.prepare is not None:
        data = spec.prepare(data, config)
    data = data.to(device)
    model = spec.build(data.num_features, dataset.num_classes, config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    split = {k: v.to(device) for k, v in dataset.split.items()}
    task = NodeClassificationTask(data, split, dataset.metric, dataset.evaluator, forward=spec.forward)
    title = f"{settings['model']} on {dataset.name}"
    trainer = Trainer(model, optimizer, task, epochs=settings["epochs"], out_dir=args.out, resume=args.resume,
                      overwrite=args.overwrite, monitor=f"val_{dataset.metric}", patience=settings["patience"],
                      checkpoint_every=args.checkpoint_every or 10, progress=not args.quiet, plot=args.plot,
                      config={"command": "train", "settings": settings}, title=title)
    result = trainer.fit()
    if result.already_finished:
        how = (f"stopped early at epoch {trainer.epoch}" if result.stopped_early else
               f"all {trainer.epoch} epochs done; raise --epochs to extend it")
        print(f"{args.out}: this run had already finished ({how}); nothing was trained or changed")
    metric = dataset.metric
    print(f"{settings['model']} on {dataset.name}: test_{metric} {result.best.get(f'test_{metric}', float('nan')):.4f} "
          f"(val_{metric} {result.best.get(f'val_{metric}', float('nan')):.4f} at epoch {result.best_epoch}"
          f" of {trainer.epoch})")
    if args.out:
        print(f"metrics: {Path(args.out) / 'metrics.jsonl'}")
    return 0


def _synthetic_rows() -> List[Dict[str, str]]:
    rows = [{"name": "synthetic-<n>-<m>", "task": "node", "status": "generated",
             "where": "power-law graph, n nodes, m directed edges (k/M/G suffixes, e.g. synthetic-2.4M-60M)"},
            {"name": "synthetic-sbm-<n>-<m>", "task": "node", "status": "generated",
             "where": "stochastic block model with equal expected degrees"}]
    rows += [{"name": name, "task": "node", "status": "generated", "where": what} for name, what in SYNTHETIC_PRESETS]
    rows += [{"name": "TU:<NAME>", "task": "graph", "status": "-", "where": "any TU Dortmund dataset, under TU/<NAME>/raw"},
             {"name": "ogbn-*, ogbl-*, ogbg-*", "task": "-", "status": "-",
              "where": "any OGB dataset name, under OGB/<name_with_underscores>"}]
    return rows


def cmd_datasets(args: argparse.Namespace) -> int:
    from scalegnn.data import dataset_status

    rows = [{"name": r["name"], "task": r["task"], "status": "present" if r["present"] else "absent",
             "where": r["path"]} for r in dataset_status(root=args.root)]
    rows += _synthetic_rows()
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['task']:<5}  {row['status']:<9}  {row['where']}")
    return 0


def cmd_partition(rest: List[str]) -> int:
    from partitioning.__main__ import main as partition_main

    return int(partition_main(rest) or 0)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``benchmarks.<name>`` from a source checkout (benchmarks are not installed)."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "benchmarks").is_dir():
        raise UsageError("benchmarks/ is not next to the installed package: run from a source checkout")
    sys.path.insert(0, str(repo))
    sys.argv = [f"benchmarks.{args.name}", *args.rest]
    runpy.run_module(f"benchmarks.{args.name}", run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="scalegnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", parser_class=ArgumentParser)
    train = sub.add_parser("train", help="train a model on a dataset (default: GCN on the bundled Cora)")
    _add_train_args(train)
    datasets = sub.add_parser("datasets", help="list every dataset name the commands accept, and which are present")
    datasets.add_argument("--root", default=None)
    sub.add_parser("partition", help="partition a graph (same arguments as `python -m partitioning`)",
                   add_help=False)
    bench = sub.add_parser("bench", help="run a benchmark from benchmarks/ (source checkout)")
    bench.add_argument("name", help="module under benchmarks/, e.g. propagation")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _dispatch(argv: List[str]) -> int:
    if argv and argv[0] == "partition":
        return cmd_partition([a for a in argv[1:] if a != "--debug"])
    parser = build_parser()
    args = parser.parse_args(argv or ["train"])
    if args.command is None:  # only top-level flags (e.g. --debug): the default command
        args = parser.parse_args(["train", *argv])
    if args.command == "train":
        return cmd_train(args)
    if args.command == "datasets":
        return cmd_datasets(args)
    if args.command == "bench":
        return cmd_bench(args)
    raise UsageError(f"unknown command {args.command!r}")


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (mistakes: one line on stderr, non-zero status)."""
    return run_main(_dispatch, argv, prog="scalegnn")


if __name__ == "__main__":
    sys.exit(main())
