r"""Global magnitude pruning: rank the weights of several layers together.

Per-layer pruning removes the same fraction of every layer, so at 90% a
:math:`16 \times 7` output layer keeps 11 weights while the
:math:`1433 \times 16` input layer keeps 2,293. Global pruning ranks the scores
of all layers in one list and removes the smallest fraction ``target`` of them
all, as in the lottery-ticket line of work (`"The Lottery Ticket Hypothesis:
Finding Sparse, Trainable Neural Networks" <https://arxiv.org/abs/1803.03635>`_,
Frankle & Carbin, ICLR 2019, and `"A Unified Lottery Ticket Hypothesis for
Graph Neural Networks" <https://arxiv.org/abs/2102.06790>`_, Chen et al., ICML
2021): layers whose weights matter little (small magnitudes) lose more of them.

The scores are each layer's own criterion (:math:`|w|` for ``magnitude``, the
accumulated first-order Taylor importance for ``taylor``); masks only shrink.
"""
from __future__ import annotations

from typing import List, Sequence

import torch

from scalegnn.compress.pruned import Pruned, check_sparsity

__all__ = ["global_prune", "global_sparsity"]


def _check(wrappers: Sequence[Pruned]) -> List[Pruned]:
    wrappers = list(wrappers)
    if not wrappers:
        raise ValueError("global_prune needs at least one Pruned layer")
    for w in wrappers:
        if not isinstance(w, Pruned):
            raise TypeError(f"global_prune takes Pruned layers, got {type(w).__name__}")
        if w.structured is not None:
            raise ValueError(f"global_prune ranks single weights; a layer has structured={w.structured!r}")
    return wrappers


def global_prune(wrappers: Sequence[Pruned], target: float) -> None:
    """Prune the smallest-scoring weights of ``wrappers`` together until a fraction ``target`` of all is pruned.

    Already pruned weights stay pruned (the count never decreases); ties are
    broken by position, deterministically.
    """
    wrappers = _check(wrappers)
    target = check_sparsity(target)
    scores, masks, slots = [], [], []
    for w in wrappers:
        for group, members, units in w.groups:
            scores.append(w._scores(group, members).reshape(-1).to(torch.float64))
            masks.append(w._unit_mask(members).reshape(-1))
            slots.append((w, members, units))
    score = torch.cat([s.to(scores[0].device) for s in scores])
    mask = torch.cat([m.to(scores[0].device) for m in masks])
    total = score.numel()
    already = int((mask == 0).sum())
    k = max(min(round(target * total), total), already)
    if k == already:
        return
    score = score.masked_fill(mask == 0, -float("inf"))
    drop = torch.topk(score, k, largest=False).indices
    keep = torch.ones(total, dtype=mask.dtype, device=mask.device)
    keep[drop] = 0
    offset = 0
    for w, members, units in slots:
        current = w._unit_mask(members)
        w._set_unit_mask(members, keep[offset:offset + units].view(current.shape).to(current.device))
        offset += units


def global_sparsity(wrappers: Sequence[Pruned]) -> float:
    """Fraction of exactly-zero entries over all the weight matrices of ``wrappers``."""
    wrappers = _check(wrappers)
    with torch.no_grad():
        zeros = sum(int((w.effective(n) == 0).sum()) for w in wrappers for n in w.weight_names)
        total = sum(w.effective(n).numel() for w in wrappers for n in w.weight_names)
    return zeros / total
