"""SEAL on Planetoid citation graphs with a random 85/5/10 link split (AUC), as PyG's SEAL example.

Zhang & Chen, "Link Prediction Based on Graph Neural Networks" (NeurIPS 2018).
Protocol of PyG's ``examples/seal_link_pred.py``: validation and test edges
removed from the observed graph for training and validation (test pairs see the
training and validation edges, as PyG's ``RandomLinkSplit`` test split does),
one negative per positive, DGCNN (3 GCN
layers of 32 channels, sort pooling at the 60% subgraph-size quantile) on
``[one-hot DRNL || node features]``, Adam, batch 32; the test AUC at the epoch
of best validation AUC. PyG's example reports 0.9332 +- 0.0016 on Cora.

Usage::

    SCALEGNN_DATA=/path/to/data python examples/seal_planetoid.py --dataset Cora
    python examples/seal_planetoid.py --dataset CiteSeer --num-hops 1 --runs 3 --out runs/seal_citeseer
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import List, Optional

import torch

from scalegnn.train import save_summary
from scalegnn.train.entrypoint import ArgumentParser, nonnegative_int, positive_float, positive_int, run_main

from scalegnn.data import load_dataset
from scalegnn.linkpred import SEALConfig, random_link_split, train_seal
from scalegnn.train import summarize


def main(argv: Optional[List[str]] = None) -> dict:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="Cora", choices=["Cora", "CiteSeer", "PubMed"])
    p.add_argument("--root", default=None, help="data root (default $SCALEGNN_DATA)")
    p.add_argument("--num-hops", type=positive_int, default=2)
    p.add_argument("--max-nodes-per-hop", type=positive_int, default=None)
    p.add_argument("--epochs", type=positive_int, default=50)
    p.add_argument("--lr", type=positive_float, default=1e-4)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--model", default="dgcnn", choices=["dgcnn", "gcn", "gin"])
    p.add_argument("--conv", default="gcn", choices=["gcn", "gin", "sage"],
                   help="DGCNN's graph convolution (default gcn, as the paper)")
    p.add_argument("--hidden-channels", type=positive_int, default=32)
    p.add_argument("--num-layers", type=positive_int, default=3)
    p.add_argument("--sort-k", type=positive_float, default=0.6,
                   help="DGCNN's sort-pooling size: an integer >= 1, or a fraction of the training subgraph sizes")
    p.add_argument("--runs", type=positive_int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=nonnegative_int, default=0)
    p.add_argument("--no-features", action="store_true", help="DRNL labels only")
    p.add_argument("--no-valedges-as-input", action="store_true",
                   help="test subgraphs from the training edges only (default: training + validation edges, "
                        "as PyG's RandomLinkSplit gives its test split)")
    p.add_argument("--train-both-directions", action="store_true",
                   help="each training edge is a positive as (u, v) and (v, u), with as many negatives: the "
                        "training set of the first version of PyG's example (PR #1392), which reported 0.9332")
    p.add_argument("--out", type=Path, default=None, help="run directory (metrics.jsonl, checkpoints)")
    p.add_argument("--overwrite", action="store_true", help="replace the runs in OUT")
    p.add_argument("--resume", action="store_true",
                   help="continue the runs in OUT from their checkpoints up to --epochs (extends finished runs)")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)

    ds = load_dataset(args.dataset, root=args.root)
    results = []
    for run in range(args.runs):
        seed = args.seed + run
        split = random_link_split(ds.data, val=0.05, test=0.10, seed=seed,
                                  valedges_as_test_input=not args.no_valedges_as_input,
                                  train_both_directions=args.train_both_directions)
        cfg = SEALConfig(num_hops=args.num_hops, max_nodes_per_hop=args.max_nodes_per_hop, model=args.model,
                         conv=args.conv, hidden_channels=args.hidden_channels, num_layers=args.num_layers,
                         sort_k=args.sort_k,
                         lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, monitor="val_auc",
                         use_features=not args.no_features, num_workers=args.num_workers, seed=seed)
        start = time.perf_counter()
        out_dir = args.out / f"run{run}" if args.out is not None else None
        res = train_seal(split, cfg, x=ds.data.x, out_dir=out_dir, progress=args.progress, overwrite=args.overwrite,
                         resume=args.resume)
        res["seconds"] = time.perf_counter() - start
        results.append(res)
        print(f"run {run}: test AUC {res['test_auc']:.4f} (AP {res['test_ap']:.4f}) at epoch {res['best_epoch']}, "
              f"val AUC {res['val_auc']:.4f}, {res['seconds']:.0f} s", flush=True)
    summary = {"dataset": args.dataset, "test_auc": summarize(results, "test_auc"),
               "test_ap": summarize(results, "test_ap"), "runs": [
                   {k: v for k, v in r.items() if k != "config"} for r in results], "config": results[0]["config"]}
    s = summary["test_auc"]
    print(f"{args.dataset}: test AUC {s['mean']:.4f} +- {s['std']:.4f} over {len(results)} run(s)")
    save_summary(args.out, summary)
    return summary


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(run_main(main))
