"""Train a 2-layer GCN with minimal-variance sampling and historical embeddings (MVS-GNN).

Cong, Forsati, Kandemir and Mahdavi, "Minimal Variance Sampling with Provable
Guarantees for Fast Training of Graph Neural Networks" (KDD 2020). One job on
the shared ``Trainer``: ``--out DIR`` writes ``metrics.jsonl``, checkpoints and
(with ``--plot``) ``curves.png``.

Datasets:

* ``CiteSeer`` (public Planetoid split, accuracy);
* ``BlogCatalog`` (``SEAL/BlogCatalog.mat``: 10,312 nodes, 39 labels per node,
  micro-F1). The file has no node features and scalegnn's loader exposes it as
  a link-prediction network, so this script builds the node task itself: 64
  spectral features (the leading eigenvectors of :math:`D^{-1/2} A D^{-1/2}`,
  standardized per column) and a seeded random 60/20/20 node split;
* an OGB node dataset (``ogbn-arxiv``, made undirected; OGB's evaluator), or
  with ``--synthetic`` (or ``--dataset synthetic-...``) a synthetic stand-in of
  the same size that runs without any data.

Examples::

    python examples/mvs_gnn.py --dataset CiteSeer --root ../shared/data
    python examples/mvs_gnn.py --dataset BlogCatalog --root ../shared/data --batch-size 256
    python examples/mvs_gnn.py --dataset ogbn-arxiv --synthetic --epochs 3 --batch-size 1024
    python examples/mvs_gnn.py --dataset CiteSeer --sampler uniform --no-history   # the baseline
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np
import torch

__all__ = ["NodeTaskData", "load_node_task", "blogcatalog_node_task"]

OGB_STANDIN = {"ogbn-arxiv": "synthetic-169343-2.3M", "ogbn-products": "synthetic-2.4M-124M"}


@dataclass
class NodeTaskData:
    """A node-classification graph with its split, metric and (OGB) evaluator."""

    name: str
    data: Any
    split: Dict[str, torch.Tensor]
    num_classes: int
    metric: str
    evaluator: Optional[Any] = None


def spectral_features(edge_index: torch.Tensor, num_nodes: int, dim: int = 64) -> torch.Tensor:
    """Leading ``dim`` eigenvectors of :math:`D^{-1/2} A D^{-1/2}`, each standardized (mean 0, std 1)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    row, col = edge_index.numpy()
    a = sp.csr_matrix((np.ones(row.size), (row, col)), shape=(num_nodes, num_nodes))
    deg = np.asarray(a.sum(1)).ravel()
    dinv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    m = sp.diags(dinv) @ a @ sp.diags(dinv)
    _, vecs = eigsh(m, k=dim, which="LA", v0=np.ones(num_nodes))
    # Unit-norm eigenvectors have entries ~ 1/sqrt(N): standardize each column, or a GCN with default
    # initialization sees almost no input signal (and learns only the label frequencies).
    vecs = (vecs - vecs.mean(0)) / np.maximum(vecs.std(0), 1e-12)
    return torch.from_numpy(vecs.astype(np.float32))


def blogcatalog_node_task(root=None, dim: int = 64, seed: int = 0) -> NodeTaskData:
    """BlogCatalog as multi-label node classification (see the module docstring)."""
    from scalegnn.data import load_dataset
    from scalegnn.data.synthetic import random_node_split

    ds = load_dataset("BlogCatalog", root=root)
    data = ds.data
    if getattr(data, "y", None) is None:
        raise ValueError(f"{ds.info.get('source')}: BlogCatalog.mat has no 'group' labels")
    data.x = spectral_features(data.edge_index, data.num_nodes, dim)
    return NodeTaskData("BlogCatalog", data, random_node_split(data.num_nodes, seed), data.y.size(1), "micro_f1")


def load_node_task(name: str, root=None, synthetic: bool = False) -> NodeTaskData:
    """``CiteSeer``/``Cora``, ``BlogCatalog``, ``ogbn-*`` (``synthetic``: its same-size stand-in), ``synthetic-*``."""
    from torch_geometric.utils import to_undirected

    from scalegnn.data import load_dataset

    if name.lower() == "blogcatalog":
        return blogcatalog_node_task(root)
    if synthetic and name in OGB_STANDIN:
        name = OGB_STANDIN[name]
    ds = load_dataset(name, root=root)
    if ds.task != "node":
        raise ValueError(f"{name} is a {ds.task} dataset; MVS-GNN trains node classifiers")
    data = ds.data
    if name.startswith("ogbn-"):
        data.edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)
        data.y = data.y.view(-1)
    split = {k: (v.nonzero().view(-1) if v.dtype == torch.bool else v) for k, v in ds.split.items()}
    if ds.metric != "acc":
        raise ValueError(f"{name} is scored by {ds.metric}; this example covers accuracy and micro-F1 tasks")
    return NodeTaskData(ds.name, data, split, ds.num_classes, "acc", ds.evaluator)


def main(argv=None) -> Dict[str, float]:
    from torch_geometric.nn.models import GCN

    from scalegnn.sampling import MVSLoader, MVSTask
    from scalegnn.train import Trainer, seed_everything
    from scalegnn.train.entrypoint import ArgumentParser, fraction, nonnegative_float, positive_float, positive_int

    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="CiteSeer")
    p.add_argument("--root", default=None, help="data root (default: SCALEGNN_DATA)")
    p.add_argument("--synthetic", action="store_true", help="OGB names: use the same-size synthetic stand-in")
    p.add_argument("--sampler", choices=["mvs", "uniform"], default="mvs")
    p.add_argument("--no-history", action="store_true", help="no historical embeddings (sample every hop)")
    p.add_argument("--no-score-refresh", action="store_true",
                   help="MVS scores from snapshots only (default: also refresh each batch's seeds from its outputs)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="expected seed nodes per step")
    p.add_argument("--fanout", type=positive_int, default=10)
    p.add_argument("--hidden", type=positive_int, default=64)
    p.add_argument("--dropout", type=fraction, default=0.5)
    p.add_argument("--lr", type=positive_float, default=0.01)
    p.add_argument("--weight-decay", type=nonnegative_float, default=5e-4)
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--snapshot-every", type=positive_int, default=None, help="steps between snapshots (default: an epoch)")
    p.add_argument("--history-device", default="cpu")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads")
    p.add_argument("--out", default=None, help="run directory (metrics.jsonl, checkpoints)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (history is rebuilt)")
    p.add_argument("--overwrite", action="store_true", help="replace the run in OUT")
    p.add_argument("--plot", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    seed_everything(args.seed)
    nt = load_node_task(args.dataset, args.root, args.synthetic or args.dataset.startswith("synthetic-"))
    history = not args.no_history
    loader = MVSLoader(nt.data, nt.split["train"], batch_size=args.batch_size, num_hops=1 if history else 2,
                       fanout=args.fanout, sampler=args.sampler, seed=args.seed)
    task = MVSTask(loader, nt.split, metric=nt.metric, history=history, history_device=args.history_device,
                   snapshot_every=args.snapshot_every, evaluator=nt.evaluator,
                   refresh_scores=not args.no_score_refresh)
    model = GCN(nt.data.num_features, args.hidden, 2, nt.num_classes, normalize=False,
                dropout=args.dropout).to(args.device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    monitor = f"val_{nt.metric}"
    result = Trainer(model, opt, task, epochs=args.epochs, out_dir=args.out, monitor=monitor, plot=args.plot,
                     resume=args.resume, overwrite=args.overwrite, config=vars(args),
                     title=f"GCN ({args.sampler}) on {nt.name}").fit()
    test = result.best.get(f"test_{nt.metric}")
    mem = task.history.memory_bytes() / 2**20 if task.history is not None else 0.0
    print(f"{nt.name}: sampler={args.sampler} history={history} best {monitor}={result.best[monitor]:.4f} "
          f"test_{nt.metric}={test:.4f} (epoch {result.best_epoch}; {task.steps} steps, "
          f"{task.snapshots} snapshots; history {mem:.1f} MiB)")
    return result.best


if __name__ == "__main__":
    from scalegnn.train.entrypoint import run_main

    sys.exit(run_main(main))
