"""Datasets shipped inside the package (no download, no data root needed).

``cora.npz`` is the Planetoid Cora citation graph (Sen et al. 2008; public split
of Yang et al. 2016), stored compactly and rebuilt into exactly the PyG ``Data``
that ``torch_geometric.datasets.Planetoid(root, "Cora")`` produces. Regenerate
it with ``python -m scalegnn.data.bundled.make_cora --root <data root>``.

Keys of ``cora.npz`` (readable with numpy alone):

* ``edge_index``: int64 ``[2, E]`` (PyG's coalesced, both directions)
* ``x_row``, ``x_col``: uint16 coordinates of the nonzeros of the binary
  bag-of-words feature matrix; ``x_shape``: int64 ``[N, F]``
* ``y``: uint8 ``[N]`` class labels
* ``train_mask``, ``val_mask``, ``test_mask``: bool ``[N]``
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["BUNDLED_DIR", "CORA_NPZ", "load_cora_arrays", "load_cora"]

BUNDLED_DIR = Path(__file__).resolve().parent
CORA_NPZ = BUNDLED_DIR / "cora.npz"


def load_cora_arrays(path: Path | str = CORA_NPZ) -> dict:
    """The raw numpy arrays of the bundled Cora (no torch needed)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path to cora.npz (str or os.PathLike), got {path!r}")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def load_cora(path: Path | str = CORA_NPZ):
    """The bundled Cora as a PyG ``Data`` equal to PyG's ``Planetoid(..., "Cora")[0]``."""
    import torch
    from torch_geometric.data import Data

    a = load_cora_arrays(path)
    n, f = (int(v) for v in a["x_shape"])
    x = torch.zeros(n, f, dtype=torch.float32)
    x[torch.from_numpy(a["x_row"].astype(np.int64)), torch.from_numpy(a["x_col"].astype(np.int64))] = 1.0
    return Data(
        x=x,
        edge_index=torch.from_numpy(a["edge_index"].astype(np.int64)),
        y=torch.from_numpy(a["y"].astype(np.int64)),
        train_mask=torch.from_numpy(a["train_mask"].astype(bool)),
        val_mask=torch.from_numpy(a["val_mask"].astype(bool)),
        test_mask=torch.from_numpy(a["test_mask"].astype(bool)),
    )
