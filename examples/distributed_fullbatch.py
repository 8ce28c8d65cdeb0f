"""Full-batch GCN / GraphSAGE / GAT / GIN across processes, launched by ``torchrun``.

One node, 4 CPU processes (gloo)::

    torchrun --standalone --nproc_per_node=4 examples/distributed_fullbatch.py \\
        --dataset Cora --model gcn --epochs 200 --partition-method hypergraph --out runs/cora-4

Two nodes (the same command on each; NCCL with one process per GPU)::

    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend c10d --rdzv_endpoint=HOST:29500 \\
        --rdzv_id=job1 examples/distributed_fullbatch.py --dataset ogbn-products --partition-method refined-metis ...

Rank 0 partitions the graph (``--partition-method``; or pass ``--partitions DIR``
made earlier) into ``OUT/partitions`` while the others wait, then every rank
reads only its own part and trains; the numbers equal one process's. Rank 0
writes ``OUT/metrics.jsonl`` (with communication statistics per epoch),
checkpoints and the progress bar; ``--resume`` continues every rank from the
last checkpoint, restoring the run's settings from ``OUT/run.json`` (flags given
again must agree with them). Without ``--out`` the partitions are cached under
``$SCALEGNN_CACHE/distributed/``. ``--timeout`` bounds collectives during training;
``--setup-timeout`` how long the ranks wait for rank 0 to partition.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import torch

from scalegnn.train.entrypoint import ArgumentParser, fraction, nonnegative_float, positive_float, positive_int, run_main

ROW_NORMALIZED = {"cora-bundled", "Cora", "CiteSeer", "PubMed"}


def build_parser() -> ArgumentParser:
    from partitioning import METHODS as PARTITION_METHODS
    from partitioning.mtkahypar_backend import PRESETS
    from scalegnn.distributed import DISTRIBUTED_MODELS, TRANSPORTS

    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default=None,
                   help="any node-level name `scalegnn datasets` lists (default: the bundled Cora; with "
                        "--partitions: checked against the directory's dataset)")
    p.add_argument("--root", default=None, help="data root (default: $SCALEGNN_DATA, else ~/.scalegnn/data)")
    p.add_argument("--model", default="gcn", choices=DISTRIBUTED_MODELS)
    p.add_argument("--hidden", type=positive_int, default=16)
    p.add_argument("--layers", type=positive_int, default=2)
    p.add_argument("--heads", type=positive_int, default=8,
                   help="GAT heads in hidden layers (--hidden must be divisible by it)")
    p.add_argument("--dropout", type=fraction, default=0.5)
    p.add_argument("--lr", type=positive_float, default=0.01)
    p.add_argument("--weight-decay", type=nonnegative_float, default=5e-4)
    p.add_argument("--epochs", type=positive_int, default=200)
    p.add_argument("--patience", type=positive_int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--feature-norm", choices=["auto", "row", "none"], default="auto")
    p.add_argument("--partition-method", choices=PARTITION_METHODS, default="hypergraph")
    p.add_argument("--partition-preset", choices=PRESETS, default="deterministic",
                   help="Mt-KaHyPar preset of hypergraph/refined-metis/balanced-volume: deterministic (repeatable) "
                        "or quality (fewer bytes exchanged, slower to partition, not repeatable)")
    p.add_argument("--partitions", default=None, help="an existing partition directory (skips partitioning)")
    p.add_argument("--backend", choices=["gloo", "nccl"], default=None, help="default: nccl on CUDA, else gloo")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    p.add_argument("--transport", choices=TRANSPORTS, default="p2p", help="halo exchange: isend/irecv or all_to_all")
    p.add_argument("--timeout", type=positive_float, default=300.0,
                   help="seconds after which the ranks give up on a dead or hung peer during training")
    p.add_argument("--setup-timeout", type=positive_float, default=24 * 3600.0,
                   help="seconds the ranks wait for rank 0 to partition the graph")
    p.add_argument("--out", default=None, help="run directory (metrics.jsonl, checkpoints, partitions/)")
    p.add_argument("--resume", action="store_true", help="continue every rank from OUT/checkpoint.pt")
    p.add_argument("--overwrite", action="store_true", help="replace the run in OUT")
    p.add_argument("--checkpoint-every", type=positive_int, default=10)
    p.add_argument("--quiet", action="store_true")
    return p


SETTINGS = ("dataset", "model", "hidden", "layers", "heads", "dropout", "lr", "weight_decay", "seed",
            "feature_norm", "partition_method", "partition_preset", "partitions", "transport")


def partition_dir(args, ctx) -> Path:
    if args.partitions:
        return Path(args.partitions)
    if args.out:
        return Path(args.out) / "partitions"
    from scalegnn.data._paths import cache_dir

    return (cache_dir() / "distributed" /
            f"{args.dataset}-{args.partition_method}-{args.partition_preset}-k{ctx.world_size}-s{args.seed}")


def make_partitions(args, ctx, directory: Path) -> None:
    """Rank 0: reuse ``directory`` when it was made for this job, else partition the dataset into it."""
    from partitioning import PartitionFormatError, read_manifest
    from scalegnn.data import load_dataset
    from scalegnn.distributed import prepare_partitions
    from scalegnn.distributed.prepare import check_node_dataset

    try:
        extra = read_manifest(directory).get("extra") or {}
        manifest_k = read_manifest(directory)["k"]
        if (extra.get("dataset_arg"), extra.get("method_arg"), extra.get("preset", "deterministic"),
                extra.get("seed"), manifest_k, extra.get("feature_norm")) == (
                    args.dataset, args.partition_method, args.partition_preset, args.seed, ctx.world_size,
                    args.feature_norm):
            return
        replace = True
    except PartitionFormatError:
        replace = False
    if directory.exists() and not replace and any(directory.iterdir()):
        raise ValueError(f"{directory} exists and is not a partition directory; pass another --out or --partitions")
    dataset = load_dataset(args.dataset, root=args.root)
    check_node_dataset(dataset)
    x = dataset.data.x
    if args.feature_norm == "row" or (args.feature_norm == "auto" and dataset.name in ROW_NORMALIZED):
        x = x / x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    print(f"partitioning {dataset.name} into {ctx.world_size} parts ({args.partition_method}) -> {directory}",
          file=sys.stderr)
    prepare_partitions(dataset, ctx.world_size, directory, method=args.partition_method, seed=args.seed,
                       preset=args.partition_preset, features=x, overwrite=replace,
                       extra={"dataset_arg": args.dataset, "method_arg": args.partition_method,
                              "feature_norm": args.feature_norm})


def restore_settings(args, argv: List[str]) -> None:
    """On ``--resume``, take every setting not given on the command line from ``OUT/run.json``."""
    from scalegnn.train.run_dir import read_run_config

    saved = read_run_config(args.out) or {}
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    for key in SETTINGS:
        if key in saved and f"--{key.replace('_', '-')}" not in given:
            setattr(args, key, saved[key])


def main(argv: Optional[List[str]] = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.resume and args.out:
        restore_settings(args, argv)
    if args.dataset is None and not args.partitions:
        args.dataset = "cora-bundled"
    if args.model == "gat" and args.layers > 1 and args.hidden % args.heads:
        raise ValueError(f"--hidden {args.hidden} must be divisible by --heads {args.heads} for --model gat")
    from scalegnn.distributed import (DistributedGNN, DistributedNodeTask, agree, broadcast_parameters,
                                      init_distributed, load_local_graph, run_on_rank0)
    from scalegnn.train import Trainer
    from scalegnn.train.run_dir import check_out_dir, read_run_config

    if args.resume and not args.out:
        raise ValueError("--resume needs --out DIR (the run directory holding checkpoint.pt)")
    ctx = init_distributed(args.backend, args.device, timeout_s=args.timeout, setup_timeout_s=args.setup_timeout)
    try:
        settings = {key: getattr(args, key) for key in SETTINGS}

        def check_run_dir() -> None:
            if not args.out:
                return
            if args.resume:
                check_out_dir(args.out, resume=True)
                saved = read_run_config(args.out) or {}
                changed = [f"--{k.replace('_', '-')} {saved[k]!r} (not {settings[k]!r})"
                           for k in SETTINGS if k in saved and saved[k] != settings[k]]
                if changed:
                    raise ValueError(f"{args.out} was trained with " + ", ".join(changed) +
                                     "; resume with the same settings or start a new --out")
            elif ctx.is_main:
                check_out_dir(args.out, resume=False, overwrite=args.overwrite)

        agree(ctx, check_run_dir, "checking --out")
        directory = partition_dir(args, ctx)
        if not args.partitions:
            run_on_rank0(ctx, lambda: make_partitions(args, ctx, directory), "partitioning")
        graph = load_local_graph(ctx, directory, dataset=args.dataset, transport=args.transport)
        num_classes = int(graph.meta.get("num_classes", 0))
        metric = graph.meta.get("metric", "acc")

        def build() -> torch.nn.Module:
            torch.manual_seed(args.seed)
            return DistributedGNN(args.model, graph.x.shape[1], args.hidden, num_classes, args.layers,
                                  dropout=args.dropout, seed=args.seed, heads=args.heads).to(ctx.device)

        model = agree(ctx, build, "building the model")
        broadcast_parameters(model, ctx)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        task = DistributedNodeTask(ctx, graph, metric=metric)
        trainer = Trainer(model, optimizer, task, epochs=args.epochs, out_dir=args.out, resume=args.resume,
                          overwrite=args.overwrite, monitor=f"val_{metric}", patience=args.patience,
                          checkpoint_every=args.checkpoint_every, progress=not args.quiet,
                          is_main_process=ctx.is_main, config={**settings, "world_size": ctx.world_size},
                          title=f"{args.model} on {graph.meta.get('dataset')}, {ctx.world_size} ranks")
        try:
            result = trainer.fit()
        except RuntimeError as exc:
            if not any(word in str(exc) for word in ("Timed out", "Connection closed", "Connection reset", "NCCL")):
                raise
            raise ConnectionError(f"rank {ctx.rank} lost contact with a peer rank (it died, hung, or the network "
                                  f"failed; --timeout {args.timeout:g}s): {str(exc).splitlines()[0][:200]}") from exc
        summary = {"world_size": ctx.world_size, "best_epoch": result.best_epoch,
                   **{k: result.best.get(k) for k in (f"val_{metric}", f"test_{metric}")}}
        if ctx.is_main:
            status = "already finished; nothing trained" if result.already_finished else f"{trainer.epoch} epochs"
            print(f"{args.model} on {graph.meta.get('dataset')}, {ctx.world_size} ranks ({status}): "
                  f"test_{metric} {_number(summary[f'test_{metric}']):.4f} "
                  f"(val_{metric} {_number(summary[f'val_{metric}']):.4f} at epoch {result.best_epoch})")
        return summary
    finally:
        ctx.shutdown()


def _number(value: Optional[float]) -> float:
    return float("nan") if value is None else float(value)


if __name__ == "__main__":
    sys.exit(run_main(main))
