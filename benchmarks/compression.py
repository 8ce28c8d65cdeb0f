"""Compression benchmark: accuracy, exported bytes and training time of compressed GCN / GAT.

For each dataset and seed (seeds outermost, so the configurations are
interleaved in time on a shared machine) every configuration trains the same
PyG model with the shared :class:`scalegnn.train.Trainer` on the public
Planetoid split, reports test accuracy at the best validation epoch, exports
the trained model with :func:`scalegnn.compress.export` (bytes on disk, against
the float32 model's bytes) and times ``Trainer.fit``. Compressed models are
selected by validation accuracy only among epochs where the compression is
complete (target sparsity reached, mixed-precision bits chosen), so one-cycle
pruning, which ends at the last step, reports its final model.

Configurations (``--configs``): ``fp``, ``int8``, ``int4``, ``mixed:5``,
``mixed:8`` (``mixed:5:rewind`` trains the chosen bits from the initialization after the
calibration phase: the spec's ``:rewind``, ``CompressionScheduler``'s ``rewind``), ``prune:0.5``, ``prune:0.5:gradual``, ``prune:0.9``,
``prune:0.9:gradual`` (unstructured, weights ranked globally across layers),
``heads:0.5`` (GAT only), plus ``fp64``, ``binary`` and ``binary:apply``, which
use the Bi-GCN recipe (hidden 64, dropout 0.4, lr 0.001, weight decay 5e-4,
1000 epochs, no ReLU between the layers: the sign is the nonlinearity).
``binary`` is Bi-GCN's layout built from wrappers: the first layer batch-normalizes
and binarizes the node features, the second binarizes its input directly, and
both drop 40% of the binary features after the sign (the model itself has no
dropout). Both train with their batch statistics coded as the export stores them
(the wrapper's ``quantize_statistics=True``), so training sees the per-node scales
of inference; ``binary:exact-stats`` is the same model trained on exact batch
statistics (as before 2026-12-02, 1-5 points worse on Cora). ``binary:apply`` is plain ``compress.apply(model, "binary")`` on the
model built with dropout 0.4, what ``scalegnn train --compress binary`` does:
``apply`` moves that dropout behind the signs, and both layers batch-normalize
their input before the sign. On GAT (``--models gat``) the Bi-GCN recipe is not used: ``binary:apply``
binarizes both ``GATConv`` layers with GAT's own recipe (hidden 8 x 8 heads, lr 0.005, 200 epochs; the
model's dropout 0.6 moves behind the signs, the attention dropout stays) and is timed against ``fp``.

Usage::

    python -m benchmarks.compression                       # the full table (Cora, CiteSeer, GAT on Cora)
    python -m benchmarks.compression --seeds 2 --datasets Cora --models gcn --configs fp int8   # smoke test
    python -m benchmarks.compression --datasets Cora --models gcn --configs binary --first-seed 4 --seeds 3 \
        --json part.json                                   # seeds 4-6 only (run parts in parallel)
    python -m benchmarks.compression --summarize part1.json part2.json   # one table from the parts
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import torch

from scalegnn import compress
from scalegnn.data import load_dataset
from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

GCN_CONFIGS = ["fp", "int8", "int4", "mixed:5", "mixed:8", "prune:0.5", "prune:0.5:gradual", "prune:0.9",
               "prune:0.9:gradual", "fp64", "binary"]
GAT_CONFIGS = ["fp", "int8", "heads:0.5"]


def build(model: str, config: str, num_features: int, num_classes: int) -> torch.nn.Module:
    from torch_geometric.nn.models import GAT, GCN

    if model == "gat":
        return GAT(num_features, 64, 2, num_classes, heads=8, dropout=0.6)
    if config in ("binary", "binary:exact-stats"):  # Bi-GCN: dropout after the binarization (see run_one)
        return GCN(num_features, 64, 2, num_classes, dropout=0.0, cached=True, act=None)
    if config in ("fp64", "binary:apply"):  # the Bi-GCN recipe: hidden 64, sign as the only nonlinearity
        return GCN(num_features, 64, 2, num_classes, dropout=0.4, cached=True, act=None)
    return GCN(num_features, 16, 2, num_classes, dropout=0.5, cached=True)


def recipe(model: str, config: str) -> Dict[str, Any]:
    if model == "gat":
        return {"lr": 0.005, "weight_decay": 5e-4, "epochs": 200}
    if config in ("fp64", "binary", "binary:apply", "binary:exact-stats"):
        return {"lr": 0.001, "weight_decay": 5e-4, "epochs": 1000}
    return {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200}


class SelectWhenCompressed:
    """The task, with validation accuracy hidden (0) until the compression schedule is complete.

    So the Trainer's best-validation model is always at the requested sparsity / bit widths
    (for one-cycle pruning, which ends at the last step, that is the final model).
    """

    def __init__(self, task: Any, scheduler: Any) -> None:
        self.task, self.scheduler = task, scheduler

    def train_epoch(self, model: torch.nn.Module, optimizer: Any) -> float:
        return self.task.train_epoch(model, optimizer)

    def evaluate(self, model: torch.nn.Module) -> Dict[str, float]:
        metrics = self.task.evaluate(model)
        # the Trainer steps the scheduler before evaluating, so this epoch's model is what `complete` describes
        if not self.scheduler.complete:
            metrics["val_acc"] = 0.0
        return metrics


def run_one(ds: Any, model_name: str, config: str, seed: int, tmp: Path) -> Dict[str, Any]:
    seed_everything(seed)
    model = build(model_name, config, ds.num_features, ds.num_classes)
    hp = recipe(model_name, config)
    scheduler = None
    if config not in ("fp", "fp64"):
        extra: Dict[str, Any] = {}
        if config.startswith("heads"):
            extra["criterion"] = "taylor"
        if config in ("binary", "binary:exact-stats"):
            # Bi-GCN's layout: batch-normalized input features, plain sign of the hidden features,
            # dropout 0.4 after each binarization
            qs = config == "binary"
            compress.apply(model, {"method": "binarize", "normalize": "batch", "dropout": 0.4,
                                   "quantize_statistics": qs}, include="convs.0")
            compress.apply(model, {"method": "binarize", "normalize": "none", "dropout": 0.4,
                                   "quantize_statistics": qs}, include="convs.1")
        else:
            compress.apply(model, "binary" if config == "binary:apply" else config, **extra)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    if config not in ("fp", "fp64"):
        scheduler = compress.CompressionScheduler(model, hp["epochs"], optimizer=optimizer)
    task = NodeClassificationTask(ds.data, ds.split)
    if scheduler is not None:
        task = SelectWhenCompressed(task, scheduler)
    start = time.perf_counter()
    result = Trainer(model, optimizer, task, epochs=hp["epochs"], progress=False, scheduler=scheduler,
                     checkpoint_every=10 ** 9).fit()
    seconds = time.perf_counter() - start
    fp32 = compress.float32_bytes(model)
    if scheduler is None:
        nbytes = fp32
    else:
        nbytes = compress.export(model, tmp / f"{model_name}-{seed}.sgc").bytes
    record = {"acc": 100 * result.best["test_acc"], "val_acc": 100 * result.best["val_acc"],
              "best_epoch": result.best_epoch, "bytes": nbytes, "fp32_bytes": fp32, "seconds": seconds}
    if scheduler is not None and scheduler.allocation is not None:
        record["bits"] = scheduler.allocation
    return record


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("SCALEGNN_DATA"))
    parser.add_argument("--datasets", nargs="+", default=["Cora", "CiteSeer"])
    parser.add_argument("--models", nargs="+", default=["gcn", "gat"], choices=["gcn", "gat"])
    parser.add_argument("--configs", nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--json", default=None, help="write every run here (updated after each run)")
    parser.add_argument("--summarize", nargs="+", default=None, metavar="JSON",
                        help="only print the table of earlier runs' JSON files")
    args = parser.parse_args(argv)
    if args.summarize:
        runs: Dict[str, List[Dict[str, Any]]] = {}
        for path in args.summarize:
            for key, recs in json.loads(Path(path).read_text()).items():
                runs.setdefault(key, []).extend(recs)
        print_table(runs)
        return
    torch.set_num_threads(1)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, torch {torch.__version__}, "
          f"load {os.getloadavg()}", flush=True)
    runs: Dict[str, List[Dict[str, Any]]] = {}
    jobs = []
    for name in args.datasets:
        for model in args.models:
            if model == "gat" and name != "Cora":
                continue
            configs = args.configs or (GAT_CONFIGS if model == "gat" else GCN_CONFIGS)
            configs = [c for c in configs if model == "gat" or not c.startswith("heads")]
            jobs.extend((name, model, c) for c in configs)
    datasets = {name: load_dataset(name, root=args.root) for name in args.datasets}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name, model, config in jobs:
                rec = run_one(datasets[name], model, config, seed, Path(tmp))
                rec["seed"], rec["load"] = seed, os.getloadavg()[0]
                runs.setdefault(f"{name}|{model}|{config}", []).append(rec)
                print(f"seed {seed} {name} {model} {config}: {rec}", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(runs, indent=1))
    print(f"load after: {os.getloadavg()}")
    print_table(runs)


def print_table(runs: Dict[str, List[Dict[str, Any]]]) -> None:
    print("\n| dataset | model | config | accuracy (%) | exported bytes | x smaller than fp32 | time vs fp |")
    print("|---|---|---|---|---|---|---|")
    for key, recs in runs.items():
        name, model, config = key.split("|")
        # the Bi-GCN configurations are timed against the Bi-GCN recipe in full precision (fp64); GAT has no
        # separate recipe for them (binary:apply on GAT keeps GAT's own), so its baseline is fp
        bigcn = model == "gcn" and config in ("binary", "binary:apply", "binary:exact-stats", "fp64")
        base = "fp64" if bigcn else "fp"
        base_recs = runs.get(f"{name}|{model}|{base}")
        accs = [r["acc"] for r in recs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        nbytes = statistics.median(r["bytes"] for r in recs)
        ratio = recs[0]["fp32_bytes"] / nbytes
        rel = (statistics.median(r["seconds"] for r in recs) / statistics.median(r["seconds"] for r in base_recs)
               if base_recs else float("nan"))
        bits = f" bits {recs[0]['bits']}" if "bits" in recs[0] else ""
        print(f"| {name} | {model} | {config}{bits} | {statistics.mean(accs):.2f} ± {std:.2f} (n={len(accs)}) | "
              f"{nbytes:.0f} | {ratio:.1f}x | {rel:.2f}x |")


if __name__ == "__main__":
    main()
