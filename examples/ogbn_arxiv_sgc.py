"""SGC on an OGB node-property dataset (default ogbn-arxiv), scored by OGB's Evaluator.

* the graph made undirected, features propagated once,
  ``X_bar = S^K X`` with ``S = D^-1/2 (A + I) D^-1/2``, column-chunked
  (``--chunk-size``) on ``--device``, with a progress bar;
* a linear layer trained full-batch with Adam on the train rows; the test
  accuracy at the best validation epoch, OGB's Evaluator ``acc``;
* ``--seeds`` runs: mean +- std.

The data are read from ``$SCALEGNN_DATA`` (or ``--root``) when present and
downloaded by ``ogb`` otherwise. ``--dataset`` takes any node-classification
name :func:`scalegnn.data.load_dataset` knows (e.g. ``Cora`` for a quick look).

Usage::

    SCALEGNN_DATA=/path/to/data python examples/ogbn_arxiv_sgc.py
    python examples/ogbn_arxiv_sgc.py --dataset Cora --epochs 50 --seeds 2
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
from torch_geometric.utils import to_undirected

from scalegnn.data import load_dataset
from scalegnn.nn.sgc import SGC, sgc_precompute
from scalegnn.train import (NodeClassificationTask, Trainer, pct, run_dirs, run_seeds, save_summary,
                            seed_everything, split_data, summarize)
from scalegnn.train.entrypoint import (ArgumentParser, nonnegative_float, nonnegative_int, positive_float,
                                       positive_int, run_main)

ARXIV_DEFAULTS = dict(dataset="ogbn-arxiv", K=3, epochs=300, lr=0.05, weight_decay=0.0, device="cpu")


def parse(argv: Optional[Sequence[str]], defaults: Dict, description: str) -> argparse.Namespace:
    p = ArgumentParser(description=description)
    p.add_argument("--dataset", default=defaults["dataset"])
    p.add_argument("--root", default=None)
    p.add_argument("--K", type=nonnegative_int, default=defaults["K"])
    p.add_argument("--epochs", type=positive_int, default=defaults["epochs"])
    p.add_argument("--lr", type=positive_float, default=defaults["lr"])
    p.add_argument("--weight-decay", type=nonnegative_float, default=defaults["weight_decay"])
    p.add_argument("--patience", type=positive_int, default=50)
    p.add_argument("--seeds", type=positive_int, default=10)
    p.add_argument("--device", default=defaults["device"])
    p.add_argument("--chunk-size", type=positive_int, default=None, help="feature columns propagated at once")
    p.add_argument("--out", type=Path, default=None, help="per-seed metrics under OUT/seed<k>/, summary.json")
    p.add_argument("--overwrite", action="store_true", help="replace the runs already in OUT")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> Dict:
    """Precompute S^K X once, then train the linear model per seed with the Trainer."""
    out_dirs = run_dirs(args.out, [f"seed{s}" for s in range(args.seeds)], overwrite=args.overwrite)
    ds = load_dataset(args.dataset, args.root)
    if ds.task != "node":
        raise ValueError(f"--dataset {args.dataset} is a {ds.task}-level dataset; this example needs a node-level one")
    data = ds.data
    edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)
    t0 = time.perf_counter()
    features = sgc_precompute(data.x.float().to(args.device), edge_index.to(args.device), args.K,
                              chunk_size=args.chunk_size, progress=True)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t_pre = time.perf_counter() - t0
    print(f"{ds.name}: {data.num_nodes:,} nodes, {edge_index.size(1):,} edges; S^{args.K} X in {t_pre:.2f}s",
          flush=True)
    train_data, split = split_data(features, data.y.view(-1) if ds.evaluator is None else data.y, ds.split)

    def one(seed: int) -> Dict[str, float]:
        seed_everything(seed)
        task = NodeClassificationTask(train_data, split, metric=ds.metric, evaluator=ds.evaluator,
                                      forward=lambda model, d: model(d.x))
        model = SGC(features.size(1), ds.num_classes, K=0).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        result = Trainer(model, optimizer, task, epochs=args.epochs, out_dir=out_dirs[f"seed{seed}"],
                         monitor="val_acc", patience=args.patience, progress=f"seed {seed}",
                         overwrite=args.overwrite, title=f"SGC on {ds.name}, seed {seed}").fit()
        return {**result.best, "best_epoch": result.best_epoch}

    runs = run_seeds(one, range(args.seeds))
    test, val = summarize(runs, "test_acc"), summarize(runs, "val_acc")
    print(f"SGC K={args.K} on {ds.name}: test {pct(test)} %, val {pct(val)} % over {args.seeds} seeds")
    summary = {"dataset": ds.name, "K": args.K, "precompute_seconds": t_pre, "test_acc": test, "val_acc": val,
               "runs": runs}
    save_summary(args.out, summary)
    return summary


def main(argv=None):
    return run(parse(argv, ARXIV_DEFAULTS, __doc__.split("\n")[0]))


if __name__ == "__main__":
    sys.exit(run_main(main))
