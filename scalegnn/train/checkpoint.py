"""Atomic checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint is written to a temporary file in the destination directory,
flushed to disk, then renamed over the target (``os.replace`` is atomic on
POSIX): a run killed at any moment leaves either the previous checkpoint or
the new one, never a torn file. Only tensors and plain Python containers are
stored, so loading never unpickles arbitrary objects.
"""
from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np
import torch

__all__ = ["CheckpointError", "atomic_save", "load_checkpoint", "capture_rng_state", "restore_rng_state"]

PathLike = Union[str, os.PathLike]


def atomic_save(obj: Dict[str, Any], path: PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CheckpointError(ValueError):
    """A file that cannot be a scalegnn checkpoint: truncated, corrupt, foreign or from another version.

    Its message is one line naming the file and what is wrong with it (never
    torch's advice to load with ``weights_only=False``).
    """


_ZIP_MAGIC = b"PK\x03\x04"


def load_checkpoint(path: PathLike, map_location: Any = "cpu") -> Dict[str, Any]:
    """Load a checkpoint written by :func:`atomic_save` with ``weights_only=True``.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        CheckpointError: the file is empty or truncated, is not a torch file, or
            holds Python objects other than tensors and plain containers (a
            scalegnn checkpoint never does).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f"{path} is empty: not a scalegnn checkpoint (truncated when it was written?)")
    if head != _ZIP_MAGIC:
        raise CheckpointError(f"{path} is not a scalegnn checkpoint: it is not a torch file in zip format")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is a truncated checkpoint: its zip directory is missing "
                              f"(the file was cut short after it was written)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path} is not a scalegnn checkpoint: it holds Python objects other than tensors "
                              f"and plain containers, which scalegnn never writes") from None
    except Exception as exc:  # a damaged entry inside an otherwise complete zip file
        raise CheckpointError(f"{path} is a corrupt checkpoint ({type(exc).__name__} while reading it)") from None


def capture_rng_state() -> Dict[str, Any]:
    """Every generator's state as tensors and plain containers (``weights_only``-safe)."""
    np_state = np.random.get_state()
    state: Dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [list(random.getstate()[1]), random.getstate()[2]],
        "python_version": random.getstate()[0],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    internal, gauss = state["python"]
    random.setstate((state["python_version"], tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state((
        "MT19937",
        np_state["keys"].numpy().astype(np.uint32),
        np_state["pos"],
        np_state["has_gauss"],
        np_state["cached_gaussian"],
    ))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
