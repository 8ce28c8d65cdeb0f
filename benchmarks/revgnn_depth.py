"""Memory and time of one training step versus depth: RevGNN vs PyG GroupAddRev vs a plain residual GCN.

All four networks run on the same synthetic power-law graph (ogbn-arxiv size
by default: 169,343 nodes, 2,332,486 directed edges, 128 features, 40
classes), with 128 hidden channels, LayerNorm, dropout 0.1 and the same GCN
layer (:class:`scalegnn.nn.rev_gnn.GCNLayer`, equal to PyG's ``GCNConv`` on a
pre-normalized adjacency) on the same sparse CSR adjacency paired with its
transpose:

* ``revgnn``      -- :class:`scalegnn.nn.RevGNN` (G=2 groups, ``memory_saving=True``);
* ``revgnn-plain`` -- the same network through ordinary autograd (``memory_saving=False``);
* ``pyg-rev``     -- the same group functions wrapped in PyG's ``GroupAddRev``;
* ``plain-res``   -- a plain pre-activation residual GCN at full width
  (``h = h + GCN(dropout(relu(LN(h))))``), the usual deep GNN.

A step is forward + cross-entropy on every node + backward. All models of
one depth are built in one process and their steps interleaved round-robin
(so that load changes on a shared machine hit all of them alike); time is the
median over ``--repeat`` steps after one warm-up step. Memory:

* ``saved MB``: bytes autograd keeps for backward after the forward pass
  (:class:`scalegnn.nn.reversible.SavedTensorCounter`, parameters excluded).
  PyG's ``InvertibleFunction`` keeps its tensors outside autograd's saved-tensor
  mechanism, so this column undercounts ``pyg-rev``; read its peak column.
* GPU, ``peak MB``: ``torch.cuda.max_memory_allocated`` during the step minus
  the memory held before it.
* CPU, ``process peak RSS MB``: the operating system's peak resident set
  (``VmHWM``) of a fresh process that builds one model at one depth and runs
  ``--memory-steps`` training steps (forward, loss, backward, Adam), with no
  allocator setting of any kind: what a user's training process sees.
  ``above start MB`` is that peak minus the resident set after imports, graph
  and model were in place (before the first step).

On CPU the timing (all models of a depth in one process, interleaved) and the
memory (one process per model and depth) are separate runs, so that the peak
of one model does not hide another's.

Usage::

    python -m benchmarks.revgnn_depth                                  # GPU if present, arxiv size
    python -m benchmarks.revgnn_depth --nodes 20000 --depths 4 8 64 128 --threads 1  # reduced CPU run
    python -m benchmarks.revgnn_depth --out benchmarks/results/revgnn.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from scalegnn.data.adjacency import normalized_adjacency
from scalegnn.data.synthetic import synthetic_graph
from scalegnn.nn.rev_gnn import GCNLayer, RevGNN, RevGNNGroup, make_norm, paired_adjacency
from scalegnn.nn.reversible import SavedTensorCounter
from scalegnn.nn.shared_dropout import SharedDropout
from benchmarks._memory import proc_status_mb

MODELS = ("revgnn", "revgnn-plain", "pyg-rev", "plain-res")
ARXIV_NODES, ARXIV_EDGES = 169_343, 2_332_486


class PlainResGCN(torch.nn.Module):
    """Pre-activation residual GCN at full width (DeeperGCN's res+ without the reversible trick)."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_layers: int, dropout: float):
        super().__init__()
        self.encoder = torch.nn.Linear(in_channels, hidden)
        self.norms = torch.nn.ModuleList([torch.nn.LayerNorm(hidden) for _ in range(num_layers)])
        self.convs = torch.nn.ModuleList([GCNLayer(hidden, hidden) for _ in range(num_layers)])
        self.out_norm = torch.nn.LayerNorm(hidden)
        self.lin = torch.nn.Linear(hidden, out_channels)
        self.dropout = dropout

    def forward(self, x, adj):
        h = self.encoder(x)
        for norm, conv in zip(self.norms, self.convs):
            h = h + conv(F.dropout(F.relu(norm(h)), self.dropout, self.training), adj)
        return self.lin(F.relu(self.out_norm(h)))


class PyGRevGCN(torch.nn.Module):
    """The same network as RevGNN(conv='gcn'), built from PyG's GroupAddRev blocks."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_layers: int, dropout: float,
                 num_groups: int = 2):
        super().__init__()
        from torch_geometric.nn.models import GroupAddRev

        c = hidden // num_groups
        self.num_groups = num_groups
        self.encoder = torch.nn.Linear(in_channels, hidden)
        self.shared_dropout = SharedDropout(dropout)
        self.blocks = torch.nn.ModuleList([
            GroupAddRev(torch.nn.ModuleList([
                RevGNNGroup(make_norm("layer", c), self.shared_dropout, GCNLayer(c, c))
                for _ in range(num_groups)
            ]))
            for _ in range(num_layers)
        ])
        self.out_norm = torch.nn.LayerNorm(hidden)
        self.lin = torch.nn.Linear(hidden, out_channels)
        self.dropout = dropout

    def forward(self, x, adj):
        h = self.encoder(x)
        self.shared_dropout.resample((x.size(0), h.size(1) // self.num_groups), x.device, x.dtype)
        for block in self.blocks:
            h = block(h, adj)
        return self.lin(F.relu(self.out_norm(h)))


def build(model: str, depth: int, in_channels: int, hidden: int, out_channels: int, dropout: float):
    if model == "revgnn":
        return RevGNN(in_channels, hidden, out_channels, depth, conv="gcn", dropout=dropout, norm="layer")
    if model == "revgnn-plain":
        return RevGNN(in_channels, hidden, out_channels, depth, conv="gcn", dropout=dropout, norm="layer",
                      memory_saving=False)
    if model == "pyg-rev":
        return PyGRevGCN(in_channels, hidden, out_channels, depth, dropout)
    if model == "plain-res":
        return PlainResGCN(in_channels, hidden, out_channels, depth, dropout)
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def _graph(nodes: int, edges: int, device: str, seed: int = 0):
    data = synthetic_graph(nodes, edges, num_features=128, num_classes=40, seed=seed)
    dev = torch.device(device)
    # Every model gets the same GCN-normalized CSR matrix (PyG's adj_t orientation), paired with its
    # transpose, and the same GCN layer (GCNLayer: PyG's GCN propagation; SpMM backward by the stored transpose).
    adj = paired_adjacency(normalized_adjacency(data.edge_index, nodes, "sym").to(dev))
    return data.x.to(dev), data.y.to(dev), adj


def measure_process_peak(model: str, depth: int, nodes: int, edges: int, hidden: int, steps: int,
                         seed: int = 0) -> Dict[str, object]:
    """CPU, run in a fresh process: the OS's peak RSS over ``steps`` training steps of one model."""
    x, y, adj = _graph(nodes, edges, "cpu", seed)
    torch.manual_seed(seed)
    net = build(model, depth, x.size(1), hidden, 40, 0.1).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = proc_status_mb("VmRSS")
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(net(x, adj), y).backward()
        optimizer.step()
    peak = proc_status_mb("VmHWM")
    return {"model": model, "depth": depth, "process_peak_mb": peak, "above_start_mb": peak - start}


def measure_depth(models: List[str], depth: int, nodes: int, edges: int, hidden: int, repeat: int,
                  device: str, seed: int = 0) -> List[Dict[str, object]]:
    """All ``models`` at one depth on one graph; steps interleaved round-robin so load drifts hit all alike."""
    x, y, adj = _graph(nodes, edges, device, seed)
    dev = x.device
    results = {m: {"model": m, "depth": depth, "times": [], "peaks": []} for m in models}
    built = {}
    for name in models:
        torch.manual_seed(seed)
        built[name] = build(name, depth, x.size(1), hidden, 40, 0.1).to(dev).train()

    def step(name: str) -> None:
        model, res = built[name], results[name]
        for p in model.parameters():
            p.grad = None
        if dev.type == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        F.cross_entropy(model(x, adj), y).backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        res["times"].append(time.perf_counter() - t0)
        if dev.type == "cuda":
            res["peaks"].append((torch.cuda.max_memory_allocated() - base) / 2**20)

    alive = []
    for name in models:
        try:
            params = list(built[name].parameters())
            with SavedTensorCounter(exclude=params) as counter:
                out = built[name](x, adj)
            results[name]["saved_mb"] = counter.bytes / 2**20
            del out
            step(name)  # warm-up
            alive.append(name)
        except torch.OutOfMemoryError:
            results[name]["oom"] = True
            built[name] = None
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    for _ in range(repeat):
        for name in alive:
            step(name)
    rows = []
    for name in models:
        res = results[name]
        if name in alive:
            res["step_s"] = statistics.median(res["times"][1:])
            res["steps"] = len(res["times"]) - 1
            if res["peaks"]:
                res["peak_mb"] = max(res["peaks"])
        res.pop("times"), res.pop("peaks")
        rows.append(res)
    return rows


def _worker_cmd(args, role: str, depth: int, models: List[str]) -> List[str]:
    cmd = [sys.executable, "-m", "benchmarks.revgnn_depth", role, str(depth), "--models", *models,
           "--nodes", str(args.nodes), "--edges", str(args.edges), "--hidden", str(args.hidden),
           "--repeat", str(args.repeat), "--memory-steps", str(args.memory_steps), "--device", args.device]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    return cmd


def run_isolated(args, depth: int, models: List[str], role: str = "--worker") -> List[Dict[str, object]]:
    """CPU: one depth (``--worker``: timing, models interleaved) or one model (``--memory-worker``) per process.

    The child inherits this process's environment unchanged: no allocator variable is set.
    """
    proc = subprocess.run(_worker_cmd(args, role, depth, models), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["killed"])[-1]
        return [{"model": m, "depth": depth, "oom": proc.returncode < 0, "error": tail} for m in models]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return got if isinstance(got, list) else [got]


def _failure(r: Dict[str, object]) -> str:
    if r.get("oom"):
        return "OOM"
    return f"failed: {r['error']}" if "error" in r else "not run"


def table(rows: List[Dict[str, object]], depths: List[int], cpu: bool) -> str:
    """One row per model and depth; on CPU ``rows`` hold the timing and the memory runs' fields merged."""
    base = {r["depth"]: r for r in rows if r["model"] == "plain-res" and "step_s" in r}
    mem_head = "process peak RSS MB | above start MB" if cpu else "peak MB"
    lines = [f"| model | depth | step time (s) | time / plain-res | saved MB | {mem_head} |",
             "|---|---:|---:|---:|---:|---:|" + ("---:|" if cpu else "")]
    for depth in depths:
        for r in rows:
            if r["depth"] != depth:
                continue
            if "step_s" in r:
                ratio = f"{r['step_s'] / base[depth]['step_s']:.2f}x" if depth in base else "n/a"
                timing = f"{r['step_s']:.3f} | {ratio} | {r['saved_mb']:.1f}"
            else:
                timing = f"{_failure(r)} | |"
            if cpu:
                mem = (f"{r['process_peak_mb']:.0f} | {r['above_start_mb']:.0f}" if "process_peak_mb" in r
                       else f"{_failure(r.get('memory', {}))} |")
            else:
                mem = f"{r['peak_mb']:.1f}" if "peak_mb" in r else ""
            lines.append(f"| {r['model']} | {depth} | {timing} | {mem} |")
    return "\n".join(lines)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=ARXIV_NODES)
    parser.add_argument("--edges", type=int, default=None,
                        help="directed edges (default: ogbn-arxiv's average degree times --nodes)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--depths", type=int, nargs="+", default=[8, 64, 256, 1001])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--repeat", type=int, default=5, help="timed steps per model after a warm-up (median)")
    parser.add_argument("--memory-steps", type=int, default=3,
                        help="CPU: training steps in each model's own process for the peak RSS")
    parser.add_argument("--skip-memory", action="store_true", help="CPU: timing only")
    parser.add_argument("--skip-timing", action="store_true", help="CPU: peak RSS only")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); on small VMs 1 can be the fastest")
    parser.add_argument("--isolate-models", action="store_true",
                        help="CPU timing: one subprocess per model (no interleaving; an OOM kill takes only that "
                             "model)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    parser.add_argument("--worker", type=int, metavar="DEPTH", help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", type=int, metavar="DEPTH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.edges is None:
        args.edges = 2 * round(args.nodes * ARXIV_EDGES / ARXIV_NODES / 2)
    if args.worker:
        rows = measure_depth(args.models, args.worker, args.nodes, args.edges, args.hidden, args.repeat,
                             args.device)
        print(json.dumps(rows))
        return
    if args.memory_worker:
        (model,) = args.models
        print(json.dumps(measure_process_peak(model, args.memory_worker, args.nodes, args.edges, args.hidden,
                                              args.memory_steps)))
        return

    cpu = args.device == "cpu"
    load_before = _load()
    rows = []
    for depth in tqdm(args.depths, desc="depths"):
        if cpu and args.skip_timing:
            got = [{"model": m, "depth": depth} for m in args.models]
        elif cpu and args.isolate_models:
            got = [row for m in args.models for row in run_isolated(args, depth, [m])]
        elif cpu:
            got = run_isolated(args, depth, args.models)
            if any(r.get("oom") for r in got):  # the process died: measure each model on its own
                got = [row for m in args.models for row in run_isolated(args, depth, [m])]
        else:
            got = measure_depth(args.models, depth, args.nodes, args.edges, args.hidden, args.repeat, args.device)
            torch.cuda.empty_cache()
        if cpu and not args.skip_memory:
            for row in got:
                (mem,) = run_isolated(args, depth, [row["model"]], role="--memory-worker")
                if "process_peak_mb" in mem:
                    row.update(process_peak_mb=mem["process_peak_mb"], above_start_mb=mem["above_start_mb"])
                else:
                    row["memory"] = mem
        for res in got:
            print(json.dumps(res), flush=True)
        rows.extend(got)
    if args.device == "cuda":
        where = torch.cuda.get_device_name()
    else:
        where = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    memory = ("" if not cpu or args.skip_memory else
              f" Peak RSS: one fresh process per model and depth, {args.memory_steps} training steps, "
              f"no allocator setting.")
    header = (f"Device: {where}; torch {torch.__version__}; load average (1/5/15 min) {load_before} before, "
              f"{_load()} after. Graph: synthetic power-law, {args.nodes:,} nodes, "
              f"{args.edges:,} directed edges, 128 features, 40 classes; hidden {args.hidden}, GCN, "
              f"LayerNorm, dropout 0.1, RevGNN with 2 groups; step time: median of {args.repeat} interleaved "
              f"steps after a warm-up.{memory}")
    text = header + "\n\n" + table(rows, args.depths, cpu and not args.skip_memory) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
