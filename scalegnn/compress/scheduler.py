"""Drive every compression wrapper of a model once per optimizer step, from the shared Trainer.

:class:`CompressionScheduler` has the interface of a learning-rate scheduler
(``step()``, ``state_dict()``, ``load_state_dict()``), so it is passed as
``Trainer(..., scheduler=CompressionScheduler(model, total_steps))``. Each
``step()`` steps the wrapped learning-rate scheduler (if any), advances the
pruning schedules of every :class:`~scalegnn.compress.Pruned` layer (layers with
``scope='global'`` are pruned together by
:func:`~scalegnn.compress.global_pruning.global_prune`), and, for
mixed precision, allocates the bit widths once the calibration phase
(``allocate_at`` of the run) is over. The Trainer steps it once per epoch, so
with full-batch training a step is one optimizer step; with mini-batches give
``total_steps`` in epochs.

With ``rewind=True`` the calibration phase only measures: once the bits are
chosen, the weights go back to their values at construction (the
initialization) and the optimizer's state is cleared, so the chosen bit widths
train from the start for the rest of the run, as uniform quantization does.
Without it the chosen bits continue from the calibrated weights, and a model
that peaks early (GAT on Cora reaches its best validation accuracy at epochs
10-45 of 200) can only be selected after the calibration phase. Rewinding to
an earlier point of training follows the lottery-ticket experiments ("The
Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks",
Frankle & Carbin, ICLR 2019).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from scalegnn.compress.global_pruning import global_prune
from scalegnn.compress.mixed_precision import DEFAULT_BIT_CHOICES, allocate_bits
from scalegnn.compress.pruned import Pruned
from scalegnn.compress.quantized import Quantized
from scalegnn.compress.wrapper import compression_wrappers

__all__ = ["CompressionScheduler"]


class CompressionScheduler:
    """Step the compression schedules of ``model`` (see the module docstring).

    Args:
        model: a model with compression wrappers.
        total_steps: steps in the run (sets ``total_steps`` of pruned layers that have none).
        lr_scheduler: an optional learning-rate scheduler stepped first.
        allocate_at: fraction of the run after which mixed-precision bits are chosen.
        rewind: after choosing the bits, restore the parameters the model had when the scheduler was built and
            clear ``optimizer``'s state (mixed precision only; see the module docstring). ``None`` (default):
            rewind if the layers were wrapped with the spec ``"mixed:<budget>:rewind"``.
        optimizer: the optimizer whose state ``rewind`` clears (required with ``rewind=True``).
    """

    def __init__(self, model: torch.nn.Module, total_steps: int, lr_scheduler: Optional[Any] = None,
                 allocate_at: float = 0.25, rewind: Optional[bool] = None,
                 optimizer: Optional[torch.optim.Optimizer] = None) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if not 0.0 < allocate_at < 1.0:
            raise ValueError(f"allocate_at must be in (0, 1), got {allocate_at}")
        self.model, self.total_steps, self.lr_scheduler = model, total_steps, lr_scheduler
        self.wrappers = list(compression_wrappers(model))
        if not self.wrappers:
            raise ValueError("the model has no compression wrappers (use compress.apply first)")
        self.global_pruned = [w for _, w in self.wrappers if isinstance(w, Pruned) and w.scope == "global"]
        for _, w in self.wrappers:
            if isinstance(w, Pruned) and w.total_steps is None and w.schedule != "one_shot":
                w.total_steps = total_steps
                if w.scope == "layer":
                    w._update_masks(w.target_sparsity())
        if self.global_pruned:
            settings = {(w.sparsity, w.schedule, w.total_steps, w.begin, w.end, w.frequency)
                        for w in self.global_pruned}
            if len(settings) > 1:
                raise ValueError("layers pruned with scope='global' must share sparsity, schedule, total_steps, begin, "
                                 f"end and frequency; found {sorted(settings, key=str)}")
            self._global_step()
        mixed = [w for _, w in self.wrappers if isinstance(w, Quantized) and w.mixed_budget is not None]
        self.mixed_budget = mixed[0].mixed_budget if mixed else None
        self.bit_choices = tuple(mixed[0].bit_choices or DEFAULT_BIT_CHOICES) if mixed else None
        self.allocate_step = max(1, round(allocate_at * total_steps)) if mixed else None
        self.steps = 0
        self.allocation: Optional[Dict[str, int]] = None
        if rewind is None:
            rewind = any(w.mixed_rewind for w in mixed)
        if rewind and not mixed:
            raise ValueError("rewind=True rewinds after the mixed-precision bits are chosen, but the model has no "
                             "'mixed:<budget>' layer")
        if rewind and optimizer is None:
            raise ValueError("rewinding after the mixed-precision allocation needs optimizer=, whose state is "
                             "cleared together with the weights")
        self.rewind, self.optimizer = rewind, optimizer
        self._initial: Optional[Dict[str, torch.Tensor]] = (
            {name: p.detach().clone() for name, p in model.named_parameters()} if rewind else None)

    @property
    def complete(self) -> bool:
        """Whether every pruned layer is at its final sparsity and mixed-precision bits are chosen.

        Select the model to keep among the epochs where this holds (the
        benchmark does): earlier epochs are less compressed than requested.
        """
        for _, w in self.wrappers:
            if isinstance(w, Pruned) and w.total_steps is not None and \
                    w.target_sparsity(int(w.step_count)) < w.sparsity:
                return False
        return self.allocate_step is None or self.allocation is not None

    def step(self) -> None:
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self.steps += 1
        for _, w in self.wrappers:
            w.step()
        if self.global_pruned:
            self._global_step()
        if self.allocate_step is not None and self.steps == self.allocate_step:
            self.allocation = allocate_bits(self.model, self.mixed_budget, self.bit_choices)
            if self.rewind:
                self._rewind()

    def _rewind(self) -> None:
        assert self._initial is not None and self.optimizer is not None
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(self._initial[name])
        self.optimizer.state.clear()
        self._initial = None

    def _global_step(self) -> None:
        lead = self.global_pruned[0]
        if lead.total_steps is None:  # one-shot without a schedule: prune at once
            global_prune(self.global_pruned, lead.sparsity)
        else:
            global_prune(self.global_pruned, lead.target_sparsity())

    def state_dict(self) -> Dict[str, Any]:
        return {"steps": self.steps, "allocation": self.allocation,
                "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler is not None else None,
                "initial": self._initial}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.allocation = state.get("allocation")
        if self.rewind:
            self._initial = state.get("initial")
            if self._initial is None and self.allocation is None:
                raise ValueError("this checkpoint holds no initial weights to rewind to: it was written by a "
                                 "CompressionScheduler without rewind=True")
        if self.lr_scheduler is not None and state.get("lr_scheduler") is not None:
            self.lr_scheduler.load_state_dict(state["lr_scheduler"])
