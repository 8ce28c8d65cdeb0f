"""Peak memory of minCUT pooling: scalegnn's sparse path vs PyG's dense_mincut_pool.

One forward + backward (w.r.t. x and the assignment logits s) of minCUT
pooling on a random graph with N nodes, average degree 10, K = 16 clusters and
F = 32 features (float32). The dense path is what a user of PyG does today:
``to_dense_adj`` + ``to_dense_batch`` + ``dense_mincut_pool``.

* GPU (when CUDA is available): ``torch.cuda.max_memory_allocated`` around the
  call, in this process; a CUDA OOM is recorded as ``OOM``.
* CPU: every point runs in a fresh subprocess, whose peak RSS
  (``getrusage(RUSAGE_SELF).ru_maxrss``) minus its RSS after ``import torch``
  is reported, so the number includes the inputs. The machine is shared, so a
  point whose estimated need is above ``--cap-gb`` is not run and recorded as
  ``skipped: needs ~X GB``; the subprocess also runs under an address-space
  limit (``RLIMIT_AS``) of its post-import size plus the cap, so a
  misestimate ends as ``OOM`` instead of exhausting the machine.

Usage::

    python -m benchmarks.mincut_memory                       # default sizes, one graph per point
    python -m benchmarks.mincut_memory --graph-size 1000     # mini-batches of 1,000-node graphs
    python -m benchmarks.mincut_memory --sizes 1000 30000 --cap-gb 8 --out table.md
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional

DEFAULT_SIZES = [1_000, 3_000, 10_000, 20_000, 30_000, 100_000, 300_000, 1_000_000]
K, F, AVG_DEG = 16, 32, 10


def estimate_gb(method: str, n: int, num_graphs: int = 1, k: int = K, f: int = F, deg: int = AVG_DEG) -> float:
    """Rough peak need in GB (float32), used to skip points above the cap."""
    e = deg * n
    if method == "dense":
        nmax = -(-n // num_graphs)
        # dense adjacency + PyG's rank-3 degree diagonal (eye, expand product) and
        # the S^T D product: ~3.5 N^2 floats per graph, as measured (12.7 GB at N = 30k).
        dense = 3.5 * num_graphs * nmax * nmax * 4
        return (dense + e * 16 + n * (k + f) * 4 * 6) / 1e9
    # edge_index (int64) + COO copy for the sparse product + node-wise tensors.
    return (e * 8 * 2 * 3 + e * 4 * 2 + n * (k + f) * 4 * 10) / 1e9


def make_inputs(n: int, num_graphs: int, seed: int = 0, device: str = "cpu"):
    import torch

    g = torch.Generator().manual_seed(seed)
    per = -(-n // num_graphs)
    batch = (torch.arange(n) // per).clamp_max(num_graphs - 1)
    # edges inside each graph: random endpoints within the source's graph
    src = torch.randint(0, n, (AVG_DEG * n,), generator=g)
    lo = batch[src] * per
    hi = torch.minimum(lo + per, torch.tensor(n))
    dst = lo + (torch.rand(src.numel(), generator=g) * (hi - lo)).long()
    edge_index = torch.stack([src, dst]).to(device)
    x = torch.randn(n, F, generator=g).to(device).requires_grad_(True)
    s = torch.randn(n, K, generator=g).to(device).requires_grad_(True)
    return x, edge_index, s, batch.to(device)


def run_once(method: str, n: int, num_graphs: int, device: str = "cpu") -> float:
    """One forward + backward; returns seconds."""
    import torch

    x, edge_index, s, batch = make_inputs(n, num_graphs, device=device)
    t0 = time.perf_counter()
    if method == "sparse":
        from scalegnn.nn.mincut_pool import sparse_mincut_pool

        out, adj, l1, l2 = sparse_mincut_pool(x, edge_index, s, batch if num_graphs > 1 else None)
    else:
        from torch_geometric.nn import dense_mincut_pool
        from torch_geometric.utils import to_dense_adj, to_dense_batch

        xd, mask = to_dense_batch(x, batch)
        sd, _ = to_dense_batch(s, batch)
        a = to_dense_adj(edge_index, batch)
        out, adj, l1, l2 = dense_mincut_pool(xd, a, sd, mask)
    (out.sum() + adj.sum() + l1 + l2).backward()
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _child(method: str, n: int, num_graphs: int, cap_gb: float, threads: int) -> None:
    """Subprocess body (CPU): run one point, print a JSON line."""
    import resource

    import torch

    torch.set_num_threads(threads)
    import torch_geometric  # noqa: F401  (import cost outside the measurement)

    import scalegnn.nn.mincut_pool  # noqa: F401

    def rss_kb() -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def vms_bytes() -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        return 0

    base_kb = rss_kb()
    limit = vms_bytes() + int(cap_gb * 1e9)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        sec = run_once(method, n, num_graphs)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"status": "ok", "peak_gb": (peak_kb - base_kb) * 1024 / 1e9, "seconds": sec}))
    except (MemoryError, RuntimeError) as exc:  # allocation failure under RLIMIT_AS
        print(json.dumps({"status": "OOM", "error": str(exc).splitlines()[0][:120]}))


def measure_cpu(method: str, n: int, num_graphs: int, cap_gb: float, threads: int) -> Dict:
    need = estimate_gb(method, n, num_graphs)
    if need > cap_gb:
        return {"status": f"skipped: needs ~{need:.0f} GB"}
    cmd = [sys.executable, __file__, "--child", method, str(n), str(num_graphs), str(cap_gb), str(threads)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
    return {"status": "OOM" if proc.returncode in (-9, 137) or "memory" in tail[0].lower() else "error",
            "error": tail[0][:120]}


def measure_gpu(method: str, n: int, num_graphs: int, cap_gb: float) -> Dict:
    import torch

    need = estimate_gb(method, n, num_graphs)
    total = torch.cuda.get_device_properties(0).total_memory / 1e9
    if need > max(cap_gb, total) * 1.5:
        return {"status": f"skipped: needs ~{need:.0f} GB"}
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    try:
        sec = run_once(method, n, num_graphs, device="cuda")
        peak = (torch.cuda.max_memory_allocated() - base) / 1e9
        return {"status": "ok", "peak_gb": peak, "seconds": sec}
    except torch.cuda.OutOfMemoryError:
        return {"status": "OOM"}
    finally:
        torch.cuda.empty_cache()


def machine() -> str:
    import platform

    import torch
    import torch_geometric

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores; torch {torch.__version__}, "
            f"torch_geometric {torch_geometric.__version__}, Python {platform.python_version()}")


def fmt(r: Dict) -> str:
    if r.get("status") == "ok":
        return f"{r['peak_gb']:.3f} GB ({r['seconds']:.2f} s)"
    return r.get("status", "?")


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    p.add_argument("--graph-size", type=int, default=0,
                   help="split N into graphs of this many nodes (a PyG mini-batch); 0 = one graph")
    p.add_argument("--cap-gb", type=float, default=8.0, help="memory cap per point (CPU: shared machine)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--out", default=None, help="also write the markdown table here")
    args = p.parse_args(argv)

    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    where = (f"GPU {torch.cuda.get_device_name(0)}, torch.cuda.max_memory_allocated" if device == "cuda"
             else f"CPU, peak RSS of a subprocess per point minus its RSS after import, {args.threads} thread(s)")
    lines = [
        f"minCUT pooling, forward + backward, K={K}, F={F}, average degree {AVG_DEG}, float32; {where}; cap {args.cap_gb:g} GB.",
        f"Machine: {machine()}.",
        "",
        "| N | graphs | E | sparse (scalegnn) | dense (PyG to_dense_adj + dense_mincut_pool) |",
        "|---:|---:|---:|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for n in args.sizes:
        num_graphs = 1 if args.graph_size <= 0 else max(1, n // args.graph_size)
        row = []
        for method in ("sparse", "dense"):
            if device == "cuda":
                r = measure_gpu(method, n, num_graphs, args.cap_gb)
            else:
                r = measure_cpu(method, n, num_graphs, args.cap_gb, args.threads)
            row.append(fmt(r))
        line = f"| {n:,} | {num_graphs:,} | {AVG_DEG * n:,} | {row[0]} | {row[1]} |"
        lines.append(line)
        print(line, flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
