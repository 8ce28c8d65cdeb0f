"""MVS-GNN vs uniform node sampling (and PyG's NeighborLoader / GraphSAINT when installed).

Cong et al., "Minimal Variance Sampling with Provable Guarantees for Fast
Training of Graph Neural Networks" (KDD 2020). The same 2-layer GCN
(``torch_geometric.nn.models.GCN``, hidden 64, dropout 0.5, Adam lr 0.01) is
trained on each dataset with each sampler at the same expected batch size:

* ``mvs``: minimal-variance seed sampling + historical embeddings (1 sampled hop,
  layer 1 exact from the stored :math:`\\hat A X`), snapshot every ``K`` steps;
* ``mvs-nohist``: minimal-variance seeds, 2 sampled hops, no history (ablation);
* ``uniform-hist``: uniform seeds with the history (ablation);
* ``uniform``: uniform Poisson seed sampling, 2 sampled hops with the unbiased
  fan-out weights, no history: uniform node sampling with GraphSAGE-style fan-out;
* ``pyg-neighbor``: PyG ``NeighborLoader`` (``GCN`` with its own normalization
  on the sampled subgraph, loss on the seeds);
* ``pyg-saint``: PyG ``GraphSAINTNodeSampler`` with its loss and aggregation
  normalization (``sample_coverage=50``).

The two PyG loaders need ``pyg-lib`` or ``torch-sparse``; without them their
rows say ``unavailable`` and why.

Measured, per dataset:

* **gradient variance**: at a common model state (a uniform run's weights at
  step ``t``), each sampler's history and scores taken at step ``t - K/2``
  (stale, as mid-run), ``R`` sampled gradients of the batch loss against the
  exact full-batch gradient: :math:`\\mathbb{E}\\|\\hat g - g\\|^2 / \\|g\\|^2`
  (model in eval mode, so dropout adds nothing);
* **steps and wall time to a target validation score**: target = 0.98 x the
  median best validation score of ``uniform``; training time counts sampling,
  forward/backward and snapshots, not evaluation; evaluation (exact full graph)
  every ``E`` steps;
* final and best-validation test score, peak memory (each run in its own
  subprocess: peak RSS minus the RSS after loading the data), history size;
* a PNG of validation score against steps (median over seeds).

Runs are interleaved (for each seed, every method) and medians reported.

Usage::

    python -m benchmarks.sampling --root ../shared/data                      # all three datasets
    python -m benchmarks.sampling --datasets CiteSeer --seeds 5 --steps 200
    python -m benchmarks.sampling --datasets synthetic-sbm-1M-20M --seeds 2 --steps 300
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

METHODS = ["mvs", "mvs-nohist", "uniform-hist", "uniform", "pyg-neighbor", "pyg-saint"]
# per dataset: expected batch size, fan-out, steps between snapshots, steps, eval every, variance draws
CONFIG = {
    "CiteSeer": dict(batch_size=16, fanout=10, snapshot_every=10, steps=200, eval_every=5, draws=200),
    "BlogCatalog": dict(batch_size=256, fanout=10, snapshot_every=20, steps=300, eval_every=10, draws=100),
    "synthetic": dict(batch_size=512, fanout=10, snapshot_every=50, steps=300, eval_every=25, draws=40),
}
HIDDEN, DROPOUT, LR, WD = 64, 0.5, 0.01, 5e-4
CACHE = Path(tempfile.gettempdir()) / "scalegnn-bench-sampling"
TARGET_FRACTIONS = (0.95, 0.98)  # targets: these fractions of uniform's median best validation score
SIGNAL = 0.03  # class signal of the synthetic graph's features (see prepare)


def config_for(name: str) -> Dict[str, Any]:
    return dict(CONFIG["synthetic" if name.startswith("synthetic") else name])


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pyg_available() -> Optional[str]:
    """``None`` if PyG's samplers can run, else why not."""
    import torch_geometric.typing as t

    if t.WITH_PYG_LIB or t.WITH_TORCH_SPARSE:
        return None
    return "needs pyg-lib or torch-sparse; no wheel for this torch on the package index, not built from source"


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

    history = method in ("mvs", "uniform-hist")
    sampler = "mvs" if method.startswith("mvs") else "uniform"
    loader = MVSLoader(data, split["train"], batch_size=cfg["batch_size"], num_hops=1 if history else 2,
                       fanout=cfg["fanout"], sampler=sampler, seed=seed)
    return MVSTask(loader, split, metric=metric, history=history, snapshot_every=cfg["snapshot_every"])


def make_model(data, num_classes: int, normalize: bool = False):
    from torch_geometric.nn.models import GCN

    return GCN(data.num_features, HIDDEN, 2, num_classes, normalize=normalize, dropout=DROPOUT)


class PygRunner:
    """Training steps with PyG's NeighborLoader or GraphSAINTNodeSampler (same model, batch size, optimizer)."""

    def __init__(self, method, data, split, cfg, seed, metric):
        import torch

        from scalegnn.sampling import MVSTask  # for the loss and the exact evaluation only
        from scalegnn.sampling.mvs_loader import MVSLoader

        torch.manual_seed(seed)
        self.method, self.data = method, data
        self.eval_task = MVSTask(MVSLoader(data, split["train"], 1, num_hops=2, seed=seed), split, metric=metric,
                                 history=False)
        if method == "pyg-neighbor":
            from torch_geometric.loader import NeighborLoader

            self.loader = NeighborLoader(data, num_neighbors=[cfg["fanout"]] * 2, batch_size=cfg["batch_size"],
                                         input_nodes=split["train"], shuffle=True)
        else:
            from torch_geometric.loader import GraphSAINTNodeSampler

            train_mask = torch.zeros(data.num_nodes, dtype=torch.bool)
            train_mask[split["train"]] = True
            data.train_mask = train_mask
            self.loader = GraphSAINTNodeSampler(data, batch_size=cfg["batch_size"], num_steps=cfg["steps"],
                                                sample_coverage=50, save_dir=None)
        self.it = iter(self.loader)
        self.steps = 0

    def next_batch(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)

    def step(self, model, opt):
        batch = self.next_batch()
        model.train()
        opt.zero_grad()
        task = self.eval_task
        if self.method == "pyg-neighbor":
            out = model(batch.x, batch.edge_index)[: batch.batch_size]
            loss = task.node_losses(out, batch.y[: batch.batch_size]).mean()
        else:
            out = model(batch.x, batch.edge_index, batch.edge_norm)
            mask = batch.train_mask
            loss = (task.node_losses(out[mask], batch.y[mask]) * batch.node_norm[mask]).sum()
        loss.backward()
        opt.step()
        self.steps += 1
        return float(loss.detach())


def run_one(name: str, method: str, seed: int) -> Dict[str, Any]:
    import torch

    from scalegnn.train import seed_everything

    torch.set_num_threads(1)
    data, split, num_classes, metric = load(name)
    base_rss = rss_mb()
    cfg = config_for(name)
    seed_everything(seed)
    if method.startswith("pyg"):
        reason = pyg_available()
        if reason:
            return {"dataset": name, "method": method, "seed": seed, "unavailable": reason}
        runner = PygRunner(method, data, split, cfg, seed, metric)
        model = make_model(data, num_classes, normalize=(method == "pyg-neighbor"))
        if method == "pyg-saint":
            model = make_model(data, num_classes, normalize=False)
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
            "snapshots": getattr(task, "snapshots", 0)}


# ------------------------------------------------------------ gradient variance
def grad_variance(name: str, methods: List[str], seed: int = 0) -> Dict[str, Any]:
    """Relative MSE of sampled gradients vs the full-batch gradient at common weights (see module docstring)."""
    import copy

    import torch

    torch.set_num_threads(1)
    data, split, num_classes, metric = load(name)
    cfg = config_for(name)
    torch.manual_seed(seed)
    ref = build("uniform", data, split, cfg, seed, metric)
    model = make_model(data, num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
    lag = max(1, cfg["snapshot_every"] // 2)
    points = sorted({2 * lag, cfg["steps"] // 2})
    states = {0: copy.deepcopy(model.state_dict())}
    for s in range(1, max(points) + 1):
        if s in [p - lag for p in points]:
            states[s] = copy.deepcopy(model.state_dict())
        ref.step(model, opt)
        if s in points:
            states[s] = copy.deepcopy(model.state_dict())
    params = list(model.parameters())
    out: Dict[str, Any] = {"dataset": name, "points": points, "lag": lag, "draws": cfg["draws"], "rel_mse": {}}
    for method in methods:
        if method.startswith("pyg"):
            reason = pyg_available()
            out["rel_mse"][method] = {"unavailable": reason} if reason else {"unavailable": "not measured"}
            continue
        values = []
        for p in points:
            task = build(method, data, split, cfg, seed + 1, metric)
            model.load_state_dict(states[p - lag])
            model.eval()
            if task._needs_snapshot():
                task.snapshot(model)
            model.load_state_dict(states[p])
            model.eval()
            full = torch.autograd.grad(task.full_loss(model), params)
            g = torch.cat([x.reshape(-1) for x in full]).double()
            err = 0.0
            for _ in range(cfg["draws"]):
                batch = task.loader.sample_batch()
                if batch.batch_size == 0:
                    err += float(g.pow(2).sum())
                    continue
                est = torch.autograd.grad(task.batch_loss(model, batch), params)
                err += float((torch.cat([x.reshape(-1) for x in est]).double() - g).pow(2).sum())
            values.append(err / cfg["draws"] / float(g.pow(2).sum()))
        out["rel_mse"][method] = values
    return out


# --------------------------------------------------------------- orchestration
def worker(args) -> None:
    if args.worker == "run":
        res = run_one(args.dataset, args.method, args.seed)
    else:
        res = grad_variance(args.dataset, args.methods)
    print("RESULT " + json.dumps(res))


def spawn(extra: List[str], timeout: float) -> Dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.sampling"] + extra
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
    lines = [f"### {name}", "",
             f"Expected batch size {cfg['batch_size']} seeds, fan-out {cfg['fanout']}, snapshot every "
             f"{cfg['snapshot_every']} steps, {steps} steps, evaluation every {cfg['eval_every']} steps; medians over "
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
    p.add_argument("--out", default=None, help="markdown file for the tables")
    p.add_argument("--json", default=None, help="raw results")
    p.add_argument("--plot", default=None, help="PNG of validation score vs steps")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--from-json", nargs="+", default=None, help="only tabulate and plot earlier --json files")
    p.add_argument("--worker", choices=["run", "variance"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--dataset", default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps:
        for c in CONFIG.values():
            c["steps"] = args.steps
    if args.worker:
        worker(args)
        return
    if args.from_json:
        all_runs, variances = {}, {}
        for f in args.from_json:
            blob = json.loads(Path(f).read_text())
            all_runs.update(blob["runs"])
            variances.update(blob["variance"])
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
    steps_arg = ["--steps", str(args.steps)] if args.steps else []
    for name in args.datasets:
        t0 = time.perf_counter()
        prepare(name, args.root)
        print(f"{name}: data ready in {time.perf_counter() - t0:.0f} s", flush=True)
        variances[name] = spawn(["--worker", "variance", "--dataset", name, "--methods", *args.methods] + steps_arg,
                                args.timeout)
        print(f"{name}: gradient variance {variances[name]['rel_mse']}", flush=True)
        runs = []
        jobs = [(s, m) for s in range(args.seeds) for m in args.methods]  # interleaved: each seed runs every method
        for seed, m in tqdm(jobs, desc=name):
            reason = pyg_available() if m.startswith("pyg") else None
            if reason:  # no subprocess needed to learn that
                runs.append({"dataset": name, "method": m, "seed": seed, "unavailable": reason})
                continue
            runs.append(spawn(["--worker", "run", "--dataset", name, "--method", m, "--seed", str(seed)] + steps_arg,
                              args.timeout))
        all_runs[name] = runs
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
