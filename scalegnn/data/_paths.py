"""Where datasets live (the read-only data root) and where derived files go (the cache).

* data root: the ``root`` argument, else ``$SCALEGNN_DATA``, else ``~/.scalegnn/data``.
  It is treated as read-only: loaders never write next to local raw files.
* cache: ``$SCALEGNN_CACHE``, else ``~/.cache/scalegnn``. PyG ``processed/``
  folders and other derived files go here, in a per-dataset folder whose
  ``raw`` entry is a symlink to the raw files under the data root.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

__all__ = ["dataset_root", "cache_dir", "linked_cache_dir", "is_writable", "offline", "download_guard",
           "make_dirs_or_undo", "raw_dir_or_download", "missing_data_hint", "DatasetNotFoundError"]

PathLike = Union[str, "os.PathLike[str]"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither under the data root nor downloadable right now."""


def dataset_root(root: Optional[PathLike] = None) -> Path:
    """The data root: ``root``, else ``$SCALEGNN_DATA``, else ``~/.scalegnn/data``."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path (str or os.PathLike) or None, got {root!r} "
                            f"({type(root).__name__})")
        return Path(root).expanduser()
    env = os.environ.get("SCALEGNN_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".scalegnn" / "data"


def missing_data_hint(root: Path, downloadable: bool = True) -> str:
    """The shared tail of every "dataset not found" message: where we looked and the ways out."""
    fetch = ("allow downloading (download=True and SCALEGNN_OFFLINE unset; needs internet); "
             if downloadable else "")
    return (f"Searched the data root {root} (the root= argument / --root, else $SCALEGNN_DATA, else "
            f"~/.scalegnn/data). To fix: put the files there or point --root / SCALEGNN_DATA at a folder that "
            f"has them; {fetch}or train on a generated graph instead (dataset name "
            f"'synthetic-<nodes>-<edges>', e.g. 'synthetic-10k-100k'). `scalegnn datasets` lists what is present.")


def cache_dir() -> Path:
    """The cache for derived files: ``$SCALEGNN_CACHE``, else ``~/.cache/scalegnn``."""
    env = os.environ.get("SCALEGNN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scalegnn"


def offline() -> bool:
    """True when ``$SCALEGNN_OFFLINE`` is set to 1/true/yes: never try to download."""
    return os.environ.get("SCALEGNN_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def is_writable(path: Path) -> bool:
    """Whether ``path`` (or its nearest existing ancestor) is a writable directory."""
    p = Path(path)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    return p.is_dir() and os.access(p, os.W_OK)


def _key(path: Path) -> str:
    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:12]


def linked_cache_dir(family: str, source_dir: Path, name: str, link: tuple = ("raw",)) -> Path:
    """A cache folder ``<cache>/<family>/<hash(source_dir)>/<name>`` whose entries mirror ``source_dir``.

    Each entry of ``source_dir`` named in ``link`` (``"*"``: every entry but
    ``processed``) becomes a symlink to the original, so a PyG dataset rooted at
    ``<cache>/<family>/<hash>`` reads the raw files in place and writes its
    ``processed/`` folder in the cache. Returns the ``<cache>/<family>/<hash>``
    folder (the PyG ``root``).
    """
    source_dir = Path(source_dir).resolve()
    base = cache_dir() / family / _key(source_dir)
    target = base / name
    target.mkdir(parents=True, exist_ok=True)
    entries = [e.name for e in source_dir.iterdir() if e.name != "processed"] if "*" in link else list(link)
    for entry in entries:
        src = source_dir / entry
        dst = target / entry
        if dst.is_symlink():
            if Path(os.readlink(dst)) == src:
                continue
            dst.unlink()
        elif dst.exists():
            continue  # a real folder left by an earlier download into the cache
        os.symlink(src, dst, target_is_directory=src.is_dir())
    return base


@contextlib.contextmanager
def download_guard(name: str, expected: Path, timeout: float = 60.0) -> Iterator[None]:
    """Run a download with a socket timeout, no interactive prompt, and a clear error on failure."""
    import builtins

    old_timeout = socket.getdefaulttimeout()
    old_input = builtins.input

    def _no_prompt(prompt: str = "") -> str:  # OGB asks y/N questions; answer "no" without blocking
        return "n"

    socket.setdefaulttimeout(timeout)
    builtins.input = _no_prompt
    try:
        yield
    except DatasetNotFoundError:
        raise
    except (OSError, RuntimeError, ValueError) as err:  # URLError, socket.timeout, DNS failure, bad zip
        raise DatasetNotFoundError(
            f"dataset {name!r} is not available locally (expected at {expected}) and downloading it "
            f"failed: {err}. Downloading needs internet access; otherwise place the files at {expected} "
            f"or point SCALEGNN_DATA / root= at a folder that has them."
        ) from err
    finally:
        socket.setdefaulttimeout(old_timeout)
        builtins.input = old_input


@contextlib.contextmanager
def make_dirs_or_undo(path: Path) -> Iterator[Path]:
    """Create ``path`` (with parents); if the block raises, remove what was created (files included)."""
    import shutil

    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)  # the outermost folder this call made
        raise


def raw_dir_or_download(
    raw_dir: Path,
    cached: Path,
    present: Callable[[Path], bool],
    fetch: Callable[[Path], None],
    download: bool,
    missing_message: Callable[[], str],
) -> Path:
    """Where a dataset's raw files are: the data root, else an earlier download in the cache.

    Otherwise download them with ``fetch(target)`` into ``raw_dir`` when it is
    writable (else into ``cached``), or raise :class:`DatasetNotFoundError`
    with ``missing_message()`` when downloading is off or impossible.
    """
    if present(raw_dir):
        return raw_dir
    if present(cached):
        return cached
    if not download or offline():
        raise DatasetNotFoundError(missing_message())
    target = raw_dir if is_writable(raw_dir) else cached
    fetch(target)
    return target
