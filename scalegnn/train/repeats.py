"""Repeated runs: one fit per seed, then mean and standard deviation (how papers report accuracy).

``run_one(seed) -> dict`` does the work (typically one
:class:`scalegnn.train.Trainer` fit); :func:`run_seeds` loops over seeds,
:func:`summarize` reduces one metric over the runs and :func:`pct` prints an
accuracy summary. :func:`split_data` keeps only the labelled rows a decoupled
model (SGC, GBP) trains on, once its features are precomputed.
"""
from __future__ import annotations

import statistics
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import torch

__all__ = ["pct", "run_dirs", "run_seeds", "split_data", "summarize"]


def run_dirs(out: Optional[Union[str, os.PathLike]], names: Iterable[str], *, resume: bool = False,
             overwrite: bool = False) -> Dict[str, Optional[Path]]:
    """``{name: out/name}``, the run directory of each repeat, every one checked before any work is done.

    Each is checked with :func:`scalegnn.train.run_dir.check_out_dir`, so a
    directory that already holds a run is reported at once, not after the
    first repeats have run. With ``out=None`` every value is ``None`` (nothing written).
    """
    from scalegnn.train.run_dir import check_out_dir

    names = list(names)
    if out is None:
        return {name: None for name in names}
    dirs = {name: Path(out) / name for name in names}
    for path in dirs.values():
        check_out_dir(path, resume=resume, overwrite=overwrite)
    return dirs


def split_data(features: torch.Tensor, y: torch.Tensor,
               split: Mapping[str, torch.Tensor]) -> Tuple[Any, Dict[str, torch.Tensor]]:
    """``(Data(x=features[nodes], y=y[nodes]), split re-indexed)`` for the split nodes.

    ``nodes`` are the train, validation and test nodes (see
    :func:`scalegnn.data.split_rows`); a decoupled model never needs the others.
    """
    from torch_geometric.data import Data

    from scalegnn.data import split_rows

    nodes, rows = split_rows(split)
    nodes = nodes.to(features.device)
    return Data(x=features[nodes], y=y.to(features.device)[nodes]), rows


def run_seeds(run_one: Callable[[int], Dict[str, float]], seeds: Iterable[int]) -> List[Dict[str, float]]:
    """``[run_one(s) for s in seeds]``, each result tagged with its seed."""
    results = []
    for seed in seeds:
        res = dict(run_one(seed))
        res["seed"] = seed
        results.append(res)
    return results


def summarize(results: List[Dict[str, float]], key: str) -> Dict[str, float]:
    """Mean, sample standard deviation, min and max of ``key`` (in the metric's units) over runs."""
    if not results:
        raise ValueError("summarize needs at least one run")
    values = [float(r[key]) for r in results]
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def pct(summary: Dict[str, float]) -> str:
    """``"81.02 +- 0.31"`` for an accuracy summary in [0, 1]."""
    return f"{100 * summary['mean']:.2f} +- {100 * summary['std']:.2f}"
