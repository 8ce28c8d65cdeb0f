"""SEAL on ogbl-ddi with the SEAL-OGB recipe (Hits@20, OGB's Evaluator).

Zhang & Chen, "Link Prediction Based on Graph Neural Networks" (NeurIPS 2018);
recipe of the authors' SEAL_OGB code: 1-hop enclosing subgraphs keeping 20%
of each hop's new nodes (``ratio_per_hop=0.2``; ddi is dense), DGCNN on DRNL
labels only (ddi has no node features), 5% of the training links per epoch,
extraction on the fly, lr 1e-4, batch 32, 10 epochs evaluated after each;
the test Hits@20 at the epoch of best validation Hits@20.
Published: 30.56 +- 3.86 (test), 10 runs. SEAL-OGB also passes edge weights
(all ones on ddi) to its GCN layers; with unit weights that changes nothing.

Usage::

    SCALEGNN_DATA=/path/to/data python examples/ogbl_ddi_seal.py --runs 10 --num-workers 2 --out runs/ddi
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

PUBLISHED = "30.56 +- 3.86"


def main(argv: Optional[List[str]] = None) -> dict:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="ogbl-ddi", help="an ogbl dataset with ddi's layout")
    p.add_argument("--root", default=None, help="data root (default $SCALEGNN_DATA)")
    p.add_argument("--num-hops", type=positive_int, default=1)
    p.add_argument("--ratio-per-hop", type=positive_float, default=0.2)
    p.add_argument("--hidden-channels", type=positive_int, default=32)
    p.add_argument("--train-percent", type=positive_float, default=5.0)
    p.add_argument("--val-percent", type=positive_float, default=100.0)
    p.add_argument("--test-percent", type=positive_float, default=100.0)
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument("--lr", type=positive_float, default=1e-4)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--runs", type=positive_int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=nonnegative_int, default=0)
    p.add_argument("--metric", default="hits@20")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace the runs in OUT")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)

    ds = load_dataset(args.dataset, root=args.root)
    cfg = SEALConfig(num_hops=args.num_hops, ratio_per_hop=args.ratio_per_hop, hidden_channels=args.hidden_channels,
                     lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, metrics=(args.metric,),
                     monitor=f"val_{args.metric}", use_features=False, precompute=False,
                     num_workers=args.num_workers, seed=args.seed)
    summary = run_ogbl(ds, cfg, runs=args.runs, train_percent=args.train_percent, val_percent=args.val_percent,
                       test_percent=args.test_percent, out_dir=args.out, progress=args.progress, overwrite=args.overwrite)
    s = summary[f"test_{args.metric}"]
    print(f"{args.dataset}: test {args.metric} {100 * s['mean']:.2f} +- {100 * s['std']:.2f} over {s['runs']} run(s)"
          f" (published {PUBLISHED})")
    save_summary(args.out, summary)
    return summary


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(run_main(main))
