"""``DistributedNodeTask``: full-batch node classification across ranks, for the shared ``Trainer``.

Each rank computes the loss of its own training rows, divided by the *global*
number of training nodes, so the sum over ranks is the single-process mean
loss and the summed weight gradients (one all-reduce per step) equal the
single-process gradients. Metrics are counted per rank and summed (accuracy),
or the split's predictions are gathered (ROC-AUC, which does not decompose),
so every rank sees the same numbers and early stopping stops every rank at the
same epoch. Communication statistics of each training step are reduced over
ranks and returned with the metrics, so they land in ``metrics.jsonl``:

* ``comm_rows_forward`` / ``comm_rows_backward`` / ``comm_bytes`` / ``comm_messages``: sums over ranks;
* ``comm_max_rank_rows``: the busiest rank's rows sent + received (forward);
* ``comm_wait_s``: the longest time a rank was blocked on exchanges (not hidden
  behind computation), ``step_s`` the slowest rank's step, ``comm_wait_share`` their ratio;
* ``comm_per_layer``: ``{"layer0/forward": {rows, bytes, messages, wait_s}, ...}`` summed over ranks;
* ``comm_per_rank``: rows sent and received, wait and compute seconds and peak memory (MB; resident
  set on CPU, CUDA memory allocated on a GPU) of every rank; ``max_rank_peak_memory_mb`` the largest.
"""
from __future__ import annotations

import time
from typing import Dict, List

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from scalegnn.distributed.context import DistContext
from scalegnn.distributed.local_graph import SPLITS, LocalGraph
from scalegnn.train.evaluation import predict_labels, score
from scalegnn.train.tasks import split_key

__all__ = ["DistributedNodeTask", "all_reduce_gradients"]


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process so far: CUDA memory allocated on a GPU, else the resident set (VmHWM)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across execve, so a rank started by a
    # big parent process (a launcher holding the dataset) would report the parent's peak as its own
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def all_reduce_gradients(model: torch.nn.Module, ctx: DistContext) -> None:
    """Sum every parameter's gradient over ranks in one flat all-reduce (missing gradients count as zero)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params or ctx.world_size == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def broadcast_parameters(model: torch.nn.Module, ctx: DistContext) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if ctx.world_size == 1:
        return
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, src=0)


class DistributedNodeTask:
    """Row-parallel full-batch node classification (see module docstring).

    Args:
        ctx: the run's :class:`~scalegnn.distributed.DistContext`.
        graph: this rank's :class:`~scalegnn.distributed.LocalGraph`.
        metric: ``"acc"`` or ``"rocauc"`` (multi-task binary, BCE loss).
        evaluator: OGB evaluator used for ``"rocauc"`` on the gathered predictions.

    The model is called as ``model(graph)`` and returns ``[num_owned, C]`` logits. Every rank
    must hold the same initial weights: call :func:`broadcast_parameters` after building the
    model (the first step checks it and raises otherwise).
    """

    def __init__(self, ctx: DistContext, graph: LocalGraph, metric: str = "acc", evaluator=None) -> None:
        if metric not in ("acc", "rocauc"):
            raise ValueError(f"distributed training supports metric 'acc' or 'rocauc', got {metric!r}")
        for split in ("train", "valid"):
            if graph.split_sizes.get(split, 0) < 1:
                raise ValueError(f"the partitioned graph has no {split} nodes on any rank; a run needs training "
                                 "nodes to learn and validation nodes to select its best epoch")
        self.ctx, self.graph, self.metric, self.evaluator = ctx, graph, metric, evaluator
        self.last_comm: Dict[str, object] = {}
        self._replicas_checked = False

    def _loss_sum(self, out: Tensor, rows: Tensor) -> Tensor:
        y = self.graph.y[rows]
        if self.metric == "rocauc":
            target = y.to(out.dtype)
            labeled = ~torch.isnan(target)
            return F.binary_cross_entropy_with_logits(out[rows][labeled], target[labeled], reduction="sum")
        return F.cross_entropy(out[rows], y.view(-1), reduction="sum")

    def _check_replicas(self, model: torch.nn.Module) -> None:
        """Every rank must start from the same weights (``broadcast_parameters``); checked once, by checksums."""
        sums = torch.stack([p.detach().double().sum() for p in model.parameters()]).to(self.ctx.device)
        low, high = sums.clone(), sums.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        if not torch.equal(low, high):
            raise ValueError("the ranks hold different model weights; call "
                             "scalegnn.distributed.broadcast_parameters(model, ctx) after building the model")
        self._replicas_checked = True

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        if not self._replicas_checked:
            self._check_replicas(model)
        model.train()
        optimizer.zero_grad()
        plan = self.graph.plan
        plan.stats.reset()
        start = time.perf_counter()
        out = model(self.graph)
        rows = self.graph.masks["train"].nonzero().view(-1)
        count = self.graph.split_sizes["train"]
        if self.metric == "rocauc":  # mean over labeled (node, task) entries, as supervised_loss takes it
            count = int(self.ctx.all_reduce_sum([float((~torch.isnan(self.graph.y[rows].float())).sum())])[0])
        loss = self._loss_sum(out, rows) / count
        loss.backward()  # every rank, even one without training rows: the backward exchanges are collective
        all_reduce_gradients(model, self.ctx)
        optimizer.step()
        seconds = time.perf_counter() - start
        total_loss = self.ctx.all_reduce_sum([float(loss.detach())])[0]
        self.last_comm = self._reduce_comm(seconds)
        return total_loss

    def _reduce_comm(self, seconds: float) -> Dict[str, object]:
        """This step's exchange statistics over all ranks: totals, the busiest rank, per layer and per rank."""
        stats = self.graph.plan.stats
        fwd, bwd = stats.totals("forward"), stats.totals("backward")
        wait = fwd["wait_s"] + bwd["wait_s"]
        mine = torch.tensor([fwd["rows"], fwd["rows_recv"], bwd["rows"], fwd["bytes"] + bwd["bytes"],
                             fwd["messages"] + bwd["messages"], wait, seconds, peak_memory_mb(self.ctx.device)],
                            dtype=torch.float64, device=self.ctx.device)
        ranks = [torch.zeros_like(mine) for _ in range(self.ctx.world_size)]
        dist.all_gather(ranks, mine)
        per_rank = torch.stack(ranks).cpu()
        keys = sorted(stats.records)
        layer_values = torch.tensor([[stats.records[k][f] for f in ("rows", "bytes", "messages", "wait_s")]
                                     for k in keys], dtype=torch.float64, device=self.ctx.device).reshape(-1, 4)
        dist.all_reduce(layer_values)
        per_layer = {f"{layer}/{direction}": dict(zip(("rows", "bytes", "messages", "wait_s"), row))
                     for (layer, direction), row in zip(keys, layer_values.cpu().tolist())}
        step = float(per_rank[:, 6].max())
        busiest_wait = float(per_rank[:, 5].max())
        return {
            "comm_rows_forward": float(per_rank[:, 0].sum()),
            "comm_rows_backward": float(per_rank[:, 2].sum()),
            "comm_bytes": float(per_rank[:, 3].sum()),
            "comm_messages": float(per_rank[:, 4].sum()),
            "comm_max_rank_rows": float((per_rank[:, 0] + per_rank[:, 1]).max()),
            "comm_wait_s": busiest_wait,
            "step_s": step,
            "comm_wait_share": busiest_wait / step if step > 0 else 0.0,
            "comm_per_layer": per_layer,
            "max_rank_peak_memory_mb": float(per_rank[:, 7].max()),
            "comm_per_rank": {"rows_sent": per_rank[:, 0].tolist(), "rows_recv": per_rank[:, 1].tolist(),
                              "wait_s": per_rank[:, 5].tolist(), "compute_s": (per_rank[:, 6] - per_rank[:, 5]).tolist(),
                              "peak_memory_mb": per_rank[:, 7].tolist()},
        }

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, object]:
        model.eval()
        out = model(self.graph)
        metrics: Dict[str, object] = {}
        if self.metric == "acc":
            pred = predict_labels(out)
            counts: List[float] = []
            for split in SPLITS:
                rows = self.graph.masks[split]
                counts.append(float((pred[rows] == self.graph.y[rows].view(-1)).sum()))
            correct = self.ctx.all_reduce_sum(counts)
            for split, c in zip(SPLITS, correct):
                if self.graph.split_sizes[split]:
                    metrics[split_key(split, "acc")] = c / self.graph.split_sizes[split]
        else:
            for split in SPLITS:
                rows = self.graph.masks[split]
                if not self.graph.split_sizes[split]:
                    continue
                pieces: List = [None] * self.ctx.world_size
                dist.all_gather_object(pieces, (self.graph.y[rows].cpu(), out[rows].cpu()))
                y = torch.cat([p[0] for p in pieces])
                pred = torch.cat([p[1] for p in pieces])
                metrics[split_key(split, self.metric)] = score(self.metric, y, pred, self.evaluator)
        metrics.update(self.last_comm)
        return metrics
