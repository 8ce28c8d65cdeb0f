"""Unsupervised node clustering with sparse minCUT pooling (Cora, CiteSeer).

Bianchi, Grattarola and Alippi, "Spectral Clustering with Graph Neural Networks
for Graph Pooling", ICML 2020, clustering experiment: a GNN maps node features
to soft cluster assignments ``S`` (one cluster per class) and is trained *only*
on the minCUT + orthogonality losses of the whole graph (no labels); the hard
clusters ``argmax S`` are scored by NMI against the classes.

Network: GCS message passing (``A_hat X W + X V``, ``A_hat = D^-1/2 A D^-1/2``,
16 units) then ``MinCutPool``'s MLP (16 hidden units) to ``K`` clusters, on the
sparse graph: scalegnn's sparse path never builds the ``N x N`` adjacency.

Training goes through :class:`scalegnn.train.Trainer` with an unsupervised
task: ``train_epoch`` is one full-graph step on the two losses,
``evaluate`` reports the losses and the NMI (``monitor="loss"``, mode min, so
the model kept is the one with the lowest unsupervised loss, never selected on
labels).

Usage::

    SCALEGNN_DATA=/path/to/data python examples/mincut_clustering.py --dataset Cora CiteSeer

Paper NMI: Cora ~0.40, CiteSeer ~0.25 (approximate; the paper reports mean over runs).
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from sklearn.metrics import normalized_mutual_info_score
from torch import Tensor
from torch_geometric.nn import GraphConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from scalegnn.data import load_dataset
from scalegnn.nn.mincut_pool import MinCutPool
from scalegnn.train import Trainer, run_dirs, save_summary, seed_everything
from scalegnn.train.entrypoint import ArgumentParser, nonnegative_int, positive_float, positive_int, run_main

PAPER_NMI = {"Cora": 0.40, "CiteSeer": 0.25}


class ClusterNet(torch.nn.Module):
    """``GCS(hidden) - MinCutPool(K, MLP hidden)``; ``forward`` gives the pooling output."""

    def __init__(self, in_channels: int, num_clusters: int, hidden: int = 16, mlp_hidden: int = 16) -> None:
        super().__init__()
        self.conv = GraphConv(in_channels, hidden, aggr="add")
        self.pool = MinCutPool(hidden, num_clusters, mlp_hidden=(mlp_hidden,) if mlp_hidden else ())

    def embed(self, x: Tensor, edge_index: Tensor) -> Tensor:
        ei, w = gcn_norm(edge_index, None, x.size(0), add_self_loops=False)
        return F.elu(self.conv(x, ei, w))

    def forward(self, x: Tensor, edge_index: Tensor):
        return self.pool(self.embed(x, edge_index), edge_index)

    @torch.no_grad()
    def clusters(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.pool.assign(self.embed(x, edge_index)).argmax(-1)


class ClusteringTask:
    """Unsupervised Trainer task: full-graph minCUT + orthogonality loss; NMI only reported."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        model.train()
        optimizer.zero_grad()
        out = model(self.data.x, self.data.edge_index)
        loss = out.mincut_loss + out.ortho_loss
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, float]:
        model.eval()
        out = model(self.data.x, self.data.edge_index)
        pred = model.clusters(self.data.x, self.data.edge_index)
        nmi = normalized_mutual_info_score(self.data.y.cpu().numpy(), pred.cpu().numpy())
        return {"loss": float(out.mincut_loss + out.ortho_loss), "mincut_loss": float(out.mincut_loss),
                "ortho_loss": float(out.ortho_loss), "nmi": float(nmi),
                "clusters_used": float(torch.unique(pred).numel())}


def run(
    dataset: str = "Cora",
    runs: int = 3,
    epochs: int = 2000,
    lr: float = 5e-4,
    hidden: int = 16,
    seed: int = 0,
    root: Optional[str] = None,
    eval_every: int = 50,
    verbose: bool = True,
    out_dir: Optional[str] = None,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """``runs`` seeds of the clustering protocol on ``dataset``; NMI of the lowest-loss model of each.

    With ``out_dir``, run ``r`` is a Trainer run directory ``out_dir/run<r>``.
    When ``verbose``, a progress bar per run and a line per finished run.
    """
    out_dirs = run_dirs(out_dir, [f"run{r}" for r in range(runs)], overwrite=overwrite)
    ds = load_dataset(dataset, root, download=False)
    data = ds.data
    k = ds.num_classes
    nmis, losses = [], []
    for r in range(runs):
        seed_everything(seed + r)
        model = ClusterNet(ds.num_features, k, hidden)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        trainer = Trainer(model, opt, ClusteringTask(data), epochs=epochs, monitor="loss", mode="min",
                          eval_every=eval_every, progress=f"{dataset} run {r + 1}/{runs}" if verbose else False,
                          out_dir=out_dirs[f"run{r}"], overwrite=overwrite,
                          title=f"minCUT clustering on {dataset}, run {r + 1}")
        res = trainer.fit()  # restores the lowest-loss weights
        nmis.append(res.best["nmi"])
        losses.append(res.best["loss"])
        if verbose:
            print(f"[{dataset}] run {r + 1}/{runs}: NMI {res.best['nmi']:.3f} (minCUT {res.best['mincut_loss']:.3f}, "
                  f"ortho {res.best['ortho_loss']:.3f}, {int(res.best['clusters_used'])}/{k} clusters used, "
                  f"epoch {res.best_epoch})", flush=True)
    return {"dataset": dataset, "runs": runs, "nmi": nmis, "mean": statistics.fmean(nmis),
            "std": statistics.pstdev(nmis) if runs > 1 else 0.0, "loss": losses,
            "settings": {"epochs": epochs, "lr": lr, "hidden": hidden, "clusters": k}}


def main(argv: Optional[List[str]] = None) -> int:
    p = ArgumentParser(description="unsupervised minCUT clustering, NMI against the labels")
    p.add_argument("--dataset", nargs="+", default=["Cora", "CiteSeer"])
    p.add_argument("--runs", type=positive_int, default=3)
    p.add_argument("--epochs", type=positive_int, default=2000)
    p.add_argument("--lr", type=positive_float, default=5e-4)
    p.add_argument("--hidden", type=positive_int, default=16)
    p.add_argument("--eval-every", type=positive_int, default=50, help="epochs between evaluations (NMI)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--root", default=None, help="data root (default $SCALEGNN_DATA)")
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--out", default=None, help="run directories OUT/<dataset>/run<r>/ and OUT/summary.json")
    p.add_argument("--overwrite", action="store_true", help="replace the runs already in OUT")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from scalegnn.data import DatasetNotFoundError

    results = []
    for name in args.dataset:
        try:
            res = run(name, args.runs, args.epochs, args.lr, args.hidden, args.seed, args.root, args.eval_every,
                      out_dir=str(Path(args.out) / name) if args.out else None, overwrite=args.overwrite)
        except DatasetNotFoundError as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            continue
        ref = f" (paper ~{PAPER_NMI[name]:.2f})" if name in PAPER_NMI else ""
        print(f"{name}: NMI {res['mean']:.3f} +- {res['std']:.3f} over {res['runs']} runs{ref}", flush=True)
        results.append(res)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    save_summary(args.out, {"results": results})
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
