"""One SEAL training run on a :class:`~scalegnn.linkpred.split.LinkSplit`: datasets, model, task, ``Trainer``.

Every SEAL example (classic networks, Planetoid, ogbl-collab, ogbl-ddi) is
this function with a different :class:`SEALConfig`; the loop itself is the
shared :class:`scalegnn.train.Trainer` driving a
:class:`~scalegnn.linkpred.task.LinkPredictionTask`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import Tensor

from scalegnn.linkpred.dataset import SEALLoader, seal_datasets
from scalegnn.linkpred.dgcnn import DGCNN, sort_pool_k
from scalegnn.linkpred.node_input import SEALNodeEncoder
from scalegnn.linkpred.seal_gnn import SEALGNN
from scalegnn.linkpred.split import LinkSplit
from scalegnn.linkpred.task import LinkPredictionTask
from scalegnn.train import Trainer, seed_everything

__all__ = ["SEALConfig", "train_seal", "build_model", "run_ogbl"]


@dataclass
class SEALConfig:
    """Hyper-parameters of one SEAL run (defaults: the paper's DGCNN recipe)."""

    num_hops: int = 1
    max_nodes_per_hop: Optional[int] = None
    ratio_per_hop: float = 1.0
    model: str = "dgcnn"  # "dgcnn", "gcn", "gin"
    conv: str = "gcn"  # DGCNN's graph convolution: "gcn" (the paper), "gin" or "sage"
    hidden_channels: int = 32
    num_layers: int = 3
    sort_k: float = 0.6  # DGCNN: an int, or a fraction of training subgraph sizes
    label_mode: str = "onehot"
    max_z: Optional[int] = None  # None: the largest DRNL label of the training subgraphs + 1
    use_features: bool = True
    node_embedding_dim: int = 0
    dropout: float = 0.5
    lr: float = 1e-4
    epochs: int = 50
    batch_size: int = 32
    eval_batch_size: int = 128
    num_workers: int = 0
    precompute: bool = True
    metrics: Sequence[str] = ("auc", "ap")
    monitor: Optional[str] = None  # None: test at the last epoch (no validation), else e.g. "val_auc"
    eval_every: int = 1
    seed: int = 0


def build_model(cfg: SEALConfig, num_features: int, num_nodes: int, max_z: int, k: int) -> torch.nn.Module:
    """The DGCNN (with ``cfg.conv`` layers) / GCN / GIN model of ``cfg`` on ``[DRNL || features || node embedding]``."""
    encoder = SEALNodeEncoder(max_z=max_z, label_mode=cfg.label_mode, num_features=num_features,
                              num_nodes=num_nodes, node_embedding_dim=cfg.node_embedding_dim)
    if cfg.model == "dgcnn":
        return DGCNN(encoder, cfg.hidden_channels, cfg.num_layers, k=k, conv=cfg.conv, dropout=cfg.dropout)
    if cfg.conv != "gcn":
        raise ValueError(f"conv={cfg.conv!r} applies to model='dgcnn' only; model={cfg.model!r} names its own "
                         "convolution")
    if cfg.model in ("gcn", "gin"):
        return SEALGNN(encoder, cfg.hidden_channels, cfg.num_layers, conv=cfg.model,
                       pooling="target" if cfg.model == "gcn" else "sum", dropout=cfg.dropout)
    raise ValueError(f"model must be 'dgcnn', 'gcn' or 'gin', got {cfg.model!r}")


def train_seal(split: LinkSplit, cfg: SEALConfig, *, x: Optional[Tensor] = None, evaluator: Any = None,
               out_dir: Optional[Union[str, Path]] = None, progress: bool = False,
               overwrite: bool = False, resume: bool = False) -> Dict[str, Any]:
    """Train SEAL on ``split`` and return the reported metrics (``overwrite`` replaces a run in ``out_dir``).

    ``resume`` continues the run in ``out_dir`` from its checkpoint, up to
    ``cfg.epochs`` (so a finished run is extended by asking for more epochs);
    the training loader's shuffling generator is replayed over the finished
    epochs, so a resumed run trains on the same batches, and ends with the same
    weights, as one that never stopped (with ``cfg.num_workers=0``; worker
    processes draw their seeds differently).

    With ``cfg.monitor=None`` (the classic networks' protocol: 90/10 split, no
    validation) the test metrics of the last epoch are reported and only the
    last epoch is evaluated; otherwise the epoch with the best ``cfg.monitor``
    is restored and its metrics reported.
    """
    seed_everything(cfg.seed)
    feats = x if (cfg.use_features and x is not None) else None
    eval_splits = ["test"] if cfg.monitor is None else ["valid", "test"]
    ds = seal_datasets(split, cfg.num_hops, cfg.max_nodes_per_hop, cfg.ratio_per_hop, x=feats,
                       precompute=cfg.precompute, splits=["train", *eval_splits], progress=progress)
    sizes = ds["train"].subgraph_sizes(limit=None if cfg.precompute else 1000, seed=cfg.seed)
    k = int(cfg.sort_k) if cfg.sort_k >= 1 else sort_pool_k(sizes, cfg.sort_k)
    max_z = cfg.max_z
    if max_z is None:
        if ds["train"].store is not None:
            max_z = int(ds["train"].store["z"].max()) + 1
        else:
            max_z = int(ds["train"].__getitems__(list(range(min(len(ds["train"]), 2000)))).z.max()) + 1
        max_z = max(max_z, 2)
    model = build_model(cfg, feats.size(1) if feats is not None else 0, split.num_nodes, max_z, k)
    g = torch.Generator().manual_seed(cfg.seed)
    loader_kw = {"num_workers": cfg.num_workers, "persistent_workers": cfg.num_workers > 0}
    train_loader = SEALLoader(ds["train"], cfg.batch_size, shuffle=True, generator=g, **loader_kw)
    eval_loaders = {name: SEALLoader(ds[name], cfg.eval_batch_size, **loader_kw) for name in eval_splits}
    task = LinkPredictionTask(train_loader, eval_loaders, cfg.metrics, evaluator=evaluator, progress=progress)
    if resume:
        task.skip_epochs(_epochs_done(out_dir))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if cfg.monitor is None:
        monitor, eval_every = f"test_{cfg.metrics[0]}", cfg.epochs  # evaluated once, at the end
    else:
        monitor, eval_every = cfg.monitor, cfg.eval_every
    result = Trainer(model, optimizer, task, epochs=cfg.epochs, out_dir=out_dir, monitor=monitor,
                     eval_every=eval_every, progress=progress, overwrite=overwrite, resume=resume).fit()
    return {**result.best, "best_epoch": result.best_epoch, "k": k, "max_z": max_z,
            "config": asdict(cfg)}


def _epochs_done(out_dir: Optional[Union[str, Path]]) -> int:
    """Epochs recorded in ``out_dir``'s checkpoint (0 without one: the Trainer reports it)."""
    from scalegnn.train.checkpoint import load_checkpoint
    from scalegnn.train.trainer import CHECKPOINT_NAME

    if out_dir is None:
        raise ValueError("resume=True needs out_dir (where the checkpoint lives)")
    path = Path(out_dir) / CHECKPOINT_NAME
    return int(load_checkpoint(path)["epoch"]) if path.is_file() else 0


def run_ogbl(dataset: Any, cfg: SEALConfig, *, runs: int = 1, train_percent: float = 100.0,
             val_percent: float = 100.0, test_percent: float = 100.0, use_valedges_as_input: bool = False,
             out_dir: Optional[Union[str, Path]] = None, progress: bool = False,
             overwrite: bool = False) -> Dict[str, Any]:
    """SEAL on an ``ogbl-*`` :class:`~scalegnn.data.LoadedDataset`, ``runs`` seeds, scored by OGB's Evaluator.

    Returns ``{"runs": [...], "<split>_<metric>": summary}`` with each metric's
    mean/std over runs (test at the epoch of best ``cfg.monitor``).
    """
    from dataclasses import replace

    from scalegnn.linkpred.split import ogb_link_split
    from scalegnn.train import summarize

    results = []
    for run in range(runs):
        seed = cfg.seed + run
        split = ogb_link_split(dataset, use_valedges_as_input=use_valedges_as_input, train_percent=train_percent,
                               val_percent=val_percent, test_percent=test_percent, seed=seed)
        run_dir = Path(out_dir) / f"run{run}" if out_dir is not None else None
        res = train_seal(split, replace(cfg, seed=seed), x=getattr(dataset.data, "x", None),
                         evaluator=dataset.evaluator, out_dir=run_dir, progress=progress, overwrite=overwrite)
        results.append(res)
    summary: Dict[str, Any] = {"runs": [{k: v for k, v in r.items() if k != "config"} for r in results],
                               "config": results[0]["config"]}
    for key in results[0]:
        if key.startswith(("val_", "test_")):
            summary[key] = summarize(results, key)
    return summary
