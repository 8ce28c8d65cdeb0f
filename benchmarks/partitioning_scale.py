"""How far each partitioner scales: time and peak memory on synthetic power-law graphs, k = 8.

Every (size, method) point runs in its own subprocess under a memory cap
(address-space limit via ``resource.setrlimit`` plus a resident-set watchdog)
and a wall-clock cap, so one point cannot take the machine down and the peak
memory is that point's alone. The worker generates the graph, partitions it,
measures the exact communication volume and writes the partition directory,
timing each stage. A method that fails at one size is not tried at larger ones.

    python -m benchmarks.partitioning_scale --sizes 100k:2.5M 300k:7.5M 1M:25M 2.4M:60M \\
        --methods random metis metis-volume refined-metis hypergraph --threads 2 --mem-gb 14 --time-min 30 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from partitioning.partition import METHODS

ROOT = Path(__file__).resolve().parents[1]


def _count(text: str) -> int:
    from partitioning.synthetic import _parse_count
    return _parse_count(text, "count", text)


def worker(args) -> None:
    cap = int(args.mem_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap + (2 << 30), cap + (2 << 30)))  # + headroom for thread stacks
    from partitioning.artifacts import write_partitions
    from partitioning.metrics import communication_volume, imbalance
    from partitioning.partition import partition_with_info
    from partitioning.synthetic import synthetic_graph_blocks

    out = {"nodes": args.nodes, "edges": args.edges, "method": args.method, "k": args.k,
           "loadavg_start": os.getloadavg()[0]}
    t = time.perf_counter()
    graph, _ = synthetic_graph_blocks("powerlaw", args.nodes, args.edges, seed=0)
    out["generate_s"] = time.perf_counter() - t
    out["rss_after_generate_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"stage": "generated", **out}), flush=True)
    result = partition_with_info(graph, args.k, args.method, 0.03, 0, args.threads)
    out["partition_s"] = result.seconds
    out.update({k: v for k, v in result.info.items() if k.endswith("seconds") or k in ("pins", "nets", "km1")})
    t = time.perf_counter()
    cv = communication_volume(graph, result.parts, args.k)
    out["volume_s"] = time.perf_counter() - t
    out["volume"] = cv.total
    out["max_per_part"] = cv.max_per_part
    out["imbalance"] = imbalance(result.parts, args.k)
    with tempfile.TemporaryDirectory(prefix="scalegnn-scale-") as tmp:
        t = time.perf_counter()
        write_partitions(Path(tmp) / "parts", graph, result.parts, k=args.k, method=args.method)
        out["write_s"] = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_rss_gb"] = usage.ru_maxrss / 2**20
    out["cpu_s"] = usage.ru_utime + usage.ru_stime  # vs wall time: how much CPU the shared machine gave us
    out["loadavg_end"] = os.getloadavg()[0]
    print(json.dumps({"stage": "done", **out}), flush=True)


def run_point(nodes: int, edges: int, method: str, args) -> dict:
    import psutil

    cmd = [sys.executable, __file__, "--worker", "--nodes", str(nodes), "--edges", str(edges), "--method", method,
           "--k", str(args.k), "--threads", str(args.threads), "--mem-gb", str(args.mem_gb)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS=str(args.threads))
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ps = psutil.Process(proc.pid)
    peak, status = 0.0, None
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss / 2**30
        except psutil.Error:
            rss = 0.0
        peak = max(peak, rss)
        if rss > args.mem_gb:
            status = f"stopped: resident memory passed the {args.mem_gb:g} GB cap"
        elif time.time() - start > args.time_min * 60:
            status = f"stopped: ran past the {args.time_min:g} min cap"
        if status:
            proc.kill()
            break
        time.sleep(0.5)
    stdout, stderr = proc.communicate()
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    row = records[-1] if records else {"nodes": nodes, "edges": edges, "method": method}
    row.pop("stage", None)
    row["wall_s"] = time.time() - start
    row["watchdog_peak_rss_gb"] = peak
    if status is None and proc.returncode != 0:
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {proc.returncode}"
        status = "failed: " + ("out of memory under the cap" if "MemoryError" in stderr or "bad_alloc" in stderr
                               else tail[:200])
    row["status"] = status or "ok"
    return row


def render(paths) -> str:
    """A Markdown table of JSON-lines result files (several runs may be merged), ordered by size then method."""
    order = {"random": 0, "metis": 1, "metis-volume": 2, "refined-metis": 3, "hypergraph": 4}
    rows = [json.loads(line) for path in paths for line in open(path) if line.strip()]
    rows.sort(key=lambda r: (r["nodes"], order.get(r["method"], 9)))
    out = ["| nodes | directed edges | method | generate (s) | hypergraph build + hMETIS write (s) | "
           "partition (s, total) | CPU (s) | load avg | volume metric (s) | write partitions (s) | "
           "peak RSS (GB) | volume (rows/layer) | imbalance | status |",
           "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        def f(key, spec="{:.1f}"):
            return spec.format(r[key]) if r.get(key) is not None else "-"
        prep = (f"{r['build_seconds'] + r['hmetis_write_seconds']:.1f}"
                if r.get("hmetis_write_seconds") is not None else "-")
        peak = max(r.get("peak_rss_gb", 0.0), r.get("watchdog_peak_rss_gb", 0.0))
        peak_text = f"{peak:.1f}" if ("peak_rss_gb" in r or "watchdog_peak_rss_gb" in r) else "-"
        load = f"{r['loadavg_start']:.0f}-{r['loadavg_end']:.0f}" if "loadavg_end" in r else f("loadavg_start", "{:.0f}")
        out.append(f"| {r['nodes']:,} | {r['edges']:,} | {r['method']} | {f('generate_s')} | {prep} | "
                   f"{f('partition_s')} | {f('cpu_s', '{:.0f}')} | {load} | {f('volume_s')} | {f('write_s')} | "
                   f"{peak_text} | {f('volume', '{:,}')} | {f('imbalance', '{:.3f}')} | {r['status']} |")
    return "\n".join(out)


def fmt_row(r: dict) -> str:
    def f(key, spec="{:.1f}"):
        return spec.format(r[key]) if key in r else "-"
    peak = max(r.get("peak_rss_gb", 0.0), r.get("watchdog_peak_rss_gb", 0.0))
    return (f"| {r['nodes']:,} | {r['edges']:,} | {r['method']} | {f('generate_s')} | {f('build_seconds')} | "
            f"{f('partition_s')} | {f('volume_s')} | {f('write_s')} | {peak:.1f} | "
            f"{f('volume', '{:,}')} | {f('imbalance', '{:.3f}')} | {r['status']} |")


HEADER = ("| nodes | directed edges | method | generate (s) | hypergraph build (s) | partition (s, total) | "
          "volume metric (s) | write partitions (s) | peak RSS (GB) | volume | imbalance | status |\n"
          "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["100k:2.5M", "300k:7.5M", "1M:25M", "2.4M:60M"],
                   help="nodes:directed_edges pairs")
    p.add_argument("--methods", nargs="+", choices=METHODS,
                   default=["random", "metis", "metis-volume", "refined-metis", "hypergraph"])
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mem-gb", type=float, default=14.0)
    p.add_argument("--time-min", type=float, default=30.0)
    p.add_argument("--json", default=None, help="append result rows (JSON lines) here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--nodes", type=int, help=argparse.SUPPRESS)
    p.add_argument("--edges", type=int, help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--render", nargs="+", default=None, help="print the Markdown table of these JSON-lines files")
    args = p.parse_args()
    if args.render:
        print(render(args.render))
        return
    if args.worker:
        worker(args)
        return
    print(HEADER, flush=True)
    failed = {}
    for size in args.sizes:
        n_text, m_text = size.split(":")
        nodes, edges = _count(n_text), _count(m_text)
        for method in args.methods:
            if method in failed:
                row = {"nodes": nodes, "edges": edges, "method": method,
                       "status": f"not attempted: {method} already stopped at {failed[method]:,} nodes"}
            else:
                row = run_point(nodes, edges, method, args)
                if row["status"] != "ok":
                    failed[method] = nodes
            print(fmt_row(row), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
