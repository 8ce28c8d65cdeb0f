"""Planetoid citation graphs (Cora, CiteSeer, PubMed) with the public split.

Local raw files (``<root>/Planetoid/<Name>/raw/ind.<name>.*``) are read in
place with PyG's own reader, the one ``torch_geometric.datasets.Planetoid``
uses, so the result is identical to PyG's and nothing is written anywhere.
Without local files, the raw files are downloaded from the Planetoid
repository into ``<root>/Planetoid/<Name>/raw`` when the root is writable,
else into the cache.
"""
from __future__ import annotations

from pathlib import Path

from scalegnn.data._paths import (cache_dir, download_guard, make_dirs_or_undo, missing_data_hint,
                                  raw_dir_or_download)

__all__ = ["PLANETOID_NAMES", "planetoid_raw_dir", "load_planetoid_data"]

PLANETOID_NAMES = ("Cora", "CiteSeer", "PubMed")
RAW_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
URL = "https://github.com/kimiyoung/planetoid/raw/master/data"


def _raw_files(name: str):
    return [f"ind.{name.lower()}.{s}" for s in RAW_SUFFIXES]


def planetoid_raw_dir(root: Path, name: str) -> Path:
    """``<root>/Planetoid/<name>/raw``, where the raw files of ``name`` are expected."""
    from scalegnn.data.validate import check_option

    check_option(name, "name", PLANETOID_NAMES)
    return Path(root) / "Planetoid" / name / "raw"


def has_raw(raw_dir: Path, name: str) -> bool:
    return all((raw_dir / f).is_file() for f in _raw_files(name))


def load_planetoid_data(name: str, root: Path, download: bool = True):
    """The PyG ``Data`` of Planetoid ``name`` (public split masks), as ``Planetoid(root, name)[0]``."""
    from torch_geometric.io import read_planetoid_data

    from scalegnn.data.validate import check_bool, check_option

    check_option(name, "name", PLANETOID_NAMES)
    check_bool(download, "download")

    expected = planetoid_raw_dir(root, name)
    raw_dir = raw_dir_or_download(
        expected, cache_dir() / "downloads" / "Planetoid" / name / "raw",
        present=lambda d: has_raw(d, name), fetch=lambda target: _download(name, target), download=download,
        missing_message=lambda: (
            f"Planetoid {name} not found: expected the raw files "
            f"{[f for f in _raw_files(name) if not (expected / f).is_file()]} in {expected}. "
            f"{missing_data_hint(root)}"),
    )
    return read_planetoid_data(str(raw_dir), name.lower()), raw_dir


def _download(name: str, target: Path) -> None:
    from torch_geometric.data import download_url

    with make_dirs_or_undo(target), download_guard(name, target):
        for f in _raw_files(name):
            if not (target / f).is_file():
                download_url(f"{URL}/{f}", str(target), log=True)
