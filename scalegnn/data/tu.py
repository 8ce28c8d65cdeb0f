"""TU graph-classification datasets (Morris et al. 2020) through PyG's ``TUDataset``.

Local raw files live in ``<root>/TU/<NAME>/raw`` (what ``TUDataset(root, name)``
expects under ``root/<NAME>/raw``). They are read in place: the dataset is
rooted at a cache folder whose ``<NAME>/raw`` is a symlink to the raw folder,
so PyG's ``processed/`` folder is written to the cache, never to the data root.
Without local files, the TU Dortmund zip is downloaded into
``<root>/TU/<NAME>/raw`` when the root is writable, else into the cache.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from scalegnn.data._paths import (cache_dir, download_guard, linked_cache_dir, make_dirs_or_undo,
                                  missing_data_hint, raw_dir_or_download)

__all__ = ["TU_NAMES", "tu_raw_dir", "load_tu_dataset", "tu_graph_labels"]

# Common TU benchmarks; any other TU Dortmund name is accepted by load_dataset("TU:<NAME>").
TU_NAMES = (
    "PROTEINS", "ENZYMES", "MUTAG", "Mutagenicity", "DD", "NCI1", "NCI109", "PTC_MR",
    "COLLAB", "IMDB-BINARY", "IMDB-MULTI", "REDDIT-BINARY", "REDDIT-MULTI-5K", "FRANKENSTEIN",
)


def tu_raw_dir(root: Path, name: str) -> Path:
    """``<root>/TU/<name>/raw``, where the TU files of ``name`` are expected."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"the TU dataset name must be a non-empty string, got {name!r}")
    return Path(root) / "TU" / name / "raw"


def tu_graph_labels(graphs):
    """The ``[G]`` label tensor of a ``TUDataset`` (one class per graph), without materializing every graph."""
    import torch

    if not hasattr(graphs, "__len__") or not hasattr(graphs, "__getitem__"):
        raise TypeError(f"graphs must be a graph collection (a PyG dataset or a list of Data), "
                        f"got {type(graphs).__name__}")
    if len(graphs) == 0:
        raise ValueError("graphs is empty: a graph-classification dataset needs at least one graph")
    data = getattr(graphs, "_data", None)
    if data is not None and getattr(graphs, "_indices", None) is None and getattr(data, "y", None) is not None:
        y = data.y
    else:
        ys = [getattr(graphs[i], "y", None) for i in range(len(graphs))]
        missing = [i for i, t in enumerate(ys) if t is None]
        if missing:
            raise ValueError(f"graph {missing[0]} has no label y; every graph needs one for the split")
        y = torch.cat([t.view(1, -1) for t in ys])
    return y.view(-1) if y.dim() == 2 and y.size(1) == 1 else y


def has_raw(raw_dir: Path, name: str) -> bool:
    return all((raw_dir / f"{name}_{k}.txt").is_file() for k in ("A", "graph_indicator"))


def load_tu_dataset(name: str, root: Path, download: bool = True, **kwargs):
    """``TUDataset`` ``name`` reading ``<root>/TU/<name>/raw``; returns ``(dataset, raw_dir)``.

    ``kwargs`` go to ``TUDataset`` (``use_node_attr``, ``use_edge_attr``, ``transform``).
    The split of :func:`scalegnn.data.load_dataset` is made there, not here.
    """
    from torch_geometric.datasets import TUDataset

    from scalegnn.data.validate import check_bool

    check_bool(download, "download")
    for key in ("use_node_attr", "use_edge_attr", "cleaned", "force_reload"):
        if key in kwargs:
            check_bool(kwargs[key], key)

    expected = tu_raw_dir(root, name)
    raw_dir = raw_dir_or_download(
        expected, cache_dir() / "downloads" / "TU" / name / "raw",
        present=lambda d: has_raw(d, name), fetch=lambda target: _download(name, target, TUDataset.url),
        download=download,
        missing_message=lambda: (
            f"TU dataset {name} not found: expected {name}_A.txt and {name}_graph_indicator.txt "
            f"(and the label files) in {expected}. {missing_data_hint(root)}"),
    )
    base = linked_cache_dir("TU", raw_dir.parent, name, link=("raw",))
    return TUDataset(str(base), name, **kwargs), raw_dir


def _download(name: str, target: Path, url: str) -> None:
    from torch_geometric.io import fs

    with make_dirs_or_undo(target):
        with download_guard(name, target):
            fs.cp(f"{url}/{name}.zip", str(target), extract=True)
        inner = target / name
        if inner.is_dir():
            for f in inner.iterdir():
                shutil.move(str(f), str(target / f.name))
            inner.rmdir()
