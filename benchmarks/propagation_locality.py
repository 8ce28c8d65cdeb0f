"""Locality for CPU SpMM, end to end: node orders against each other and against an earlier revision.

Every timed call runs in a fresh process (``benchmarks/_propagation_call.py``), as a user's first call does: it
normalizes the adjacency and, with an order, computes the order and permutes the matrix inside the timed call.
The variants are

* ``gbp:ORDER`` -- ``gbp_exact`` with PPR weights (``--alpha``, ``--L`` hops) and ``reorder=ORDER``;
* ``sgc:ORDER`` -- ``sgc_precompute`` with ``--K`` hops;
* ``gbp:baseline`` / ``sgc:baseline`` with ``--baseline-rev REV``: the same call on the code of git revision
  ``REV`` (exported once with ``git archive`` into the cache), with that revision's defaults.

Rounds are interleaved (every variant once per round, so a load change hits all alike); the table gives medians,
min-max, CPU seconds, peak RSS and the load average before and after each call, and checks that every variant's
result has the same checksums. Usage (the issue 17 measurement)::

    python -m benchmarks.propagation_locality --size products --orders none degree dbg rcm \\
        --baseline-rev e095dd4^ --repeat 5 --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from tqdm.auto import tqdm

from benchmarks.propagation import SIZES, bench_graph, bench_graph_folder, emit, load_average
from scalegnn.data._paths import cache_dir

REPO = Path(__file__).resolve().parents[1]
CALL = REPO / "benchmarks" / "_propagation_call.py"


def graph_folder(size: str, seed: int) -> Path:
    """The folder with ``edge_index.npy`` and ``x.npy`` of the benchmark graph (written once, for every size)."""
    bench_graph(size, seed, features=False, keep=True)
    return bench_graph_folder(size, seed)


def export_revision(rev: str) -> Tuple[str, Path]:
    """``(full sha, folder)``: the tree of git revision ``rev`` exported under the cache (once per sha)."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                         check=True, capture_output=True, text=True).stdout.strip()
    folder = cache_dir() / "baseline-trees" / sha
    if not (folder / "scalegnn" / "__init__.py").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            archive = Path(tmp) / "tree.tar"
            subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), sha, "scalegnn"],
                           check=True)
            with tarfile.open(archive) as tar:
                tar.extractall(Path(tmp) / "tree", filter="data")
            (Path(tmp) / "tree").replace(folder)
    return sha, folder


def call(variant: str, tree: Path, graph: Path, args) -> Dict[str, float]:
    kind, order = variant.split(":")
    spec = dict(graph=str(graph), call=kind, order="default" if order == "baseline" else order,
                threads=args.threads, alpha=args.alpha, L=args.L, K=args.K, r=args.r)
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, str(CALL), json.dumps(spec)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{proc.stdout}\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if Path(out["scalegnn"]).resolve() != (tree / "scalegnn").resolve():
        raise SystemExit(f"{variant} imported scalegnn from {out['scalegnn']}, not from {tree}")
    return out


def run(args) -> str:
    n, m, f, _ = SIZES[args.size]
    graph = graph_folder(args.size, args.seed)
    trees = {"current": REPO}
    sha = None
    if args.baseline_rev:
        sha, trees["baseline"] = export_revision(args.baseline_rev)
    kinds = [args.only] if args.only else ["gbp", "sgc"]
    variants = [f"{k}:{o}" for k in kinds for o in (["baseline"] if sha else []) + list(args.orders)]
    results: Dict[str, List[Dict[str, float]]] = {v: [] for v in variants}
    loads = [load_average()]
    with tqdm(total=args.repeat * len(variants), desc="calls (fresh processes)", file=sys.stderr) as bar:
        for _ in range(args.repeat):
            for v in variants:
                tree = trees["baseline"] if v.endswith(":baseline") else trees["current"]
                results[v].append(call(v, tree, graph, args))
                bar.set_postfix_str(f"{v} {results[v][-1]['wall']:.1f} s")
                bar.update()
    loads.append(load_average())
    rows = []
    for kind in kinds:
        label = f"K={args.L} `gbp_exact` (PPR a={args.alpha})" if kind == "gbp" else f"SGC K={args.K}"
        ref = results[next(v for v in variants if v.startswith(kind))]
        med = {v: statistics.median(r["wall"] for r in results[v]) for v in variants if v.startswith(kind)}
        base = med.get(f"{kind}:baseline")
        plain = med.get(f"{kind}:none")
        for v in [v for v in variants if v.startswith(kind)]:
            runs = results[v]
            walls = [r["wall"] for r in runs]
            cpu = statistics.median(r["cpu"] for r in runs)
            system = statistics.median(r["system"] for r in runs)
            faults = statistics.median(r["minor_faults"] for r in runs)
            rel = max(abs(r["sum"] - ref[0]["sum"]) / max(abs(ref[0]["sum"]), 1e-30) for r in runs)
            relsq = max(abs(r["sumsq"] - ref[0]["sumsq"]) / max(abs(ref[0]["sumsq"]), 1e-30) for r in runs)
            order = v.split(":")[1]
            name = f"baseline `{sha[:7]}` (its default)" if order == "baseline" else f"`reorder={order!r}`" \
                if order != "none" else "`reorder=None`"
            vs_base = f"{base / med[v]:.2f}x" if base else "-"
            vs_plain = f"{plain / med[v]:.2f}x" if plain else "-"
            load = ", ".join(f"{r['load_before']:.1f}-{r['load_after']:.1f}" for r in runs)
            rows.append(f"| {label} | {name} | {med[v]:.2f} | {min(walls):.2f}-{max(walls):.2f} | {cpu:.2f} | "
                        f"{system:.2f} | {faults / 1e3:,.0f}k | {max(r['peak_rss_gb'] for r in runs):.1f} | {vs_base} | {vs_plain} | {max(rel, relsq):.1e} | "
                        f"{load} |")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} thread(s), " \
              f"torch {torch.__version__}"
    base_note = (f" Baseline: revision `{sha}` (`--baseline-rev {args.baseline_rev}`), run from a `git archive` "
                 "export with its own defaults." if sha else "")
    return (f"### Locality, end to end, fresh process per call: {n:,} nodes, {2 * m:,} directed edges, {f} features "
            f"(synthetic power-law, `--size {args.size}`)\n\n"
            f"Machine: {machine}; load average {loads[0]} before the run, {loads[1]} after. Median of "
            f"{args.repeat} interleaved rounds (CPU s, system s and faults: medians too); every call normalizes the "
            "adjacency (and orders and permutes it) "
            f"inside the timed call.{base_note} `check`: largest relative difference of the result's sum and sum "
            "of squares to the first variant's, over all rounds.\n\n"
            "| propagation | variant | wall (s) | min-max (s) | CPU s | of it system s | minor page faults | "
            "peak RSS (GB) | speed-up vs baseline | speed-up vs no order | check | load before-after, per round |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=sorted(SIZES), default="arxiv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--orders", nargs="+", default=["none", "dbg"], choices=["none", "rcm", "degree", "dbg", "auto"])
    p.add_argument("--baseline-rev", default=None, help="git revision to time the same calls on (its defaults)")
    p.add_argument("--only", choices=["gbp", "sgc"], default=None)
    p.add_argument("--repeat", type=int, default=5, help="interleaved rounds (>= 5 for a ratio to quote)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--alpha", type=float, default=0.1)
    p.add_argument("--L", type=int, default=10, help="hops of gbp_exact")
    p.add_argument("--K", type=int, default=2, help="hops of SGC")
    p.add_argument("--r", type=float, default=0.5)
    p.add_argument("--out", default=None, help="append the markdown table to this file")
    args = p.parse_args(argv)
    emit(run(args), args.out)


if __name__ == "__main__":
    main()
