r"""Magnitude (or first-order Taylor) pruning of any layer, unstructured or by channel or attention head.

``Pruned(module, sparsity)`` multiplies each weight tensor of ``module`` by a
binary mask, :math:`W_{\text{eff}} = W \odot M`, kept as a buffer (so masks are
saved in state dicts) and updated along a sparsity schedule
(:mod:`scalegnn.compress.schedules`): One-Cycle Pruning (Hubens et al., ICIP
2022), gradual magnitude pruning (Zhu & Gupta, 2018) or one-shot. Since the
forward pass uses :math:`W \odot M`, pruned weights are exactly zero whatever
the optimizer does to the trainable :math:`W` (which is also zeroed where pruned).
Masks only shrink: a pruned weight never comes back.

Criteria, per unit :math:`u` (a weight, a channel or a head):

* ``magnitude``: :math:`\sum_{w \in u} w^2` (for a single weight, :math:`|w|`);
* ``taylor``: the first-order estimate of the loss change when removing
  :math:`u`, :math:`|\sum_{w \in u} w\, \partial L / \partial w|`, averaged over steps
  with momentum 0.9 - from `"Importance Estimation for Neural Network Pruning"
  <https://arxiv.org/abs/1906.10771>`_ (Molchanov et al., CVPR 2019); for a head
  it is the head-gate sensitivity of `"Are Sixteen Heads Really Better than
  One?" <https://arxiv.org/abs/1905.10650>`_ (Michel et al., NeurIPS 2019).

Structured pruning removes whole units:

* ``structured='channel'``: output channels (rows of each weight matrix; tensors
  whose leading dimension is equal share one mask, and a bias of that size is
  masked with it, so a pruned channel outputs exactly zero);
* ``structured='head'``: attention heads of a layer with ``heads`` and
  ``out_channels`` attributes (``GATConv``, ``GATv2Conv``, ...): the
  :math:`C` rows of head :math:`h` in every :math:`[H C, \cdot]` weight, its
  attention vectors (``[1, H, C]``) and its bias entries.

Ranking scope (unstructured pruning only):

* ``scope='layer'``: each layer prunes its own fraction ``sparsity`` of weights;
* ``scope='global'``: the magnitudes of all layers with global scope are ranked
  together and the smallest ``sparsity`` of them all are pruned
  (:func:`~scalegnn.compress.global_pruning.global_prune`, the global magnitude
  pruning of the lottery-ticket line of work, e.g. `"Rigging the Lottery"
  <https://arxiv.org/abs/1911.11134>`_, Evci et al., ICML 2020, and the GNN
  lottery tickets of `"A Unified Lottery Ticket Hypothesis for Graph Neural
  Networks" <https://arxiv.org/abs/2102.06790>`_, Chen et al., ICML 2021), so a
  small output layer keeps more of its weights than a wide input layer. A
  global layer does not update its own mask in :meth:`step`:
  :class:`~scalegnn.compress.CompressionScheduler` (or a call of
  :func:`~scalegnn.compress.global_prune`) prunes all of them together.
  :func:`~scalegnn.compress.apply` uses ``'global'`` for ``prune:S`` specs.

Args:
    module: the layer to prune.
    sparsity: final fraction of units pruned, in :math:`[0, 1)`.
    schedule: ``'one_cycle'`` (default), ``'gradual'`` or ``'one_shot'``.
    criterion: ``'magnitude'`` (default) or ``'taylor'``.
    structured: ``None`` (single weights), ``'channel'`` or ``'head'``.
    total_steps: optimizer steps of the run (may be set later, e.g. by
        :class:`~scalegnn.compress.CompressionScheduler`); without it and with
        ``schedule='one_shot'`` the layer is pruned at once.
    begin, end, frequency: schedule options (fractions of the run; see
        :func:`~scalegnn.compress.schedules.sparsity_at`).
    weights: the tensors to prune (default: every weight matrix).
    scope: ``'layer'`` (default) or ``'global'`` (see above).

Call :meth:`step` once after each optimizer step.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from scalegnn.compress.schedules import SCHEDULES, sparsity_at
from scalegnn.compress.wrapper import CompressionWrapper, Reparametrization

__all__ = ["Pruned"]

CRITERIA = ("magnitude", "taylor")
STRUCTURES = (None, "channel", "head")
SCOPES = ("layer", "global")


class _Mask(Reparametrization):
    def __init__(self, mask_shape: Sequence[int], device: torch.device) -> None:
        super().__init__()
        self.register_buffer("mask", torch.ones(tuple(mask_shape), device=device))

    def transform(self, weight: Tensor) -> Tensor:
        return weight * self.mask.to(weight.dtype)


def check_sparsity(sparsity: float) -> float:
    if not isinstance(sparsity, (int, float)) or isinstance(sparsity, bool):
        raise TypeError(f"sparsity must be a number in [0, 1), got {type(sparsity).__name__}")
    if not 0.0 <= float(sparsity) < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    return float(sparsity)


class Pruned(CompressionWrapper):
    __doc__ = __doc__
    kind = "pruned"

    def __init__(self, module: torch.nn.Module, sparsity: float, schedule: str = "one_cycle",
                 criterion: str = "magnitude", structured: Optional[str] = None, *,
                 total_steps: Optional[int] = None, begin: Optional[float] = None, end: Optional[float] = None,
                 frequency: int = 1, weights: Optional[Sequence[str]] = None, scope: str = "layer") -> None:
        super().__init__(module, weights)
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        if scope == "global" and structured is not None:
            raise ValueError(f"scope='global' ranks single weights across layers; structured={structured!r} "
                             "pruning ranks channels or heads within each layer (use scope='layer')")
        self.scope = scope
        self.sparsity = check_sparsity(sparsity)
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
        if criterion not in CRITERIA:
            raise ValueError(f"unknown criterion {criterion!r}; choose one of {CRITERIA}")
        if structured not in STRUCTURES:
            raise ValueError(f"structured must be one of {STRUCTURES}, got {structured!r}")
        if total_steps is not None and total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if frequency < 1:
            raise ValueError(f"frequency must be >= 1, got {frequency}")
        self.schedule, self.criterion, self.structured = schedule, criterion, structured
        self.total_steps, self.begin, self.end, self.frequency = total_steps, begin, end, frequency
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))
        # units: (group name, {tensor name: how the unit mask maps onto it}, number of units)
        self.groups: List[Tuple[str, Dict[str, str], int]] = []
        params = dict(self.module.named_parameters())
        if structured is None:
            for name in self.weight_names:
                self._reparametrize(name, _Mask(params[name].shape, params[name].device))
                self.groups.append((name, {name: "elementwise"}, params[name].numel()))
        elif structured == "channel":
            self._build_channel_groups(params)
        else:
            self._build_head_groups(params)
        for group, _, units in (self.groups if criterion == "taylor" else []):
            self.register_buffer(f"importance_{group.replace('.', '_')}",
                                 torch.zeros(units if structured else params[group].shape,
                                             device=params[self.weight_names[0]].device))
        if scope == "global":
            pass  # pruned together with the other global layers (CompressionScheduler / global_prune)
        elif total_steps is None and schedule == "one_shot":
            self._update_masks(self.sparsity)
        elif total_steps is not None:
            self._update_masks(self.target_sparsity())

    # ------------------------------------------------------------ structure
    def _build_channel_groups(self, params: Dict[str, Tensor]) -> None:
        by_rows: Dict[int, Dict[str, str]] = {}
        for name in self.weight_names:
            by_rows.setdefault(params[name].shape[0], {})[name] = "rows"
        for name, p in params.items():
            if name.rsplit(".", 1)[-1].endswith("bias") and p.dim() == 1 and p.shape[0] in by_rows:
                by_rows[p.shape[0]][name] = "rows"
        for rows, members in by_rows.items():
            for name in members:
                p = params[name]
                self._reparametrize(name, _Mask((rows,) + (1,) * (p.dim() - 1), p.device))
            self.groups.append((f"channels{rows}", members, rows))

    def _build_head_groups(self, params: Dict[str, Tensor]) -> None:
        heads, channels = getattr(self.module, "heads", None), getattr(self.module, "out_channels", None)
        if not isinstance(heads, int) or not isinstance(channels, int):
            raise ValueError(f"structured='head' needs an attention layer with integer `heads` and `out_channels` "
                             f"attributes (GATConv, GATv2Conv, ...); {type(self.module).__name__} has none")
        members: Dict[str, str] = {}
        for name, p in params.items():
            if p.dim() >= 1 and p.shape[0] == heads * channels and (p.dim() >= 2 or "bias" in name):
                members[name] = "head_rows"
                self._reparametrize(name, _Mask((heads * channels,) + (1,) * (p.dim() - 1), p.device))
            elif tuple(p.shape) == (1, heads, channels):
                members[name] = "head_vector"
                self._reparametrize(name, _Mask((1, heads, 1), p.device))
        if not any(kind == "head_rows" for kind in members.values()):
            raise ValueError(f"{type(self.module).__name__} has no [heads * out_channels, ...] weight to prune by head")
        self.heads, self.head_channels = heads, channels
        self.groups.append(("heads", members, heads))

    # ------------------------------------------------------------ scores
    def _unit_scores(self, members: Dict[str, str], elementwise: Dict[str, Tensor]) -> Tensor:
        total: Optional[Tensor] = None
        for name, how in members.items():
            e = elementwise[name]
            if how == "elementwise":
                s = e
            elif how == "rows":
                s = e.reshape(e.shape[0], -1).sum(1)
            elif how == "head_rows":
                s = e.reshape(self.heads, -1).sum(1)
            else:  # head_vector [1, H, C]
                s = e.reshape(self.heads, -1).sum(1)
            total = s if total is None else total + s
        assert total is not None
        return total

    def _magnitude(self, members: Dict[str, str]) -> Tensor:
        with torch.no_grad():
            if len(members) == 1 and next(iter(members.values())) == "elementwise":
                name = next(iter(members))
                return self.original(name).detach().abs()
            return self._unit_scores(members, {n: self.original(n).detach() ** 2 for n in members})

    def _accumulate_taylor(self) -> None:
        with torch.no_grad():
            for group, members, _ in self.groups:
                grads = {n: self.original(n).grad for n in members}
                if any(g is None for g in grads.values()):
                    continue
                contrib = {n: self.original(n).detach() * grads[n] for n in members}
                score = self._unit_scores(members, contrib).abs()
                buf = getattr(self, f"importance_{group.replace('.', '_')}")
                buf.mul_(0.9).add_(0.1 * score)

    def _scores(self, group: str, members: Dict[str, str]) -> Tensor:
        if self.criterion == "taylor":
            buf = getattr(self, f"importance_{group.replace('.', '_')}")
            if bool(buf.any()):
                return buf.clone()
        return self._magnitude(members)

    # ------------------------------------------------------------ masks
    def _unit_mask(self, members: Dict[str, str]) -> Tensor:
        name, how = next(iter(members.items()))
        mask = self.parametrization(name).mask
        if how == "elementwise":
            return mask
        if how == "rows":
            return mask.reshape(mask.shape[0], -1)[:, 0]
        return mask.reshape(self.heads, -1)[:, 0]

    def _set_unit_mask(self, members: Dict[str, str], unit_mask: Tensor) -> None:
        with torch.no_grad():
            for name, how in members.items():
                mask = self.parametrization(name).mask
                if how == "elementwise":
                    new = unit_mask
                elif how == "rows":
                    new = unit_mask.view(mask.shape)
                elif how == "head_rows":
                    new = unit_mask.repeat_interleave(self.head_channels).view(mask.shape)
                else:
                    new = unit_mask.view(mask.shape)
                mask.copy_(new)
                orig = self.original(name)
                orig.mul_(mask.to(orig.dtype))

    def _update_masks(self, target: float) -> None:
        for group, members, units in self.groups:
            current = self._unit_mask(members)
            already = int((current == 0).sum())
            k = max(min(round(target * units), units), already)
            if k == already:
                continue
            scores = self._scores(group, members).reshape(-1).to(torch.float64)
            scores = scores.masked_fill(current.reshape(-1) == 0, -float("inf"))
            drop = torch.topk(scores, k, largest=False).indices
            unit = torch.ones(units, dtype=current.dtype, device=current.device)
            unit[drop] = 0
            self._set_unit_mask(members, unit.view(current.shape))

    def target_sparsity(self, step: Optional[int] = None) -> float:
        """The schedule's sparsity after ``step`` (default: the current step)."""
        if self.total_steps is None:
            raise ValueError(f"schedule {self.schedule!r} needs total_steps (the number of optimizer steps of the "
                             "run): pass total_steps= or use compress.CompressionScheduler(model, total_steps)")
        step = int(self.step_count) if step is None else step
        return sparsity_at(self.schedule, step, self.total_steps, self.sparsity, begin=self.begin, end=self.end,
                           frequency=self.frequency)

    def step(self) -> None:
        """One optimizer step happened: update importance and masks along the schedule."""
        if self.total_steps is None and self.schedule == "one_shot":
            return
        self.step_count += 1
        if self.criterion == "taylor":
            self._accumulate_taylor()
        if self.scope == "layer":
            self._update_masks(self.target_sparsity())
        elif self.total_steps is None:
            self.target_sparsity()  # the same clear error as a layer-scope schedule without total_steps

    # ------------------------------------------------------------ reports
    def unit_sparsity(self) -> float:
        """Fraction of pruned units (weights, channels or heads)."""
        pruned = sum(int((self._unit_mask(m) == 0).sum()) for _, m, _ in self.groups)
        return pruned / sum(u for _, _, u in self.groups)

    def weight_sparsity(self) -> float:
        """Fraction of exactly-zero entries in the effective weight matrices."""
        with torch.no_grad():
            zeros = sum(int((self.effective(n) == 0).sum()) for n in self.weight_names)
            return zeros / sum(self.effective(n).numel() for n in self.weight_names)

    def pruned_units(self) -> Dict[str, Tensor]:
        """``{group: indices of pruned units}`` (channel or head ids for structured pruning)."""
        return {g: (self._unit_mask(m).reshape(-1) == 0).nonzero().view(-1) for g, m, _ in self.groups}

    def config(self) -> Dict[str, Any]:
        return {"sparsity": self.sparsity, "schedule": self.schedule, "criterion": self.criterion,
                "structured": self.structured, "total_steps": self.total_steps, "begin": self.begin,
                "end": self.end, "frequency": self.frequency, "weights": list(self.weight_names), "scope": self.scope}

    def training_only_state(self) -> List[str]:
        keys = ["step_count"] + [f"importance_{g.replace('.', '_')}" for g, _, _ in self.groups
                                 if self.criterion == "taylor"]
        for name in self._reparametrized:
            owner, attr = name.rsplit(".", 1) if "." in name else ("", name)
            prefix = f"module.{owner}." if owner else "module."
            keys.append(f"{prefix}parametrizations.{attr}.0.mask")
        return keys
