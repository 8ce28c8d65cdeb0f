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

from scalegnn.train.checkpoint import (CheckpointError, atomic_save, capture_rng_state, load_checkpoint,
                                       restore_rng_state)
from scalegnn.train.metrics_log import MetricsLog, plot_curves
from scalegnn.train.run_dir import check_out_dir, clear_run, write_run_config

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
        already_finished: the run was resumed after it had finished (all its epochs
            run, or stopped early): nothing was trained and no file was changed.
    """

    best_epoch: int
    best: Dict[str, float]
    final: Dict[str, float]
    history: List[Dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    already_finished: bool = False


class Trainer:
    """Train ``model`` on a task with evaluation, early stopping and resumable checkpoints.

    Args:
        model: the network.
        optimizer: its optimizer.
        task: an object with ``train_epoch(model, optimizer) -> float`` and
            ``evaluate(model) -> dict`` (see :mod:`scalegnn.train.tasks`).
        epochs: total number of epochs (also when resuming: the run ends at this epoch;
            resuming with more epochs than the run was started with extends it).
        out_dir: the run directory: ``run.json``, ``checkpoint.pt``, ``best.pt``,
            ``metrics.jsonl`` and ``curves.png`` go there (see
            :mod:`scalegnn.train.run_dir`). Without it nothing is written.
        monitor: the metric that selects the best epoch (e.g. ``"val_acc"``).
        mode: ``"max"`` or ``"min"`` for ``monitor``.
        patience: stop after this many evaluations without improvement (``None``: never).
        checkpoint_every: write ``checkpoint.pt`` every this many epochs (and at the end).
        resume: continue from ``out_dir/checkpoint.pt``; without that file
            :meth:`fit` raises :class:`~scalegnn.train.run_dir.RunDirError` and
            writes nothing.
        overwrite: let a fresh run replace the run already in ``out_dir`` (only its
            run files are deleted, and only when ``out_dir`` is recognisably a
            scalegnn run). Without it a fresh run refuses a directory holding a run.
        progress: show a tqdm progress bar; a string also labels it (e.g. ``"seed 3"``).
        plot: write ``curves.png`` at the end (needs matplotlib), titled ``title``
            and marking the best epoch.
        scheduler: optional learning-rate scheduler, stepped once per epoch.
        eval_every: evaluate every this many epochs (and at the last one).
        restore_best: load the best epoch's weights into ``model`` when done.
        is_main_process: whether this process writes files and shows progress. In a
            distributed run every rank trains, but only rank 0 passes ``True``; the
            others still read ``out_dir/checkpoint.pt`` when resuming.
        config: the run's settings, saved in ``out_dir/run.json`` (``scalegnn train
            --resume`` restores them from there).
        title: the title of ``curves.png`` (default: ``out_dir``).

    Resuming restores the model, optimizer, scheduler, early-stopping state and
    every random generator, so an interrupted run that is resumed ends with the
    same weights as one that never stopped. Resuming a run that already finished
    (all its epochs, or stopped early) trains nothing and changes no file: it
    returns the recorded result with ``already_finished=True``.
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
        progress: Union[bool, str] = True,
        plot: bool = False,
        scheduler: Optional[Any] = None,
        eval_every: int = 1,
        restore_best: bool = True,
        log_every: int = 1,
        is_main_process: bool = True,
        overwrite: bool = False,
        config: Optional[Dict[str, Any]] = None,
        title: Optional[str] = None,
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
        if resume and overwrite:
            raise ValueError("resume=True and overwrite=True contradict each other: resume continues the run in "
                             "out_dir, overwrite replaces it")
        for method in ("train_epoch", "evaluate"):
            if not callable(getattr(task, method, None)):
                raise TypeError(f"task must have a {method}() method; got {type(task).__name__}")
        self.model, self.optimizer, self.task = model, optimizer, task
        self.epochs, self.monitor, self.mode, self.patience = epochs, monitor, mode, patience
        self.checkpoint_every, self.eval_every, self.log_every = checkpoint_every, eval_every, log_every
        self.is_main_process = is_main_process
        self.resume, self.overwrite, self.plot = resume, overwrite, plot
        self.progress = bool(progress) and is_main_process
        self.progress_desc = progress if isinstance(progress, str) else "train"
        self.config, self.title = config, title
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
        self.stopped_early = False
        self.history: List[Dict[str, Any]] = []

    # ----------------------------------------------------------------- state
    @property
    def checkpoint_path(self) -> Optional[Path]:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None

    def state_dict(self) -> Dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "stopped_early": self.stopped_early,
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

    def load_state_dict(self, state: Dict[str, Any], source: str = "the checkpoint") -> None:
        """Restore a :meth:`state_dict`; a state that is not one raises :class:`CheckpointError` (one line)."""
        if not isinstance(state, dict) or "format" not in state:
            raise CheckpointError(f"{source} is not a scalegnn training checkpoint (no 'format' entry; "
                                  f"a {type(state).__name__} of another program?)")
        if state["format"] != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{source} is from another version of scalegnn (checkpoint format "
                                  f"{state['format']!r}; this version reads {CHECKPOINT_FORMAT})")
        missing = [k for k in ("epoch", "model", "optimizer", "best_value", "best_epoch", "best_metrics",
                               "best_state", "bad_evals", "history", "rng") if k not in state]
        if missing:
            raise CheckpointError(f"{source} is not a complete scalegnn training checkpoint (missing "
                                  f"{', '.join(missing)})")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            detail = first[1].strip() if len(first) > 1 else first[0] if first else ""
            raise CheckpointError(f"{source} was written for a different model ({detail})") from None
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{source} was written for a different optimizer ({exc})") from None
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.best_value = float(state["best_value"])
        self.best_epoch = int(state["best_epoch"])
        self.best_metrics = dict(state["best_metrics"])
        self.best_state = state["best_state"]
        self.bad_evals = int(state["bad_evals"])
        # checkpoints written before the flag was stored: patience exhausted means it stopped early
        self.stopped_early = bool(state.get("stopped_early", self.patience is not None
                                            and self.bad_evals >= self.patience and self.epoch < self.epochs))
        self.history = list(state["history"])
        restore_rng_state(state["rng"])

    def save_checkpoint(self) -> None:
        if self.checkpoint_path is not None and self.is_main_process:
            atomic_save(self.state_dict(), self.checkpoint_path)

    # ------------------------------------------------------------------ loop
    def _improved(self, value: float) -> bool:
        return value > self.best_value if self.mode == "max" else value < self.best_value

    def _start(self) -> bool:
        """Check ``out_dir`` and load the checkpoint when resuming; returns whether the run had finished."""
        if self.out_dir is None:
            return False
        if not self.resume:
            # only the main process checks a fresh run: the others could see the run.json it has just written
            if self.is_main_process:
                check_out_dir(self.out_dir, resume=False, overwrite=self.overwrite)
                if self.overwrite:
                    clear_run(self.out_dir)
                write_run_config(self.out_dir, self.config)
            return False
        check_out_dir(self.out_dir, resume=True)  # reads only: every process of a distributed run
        device = next(self.model.parameters()).device
        self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=device),
                             source=str(self.checkpoint_path))
        if self.stopped_early:
            return True
        if self.epoch > self.epochs:
            raise ValueError(f"{self.checkpoint_path} is at epoch {self.epoch}, past epochs={self.epochs}: "
                             f"resume with at least {self.epoch} epochs (epochs can only be raised)")
        if self.epoch == self.epochs:
            return True
        if self.is_main_process:
            if self.config is not None:
                write_run_config(self.out_dir, self.config)
            if self.log is not None:
                self.log.truncate_after(self.epoch)
        return False

    def _finish(self) -> None:
        """The closing files of a run: ``best.pt``, the final ``metrics.jsonl`` record, ``curves.png``."""
        if self.out_dir is None or not self.is_main_process:
            return
        if self.best_state is not None:
            atomic_save({"epoch": self.best_epoch, "model": self.best_state, "metrics": self.best_metrics},
                        self.out_dir / "best.pt")
        if self.log is not None:
            self.log.append({"final": True, "best_epoch": self.best_epoch, "epochs_run": self.epoch,
                             "stopped_early": self.stopped_early,
                             **{f"best_{k}": v for k, v in self.best_metrics.items()}})
        if self.plot:
            plot_curves(self.history, self.out_dir / "curves.png", title=self.title or str(self.out_dir),
                        best_epoch=self.best_epoch, monitor=self.monitor)

    def _result(self, already_finished: bool = False) -> TrainResult:
        final = {k: v for k, v in (self.history[-1] if self.history else {}).items() if k not in ("epoch", "time")}
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return TrainResult(self.best_epoch, dict(self.best_metrics), final, list(self.history), self.stopped_early,
                           already_finished)

    def fit(self) -> TrainResult:
        """Train (or resume) to ``epochs``; see the class docstring for what is written where.

        Raises:
            RunDirError: a fresh run into a directory holding a run (without
                ``overwrite``), or ``resume`` without a checkpoint.
            CheckpointError: the checkpoint to resume from is damaged, foreign or
                from another version.
        """
        if self._start():
            # resumed after the end: report, change nothing (but complete a run killed while closing)
            if self.log is not None and not any(r.get("final") for r in self.log.read()):
                self._finish()
            return self._result(already_finished=True)

        bar = tqdm(range(self.epoch + 1, self.epochs + 1), disable=not self.progress, desc=self.progress_desc,
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
            self.stopped_early = self.patience is not None and self.bad_evals >= self.patience
            if epoch % self.checkpoint_every == 0 or epoch == self.epochs or self.stopped_early:
                self.save_checkpoint()
            if self.stopped_early:
                break
        bar.close()
        self._finish()
        return self._result()
