"""``load_dataset``: one entry point for every dataset the library trains on.

Names (case-insensitive):

* ``None`` / ``"default"`` / ``"cora-bundled"``: Cora shipped inside the package
  (no data root, no network).
* Planetoid ``Cora``, ``CiteSeer``, ``PubMed`` (public split; node task, ``acc``).
* TU ``PROTEINS``, ``ENZYMES``, ``MUTAG``, ``Mutagenicity``, ``DD``, ... (or
  ``"TU:<NAME>"`` for any TU Dortmund set; graph task, ``acc``). The split is
  fold ``fold`` (default 0) of stratified ``num_folds``-fold cross-validation
  (default 10, ``seed`` 0): test = that fold, valid = the previous fold,
  train = the other folds (80/10/10; PyG's ``benchmark/kernel`` protocol, see
  :mod:`scalegnn.data.splits`). Run ``fold=0..9`` and average for the usual
  10-fold result.
* SEAL networks ``USAir``, ``NS``, ``PB``, ``Yeast``, ``Celegans``, ``Power``,
  ``Router``, ``Ecoli``, ``BlogCatalog``, the edge lists ``arxiv-collab``,
  ``facebook`` and ``<Name>-txt`` (link task, ``auc``; ``split={}`` unless
  ``split_edges=True``, then a seeded 85/5/10 split, see :func:`split_edges`).
* OGB ``ogbn-*``, ``ogbl-*``, ``ogbg-*`` (the dataset's own split and ``Evaluator``).
* ``synthetic-*``: generated graphs (:func:`scalegnn.data.synthetic.load_synthetic`).

The data root is the ``root`` argument, else ``$SCALEGNN_DATA``, else
``~/.scalegnn/data``; its layout is ``Planetoid/<Name>/raw``, ``TU/<NAME>/raw``,
``SEAL/...`` and ``OGB/<ogb_name_with_underscores>/`` (OGB's own layout).

**The data root is only read.** Derived files (PyG ``processed/`` folders)
go to the cache, ``$SCALEGNN_CACHE`` or ``~/.cache/scalegnn``. When a dataset
is missing locally and ``download=True`` (and ``$SCALEGNN_OFFLINE`` is not
set), its files are downloaded into the data root at the path above if the
root is writable, else into ``<cache>/downloads/``; a failed or impossible
download raises :class:`DatasetNotFoundError` naming the expected path.
Downloads never prompt and time out instead of hanging.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from scalegnn.data._paths import DatasetNotFoundError, cache_dir, dataset_root, offline
from scalegnn.data.loaded import LoadedDataset
from scalegnn.data.validate import check_bool, check_int, check_probability, did_you_mean, validate_graph

__all__ = [
    "load_dataset",
    "dataset_root",
    "cache_dir",
    "dataset_status",
    "known_datasets",
    "expected_path",
    "split_edges",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DEFAULT_DATASET",
    "FAMILY_OPTIONS",
]

DEFAULT_DATASET = "cora-bundled"

#: keyword options ``load_dataset`` accepts per family (anything else is a typo and raises).
FAMILY_OPTIONS: Dict[str, tuple] = {
    "bundled": (),
    "planetoid": (),
    "synthetic": ("seed",),
    "tu": ("fold", "num_folds", "seed", "use_node_attr", "use_edge_attr", "cleaned", "transform",
           "pre_transform", "pre_filter", "force_reload"),
    "seal": ("split_edges", "val", "test", "seed"),
    "ogb": ("meta_dict", "split_type", "transform", "pre_transform"),
}


@dataclass(frozen=True)
class DatasetSpec:
    """A known dataset: its canonical name, family, task and file location under the root."""

    name: str
    family: str  # "bundled", "planetoid", "tu", "seal", "ogb"
    task: str
    relpath: str  # expected location relative to the data root ("" for bundled)
    description: str = ""


def _registry() -> Dict[str, DatasetSpec]:
    from scalegnn.data.planetoid import PLANETOID_NAMES
    from scalegnn.data.seal_networks import SEAL_EDGELISTS, SEAL_MAT_NAMES
    from scalegnn.data.tu import TU_NAMES

    specs: List[DatasetSpec] = [
        DatasetSpec(DEFAULT_DATASET, "bundled", "node", "", "Cora shipped in the package (default)")
    ]
    specs += [DatasetSpec(n, "planetoid", "node", f"Planetoid/{n}/raw", "citation graph, public split")
              for n in PLANETOID_NAMES]
    specs += [DatasetSpec(n, "tu", "graph", f"TU/{n}/raw", "TU graph classification") for n in TU_NAMES]
    specs += [DatasetSpec(n, "seal", "link", f"SEAL/{n}.mat", "SEAL link-prediction network")
              for n in SEAL_MAT_NAMES]
    specs.append(DatasetSpec("BlogCatalog", "seal", "link", "SEAL/BlogCatalog.mat",
                             "social network with 39 multi-label groups"))
    specs += [DatasetSpec(n, "seal", "link", f"SEAL/raw/{f}", "edge list") for n, (f, _) in SEAL_EDGELISTS.items()]
    from scalegnn.data.ogb_datasets import OGB_NAMES, ogb_dir_name

    specs += [DatasetSpec(n, "ogb", {"ogbn": "node", "ogbl": "link", "ogbg": "graph"}[n[:4]],
                          f"OGB/{ogb_dir_name(n)}", "Open Graph Benchmark") for n in OGB_NAMES]
    return {s.name.lower(): s for s in specs}


def known_datasets() -> List[DatasetSpec]:
    """Every dataset with a fixed name (``synthetic-*`` and other OGB names are also accepted)."""
    return list(_registry().values())


def expected_path(name: str, root=None) -> Path:
    """Where the files of dataset ``name`` are expected under the data root (``None``: the bundled Cora)."""
    _check_name(name)
    spec = _spec(DEFAULT_DATASET if name is None else name)
    if spec.family == "bundled":
        from scalegnn.data.bundled import CORA_NPZ

        return CORA_NPZ
    return dataset_root(root) / spec.relpath


def _spec(name: str) -> DatasetSpec:
    reg = _registry()
    key = name.lower()
    if key in ("default", "cora_bundled", "bundled"):
        key = DEFAULT_DATASET
    if key in reg:
        return reg[key]
    if key.startswith(("ogbn-", "ogbl-", "ogbg-")):
        from scalegnn.data.ogb_datasets import ogb_dir_name

        return DatasetSpec(name, "ogb", {"ogbn": "node", "ogbl": "link", "ogbg": "graph"}[key[:4]],
                           f"OGB/{ogb_dir_name(name)}")
    if key.startswith("tu:"):
        tu = name.split(":", 1)[1]
        return DatasetSpec(tu, "tu", "graph", f"TU/{tu}/raw")
    import difflib

    hint = did_you_mean(name, [s.name for s in reg.values()])
    if not hint and difflib.SequenceMatcher(None, key[:10], "synthetic-").ratio() >= 0.7:
        hint = " Generated graphs are named 'synthetic-<nodes>-<edges>' or 'synthetic-sbm-<nodes>-<edges>'."
    raise ValueError(
        f"unknown dataset {name!r}.{hint} Run `scalegnn datasets` to list every known name (and whether it is "
        f"present); also accepted: 'synthetic-<nodes>-<edges>', any 'ogbn-/ogbl-/ogbg-' OGB name, 'TU:<NAME>'."
    )


def _check_name(name: Any) -> None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"the dataset name must be a string (e.g. 'Cora', 'ogbn-arxiv') or None, "
                        f"got {name!r} ({type(name).__name__})")


def _check_options(family: str, name: str, kwargs: Dict[str, Any]) -> None:
    """Reject keyword options the family does not take, with a "did you mean" hint."""
    allowed = FAMILY_OPTIONS[family]
    for key in kwargs:
        if key not in allowed:
            takes = f"it takes {list(allowed)}" if allowed else "it takes no options"
            raise TypeError(f"load_dataset({name!r}) got an unexpected option {key!r}: {takes}."
                            f"{did_you_mean(key, allowed)}".rstrip("."))


def _present(spec: DatasetSpec, root: Path) -> bool:
    if spec.family == "bundled":
        from scalegnn.data.bundled import CORA_NPZ

        return CORA_NPZ.is_file()
    path = root / spec.relpath
    if spec.family == "planetoid":
        from scalegnn.data.planetoid import has_raw

        return has_raw(path, spec.name)
    if spec.family == "tu":
        from scalegnn.data.tu import has_raw

        return has_raw(path, spec.name)
    if spec.family == "ogb":
        return (path / "raw").is_dir()
    if spec.family == "seal" and not path.is_file() and path.suffix == ".mat":
        return (root / "SEAL" / "raw" / f"{spec.name}.txt").is_file()
    return path.is_file()


def dataset_status(root=None) -> List[Dict[str, Any]]:
    """Every known dataset with whether it is present under the data root and where it is expected.

    Returns a list of dicts ``{"name", "family", "task", "present", "path"}``
    (``path`` is the expected location, a string), in registry order; used by
    the ``scalegnn datasets`` command.
    """
    r = dataset_root(root)
    rows = []
    for spec in known_datasets():
        path = expected_path(spec.name, r)
        rows.append({"name": spec.name, "family": spec.family, "task": spec.task,
                     "present": _present(spec, r), "path": str(path)})
    return rows


def split_edges(data, val: float = 0.05, test: float = 0.1, seed: int = 0) -> dict:
    """Seeded train/valid/test edge split in OGB's layout; see :func:`scalegnn.data.seal_networks.split_edges`.

    Raises:
        ValueError / TypeError: for fractions outside ``[0, 1)`` (or summing to
            ``>= 1``), a non-integer ``seed`` or an invalid graph.
    """
    from scalegnn.data.seal_networks import split_edges as _split

    return _split(data, val=val, test=test, seed=seed)


def load_dataset(name: Optional[str] = None, root=None, *, download: bool = True, **kwargs: Any) -> LoadedDataset:
    """Load dataset ``name`` as a :class:`~scalegnn.data.loaded.LoadedDataset`.

    Args:
        name: a dataset name (see the module docstring); ``None`` or
            ``"default"`` gives the bundled Cora.
        root: the data root (default ``$SCALEGNN_DATA``, else ``~/.scalegnn/data``).
        download: fetch missing files (PyG / OGB download) when possible. With
            ``False`` (or ``$SCALEGNN_OFFLINE=1``) a missing dataset raises
            :class:`DatasetNotFoundError` naming the expected path.
        **kwargs: family options (:data:`FAMILY_OPTIONS`; others raise
            ``TypeError`` with a "did you mean"): ``seed`` (synthetic),
            ``split_edges=True`` plus ``val``/``test``/``seed`` (SEAL networks),
            ``meta_dict`` / ``split_type`` (OGB), ``fold`` / ``num_folds`` /
            ``seed`` (the TU split, see the module doc) and ``use_node_attr``
            etc. (TU, passed to PyG's ``TUDataset``).

    Raises:
        ValueError: an unknown name (with close names) or a bad option value.
        TypeError: a name that is not a string, an unknown option.
        DatasetNotFoundError: the files are absent and cannot be downloaded;
            the message names the root searched and how to fix it.

    Every single graph returned (``data``) has passed
    :func:`~scalegnn.data.validate.validate_graph`; for graph collections every
    graph is validated.
    """
    start = time.perf_counter()
    _check_name(name)
    download = check_bool(download, "download")
    dataset_root(root)  # type check of root
    if name is None or name.lower() in ("default", DEFAULT_DATASET, "cora_bundled", "bundled"):
        _check_options("bundled", DEFAULT_DATASET, kwargs)
        ds = _load_bundled()
    elif name.lower().startswith("synthetic-"):
        from scalegnn.data.synthetic import load_synthetic  # written separately; imported lazily

        _check_options("synthetic", name, kwargs)
        ds = load_synthetic(name, **kwargs) if kwargs else load_synthetic(name, seed=0)
    else:
        spec = _spec(name)
        _check_options(spec.family, name, kwargs)
        r = dataset_root(root)
        loader = {"planetoid": _load_planetoid, "tu": _load_tu, "seal": _load_seal, "ogb": _load_ogb}[spec.family]
        ds = loader(spec, r, download and not offline(), **kwargs)
    if ds.info.get("is_hetero"):
        pass  # heterogeneous graphs (ogbn-mag) have no single edge_index to check
    elif ds.data is not None:
        validate_graph(ds.data, task=ds.task)
    elif ds.graphs is not None:
        _validate_collection(ds.name, ds.graphs)
    ds.info.setdefault("load_seconds", time.perf_counter() - start)
    return ds


def _validate_collection(name: str, graphs) -> None:
    """``validate_graph`` on every graph of a collection; vectorized for PyG in-memory datasets."""
    import torch

    def slow() -> None:
        for i in range(len(graphs)):
            try:
                validate_graph(graphs[i], task="graph")
            except ValueError as err:
                raise ValueError(f"{name} graph {i}: {err}") from err

    data = getattr(graphs, "_data", None)
    slices = getattr(graphs, "slices", None)
    indices = getattr(graphs, "_indices", None)
    if data is None or not slices or indices is not None or "edge_index" not in slices:
        return slow()
    ei = data.edge_index
    if "x" in slices:
        n_per = slices["x"].diff()
    elif isinstance(getattr(data, "_num_nodes", None), list):
        n_per = torch.tensor(data._num_nodes)
    else:
        return slow()
    num_graphs = n_per.numel()
    ok = ei.dtype in (torch.int64, torch.int32) and ei.dim() == 2 and ei.size(0) == 2 and bool((n_per > 0).all())
    if ok and ei.numel():
        graph_of_edge = torch.repeat_interleave(torch.arange(num_graphs), slices["edge_index"].diff())
        ok = bool((ei >= 0).all()) and bool((ei < n_per[graph_of_edge]).all())
    x = getattr(data, "x", None)
    if ok and x is not None and x.layout == torch.strided:
        ok = (not torch.is_floating_point(x)) or bool(torch.isfinite(x).all())
        ok = ok and x.size(0) == int(n_per.sum())
    y = getattr(data, "y", None)
    if ok and y is not None and "y" in slices:
        per = slices["y"].diff()
        ok = bool((per == 1).all()) or bool(torch.equal(per, n_per))
    if not ok:
        slow()


# ---------------------------------------------------------------- families


def _load_bundled() -> LoadedDataset:
    from scalegnn.data.bundled import CORA_NPZ, load_cora

    data = load_cora()
    return LoadedDataset(
        name="Cora", task="node", data=data, split=_mask_split(data),
        num_features=data.x.size(1), num_classes=int(data.y.max()) + 1, metric="acc",
        info={"source": str(CORA_NPZ), "bundled": True, "local": True},
    )


def _mask_split(data) -> Dict[str, Any]:
    return {
        "train": data.train_mask.nonzero().view(-1),
        "valid": data.val_mask.nonzero().view(-1),
        "test": data.test_mask.nonzero().view(-1),
    }


def _load_planetoid(spec: DatasetSpec, root: Path, download: bool, **kwargs) -> LoadedDataset:
    from scalegnn.data.planetoid import load_planetoid_data

    if kwargs:
        raise TypeError(f"unexpected options for Planetoid {spec.name}: {sorted(kwargs)}")
    data, raw_dir = load_planetoid_data(spec.name, root, download=download)
    return LoadedDataset(
        name=spec.name, task="node", data=data, split=_mask_split(data),
        num_features=data.x.size(1), num_classes=int(data.y.max()) + 1, metric="acc",
        info={"source": str(raw_dir), "local": Path(raw_dir).is_relative_to(root)},
    )


def _load_tu(spec: DatasetSpec, root: Path, download: bool, *, fold: int = 0, num_folds: int = 10,
             seed: int = 0, **kwargs) -> LoadedDataset:
    from scalegnn.data.splits import fold_split
    from scalegnn.data.tu import load_tu_dataset, tu_graph_labels

    num_folds = check_int(num_folds, "num_folds", min_value=3)
    fold = check_int(fold, "fold", min_value=0, max_value=num_folds - 1)
    seed = check_int(seed, "seed")
    graphs, raw_dir = load_tu_dataset(spec.name, root, download=download, **kwargs)
    y = tu_graph_labels(graphs)
    split = fold_split(y, fold, num_folds, seed)
    return LoadedDataset(
        name=spec.name, task="graph", graphs=graphs, split=split,
        num_features=graphs.num_features, num_classes=graphs.num_classes, metric="acc",
        info={"source": str(raw_dir), "local": Path(raw_dir).is_relative_to(root),
              "num_graphs": len(graphs), "has_node_features": graphs.num_features > 0,
              "split": f"stratified {num_folds}-fold, fold {fold}, seed {seed}: test = fold {fold}, "
                       f"valid = fold {(fold - 1) % num_folds}, train = the other folds",
              "fold": fold, "num_folds": num_folds, "split_seed": seed},
    )


def _load_seal(spec: DatasetSpec, root: Path, download: bool, *, split_edges: bool = False,
               val: float = 0.05, test: float = 0.1, seed: int = 0) -> LoadedDataset:
    from scalegnn.data.seal_networks import load_seal_network, split_edges as _split

    split_edges = check_bool(split_edges, "split_edges")
    if split_edges:  # check the options before reading the file
        check_probability(val, "val", allow_one=False)
        check_probability(test, "test", allow_one=False)
        check_int(seed, "seed")
    data, path, info = load_seal_network(spec.name, root, download=download)
    split = _split(data, val=val, test=test, seed=seed) if split_edges else {}
    labels = getattr(data, "y", None)
    return LoadedDataset(
        name=spec.name, task="link", data=data, split=split, num_features=0,
        num_classes=int(labels.size(1)) if labels is not None else 0, metric="auc",
        info={"source": str(path), "local": Path(path).is_relative_to(root), **info},
    )


def _load_ogb(spec: DatasetSpec, root: Path, download: bool, **kwargs) -> LoadedDataset:
    from scalegnn.data.ogb_datasets import load_ogb

    return load_ogb(spec.name, root, download=download, **kwargs)
