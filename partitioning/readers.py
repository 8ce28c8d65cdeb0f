"""Torch-free readers for the graphs the partitioner CLI and benchmarks use.

Names (``read_graph(name, root)``), resolved under the data root (``root``,
else ``$SCALEGNN_DATA``, else ``~/.scalegnn/data``):

=====================  ===========================================================
``Cora``, ``CiteSeer``  ``Planetoid/<Name>/raw/ind.<name>.graph`` (PyG's edge set:
                        symmetrized, no self-loops or duplicates)
SEAL networks           ``SEAL/<Name>.mat`` (``net``): ``USAir NS PB Yeast Celegans
                        Power Router Ecoli``
``arxiv-collab``        ``SEAL/raw/arxiv_compressed.txt`` (SNAP ca-AstroPh, 1-based)
``facebook``            ``SEAL/raw/facebook.txt`` (SNAP ego-Facebook, 0-based)
``BlogCatalog``         ``SEAL/BlogCatalog.mat`` (``net``)
``synthetic-<n>-<m>``   power-law SBM, :func:`partitioning.synthetic.synthetic_graph_blocks`
``synthetic-sbm-<n>-<m>``  plain SBM
=====================  ===========================================================

All graphs come back undirected (symmetric pattern) without self-loops.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Optional, Union

import numpy as np
import scipy.sparse as sp

from partitioning.graph import as_csr, drop_self_loops
from partitioning.synthetic import parse_synthetic_name, synthetic_graph_blocks

__all__ = ["DATASETS", "data_root", "read_edge_list", "read_graph"]

PLANETOID = ("Cora", "CiteSeer")
SEAL = ("USAir", "NS", "PB", "Yeast", "Celegans", "Power", "Router", "Ecoli")
DATASETS = PLANETOID + SEAL + ("arxiv-collab", "facebook", "BlogCatalog")


def data_root(root: Optional[Union[str, os.PathLike]] = None) -> Path:
    """``root``, else ``$SCALEGNN_DATA``, else ``~/.scalegnn/data`` (same rule as :mod:`scalegnn.data`)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("SCALEGNN_DATA")
    return Path(env).expanduser() if env else Path.home() / ".scalegnn" / "data"


def _undirected(csr) -> sp.csr_matrix:
    return drop_self_loops(as_csr(csr, symmetric=True))


def _require(path: Path, name: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"dataset {name!r} not found: expected {path} (set --root or SCALEGNN_DATA)")
    return path


def read_edge_list(path: Union[str, os.PathLike], num_nodes: Optional[int] = None, one_based: bool = False,
                   symmetric: bool = True) -> sp.csr_matrix:
    """Read a whitespace-separated edge list (first two columns; ``#``/``%`` lines are comments).

    Args:
        path: the file.
        num_nodes: vertex count (default: largest id + 1).
        one_based: ids start at 1.
        symmetric: add the reverse of every edge and drop self-loops (an undirected graph).
    """
    edges = np.loadtxt(path, comments=("#", "%"), usecols=(0, 1), dtype=np.float64, ndmin=2)
    if edges.size and not np.all(np.mod(edges, 1) == 0):
        raise ValueError(f"{path}: vertex ids must be integers")
    edges = edges.astype(np.int64)
    if one_based:
        edges -= 1
    if edges.size and edges.min() < 0:
        raise ValueError(f"{path}: negative vertex id {int(edges.min()) + int(one_based)}"
                         + (" (ids are read as 1-based)" if one_based else ""))
    n = int(edges.max()) + 1 if edges.size else 0
    if num_nodes is not None:
        if num_nodes < n:
            raise ValueError(f"{path}: vertex id {n - 1} is out of range for num_nodes={num_nodes}")
        n = num_nodes
    if n == 0:
        raise ValueError(f"{path}: no edges and no num_nodes given")
    coo = sp.coo_matrix((np.ones(edges.shape[0], dtype=np.int8), (edges[:, 1], edges[:, 0])), shape=(n, n))
    return _undirected(coo) if symmetric else as_csr(coo)


class _AdjacencyUnpickler(pickle.Unpickler):
    """Planetoid's ``ind.<name>.graph`` is a pickled ``defaultdict(list)``; allow nothing else."""

    def find_class(self, module, name):
        if (module, name) in {("collections", "defaultdict"), ("builtins", "list"), ("builtins", "dict"),
                              ("__builtin__", "list"), ("__builtin__", "dict")}:
            return getattr(__import__("collections" if module == "collections" else "builtins"), name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a Planetoid graph file")


def _read_planetoid(root: Path, name: str) -> sp.csr_matrix:
    raw = root / "Planetoid" / name / "raw"
    lower = name.lower()
    with open(_require(raw / f"ind.{lower}.graph", name), "rb") as f:
        adjacency = _AdjacencyUnpickler(f, encoding="latin1").load()
    src = np.fromiter((key for key, value in adjacency.items() for _ in value), dtype=np.int64)
    dst = np.fromiter((v for value in adjacency.values() for v in value), dtype=np.int64)
    # Node count as PyG computes it: training/validation nodes plus the full range of test ids
    # (CiteSeer has isolated test nodes that appear in no adjacency list).
    test_index = np.loadtxt(_require(raw / f"ind.{lower}.test.index", name), dtype=np.int64, ndmin=1)
    n = int(max(src.max(), dst.max(), test_index.max())) + 1
    coo = sp.coo_matrix((np.ones(src.shape[0], dtype=np.int8), (src, dst)), shape=(n, n))
    return _undirected(coo)


def read_graph(name: str, root: Optional[Union[str, os.PathLike]] = None, seed: int = 0) -> sp.csr_matrix:
    """Read the graph called ``name`` (see the module docstring) as an undirected canonical CSR."""
    if name.startswith("synthetic"):
        kind, n, m = parse_synthetic_name(name)
        return as_csr(synthetic_graph_blocks(kind, n, m, seed=seed)[0])
    base = data_root(root)
    canonical = {d.lower(): d for d in DATASETS}.get(name.lower())
    if canonical is None:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}, synthetic-<n>-<m>, "
                         "synthetic-sbm-<n>-<m> (or pass an edge list file)")
    if canonical in PLANETOID:
        return _read_planetoid(base, canonical)
    if canonical in SEAL or canonical == "BlogCatalog":
        from scipy.io import loadmat

        net = loadmat(str(_require(base / "SEAL" / f"{canonical}.mat", canonical)), variable_names=["net"])["net"]
        return _undirected(sp.csr_matrix(net))
    if canonical == "arxiv-collab":
        return read_edge_list(_require(base / "SEAL" / "raw" / "arxiv_compressed.txt", canonical), one_based=True)
    return read_edge_list(_require(base / "SEAL" / "raw" / "facebook.txt", canonical))
