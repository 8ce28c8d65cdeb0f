r"""Mixed precision under a model-size budget, from per-layer sensitivities measured by dual variables.

Low-precision training posed as a constrained learning problem, as in
"Neural Networks with Quantization Constraints" (Hounie, Elenter & Ribeiro,
ICASSP 2023): with :math:`f_\ell` layer :math:`\ell` at full
precision and :math:`f_\ell^{q}` the same layer quantized,

.. math::
    \min_\theta\ L(\theta) \quad \text{s.t.} \quad
    d_\ell(\theta) = \frac{\lVert f_\ell^{q}(x) - f_\ell(x)\rVert^2}{\lVert f_\ell(x)\rVert^2} \le \epsilon
    \quad \text{for every layer } \ell,

solved by primal-dual steps on the Lagrangian
:math:`L + \sum_\ell \lambda_\ell (d_\ell - \epsilon)` (each
:class:`~scalegnn.compress.Quantized` with ``track_sensitivity=True`` adds
its term and updates its :math:`\lambda_\ell`). At a saddle point
:math:`\lambda_\ell = -\partial L^\star / \partial \epsilon_\ell`: the loss saved
per unit of relaxation of layer :math:`\ell`'s constraint - its sensitivity.
Layers whose dual variables stay small can take fewer bits.

:func:`allocate_bits` turns the measured :math:`\lambda_\ell` and distances
:math:`d_\ell` (at the calibration bit width :math:`b_0`) into bit widths under
a size budget. The loss of layer :math:`\ell` at :math:`b` bits is estimated as
:math:`\lambda_\ell d_\ell\, 4^{b_0 - b}` (quantization error variance shrinks
by 4 per bit), and the bits minimize the summed estimate subject to the bytes
of the quantized weights fitting the budget - a multiple-choice knapsack,
solved exactly by dynamic programming over the layers' Pareto frontiers of
(bytes, estimated loss). (A greedy "best loss reduction per added byte"
rule is not exact: on a GCN whose first layer holds 99% of the bytes it
spends the budget on the small layer first and can no longer afford 4 bits
for the large one, even where 4 / 4 bits fit.)
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch

from scalegnn.compress.quantized import Quantized
from scalegnn.compress.wrapper import compression_wrappers

__all__ = ["DEFAULT_BIT_CHOICES", "layer_bytes", "allocate_bits"]

DEFAULT_BIT_CHOICES = (2, 3, 4, 5, 6, 8)


def layer_bytes(wrapper: Quantized, bits: int) -> float:
    """Bytes of the layer's weight matrices at ``bits`` bits, plus one float32 scale per channel."""
    total = 0.0
    for name in wrapper.weight_names:
        w = wrapper.original(name)
        scales = w.shape[0] if wrapper.per_channel and w.dim() > 1 else 1
        total += w.numel() * bits / 8 + 4 * scales
    return total


def allocate_bits(model: torch.nn.Module, budget: float, choices: Sequence[int] = DEFAULT_BIT_CHOICES,
                  calibration_bits: Optional[int] = None) -> Dict[str, int]:
    """Choose per-layer bits so the quantized weights are ``budget`` times smaller than float32.

    Args:
        model: a model whose :class:`Quantized` layers tracked their sensitivity.
        budget: compression factor of the quantized weight matrices (5 = at most 1/5 of their float32 bytes).
        choices: candidate bit widths.
        calibration_bits: bits at which the distances were measured (default: each layer's current bits).

    Returns ``{layer name: bits}`` and sets those bits on the layers (sensitivity tracking is turned off).
    """
    if budget <= 1:
        raise ValueError(f"budget must be > 1 (a compression factor against float32), got {budget}")
    choices = sorted(set(int(b) for b in choices))
    if not choices or choices[0] < 1 or choices[-1] > 8:
        raise ValueError(f"bit choices must lie in 1..8, got {choices}")
    layers: List[Tuple[str, Quantized]] = [(n, w) for n, w in compression_wrappers(model) if isinstance(w, Quantized)]
    if not layers:
        raise ValueError("allocate_bits found no Quantized layer in the model")
    fp32 = sum(q.original(n).numel() * 4 for _, q in layers for n in q.weight_names)
    limit = fp32 / budget
    used = sum(layer_bytes(q, choices[0]) for _, q in layers)
    if used > limit:
        raise ValueError(f"a {budget}x budget ({limit:.0f} bytes) is too tight: even {choices[0]}-bit weights "
                         f"take {used:.0f} bytes")
    sens = {}
    for name, q in layers:
        b0 = calibration_bits if calibration_bits is not None else q.bits
        sens[name] = (float(q.dual) + 1e-6) * max(float(q.distance), 1e-12) * 4.0 ** b0
    limit *= 1 + 1e-9  # a budget computed from the same byte counts must admit them despite rounding
    # Pareto frontier of partial assignments: (bytes, estimated loss, bits per layer so far)
    frontier: List[Tuple[float, float, Tuple[int, ...]]] = [(0.0, 0.0, ())]
    for name, q in layers:
        options = [(layer_bytes(q, b), sens[name] * 4.0 ** -b, b) for b in choices]
        grown = [(used_b + ob, loss + ol, assigned + (b,)) for used_b, loss, assigned in frontier
                 for ob, ol, b in options if used_b + ob <= limit]
        grown.sort(key=lambda t: (t[0], t[1]))
        frontier = []
        for state in grown:  # keep a state only if it is cheaper in loss than every smaller one
            if not frontier or state[1] < frontier[-1][1]:
                frontier.append(state)
    best = min(frontier, key=lambda t: (t[1], -t[0]))
    bits = {name: b for (name, _), b in zip(layers, best[2])}
    for name, q in layers:
        q.bits = bits[name]
        q.track_sensitivity = False
    return bits
