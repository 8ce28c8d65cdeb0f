"""Open Graph Benchmark datasets through the ``ogb`` package's PyG datasets.

Layout under the data root: ``<root>/OGB/<name_with_underscores>/`` is exactly
the folder OGB itself creates (``raw/``, ``split/``, ``mapping/``,
``RELEASE_v<version>.txt``), e.g. ``<root>/OGB/ogbn_arxiv``. The folder is only
read: the OGB dataset is rooted at a cache folder whose entries are symlinks to
it, so OGB's ``processed/`` folder is written to the cache.

Datasets not in OGB's ``master.csv`` (for instance one written with
``ogb.io.DatasetSaver``) load the same way given their meta information: the
``meta_dict`` argument (a dict, or a path to ``meta_dict.pt``) or a
``meta_dict.pt`` file inside the dataset folder.

Without local files and with downloading allowed, OGB's zip is downloaded and
extracted into ``<root>/OGB`` when the root is writable, else into
``<cache>/downloads/OGB``, then loaded as above. Nothing ever prompts: OGB's
"update the dataset?" question is answered *no* (a version mismatch becomes a
warning), its "download N GB?" question *yes* (``download=True`` is the consent).

Compatibility: with ``torch >= 2.6`` ``torch.load`` defaults to
``weights_only=True``, which rejects the PyG objects OGB pickles into
``processed/`` and the numpy arrays of ``split_dict.pt``; those files (written by
this loader, or part of the dataset the caller asked for) are loaded with PyG's
classes allow-listed, falling back to a full unpickle for files inside the
dataset's own folders only.
"""
from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Union

from scalegnn.data._paths import (DatasetNotFoundError, cache_dir, download_guard, is_writable,
                                  linked_cache_dir, make_dirs_or_undo, missing_data_hint, offline)

__all__ = ["OGB_NAMES", "ogb_dir_name", "ogb_dataset_dir", "load_ogb", "ogb_meta_info"]

OGB_NAMES = (
    "ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M", "ogbn-mag",
    "ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2",
    "ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa", "ogbg-code2",
)
TASKS = {"ogbn": "node", "ogbl": "link", "ogbg": "graph"}


def _check_ogb_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be an OGB dataset name such as 'ogbn-arxiv', got {name!r} ({type(name).__name__})")
    if name[:5].lower() not in ("ogbn-", "ogbl-", "ogbg-"):
        raise ValueError(f"OGB dataset names start with ogbn-, ogbl- or ogbg-, got {name!r}")


def ogb_dir_name(name: str) -> str:
    """OGB's folder name for a dataset: ``ogbn-arxiv`` -> ``ogbn_arxiv``."""
    _check_ogb_name(name)
    return "_".join(name.split("-"))


def ogb_dataset_dir(root: Path, name: str) -> Path:
    return Path(root) / "OGB" / ogb_dir_name(name)


def ogb_meta_info(name: str) -> Optional[Dict[str, Any]]:
    """The row of OGB's ``master.csv`` for ``name`` as a dict, or ``None`` if unknown."""
    _check_ogb_name(name)
    import pandas as pd
    import ogb

    sub = {"ogbn": "nodeproppred", "ogbl": "linkproppred", "ogbg": "graphproppred"}[name[:4]]
    master = pd.read_csv(os.path.join(os.path.dirname(ogb.__file__), sub, "master.csv"),
                         index_col=0, keep_default_na=False)
    return dict(master[name]) if name in master else None


def _classes(prefix: str):
    if prefix == "ogbn":
        from ogb.nodeproppred import Evaluator, PygNodePropPredDataset as Dataset
    elif prefix == "ogbl":
        from ogb.linkproppred import Evaluator, PygLinkPropPredDataset as Dataset
    else:
        from ogb.graphproppred import Evaluator, PygGraphPropPredDataset as Dataset
    return Dataset, Evaluator


@contextlib.contextmanager
def _no_prompt() -> Iterator[None]:
    """Answer OGB's interactive questions without blocking."""
    old = builtins.input

    def answer(prompt: str = "") -> str:
        return "y" if "will you proceed" in str(prompt).lower() else "n"

    builtins.input = answer
    try:
        yield
    finally:
        builtins.input = old


@contextlib.contextmanager
def _torch_load_compat(trusted_dirs) -> Iterator[None]:
    """Let OGB's bare ``torch.load`` calls read PyG pickles and numpy split files under torch >= 2.6."""
    import pickle

    import torch
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import BaseStorage, EdgeStorage, GlobalStorage, NodeStorage

    original = torch.load
    allowed = [DataEdgeAttr, DataTensorAttr, BaseStorage, EdgeStorage, GlobalStorage, NodeStorage]
    trusted = [str(Path(d).resolve()) for d in trusted_dirs]

    def load(f, *args, **kwargs):
        if "weights_only" in kwargs or not isinstance(f, (str, os.PathLike)):
            return original(f, *args, **kwargs)
        try:
            with torch.serialization.safe_globals(allowed):
                return original(f, *args, weights_only=True, **kwargs)
        except pickle.UnpicklingError:
            path = str(Path(f).resolve())
            if not any(path == d or path.startswith(d + os.sep) for d in trusted):
                raise
            return original(f, *args, weights_only=False, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


def _read_meta_dict(meta_dict: Union[None, str, os.PathLike, Dict[str, Any]], local: Path):
    import torch

    if isinstance(meta_dict, dict):
        return dict(meta_dict)
    path = Path(meta_dict) if meta_dict is not None else local / "meta_dict.pt"
    if path.is_file():
        return dict(torch.load(path, weights_only=False))
    if meta_dict is not None:
        raise FileNotFoundError(f"meta_dict file {path} does not exist")
    return None


def _has_local(d: Path) -> bool:
    return (d / "raw").is_dir()


def _download(name: str, meta: Dict[str, Any], target_root: Path) -> Path:
    """Download and extract OGB's zip so that the dataset ends up in ``target_root/<dir_name>``."""
    from ogb.utils.url import decide_download, download_url, extract_zip

    final = target_root / ogb_dir_name(name)
    with make_dirs_or_undo(target_root), download_guard(name, final, timeout=120.0), _no_prompt():
        url = meta["url"]
        if not decide_download(url):
            raise DatasetNotFoundError(f"download of {name} declined")
        path = download_url(url, str(target_root))
        try:
            extract_zip(path, str(target_root))
        finally:
            os.unlink(path)
    extracted = target_root / meta["download_name"]
    if extracted != final:
        if final.exists():
            shutil.rmtree(final)
        shutil.move(str(extracted), str(final))
    return final


def load_ogb(name: str, root: Path, download: bool = True, *, meta_dict=None, split_type: Optional[str] = None,
             **kwargs):
    """Load OGB dataset ``name`` from ``<root>/OGB/<dir_name>`` (or download it) as a ``LoadedDataset``."""
    import torch
    from ogb.utils.torch_util import replace_numpy_with_torchtensor

    from scalegnn.data.loaded import LoadedDataset

    from scalegnn.data.validate import check_bool

    _check_ogb_name(name)
    check_bool(download, "download")
    if split_type is not None and not isinstance(split_type, str):
        raise TypeError(f"split_type must be a string (e.g. 'scaffold') or None, got {split_type!r}")
    if meta_dict is not None and not isinstance(meta_dict, (dict, str, os.PathLike)):
        raise TypeError(f"meta_dict must be a dict or a path to meta_dict.pt, got {type(meta_dict).__name__}")
    prefix = name[:4].lower()
    Dataset, Evaluator = _classes(prefix)
    local = ogb_dataset_dir(root, name)
    meta = None
    if not _has_local(local):
        cached = cache_dir() / "downloads" / "OGB" / ogb_dir_name(name)
        if _has_local(cached):
            local = cached
        else:
            master = ogb_meta_info(name)
            if not download or offline() or master is None:
                why = ("" if master is not None else
                       f"{name!r} is not an OGB dataset known to the installed ogb package, so it cannot be "
                       f"downloaded. ")
                raise DatasetNotFoundError(
                    f"OGB dataset {name} not found: expected OGB's dataset folder (with raw/ and split/) at "
                    f"{local}. {why}{missing_data_hint(Path(root), downloadable=master is not None)}"
                )
            target_root = local.parent if is_writable(local.parent) else cached.parent
            local = _download(name, master, target_root)
    meta = _read_meta_dict(meta_dict, local)
    known = meta is None
    if meta is None:
        meta = ogb_meta_info(name)
        if meta is None:
            raise ValueError(
                f"{name!r} is not in the installed ogb package's master.csv: pass meta_dict= "
                f"(the dict or meta_dict.pt written by ogb.io.DatasetSaver) or put meta_dict.pt in {local}"
            )
    base = linked_cache_dir("OGB", local, ogb_dir_name(name), link=("*",))
    linked = base / ogb_dir_name(name)
    release = f"RELEASE_v{meta['version']}.txt"
    if not (linked / release).exists():
        found = sorted(p.name for p in local.glob("RELEASE_v*.txt"))
        warnings.warn(f"{local} has {found or 'no release note'}, the installed ogb expects {release}; "
                      f"loading the local files as they are", stacklevel=3)
        (linked / release).write_text(f"# marker written by scalegnn: local copy at {local}\n")
    with _no_prompt(), _torch_load_compat([local, base]):
        if known:
            ds = Dataset(name=name, root=str(base), **kwargs)
        else:
            m = dict(meta)
            m["dir_path"] = str(linked)
            ds = Dataset(name=name, meta_dict=m, **kwargs)
        if prefix == "ogbl":
            split = ds.get_edge_split(split_type) if split_type else ds.get_edge_split()
        else:
            split = ds.get_idx_split(split_type) if split_type else ds.get_idx_split()
    split = replace_numpy_with_torchtensor(split)
    split = {k: (v.long() if isinstance(v, torch.Tensor) and not torch.is_floating_point(v) else v)
             for k, v in split.items()}

    if known:
        evaluator = Evaluator(name)
    else:
        evaluator = Evaluator.__new__(Evaluator)
        evaluator.name = name
        evaluator.eval_metric = meta["eval metric"]
        if prefix != "ogbl":
            evaluator.num_tasks = int(meta["num tasks"])
        elif "hits@" in evaluator.eval_metric:
            evaluator.K = int(evaluator.eval_metric.split("@")[1])

    num_tasks = int(meta.get("num tasks", 1) or 1) if prefix != "ogbl" else 1
    n_classes = int(meta.get("num classes", -1) or -1) if prefix != "ogbl" else 0
    if prefix != "ogbl" and ("binary" in str(meta.get("task type", "")) or n_classes <= 0):
        n_classes = num_tasks  # multi-task binary / regression: one output per task
    info = {"source": str(local), "local": Path(local).is_relative_to(root), "cache": str(linked),
            "task_type": meta.get("task type"), "num_tasks": num_tasks, "is_hetero": meta.get("is hetero") == "True"}
    task = TASKS[prefix]
    if task == "graph":
        return LoadedDataset(name=name, task=task, graphs=ds, split=split, num_features=ds.num_features,
                             num_classes=n_classes, metric=evaluator.eval_metric, evaluator=evaluator, info=info)
    data = ds[0]
    num_features = data.x.size(-1) if getattr(data, "x", None) is not None else 0
    return LoadedDataset(name=name, task=task, data=data, split=split, num_features=num_features,
                         num_classes=n_classes, metric=evaluator.eval_metric, evaluator=evaluator, info=info)
