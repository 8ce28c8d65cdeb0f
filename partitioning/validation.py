"""Argument checks shared by every public function of :mod:`partitioning`.

Each check names the argument and the offending value, and raises
``TypeError`` for a value of the wrong kind and ``ValueError`` for a value of
the right kind out of range. Integers may be Python ints, numpy integers,
0-d integer arrays or 0-d integer tensors (anything with ``__index__``);
``bool`` and non-integral floats are rejected rather than truncated.
"""
from __future__ import annotations

import difflib
import math
import operator
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["check_choice", "check_fraction", "check_int", "check_seed", "check_threads"]


def check_int(name: str, value: Any, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """``value`` as a Python ``int`` within ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    try:
        out = operator.index(value)  # int, numpy integer, 0-d integer array/tensor
    except TypeError:
        if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            raise TypeError(f"{name} must be an integer, got the float {value!r} (pass int({value!r}))") from None
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    if maximum is not None and out > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {out}")
    return int(out)


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed for METIS, Mt-KaHyPar and numpy: an integer in ``[0, 2**31 - 1]``."""
    return check_int(name, value, 0, 2**31 - 1)


def check_threads(value: Any) -> Optional[int]:
    """``None`` (all CPUs) or a positive integer."""
    return None if value is None else check_int("threads", value, 1)


def check_fraction(name: str, value: Any, low: float = 0.0, high: float = 1.0) -> float:
    """A finite real number in ``[low, high)`` (e.g. the imbalance bound)."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if not low <= out < high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}), got {value!r}")
    return out


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` must be one of ``choices``; a near miss gets a "did you mean" hint."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}, got {type(value).__name__} {value!r}")
    if value in choices:
        return value
    close = difflib.get_close_matches(value.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    lower = {c.lower(): c for c in choices}
    hint = f" Did you mean {lower[close[0]]!r}?" if close else ""
    raise ValueError(f"unknown {name} {value!r}.{hint} Choose one of {list(choices)}")
