"""``split_rows``: the rows of a node split that a decoupled model needs."""
from __future__ import annotations

from typing import Dict, Mapping, Tuple

import torch
from torch import Tensor

__all__ = ["split_rows"]


def split_rows(split: Mapping[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
    """The node ids of ``train``, ``valid`` and ``test`` concatenated, and the split re-indexed into those rows.

    A decoupled model (SGC, GBP) only ever reads these rows of the propagated
    features, so precomputation can target ``nodes`` and training can run on
    ``features[nodes]`` with the returned split: ``nodes[rows[k]] == split[k]``.
    Missing keys are skipped.
    """
    names = [k for k in ("train", "valid", "test") if k in split]
    parts = [split[k].view(-1) for k in names]
    nodes = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
    bounds = torch.tensor([0] + [p.numel() for p in parts]).cumsum(0).tolist()
    return nodes, {k: torch.arange(bounds[i], bounds[i + 1]) for i, k in enumerate(names)}
