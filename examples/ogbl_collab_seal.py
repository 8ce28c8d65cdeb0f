"""SEAL on ogbl-collab with the SEAL-OGB recipe (Hits@50, OGB's Evaluator).

Zhang & Chen, "Link Prediction Based on Graph Neural Networks" (NeurIPS 2018);
recipe of the authors' SEAL_OGB code: 1-hop enclosing subgraphs, DGCNN with
256 hidden channels, 15% of the training links per epoch, validation edges
added to the observed graph at test time (OGB's collab rule), lr 1e-4,
batch 32, 50 epochs; the test Hits@50 at the epoch of best validation Hits@50.
Published: 64.74 +- 0.43 (test), 10 runs.

Usage::

    SCALEGNN_DATA=/path/to/data python examples/ogbl_collab_seal.py --runs 10 --out runs/collab
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import torch

from scalegnn.train import save_summary
from scalegnn.train.entrypoint import ArgumentParser, nonnegative_int, positive_float, positive_int, run_main

from scalegnn.data import load_dataset
from scalegnn.linkpred.recipe import SEALConfig, run_ogbl

PUBLISHED = "64.74 +- 0.43"


def main(argv: Optional[List[str]] = None) -> dict:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="ogbl-collab", help="an ogbl dataset with collab's layout")
    p.add_argument("--root", default=None, help="data root (default $SCALEGNN_DATA)")
    p.add_argument("--num-hops", type=positive_int, default=1)
    p.add_argument("--hidden-channels", type=positive_int, default=256)
    p.add_argument("--train-percent", type=positive_float, default=15.0)
    p.add_argument("--val-percent", type=positive_float, default=100.0)
    p.add_argument("--test-percent", type=positive_float, default=100.0)
    p.add_argument("--epochs", type=positive_int, default=50)
    p.add_argument("--lr", type=positive_float, default=1e-4)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--eval-steps", type=positive_int, default=1)
    p.add_argument("--runs", type=positive_int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=nonnegative_int, default=0)
    p.add_argument("--metric", default="hits@50")
    p.add_argument("--no-valedges-as-input", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace the runs in OUT")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)

    ds = load_dataset(args.dataset, root=args.root)
    cfg = SEALConfig(num_hops=args.num_hops, hidden_channels=args.hidden_channels, lr=args.lr, epochs=args.epochs,
                     batch_size=args.batch_size, metrics=(args.metric,), monitor=f"val_{args.metric}",
                     eval_every=args.eval_steps, use_features=False, precompute=False,
                     num_workers=args.num_workers, seed=args.seed)
    summary = run_ogbl(ds, cfg, runs=args.runs, train_percent=args.train_percent, val_percent=args.val_percent,
                       test_percent=args.test_percent, use_valedges_as_input=not args.no_valedges_as_input,
                       out_dir=args.out, progress=args.progress, overwrite=args.overwrite)
    s = summary[f"test_{args.metric}"]
    print(f"{args.dataset}: test {args.metric} {100 * s['mean']:.2f} +- {100 * s['std']:.2f} over {s['runs']} run(s)"
          f" (published {PUBLISHED})")
    save_summary(args.out, summary)
    return summary


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(run_main(main))
