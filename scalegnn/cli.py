"""The ``scalegnn`` command line: ``train``, ``datasets``, ``partition``, ``bench``.

``scalegnn train`` with no arguments trains a 2-layer GCN on the bundled Cora
(shipped inside the package, no download) and prints its test accuracy.
"""
from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["main", "build_parser"]

# Bag-of-words citation graphs are trained on row-normalized features (Kipf & Welling, ICLR 2017).
ROW_NORMALIZED_BY_DEFAULT = {"cora-bundled", "Cora", "CiteSeer", "PubMed"}


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from scalegnn.models import MODELS

    p.add_argument("--model", default="gcn", choices=sorted(MODELS),
                   help="; ".join(f"{k}: {v.description}" for k, v in sorted(MODELS.items())))
    p.add_argument("--dataset", default="cora-bundled", help="dataset name (see `scalegnn datasets`)")
    p.add_argument("--root", default=None, help="data root (default: $SCALEGNN_DATA, else ~/.scalegnn/data)")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--hidden", type=int, default=16, help="hidden channels")
    p.add_argument("--layers", type=int, default=2, help="number of layers")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra model option (JSON value), e.g. --option K=2; repeatable")
    p.add_argument("--feature-norm", choices=["auto", "row", "none"], default="auto",
                   help="row-normalize node features (auto: yes for the Planetoid citation graphs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs")
    p.add_argument("--out", default=None, help="directory for checkpoints, metrics.jsonl and curves.png")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--plot", action="store_true", help="write OUT/curves.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parse_options(pairs: List[str]) -> dict:
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--option expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from scalegnn.data import load_dataset, validate_graph
    from scalegnn.models import MODELS, ModelConfig
    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    if args.resume and args.out is None:
        raise SystemExit("--resume needs --out DIR (the directory holding checkpoint.pt)")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine")
    seed_everything(args.seed)
    dataset = load_dataset(args.dataset, root=args.root)
    if dataset.task != "node":
        raise SystemExit(f"`scalegnn train` trains node-level tasks; {dataset.name} is a {dataset.task}-level "
                         f"dataset (see examples/ for graph- and link-level training)")
    data = dataset.data
    validate_graph(data, task=dataset.task)
    norm = args.feature_norm
    if norm == "row" or (norm == "auto" and dataset.name in ROW_NORMALIZED_BY_DEFAULT):
        data = data.clone()
        data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    spec = MODELS[args.model]
    config = ModelConfig(args.hidden, args.layers, args.dropout, _parse_options(args.option))
    if spec.prepare is not None:
        data = spec.prepare(data, config)
    data = data.to(device)
    model = spec.build(data.num_features, dataset.num_classes, config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    split = {k: v.to(device) for k, v in dataset.split.items()}
    task = NodeClassificationTask(data, split, dataset.metric, dataset.evaluator, forward=spec.forward)
    trainer = Trainer(model, optimizer, task, epochs=args.epochs, out_dir=args.out, resume=args.resume,
                      monitor=f"val_{dataset.metric}", patience=args.patience,
                      checkpoint_every=args.checkpoint_every, progress=not args.quiet, plot=args.plot)
    result = trainer.fit()
    metric = dataset.metric
    print(f"{args.model} on {dataset.name}: test_{metric} {result.best.get(f'test_{metric}', float('nan')):.4f} "
          f"(val_{metric} {result.best.get(f'val_{metric}', float('nan')):.4f} at epoch {result.best_epoch}"
          f" of {trainer.epoch})")
    if args.out:
        print(f"metrics: {Path(args.out) / 'metrics.jsonl'}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from scalegnn.data import dataset_status

    rows = dataset_status(root=args.root)
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        mark = "present" if row["present"] else "absent "
        print(f"{row['name']:<{width}}  {row['task']:<5}  {mark}  {row['path']}")
    return 0


def cmd_partition(rest: List[str]) -> int:
    from partitioning.__main__ import main as partition_main

    return int(partition_main(rest) or 0)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``benchmarks.<name>`` from a source checkout (benchmarks are not installed)."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "benchmarks").is_dir():
        raise SystemExit("benchmarks/ is not next to the installed package: run from a source checkout")
    sys.path.insert(0, str(repo))
    sys.argv = [f"benchmarks.{args.name}", *args.rest]
    runpy.run_module(f"benchmarks.{args.name}", run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalegnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train a model on a dataset (default: GCN on the bundled Cora)")
    _add_train_args(train)
    datasets = sub.add_parser("datasets", help="list known datasets and whether they are present locally")
    datasets.add_argument("--root", default=None)
    sub.add_parser("partition", help="partition a graph (same arguments as `python -m partitioning`)",
                   add_help=False)
    bench = sub.add_parser("bench", help="run a benchmark from benchmarks/ (source checkout)")
    bench.add_argument("name", help="module under benchmarks/, e.g. propagation")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "partition":
        return cmd_partition(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv or ["train"])
    if args.command in (None, "train"):
        if args.command is None:
            args = parser.parse_args(["train"])
        return cmd_train(args)
    if args.command == "datasets":
        return cmd_datasets(args)
    if args.command == "bench":
        return cmd_bench(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
