"""GBP on an OGB node-property dataset (default ogbn-arxiv), scored by OGB's Evaluator.

* the graph made undirected; ``P = sum_l w_l (D^{r-1} A~ D^{-r})^l X`` with
  PPR weights estimated by :func:`scalegnn.nn.gbp.gbp_precompute` for the
  train/valid/test nodes (forward push with ``--rmax`` plus ``--walks``
  reverse walks per node), column-chunked on ``--device``;
* an MLP (``--layers``, ``--hidden``, batch norm, dropout) trained
  full-batch with Adam on the train rows; test accuracy at the best
  validation epoch with OGB's Evaluator;
* ``--seeds`` runs (initialization and walks): mean +- std.

``--dataset`` takes any node-classification name that
:func:`scalegnn.data.load_dataset` knows (e.g. ``Cora`` for a quick look).

Usage::

    SCALEGNN_DATA=/path/to/data python examples/ogbn_arxiv_gbp.py
    python examples/ogbn_arxiv_gbp.py --dataset Cora --epochs 100 --seeds 2 --walks 10
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Dict

import torch
from torch_geometric.utils import to_undirected

from scalegnn.data import load_dataset, split_rows
from scalegnn.nn.gbp import GBP, gbp_precompute
from scalegnn.nn.propagation_weights import ppr_weights
from scalegnn.train import (NodeClassificationTask, Trainer, pct, run_dirs, run_seeds, save_summary,
                            seed_everything, split_data, summarize)
from scalegnn.train.entrypoint import (ArgumentParser, fraction, nonnegative_float, nonnegative_int, positive_float,
                                       positive_int, run_main)


def main(argv=None) -> Dict:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="ogbn-arxiv")
    p.add_argument("--root", default=None)
    p.add_argument("--alpha", type=positive_float, default=0.1)
    p.add_argument("--L", type=positive_int, default=10)
    p.add_argument("--r", type=nonnegative_float, default=0.5)
    p.add_argument("--rmax", type=positive_float, default=1e-7)
    p.add_argument("--walks", type=nonnegative_int, default=0)
    p.add_argument("--layers", type=positive_int, default=3)
    p.add_argument("--hidden", type=positive_int, default=256)
    p.add_argument("--dropout", type=fraction, default=0.3)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--weight-decay", type=nonnegative_float, default=0.0)
    p.add_argument("--epochs", type=positive_int, default=500)
    p.add_argument("--patience", type=positive_int, default=50)
    p.add_argument("--seeds", type=positive_int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunk-size", type=positive_int, default=None)
    p.add_argument("--out", type=Path, default=None, help="per-seed runs under OUT/seed<k>/, summary.json")
    p.add_argument("--overwrite", action="store_true", help="replace the runs already in OUT")
    args = p.parse_args(argv)
    if args.alpha > 1 or args.r > 1:
        raise ValueError(f"--alpha must be in (0, 1] and --r in [0, 1], got {args.alpha} and {args.r}")

    out_dirs = run_dirs(args.out, [f"seed{s}" for s in range(args.seeds)], overwrite=args.overwrite)
    ds = load_dataset(args.dataset, args.root)
    if ds.task != "node":
        raise ValueError(f"--dataset {args.dataset} is a {ds.task}-level dataset; this example needs a node-level one")
    data = ds.data
    edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes).to(args.device)
    nodes, _ = split_rows(ds.split)
    x = data.x.float().to(args.device)
    weights = ppr_weights(args.alpha, args.L)
    y = data.y.view(-1) if ds.evaluator is None else data.y
    cache = {}

    def features(seed: int):
        key = seed if args.walks > 0 else 0  # walks are random: new ones per seed
        if key not in cache:
            t0 = time.perf_counter()
            full = torch.zeros(data.num_nodes, x.size(1), device=args.device)
            rows, stats = gbp_precompute(x, edge_index, weights, r=args.r, rmax=args.rmax,
                                         walks_per_node=args.walks, nodes=nodes.to(args.device), seed=seed,
                                         chunk_size=args.chunk_size, progress=True, return_stats=True)
            full[nodes.to(args.device)] = rows
            cache.clear()
            cache[key] = (split_data(full, y, ds.split), time.perf_counter() - t0, stats)
            print(f"GBP features for {nodes.numel():,} nodes in {cache[key][1]:.2f}s "
                  f"({stats.push_edge_updates / 1e6:.0f}M push edge updates, {stats.walk_steps / 1e6:.1f}M walk steps)",
                  flush=True)
        return cache[key]

    def one(seed: int) -> Dict[str, float]:
        (train_data, split), pre, _ = features(seed)
        seed_everything(seed)
        task = NodeClassificationTask(train_data, split, metric=ds.metric, evaluator=ds.evaluator,
                                      forward=lambda model, d: model(d.x))
        model = GBP(x.size(1), args.hidden, ds.num_classes, num_layers=args.layers,
                    dropout=args.dropout).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        result = Trainer(model, optimizer, task, epochs=args.epochs, out_dir=out_dirs[f"seed{seed}"],
                         monitor="val_acc", patience=args.patience, progress=f"seed {seed}",
                         overwrite=args.overwrite, title=f"GBP on {ds.name}, seed {seed}").fit()
        return {**result.best, "best_epoch": result.best_epoch, "precompute_seconds": pre}

    runs = run_seeds(one, range(args.seeds))
    test, val = summarize(runs, "test_acc"), summarize(runs, "val_acc")
    print(f"GBP on {ds.name}: test {pct(test)} %, val {pct(val)} % over {args.seeds} seeds")
    summary = {"dataset": ds.name, "args": {k: str(v) for k, v in vars(args).items()}, "test_acc": test,
               "val_acc": val, "runs": runs}
    save_summary(args.out, summary)
    return summary


if __name__ == "__main__":
    sys.exit(run_main(main))
