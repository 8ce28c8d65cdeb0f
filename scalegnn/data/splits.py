"""Splits: the rows a decoupled model needs (:func:`split_rows`) and k-fold splits of graph collections.

Graph-classification benchmarks (the TU datasets) have no official split. The
standard protocol is **stratified 10-fold cross-validation with a fixed seed**:
:func:`stratified_folds` deals the graphs of every class round-robin into
``k`` folds (so each fold holds ``floor`` or ``ceil`` of ``n_c / k`` graphs of
class ``c``, and folds differ in size by at most one graph), and
:func:`fold_split` turns fold ``i`` into train/valid/test as PyG's kernel
benchmark (``benchmark/kernel``, the setting in which PyG re-runs GIN, DiffPool,
Graclus, TopK and other pooling baselines) does: **test = fold i, valid = fold
i - 1 (cyclically), train = the other k - 2 folds**, i.e. 80/10/10 for k = 10.
Averaging the test metric over ``fold = 0..k-1`` is the usual 10-fold result;
Xu et al. ("How Powerful are Graph Neural Networks?", ICLR 2019) train on all 9
non-test folds without a validation fold, Errica et al. ("A Fair Comparison of
Graph Neural Networks for Graph Classification", ICLR 2020) hold out 10% of the
training folds instead: both are recovered from the fold ids of
:func:`stratified_folds`.
"""
from __future__ import annotations

from typing import Dict, Mapping, Tuple

import torch
from torch import Tensor

from scalegnn.data.validate import check_int, did_you_mean

__all__ = ["split_rows", "stratified_folds", "fold_split", "SPLIT_NAMES"]

SPLIT_NAMES = ("train", "valid", "test")


def split_rows(split: Mapping[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
    """The node ids of ``train``, ``valid`` and ``test`` concatenated, and the split re-indexed into those rows.

    A decoupled model (SGC, GBP) only ever reads these rows of the propagated
    features, so precomputation can target ``nodes`` and training can run on
    ``features[nodes]`` with the returned split: ``nodes[rows[k]] == split[k]``.
    Missing keys are skipped; any other key (a typo such as ``"val"``) is an error.
    Boolean masks are turned into ids.
    """
    if not isinstance(split, Mapping):
        raise TypeError(f"split must be a mapping such as {{'train': ids, 'valid': ids, 'test': ids}}, "
                        f"got {type(split).__name__}")
    for key, value in split.items():
        if key not in SPLIT_NAMES:
            raise ValueError(f"split has an unknown key {key!r}; allowed keys are {list(SPLIT_NAMES)}."
                             f"{did_you_mean(key, SPLIT_NAMES)}".rstrip("."))
        if not isinstance(value, Tensor):
            raise TypeError(f"split[{key!r}] must be a tensor of node ids, got {type(value).__name__}")
        if value.dtype not in (torch.int64, torch.int32, torch.bool):
            raise ValueError(f"split[{key!r}] must hold integer node ids or a boolean mask, got dtype {value.dtype}")
        if value.dtype != torch.bool and value.numel() and int(value.min()) < 0:
            raise ValueError(f"split[{key!r}] contains the negative node id {int(value.min())}")
    names = [k for k in SPLIT_NAMES if k in split]
    parts = [split[k].view(-1) for k in names]
    parts = [p.nonzero().view(-1) if p.dtype == torch.bool else p.long() for p in parts]
    nodes = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
    bounds = torch.tensor([0] + [p.numel() for p in parts]).cumsum(0).tolist()
    return nodes, {k: torch.arange(bounds[i], bounds[i + 1]) for i, k in enumerate(names)}


def stratified_folds(y: Tensor, num_folds: int = 10, seed: int = 0) -> Tensor:
    """The fold id (``0..num_folds-1``) of every graph, stratified by the class labels ``y``.

    The graphs of each class are shuffled with a generator seeded by ``seed``
    and dealt round-robin into the folds, continuing from class to class, so
    every fold gets ``floor`` or ``ceil`` of each class's count and fold sizes
    differ by at most one. Equal ``(y, num_folds, seed)`` give equal folds on
    every machine (CPU generator, no global RNG state touched).

    Args:
        y: ``[G]`` integer class labels (``[G, 1]`` is flattened). Labels that are
            not one integer class per graph (multi-task, regression) get
            unstratified random folds.
        num_folds: ``k >= 2`` and at most the number of graphs.
        seed: the seed of the shuffle.
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"y must be a tensor of graph labels, got {type(y).__name__}")
    num_folds = check_int(num_folds, "num_folds", min_value=2)
    seed = check_int(seed, "seed")
    if y.dim() == 2 and y.size(1) == 1:
        y = y.view(-1)
    n = y.size(0) if y.dim() else 0
    if n < num_folds:
        raise ValueError(f"num_folds={num_folds} exceeds the number of graphs ({n})")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    if y.dim() == 1 and not torch.is_floating_point(y) and y.dtype != torch.bool:
        order = perm[torch.argsort(y.cpu()[perm], stable=True)]  # by class, shuffled inside each class
    else:
        order = perm
    fold = torch.empty(n, dtype=torch.long)
    fold[order] = torch.arange(n) % num_folds
    return fold


def fold_split(y: Tensor, fold: int = 0, num_folds: int = 10, seed: int = 0) -> Dict[str, Tensor]:
    """Train/valid/test graph ids of fold ``fold`` of :func:`stratified_folds` (see the module doc).

    ``test`` is fold ``fold``, ``valid`` fold ``(fold - 1) mod k`` and ``train``
    the remaining ``k - 2`` folds (PyG ``benchmark/kernel``); each a sorted
    ``int64`` tensor. Needs ``k >= 3`` so that all three parts are non-empty.
    """
    num_folds = check_int(num_folds, "num_folds", min_value=3)
    fold = check_int(fold, "fold", min_value=0, max_value=num_folds - 1)
    folds = stratified_folds(y, num_folds, seed)
    valid_fold = (fold - 1) % num_folds
    ids = torch.arange(folds.numel())
    return {
        "train": ids[(folds != fold) & (folds != valid_fold)],
        "valid": ids[folds == valid_fold],
        "test": ids[folds == fold],
    }
