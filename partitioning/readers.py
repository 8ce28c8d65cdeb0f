"""Torch-free readers for every dataset name ``scalegnn datasets`` lists, as one partitionable graph.

Names (``read_graph(name, root)``, case-insensitive), resolved under the data
root (``root``, else ``$SCALEGNN_DATA``, else ``~/.scalegnn/data``), with the
same layout :mod:`scalegnn.data` reads:

==========================  =====================================================
``cora-bundled``            the Cora copy inside the ``scalegnn`` package (``default``, ``bundled``)
``Cora CiteSeer PubMed``    ``Planetoid/<Name>/raw/ind.<name>.graph`` (PyG's edge set:
                            symmetrized, no self-loops or duplicates)
TU names (``PROTEINS``, ...,  ``TU/<NAME>/raw/<NAME>_A.txt``: the disjoint union of all
``TU:<NAME>``)              graphs of the collection (graph ``g``'s vertices are
                            consecutive, in ``graph_indicator`` order)
SEAL networks               ``SEAL/<Name>.mat`` (``net``), else ``SEAL/raw/<Name>.txt``:
                            ``USAir NS PB Yeast Celegans Power Router Ecoli``
``BlogCatalog``             ``SEAL/BlogCatalog.mat`` (``net``)
``<Name>-txt``              ``SEAL/raw/<Name>.txt`` (0- or 1-based, detected)
``arxiv-collab``            ``SEAL/raw/arxiv_compressed.txt`` (SNAP ca-AstroPh, 1-based)
``facebook``                ``SEAL/raw/facebook.txt`` (SNAP ego-Facebook, 0-based)
``ogbn-* ogbl-* ogbg-*``    OGB's own raw layout ``OGB/<name_with_underscores>/raw/``:
                            ``edge.csv.gz`` + ``num-node-list.csv.gz`` (+
                            ``num-edge-list.csv.gz``), or ``data.npz``; graph
                            collections (``ogbg-*``) as their disjoint union.
                            Heterogeneous ``ogbn-mag`` is refused.
``synthetic-<n>-<m>``       power-law SBM, :func:`partitioning.synthetic.synthetic_graph_blocks`
``synthetic-sbm-<n>-<m>``   plain SBM
==========================  =====================================================

All graphs come back undirected (symmetric pattern) without self-loops; for
Planetoid and SEAL names that is exactly the edge set of the PyG ``Data``
that :func:`scalegnn.data.load_dataset` returns (same
:func:`~partitioning.graph.graph_fingerprint`). An unknown name raises
``ValueError`` with the closest known names; a known one whose files are
absent raises ``FileNotFoundError`` naming the expected path.
"""
from __future__ import annotations

import difflib
import os
import pickle
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import scipy.sparse as sp

from partitioning.graph import as_csr, drop_self_loops
from partitioning.synthetic import parse_synthetic_name, synthetic_graph_blocks

__all__ = ["DATASETS", "data_root", "read_edge_list", "read_graph", "resolve_name"]

BUNDLED = "cora-bundled"
BUNDLED_ALIASES = ("default", "bundled", "cora_bundled")
PLANETOID = ("Cora", "CiteSeer", "PubMed")
TU = ("PROTEINS", "ENZYMES", "MUTAG", "Mutagenicity", "DD", "NCI1", "NCI109", "PTC_MR",
      "COLLAB", "IMDB-BINARY", "IMDB-MULTI", "REDDIT-BINARY", "REDDIT-MULTI-5K", "FRANKENSTEIN")
SEAL = ("USAir", "NS", "PB", "Yeast", "Celegans", "Power", "Router", "Ecoli")
# name -> (file under SEAL/raw, id base or None to detect)
SEAL_EDGELISTS = {"arxiv-collab": ("arxiv_compressed.txt", 1), "facebook": ("facebook.txt", 0),
                  **{f"{n}-txt": (f"{n}.txt", None) for n in SEAL if n != "Ecoli"}}
OGB = ("ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M", "ogbn-mag",
       "ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2",
       "ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa", "ogbg-code2")
DATASETS = (BUNDLED,) + PLANETOID + TU + SEAL + ("BlogCatalog",) + tuple(SEAL_EDGELISTS) + OGB
PATTERNS = ("synthetic-<n>-<m>", "synthetic-sbm-<n>-<m>", "TU:<NAME>", "any ogbn-/ogbl-/ogbg- name")


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


def _bundled_cora() -> sp.csr_matrix:
    """``scalegnn/data/bundled/cora.npz``, located without importing ``scalegnn`` (which imports torch)."""
    import importlib.util

    spec = importlib.util.find_spec("scalegnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("dataset 'cora-bundled' ships with the scalegnn package, which is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "bundled" / "cora.npz"
    with np.load(_require(path, BUNDLED), allow_pickle=False) as z:
        edge_index = z["edge_index"]
        n = int(z["y"].shape[0])
    return _undirected(as_csr(edge_index, num_nodes=n))


def _read_ints(path: Path, name: str, columns: int) -> np.ndarray:
    """An integer table (``,`` or whitespace separated; ``.gz`` allowed) as ``[rows, columns]``."""
    import gzip

    with open(_require(path, name), "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt") if gz else open(path)) as f:
        first = f.readline()
    table = np.loadtxt(path, delimiter="," if "," in first else None, dtype=np.int64, ndmin=2)
    if table.shape[1] != columns:
        raise ValueError(f"{path}: expected {columns} integers per line, got {table.shape[1]}")
    return table


def _read_tu(root: Path, name: str) -> sp.csr_matrix:
    raw = root / "TU" / name / "raw"
    edges = _read_ints(raw / f"{name}_A.txt", name, 2) - 1  # 1-based (row, col) pairs
    n = _read_ints(raw / f"{name}_graph_indicator.txt", name, 1).shape[0]
    if edges.size and (edges.min() < 0 or edges.max() >= n):
        raise ValueError(f"{raw / (name + '_A.txt')}: vertex ids must lie in 1..{n} (the graph_indicator length)")
    coo = sp.coo_matrix((np.ones(edges.shape[0], dtype=np.int8), (edges[:, 1], edges[:, 0])), shape=(n, n))
    return _undirected(coo)


def _read_ogb(root: Path, name: str) -> sp.csr_matrix:
    folder = root / "OGB" / "_".join(name.split("-"))
    raw = folder / "raw"
    if (raw / "data.npz").is_file():
        with np.load(raw / "data.npz", allow_pickle=False) as z:
            edge_index = z["edge_index"]
            nodes = np.asarray(z["num_nodes_list"], dtype=np.int64).ravel()
            counts = np.asarray(z["num_edges_list"], dtype=np.int64).ravel()
    elif (raw / "edge.csv.gz").is_file():
        edge_index = _read_ints(raw / "edge.csv.gz", name, 2).T
        nodes = _read_ints(raw / "num-node-list.csv.gz", name, 1).ravel()
        count_file = raw / "num-edge-list.csv.gz"
        counts = _read_ints(count_file, name, 1).ravel() if count_file.is_file() else np.array([edge_index.shape[1]])
    elif (raw / "relations").is_dir() or (raw / "num-node-dict.csv.gz").is_file():
        raise ValueError(f"{name} is a heterogeneous graph (several node and edge types); the partitioner takes "
                         "one homogeneous graph: export one relation as an edge list and pass --edges")
    else:
        raise FileNotFoundError(f"dataset {name!r} not found: expected OGB's raw files (edge.csv.gz and "
                                f"num-node-list.csv.gz, or data.npz) in {raw} (set --root or SCALEGNN_DATA)")
    if nodes.shape[0] != counts.shape[0] or int(counts.sum()) != edge_index.shape[1]:
        raise ValueError(f"{raw}: the per-graph node and edge counts do not match the edge list")
    # Graph collections: shift each graph's local ids by the vertices of the graphs before it.
    offset = np.repeat(np.concatenate([[0], np.cumsum(nodes)[:-1]]), counts)
    n = int(nodes.sum())
    src, dst = edge_index[0] + offset, edge_index[1] + offset
    coo = sp.coo_matrix((np.ones(src.shape[0], dtype=np.int8), (dst, src)), shape=(n, n))
    return _undirected(coo)


def _read_seal_edgelist(path: Path, name: str, base: Optional[int]) -> sp.csr_matrix:
    if base is None:
        first = np.loadtxt(_require(path, name), usecols=(0, 1), dtype=np.float64, ndmin=2)
        base = int(first.min()) if first.size else 0
        if base not in (0, 1):
            raise ValueError(f"{path}: cannot tell whether ids are 0- or 1-based (smallest id {base})")
    return read_edge_list(_require(path, name), one_based=base == 1)


def resolve_name(name: str) -> Tuple[str, str]:
    """``(family, canonical name)`` of a dataset name, or ``ValueError`` with the closest known names."""
    from partitioning.validation import check_choice

    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__} {name!r}")
    key = name.lower()
    if key in (BUNDLED,) + BUNDLED_ALIASES:
        return "bundled", BUNDLED
    if key.startswith("synthetic"):
        parse_synthetic_name(name)  # raises ValueError naming the expected form
        return "synthetic", name
    if key.startswith("tu:") and len(name) > 3:
        return "tu", name[3:]
    if key.startswith(("ogbn-", "ogbl-", "ogbg-")):
        canonical = {o.lower(): o for o in OGB}.get(key, name)
        return "ogb", canonical
    known = {d.lower(): d for d in DATASETS}
    canonical = known.get(key)
    if canonical is None:
        close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(known[c]) for c in close)}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}.{hint} Known: {', '.join(DATASETS)}; also "
                         f"{', '.join(PATTERNS)} (or pass an edge list file with --edges)")
    if canonical in PLANETOID:
        return "planetoid", canonical
    if canonical in TU:
        return "tu", canonical
    if canonical in SEAL or canonical == "BlogCatalog":
        return "seal", canonical
    if canonical in SEAL_EDGELISTS:
        return "edgelist", canonical
    check_choice("dataset", canonical, DATASETS)
    return "ogb", canonical


def read_graph(name: str, root: Optional[Union[str, os.PathLike]] = None, seed: int = 0) -> sp.csr_matrix:
    """Read the graph called ``name`` (see the module docstring) as an undirected canonical CSR."""
    from partitioning.validation import check_seed

    seed = check_seed(seed)
    family, canonical = resolve_name(name)
    if family == "synthetic":
        kind, n, m = parse_synthetic_name(canonical)
        return as_csr(synthetic_graph_blocks(kind, n, m, seed=seed)[0])
    if family == "bundled":
        return _bundled_cora()
    base = data_root(root)
    if family == "planetoid":
        return _read_planetoid(base, canonical)
    if family == "tu":
        return _read_tu(base, canonical)
    if family == "ogb":
        return _read_ogb(base, canonical)
    if family == "seal":
        from scipy.io import loadmat

        mat = base / "SEAL" / f"{canonical}.mat"
        txt = base / "SEAL" / "raw" / f"{canonical}.txt"
        if not mat.is_file() and txt.is_file():
            return _read_seal_edgelist(txt, canonical, None)
        net = loadmat(str(_require(mat, canonical)), variable_names=["net"])["net"]
        return _undirected(sp.csr_matrix(net))
    fname, id_base = SEAL_EDGELISTS[canonical]
    return _read_seal_edgelist(base / "SEAL" / "raw" / fname, canonical, id_base)
