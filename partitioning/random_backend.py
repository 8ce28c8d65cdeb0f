"""The baseline: a uniformly random balanced partition."""
from __future__ import annotations

import numpy as np

__all__ = ["random_partition"]


def random_partition(num_nodes: int, k: int, seed: int = 0) -> np.ndarray:
    """Random vertex-to-part map with part sizes ``floor(n/k)`` or ``ceil(n/k)``.

    Vertex weights are not considered: parts are balanced by vertex count.
    """
    rng = np.random.default_rng(seed)
    parts = np.empty(num_nodes, dtype=np.int64)
    parts[rng.permutation(num_nodes)] = np.arange(num_nodes, dtype=np.int64) % k
    return parts
