"""Precomputation benchmark: sgc_precompute vs PyG SGConv, GBP for all nodes vs a node subset.

Runs, in one process on the same synthetic power-law graph
(:func:`scalegnn.data.synthetic.synthetic_graph`, community-correlated
Gaussian features):

* ``sgc_precompute(x, edge_index, K)`` and PyG's ``SGConv(K, cached=False)``
  forward (its output is checked against ``sgc_precompute`` + the same linear
  layer), with the ratio to PyG and the memory-bandwidth bound of the SpMMs;
* ``gbp_exact`` (full propagation :math:`\\sum_l w_l T^l X`, CSR SpMM);
* ``gbp_precompute`` for all nodes and for a random node subset (default
  10%), for a sweep of ``rmax``, with the relative error against the exact
  rows and the work counters.

Times are medians over ``--repeat`` runs after one warm-up; peak memory is
the extra resident memory during the call (CPU, sampled) or
``torch.cuda.max_memory_allocated`` minus the baseline (GPU).

Usage::

    python -m benchmarks.propagation                      # ogbn-arxiv size, CPU
    python -m benchmarks.propagation --device cuda --size products
    python -m benchmarks.propagation --size small         # seconds, for a smoke test
    python -m benchmarks.propagation --locality --size products --baseline-rev e095dd4^   # orders, end to end

Without a GPU, ``--device cuda`` prints that the GPU rows are unmeasured and
runs the same measurement on CPU (the statement heads the markdown output).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch
from tqdm.auto import tqdm

from scalegnn.data.synthetic import synthetic_graph
from scalegnn.nn.gbp import gbp_exact, gbp_precompute, transition_matrix
from scalegnn.nn.propagation_weights import ppr_weights
from scalegnn.nn.sgc import sgc_precompute

SIZES = {
    # name: (nodes, undirected edges, features, classes) -- OGB sizes; the
    # graph holds both directions of each edge (2x as many directed entries)
    "small": (20_000, 100_000, 64, 10),
    "arxiv": (169_343, 1_166_243, 128, 40),
    "products": (2_449_029, 61_859_140, 100, 47),
}

GBP_DEFAULT = ["1e-5:0", "1e-6:0", "1e-7:0", "1e-5:10", "1e-6:10"]
ACCURACY_DEFAULT = ["1e-5:0", "1e-6:0", "1e-7:0", "1e-3:10", "1e-3:20", "1e-3:40", "1e-3:60", "1e-5:10", "1e-5:20",
                    "3e-6:10", "1e-3:40:iid", "1e-3:80:iid", "1e-5:20:iid", "1e-5:10:paper+iid", "1e-5:40:paper+iid"]


def parse_config(config: str) -> Tuple[float, int, frozenset]:
    """``RMAX:WALKS[:FLAGS]`` with FLAGS ``paper`` and/or ``iid`` joined by ``+``."""
    parts = config.split(":")
    flags = frozenset(parts[2].split("+")) if len(parts) > 2 and parts[2] else frozenset()
    if len(parts) not in (2, 3) or not flags <= {"paper", "iid"}:
        raise SystemExit(f"--gbp {config!r}: expected RMAX:WALKS[:paper|iid|paper+iid]")
    return float(parts[0]), int(parts[1]), flags


def options(flags) -> Dict[str, bool]:
    """gbp_precompute options of a configuration: 'paper' pushes SpMM levels by threshold, 'iid' draws walks independently."""
    return dict(push_all_dense="paper" not in flags, stratify_walks="iid" not in flags)


def describe(flags, walks: int) -> str:
    words = (["paper push rule"] if "paper" in flags else []) + (["independent walks"] if "iid" in flags and walks else [])
    return "".join(f", {w}" for w in words)


class PeakMemory:
    """Extra memory during a block: sampled RSS on CPU, the allocator's peak on CUDA."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak = 0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.base = self._rss()
            self.peak_rss = self.base
            self.running = True
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak_rss = max(self.peak_rss, self._rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
        else:
            self.running = False
            self.thread.join()
            self.peak = max(self.peak_rss, self._rss()) - self.base


def measure(fn: Callable, device: torch.device, repeat: int) -> Tuple[float, int, object]:
    """(median seconds, peak extra bytes, last result) of ``fn()`` after one warm-up (one method alone)."""
    out = interleaved([("f", fn)], device, repeat)["f"]
    return out["time"], out["mem"], out["result"]


def interleaved(methods: List[Tuple[str, Callable]], device: torch.device, repeat: int,
                keep: Callable[[str], bool] = lambda name: True, warmup: bool = True) -> Dict[str, Dict[str, object]]:
    """Time ``methods`` under the load-robust protocol: one warm-up each (unless ``warmup=False``), then ``repeat``
    rounds that run every method once in turn (so a load change hits all of them alike); per method the median
    time, all times, the peak extra memory and the last result (only for the names ``keep`` accepts; others are
    dropped at once)."""
    if warmup:
        for _, fn in methods:
            fn()
    stats = {name: {"times": [], "cpu": [], "mem": 0, "result": None} for name, _ in methods}
    bar = tqdm(total=repeat * len(methods), desc="timed calls", disable=repeat * len(methods) < 2, file=sys.stderr)
    for _ in range(repeat):
        for name, fn in methods:
            entry = stats[name]
            entry["result"] = None
            with PeakMemory(device) as mem:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
                result = fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                entry["times"].append(time.perf_counter() - t0)
                entry["cpu"].append(time.process_time() - c0)
            entry["mem"] = max(entry["mem"], mem.peak)
            entry["result"] = result if keep(name) else None
            del result
            bar.set_postfix_str(f"{name} {entry['times'][-1]:.1f} s")
            bar.update()
    bar.close()
    for entry in stats.values():
        entry["time"] = statistics.median(entry["times"])
        entry["cpu_time"] = statistics.median(entry["cpu"])
    return stats


def spread(times: List[float]) -> str:
    """min-max of the runs, for the table."""
    return f"{min(times):.3f}-{max(times):.3f}"


def sparse_mm_horner(x: torch.Tensor, ei: torch.Tensor, w: torch.Tensor, r: float) -> torch.Tensor:
    """``gbp_exact`` as it was before the embedding_bag kernel: the same Horner loop on ``torch.sparse.mm``."""
    from scalegnn.data.adjacency import cached_adjacency

    T = cached_adjacency(ei, x.size(0), "gen", r=r, dtype=x.dtype, device=x.device)
    h = x
    acc = float(w[0]) * h
    for ell in range(1, w.numel()):
        h = torch.sparse.mm(T, h)
        acc.add_(h, alpha=float(w[ell]))
    return acc


def copy_bandwidth(device: torch.device, nbytes: int = 1 << 30) -> float:
    """Measured bytes/s of a large tensor copy (read + write), the achievable memory bandwidth."""
    a = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        b.copy_(a)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * a.numel() * 4 / best


def spmm_bytes(nnz: int, n: int, f: int, K: int) -> int:
    """Minimal traffic of K CSR SpMMs: the matrix (int64 col + fp32 value, rowptr), X read once, Y written once."""
    return K * (nnz * 12 + (n + 1) * 8 + 2 * n * f * 4)


def mib(b: float) -> str:
    return f"{b / 2**20:,.0f}"


def bench_graph_folder(size: str, seed: int) -> Path:
    """Where :func:`bench_graph` keeps the ``.npy`` files of the graph of ``size`` and ``seed``."""
    from scalegnn.data._paths import cache_dir

    n, m, f, c = SIZES[size]
    return cache_dir() / "bench-propagation" / f"powerlaw-{n}-{2 * m}-{f}-{c}-seed{seed}"


def bench_graph(size: str, seed: int, features: bool = True,
                keep: bool = False) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(edge_index, x, y)`` of the synthetic power-law graph of ``size``, saved once as ``.npy`` files in
    :func:`bench_graph_folder` (generating the products-size graph takes many minutes) and read back. Graphs under
    1M nodes are regenerated each time unless ``keep``."""
    import numpy as np

    n, m, f, c = SIZES[size]
    folder = bench_graph_folder(size, seed)
    names = ("edge_index", "x", "y")
    if not all((folder / f"{k}.npy").exists() for k in names):
        graph = synthetic_graph(n, 2 * m, f, c, kind="powerlaw", seed=seed)
        if n < 1_000_000 and not keep:  # small graphs are quicker to generate than to keep
            return graph.edge_index, graph.x, graph.y
        folder.mkdir(parents=True, exist_ok=True)
        for k in names:
            tmp = folder / f"{k}.tmp.npy"
            np.save(tmp, getattr(graph, k).numpy())
            tmp.rename(folder / f"{k}.npy")
        del graph
    ei = torch.from_numpy(np.load(folder / "edge_index.npy"))
    x = torch.from_numpy(np.load(folder / "x.npy")) if features else torch.empty(n, 0)
    y = torch.from_numpy(np.load(folder / "y.npy"))
    return ei, x, y


def run(args) -> str:
    device = torch.device(args.device)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    n, m, f, c = SIZES[args.size]
    t0 = time.perf_counter()
    ei, x, _ = bench_graph(args.size, args.seed)
    print(f"graph: {n:,} nodes, {ei.size(1):,} directed edges, {f} features ({time.perf_counter() - t0:.1f}s)")
    ei, x = ei.to(device), x.to(device)
    K = args.K
    w = ppr_weights(args.alpha, args.L)
    gen = torch.Generator().manual_seed(args.seed)
    subset = torch.randperm(n, generator=gen)[: int(args.subset * n)].sort().values.to(device)
    t_T0 = time.perf_counter()
    T = transition_matrix(ei, n, device=device)
    t_T = time.perf_counter() - t_T0
    label_sub = f"{args.subset:.0%}"

    methods: List[Tuple[str, Callable]] = [("sgc", lambda: sgc_precompute(x, ei, K, progress=False))]
    conv = None
    if not args.skip_pyg:
        from torch_geometric.nn import SGConv

        conv = SGConv(f, c, K=K, cached=False).to(device)
        methods.append(("pyg", lambda: conv(x, ei)))
    methods.append(("exact", lambda: gbp_exact(x, ei, w, r=args.r, progress=False)))
    if device.type == "cpu":
        methods.append(("exact_sparse_mm", lambda: sparse_mm_horner(x, ei, w, args.r)))
    configs = [parse_config(cfg) for cfg in args.gbp]
    scopes = [(label_sub, subset)] if args.subset_only else [("all", None), (label_sub, subset)]
    for k, (rmax, walks, flags) in enumerate(configs):
        for label, nodes in scopes:
            def fn(rmax=rmax, walks=walks, flags=flags, nodes=nodes, stats=False):
                # timed as a user calls it (no stats: counting the visited nodes is an extra pass)
                return gbp_precompute(x, T, w, r=args.r, rmax=rmax, walks_per_node=walks, nodes=nodes,
                                      seed=args.seed, progress=False, return_stats=stats, **options(flags))
            methods.append((f"gbp{k}:{label}", fn))
    load_before = load_average()
    print(f"load average before: {load_before}; {len(methods)} methods x {args.repeat} interleaved rounds", flush=True)
    res = interleaved(methods, device, args.repeat, keep=lambda name: name in ("sgc", "pyg", "exact") or
                      name.startswith("gbp"))
    load_after = load_average()
    rows: List[Dict[str, str]] = []
    t_sgc, xs = res["sgc"]["time"], res["sgc"]["result"]
    nnz = ei.size(1) + n  # with self-loops
    bw = copy_bandwidth(device)
    bound = spmm_bytes(nnz, n, f, K) / bw
    if conv is not None:
        t_pyg, y_pyg = res["pyg"]["time"], res["pyg"]["result"]
        with torch.no_grad():
            err = ((conv.lin(xs) - y_pyg).abs().max() / y_pyg.abs().max()).item()
        vs = f"{t_pyg / t_sgc:.1f}x faster"
    else:
        t_pyg, err, vs = float("nan"), float("nan"), "PyG not run (--skip-pyg)"
    print(f"sgc_precompute {t_sgc:.3f}s, PyG SGConv {t_pyg:.3f}s, max rel diff {err:.1e}")
    rows.append(dict(method=f"sgc_precompute (K={K})", nodes="all", time=f"{t_sgc:.3f}",
                     spread=spread(res["sgc"]["times"]), mem=mib(res["sgc"]["mem"]), vs_pyg=vs, err="0 (exact)",
                     note=f"bandwidth bound {bound:.3f}s ({t_sgc / bound:.1f}x of it)"))
    if conv is not None:
        rows.append(dict(method=f"PyG SGConv (K={K}, cached=False)", nodes="all", time=f"{t_pyg:.3f}",
                         spread=spread(res["pyg"]["times"]), mem=mib(res["pyg"]["mem"]), vs_pyg="1.0x",
                         err=f"{err:.1e} vs sgc_precompute+lin", note="includes the linear layer"))
    t_ex, exact = res["exact"]["time"], res["exact"]["result"]
    rows.append(dict(method=f"full propagation gbp_exact (PPR a={args.alpha}, L={args.L})", nodes="all",
                     time=f"{t_ex:.3f}", spread=spread(res["exact"]["times"]), mem=mib(res["exact"]["mem"]),
                     vs_pyg="1.00x of full prop.", err="0 (exact)", note=f"{args.L} SpMMs (embedding_bag kernel)"))
    if "exact_sparse_mm" in res:
        t_old = res["exact_sparse_mm"]["time"]
        rows.append(dict(method="full propagation, torch.sparse.mm kernel (the previous gbp_exact)", nodes="all",
                         time=f"{t_old:.3f}", spread=spread(res["exact_sparse_mm"]["times"]),
                         mem=mib(res["exact_sparse_mm"]["mem"]), vs_pyg=f"{t_old / t_ex:.2f}x of full prop.",
                         err="0 (exact)", note="same Horner loop, torch.sparse.mm"))
    print(f"gbp_exact {t_ex:.3f}s")
    for k, (rmax, walks, flags) in enumerate(configs):
        for label, nodes in scopes:
            entry = res[f"gbp{k}:{label}"]
            est = entry["result"]
            st = dict(methods)[f"gbp{k}:{label}"](stats=True)[1]  # the work counters, from one untimed call
            t = entry["time"]
            ref = exact if nodes is None else exact[nodes]
            rel = ((est - ref).norm() / ref.norm()).item()
            old = ""
            if "exact_sparse_mm" in res:
                old = f"; {t / res['exact_sparse_mm']['time']:.2f}x of the torch.sparse.mm one"
            rows.append(dict(
                method=f"gbp_precompute rmax={rmax:g}, n_r={walks}" + describe(flags, walks), nodes=label,
                time=f"{t:.3f}", spread=spread(entry["times"]), mem=mib(entry["mem"]),
                vs_pyg=f"{t / t_ex:.2f}x of full prop.", err=f"{rel:.1e}",
                note=(f"push {st.push_edge_updates / 1e6:.0f}M edge-updates ({st.dense_push_levels} dense/"
                      f"{st.sparse_push_levels} sparse levels), {st.walk_steps / 1e6:.1f}M walk steps, "
                      f"correction {st.correction_updates / 1e6:.0f}M{old}"),
            ))
            print(f"gbp rmax={rmax:g} n_r={walks} nodes={label}: {t:.3f}s rel.err {rel:.1e} ({t / t_ex:.2f}x of exact)")
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
               f"torch {torch.__version__}")
    if device.type == "cuda":
        machine = f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    head = (f"### {args.size}: {n:,} nodes, {ei.size(1):,} directed edges (+{n:,} self-loops), {f} features, "
            f"device {device.type}\n\nMachine: {machine}; load average {load_before} before, {load_after} after; "
            f"measured copy bandwidth {bw / 1e9:.1f} GB/s; transition-matrix build {t_T:.2f}s (once per graph, not "
            f"in the GBP times). Times: median of {args.repeat} interleaved rounds (every method once per round) "
            "after one warm-up each; min-max of the rounds beside it.\n\n")
    table = ("| method | nodes | time (s) | min-max (s) | peak extra MiB | ratio | rel. error | notes |\n"
             "|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        table += (f"| {r['method']} | {r['nodes']} | {r['time']} | {r['spread']} | {r['mem']} | {r['vs_pyg']} | "
                  f"{r['err']} | {r['note']} |\n")
    return head + table


# --- accuracy at equal classifier: exact full propagation vs GBP on a subset ---------------------------


def emit(text: str, out=None) -> None:
    """Print a markdown result and append it to ``out`` when given."""
    print("\n" + text)
    if out:
        with open(out, "a") as fh:
            fh.write(text + "\n")


def load_average() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:  # pragma: no cover - non-Linux
        return "n/a"


def classifier_accuracy(feats: torch.Tensor, y: torch.Tensor, split: Dict[str, torch.Tensor], seed: int,
                        args) -> float:
    """Test accuracy (at the best validation epoch) of the same small classifier on ``feats``.

    Features are standardized with the training rows' mean and std (std floored); the classifier is multinomial logistic
    regression (``--classifier linear``) or a 2-layer MLP (hidden 256, dropout 0.5), Adam, full batch, trained by
    :class:`scalegnn.train.Trainer`.
    """
    from torch_geometric.data import Data

    from scalegnn.train import NodeClassificationTask, Trainer, seed_everything

    tr = split["train"]
    std = feats[tr].std(0)
    # Floor at a tenth of the mean column std: sparse bag-of-words columns that are constant on the training rows
    # (Planetoid) must not be blown up; the synthetic graph's columns are all far above it.
    feats = (feats - feats[tr].mean(0)) / std.clamp_min(0.1 * float(std.mean()) + 1e-12)
    seed_everything(seed)
    num_classes = int(y.max()) + 1
    if args.classifier == "linear":
        model = torch.nn.Linear(feats.size(1), num_classes)
    else:
        model = torch.nn.Sequential(torch.nn.Linear(feats.size(1), 256), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                    torch.nn.Linear(256, num_classes))
    task = NodeClassificationTask(Data(x=feats, y=y), split, forward=lambda m, d: m(d.x))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    result = Trainer(model, opt, task, epochs=args.epochs, progress=False).fit()
    return float(result.best["test_acc"])


def accuracy_graph(args):
    """(x, edge_index, y, subset, split into subset rows, description) for ``--dataset``."""
    if args.dataset == "synthetic":
        n, m, f, c = SIZES[args.size]
        graph = synthetic_graph(n, 2 * m, f, c, kind="powerlaw", seed=args.seed)
        gen = torch.Generator().manual_seed(args.seed)
        subset = torch.randperm(n, generator=gen)[: int(args.subset * n)].sort().values
        k = subset.numel()
        perm = torch.randperm(k, generator=torch.Generator().manual_seed(args.seed + 1))
        cut = [int(0.6 * k), int(0.8 * k)]
        split = {"train": perm[:cut[0]], "valid": perm[cut[0]:cut[1]], "test": perm[cut[1]:]}
        desc = (f"synthetic power-law graph of ogbn-{args.size} size "
                f"(`synthetic_graph({n}, {2 * m}, {f}, {c}, kind='powerlaw', seed={args.seed})`: "
                f"{c} planted communities = labels, class-mean Gaussian features); subset = {args.subset:.0%} random "
                f"nodes ({k:,}), split 60/20/20 inside it")
        return graph.x, graph.edge_index, graph.y, subset, split, desc
    from scalegnn.data import load_dataset, split_rows

    ds = load_dataset(args.dataset, args.root)
    subset, split = split_rows(ds.split)
    x = ds.data.x.float()
    x = x / x.sum(1, keepdim=True).clamp_min(1e-12)  # row-normalized, as SGC/GBP on Planetoid
    desc = (f"{ds.name} (public split; subset = train+val+test, {subset.numel():,} of {ds.data.num_nodes:,} nodes; "
            f"row-normalized features)")
    return x, ds.data.edge_index, ds.data.y.view(-1), subset, split, desc


def accuracy_run(args) -> str:
    """Time and accuracy of exact full propagation vs GBP on a node subset, one process, interleaved runs."""
    torch.set_num_threads(args.threads or torch.get_num_threads())
    x, ei, y, subset, split, desc = accuracy_graph(args)
    n = x.size(0)
    w = ppr_weights(args.alpha, args.L)
    T = transition_matrix(ei, n)
    ys = y[subset]
    configs = []
    for config in args.gbp:
        rmax, walks, flags = parse_config(config)
        configs.append((rmax, walks, flags))
    load_before = load_average()
    print(f"{desc}\nload average before: {load_before}", flush=True)

    def exact_fn(seed):
        return gbp_exact(x, ei, w, r=args.r, progress=False)[subset]

    def gbp_fn(rmax, walks, flags):
        return lambda seed: gbp_precompute(x, T, w, r=args.r, rmax=rmax, walks_per_node=walks, nodes=subset,
                                           seed=seed, progress=False, **options(flags))

    methods = [("exact", exact_fn)] + [((rm, nr, fl), gbp_fn(rm, nr, fl)) for rm, nr, fl in configs]
    times = {name: [] for name, _ in methods}
    feats = {name: [] for name, _ in methods}
    for _, fn in methods:  # warm-up
        fn(0)
    # Interleaved: every repetition runs every method once, so load changes hit all of them alike.
    for seed in range(args.seeds):
        for name, fn in methods:
            t0 = time.perf_counter()
            out = fn(seed)
            times[name].append(time.perf_counter() - t0)
            feats[name].append(out)
    load_after = load_average()
    t_exact = statistics.median(times["exact"])
    exact = feats["exact"][0]
    raw = [classifier_accuracy(x[subset], ys, split, s, args) for s in range(args.seeds)]
    rows = []

    def summary(values):
        v = torch.tensor(values) * 100
        return float(v.mean()), float(v.std()) if v.numel() > 1 else 0.0

    for name, _ in methods:
        # Walks are random: seed s trains on the features of walk seed s (the std includes both).
        accs = [classifier_accuracy(feats[name][s], ys, split, s, args) for s in range(args.seeds)]
        mean, std = summary(accs)
        rel = float(torch.stack([(f - exact).norm() / exact.norm() for f in feats[name]]).mean())
        t = statistics.median(times[name])
        rows.append(dict(name=name, time=t, ratio=t / t_exact, mean=mean, std=std, rel=rel))
        print(f"{name}: {t:.3f}s ({t / t_exact:.2f}x of exact), test {mean:.2f} +- {std:.2f}, rel.err {rel:.1e}",
              flush=True)
    raw_mean, raw_std = summary(raw)
    ex = rows[0]
    tol = args.tolerance
    equal = [r for r in rows[1:] if r["mean"] >= ex["mean"] - tol]
    best = min(equal, key=lambda r: r["time"]) if equal else None
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    text = (f"### Accuracy at equal classifier: {desc}\n\n"
            f"Machine: {machine}; load average {load_before} before, {load_after} after. PPR alpha={args.alpha}, "
            f"L={args.L}, r={args.r}. Classifier: {args.classifier}, Adam lr {args.lr}, wd {args.weight_decay}, "
            f"{args.epochs} epochs, test accuracy at the best validation epoch; {args.seeds} seeds (seed s: "
            f"classifier seed s and walk seed s). Times: median of {args.seeds} interleaved runs after a warm-up; "
            f"exact = `gbp_exact` on all nodes (full propagation), GBP = `gbp_precompute(nodes=subset)`.\n\n"
            "| features | time (s) | vs exact | test acc. (%) | rel. feature error |\n|---|---|---|---|---|\n"
            f"| raw X (no propagation) | - | - | {raw_mean:.2f} +- {raw_std:.2f} | - |\n")
    for r in rows:
        if r["name"] == "exact":
            label = f"exact full propagation (PPR, L={args.L})"
        else:
            rmax, walks, flags = r["name"]
            label = f"GBP rmax={rmax:g}, n_r={walks}" + describe(flags, walks)
        mark = " **(cheapest at equal accuracy)**" if best is r else ""
        text += (f"| {label}{mark} | {r['time']:.3f} | {r['ratio']:.2f}x | {r['mean']:.2f} +- {r['std']:.2f} | "
                 f"{r['rel']:.1e} |\n")
    if best is None:
        text += f"\nNo GBP setting reached the exact features' accuracy minus {tol} points.\n"
    else:
        rmax, walks, flags = best["name"]
        text += (f"\nCheapest GBP setting within {tol} points of exact ({ex['mean']:.2f}): rmax={rmax:g}, n_r={walks}"
                 f"{describe(flags, walks)}: {best['mean']:.2f} % at {best['ratio']:.2f}x "
                 "the time of exact full propagation.\n")
    return text


# --- locality: reordered vs plain SpMM, end to end (matrix and order built inside every timed call) ---------


def locality_run(args) -> str:
    """End to end with each of ``--orders`` (and ``--baseline-rev``): :func:`benchmarks.propagation_locality.run`,
    every call in a fresh process."""
    from benchmarks import propagation_locality

    args.threads = args.threads or 1
    return propagation_locality.run(args)


def _timed(fn: Callable) -> Tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def locality_components_run(args) -> str:
    """Locality at a size where whole K=10 calls cannot be repeated on a loaded machine: the one-off costs
    (normalization; order + permutation) timed once, then ``--repeat`` interleaved rounds of one SpMM hop with the
    plain and the reordered matrix and of the two row permutations; K-hop end-to-end times composed from them."""
    from scalegnn.data.adjacency import normalized_adjacency
    from scalegnn.nn.csr_spmm import csr_spmm
    from scalegnn.nn.reordering import Reordered, locality_order, permute_csr

    device = torch.device("cpu")
    torch.set_num_threads(args.threads or torch.get_num_threads())
    n, m, f, c = SIZES[args.size]
    ei, x, _ = bench_graph(args.size, args.seed)
    load_before = load_average()
    print(f"graph: {n:,} nodes, {ei.size(1):,} directed edges, {f} features; load {load_before}", flush=True)
    w_norm, c_norm, A = _timed(lambda: normalized_adjacency(ei, n, "gen", args.r, True, dtype=x.dtype))
    print(f"normalize: {w_norm:.1f} s wall, {c_norm:.1f} s CPU", flush=True)

    def order_and_permute():
        perm = locality_order(A.crow_indices(), A.col_indices(), n, "rcm")
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(n)
        return Reordered(permute_csr(A, perm, inv), perm, inv, "rcm", 0.0)

    w_ord, c_ord, order = _timed(order_and_permute)
    print(f"rcm order + permute: {w_ord:.1f} s wall, {c_ord:.1f} s CPU", flush=True)
    B = order.matrix
    xl = order.to_local(x)
    methods = [("hop:none", lambda: csr_spmm(A, x)), ("hop:rcm", lambda: csr_spmm(B, xl)),
               ("permute rows in and out", lambda: order.to_caller(order.to_local(x)))]
    res = interleaved(methods, device, args.repeat, keep=lambda name: False, warmup=args.warmup)
    same = bool(torch.equal(order.to_caller(csr_spmm(B, xl)), csr_spmm(A, x)))
    load_after = load_average()
    h = {k: res[k] for k in ("hop:none", "hop:rcm")}
    p = res["permute rows in and out"]
    lines = []
    for label, hops in ((f"K={args.L} `gbp_exact`", args.L), (f"SGC K={args.K}", args.K)):
        for key in ("time", "cpu_time"):
            plain = (w_norm if key == "time" else c_norm) + hops * h["hop:none"][key]
            reord = ((w_norm + w_ord) if key == "time" else (c_norm + c_ord)) + hops * h["hop:rcm"][key] + p[key]
            lines.append((label, "wall" if key == "time" else "CPU", plain, reord))
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    text = (f"### Locality by components: {n:,} nodes, {ei.size(1):,} directed edges (+{n:,} self-loops), {f} features "
            f"(synthetic power-law, `--size {args.size}`)\n\n"
            f"Machine: {machine}; load average {load_before} before, {load_after} after. One-off costs, timed once: "
            f"normalizing the adjacency {w_norm:.1f} s wall / {c_norm:.1f} s CPU; RCM order + permuted CSR "
            f"{w_ord:.1f} s wall / {c_ord:.1f} s CPU. Per hop and for the row permutations: median of {args.repeat} "
            f"interleaved rounds ({'after one warm-up each' if args.warmup else 'no warm-up'}). The reordered hop, "
            f"returned to the caller's order, equals the plain one bit for bit: {same}.\n\n"
            "| piece | wall (s) | min-max (s) | CPU s | peak extra MiB |\n|---|---|---|---|---|\n"
            + "".join(f"| {k} | {e['time']:.2f} | {spread(e['times'])} | {e['cpu_time']:.2f} | {mib(e['mem'])} |\n"
                      for k, e in res.items())
            + "\nComposed end to end (normalize [+ order + permute + rows in/out] + K hops):\n\n"
            "| propagation | clock | no reorder (s) | RCM, order included (s) | speed-up |\n|---|---|---|---|---|\n"
            + "".join(f"| {a} | {b} | {pl:.1f} | {ro:.1f} | {pl / ro:.2f}x |\n" for a, b, pl, ro in lines))
    return text


# --- out of core: features larger than the memory the process may allocate -----------------------------

OOC_CHILD = """
import json, resource, sys, time
import numpy as np, torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
from scalegnn.nn.sgc import sgc_precompute
ei = torch.from_numpy(np.load(args["ei"]))
n = args["n"]
sgc_precompute(torch.zeros(n, 1), ei, 1, reorder=None)  # builds and caches the graph's matrix (allowed memory)
vm = int([l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1]) * 1024
cap = vm + args["allow"]
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
t0 = time.perf_counter()
sgc_precompute(args["x"], ei, args["K"], out=args["out"], reorder=None, progress=True)
dt = time.perf_counter() - t0
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
print(json.dumps(dict(seconds=dt, cap_extra=args["allow"], vm_before=vm,
                      vm_hwm_kb=int(status["VmHWM"].split()[0]), rss_kb=int(status["VmRSS"].split()[0]))))
"""


def out_of_core_run(args) -> str:
    """SGC (K hops) on features written to an .npy file larger than the capped process may allocate."""
    import json
    import subprocess
    import tempfile

    import numpy as np

    n, m, _, c = SIZES[args.size]
    f = args.ooc_features
    tmp = Path(args.ooc_dir or tempfile.mkdtemp(prefix="scalegnn_ooc_"))
    graph = synthetic_graph(n, 2 * m, 1, c, kind="powerlaw", seed=args.seed)
    ei = graph.edge_index
    np.save(tmp / "ei.npy", ei.numpy())
    xpath = tmp / "x.npy"
    feats = np.lib.format.open_memmap(xpath, mode="w+", dtype=np.float32, shape=(n, f))
    rng = np.random.default_rng(args.seed)
    step = max(1, (64 << 20) // (4 * f))
    for a in range(0, n, step):  # written in row windows, never whole in memory
        feats[a:a + step] = rng.standard_normal((min(step, n - a), f), dtype=np.float32)
    feats.flush()
    del feats
    file_bytes = n * f * 4
    allow = args.ooc_cap_mb << 20
    out = tmp / "sgc.npy"
    child = dict(ei=str(tmp / "ei.npy"), x=str(xpath), out=str(out), n=n, K=args.K, allow=allow,
                 threads=args.threads or torch.get_num_threads())
    load_before = load_average()
    proc = subprocess.run([sys.executable, "-c", OOC_CHILD, json.dumps(child)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # the same result as the in-memory path, on a slice of columns
    cols = slice(0, min(8, f))
    xs = torch.from_numpy(np.ascontiguousarray(np.load(xpath, mmap_mode="r")[:, cols]))
    ref = sgc_precompute(xs, ei, args.K, reorder=None)
    got = torch.from_numpy(np.ascontiguousarray(np.load(out, mmap_mode="r")[:, cols]))
    diff = float((got - ref).abs().max())
    text = (f"### Out of core: `sgc_precompute(path, edge_index, K={args.K}, out=path)` under `RLIMIT_AS`\n\n"
            f"Graph: {n:,} nodes, {ei.size(1):,} directed edges (synthetic power-law, {args.size} size); features "
            f"{n:,} x {f:,} float32 = **{file_bytes / 2**30:.2f} GiB** on disk. The child process builds the graph's "
            f"matrix, then caps its address space at its size then plus **{allow / 2**30:.2f} GiB** "
            f"(features = {file_bytes / allow:.1f}x the cap's allowance). Time {res['seconds']:.1f} s "
            f"({args.threads or torch.get_num_threads()} threads), peak RSS (VmHWM) {res['vm_hwm_kb'] / 2**20:.2f} GiB; "
            f"load {load_before} before, {load_average()} after. Max |difference| to the in-memory path on columns "
            f"0-{cols.stop - 1}: {diff:.1e}.\n")
    print(text)
    if not args.ooc_dir:
        for p in (out, xpath, tmp / "ei.npy"):
            p.unlink(missing_ok=True)
        tmp.rmdir()
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=list(SIZES), default="arxiv")
    p.add_argument("--device", default="cpu")
    p.add_argument("--K", type=int, default=2, help="SGC hops")
    p.add_argument("--L", type=int, default=10, help="GBP levels")
    p.add_argument("--alpha", type=float, default=0.1, help="PPR teleport of the GBP weights")
    p.add_argument("--r", type=float, default=0.5)
    p.add_argument("--gbp", nargs="+", default=GBP_DEFAULT,
                   help="GBP configurations RMAX:WALKS_PER_NODE[:FLAGS], FLAGS 'paper' (threshold rule on SpMM levels "
                        "too, push_all_dense=False) and/or 'iid' (independent walks, stratify_walks=False) joined by '+'")
    p.add_argument("--subset", type=float, default=0.1, help="fraction of nodes for the subset run")
    p.add_argument("--repeat", type=int, default=5, help="interleaved rounds (medians are reported; at least 5)")
    p.add_argument("--subset-only", action="store_true", help="GBP rows for the subset only (not all nodes)")
    p.add_argument("--skip-pyg", action="store_true", help="do not run PyG SGConv (it needs ~10x the memory)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="append the markdown table to this file")
    acc = p.add_argument_group("accuracy mode (--accuracy): classifier accuracy of exact vs subset GBP features")
    acc.add_argument("--accuracy", action="store_true",
                     help="train the same classifier on exact and on GBP subset features; report time and accuracy")
    acc.add_argument("--dataset", default="synthetic",
                     help="'synthetic' (--size) or a load_dataset name such as Cora (public split = the subset)")
    acc.add_argument("--root", default=None, help="dataset root for --dataset (default SCALEGNN_DATA)")
    acc.add_argument("--seeds", type=int, default=5, help="classifier and walk seeds (and interleaved timed rounds)")
    acc.add_argument("--classifier", choices=["linear", "mlp"], default="linear")
    acc.add_argument("--epochs", type=int, default=200)
    acc.add_argument("--lr", type=float, default=0.01)
    acc.add_argument("--weight-decay", type=float, default=1e-4)
    acc.add_argument("--tolerance", type=float, default=0.5,
                     help="accuracy points below exact that still count as equal accuracy")
    ooc = p.add_argument_group("out-of-core mode (--out-of-core): SGC on an .npy feature file larger than a memory cap")
    ooc.add_argument("--out-of-core", action="store_true")
    ooc.add_argument("--ooc-features", type=int, default=1024, help="feature columns of the on-disk matrix")
    ooc.add_argument("--ooc-cap-mb", type=int, default=256, help="MiB the capped process may allocate beyond the graph")
    ooc.add_argument("--ooc-dir", default=None, help="keep the files here (default: a temporary directory, removed)")
    loc = p.add_argument_group("locality mode (--locality): reordered vs plain SpMM end to end, order built per call")
    loc.add_argument("--locality", action="store_true")
    loc.add_argument("--orders", nargs="+", default=["none", "dbg"], choices=["none", "rcm", "degree", "dbg", "auto"])
    loc.add_argument("--baseline-rev", default=None, help="git revision to time the same calls on (its defaults)")
    loc.add_argument("--components", action="store_true",
                     help="time the one-off costs once and single hops in interleaved rounds; compose K hops")
    loc.add_argument("--only", choices=["gbp", "sgc"], default=None, help="only the K=L gbp_exact or the SGC rows")
    loc.add_argument("--no-warmup", dest="warmup", action="store_false",
                     help="skip the warm-up call of each method (long runs)")
    args = p.parse_args(argv)
    gpu_note = ""
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        gpu_note = (f"**GPU rows unmeasured**: `--device {args.device}` was asked for, but torch.cuda.is_available() is "
                    "False on this machine (no GPU). The numbers below are the same command's CPU numbers.\n\n")
        print(gpu_note.replace("**", ""), flush=True)
        args.device = "cpu"
    if args.locality:
        text = locality_components_run(args) if args.components else locality_run(args)
    elif args.out_of_core:
        text = out_of_core_run(args)
    elif args.accuracy:
        if args.gbp == GBP_DEFAULT:
            args.gbp = ACCURACY_DEFAULT
        text = accuracy_run(args)
    else:
        text = run(args)
    emit(gpu_note + text, args.out)


if __name__ == "__main__":
    main()
