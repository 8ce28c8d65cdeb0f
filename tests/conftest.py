"""Shared fixtures: real-data root, small synthetic graphs, determinism."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# One intra-op thread: on small kernels a second thread costs more in synchronization than it
# saves, and on a loaded 2-core machine it can make tiny float64 ops ~1000x slower.
torch.set_num_threads(1)


def data_root() -> Path | None:
    root = os.environ.get("SCALEGNN_DATA")
    return Path(root) if root else None


@pytest.fixture
def real_data_root() -> Path:
    """The read-only root of real datasets; skips (or fails under SCALEGNN_REQUIRE_DATA=1) when absent."""
    root = data_root()
    if root is None or not root.is_dir():
        if os.environ.get("SCALEGNN_REQUIRE_DATA") == "1":
            pytest.fail("SCALEGNN_REQUIRE_DATA=1 but SCALEGNN_DATA does not point at a data folder")
        pytest.skip("real datasets not available: set SCALEGNN_DATA")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Derived files (processed/ folders, caches) go to a per-session temp dir, never the data root."""
    monkeypatch.setenv("SCALEGNN_CACHE", str(tmp_path_factory.getbasetemp() / "scalegnn-cache"))


@pytest.fixture
def seed():
    torch.manual_seed(0)
    return 0


@pytest.fixture
def tiny_usair(tmp_path) -> Path:
    """A 40-node network in the SEAL layout (``SEAL/raw/USAir.txt``) with community structure."""
    raw = tmp_path / "root" / "SEAL" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = set()
    while len(lines) < 150:
        a, b = sorted(rng.integers(1, 41, 2))
        if a != b and (a % 4 == b % 4 or rng.random() < 0.15):
            lines.add((a, b))
    (raw / "USAir.txt").write_text("".join(f"{a} {b} 1\n" for a, b in sorted(lines)))
    return tmp_path / "root"
