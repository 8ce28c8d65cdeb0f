"""Compress a GCN (or GAT) on a Planetoid graph: train with a compression spec, export, reload, compare.

Trains PyG's ``GCN`` with the shared :class:`~scalegnn.train.Trainer` while
a :class:`~scalegnn.compress.CompressionScheduler` drives the compression
(pruning schedule, mixed-precision bit allocation), prints the per-layer
summary, writes the compact artifact with :func:`scalegnn.compress.export`,
reloads it into a fresh model with :func:`scalegnn.compress.load` and checks
that the reloaded model gives identical outputs.

Specs: ``int8``, ``int4``, ``binary``, ``mixed:5``, ``prune:0.9`` (one-cycle,
weights ranked across layers), ``prune:0.9:gradual``, ``channels:0.5``,
``heads:0.5`` (with ``--model gat``). For ``binary``, :func:`scalegnn.compress.apply`
moves the model's dropout into the wrappers, which drop binary features after the
sign (Bi-GCN's order), as ``scalegnn train --compress binary`` does;
``benchmarks/compression.py`` has Bi-GCN's full recipe (hidden 64, 1000 epochs).

Usage::

    python examples/compress_planetoid.py --compress int8                      # bundled Cora
    SCALEGNN_DATA=/path/to/data python examples/compress_planetoid.py --dataset CiteSeer --compress prune:0.9
    python examples/compress_planetoid.py --model gat --compress heads:0.5 --out runs/gat_heads
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import torch

from scalegnn import compress
from scalegnn.data import load_dataset
from scalegnn.train import NodeClassificationTask, Trainer, seed_everything
from scalegnn.train.entrypoint import ArgumentParser, positive_float, positive_int, run_main


def build(model: str, in_channels: int, out_channels: int, dropout: Optional[float] = None) -> torch.nn.Module:
    from torch_geometric.nn.models import GAT, GCN

    if model == "gat":
        return GAT(in_channels, 64, 2, out_channels, heads=8, dropout=0.6 if dropout is None else dropout)
    return GCN(in_channels, 16, 2, out_channels, dropout=0.5 if dropout is None else dropout, cached=True)


def compress_model(model: str, spec: str, in_channels: int, out_channels: int) -> torch.nn.Module:
    """The model with ``spec`` applied (``binary`` moves the model's dropout behind the signs, as in Bi-GCN)."""
    return compress.apply(build(model, in_channels, out_channels), spec)


def main(argv: Optional[List[str]] = None) -> float:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="Cora, CiteSeer, PubMed (default: the bundled Cora)")
    parser.add_argument("--root", default=None)
    parser.add_argument("--model", default="gcn", choices=["gcn", "gat"])
    parser.add_argument("--compress", default="int8", help="compression spec (see the module docstring)")
    parser.add_argument("--epochs", type=positive_int, default=200)
    parser.add_argument("--lr", type=positive_float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run directory (metrics.jsonl, checkpoints, model.sgc)")
    args = parser.parse_args(argv)

    seed_everything(args.seed)
    ds = load_dataset(args.dataset, root=args.root)
    model = compress_model(args.model, args.compress, ds.num_features, ds.num_classes)
    lr = args.lr or (0.005 if args.model == "gat" else 0.01)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    # the optimizer is passed for 'mixed:B:rewind', whose rewind clears its state with the weights
    scheduler = compress.CompressionScheduler(model, total_steps=args.epochs, optimizer=optimizer)
    result = Trainer(model, optimizer, NodeClassificationTask(ds.data, ds.split), epochs=args.epochs,
                     out_dir=args.out, scheduler=scheduler).fit()
    print(f"{ds.name} {args.model} {args.compress}: test accuracy {100 * result.best['test_acc']:.2f}% "
          f"(best validation epoch {result.best_epoch})")
    if scheduler.allocation is not None:
        print(f"mixed precision bits: {scheduler.allocation}")
    compress.summary(model)

    out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="compress_"))
    report = compress.export(model, out_dir / "model.sgc")
    print(report)
    model.eval()
    restored = compress.load(report.path, build(args.model, ds.num_features, ds.num_classes, dropout=0.0))
    with torch.no_grad():
        same = torch.equal(model(ds.data.x, ds.data.edge_index), restored(ds.data.x, ds.data.edge_index))
    print(f"reloaded model gives identical outputs: {same}")
    if not same:
        raise RuntimeError("the reloaded model's outputs differ from the trained model's")
    return result.best["test_acc"]


if __name__ == "__main__":
    sys.exit(run_main(main))
