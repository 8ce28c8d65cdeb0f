"""Distributed full-batch training: exchanged volume per partition method, epoch time, memory, cost model.

    python -m benchmarks.distributed volume   # rows / bytes / messages per layer, total and busiest rank
    python -m benchmarks.distributed timing   # epoch time and exchange share, 1..N gloo ranks vs PyG GCNConv
    python -m benchmarks.distributed memory   # per-rank peak memory for 1, 2, 4 ranks
    python -m benchmarks.distributed model    # projected epoch time for k = 8 .. 256 on a cluster
    python -m benchmarks.distributed all --out benchmarks/results/distributed.md

Graphs: the bundled Cora, the arXiv collaboration graph of ``$SCALEGNN_DATA`` (SNAP ca-AstroPh), a plain
Chung-Lu power-law graph of ogbn-arxiv size (169k nodes, 1.17M edges, gamma 2.5, no communities; these two
with random features and labels), and power-law graphs with planted communities (``scalegnn.data``'s
synthetic datasets) of ogbn-arxiv size and ogbn-products size (2.45M nodes, 61.9M edges). Rows sent per layer are
``partitioning.communication_volume`` of each partition, which the tests prove equal to the rows the halo
exchange sends; bytes assume float32 rows of ``--width`` columns. Training runs launch the project's
example (``examples/distributed_fullbatch.py``) on partition directories written once here, so each rank
reads only its part, exactly as a user's job does.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from benchmarks._memory import proc_status_mb

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "distributed_fullbatch.py"
METHODS = ("hypergraph", "refined-metis", "balanced-volume", "metis-volume", "metis", "random")
GRAPHS = {
    "cora": "cora-bundled",
    "arxiv-collab": "arxiv-collab",
    "powerlaw-arxiv": "powerlaw-169k-1.17M",
    "synthetic-arxiv": "synthetic-169k-1.17M",
    "synthetic-products": "synthetic-2.45M-61.9M",
}


def cache() -> Path:
    from scalegnn.data._paths import cache_dir

    path = cache_dir() / "bench-distributed"
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
            f"load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


# ---------------------------------------------------------------- graphs
def load_graph(name: str, seed: int = 0):
    """A node-classification ``LoadedDataset`` for ``name`` (random features/labels for arxiv-collab)."""
    import torch
    from torch_geometric.data import Data

    from scalegnn.data import LoadedDataset, load_dataset

    if name not in ("arxiv-collab", "powerlaw-arxiv"):
        return load_dataset(GRAPHS[name])
    if name == "arxiv-collab":
        from partitioning.readers import read_graph

        csr = read_graph("arxiv-collab").tocoo()
    else:
        from partitioning.synthetic import powerlaw_sbm_graph

        csr = powerlaw_sbm_graph(169_343, 1_166_243 // 2 * 2, num_blocks=1, seed=seed)[0].tocoo()
    n = csr.shape[0]
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.from_numpy(np.stack([csr.col, csr.row]).astype(np.int64))
    data = Data(x=torch.randn(n, 128, generator=g), edge_index=edge_index,
                y=torch.randint(0, 10, (n,), generator=g), num_nodes=n)
    perm = torch.randperm(n, generator=g)
    split = {"train": perm[: n // 2], "valid": perm[n // 2: 3 * n // 4], "test": perm[3 * n // 4:]}
    return LoadedDataset(name=name, task="node", split=split, num_features=128, num_classes=10,
                         metric="acc", data=data)


def graph_pattern(name: str):
    """The trained pattern (rows = targets) without building features, cached on disk.

    The products-size graph takes minutes and about 8 GB to generate with its features; its pattern alone
    (int32 indices) loads in seconds, so each partition job of a split run reads the cached pattern.
    """
    import scipy.sparse as sp

    path = cache() / f"pattern-{name}.npz"
    if path.exists():
        with np.load(path) as z:
            indices = z["indices"]
            return sp.csr_matrix((np.ones(indices.shape[0], dtype=np.int8), indices, z["indptr"]),
                                 shape=tuple(z["shape"]))
    from scalegnn.distributed import graph_csr, training_edge_index

    dataset = load_graph(name)
    n = dataset.data.num_nodes
    csr = graph_csr(training_edge_index(dataset.data.edge_index, n), n)
    del dataset
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, indptr=csr.indptr.astype(np.int64), indices=csr.indices.astype(np.int32),
             shape=np.asarray(csr.shape))
    os.replace(tmp, path)
    return csr


def _key(name: str, method: str, k: int, seed: int, preset: str, vcycles: int) -> str:
    """Cache key; the default settings keep the previous session's file names."""
    extra = "" if (preset, vcycles) == ("deterministic", 0) else f"-{preset}-v{vcycles}"
    return f"{name}-{method}-k{k}-s{seed}{extra}"


def parts_for(name: str, csr, method: str, k: int, seed: int = 0, preset: str = "deterministic",
              vcycles: int = 0, threads: Optional[int] = None) -> np.ndarray:
    """The partition of ``name`` into ``k`` parts by ``method``, cached on disk with its time."""
    from partitioning import partition_with_info

    path = cache() / f"parts-{_key(name, method, k, seed, preset, vcycles)}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["parts"]
    start = time.perf_counter()
    result = partition_with_info(csr, k, method=method, seed=seed, preset=preset, vcycles=vcycles,
                                 threads=threads, progress=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, parts=result.parts, seconds=time.perf_counter() - start,
             info=json.dumps(result.info, default=float))
    os.replace(tmp, path)
    return result.parts


def partition_seconds(name: str, method: str, k: int, seed: int = 0, preset: str = "deterministic",
                      vcycles: int = 0) -> Optional[float]:
    path = cache() / f"parts-{_key(name, method, k, seed, preset, vcycles)}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        return float(z["seconds"])


def partition_stats(name: str, method: str, k: int, seed: int = 0, preset: str = "deterministic",
                    vcycles: int = 0, threads: Optional[int] = None, csr=None) -> Dict:
    """Per-part owned rows, nonzeros, sent / received rows and messages of one partition, cached as JSON.

    Everything the volume table and the cost model need, so a report never reloads a big graph: each
    (graph, method, k) is computed by its own process (``partition`` subcommand) and a rerun resumes.
    """
    from partitioning import communication_volume

    path = cache() / f"stats-{_key(name, method, k, seed, preset, vcycles)}.json"
    if path.exists():
        return json.loads(path.read_text())
    load_start = os.getloadavg()[0]
    csr = graph_pattern(name) if csr is None else csr
    parts = parts_for(name, csr, method, k, seed, preset, vcycles, threads)
    cv = communication_volume(csr, parts, k)
    msgs = (cv.matrix > 0).sum(axis=1) + (cv.matrix > 0).sum(axis=0)
    with np.load(cache() / f"parts-{_key(name, method, k, seed, preset, vcycles)}.npz") as z:
        info = json.loads(str(z["info"])) if "info" in z.files else {}
    stats = {"graph": name, "method": method, "k": k, "seed": seed, "preset": preset, "vcycles": vcycles,
             "threads": threads, "n": int(csr.shape[0]), "nnz": int(csr.nnz),
             "owned": np.bincount(parts, minlength=k).tolist(),
             "part_nnz": np.bincount(parts, weights=np.diff(csr.indptr), minlength=k).astype(np.int64).tolist(),
             "send": np.asarray(cv.send).tolist(), "recv": np.asarray(cv.recv).tolist(), "messages": msgs.tolist(),
             "rows_total": int(cv.total), "messages_total": int(cv.messages),
             "partition_s": partition_seconds(name, method, k, seed, preset, vcycles),
             "peak_rss_mb": proc_status_mb("VmHWM"), "load_start": load_start, "load_end": os.getloadavg()[0],
             "info": info, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats))
    os.replace(tmp, path)
    return stats


# ---------------------------------------------------------------- volume
def volume_row(stats: Dict, width: int) -> Dict:
    """One row of the volume table from :func:`partition_stats`."""
    busiest = int(max(np.add(stats["send"], stats["recv"])))
    return {"graph": stats["graph"], "n": stats["n"], "nnz": stats["nnz"], "method": stats["method"], "k": stats["k"],
            "rows_total": stats["rows_total"], "rows_busiest": busiest,
            "bytes_total": stats["rows_total"] * width * 4, "bytes_busiest": busiest * width * 4,
            "messages_total": stats["messages_total"], "messages_busiest": int(max(stats["messages"])),
            "partition_s": stats["partition_s"], "peak_rss_mb": stats.get("peak_rss_mb")}


def find_stats(name: str, method: str, k: int) -> Optional[Path]:
    """The cached stats of (name, method, k, seed 0): the deterministic preset's if computed, else another preset's."""
    path = cache() / f"stats-{_key(name, method, k, 0, 'deterministic', 0)}.json"
    if path.exists():
        return path
    others = sorted(cache().glob(f"stats-{name}-{method}-k{k}-s0-*.json"))
    return others[0] if others else None


def cached_stats(name: str, method: str, k: int, cached_only: bool, csr=None) -> Optional[Dict]:
    """Stats for a report: a cached file of any preset, else (unless ``cached_only``) computed now."""
    path = find_stats(name, method, k)
    if path is not None:
        return json.loads(path.read_text())
    return None if cached_only else partition_stats(name, method, k, csr=csr)


def method_label(stats: Dict) -> str:
    extra = [] if stats["preset"] == "deterministic" or stats["method"] in ("metis", "metis-volume", "random") \
        else [f"{stats['preset']} preset"]
    extra += [f"{stats['vcycles']} V-cycles"] if stats["vcycles"] else []
    return stats["method"] + (f" ({', '.join(extra)})" if extra else "")


def volume_rows(graphs: List[str], parts: List[int], methods: List[str], width: int,
                cached_only: bool = False) -> List[Dict]:
    """Volume rows for every (graph, k, method); ``cached_only`` skips partitions not computed yet."""
    from tqdm.auto import tqdm

    rows = []
    for name in graphs:
        csr = None
        jobs = [(m, k) for k in parts for m in methods]
        for method, k in tqdm(jobs, desc=f"partitioning {name}", unit="partition"):
            if csr is None and not cached_only and find_stats(name, method, k) is None:
                csr = graph_pattern(name)
            stats = cached_stats(name, method, k, cached_only, csr)
            if stats is not None:
                rows.append({**volume_row(stats, width), "label": method_label(stats)})
    return rows


def format_volume(rows: List[Dict], width: int) -> str:
    out = [f"Per layer and direction (forward features; backward gradients mirror it), float32 rows of {width} "
           "columns. `x METIS` = total bytes relative to METIS (edge cut) at the same k.", "",
           "| graph | k | method | rows total | rows busiest (send+recv) | MB total | MB busiest | messages total | "
           "messages busiest | x METIS | partition s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r["graph"], r["k"]): r["bytes_total"] for r in rows if r["method"] == "metis"}
    for r in rows:
        ratio = r["bytes_total"] / base[(r["graph"], r["k"])] if (r["graph"], r["k"]) in base else float("nan")
        sec = "" if r["partition_s"] is None else f"{r['partition_s']:.1f}"
        out.append(f"| {r['graph']} | {r['k']} | {r.get('label', r['method'])} | {r['rows_total']:,} | {r['rows_busiest']:,} | "
                   f"{r['bytes_total'] / 1e6:.2f} | {r['bytes_busiest'] / 1e6:.2f} | {r['messages_total']} | "
                   f"{r['messages_busiest']} | {ratio:.3f} | {sec} |")
    return "\n".join(out)


# ---------------------------------------------------------------- training runs
def prepared_dir(name: str, k: int, method: str) -> Path:
    """A partition directory with features/labels/splits for ``name`` (written once, reused)."""
    from partitioning import PartitionFormatError, read_manifest
    from scalegnn.distributed import prepare_partitions

    path = cache() / f"dir-{name}-{method}-k{k}"
    try:
        read_manifest(path)
        return path
    except PartitionFormatError:
        pass
    dataset = load_graph(name)
    csr = graph_pattern(name)
    parts = parts_for(name, csr, method, k) if k > 1 else np.zeros(csr.shape[0], dtype=np.int64)
    prepare_partitions(dataset, k, path, parts=parts, overwrite=path.exists(),
                       extra={"dataset_arg": name, "method_arg": method})
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(partitions: Path, world: int, epochs: int, hidden: int, out: Path, model: str = "gcn",
           transport: str = "p2p") -> List[Dict]:
    """Run the example on ``world`` gloo ranks (one thread each); return its per-epoch records."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
               WORLD_SIZE=str(world), PYTHONWARNINGS="ignore")
    args = [sys.executable, str(EXAMPLE), "--partitions", str(partitions), "--epochs", str(epochs), "--quiet",
            "--hidden", str(hidden), "--model", model, "--dropout", "0.5", "--out", str(out), "--overwrite",
            "--checkpoint-every", str(epochs), "--transport", transport]
    procs = [subprocess.Popen(args, env=dict(env, RANK=str(r), LOCAL_RANK=str(r)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for r in range(world)]
    errors = [p.communicate()[1] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"training on {world} ranks failed:\n" + "\n".join(e[-2000:] for e in errors))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if not r.get("final")]


def pyg_epoch_seconds(name: str, epochs: int, hidden: int) -> List[float]:
    """PyG's own 2-layer GCNConv on the whole graph, one process, one thread: seconds per training step."""
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import GCNConv

    from scalegnn.distributed import training_edge_index

    torch.set_num_threads(1)
    dataset = load_graph(name)
    data = dataset.data
    edge_index = training_edge_index(data.edge_index, data.num_nodes)
    conv1 = GCNConv(data.num_features, hidden, cached=True)
    conv2 = GCNConv(hidden, dataset.num_classes, cached=True)
    params = list(conv1.parameters()) + list(conv2.parameters())
    opt = torch.optim.Adam(params, lr=0.01)
    train = dataset.split["train"]
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        opt.zero_grad()
        h = F.relu(conv1(F.dropout(data.x, 0.5), edge_index))
        out = conv2(F.dropout(h, 0.5), edge_index)
        F.cross_entropy(out[train], data.y[train]).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return times


def timing_rows(graphs: List[str], ranks: List[int], repeats: int, epochs: int, hidden: int,
                method: str, transports: List[str]) -> List[Dict]:
    """Interleaved repeats: each repeat runs PyG and every (rank count, transport) once, in turn; medians."""
    from tqdm.auto import tqdm

    rows = []
    for name in graphs:
        dirs = {k: prepared_dir(name, k, method) for k in ranks}
        setups = [(k, t) for k in ranks for t in (transports if k > 1 else transports[:1])]
        samples: Dict[str, List[Dict]] = {"pyg": [], **{f"{k}/{t}": [] for k, t in setups}}
        for _ in tqdm(range(repeats), desc=f"timing {name}", unit="repeat"):
            t = pyg_epoch_seconds(name, epochs, hidden)[1:]
            samples["pyg"].append({"epoch_s": statistics.median(t)})
            for k, transport in setups:
                recs = launch(dirs[k], k, epochs, hidden, cache() / f"run-{name}-{k}", transport=transport)[1:]
                samples[f"{k}/{transport}"].append({
                    "epoch_s": statistics.median(r["step_s"] for r in recs),
                    "wait_share": statistics.median(r["comm_wait_share"] for r in recs),
                    "peak_mb": max(r["max_rank_peak_memory_mb"] for r in recs),
                    "val_acc": recs[-1].get("val_acc")})
        base = statistics.median(s["epoch_s"] for s in samples["pyg"])
        rows.append({"graph": name, "setup": "PyG GCNConv, 1 process", "epoch_s": base, "vs_pyg": 1.0})
        for k, transport in setups:
            s = samples[f"{k}/{transport}"]
            med = statistics.median(x["epoch_s"] for x in s)
            label = f"scalegnn, {k} rank{'s' if k > 1 else ''}" + (f" ({method}, {transport})" if k > 1 else "")
            rows.append({"graph": name, "setup": label,
                         "epoch_s": med, "vs_pyg": med / base,
                         "wait_share": statistics.median(x["wait_share"] for x in s),
                         "peak_mb": statistics.median(x["peak_mb"] for x in s)})
    return rows


def format_timing(rows: List[Dict], repeats: int, epochs: int) -> str:
    out = [f"Training step of a 2-layer GCN (forward, backward, gradient all-reduce, Adam), median over epochs 2..{epochs}"
           f" of each run, then median of {repeats} interleaved repeats. `exchange share`: time the slowest rank "
           "was blocked on halo exchanges / step time. One thread per rank.", "",
           "| graph | setup | step s | vs PyG | exchange share | peak RSS per rank MB |", "|---|---|---|---|---|---|"]
    for r in rows:
        share = f"{r['wait_share']:.2f}" if "wait_share" in r else ""
        peak = f"{r['peak_mb']:.0f}" if "peak_mb" in r else ""
        out.append(f"| {r['graph']} | {r['setup']} | {r['epoch_s']:.4f} | {r['vs_pyg']:.2f}x | {share} | {peak} |")
    return "\n".join(out)


def memory_rows(name: str, ranks: List[int], method: str, hidden: int) -> List[Dict]:
    """Per-rank peak resident memory and the bytes of the rank's graph data, for each rank count."""
    from partitioning import read_partitions

    rows = []
    for k in ranks:
        directory = prepared_dir(name, k, method)
        recs = launch(directory, k, 3, hidden, cache() / f"mem-{name}-{k}")
        peak = recs[-1]["comm_per_rank"]["peak_memory_mb"]
        data_mb = []
        for r in range(k):
            part = read_partitions(directory, r, verify=False, mmap=True)
            arrays = [part.features, part.labels, part.indices, part.local_to_global, part.send_local,
                      *part.node_data.values()]
            data_mb.append(sum(np.asarray(a).nbytes for a in arrays) / 2**20)
        rows.append({"graph": name, "ranks": k, "peak_mb_max": max(peak), "peak_mb_min": min(peak),
                     "data_mb_max": max(data_mb)})
    return rows


def format_memory(rows: List[Dict]) -> str:
    out = ["Peak resident set of each rank (VmHWM, includes ~300-400 MB of Python/torch/PyG) and the bytes of "
           "the largest rank's own graph data (features, labels, local edges, exchange lists, masks).", "",
           "| graph | ranks | peak RSS per rank MB (max / min) | graph data of the largest rank MB |",
           "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['graph']} | {r['ranks']} | {r['peak_mb_max']:.0f} / {r['peak_mb_min']:.0f} | "
                   f"{r['data_mb_max']:.1f} |")
    return "\n".join(out)


# ---------------------------------------------------------------- cost model
def spmm_throughput(csr, width: int) -> Dict[str, float]:
    """Single-thread SpMM (nonzeros x columns per second) and GEMM (flop/s) rates on this machine.

    The SpMM multiplies the first 200k rows by the feature rows they reference (columns renumbered, as a
    rank's local matrix over ``[owned | halo]`` ids). Rates divide by the calling thread's CPU time
    (``time.thread_time``; with one torch thread the kernels run in the caller), so a loaded machine,
    which takes the core away between time slices, does not slow them; wall-clock rates are kept beside.
    """
    import torch

    torch.set_num_threads(1)
    rows = min(csr.shape[0], 200_000)
    sub = csr[:rows]
    cols, local = np.unique(sub.indices, return_inverse=True)
    a = torch.sparse_csr_tensor(torch.from_numpy(sub.indptr.astype(np.int64)),
                                torch.from_numpy(local.astype(np.int64).ravel()),
                                torch.ones(sub.nnz), size=(rows, cols.shape[0]))
    x = torch.randn(cols.shape[0], width)
    w = torch.randn(width, width)
    samples: Dict[str, List[float]] = {"spmm": [], "gemm": [], "spmm_wall": [], "gemm_wall": []}
    for _ in range(5):
        for name, fn in (("spmm", lambda: torch.sparse.mm(a, x)), ("gemm", lambda: x[:rows] @ w)):
            wall, cpu = time.perf_counter(), time.thread_time()
            fn()
            samples[name].append(time.thread_time() - cpu)
            samples[f"{name}_wall"].append(time.perf_counter() - wall)
    work = {"spmm": sub.nnz * width, "gemm": 2 * rows * width * width}
    return {"spmm_rate": work["spmm"] / statistics.median(samples["spmm"]),
            "gemm_rate": work["gemm"] / statistics.median(samples["gemm"]),
            "spmm_rate_wall": work["spmm"] / statistics.median(samples["spmm_wall"]),
            "gemm_rate_wall": work["gemm"] / statistics.median(samples["gemm_wall"])}


def project(stats: Dict, width: int, layers: int, rates: Dict[str, float], bandwidth: float, latency: float,
            oversubscription: float) -> Dict[str, float]:
    """Epoch time of bulk-synchronous row-parallel GCN training on ``k`` ranks (see ``format_model``)."""
    k = stats["k"]
    owned, nnz = np.asarray(stats["owned"], float), np.asarray(stats["part_nnz"], float)
    send, recv, msgs = (np.asarray(stats[f], float) for f in ("send", "recv", "messages"))
    row_bytes = width * 4
    # per layer: forward SpMM + backward SpMM, forward GEMM + 2 backward GEMMs, on the slowest rank
    compute = (2 * nnz * width / rates["spmm_rate"] + 3 * 2 * owned * width * width / rates["gemm_rate"]).max()
    busiest = (latency * msgs + (send + recv) * row_bytes / bandwidth).max()
    network = stats["rows_total"] * row_bytes / (k * bandwidth / oversubscription)  # all traffic through the core
    comm = max(busiest, network)
    return {"compute_s": layers * compute, "busiest_s": 2 * layers * busiest, "network_s": 2 * layers * network,
            "epoch_s": layers * compute + 2 * layers * comm, "decided_by": "busiest rank" if busiest >= network
            else "total volume", "nnz_max_over_mean": float(nnz.max() / nnz.mean()),
            "rows_busiest_over_mean": float((send + recv).max() / max((send + recv).mean(), 1e-12))}


def measured_rates(graph: str, width: int) -> Dict[str, float]:
    """SpMM / GEMM rates on ``graph``'s pattern, measured once per graph and cached with the machine load."""
    path = cache() / f"rates-{graph}-w{width}.json"
    if path.exists():
        return json.loads(path.read_text())
    rates = {**spmm_throughput(graph_pattern(graph), width), "machine": machine()}
    path.write_text(json.dumps(rates))
    return rates


def model_rows(graph: str, parts_list: List[int], methods: List[str], width: int, layers: int, bandwidth: float,
               latency: float, oversubscription: float, cached_only: bool = False) -> List[Dict]:
    rates = measured_rates(graph, width)
    rows = []
    for k in parts_list:
        for method in methods:
            stats = cached_stats(graph, method, k, cached_only)
            if stats is None:
                continue
            for over in (1.0, oversubscription):
                rows.append({"graph": graph, "k": k, "method": method, "label": method_label(stats),
                             "oversubscription": over,
                             **project(stats, width, layers, rates, bandwidth, latency, over),
                             **{f: rates[f] for f in ("spmm_rate", "gemm_rate", "spmm_rate_wall", "gemm_rate_wall")}})
    return rows


def format_model(rows: List[Dict], width: int, layers: int, bandwidth: float, latency: float) -> str:
    r0 = rows[0]
    out = [f"Projected epoch time of a {layers}-layer GCN with {width} hidden columns on `{r0['graph']}`, real "
           f"partitions at each k. Compute per rank from this machine's single-thread rates (SpMM "
           f"{r0['spmm_rate'] / 1e9:.2f} G nnz-columns/s, GEMM {r0['gemm_rate'] / 1e9:.2f} GFLOP/s per CPU second; "
           f"{r0['spmm_rate_wall'] / 1e9:.2f} and {r0['gemm_rate_wall'] / 1e9:.2f} per wall second under the load "
           f"of the measurement) on the slowest "
           "rank; each layer's exchange (forward and backward) costs "
           f"max(busiest rank: latency x messages + (send + recv) bytes / NIC bandwidth, all bytes / core bandwidth) with "
           f"NIC bandwidth {bandwidth / 1e9:.1f} GB/s, latency {latency * 1e6:.0f} us, and a core of k NICs' bandwidth "
           "divided by the oversubscription factor. `decided by` says which term set the exchange time.", "",
           "`nnz max/mean`: the busiest rank's nonzeros over the mean (compute imbalance); `rows max/mean`: the "
           "busiest rank's sent + received rows over the mean.", "",
           "| k | method | oversubscription | compute s | busiest-rank exchange s | core exchange s | epoch s | "
           "decided by | nnz max/mean | rows max/mean |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['k']} | {r.get('label', r['method'])} | {r['oversubscription']:g}:1 | {r['compute_s']:.4f} | "
                   f"{r['busiest_s']:.4f} | {r['network_s']:.4f} | {r['epoch_s']:.4f} | {r['decided_by']} | "
                   f"{r['nnz_max_over_mean']:.2f} | {r['rows_busiest_over_mean']:.2f} |")
    return "\n".join(out)


# ---------------------------------------------------------------- the 0.8x target
def parse_config(text: str):
    """``method:preset:vcycles`` (e.g. ``hypergraph:quality:2``) -> a tuple."""
    try:
        method, preset, vcycles = text.split(":")
        return method, preset, int(vcycles)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected method:preset:vcycles, got {text!r}") from None


def target_rows(graph: str, parts: List[int], configs: List, seeds: List[int], threads: Optional[int],
                cached_only: bool = False) -> List[Dict]:
    """Total volume of each (method, preset, V-cycles, seed) relative to METIS (edge cut, seed 0) at each k."""
    rows = []
    for k in parts:
        base = partition_stats(graph, "metis", k)["rows_total"]
        for method, preset, vcycles in configs:
            for seed in seeds:
                if cached_only and not (cache() / f"stats-{_key(graph, method, k, seed, preset, vcycles)}.json").exists():
                    continue
                st = partition_stats(graph, method, k, seed, preset, vcycles, threads)
                imb = max(st["owned"]) / (st["n"] / k) - 1
                rows.append({"graph": graph, "k": k, "method": method, "preset": preset, "vcycles": vcycles,
                             "seed": seed, "rows_total": st["rows_total"], "x_metis": st["rows_total"] / base,
                             "rows_busiest": int(max(np.add(st["send"], st["recv"]))), "imbalance": imb,
                             "seconds": st["partition_s"], "threads": st["threads"],
                             "load": (st["load_start"], st["load_end"])})
    return rows


def format_target(rows: List[Dict]) -> str:
    out = ["Total rows sent per layer relative to METIS (edge cut, seed 0) at the same k, imbalance bound 0.03 for "
           "every run (`imbalance` is the largest part's excess over n/k).", "",
           "| graph | k | method | preset | V-cycles | seed | rows total | x METIS | rows busiest | imbalance | "
           "threads | partition s | load start/end |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['graph']} | {r['k']} | {r['method']} | {r['preset']} | {r['vcycles']} | {r['seed']} | "
                   f"{r['rows_total']:,} | {r['x_metis']:.3f} | {r['rows_busiest']:,} | {r['imbalance']:.3f} | "
                   f"{r['threads'] or 'all'} | {r['seconds']:.1f} | {r['load'][0]:.1f}/{r['load'][1]:.1f} |")
    best: Dict = {}
    for r in rows:
        if r["method"] != "metis":
            key = (r["graph"], r["k"])
            best[key] = min(best.get(key, r), r, key=lambda x: x["x_metis"])
    out += ["", "| graph | k | best x METIS | by |", "|---|---|---|---|"]
    for (g, k), r in sorted(best.items()):
        out.append(f"| {g} | {k} | {r['x_metis']:.3f} | {r['method']} {r['preset']} v{r['vcycles']} seed {r['seed']} |")
    return "\n".join(out)


def plot(volume: List[Dict], model: List[Dict], path: Path) -> None:
    """Bytes relative to METIS per graph; with a model, projected epoch time and which exchange term decides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graphs = sorted({r["graph"] for r in volume})
    panels = len(graphs) + (2 if model else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 3.9))
    axes = np.atleast_1d(axes)
    colors = {m: f"C{i}" for i, m in enumerate(METHODS)}
    for ax, g in zip(axes, graphs):
        rows = [r for r in volume if r["graph"] == g]
        base = {r["k"]: r for r in rows if r["method"] == "metis"}
        for method in dict.fromkeys(r["method"] for r in rows):
            pts = [(r["k"], r["bytes_total"] / base[r["k"]]["bytes_total"], r["bytes_busiest"] / base[r["k"]]["bytes_busiest"])
                   for r in rows if r["method"] == method and r["k"] in base]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{method} total",
                    color=colors.get(method))
            ax.plot([p[0] for p in pts], [p[2] for p in pts], marker="x", ls="--", color=colors.get(method))
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_title(f"{g}: bytes / METIS (o total, x busiest)", fontsize=9)
        ax.set_xlabel("k")
        ax.legend(fontsize=7)
    if model:
        ax, ax2 = axes[-2], axes[-1]
        over = max(r["oversubscription"] for r in model)
        for method in dict.fromkeys(r["method"] for r in model):
            for o, ls in ((1.0, "-"), (over, ":")):
                rows = [r for r in model if r["method"] == method and r["oversubscription"] == o]
                ax.plot([r["k"] for r in rows], [r["epoch_s"] for r in rows], ls=ls, marker="o",
                        color=colors.get(method), label=f"{method} {o:g}:1")
            rows = [r for r in model if r["method"] == method and r["oversubscription"] == over]
            ax2.plot([r["k"] for r in rows], [r["network_s"] / r["busiest_s"] for r in rows], marker="o",
                     color=colors.get(method), label=method)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"projected epoch time, {model[0]['graph']} (- 1:1, : {over:g}:1)", fontsize=9)
        ax.set_xlabel("k")
        ax.legend(fontsize=6)
        ax2.axhline(1.0, color="gray", lw=0.8)
        ax2.set_xscale("log", base=2)
        ax2.set_yscale("log")
        ax2.set_title(f"core / busiest-rank exchange time at {over:g}:1\n(> 1: total volume decides)", fontsize=9)
        ax2.set_xlabel("k")
        ax2.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["partition", "volume", "timing", "memory", "model", "target", "all"])
    p.add_argument("--graphs", nargs="+", choices=list(GRAPHS),
                   default=["cora", "arxiv-collab", "powerlaw-arxiv", "synthetic-arxiv"])
    p.add_argument("--parts", nargs="+", type=int, default=[2, 4, 8])
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--width", type=int, default=256, help="columns of an exchanged row (hidden size)")
    p.add_argument("--ranks", nargs="+", type=int, default=None, help="rank counts to train with (default: 1..cores)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--transports", nargs="+", choices=["p2p", "alltoall"], default=["p2p", "alltoall"])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--timing-graphs", nargs="+", choices=list(GRAPHS), default=None)
    p.add_argument("--memory-graph", choices=list(GRAPHS), default="synthetic-arxiv")
    p.add_argument("--model-graph", choices=list(GRAPHS), default="powerlaw-arxiv")
    p.add_argument("--model-parts", nargs="+", type=int, default=[8, 16, 32, 64, 128, 256])
    p.add_argument("--model-methods", nargs="+", choices=METHODS, default=["hypergraph", "metis-volume", "metis"])
    p.add_argument("--bandwidth", type=float, default=12.5e9, help="NIC bandwidth, bytes/s (100 Gb/s)")
    p.add_argument("--latency", type=float, default=5e-6, help="per-message latency, seconds")
    p.add_argument("--oversubscription", type=float, default=4.0)
    p.add_argument("--cached-only", action="store_true",
                   help="volume/model: report only the partitions already computed (by `partition` jobs)")
    p.add_argument("--preset", default="deterministic", help="partition: Mt-KaHyPar preset")
    p.add_argument("--vcycles", type=int, default=0, help="partition: Mt-KaHyPar V-cycles")
    p.add_argument("--threads", type=int, default=None, help="partition/target: Mt-KaHyPar threads (default all)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--configs", nargs="+", type=parse_config,
                   default=[("hypergraph", "deterministic", 0), ("hypergraph", "quality", 0)],
                   help="target: method:preset:vcycles entries")
    p.add_argument("--out", default=None, help="write a Markdown report here (and a PNG next to it)")
    args = p.parse_args(argv)
    ranks = args.ranks or [k for k in (1, 2, 4, 8) if k <= (os.cpu_count() or 1)]
    sections = [f"Machine: {machine()}", f"Command: `python -m benchmarks.distributed {' '.join(argv or sys.argv[1:])}`"]
    volume, model = [], []
    if args.what == "partition":  # one job per (graph, method, k, seed): computes and caches parts and stats
        for name in args.graphs:
            for k in args.parts:
                for method in args.methods:
                    for seed in args.seeds:
                        st = partition_stats(name, method, k, seed, args.preset, args.vcycles, args.threads)
                        print(json.dumps({f: st[f] for f in ("graph", "method", "k", "seed", "preset", "vcycles",
                                                             "rows_total", "partition_s", "peak_rss_mb")}))
        return 0
    if args.what == "target":
        rows = target_rows(args.model_graph, args.parts, args.configs, args.seeds, args.threads, args.cached_only)
        sections += ["## The 0.8x target", format_target(rows)]
        print(sections[-1])
    if args.what in ("volume", "all"):
        volume = volume_rows(args.graphs, args.parts, args.methods, args.width, args.cached_only)
        sections += ["## Exchanged volume per layer", format_volume(volume, args.width)]
        print(sections[-1])
    if args.what in ("timing", "all"):
        timing = timing_rows(args.timing_graphs or args.graphs, ranks, args.repeats, args.epochs, 16, "hypergraph",
                             args.transports)
        sections += ["## Training step time", format_timing(timing, args.repeats, args.epochs)]
        print(sections[-1])
    if args.what in ("memory", "all"):
        memory = memory_rows(args.memory_graph, [1, 2, 4], "hypergraph", 16)
        sections += ["## Memory per rank", format_memory(memory)]
        print(sections[-1])
    if args.what in ("model", "all"):
        model = model_rows(args.model_graph, args.model_parts, args.model_methods, args.width, 2, args.bandwidth,
                           args.latency, args.oversubscription, args.cached_only)
        sections += ["## Cost model", format_model(model, args.width, 2, args.bandwidth, args.latency)]
        print(sections[-1])
    sections.append(f"Finished: {machine()}")
    if args.out:
        out = Path(args.out)
        out.write_text("# Distributed full-batch training\n\n" + "\n\n".join(sections) + "\n")
        if volume or model:
            plot(volume, model, out.with_suffix(".png"))
        print(f"written {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
