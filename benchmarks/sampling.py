r"""MVS-GNN vs uniform node sampling (and PyG's NeighborLoader / GraphSAINT when installed).

Cong et al., "Minimal Variance Sampling with Provable Guarantees for Fast
Training of Graph Neural Networks" (KDD 2020). The same 2-layer GCN
(``torch_geometric.nn.models.GCN``, hidden 64, dropout 0.5, Adam lr 0.01) is
trained on each dataset with each sampler at the same expected batch size:

* ``mvs``: minimal-variance seed sampling + historical embeddings (1 sampled hop,
  layer 1 exact from the stored :math:`\hat A X`), snapshot every ``K`` steps;
* ``mvs-norefresh``: ``mvs`` with scores from the snapshots only (the seeds' scores are not refreshed from each
  batch's outputs; ablation);
* ``mvs-nohist``: minimal-variance seeds, 2 sampled hops, no history (ablation);
* ``uniform-hist``: uniform seeds with the history (ablation);
* ``uniform``: uniform Poisson seed sampling, 2 sampled hops with the unbiased
  fan-out weights, no history: uniform node sampling with GraphSAGE-style fan-out;
* ``pyg-neighbor``: PyG ``NeighborLoader`` (``GCN`` with its own normalization
  on the sampled subgraph, loss on the seeds);
* ``pyg-saint``: PyG ``GraphSAINTNodeSampler`` with its loss and aggregation
  normalization (``sample_coverage=50``).

The two PyG loaders need ``torch-sparse``, the project's ``sparse`` extra
(``pip install -e .[sparse]``); their workers run in the interpreter given by
``--pyg-python`` (or ``SCALEGNN_SPARSE_PYTHON``), e.g. a separate venv where
torch-sparse was built from source, and without it their rows say
``unavailable`` and why. The default tests never import it.

Measured, per dataset:

* **gradient variance**: at a common model state (a uniform run's weights at
  step ``t``), each sampler's history and scores taken at step ``t - K/2``
  (stale, as mid-run), ``R`` sampled gradients of the batch loss against the
  exact full-batch gradient: :math:`\mathbb{E}\|\hat g - g\|^2 / \|g\|^2`
  (model in eval mode, so dropout adds nothing);
* **steps and wall time to a target validation score**: targets = 0.90, 0.95 and
  0.98 x the median best validation score of ``uniform``; training time counts sampling,
  forward/backward and snapshots, not evaluation; evaluation (exact full graph)
  every ``E`` steps;
* final and best-validation test score, peak memory (each run in its own
  subprocess: peak RSS minus the RSS after loading the data), history size;
* a PNG of validation score against steps (median over seeds).

Runs are interleaved (for each seed, every method) and medians reported.

``--worker diagnose --dataset NAME`` explains the step counts (see :func:`diagnose`):
how uneven the per-node gradient norms are along training (which bounds what
any importance sampling of the seeds can gain), how well the output-layer proxy
tracks the exact per-node gradient norm, and what scores ``K/2`` or ``K`` steps
stale cost.

Usage::

    python -m benchmarks.sampling --root ../shared/data                      # all three datasets
    python -m benchmarks.sampling --datasets CiteSeer --seeds 5 --steps 200
    python -m benchmarks.sampling --datasets synthetic-sbm-1M-20M --seeds 2 --steps 300
    python -m benchmarks.sampling --datasets CiteSeer --methods pyg-neighbor pyg-saint --pyg-python ../venv-sparse/bin/python
    python -m benchmarks.sampling --worker diagnose --dataset CiteSeer          # prints one JSON row per step
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from benchmarks._memory import proc_status_mb

METHODS = ["mvs", "mvs-norefresh", "mvs-nohist", "uniform-hist", "uniform", "pyg-neighbor", "pyg-saint"]
# per dataset: expected batch size, fan-out, steps between snapshots, steps, eval every, variance draws
# saint_coverage: GraphSAINT's normalization samples (sample_coverage); true_norms: nodes whose exact
# per-node gradient norm the diagnosis computes (one backward pass each)
CONFIG = {
    "CiteSeer": dict(batch_size=16, fanout=10, snapshot_every=10, steps=200, eval_every=1, draws=200,
                     saint_coverage=50, true_norms=120),
    "BlogCatalog": dict(batch_size=256, fanout=10, snapshot_every=20, steps=300, eval_every=2, draws=100,
                        saint_coverage=50, true_norms=300),
    "synthetic": dict(batch_size=512, fanout=10, snapshot_every=50, steps=300, eval_every=25, draws=20,
                      saint_coverage=10, true_norms=0),
}
HIDDEN, DROPOUT, LR, WD = 64, 0.5, 0.01, 5e-4
CACHE = Path(tempfile.gettempdir()) / "scalegnn-bench-sampling"
TARGET_FRACTIONS = (0.90, 0.95, 0.98)  # targets: these fractions of uniform's median best validation score
SIGNAL = 0.03  # class signal of the synthetic graph's features (see prepare)


def config_for(name: str) -> Dict[str, Any]:
    return dict(CONFIG["synthetic" if name.startswith("synthetic") else name])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pyg_available() -> Optional[str]:
    """``None`` if PyG's samplers can run in this interpreter, else why not.

    ``NeighborLoader`` needs ``pyg-lib`` or ``torch-sparse``; ``GraphSAINTNodeSampler`` needs ``torch-sparse``
    (``SparseTensor.saint_subgraph``): the project's ``sparse`` extra (``pip install -e .[sparse]``). Pass the
    interpreter of an environment that has it with ``--pyg-python`` (or ``SCALEGNN_SPARSE_PYTHON``).
    """
    import torch_geometric.typing as t

    if t.WITH_TORCH_SPARSE:
        return None
    return (f"needs torch-sparse (the 'sparse' extra), not importable in {sys.executable}; "
            "install it or pass --pyg-python")


def pyg_python() -> str:
    """The interpreter that runs the PyG baselines (default: this one)."""
    return os.environ.get("SCALEGNN_SPARSE_PYTHON") or sys.executable


# ------------------------------------------------------------------ data
def dataset_path(name: str) -> Path:
    return CACHE / (f"{name}-signal{SIGNAL}.pt" if name.startswith("synthetic") else f"{name}.pt")


def prepare(name: str, root: Optional[str]) -> Path:
    """Build the node task once and cache it (synthetic graphs take minutes to generate)."""
    import torch

    from examples.mvs_gnn import load_node_task

    path = dataset_path(name)
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    nt = load_node_task(name, root)
    d = nt.data
    if name.startswith("synthetic"):
        # The generator's default class signal (0.2) makes the task trivial for a GCN (99.99% in 25 steps);
        # at 0.03 features alone are weak and the graph is needed (full-batch GCN: ~86% after 60 epochs).
        from partitioning.synthetic import synthetic_features

        d.x = torch.from_numpy(synthetic_features(d.y.numpy(), d.x.size(1), nt.num_classes, signal=SIGNAL, seed=0))
    torch.save({"x": d.x, "edge_index": d.edge_index, "y": d.y, "num_nodes": d.num_nodes, "split": nt.split,
                "num_classes": nt.num_classes, "metric": nt.metric}, path)
    return path


def load(name: str):
    import torch
    from torch_geometric.data import Data

    blob = torch.load(dataset_path(name), weights_only=True)
    data = Data(x=blob["x"], edge_index=blob["edge_index"], y=blob["y"], num_nodes=blob["num_nodes"])
    return data, blob["split"], blob["num_classes"], blob["metric"]


# ------------------------------------------------------------------ one run
def build(method: str, data, split, cfg, seed: int, metric: str):
    from scalegnn.sampling import MVSLoader, MVSTask

    history = method in ("mvs", "mvs-norefresh", "uniform-hist")
    sampler = "mvs" if method.startswith("mvs") else "uniform"
    loader = MVSLoader(data, split["train"], batch_size=cfg["batch_size"], num_hops=1 if history else 2,
                       fanout=cfg["fanout"], sampler=sampler, seed=seed)
    return MVSTask(loader, split, metric=metric, history=history, snapshot_every=cfg["snapshot_every"],
                   refresh_scores=method != "mvs-norefresh")


def make_model(data, num_classes: int, normalize: bool = False):
    from torch_geometric.nn.models import GCN

    return GCN(data.num_features, HIDDEN, 2, num_classes, normalize=normalize, dropout=DROPOUT)


class PygRunner:
    r"""Training steps with PyG's NeighborLoader or GraphSAINTNodeSampler (same model, optimizer, loss nodes).

    * ``pyg-neighbor``: ``NeighborLoader(num_neighbors=[fanout] * 2, batch_size=B)`` over the training nodes;
      the sampled subgraph is normalized as a GCN normalizes it (``gcn_norm``: self-loops, symmetric degree
      normalization on the subgraph), the loss is the mean over the ``B`` seeds.
    * ``pyg-saint``: ``GraphSAINTNodeSampler`` over the whole graph with ``B * N / n_train`` node draws per step,
      so that a batch holds ``B`` training nodes in expectation (the count is recorded); aggregation weights are
      the full graph's :math:`\hat A_{ij}` times PyG's ``edge_norm``, and the loss is
      :math:`\frac{N}{n_{train}} \sum_{i \in S \cap train} \mathrm{node\_norm}_i \ell_i`, GraphSAINT's
      normalized loss scaled to estimate the mean training loss like the other methods.
    """

    def __init__(self, method, data, split, cfg, seed, metric):
        import torch
        from torch_geometric.data import Data

        from scalegnn.sampling import MVSTask  # for the loss and the exact evaluation only
        from scalegnn.sampling.mvs_loader import MVSLoader

        torch.manual_seed(seed)
        self.method, self.data = method, data
        self.eval_task = MVSTask(MVSLoader(data, split["train"], 1, num_hops=2, seed=seed), split, metric=metric,
                                 history=False)
        train = split["train"]
        if method == "pyg-neighbor":
            from torch_geometric.loader import NeighborLoader

            self.loader = NeighborLoader(data, num_neighbors=[cfg["fanout"]] * 2, batch_size=cfg["batch_size"],
                                         input_nodes=train, shuffle=True)
        else:
            from torch_geometric.loader import GraphSAINTNodeSampler

            adj = self.eval_task.loader.adj  # Â, CSR: row = target, column = source, self-loops included
            row = torch.repeat_interleave(torch.arange(data.num_nodes), adj.crow_indices().diff())
            train_mask = torch.zeros(data.num_nodes, dtype=torch.bool)
            train_mask[train] = True
            saint_data = Data(x=data.x, y=data.y, edge_index=torch.stack([adj.col_indices(), row]),
                              edge_weight=adj.values(), train_mask=train_mask, num_nodes=data.num_nodes)
            self.draws = max(1, round(cfg["batch_size"] * data.num_nodes / train.numel()))
            self.scale = data.num_nodes / train.numel()
            t0 = time.perf_counter()
            self.loader = GraphSAINTNodeSampler(saint_data, batch_size=self.draws, num_steps=cfg["steps"],
                                                sample_coverage=cfg["saint_coverage"], save_dir=None)
            self.norm_seconds = time.perf_counter() - t0
        self.it = iter(self.loader)
        self.steps = 0
        self.loss_nodes: List[int] = []

    def next_batch(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)

    def batch_loss(self, model, batch):
        """The batch's loss (an estimate of the mean training loss) and its number of loss nodes."""
        task = self.eval_task
        if self.method == "pyg-neighbor":
            from torch_geometric.nn.conv.gcn_conv import gcn_norm

            ei, w = gcn_norm(batch.edge_index, None, batch.num_nodes, add_self_loops=True)
            out = model(batch.x, ei, w)[: batch.batch_size]
            return task.node_losses(out, batch.y[: batch.batch_size]).mean(), int(batch.batch_size)
        out = model(batch.x, batch.edge_index, batch.edge_weight * batch.edge_norm)
        mask = batch.train_mask
        loss = (task.node_losses(out[mask], batch.y[mask]) * batch.node_norm[mask]).sum() * self.scale
        return loss, int(mask.sum())

    def step(self, model, opt):
        batch = self.next_batch()
        model.train()
        opt.zero_grad()
        loss, count = self.batch_loss(model, batch)
        self.loss_nodes.append(count)
        loss.backward()
        opt.step()
        self.steps += 1
        return float(loss.detach())


def run_one(name: str, method: str, seed: int) -> Dict[str, Any]:
    import torch

    from scalegnn.train import seed_everything

    torch.set_num_threads(1)
    data, split, num_classes, metric = load(name)
    base_rss = proc_status_mb("VmRSS")
    cfg = config_for(name)
    seed_everything(seed)
    if method.startswith("pyg"):
        reason = pyg_available()
        if reason:
            return {"dataset": name, "method": method, "seed": seed, "unavailable": reason}
        runner = PygRunner(method, data, split, cfg, seed, metric)
        model = make_model(data, num_classes)
        task = runner.eval_task
        step = runner.step
    else:
        task = build(method, data, split, cfg, seed, metric)
        model = make_model(data, num_classes)
        step = task.step
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
    curve: List[Dict[str, float]] = []
    train_time = 0.0
    key_val, key_test = f"val_{metric}", f"test_{metric}"
    for s in range(1, cfg["steps"] + 1):
        t0 = time.perf_counter()
        step(model, opt)
        train_time += time.perf_counter() - t0
        if s % cfg["eval_every"] == 0 or s == cfg["steps"]:
            m = task.evaluate(model)
            curve.append({"step": s, "time": train_time, "val": m[key_val], "test": m[key_test]})
    best = max(curve, key=lambda r: r["val"])
    hist = getattr(task, "history", None)
    return {"dataset": name, "method": method, "seed": seed, "curve": curve, "train_time": train_time,
            "best_val": best["val"], "test_at_best_val": best["test"], "final_test": curve[-1]["test"],
            "peak_mb": peak_mb(), "peak_above_data_mb": peak_mb() - base_rss,
            "history_mb": hist.memory_bytes() / 2**20 if hist is not None else 0.0,
            "snapshots": getattr(task, "snapshots", 0),
            "mean_loss_nodes": (statistics.mean(runner.loss_nodes) if method.startswith("pyg") else None),
            "saint_norm_s": getattr(runner, "norm_seconds", None) if method.startswith("pyg") else None,
            "python": sys.executable}


# ------------------------------------------------------------ gradient variance
def _flat(grads) -> "torch.Tensor":
    import torch

    return torch.cat([x.reshape(-1) for x in grads]).double()


def _trajectory(data, split, cfg, seed, metric, num_classes, wanted):
    """Weights of one ``uniform`` training run at the steps in ``wanted`` (the common model states)."""
    import copy

    import torch

    torch.manual_seed(seed)
    ref = build("uniform", data, split, cfg, seed, metric)
    model = make_model(data, num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
    states = {}
    for s in range(0, max(wanted) + 1):
        if s > 0:
            ref.step(model, opt)
        if s in wanted:
            states[s] = copy.deepcopy(model.state_dict())
    return model, states


def _rel_mse(model, full_loss, batch_loss, draws: int) -> float:
    r""":math:`\mathbb{E}\|\hat g - g\|^2 / \|g\|^2` over ``draws`` calls of ``batch_loss()`` (``None``: empty)."""
    import torch

    params = list(model.parameters())
    g = _flat(torch.autograd.grad(full_loss(), params))
    err = 0.0
    for _ in range(draws):
        loss = batch_loss()
        if loss is None:
            err += float(g.pow(2).sum())
            continue
        err += float((_flat(torch.autograd.grad(loss, params)) - g).pow(2).sum())
    return err / draws / float(g.pow(2).sum())


def _sampler_mse(method, data, split, cfg, seed, metric, model, states, point, lag, draws) -> float:
    """Relative gradient MSE of one of our samplers at ``states[point]``, history and scores from ``point - lag``."""
    task = build(method, data, split, cfg, seed, metric)
    model.load_state_dict(states[point - lag])
    model.eval()
    if task._needs_snapshot():
        task.snapshot(model)
    model.load_state_dict(states[point])
    model.eval()

    def batch_loss():
        batch = task.loader.sample_batch()
        return None if batch.batch_size == 0 else task.batch_loss(model, batch)

    return _rel_mse(model, lambda: task.full_loss(model), batch_loss, draws)


def grad_variance(name: str, methods: List[str], seed: int = 0) -> Dict[str, Any]:
    """Relative MSE of sampled gradients vs the full-batch gradient at common weights (see module docstring)."""
    import torch

    torch.set_num_threads(1)
    data, split, num_classes, metric = load(name)
    cfg = config_for(name)
    lag = max(1, cfg["snapshot_every"] // 2)
    points = sorted({2 * lag, cfg["steps"] // 2})
    model, states = _trajectory(data, split, cfg, seed, metric, num_classes, set(points) | {p - lag for p in points})
    out: Dict[str, Any] = {"dataset": name, "points": points, "lag": lag, "draws": cfg["draws"], "rel_mse": {},
                           "weights_checksum": {p: float(sum(v.double().sum() for v in states[p].values()))
                                                for p in points}, "python": sys.executable}
    for method in methods:
        if method.startswith("pyg"):
            reason = pyg_available()
            if reason:
                out["rel_mse"][method] = {"unavailable": reason}
                continue
            runner = PygRunner(method, data, split, cfg, seed + 1, metric)
            values = []
            for p in points:
                model.load_state_dict(states[p])
                model.eval()
                values.append(_rel_mse(model, lambda: runner.eval_task.full_loss(model),
                                       lambda: runner.batch_loss(model, runner.next_batch())[0], cfg["draws"]))
            out["rel_mse"][method] = values
            continue
        out["rel_mse"][method] = [_sampler_mse(method, data, split, cfg, seed + 1, metric, model, states, p, lag,
                                               cfg["draws"]) for p in points]
    return out


# --------------------------------------------------------------------- diagnosis
def _poisson_variance(probs, norms) -> float:
    r""":math:`\sum_i (1 - p_i)/p_i \|g_i\|^2`: the variance of :math:`\sum_{i \in S} g_i / p_i` (Poisson)."""
    p = probs.double()
    return float(((1 - p) / p * norms.double().pow(2)).sum())


def diagnose(name: str, seed: int = 0) -> Dict[str, Any]:
    r"""Why MVS does or does not cut the steps: how uneven the importance scores are, how much of the optimal
    variance cut the output-layer proxy captures, and what stale scores cost.

    Along the uniform reference run, at steps ``K``, ``T/4`` and ``T/2`` (``K`` the snapshot period, ``T`` the
    steps), with the model in eval mode:

    * ``cv``: coefficient of variation of the output-layer gradient-norm scores :math:`s_i` of the training nodes;
      ``ideal_ratio_proxy``: :math:`V(p^{mvs}) / V(p^{unif})` with :math:`V(p) = \sum (1-p_i)/p_i s_i^2`, the
      seed-sampling variance cut MVS would give if :math:`s_i` were the true per-node gradient norms
      (:math:`\approx 1/(1 + cv^2)` when no probability is capped);
    * on ``true_norms`` training nodes (all of them on CiteSeer): the exact per-node gradient norm over *all*
      parameters :math:`t_i = \|\nabla_\theta \ell_i\|` (one backward pass each), its Pearson correlation with
      :math:`s_i`, and on that subset (batch scaled to it) :math:`V_t(p)/V_t(p^{unif})` with
      :math:`V_t(p) = \sum (1-p_i)/p_i t_i^2` for :math:`p` from the proxy (what MVS does) and from :math:`t`
      itself (the best any seed distribution can do);
    * measured relative gradient MSE of ``mvs-nohist`` (seeds only, two sampled hops) with scores from the same
      step (lag 0), from ``K/2`` and from ``K`` steps earlier, and of ``uniform``.
    """
    import torch

    from scalegnn.sampling import minimal_variance_probs

    torch.set_num_threads(1)
    data, split, num_classes, metric = load(name)
    cfg = config_for(name)
    k = cfg["snapshot_every"]
    points = sorted({k, cfg["steps"] // 4, cfg["steps"] // 2})
    lags = sorted({0, max(1, k // 2), k})
    model, states = _trajectory(data, split, cfg, seed, metric, num_classes,
                                {p - lag for p in points for lag in lags})
    draws = max(10, cfg["draws"] // 2)
    n = split["train"].numel()
    b = cfg["batch_size"]
    rows = []
    for p in points:
        row: Dict[str, Any] = {"step": p}
        task = build("mvs-nohist", data, split, cfg, seed + 1, metric)
        model.load_state_dict(states[p])
        model.eval()
        task.snapshot(model)
        s = task.loader.sampler.scores
        probs = task.loader.sampler.probs
        uni = torch.full_like(probs, b / n)
        row.update(cv=float(s.std() / s.mean()), capped=int((probs >= 1).sum()),
                   ideal_ratio_proxy=_poisson_variance(probs, s) / _poisson_variance(uni, s))
        m = min(cfg["true_norms"], n)
        if m:
            gen = torch.Generator().manual_seed(seed)
            sub = torch.randperm(n, generator=gen)[:m]
            ids = split["train"][sub]
            logits, _, _ = task.exact_forward(model)
            losses = task.node_losses(logits[ids], data.y[ids])
            params = list(model.parameters())
            t = torch.stack([_flat(torch.autograd.grad(losses[i], params, retain_graph=True)).norm()
                             for i in range(m)])
            ps = s[sub].double()
            b_sub = max(1, round(b * m / n))
            p_unif = torch.full((m,), b_sub / m, dtype=torch.float64)
            p_proxy = minimal_variance_probs(ps + task.loader.sampler.score_floor * ps.mean(), b_sub)
            p_true = minimal_variance_probs(t, b_sub)
            v_unif = _poisson_variance(p_unif, t)
            row.update(true_nodes=m, corr=float(torch.corrcoef(torch.stack([ps, t]))[0, 1]),
                       true_cv=float(t.std() / t.mean()),
                       ratio_proxy_probs=_poisson_variance(p_proxy, t) / v_unif,
                       ratio_true_probs=_poisson_variance(p_true, t) / v_unif)
        for lag in lags:
            row[f"mvs_nohist_lag{lag}"] = _sampler_mse("mvs-nohist", data, split, cfg, seed + 1, metric, model,
                                                       states, p, lag, draws)
        row["uniform"] = _sampler_mse("uniform", data, split, cfg, seed + 1, metric, model, states, p, 0, draws)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {"dataset": name, "batch_size": b, "num_train": n, "draws": draws, "lags": lags, "rows": rows}


# --------------------------------------------------------------- orchestration
def worker(args) -> None:
    if args.worker == "run":
        res = run_one(args.dataset, args.method, args.seed)
    elif args.worker == "diagnose":
        res = diagnose(args.dataset)
    else:
        res = grad_variance(args.dataset, args.methods)
    print("RESULT " + json.dumps(res))


def spawn(extra: List[str], timeout: float, python: Optional[str] = None) -> Dict[str, Any]:
    cmd = [python or sys.executable, "-m", "benchmarks.sampling"] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parent.parent)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(extra)} failed:\n{proc.stderr[-3000:]}")


def steps_to(curve: List[Dict[str, float]], target: float, key: str = "step") -> Optional[float]:
    for r in curve:
        if r["val"] >= target:
            return r[key]
    return None


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="{:.3f}"):
    return "not reached" if v is None else spec.format(v)


def median_steps(values: List[Optional[float]]) -> Optional[float]:
    """Median with unreached runs (``None``) counted as infinitely slow; ``None`` if the median is unreached."""
    if not values:
        return None
    m = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(m) else m


def summarize(name: str, runs: List[Dict[str, Any]], var: Dict[str, Any], methods: List[str],
              fractions=TARGET_FRACTIONS) -> List[str]:
    metric = "micro-F1" if name == "BlogCatalog" else "accuracy"
    by = {m: [r for r in runs if r["method"] == m and "curve" in r] for m in methods}
    base = med([r["best_val"] for r in by.get("uniform", [])])
    targets = [f * base for f in fractions] if base is not None else []
    cfg = config_for(name)
    steps = max((len(r["curve"]) and r["curve"][-1]["step"]) for rs in by.values() for r in rs) if any(
        by.values()) else cfg["steps"]
    seeds = max((len(v) for v in by.values()), default=0)
    curves = [r["curve"] for rs in by.values() for r in rs if len(r["curve"]) > 1]
    eval_every = curves[0][1]["step"] - curves[0][0]["step"] if curves else cfg["eval_every"]
    lines = [f"### {name}", "",
             f"Expected batch size {cfg['batch_size']} seeds, fan-out {cfg['fanout']}, snapshot every "
             f"{cfg['snapshot_every']} steps, {steps} steps, evaluation every {eval_every} steps; medians over "
             f"{seeds} seeds. Targets: " + ", ".join(
                 f"{f:.2f} x uniform's median best validation {metric} = {t:.4f}" for f, t in zip(fractions, targets))
             + ". Steps and time to a target: median over seeds, a run that never reaches it counting as "
               "infinitely slow ((k/n) = runs that reached it).", ""]
    var_head = "rel. gradient variance at steps " + ", ".join(str(p) for p in var.get("points", []))
    head = [var_head]
    for f in fractions:
        head += [f"steps to {f:.2f}", "vs uniform", f"train s to {f:.2f}"]
    head += ["best val", "test at best val", "final test", "peak RSS above data (MB)", "history (MB)"]
    lines += ["| method | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    uni = {t: median_steps([steps_to(r["curve"], t) for r in by.get("uniform", [])]) for t in targets}
    for m in methods:
        rv = var.get("rel_mse", {}).get(m)
        if isinstance(rv, dict):
            lines.append(f"| {m} | unavailable: {rv['unavailable']} |" + " |" * (len(head) - 1))
            continue
        rs = by.get(m, [])
        cells = [" / ".join(f"{v:.3g}" for v in rv) if rv else "n/a"]
        if not rs:
            lines.append(f"| {m} | " + " | ".join(cells + ["not run"] + [""] * (len(head) - 2)) + " |")
            continue
        for t in targets:
            st = [steps_to(r["curve"], t) for r in rs]
            reached = sum(v is not None for v in st)
            sm = median_steps(st)
            tm = median_steps([steps_to(r["curve"], t, "time") for r in rs])
            note = "" if reached == len(st) else f" ({reached}/{len(st)})"
            cells += [fmt(sm, "{:.0f}") + note,
                      f"{sm / uni[t]:.2f}x" if sm is not None and uni[t] else "-",
                      fmt(tm, "{:.1f}")]
        cells += [f"{med([r['best_val'] for r in rs]):.4f}", f"{med([r['test_at_best_val'] for r in rs]):.4f}",
                  f"{med([r['final_test'] for r in rs]):.4f}", f"{med([r['peak_above_data_mb'] for r in rs]):.0f}",
                  f"{med([r['history_mb'] for r in rs]):.1f}"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def plot(all_runs: Dict[str, List[Dict[str, Any]]], methods: List[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {m: f"C{i}" for i, m in enumerate(METHODS)}  # one color per method in every panel
    fig, axes = plt.subplots(1, len(all_runs), figsize=(5 * len(all_runs), 3.8), squeeze=False)
    for ax, (name, runs) in zip(axes[0], all_runs.items()):
        for m in methods:
            rs = [r for r in runs if r["method"] == m and "curve" in r]
            if not rs:
                continue
            steps = [p["step"] for p in rs[0]["curve"]]
            vals = [statistics.median(r["curve"][i]["val"] for r in rs) for i in range(len(steps))]
            ax.plot(steps, vals, label=m, color=colors[m])
        ax.set_title(name)
        ax.set_xlabel("training step")
        ax.set_ylabel("validation micro-F1" if name == "BlogCatalog" else "validation accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["CiteSeer", "BlogCatalog", "synthetic-sbm-1M-20M"])
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    p.add_argument("--root", default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="override the per-dataset step count")
    p.add_argument("--eval-every", type=int, default=None, help="override the per-dataset evaluation period")
    p.add_argument("--out", default=None, help="markdown file for the tables")
    p.add_argument("--json", default=None, help="raw results")
    p.add_argument("--plot", default=None, help="PNG of validation score vs steps")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--skip-variance", action="store_true", help="training runs only (variance from another --json)")
    p.add_argument("--pyg-python", default=None,
                   help="interpreter with torch-sparse for the PyG baselines (default: SCALEGNN_SPARSE_PYTHON or this)")
    p.add_argument("--from-json", nargs="+", default=None, help="only tabulate and plot earlier --json files")
    p.add_argument("--worker", choices=["run", "variance", "diagnose"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--dataset", default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for key in ("steps", "eval_every"):
        if getattr(args, key):
            for c in CONFIG.values():
                c[key] = getattr(args, key)
    if args.pyg_python:
        os.environ["SCALEGNN_SPARSE_PYTHON"] = args.pyg_python
    if args.worker:
        worker(args)
        return
    if args.from_json:
        all_runs, variances = {}, {}
        for f in args.from_json:  # files may split one dataset's methods (e.g. the PyG ones from another venv)
            blob = json.loads(Path(f).read_text())
            for name, runs in blob["runs"].items():
                all_runs.setdefault(name, []).extend(runs)
            for name, var in blob["variance"].items():
                if name in variances and "points" in variances[name]:
                    variances[name]["rel_mse"].update(var["rel_mse"])
                else:
                    variances[name] = var
        lines = []
        for f in args.from_json:
            lines += [json.loads(Path(f).read_text()).get("machine", ""), ""]
        for name in all_runs:
            lines += summarize(name, all_runs[name], variances[name], args.methods)
        text = "\n".join(lines)
        print(text)
        if args.out:
            Path(args.out).write_text(text + "\n")
        if args.plot:
            plot(all_runs, args.methods, Path(args.plot))
        return
    if args.root:
        os.environ["SCALEGNN_DATA"] = args.root
    from tqdm.auto import tqdm

    load_start = os.getloadavg()
    all_runs: Dict[str, List[Dict[str, Any]]] = {}
    variances: Dict[str, Dict[str, Any]] = {}
    steps_arg = (["--steps", str(args.steps)] if args.steps else []) + (
        ["--eval-every", str(args.eval_every)] if args.eval_every else [])
    for name in args.datasets:
        t0 = time.perf_counter()
        prepare(name, args.root)
        print(f"{name}: data ready in {time.perf_counter() - t0:.0f} s", flush=True)
        ours = [m for m in args.methods if not m.startswith("pyg")]
        theirs = [m for m in args.methods if m.startswith("pyg")]
        variances[name] = {"rel_mse": {}}
        if args.skip_variance:
            ours = theirs = []
        for group, python in ((ours, sys.executable), (theirs, pyg_python())):
            if group:  # the PyG baselines run in the interpreter that has the 'sparse' extra
                res = spawn(["--worker", "variance", "--dataset", name, "--methods", *group] + steps_arg,
                            args.timeout, python)
                variances[name] = {**res, "rel_mse": {**variances[name]["rel_mse"], **res["rel_mse"]}}
        print(f"{name}: gradient variance {variances[name]['rel_mse']}", flush=True)
        runs = []
        jobs = [(s, m) for s in range(args.seeds) for m in args.methods]  # interleaved: each seed runs every method
        all_runs[name] = runs
        for seed, m in tqdm(jobs, desc=name):
            runs.append(spawn(["--worker", "run", "--dataset", name, "--method", m, "--seed", str(seed)] + steps_arg,
                              args.timeout, pyg_python() if m.startswith("pyg") else None))
            if args.json:  # after every run, so that a stopped benchmark keeps what it measured
                Path(args.json).write_text(json.dumps({"runs": all_runs, "variance": variances}, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps({"runs": all_runs, "variance": variances}, indent=1))
    import torch
    import torch_geometric

    machine = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 torch thread per run, "
             f"torch {torch.__version__}, torch_geometric {torch_geometric.__version__}, Python "
             f"{platform.python_version()}; load average {load_start[0]:.1f} at start, "
             f"{os.getloadavg()[0]:.1f} at end. CPU only."]
    lines = machine + [""]
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": all_runs, "variance": variances, "machine": machine[0]}, indent=1))
    for name in args.datasets:
        lines += summarize(name, all_runs[name], variances[name], args.methods)
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.plot:
        plot(all_runs, args.methods, Path(args.plot))


if __name__ == "__main__":
    main()
