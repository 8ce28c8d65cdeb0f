"""RevGNN on ogbn-proteins (Li et al., "Training Graph Neural Networks with 1000 Layers", ICML 2021).

The paper's recipe for RevGNN-Deep / RevGNN-Wide:

* 1001 reversible layers x 80 channels (Deep) or 448 x 224 (Wide), 2 groups;
* GENConv inner layers (softmax aggregation with a learnable temperature) on
  the 8-dim edge features, encoded by a linear layer and split by group;
  node features initialized by aggregating the incident edge features;
* LayerNorm, dropout 0.1 with one mask shared by all layers;
* mini-batches: every epoch, a fresh random partition of the nodes into 10
  parts, each part's induced subgraph one batch;
* multi-view inference: predictions averaged over several random partitions.

Paper test ROC-AUC: RevGNN-Deep 87.74 +- 0.13, RevGNN-Wide 88.24 +- 0.15 (real
data, a GPU and days of training). The evaluation is OGB's ``rocauc`` over the
112 binary tasks.

Without the real data, ``--synthetic`` trains on a random graph of the same
shape (8-dim edge features, 112 binary tasks whose labels depend on the edge
features of a node's neighbourhood), scaled down by ``--scale``; unless given,
a synthetic run uses 8 layers x 32 channels and 3 epochs (a few minutes on a
CPU). The numbers it prints say nothing about the paper's.

Usage::

    python examples/ogbn_proteins_revgnn.py --synthetic --out runs/proteins_synthetic
    SCALEGNN_DATA=/data python examples/ogbn_proteins_revgnn.py --layers 1001 --hidden 80 --device cuda
    SCALEGNN_DATA=/data python examples/ogbn_proteins_revgnn.py --layers 448 --hidden 224 --device cuda
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict

import torch
from torch_geometric.data import Data
from torch_geometric.utils import scatter, to_undirected

from scalegnn.data import DatasetNotFoundError, load_dataset
from scalegnn.data.loaded import LoadedDataset
from scalegnn.nn.rev_gnn import RevGNN
from scalegnn.sampling import RandomPartitionLoader, predict_random_partitions
from scalegnn.train import MiniBatchNodeTask, Trainer, check_out_dir, save_summary, seed_everything
from scalegnn.train.entrypoint import (ArgumentParser, fraction, nonnegative_int, positive_float, positive_int,
                                       run_main)

NUM_NODES, NUM_EDGES, NUM_TASKS, EDGE_DIM = 132_534, 79_122_504, 112, 8
PAPER = {"RevGNN-Deep (1001 x 80)": 87.74, "RevGNN-Wide (448 x 224)": 88.24}


def synthetic_proteins(scale: float, avg_degree: int, seed: int) -> LoadedDataset:
    """A graph shaped like ogbn-proteins: undirected, 8-dim edge features in [0, 1], 112 binary tasks.

    Each task is a random linear read-out of a node's standardized mean
    incident edge features plus unit noise, thresholded at its median, so the
    labels are learnable from the edge features and the graph.
    """
    from ogb.nodeproppred import Evaluator

    g = torch.Generator().manual_seed(seed)
    n = max(int(NUM_NODES * scale), 100)
    m = n * avg_degree // 2
    src = torch.randint(0, n, (m,), generator=g)
    dst = torch.randint(0, n, (m,), generator=g)
    keep = src != dst
    attr = torch.rand(int(keep.sum()), EDGE_DIM, generator=g) ** 3  # skewed towards 0, like the real scores
    edge_index, edge_attr = to_undirected(torch.stack([src[keep], dst[keep]]), attr, num_nodes=n)
    node_mean = scatter(edge_attr, edge_index[1], dim=0, dim_size=n, reduce="mean")
    signal = (node_mean - node_mean.mean(0)) / node_mean.std(0).clamp_min(1e-6)
    logits = signal @ torch.randn(EDGE_DIM, NUM_TASKS, generator=g) + torch.randn(n, NUM_TASKS, generator=g)
    y = (logits > logits.median(dim=0).values).long()
    perm = torch.randperm(n, generator=g)
    a, b = int(0.65 * n), int(0.81 * n)  # about the real split's proportions
    split = {"train": perm[:a], "valid": perm[a:b], "test": perm[b:]}
    data = Data(edge_index=edge_index, edge_attr=edge_attr, y=y, num_nodes=n)
    return LoadedDataset(name="synthetic-ogbn-proteins", task="node", split=split, num_features=EDGE_DIM,
                         num_classes=NUM_TASKS, metric="rocauc", data=data, evaluator=Evaluator("ogbn-proteins"),
                         info={"synthetic": True})


def prepare(ds: LoadedDataset, node_aggr: str) -> Data:
    """Node features = aggregated incident edge features; ``train_mask`` for the mini-batch loss."""
    data = ds.data
    if data.edge_attr is None or data.edge_attr.size(-1) != EDGE_DIM:
        raise ValueError(f"{ds.name} needs {EDGE_DIM}-dim edge features (edge_attr)")
    x = scatter(data.edge_attr, data.edge_index[1], dim=0, dim_size=data.num_nodes, reduce=node_aggr)
    train_mask = torch.zeros(data.num_nodes, dtype=torch.bool)
    train_mask[ds.split["train"]] = True
    return Data(x=x, edge_index=data.edge_index, edge_attr=data.edge_attr, y=data.y, train_mask=train_mask,
                num_nodes=data.num_nodes)


# added to the one-line error when the real data are absent
HINTS = {DatasetNotFoundError: "or run with --synthetic on a same-shape generated graph"}


def main(argv=None) -> Dict[str, Any]:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=None, help="data root (default $SCALEGNN_DATA)")
    p.add_argument("--synthetic", action="store_true", help="train on a synthetic graph of the same shape")
    p.add_argument("--scale", type=positive_float, default=0.01, help="synthetic: fraction of ogbn-proteins' node count")
    p.add_argument("--avg-degree", type=positive_int, default=20, help="synthetic: average degree (the real one is ~600)")
    p.add_argument("--layers", type=positive_int, default=None, help="reversible layers (paper 1001; synthetic default 8)")
    p.add_argument("--hidden", type=positive_int, default=None, help="channels (paper 80; synthetic default 32)")
    p.add_argument("--groups", type=positive_int, default=2)
    p.add_argument("--dropout", type=fraction, default=0.1)
    p.add_argument("--lr", type=positive_float, default=0.001)
    p.add_argument("--epochs", type=positive_int, default=None, help="(paper-scale default 2000; synthetic default 3)")
    p.add_argument("--train-parts", type=positive_int, default=10, help="random parts per training epoch")
    p.add_argument("--eval-parts", type=positive_int, default=5, help="random parts per inference view")
    p.add_argument("--views", type=positive_int, default=5, help="random partitions averaged at inference")
    p.add_argument("--eval-every", type=positive_int, default=None, help="(default: every epoch on synthetic, else 50)")
    p.add_argument("--node-aggr", default="mean", choices=["mean", "sum"], help="edge-to-node feature aggregation")
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

    small = {"layers": 8, "hidden": 32, "epochs": 3, "eval_every": 1}
    paper = {"layers": 1001, "hidden": 80, "epochs": 2000, "eval_every": 50}
    chosen = small if args.synthetic else paper
    for key, value in chosen.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    seed_everything(args.seed)
    if args.synthetic:
        ds = synthetic_proteins(args.scale, args.avg_degree, args.seed)
    else:
        ds = load_dataset("ogbn-proteins", args.root)
    data = prepare(ds, args.node_aggr).to(args.device)
    print(f"{ds.name}: {data.num_nodes:,} nodes, {data.num_edges:,} edges; RevGNN {args.layers} x {args.hidden} "
          f"({args.groups} groups, GENConv), {args.epochs} epochs on {args.device}")

    model = RevGNN(EDGE_DIM, args.hidden, NUM_TASKS, args.layers, num_groups=args.groups, conv="gen",
                   dropout=args.dropout, norm="layer", weight_tying=args.weight_tying,
                   memory_saving=not args.no_memory_saving, edge_dim=EDGE_DIM).to(args.device)
    loader = RandomPartitionLoader(data, args.train_parts, seed=args.seed)

    def multi_view(model: torch.nn.Module, full: Data) -> torch.Tensor:
        return predict_random_partitions(lambda b: torch.sigmoid(model(b.x, b.edge_index, b.edge_attr)),
                                         full, args.eval_parts, args.views, seed=args.seed + 1)

    task = MiniBatchNodeTask(loader, data, ds.split, metric="rocauc", evaluator=ds.evaluator, forward=multi_view,
                             batch_forward=lambda m, b: m(b.x, b.edge_index, b.edge_attr))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    result = Trainer(model, optimizer, task, epochs=args.epochs, out_dir=args.out, monitor="val_rocauc",
                     eval_every=args.eval_every, resume=args.resume, overwrite=args.overwrite,
                     config={"command": "examples/ogbn_proteins_revgnn.py", "args": config},
                     title=f"RevGNN {args.layers} x {args.hidden} on {ds.name}").fit()
    seconds = time.perf_counter() - t0
    if result.already_finished:
        print(f"{args.out}: this run had already finished (epoch {result.history[-1]['epoch']}); nothing was "
              f"trained or changed")
    test = result.best.get("test_rocauc", float("nan"))
    print(f"best epoch {result.best_epoch}: val ROC-AUC {100 * result.best.get('val_rocauc', float('nan')):.2f}, "
          f"test ROC-AUC {100 * test:.2f} ({seconds:.0f}s)")
    if not args.synthetic:
        print("paper (test ROC-AUC): " + ", ".join(f"{k} {v}" for k, v in PAPER.items()))
    summary = {"dataset": ds.name, "layers": args.layers, "hidden": args.hidden, "groups": args.groups,
               "best_epoch": result.best_epoch, "best": result.best, "seconds": seconds}
    if not result.already_finished:
        save_summary(args.out, summary)
    return summary


if __name__ == "__main__":
    sys.exit(run_main(main, hints=HINTS))
