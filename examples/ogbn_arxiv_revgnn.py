"""RevGNN on ogbn-arxiv, full-batch (Li et al., "Training Graph Neural Networks with 1000 Layers", ICML 2021).

A deep reversible GCN (default 28 layers x 128 channels, 2 groups, LayerNorm,
dropout with one mask shared by all layers) trained full-batch on the
undirected citation graph, selected on validation accuracy; OGB's accuracy
evaluator. Activation memory does not grow with ``--layers``: compare a run
with ``--no-memory-saving``.

Without the real data, ``--synthetic`` trains on a synthetic power-law graph
of the same shape (128 features, 40 classes, ogbn-arxiv's average degree),
``--scale`` times its node count; unless given, a synthetic run uses 8 layers
and 5 epochs so that it finishes in about a minute on a CPU. Its numbers say
nothing about the real dataset.

Usage::

    python examples/ogbn_arxiv_revgnn.py --synthetic --out runs/arxiv_synthetic
    SCALEGNN_DATA=/data python examples/ogbn_arxiv_revgnn.py --device cuda --out runs/arxiv_revgnn
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict

import torch
from torch_geometric.utils import to_undirected

from scalegnn.data import DatasetNotFoundError, load_dataset
from scalegnn.nn.rev_gnn import CONVS, RevGNN
from scalegnn.train import NodeClassificationTask, Trainer, check_out_dir, save_summary, seed_everything
from scalegnn.train.entrypoint import (ArgumentParser, fraction, nonnegative_int, positive_float, positive_int,
                                       run_main)

NUM_NODES, NUM_EDGES = 169_343, 2_332_486  # undirected graph, both directions counted


# added to the one-line error when the real data are absent
HINTS = {DatasetNotFoundError: "or run with --synthetic on a same-shape generated graph"}


def main(argv=None) -> Dict[str, Any]:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=None, help="data root (default $SCALEGNN_DATA)")
    p.add_argument("--synthetic", action="store_true", help="train on a synthetic graph of the same shape")
    p.add_argument("--scale", type=positive_float, default=0.02, help="synthetic: fraction of ogbn-arxiv's node count")
    p.add_argument("--layers", type=positive_int, default=None, help="reversible layers (default 28; synthetic 8)")
    p.add_argument("--hidden", type=positive_int, default=128)
    p.add_argument("--groups", type=positive_int, default=2)
    p.add_argument("--conv", default="gcn", choices=[c for c in CONVS if c != "gen"])
    p.add_argument("--norm", default="layer", choices=["layer", "batch"])
    p.add_argument("--dropout", type=fraction, default=0.3)
    p.add_argument("--lr", type=positive_float, default=0.003)
    p.add_argument("--epochs", type=positive_int, default=None, help="(default 500; synthetic 5)")
    p.add_argument("--patience", type=positive_int, default=None, help="early stopping on val_acc (evaluations)")
    p.add_argument("--weight-tying", action="store_true")
    p.add_argument("--no-memory-saving", action="store_true", help="plain autograd (memory grows with depth)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, default=None, help="metrics.jsonl, checkpoints and summary.json go here")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT (same flags as the first time)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in OUT")
    args = p.parse_args(argv)
    if (args.resume or args.overwrite) and args.out is None:
        raise ValueError("--resume and --overwrite need --out DIR (the run directory)")
    if args.out is not None:
        check_out_dir(args.out, resume=args.resume, overwrite=args.overwrite)
    if args.layers is None:
        args.layers = 8 if args.synthetic else 28
    if args.epochs is None:
        args.epochs = 5 if args.synthetic else 500

    seed_everything(args.seed)
    if args.synthetic:
        n = max(int(NUM_NODES * args.scale), 100)
        m = 2 * round(n * NUM_EDGES / NUM_NODES / 2)
        ds = load_dataset(f"synthetic-{n}-{m}", seed=args.seed)
    else:
        ds = load_dataset("ogbn-arxiv", args.root)
    data = ds.data.clone()
    data.edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)
    data = data.to(args.device)
    print(f"{ds.name}: {data.num_nodes:,} nodes, {data.num_edges:,} edges; RevGNN {args.layers} x {args.hidden} "
          f"({args.groups} groups, {args.conv}), {args.epochs} epochs full-batch on {args.device}")

    model = RevGNN(data.num_features, args.hidden, ds.num_classes, args.layers, num_groups=args.groups,
                   conv=args.conv, dropout=args.dropout, norm=args.norm, weight_tying=args.weight_tying,
                   memory_saving=not args.no_memory_saving).to(args.device)
    task = NodeClassificationTask(data, ds.split, metric=ds.metric, evaluator=ds.evaluator)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    result = Trainer(model, optimizer, task, epochs=args.epochs, out_dir=args.out, monitor=f"val_{ds.metric}",
                     patience=args.patience, resume=args.resume, overwrite=args.overwrite,
                     config={"command": "examples/ogbn_arxiv_revgnn.py", "args": config},
                     title=f"RevGNN {args.layers} x {args.hidden} on {ds.name}").fit()
    seconds = time.perf_counter() - t0
    if result.already_finished:
        print(f"{args.out}: this run had already finished (epoch {result.history[-1]['epoch']}); nothing was "
              f"trained or changed")
    val, test = result.best.get(f"val_{ds.metric}", float("nan")), result.best.get(f"test_{ds.metric}", float("nan"))
    print(f"best epoch {result.best_epoch}: val {ds.metric} {100 * val:.2f}, test {100 * test:.2f} ({seconds:.0f}s)")
    summary = {"dataset": ds.name, "layers": args.layers, "hidden": args.hidden, "groups": args.groups,
               "conv": args.conv, "best_epoch": result.best_epoch, "best": result.best, "seconds": seconds}
    if not result.already_finished:
        save_summary(args.out, summary)
    return summary


if __name__ == "__main__":
    sys.exit(run_main(main, hints=HINTS))
