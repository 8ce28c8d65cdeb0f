"""SEAL subgraph extraction throughput: batched ``extract_enclosing_subgraphs`` vs PyG's example method.

Both produce, for each target pair, the h-hop enclosing subgraph with the
target edge removed and DRNL labels. The PyG method is the one of PyG's
``examples/seal_link_pred.py`` (rewritten here): per pair, one
``k_hop_subgraph`` call on the whole graph, edge masks to drop the target
link, and two scipy ``shortest_path`` calls for DRNL. Ours extracts a whole
batch of pairs in one vectorized call (:mod:`scalegnn.linkpred.extract`).

Pairs: half existing edges, half uniformly random non-adjacent pairs (the mix
SEAL trains on), the same pairs for both methods. Timing is interleaved
(``--repeat`` rounds of PyG on ``--pyg-pairs`` pairs, then ours on
``--pairs`` pairs, ``--batch-size`` per call) and the medians are reported as subgraphs per second. A
correctness check compares node sets, edge counts and labels of the two
methods on the first pairs.

Peak memory: each configuration of ours also runs in a fresh process that
reports its peak resident set (``VmHWM``) above its resident set after the
graph is loaded, for several batch sizes and two numbers of links: the peak
follows the batch size, not the number of links.

Usage::

    python -m benchmarks.seal_extraction                      # arXiv collaboration graph + 5M-edge power-law graph
    python -m benchmarks.seal_extraction --graphs arxiv-collab --hops 1 --repeat 3
    python -m benchmarks.seal_extraction --out benchmarks/results/seal_extraction.json
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
from typing import Dict, List

import numpy as np
import torch

from scalegnn.linkpred import CSRGraph, extract_enclosing_subgraphs, sample_negative_pairs
from benchmarks._memory import proc_status_mb


def load_graph(name: str, root=None):
    from scalegnn.data import load_dataset
    from scalegnn.data.synthetic import synthetic_graph

    if name.startswith("synthetic-"):
        from partitioning.synthetic import parse_synthetic_name

        _, n, m = parse_synthetic_name(name)
        data = synthetic_graph(n, m, num_features=1, seed=0)
        return data.edge_index, n
    data = load_dataset(name, root=root).data
    ei = data.edge_index
    ei = ei[:, ei[0] != ei[1]]  # the PyG example's graphs have no self-loops
    return ei, int(data.num_nodes)


def make_pairs(edge_index: torch.Tensor, n: int, count: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pos = edge_index[:, torch.randperm(edge_index.size(1), generator=g)[: count // 2]].t()
    neg = sample_negative_pairs(edge_index, n, count - pos.size(0), seed=seed)
    pairs = torch.cat([pos, neg])
    return pairs[torch.randperm(pairs.size(0), generator=g)]


# ----------------------------------------------------------------- PyG's example method
def pyg_drnl(edge_index, src, dst, num_nodes):
    from scipy.sparse.csgraph import shortest_path
    from torch_geometric.utils import to_scipy_sparse_matrix

    src, dst = (dst, src) if src > dst else (src, dst)
    adj = to_scipy_sparse_matrix(edge_index, num_nodes=num_nodes).tocsr()
    idx = list(range(src)) + list(range(src + 1, adj.shape[0]))
    adj_wo_src = adj[idx, :][:, idx]
    idx = list(range(dst)) + list(range(dst + 1, adj.shape[0]))
    adj_wo_dst = adj[idx, :][:, idx]
    d_src = shortest_path(adj_wo_dst, directed=False, unweighted=True, indices=src)
    d_src = torch.from_numpy(np.insert(d_src, dst, 0, axis=0))
    d_dst = shortest_path(adj_wo_src, directed=False, unweighted=True, indices=dst - 1)
    d_dst = torch.from_numpy(np.insert(d_dst, src, 0, axis=0))
    dist = d_src + d_dst
    half, odd = dist // 2, dist % 2
    z = 1 + torch.min(d_src, d_dst) + half * (half + odd - 1)
    z[src] = 1.0
    z[dst] = 1.0
    z[torch.isnan(z)] = 0.0
    return z.to(torch.long)


def pyg_extract(edge_index, n, pairs, hops):
    from torch_geometric.utils import k_hop_subgraph

    out = []
    for src, dst in pairs.tolist():
        nodes, sub, mapping, _ = k_hop_subgraph([src, dst], hops, edge_index, relabel_nodes=True, num_nodes=n)
        s, d = mapping.tolist()
        keep = ((sub[0] != s) | (sub[1] != d)) & ((sub[0] != d) | (sub[1] != s))
        sub = sub[:, keep]
        out.append((nodes, sub, pyg_drnl(sub, s, d, nodes.numel())))
    return out


# ----------------------------------------------------------------- ours
def ours_extract(csr, pairs, hops, batch_size):
    for s in range(0, pairs.size(0), batch_size):
        extract_enclosing_subgraphs(csr, pairs[s:s + batch_size], hops)


def check_equal(csr, edge_index, n, pairs, hops) -> int:
    ref = pyg_extract(edge_index, n, pairs, hops)
    b = extract_enclosing_subgraphs(csr, pairs, hops)
    for i, (nodes, sub, z) in enumerate(ref):
        lo, hi = int(b.ptr[i]), int(b.ptr[i + 1])
        ours = dict(zip(b.node_id[lo:hi].tolist(), b.z[lo:hi].tolist()))
        theirs = dict(zip(nodes.tolist(), z.tolist()))
        m = (b.edge_index[0] >= lo) & (b.edge_index[0] < hi)
        if ours != theirs or int(m.sum()) != sub.size(1):
            raise AssertionError(f"pair {pairs[i].tolist()}: the two methods disagree")
    return len(ref)


def memory_worker(args) -> None:
    """One fresh process: load, extract ``--pairs`` pairs in batches, print peak RSS above the start."""
    torch.set_num_threads(1)
    edge_index, n = load_graph(args.graphs[0], args.root)
    csr = CSRGraph.from_edge_index(edge_index, n)
    pairs = make_pairs(edge_index, n, args.pairs)
    del edge_index
    # reset the high-water mark so the peak counts the extraction only
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = proc_status_mb("VmRSS")
    t = time.perf_counter()
    ours_extract(csr, pairs, args.hops[0], args.batch_size)
    print(json.dumps({"peak_above_start_mb": proc_status_mb("VmHWM") - start, "seconds": time.perf_counter() - t}))


def memory_point(graph, hops, pairs, batch, root) -> Dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.seal_extraction", "--memory-worker", "--graphs", graph, "--hops",
           str(hops), "--pairs", str(pairs), "--batch-size", str(batch)]
    if root:
        cmd += ["--root", str(root)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: List[str] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graphs", nargs="+", default=["arxiv-collab", "synthetic-500k-5M"])
    p.add_argument("--root", default=None)
    p.add_argument("--hops", nargs="+", type=int, default=[1, 2])
    p.add_argument("--pairs", type=int, default=2000, help="pairs timed for ours per round")
    p.add_argument("--pyg-pairs", type=int, default=100, help="pairs timed for PyG per round")
    p.add_argument("--batch-size", type=int, default=32, help="pairs per extraction call (32: SEAL's training batch)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--check", type=int, default=30, help="pairs compared between the two methods")
    p.add_argument("--memory", action="store_true", help="also measure peak memory in fresh processes")
    p.add_argument("--memory-batches", nargs="+", type=int, default=[32, 128])
    p.add_argument("--memory-pairs", nargs="+", type=int, default=[512, 2048])
    p.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.memory_worker:
        return memory_worker(args)
    torch.set_num_threads(1)
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                           "threads": 1, "load_before": os.getloadavg()}, "rows": []}
    for graph in args.graphs:
        t = time.perf_counter()
        edge_index, n = load_graph(graph, args.root)
        csr = CSRGraph.from_edge_index(edge_index, n)
        print(f"{graph}: {n} nodes, {edge_index.size(1)} directed edges (loaded in {time.perf_counter() - t:.0f} s)",
              flush=True)
        pairs = make_pairs(edge_index, n, max(args.pairs, args.pyg_pairs))
        for hops in args.hops:
            checked = check_equal(csr, edge_index, n, pairs[: args.check], hops)
            b = extract_enclosing_subgraphs(csr, pairs[: min(500, args.pairs)], hops)
            size = {"nodes_per_subgraph": b.num_nodes / b.num_graphs,
                    "edges_per_subgraph": b.edge_index.size(1) / b.num_graphs}
            pyg_t, ours_t = [], []
            for r in range(args.repeat):
                t = time.perf_counter()
                pyg_extract(edge_index, n, pairs[: args.pyg_pairs], hops)
                pyg_t.append(args.pyg_pairs / (time.perf_counter() - t))
                t = time.perf_counter()
                ours_extract(csr, pairs[: args.pairs], hops, args.batch_size)
                ours_t.append(args.pairs / (time.perf_counter() - t))
                print(f"  h={hops} round {r}: PyG {pyg_t[-1]:.1f}/s, ours {ours_t[-1]:.1f}/s", flush=True)
            row = {"graph": graph, "hops": hops, "num_nodes": n, "num_edges": edge_index.size(1),
                   "pyg_per_s": statistics.median(pyg_t), "ours_per_s": statistics.median(ours_t),
                   "pyg_all": pyg_t, "ours_all": ours_t, "batch_size": args.batch_size,
                   "checked_equal": checked, **size}
            row["speedup"] = row["ours_per_s"] / row["pyg_per_s"]
            print(f"{graph} h={hops}: PyG {row['pyg_per_s']:.1f}/s, ours {row['ours_per_s']:.1f}/s, "
                  f"{row['speedup']:.1f}x ({size['nodes_per_subgraph']:.0f} nodes, "
                  f"{size['edges_per_subgraph']:.0f} edges per subgraph; {checked} pairs identical)", flush=True)
            results["rows"].append(row)
        if args.memory:
            mem = []
            for hops in args.hops:
                for batch in args.memory_batches:
                    for count in args.memory_pairs:
                        m = memory_point(graph, hops, count, batch, args.root)
                        mem.append({"graph": graph, "hops": hops, "batch_size": batch, "pairs": count, **m})
                        print(f"  memory h={hops} batch {batch} pairs {count}: "
                              f"+{m['peak_above_start_mb']:.0f} MB", flush=True)
            results.setdefault("memory", []).extend(mem)
        del edge_index, csr
    results["machine"]["load_after"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
