"""The one training loop: epochs, evaluation, early stopping, checkpoints, resume, metrics."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch
from tqdm.auto import tqdm

from scalegnn.train.checkpoint import atomic_save, capture_rng_state, load_checkpoint, restore_rng_state
from scalegnn.train.metrics_log import MetricsLog, plot_curves

__all__ = ["Trainer", "TrainResult", "CHECKPOINT_NAME", "CHECKPOINT_FORMAT"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        best_epoch: epoch with the best monitored value (1-based; 0 if never evaluated).
        best: all metrics of that epoch (report ``best["test_acc"]``: test at best validation).
        final: metrics of the last epoch that ran.
        history: one record per epoch (``epoch``, ``loss``, metrics, ``time``).
        stopped_early: whether patience ran out before ``epochs``.
    """

    best_epoch: int
    best: Dict[str, float]
    final: Dict[str, float]
    history: List[Dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False


class Trainer:
    """Train ``model`` on a task with evaluation, early stopping and resumable checkpoints.

    Args:
        model: the network.
        optimizer: its optimizer.
        task: an object with ``train_epoch(model, optimizer) -> float`` and
            ``evaluate(model) -> dict`` (see :mod:`scalegnn.train.tasks`).
        epochs: total number of epochs (also when resuming: the run ends at this epoch).
        out_dir: where ``checkpoint.pt``, ``best.pt``, ``metrics.jsonl`` and
            ``curves.png`` go. Without it nothing is written.
        monitor: the metric that selects the best epoch (e.g. ``"val_acc"``).
        mode: ``"max"`` or ``"min"`` for ``monitor``.
        patience: stop after this many evaluations without improvement (``None``: never).
        checkpoint_every: write ``checkpoint.pt`` every this many epochs (and at the end).
        resume: continue from ``out_dir/checkpoint.pt`` when it exists.
        progress: show a tqdm progress bar.
        plot: write ``curves.png`` at the end (needs matplotlib).
        scheduler: optional learning-rate scheduler, stepped once per epoch.
        eval_every: evaluate every this many epochs (and at the last one).
        restore_best: load the best epoch's weights into ``model`` when done.
        is_main_process: whether this process writes files and shows progress. In a
            distributed run every rank trains, but only rank 0 passes ``True``; the
            others still read ``out_dir/checkpoint.pt`` when resuming.

    Resuming restores the model, optimizer, scheduler, early-stopping state and
    every random generator, so an interrupted run that is resumed ends with the
    same weights as one that never stopped.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        task: Any,
        *,
        epochs: int,
        out_dir: Optional[Union[str, Path]] = None,
        monitor: str = "val_acc",
        mode: str = "max",
        patience: Optional[int] = None,
        checkpoint_every: int = 1,
        resume: bool = False,
        progress: bool = True,
        plot: bool = False,
        scheduler: Optional[Any] = None,
        eval_every: int = 1,
        restore_best: bool = True,
        log_every: int = 1,
        is_main_process: bool = True,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {patience}")
        if checkpoint_every < 1 or eval_every < 1:
            raise ValueError("checkpoint_every and eval_every must be >= 1")
        if resume and out_dir is None:
            raise ValueError("resume=True needs out_dir (where the checkpoint lives)")
        for method in ("train_epoch", "evaluate"):
            if not callable(getattr(task, method, None)):
                raise TypeError(f"task must have a {method}() method; got {type(task).__name__}")
        self.model, self.optimizer, self.task = model, optimizer, task
        self.epochs, self.monitor, self.mode, self.patience = epochs, monitor, mode, patience
        self.checkpoint_every, self.eval_every, self.log_every = checkpoint_every, eval_every, log_every
        self.is_main_process = is_main_process
        self.resume, self.progress, self.plot = resume, progress and is_main_process, plot
        self.scheduler, self.restore_best = scheduler, restore_best
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.log = (MetricsLog(self.out_dir / "metrics.jsonl")
                    if self.out_dir is not None and is_main_process else None)

        self.epoch = 0
        self.best_value = -math.inf if mode == "max" else math.inf
        self.best_epoch = 0
        self.best_metrics: Dict[str, float] = {}
        self.best_state: Optional[Dict[str, torch.Tensor]] = None
        self.bad_evals = 0
        self.history: List[Dict[str, Any]] = []

    # ----------------------------------------------------------------- state
    @property
    def checkpoint_path(self) -> Optional[Path]:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None

    def state_dict(self) -> Dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "best_metrics": self.best_metrics,
            "best_state": self.best_state,
            "bad_evals": self.bad_evals,
            "history": self.history,
            "rng": capture_rng_state(),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise ValueError(f"the checkpoint was written for a different model: {exc}") from exc
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.best_value = float(state["best_value"])
        self.best_epoch = int(state["best_epoch"])
        self.best_metrics = dict(state["best_metrics"])
        self.best_state = state["best_state"]
        self.bad_evals = int(state["bad_evals"])
        self.history = list(state["history"])
        restore_rng_state(state["rng"])

    def save_checkpoint(self) -> None:
        if self.checkpoint_path is not None and self.is_main_process:
            atomic_save(self.state_dict(), self.checkpoint_path)

    # ------------------------------------------------------------------ loop
    def _improved(self, value: float) -> bool:
        return value > self.best_value if self.mode == "max" else value < self.best_value

    def fit(self) -> TrainResult:
        if self.resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            device = next(self.model.parameters()).device
            self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=device))
            if self.log is not None:
                self.log.truncate_after(self.epoch)
        elif self.log is not None and self.log.path.exists():
            self.log.path.unlink()  # a fresh run does not append to an old log

        stopped_early = False
        bar = tqdm(range(self.epoch + 1, self.epochs + 1), disable=not self.progress, desc="train",
                   initial=self.epoch, total=self.epochs, dynamic_ncols=True)
        for epoch in bar:
            start = time.perf_counter()
            loss = float(self.task.train_epoch(self.model, self.optimizer))
            if not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at epoch {epoch}; lower the learning rate")
            if self.scheduler is not None:
                self.scheduler.step()
            record: Dict[str, Any] = {"epoch": epoch, "loss": loss}
            if epoch % self.eval_every == 0 or epoch == self.epochs:
                metrics = self.task.evaluate(self.model)
                record.update(metrics)
                if self.monitor not in metrics:
                    raise KeyError(f"monitor {self.monitor!r} is not among the task's metrics {sorted(metrics)}")
                if self._improved(metrics[self.monitor]):
                    self.best_value, self.best_epoch = float(metrics[self.monitor]), epoch
                    self.best_metrics = dict(metrics)
                    self.best_state = copy.deepcopy(self.model.state_dict())
                    self.bad_evals = 0
                else:
                    self.bad_evals += 1
            record["time"] = time.perf_counter() - start
            self.epoch = epoch
            self.history.append(record)
            if self.log is not None and (epoch % self.log_every == 0 or epoch == self.epochs):
                self.log.append(record)
            bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k in ("loss", self.monitor)})
            stopped_early = self.patience is not None and self.bad_evals >= self.patience
            if epoch % self.checkpoint_every == 0 or epoch == self.epochs or stopped_early:
                self.save_checkpoint()
            if stopped_early:
                break
        bar.close()

        final = {k: v for k, v in (self.history[-1] if self.history else {}).items() if k not in ("epoch", "time")}
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        if self.out_dir is not None and self.is_main_process:
            if self.best_state is not None:
                atomic_save({"epoch": self.best_epoch, "model": self.best_state, "metrics": self.best_metrics},
                            self.out_dir / "best.pt")
            if self.log is not None:
                self.log.append({"final": True, "best_epoch": self.best_epoch, "epochs_run": self.epoch,
                                 "stopped_early": stopped_early,
                                 **{f"best_{k}": v for k, v in self.best_metrics.items()}})
            if self.plot:
                plot_curves(self.history, self.out_dir / "curves.png")
        return TrainResult(self.best_epoch, dict(self.best_metrics), final, list(self.history), stopped_early)
