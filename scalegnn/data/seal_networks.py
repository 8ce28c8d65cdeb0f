"""The link-prediction networks of the SEAL paper (Zhang & Chen, NeurIPS 2018) and edge lists.

Files under the data root:

* ``SEAL/<Name>.mat`` for USAir, NS, PB, Yeast, Celegans, Power, Router, Ecoli:
  MATLAB files with a symmetric sparse adjacency ``net``.
* ``SEAL/BlogCatalog.mat``: ``net`` plus a ``group`` matrix of 39 labels per node.
* ``SEAL/raw/<Name>.txt``: the same networks as edge lists (ids 0- or 1-based,
  detected from the smallest id; an optional third weight column is ignored).
* ``SEAL/raw/arxiv_compressed.txt`` (``arxiv-collab``; 1-based, both
  directions listed) and ``SEAL/raw/facebook.txt`` (``facebook``; 0-based,
  each undirected edge once).

Every network becomes a PyG ``Data(edge_index, num_nodes)`` whose ``edge_index``
lists each undirected edge in both directions (duplicates merged, sorted by
source then target; self-loops kept as the file lists them). Files are only
read. :func:`split_edges` makes a deterministic seeded train/valid/test edge
split with sampled negatives, in the dict layout of OGB's ``get_edge_split()``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from scalegnn.data._paths import (DatasetNotFoundError, cache_dir, download_guard, is_writable,
                                  make_dirs_or_undo, missing_data_hint, offline)

__all__ = ["SEAL_MAT_NAMES", "SEAL_EDGELISTS", "seal_path", "load_seal_network", "split_edges"]

SEAL_MAT_NAMES = ("USAir", "NS", "PB", "Yeast", "Celegans", "Power", "Router", "Ecoli")
# name -> (file under SEAL/raw, id base or None to detect)
SEAL_EDGELISTS: Dict[str, tuple] = {
    "arxiv-collab": ("arxiv_compressed.txt", 1),
    "facebook": ("facebook.txt", 0),
    **{f"{n}-txt": (f"{n}.txt", None) for n in SEAL_MAT_NAMES if n != "Ecoli"},
}
MAT_URL = "https://github.com/muhanzhang/SEAL/raw/master/MATLAB/data"


def seal_path(root: Path, name: str) -> Path:
    """Where the file of SEAL network ``name`` is expected under ``root``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"the SEAL network name must be a non-empty string, got {name!r}")
    if name in SEAL_EDGELISTS:
        return Path(root) / "SEAL" / "raw" / SEAL_EDGELISTS[name][0]
    return Path(root) / "SEAL" / f"{name}.mat"


def _undirected_edge_index(row: np.ndarray, col: np.ndarray, num_nodes: int):
    import torch

    row = np.asarray(row, dtype=np.int64)
    col = np.asarray(col, dtype=np.int64)
    src = np.concatenate([row, col])
    dst = np.concatenate([col, row])
    key = np.unique(src * num_nodes + dst)
    return torch.from_numpy(np.stack([key // num_nodes, key % num_nodes]))


def _read_edgelist(path: Path, base: Optional[int]):
    pairs = np.loadtxt(path, usecols=(0, 1), dtype=np.float64, ndmin=2)
    if pairs.size and not np.all(pairs == np.round(pairs)):
        raise ValueError(f"{path}: node ids must be integers")
    pairs = pairs.astype(np.int64)
    if base is None:
        base = int(pairs.min()) if pairs.size else 0
        if base not in (0, 1):
            raise ValueError(f"{path}: cannot tell whether ids are 0- or 1-based (smallest id {base})")
    pairs -= base
    if pairs.size and pairs.min() < 0:
        raise ValueError(f"{path}: found id {int(pairs.min()) + base} in a {base}-based edge list")
    num_nodes = int(pairs.max()) + 1 if pairs.size else 0
    return pairs[:, 0], pairs[:, 1], num_nodes, base


def load_seal_network(name: str, root: Path, download: bool = True):
    """The PyG ``Data`` of SEAL network / edge list ``name``; returns ``(data, path, info)``."""
    if name not in SEAL_MAT_NAMES and name not in SEAL_EDGELISTS and name != "BlogCatalog":
        from scalegnn.data.validate import did_you_mean

        known = [*SEAL_MAT_NAMES, "BlogCatalog", *SEAL_EDGELISTS]
        raise ValueError(f"unknown SEAL network {name!r}.{did_you_mean(name, known)} Known: {known}")
    import scipy.io
    import scipy.sparse as sp
    import torch
    from torch_geometric.data import Data

    path = seal_path(root, name)
    txt_fallback = Path(root) / "SEAL" / "raw" / f"{name}.txt"
    info: dict = {}
    if not path.is_file() and name in SEAL_MAT_NAMES and txt_fallback.is_file():
        path = txt_fallback
    if not path.is_file():
        cached = cache_dir() / "downloads" / "SEAL" / path.name
        if cached.is_file():
            path = cached
        elif name in SEAL_MAT_NAMES and download and not offline():
            target = path if is_writable(path.parent) else cached
            _download(name, target)
            path = target
        else:
            how = ("" if name in SEAL_MAT_NAMES else
                   "This file is not downloaded automatically: get it from the SEAL reference repository. ")
            raise DatasetNotFoundError(
                f"SEAL network {name!r} not found: expected {seal_path(root, name)}. {how}"
                f"{missing_data_hint(Path(root), downloadable=name in SEAL_MAT_NAMES)}"
            )
    if path.suffix == ".mat":
        mat = scipy.io.loadmat(str(path))
        net = sp.coo_matrix(mat["net"])
        if net.shape[0] != net.shape[1]:
            raise ValueError(f"{path}: 'net' must be square, got {net.shape}")
        num_nodes = net.shape[0]
        edge_index = _undirected_edge_index(net.row, net.col, num_nodes)
        data = Data(edge_index=edge_index, num_nodes=num_nodes)
        if "group" in mat:
            group = mat["group"]
            group = group.toarray() if sp.issparse(group) else np.asarray(group)
            data.y = torch.from_numpy(group.astype(np.float32))
    else:
        base = SEAL_EDGELISTS.get(name, (None, None))[1]
        row, col, num_nodes, base = _read_edgelist(path, base)
        data = Data(edge_index=_undirected_edge_index(row, col, num_nodes), num_nodes=num_nodes)
        info["id_base"] = base
    info["self_loops"] = int((data.edge_index[0] == data.edge_index[1]).sum())
    return data, path, info


def _download(name: str, target: Path) -> None:
    from torch_geometric.data import download_url

    with make_dirs_or_undo(target.parent), download_guard(name, target):
        download_url(f"{MAT_URL}/{name}.mat", str(target.parent), log=True)


def split_edges(data, val: float = 0.05, test: float = 0.1, seed: int = 0) -> dict:
    """Deterministic seeded split of an undirected graph's edges, in OGB's ``get_edge_split()`` layout.

    Each undirected edge (self-loops excluded) goes to exactly one of
    train/valid/test (``1 - val - test`` / ``val`` / ``test`` of them,
    85/5/10 by default). Validation and test get as many negatives (node
    pairs that are not edges of the graph, no self-loops, distinct) as
    positives.

    Returns:
        ``{"train": {"edge": [E_tr, 2]}, "valid": {"edge": [E_va, 2], "edge_neg": [E_va, 2]},
        "test": {"edge": [E_te, 2], "edge_neg": [E_te, 2]}}`` (long tensors, ``u < v``
        for positives). Train message passing should use ``train["edge"]`` in both directions.
    """
    import torch

    from scalegnn.data.validate import check_int, check_probability, validate_graph

    val = check_probability(val, "val", allow_one=False)
    test = check_probability(test, "test", allow_one=False)
    seed = check_int(seed, "seed", min_value=0)
    if not val + test < 1:
        raise ValueError(f"need 0 <= val, test and val + test < 1, got val={val}, test={test}")
    validate_graph(data)
    n = int(data.num_nodes)
    ei = data.edge_index
    lo, hi = torch.minimum(ei[0], ei[1]).long(), torch.maximum(ei[0], ei[1]).long()
    keep = lo != hi
    und = torch.unique(torch.stack([lo[keep], hi[keep]]), dim=1)
    m = und.size(1)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(m, generator=g)
    n_val, n_test = int(round(val * m)), int(round(test * m))
    va, te, tr = perm[:n_val], perm[n_val:n_val + n_test], perm[n_val + n_test:]
    existing = set((und[0] * n + und[1]).tolist())
    need = n_val + n_test
    negs: list = []
    seen = set()
    rng = np.random.default_rng(seed)
    max_pairs = n * (n - 1) // 2 - m
    if need > max_pairs:
        raise ValueError(f"the graph has only {max_pairs} non-edges, cannot sample {need} negatives")
    while len(negs) < need:
        k = max(2 * (need - len(negs)), 64)
        a = rng.integers(0, n, size=k)
        b = rng.integers(0, n, size=k)
        for u, v in zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()):
            if u == v:
                continue
            key = u * n + v
            if key in existing or key in seen:
                continue
            seen.add(key)
            negs.append((u, v))
            if len(negs) == need:
                break
    neg = torch.tensor(negs, dtype=torch.long).reshape(-1, 2)
    t = und.t().contiguous()
    return {
        "train": {"edge": t[tr]},
        "valid": {"edge": t[va], "edge_neg": neg[:n_val]},
        "test": {"edge": t[te], "edge_neg": neg[n_val:]},
    }
