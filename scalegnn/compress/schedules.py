r"""Sparsity schedules: the fraction of weights pruned after step :math:`t` of :math:`T`.

* ``one_cycle`` - One-Cycle Pruning, from `"One-Cycle Pruning: Pruning ConvNets
  Under a Tight Training Budget" <https://arxiv.org/abs/2107.02086>`_ (Hubens
  et al., ICIP 2022): pruning runs from the first to the last step of a single
  training run (no pre-training, no fine-tuning phase) along a logistic curve

  .. math::
      s_t = s_f \, \frac{1 + e^{-\alpha + \beta}}{1 + e^{-\alpha t / T + \beta}},
      \qquad \alpha = 14,\ \beta = 6,

  which starts near 0, rises fastest mid-run and reaches :math:`s_f` at :math:`t = T`.
* ``gradual`` - gradual magnitude pruning, from `"To prune, or not to prune:
  exploring the efficacy of pruning for model compression"
  <https://arxiv.org/abs/1710.01878>`_ (Zhu & Gupta, ICLR workshop 2018):

  .. math::
      s_t = s_f \Big(1 - \big(1 - \tfrac{t - t_0}{t_1 - t_0}\big)^3\Big)
      \quad \text{for } t_0 \le t \le t_1,

  0 before :math:`t_0`, :math:`s_f` after :math:`t_1` (defaults :math:`t_0 = 0.1\,T`,
  :math:`t_1 = 0.75\,T`, leaving the last quarter to recover); masks are updated
  every ``frequency`` steps.
* ``one_shot`` - :math:`s_f` from step :math:`t_0` on (default :math:`t_0 = 0.5\,T`).
"""
from __future__ import annotations

import math
from typing import Optional

__all__ = ["SCHEDULES", "sparsity_at"]

SCHEDULES = ("one_cycle", "gradual", "one_shot")


def sparsity_at(schedule: str, step: int, total_steps: int, final: float, *, begin: Optional[float] = None,
                end: Optional[float] = None, frequency: int = 1, alpha: float = 14.0, beta: float = 6.0) -> float:
    """Target sparsity after ``step`` of ``total_steps`` (``begin``/``end`` are fractions of the run)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    t = min(max(step, 0), total_steps)
    if schedule == "one_cycle":
        if t == total_steps:
            return final
        pos = t / total_steps
        return final * (1.0 + math.exp(-alpha + beta)) / (1.0 + math.exp(-alpha * pos + beta))
    if schedule == "one_shot":
        t0 = round((0.5 if begin is None else begin) * total_steps)
        return final if t >= t0 else 0.0
    t0 = round((0.1 if begin is None else begin) * total_steps)
    t1 = max(round((0.75 if end is None else end) * total_steps), t0 + 1)
    if t < t0:
        return 0.0
    if t >= t1:
        return final
    t = t0 + ((t - t0) // frequency) * frequency  # masks change every `frequency` steps
    return final * (1.0 - (1.0 - (t - t0) / (t1 - t0)) ** 3)
