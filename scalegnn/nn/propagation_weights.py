r"""Weight sequences :math:`w_0, \dots, w_L` of generalized PageRank propagation.

GBP (Chen et al., "Scalable Graph Neural Networks via Bidirectional
Propagation", NeurIPS 2020) propagates features with
:math:`P = \sum_{\ell=0}^{L} w_\ell T^\ell X`. The sequence :math:`w` chooses
the filter:

* :func:`ppr_weights`: personalized PageRank, :math:`w_\ell = \alpha (1-\alpha)^\ell`
  (APPNP-like; the paper's default);
* :func:`heat_kernel_weights`: heat kernel, :math:`w_\ell = e^{-t} t^\ell / \ell!`;
* :func:`sgc_weights`: a single hop count :math:`K`, :math:`w = e_K`
  (SGC's :math:`T^K X`).

All return a 1-D float64 tensor of length :math:`L + 1`; the truncated tails
are *not* renormalized, so the values are exactly the series' first terms.
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import torch
from torch import Tensor

from scalegnn.data.validate import check_float, check_int

__all__ = ["ppr_weights", "heat_kernel_weights", "sgc_weights", "as_weights"]


def _check_levels(num_levels: int, name: str = "num_levels") -> int:
    """``L`` as a Python int (numpy / 0-d tensor integers accepted); floats and negatives rejected."""
    return check_int(num_levels, name, min_value=0)


def ppr_weights(alpha: float, num_levels: int) -> Tensor:
    r"""Personalized-PageRank weights :math:`w_\ell = \alpha(1-\alpha)^\ell`, :math:`\ell = 0..L`.

    Args:
        alpha: teleport probability, :math:`0 < \alpha \le 1`.
        num_levels: :math:`L`, the last propagation level.
    """
    num_levels = _check_levels(num_levels)
    alpha = check_float(alpha, "alpha", min_value=0.0, max_value=1.0, min_open=True)
    levels = torch.arange(num_levels + 1, dtype=torch.float64)
    return alpha * (1.0 - alpha) ** levels


def heat_kernel_weights(t: float, num_levels: int) -> Tensor:
    r"""Heat-kernel weights :math:`w_\ell = e^{-t} t^\ell / \ell!`, :math:`\ell = 0..L`.

    Args:
        t: diffusion time, :math:`t > 0`.
        num_levels: :math:`L`, the last propagation level.
    """
    num_levels = _check_levels(num_levels)
    t = check_float(t, "t", min_value=0.0, min_open=True)
    return torch.tensor(
        [math.exp(-t + ell * math.log(t) - math.lgamma(ell + 1)) for ell in range(num_levels + 1)],
        dtype=torch.float64,
    )


def sgc_weights(K: int) -> Tensor:
    r"""The one-hot sequence :math:`w = e_K` (:math:`P = T^K X`, SGC's propagation)."""
    K = _check_levels(K, "K")
    w = torch.zeros(K + 1, dtype=torch.float64)
    w[K] = 1.0
    return w


def as_weights(weights: Union[Tensor, Sequence[float]]) -> Tensor:
    """Validate a user-given weight sequence and return it as a 1-D float64 tensor."""
    if isinstance(weights, (str, bytes)) or not (isinstance(weights, Tensor) or hasattr(weights, "__len__")):
        raise TypeError(f"weights must be a sequence or 1-D tensor of numbers w_0..w_L, got {weights!r}")
    try:
        w = torch.as_tensor(weights, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"weights must be a sequence or 1-D tensor of numbers w_0..w_L, got {weights!r}") from err
    if w.dim() != 1 or w.numel() == 0:
        raise ValueError(f"weights must be a non-empty 1-D sequence w_0..w_L, got shape {list(w.shape)}")
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"weights contain NaN or inf: {w.tolist()}")
    return w
