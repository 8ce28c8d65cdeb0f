"""The ``scalegnn`` command line: ``train``, ``datasets``, ``partition``, ``bench``.

``scalegnn train`` with no arguments trains a 2-layer GCN on the bundled Cora
(shipped inside the package, no download) and prints its test accuracy.
Three further modes, all on the shared ``Trainer``:

* ``--sampler mvs|uniform [--batch-size B --fanout F --history/--no-history]``:
  mini-batch node classification with minimal-variance (or uniform) node
  sampling and historical embeddings (:mod:`scalegnn.sampling`; Cong et al.,
  "Minimal Variance Sampling with Provable Guarantees for Fast Training of
  Graph Neural Networks", KDD 2020). Evaluation is exact (full graph). A
  resumed run continues from the checkpoint's weights and optimizer, but the
  sampler's random stream and the history are rebuilt: it is not bit-identical
  to a run that was never interrupted.
* ``--compress SPEC`` (``int8``, ``int4``, ``binary``, ``prune:0.9[:gradual]``,
  ``channels:S``, ``heads:S``, ``mixed:B[:rewind]``; the spec language of
  :func:`scalegnn.compress.apply`): the model's layers are wrapped before
  training, the best model is chosen among the epochs where the compression is
  complete, and it is exported (``OUT/model.sgc``) with its size printed.
* ``--task link``: SEAL link prediction (Zhang & Chen, "Link Prediction Based
  on Graph Neural Networks", NeurIPS 2018) through
  :func:`scalegnn.linkpred.train_seal`, on a random 85/5/10 link split of any
  graph (``USAir``, ``Cora``, ...; OGB's split and metric for ``ogbl-*``),
  scored by AUC and AP. The recipe builds its own ``Trainer``, so ``--resume``,
  ``--plot``, ``--checkpoint-every`` and ``--device`` are refused with it for now.

``scalegnn train ... --out DIR`` saves the run's settings in ``DIR/run.json``;
``scalegnn train --out DIR --resume`` restores them and continues from the last
checkpoint. A flag given with ``--resume`` must agree with the saved setting,
except ``--epochs``, which may be raised to extend the run, and the settings
that do not change the result (``--root``, ``--device``, ``--checkpoint-every``,
``--plot``, ``--quiet``). Mistakes end with one line on stderr (``--debug`` or
``SCALEGNN_DEBUG=1`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from scalegnn.train.entrypoint import (ArgumentParser, UsageError, fraction, nonnegative_float, nonnegative_int,
                                       positive_float, positive_int, run_main)

__all__ = ["main", "build_parser", "TRAIN_DEFAULTS"]

# Bag-of-words citation graphs are trained on row-normalized features (Kipf & Welling, ICLR 2017).
ROW_NORMALIZED_BY_DEFAULT = {"cora-bundled", "Cora", "CiteSeer", "PubMed"}

# The settings of a training run: saved in OUT/run.json, restored by --resume.
TRAIN_DEFAULTS: Dict[str, Any] = {
    "model": "gcn", "dataset": "cora-bundled", "root": None, "epochs": 200, "lr": 0.01, "weight_decay": 5e-4,
    "hidden": 16, "layers": 2, "dropout": 0.5, "options": {}, "feature_norm": "auto", "seed": 0, "patience": None,
    # the modes (None: full-batch node classification, no compression)
    "task": "node", "sampler": None, "batch_size": None, "fanout": None, "history": None, "compress": None,
    "num_hops": None, "max_nodes_per_hop": None,
}
TASKS = ("node", "link")
# mini-batch defaults (examples/mvs_gnn.py): expected seed nodes per step, neighbours per node and hop
SAMPLER_DEFAULTS: Dict[str, Any] = {"batch_size": 64, "fanout": 10, "history": True}
# the SEAL models (scalegnn.linkpred.build_model)
LINK_MODELS = {"dgcnn": "DGCNN (Zhang et al., AAAI 2018), SEAL's default", "gcn": "GCN", "gin": "GIN"}
# flags that belong to one mode only
NODE_ONLY = ("weight_decay", "feature_norm", "options", "patience", "sampler", "compress", "fanout", "history")
LINK_ONLY = ("num_hops", "max_nodes_per_hop")
MINIBATCH_ONLY = ("batch_size", "fanout", "history")
# settings a resumed run may take from the command line without contradicting the saved run
RESUME_MAY_CHANGE = {"root"}
# the model hyper-parameter behind each shared flag
SHARED_FLAGS = {"hidden": "hidden_channels", "layers": "num_layers", "dropout": "dropout"}

# synthetic graphs at the sizes of the OGB node-property datasets (both edge directions counted)
SYNTHETIC_PRESETS = (
    ("synthetic-169343-2332486", "the size of ogbn-arxiv (undirected)"),
    ("synthetic-132534-79122504", "the size of ogbn-proteins"),
    ("synthetic-2449029-123718280", "the size of ogbn-products"),
    ("synthetic-1M-25M", "1M nodes, 25M edges"),
)


def _flag(name: str) -> str:
    return "--option" if name == "options" else "--" + name.replace("_", "-")


def fanout_spec(text: str) -> Union[int, List[int], str]:
    """``--fanout``: neighbours per node and hop, ``10``, one per hop ``10,5``, or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        values = [positive_int(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, a comma-separated list of them (one per "
                                         f"hop) or 'all', got {text!r}") from None
    return values[0] if len(values) == 1 else values


def compress_spec(text: str) -> str:
    """``--compress``: a spec :func:`scalegnn.compress.parse_spec` accepts (checked here, applied later)."""
    from scalegnn.compress import parse_spec

    try:
        parse_spec(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from scalegnn.models import MODELS

    d = TRAIN_DEFAULTS
    p.add_argument("--task", default=None, choices=TASKS,
                   help="node: node classification (the default); link: SEAL link prediction (AUC, AP)")
    p.add_argument("--model", default=None, choices=sorted(set(MODELS) | set(LINK_MODELS)),
                   help=f"(default {d['model']}; with --task link dgcnn) "
                        + "; ".join(f"{k}: {v.description}" for k, v in sorted(MODELS.items()))
                        + "; with --task link: " + ", ".join(f"{k} ({v})" for k, v in LINK_MODELS.items()))
    p.add_argument("--dataset", default=None, help=f"dataset name (default {d['dataset']}; see `scalegnn datasets`)")
    p.add_argument("--root", default=None, help="data root (default: $SCALEGNN_DATA, else ~/.scalegnn/data)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"(default {d['epochs']}); with --resume, a larger value extends the run")
    p.add_argument("--lr", type=positive_float, default=None, help=f"learning rate (default {d['lr']})")
    p.add_argument("--weight-decay", type=nonnegative_float, default=None, help=f"(default {d['weight_decay']})")
    p.add_argument("--hidden", type=positive_int, default=None, help=f"hidden channels (default {d['hidden']})")
    p.add_argument("--layers", type=positive_int, default=None, help=f"number of layers (default {d['layers']})")
    p.add_argument("--dropout", type=fraction, default=None, help=f"dropout in [0, 1) (default {d['dropout']})")
    accepted = "; ".join(f"{name}: " + " ".join(o.describe(k) for k, o in spec.options.items())
                         for name, spec in sorted(MODELS.items()) if spec.options)
    p.add_argument("--option", action="append", default=None, metavar="KEY=VALUE",
                   help=f"model option (JSON value), e.g. --option K=2; repeatable. Options and defaults: {accepted}")
    p.add_argument("--feature-norm", choices=["auto", "row", "none"], default=None,
                   help="row-normalize node features (auto, the default: yes for the Planetoid citation graphs)")
    p.add_argument("--sampler", default=None, choices=["mvs", "uniform"],
                   help="mini-batch training with minimal-variance (mvs) or uniform node sampling "
                        "(default: full batch); trains a GCN")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help=f"--sampler: expected seed nodes per step (default {SAMPLER_DEFAULTS['batch_size']}); "
                        "--task link: links per batch (default 32)")
    p.add_argument("--fanout", type=fanout_spec, default=None,
                   help=f"--sampler: neighbours drawn per node and hop: N, N1,N2,... (one per hop) or all "
                        f"(default {SAMPLER_DEFAULTS['fanout']})")
    p.add_argument("--history", action=argparse.BooleanOptionalAction, default=None,
                   help="--sampler: historical embeddings for out-of-batch neighbours, so a GCN of L layers "
                        "samples L-1 hops (default: on)")
    p.add_argument("--compress", type=compress_spec, default=None, metavar="SPEC",
                   help="wrap the model's layers before training and export it at the end: int8, int4, intN, "
                        "binary, prune:S[:one_cycle|gradual|one_shot], channels:S, heads:S, mixed:B[:rewind]")
    p.add_argument("--num-hops", type=positive_int, default=None,
                   help="--task link: hops of the enclosing subgraphs (default 1)")
    p.add_argument("--max-nodes-per-hop", type=positive_int, default=None,
                   help="--task link: at most this many new nodes per hop (default: all)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=nonnegative_int, default=None, help=f"(default {d['seed']})")
    p.add_argument("--patience", type=positive_int, default=None, help="early-stopping patience in epochs")
    p.add_argument("--out", default=None, help="run directory: run.json, checkpoints, metrics.jsonl, curves.png")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT with its saved settings")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in OUT (only a scalegnn run directory is replaced)")
    p.add_argument("--checkpoint-every", type=positive_int, default=None, help="epochs between checkpoints (10)")
    p.add_argument("--plot", action="store_true", help="write OUT/curves.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parse_options(pairs: List[str]) -> Dict[str, Any]:
    options: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _explicit_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The run settings given on the command line (flags left out are not in the result)."""
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS if k != "options" and getattr(args, k) is not None}
    if args.option is not None:
        given["options"] = _parse_options(args.option)
    return given


def _mode_defaults(given: Dict[str, Any]) -> Dict[str, Any]:
    """The defaults that differ by mode: SEAL's recipe for ``--task link``, the sampler's for ``--sampler``."""
    if given.get("task") == "link":
        from scalegnn.linkpred import SEALConfig

        seal = SEALConfig()
        # the recipe's Adam has no weight decay and SEAL reads the raw node features
        return {"model": seal.model, "epochs": seal.epochs, "lr": seal.lr, "weight_decay": 0.0,
                "hidden": seal.hidden_channels, "layers": seal.num_layers, "dropout": seal.dropout,
                "feature_norm": "none", "batch_size": seal.batch_size, "num_hops": seal.num_hops,
                "max_nodes_per_hop": seal.max_nodes_per_hop}
    if given.get("sampler") is not None:
        return dict(SAMPLER_DEFAULTS)
    return {}


def _fresh_settings(given: Dict[str, Any]) -> Dict[str, Any]:
    return {**TRAIN_DEFAULTS, **_mode_defaults(given), **given}


def _resolve_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The run's settings: saved ones on --resume (checked against the flags), else flags over defaults."""
    from scalegnn.train.run_dir import check_out_dir, read_run_config

    given = _explicit_settings(args)
    if args.out is None:
        for flag, on in (("--resume", args.resume), ("--overwrite", args.overwrite), ("--plot", args.plot),
                         ("--checkpoint-every", args.checkpoint_every is not None)):
            if on:
                raise UsageError(f"{flag} needs --out DIR (the run directory)")
        return _fresh_settings(given)
    check_out_dir(args.out, resume=args.resume, overwrite=args.overwrite)
    if not args.resume:
        return _fresh_settings(given)
    saved = read_run_config(args.out)
    if saved is None or not saved.get("settings"):
        print(f"note: {args.out} has no saved settings (a run from before run.json); resuming with the flags given",
              file=sys.stderr)
        return _fresh_settings(given)
    settings = {**TRAIN_DEFAULTS, **saved["settings"]}
    conflicts = []
    for key, value in given.items():
        if key in RESUME_MAY_CHANGE:
            continue
        old = settings.get(key)
        if key == "epochs" and value >= old:
            continue
        if key == "options":
            clash = {k: v for k, v in value.items() if settings["options"].get(k, object()) != v}
            if clash:
                conflicts.append(", ".join(f"--option {k}={json.dumps(v)} (saved {json.dumps(settings['options'].get(k))})"
                                           for k, v in clash.items()))
            continue
        if value != old:
            extra = " (--epochs can only be raised, to extend the run)" if key == "epochs" else ""
            conflicts.append(f"{_flag(key)} {value} (saved {old}){extra}")
    if conflicts:
        raise UsageError(f"{'; '.join(conflicts)} contradicts the run saved in {Path(args.out) / 'run.json'}: "
                         f"resume without those flags, or start a new run with another --out")
    settings.update({k: v for k, v in given.items() if k != "options"})
    return settings


def _check_model_settings(settings: Dict[str, Any], given: Dict[str, Any]) -> Dict[str, Any]:
    """Refuse flags the model does not use; returns the model's options, checked and completed."""
    from scalegnn.models import MODELS, resolve_options

    name = settings["model"]
    spec = MODELS[name]
    unused = [_flag(f) for f, attr in SHARED_FLAGS.items() if f in given and attr not in spec.uses]
    if unused:
        raise UsageError(f"{' and '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to --model {name} "
                         f"({spec.description.split(':')[0]}): remove {'it' if len(unused) == 1 else 'them'}")
    try:
        return resolve_options(name, settings["options"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _refuse(flags: List[str], why: str, fix: str = "") -> None:
    """One line for flags that do not apply (``flags`` are setting names, ``why`` completes the sentence)."""
    if flags:
        one = len(flags) == 1
        names = " and ".join(_flag(f) for f in flags)
        raise UsageError(f"{names} {'does' if one else 'do'} not apply {why}: {fix}remove {'it' if one else 'them'}")


def _check_mode(settings: Dict[str, Any], given: Dict[str, Any], args: argparse.Namespace) -> None:
    """Refuse combinations of modes and flags that do not fit together (one line each)."""
    from scalegnn.models import MODELS

    model = settings["model"]
    if settings["task"] == "link":
        if settings["sampler"] is not None:
            raise UsageError("--sampler does not apply to --task link: SEAL trains on batches of enclosing "
                             "subgraphs (size them with --batch-size); remove --sampler")
        if settings["compress"] is not None:
            raise UsageError("--compress is not available with --task link: the SEAL recipe "
                             "(scalegnn.linkpred.train_seal) builds its model itself; compress node models")
        _refuse([k for k in NODE_ONLY if k in given],
                "to --task link (SEAL's recipe: Adam without weight decay, raw node features, a fixed number of "
                "epochs, the epoch of best validation AUC)")
        if model not in LINK_MODELS:
            raise UsageError(f"--model {model} is not a SEAL model: --task link trains "
                             f"{', '.join(LINK_MODELS)} (default dgcnn)")
        # the recipe builds its own Trainer; these Trainer settings do not reach it
        for flag, on in (("--resume", args.resume), ("--plot", args.plot),
                         ("--checkpoint-every", args.checkpoint_every is not None),
                         (f"--device {args.device}", args.device != "cpu")):
            if on:
                raise UsageError(f"{flag} is not available with --task link yet: the SEAL recipe "
                                 f"(scalegnn.linkpred.train_seal) does not take it")
        return
    if model not in MODELS:
        raise UsageError(f"--model {model} is SEAL's link-prediction model: add --task link")
    _refuse([k for k in LINK_ONLY if k in given], "to node classification", "add --task link, or ")
    if settings["sampler"] is None:
        _refuse([k for k in MINIBATCH_ONLY if k in given], "to full-batch training",
                "add --sampler mvs (or uniform) for mini-batches, or ")
        return
    if model != "gcn":
        raise UsageError(f"--sampler trains a GCN (MVSTask runs GCNConv layers on the sampled, normalized "
                         f"adjacency); --model {model} is not supported with it: remove --model")
    if settings["compress"] is not None:
        raise UsageError("--compress does not combine with --sampler: MVSTask computes the GCN layers from their "
                         "weights directly, which would bypass the compression wrappers")


def _check_dataset(dataset: Any, settings: Dict[str, Any]) -> None:
    task = settings["task"]
    if dataset.task == "graph" or (task == "node" and dataset.task != "node"):
        hint = ("train it with --task link" if dataset.task == "link" else
                "see examples/ for graph-level training")
        raise UsageError(f"`scalegnn train` trains node-level tasks (and link prediction with --task link); "
                         f"{dataset.name} is a {dataset.task}-level dataset: {hint}")
    if settings["sampler"] is not None and dataset.metric != "acc":
        raise UsageError(f"--sampler trains accuracy-scored node classifiers; {dataset.name} is scored by "
                         f"{dataset.metric}: train it full batch (remove --sampler)")


class _SelectWhenCompressed:
    """A task whose evaluation adds ``<monitor>_compressed``: the monitored metric once the compression is complete.

    Until the pruning schedule reaches its sparsity (one-cycle: the last epoch) or
    mixed precision has chosen its bits, the value is -1, so the best epoch the
    Trainer keeps (and the model exported) is always compressed as asked.
    """

    def __init__(self, task: Any, scheduler: Any, monitor: str) -> None:
        self.task, self.scheduler, self.monitor = task, scheduler, monitor

    def train_epoch(self, model: Any, optimizer: Any) -> float:
        return self.task.train_epoch(model, optimizer)

    def evaluate(self, model: Any) -> Dict[str, float]:
        metrics = self.task.evaluate(model)
        # the Trainer steps the scheduler before evaluating: `complete` describes this epoch's model
        metrics[f"{self.monitor}_compressed"] = metrics[self.monitor] if self.scheduler.complete else -1.0
        return metrics


def _wrap_for_compression(model: Any, spec: str) -> None:
    """Wrap ``model``'s layers by ``spec`` (before the optimizer is built, so it sees the wrapped parameters)."""
    from scalegnn import compress

    try:
        compress.apply(model, spec)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--compress {spec}: {exc}") from None


def _compression_scheduler(model: Any, spec: str, epochs: int, optimizer: Any) -> Any:
    """The CompressionScheduler the Trainer steps once per epoch (``mixed:B:rewind`` clears ``optimizer``)."""
    from scalegnn import compress

    try:
        return compress.CompressionScheduler(model, total_steps=epochs, optimizer=optimizer)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--compress {spec}: {exc}") from None


def _export_compressed(model: Any, spec: str, out: Optional[str]) -> str:
    """Export the compressed model (``OUT/model.sgc``, else a temporary file); returns the line to print."""
    import tempfile

    from scalegnn import compress

    if out is not None:
        report = compress.export(model, Path(out) / "model.sgc")
        where = f" -> {report.path}"
    else:
        with tempfile.TemporaryDirectory(prefix="scalegnn-compress-") as tmp:
            report = compress.export(model, Path(tmp) / "model.sgc")
        where = " (pass --out DIR to keep the file)"
    return (f"--compress {spec}: exported {report.bytes} bytes, {report.ratio:.1f}x smaller than float32's "
            f"{report.float32_bytes}{where}")


def _minibatch_task(settings: Dict[str, Any], dataset: Any, data: Any) -> Any:
    """The PyG GCN and the MVSTask of ``--sampler`` (the recipe of examples/mvs_gnn.py)."""
    import torch
    from torch_geometric.nn.models import GCN

    from scalegnn.sampling import MVSLoader, MVSTask

    options = settings["options"]
    for key in ("norm", "jk", "improved"):
        if options.get(key) not in (None, False):
            raise UsageError(f"--option {key}={json.dumps(options[key])} does not apply with --sampler "
                             f"(MVSTask runs plain GCNConv layers): remove it")
    train = dataset.split["train"]
    num_train = int(train.sum()) if train.dtype == torch.bool else int(train.numel())
    if settings["batch_size"] > num_train:
        raise UsageError(f"--batch-size {settings['batch_size']} is larger than the {num_train} training nodes "
                         f"of {dataset.name}: choose at most {num_train}")
    history = bool(settings["history"])
    fanout = None if settings["fanout"] == "all" else settings["fanout"]
    layers = settings["layers"]
    hops = layers - 1 if history else layers
    if isinstance(fanout, list) and len(fanout) != hops:
        raise UsageError(f"--fanout {','.join(map(str, fanout))} lists {len(fanout)} hops, but a {layers}-layer GCN "
                         f"{'with' if history else 'without'} history samples {hops}: give one number, or {hops} "
                         f"separated by commas")
    loader = MVSLoader(data, train, batch_size=settings["batch_size"], num_hops=hops, fanout=fanout,
                       sampler=settings["sampler"], seed=settings["seed"])
    task = MVSTask(loader, dataset.split, metric=dataset.metric, history=history, evaluator=dataset.evaluator)
    model = GCN(data.num_features, settings["hidden"], layers, dataset.num_classes, normalize=False,
                dropout=settings["dropout"], act=options.get("act", "relu"))
    return model, task


def _train_link(args: argparse.Namespace, settings: Dict[str, Any], dataset: Any) -> int:
    """``--task link``: SEAL through the library's recipe (scalegnn.linkpred.train_seal)."""
    import torch

    from scalegnn.linkpred import SEALConfig, ogb_link_split, random_link_split, train_seal
    from scalegnn.train.run_dir import write_run_config

    # SEAL's many tiny per-subgraph kernels run fastest on one thread (as in examples/seal_*.py)
    torch.set_num_threads(1)
    seed = settings["seed"]
    if dataset.name.startswith("ogbl-"):
        split, metrics, evaluator = ogb_link_split(dataset, seed=seed), (dataset.metric,), dataset.evaluator
    else:  # the protocol of examples/seal_planetoid.py: a random 85/5/10 split, validation selects the epoch
        split, metrics, evaluator = random_link_split(dataset.data, val=0.05, test=0.10, seed=seed), ("auc", "ap"), None
    x = getattr(dataset.data, "x", None)
    cfg = SEALConfig(num_hops=settings["num_hops"], max_nodes_per_hop=settings["max_nodes_per_hop"],
                     model=settings["model"], hidden_channels=settings["hidden"], num_layers=settings["layers"],
                     dropout=settings["dropout"], lr=settings["lr"], epochs=settings["epochs"],
                     batch_size=settings["batch_size"], metrics=metrics, monitor=f"val_{metrics[0]}",
                     use_features=x is not None, seed=seed)
    result = train_seal(split, cfg, x=x, evaluator=evaluator, out_dir=args.out, progress=not args.quiet,
                        overwrite=args.overwrite)
    if args.out:  # the recipe's Trainer wrote run.json without settings: record them (a later --resume reads them)
        write_run_config(args.out, {"command": "train", "settings": settings})
    scores = " ".join(f"test_{m} {result.get(f'test_{m}', float('nan')):.4f}" for m in metrics)
    print(f"{settings['model']} (SEAL, {cfg.num_hops}-hop) on {dataset.name}: {scores} "
          f"(val_{metrics[0]} {result.get(f'val_{metrics[0]}', float('nan')):.4f} at epoch {result['best_epoch']}"
          f" of {cfg.epochs}; {split.pos['train'].size(0)} training links)")
    if args.out:
        print(f"metrics: {Path(args.out) / 'metrics.jsonl'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from scalegnn.data import load_dataset, validate_graph
    from scalegnn.models import MODELS, ModelConfig
    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    settings = _resolve_settings(args)
    given = _explicit_settings(args)
    _check_mode(settings, given, args)
    if settings["task"] == "node":
        settings["options"] = _check_model_settings(settings, given)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: CUDA is not available on this machine; use --device cpu")
    seed_everything(settings["seed"])
    dataset = load_dataset(settings["dataset"], root=settings["root"])
    _check_dataset(dataset, settings)
    if settings["task"] == "link":
        return _train_link(args, settings, dataset)
    data = dataset.data
    validate_graph(data, task=dataset.task)
    norm = settings["feature_norm"]
    if norm == "row" or (norm == "auto" and dataset.name in ROW_NORMALIZED_BY_DEFAULT):
        data = data.clone()
        data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    spec = MODELS[settings["model"]]
    config = ModelConfig(settings["hidden"], settings["layers"], settings["dropout"], settings["options"])
    if settings["sampler"] is None:
        if spec.prepare is not None:
            data = spec.prepare(data, config)
        data = data.to(device)
        model = spec.build(data.num_features, dataset.num_classes, config)
        split = {k: v.to(device) for k, v in dataset.split.items()}
        task = NodeClassificationTask(data, split, dataset.metric, dataset.evaluator, forward=spec.forward)
    else:  # the loader samples on the CPU; batches move to the model's device
        model, task = _minibatch_task(settings, dataset, data)
    monitor = f"val_{dataset.metric}"
    scheduler = None
    if settings["compress"] is not None:
        _wrap_for_compression(model, settings["compress"])
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    if settings["compress"] is not None:
        scheduler = _compression_scheduler(model, settings["compress"], settings["epochs"], optimizer)
        if not scheduler.complete:
            if settings["patience"] is not None:
                raise UsageError(f"--patience does not combine with --compress {settings['compress']}: the "
                                 f"compression is complete only late in the run, so early stopping would end it "
                                 f"uncompressed; remove --patience")
            task = _SelectWhenCompressed(task, scheduler, monitor)
            monitor = f"{monitor}_compressed"
    mode = f" ({settings['sampler']} sampling)" if settings["sampler"] else ""
    mode += f" ({settings['compress']})" if settings["compress"] else ""
    title = f"{settings['model']}{mode} on {dataset.name}"
    trainer = Trainer(model, optimizer, task, epochs=settings["epochs"], out_dir=args.out, resume=args.resume,
                      overwrite=args.overwrite, monitor=monitor, patience=settings["patience"],
                      checkpoint_every=args.checkpoint_every or 10, progress=not args.quiet, plot=args.plot,
                      scheduler=scheduler, config={"command": "train", "settings": settings}, title=title)
    result = trainer.fit()
    if result.already_finished:
        how = (f"stopped early at epoch {trainer.epoch}" if result.stopped_early else
               f"all {trainer.epoch} epochs done; raise --epochs to extend it")
        print(f"{args.out}: this run had already finished ({how}); nothing was trained or changed")
    metric = dataset.metric
    print(f"{title}: test_{metric} {result.best.get(f'test_{metric}', float('nan')):.4f} "
          f"(val_{metric} {result.best.get(f'val_{metric}', float('nan')):.4f} at epoch {result.best_epoch}"
          f" of {trainer.epoch})")
    if settings["sampler"] is not None and not result.already_finished:
        mvs = task.task if isinstance(task, _SelectWhenCompressed) else task
        memory = mvs.history.memory_bytes() / 2 ** 20 if mvs.history is not None else 0.0
        print(f"mini-batches: {mvs.steps} steps of about {settings['batch_size']} seed nodes, {mvs.snapshots} "
              f"snapshots, history {memory:.1f} MiB")
    if settings["compress"] is not None:
        print(_export_compressed(model, settings["compress"], args.out))
    if args.out:
        print(f"metrics: {Path(args.out) / 'metrics.jsonl'}")
    return 0


def _synthetic_rows() -> List[Dict[str, str]]:
    rows = [{"name": "synthetic-<n>-<m>", "task": "node", "status": "generated",
             "where": "power-law graph, n nodes, m directed edges (k/M/G suffixes, e.g. synthetic-2.4M-60M)"},
            {"name": "synthetic-sbm-<n>-<m>", "task": "node", "status": "generated",
             "where": "stochastic block model with equal expected degrees"}]
    rows += [{"name": name, "task": "node", "status": "generated", "where": what} for name, what in SYNTHETIC_PRESETS]
    rows += [{"name": "TU:<NAME>", "task": "graph", "status": "-", "where": "any TU Dortmund dataset, under TU/<NAME>/raw"},
             {"name": "ogbn-*, ogbl-*, ogbg-*", "task": "-", "status": "-",
              "where": "any OGB dataset name, under OGB/<name_with_underscores>"}]
    return rows


def cmd_datasets(args: argparse.Namespace) -> int:
    from scalegnn.data import dataset_status

    rows = [{"name": r["name"], "task": r["task"], "status": "present" if r["present"] else "absent",
             "where": r["path"]} for r in dataset_status(root=args.root)]
    rows += _synthetic_rows()
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['task']:<5}  {row['status']:<9}  {row['where']}")
    return 0


def cmd_partition(rest: List[str]) -> int:
    from partitioning.__main__ import main as partition_main

    return int(partition_main(rest) or 0)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``benchmarks.<name>`` from a source checkout (benchmarks are not installed)."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "benchmarks").is_dir():
        raise UsageError("benchmarks/ is not next to the installed package: run from a source checkout")
    sys.path.insert(0, str(repo))
    sys.argv = [f"benchmarks.{args.name}", *args.rest]
    runpy.run_module(f"benchmarks.{args.name}", run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="scalegnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", parser_class=ArgumentParser)
    train = sub.add_parser("train", help="train a model on a dataset (default: GCN on the bundled Cora)")
    _add_train_args(train)
    datasets = sub.add_parser("datasets", help="list every dataset name the commands accept, and which are present")
    datasets.add_argument("--root", default=None)
    sub.add_parser("partition", help="partition a graph (same arguments as `python -m partitioning`)",
                   add_help=False)
    bench = sub.add_parser("bench", help="run a benchmark from benchmarks/ (source checkout)")
    bench.add_argument("name", help="module under benchmarks/, e.g. propagation")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _dispatch(argv: List[str]) -> int:
    if argv and argv[0] == "partition":
        return cmd_partition([a for a in argv[1:] if a != "--debug"])
    parser = build_parser()
    args = parser.parse_args(argv or ["train"])
    if args.command is None:  # only top-level flags (e.g. --debug): the default command
        args = parser.parse_args(["train", *argv])
    if args.command == "train":
        return cmd_train(args)
    if args.command == "datasets":
        return cmd_datasets(args)
    if args.command == "bench":
        return cmd_bench(args)
    raise UsageError(f"unknown command {args.command!r}")


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (mistakes: one line on stderr, non-zero status)."""
    return run_main(_dispatch, argv, prog="scalegnn")


if __name__ == "__main__":
    sys.exit(main())
