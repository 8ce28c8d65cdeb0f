"""Training tasks: what one epoch of training and one evaluation mean for a kind of problem.

A *task* is any object with two methods, used by :class:`scalegnn.train.Trainer`:

* ``train_epoch(model, optimizer) -> float``: one pass over the training
  data, returning the mean training loss;
* ``evaluate(model) -> dict[str, float]``: metrics keyed ``<split>_<metric>``
  (``train_acc``, ``val_acc``, ``test_acc``, ...).

The built-in tasks cover full-batch and mini-batch node classification and
graph classification. A model may return ``(output, aux_loss)``; the
auxiliary loss (e.g. minCUT pooling's regularizers) is added to the task loss.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.validate import validate_graph, validate_node_ids
from scalegnn.train.evaluation import score

__all__ = ["NodeClassificationTask", "MiniBatchNodeTask", "GraphClassificationTask", "split_key"]

ForwardFn = Callable[[torch.nn.Module, Any], Any]


def split_key(split: str, metric: str) -> str:
    """``("valid", "acc") -> "val_acc"``: the key metrics are logged under."""
    prefix = {"valid": "val", "validation": "val"}.get(split, split)
    return f"{prefix}_{metric}"


def _unpack(output: Any) -> Tuple[Tensor, Optional[Tensor]]:
    if isinstance(output, tuple):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


def _is_multilabel(y: Tensor, metric: str) -> bool:
    return metric == "rocauc" or (y.dim() == 2 and y.size(1) > 1)


def supervised_loss(out: Tensor, y: Tensor, metric: str) -> Tensor:
    """Cross-entropy for single-label targets, masked BCE-with-logits for binary tasks."""
    if _is_multilabel(y, metric):
        target = y.to(out.dtype).view_as(out)
        labeled = ~torch.isnan(target)
        return F.binary_cross_entropy_with_logits(out[labeled], target[labeled])
    return F.cross_entropy(out, y.view(-1).long())


def per_node_loss(out: Tensor, y: Tensor, metric: str) -> Tensor:
    """``[n]`` losses, one per row: cross-entropy, or the mean BCE-with-logits over the row's labeled entries."""
    if _is_multilabel(y, metric):
        target = y.to(out.dtype).view_as(out)
        labeled = ~torch.isnan(target)
        terms = F.binary_cross_entropy_with_logits(out, torch.nan_to_num(target), reduction="none")
        return (terms * labeled).sum(1) / labeled.sum(1).clamp(min=1)
    return F.cross_entropy(out, y.view(-1).long(), reduction="none")


def _check_loss_weight(weight: Any, num_rows: int) -> Tensor:
    if not isinstance(weight, Tensor) or not torch.is_floating_point(weight):
        raise TypeError(f"batch.loss_weight must be a floating-point tensor, got {type(weight).__name__}"
                        + (f" of dtype {weight.dtype}" if isinstance(weight, Tensor) else ""))
    weight = weight.reshape(-1)
    if weight.numel() != num_rows:
        raise ValueError(f"batch.loss_weight has {weight.numel()} entries but the batch has {num_rows} loss rows "
                         "(one weight per seed node)")
    if not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()):
        raise ValueError("batch.loss_weight must be finite and >= 0")
    return weight


def _default_forward(model: torch.nn.Module, data: Any) -> Any:
    return model(data.x, data.edge_index)


class NodeClassificationTask:
    """Full-batch node classification (or multi-task node property prediction).

    Args:
        data: a PyG ``Data`` with ``x``, ``edge_index``, ``y``.
        split: node ids by split name (``"train"``, ``"valid"``, ``"test"``).
        metric: ``"acc"`` or ``"rocauc"``.
        evaluator: the ``ogb`` Evaluator, if any.
        forward: ``forward(model, data) -> logits``; default ``model(data.x, data.edge_index)``.
    """

    def __init__(
        self,
        data: Any,
        split: Dict[str, Tensor],
        metric: str = "acc",
        evaluator: Optional[Any] = None,
        forward: Optional[ForwardFn] = None,
    ) -> None:
        if "train" not in split:
            raise ValueError(f"split needs a 'train' entry, got keys {sorted(split)}")
        validate_graph(data, task="node")
        for name, ids in split.items():
            validate_node_ids(ids, data.num_nodes, name=f"split[{name!r}]")
        self.data = data
        self.split = {k: (v.nonzero().view(-1) if v.dtype == torch.bool else v) for k, v in split.items()}
        self.metric = metric
        self.evaluator = evaluator
        self.forward = forward or _default_forward

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        model.train()
        optimizer.zero_grad()
        out, aux = _unpack(self.forward(model, self.data))
        idx = self.split["train"]
        loss = supervised_loss(out[idx], self.data.y[idx], self.metric)
        if aux is not None:
            loss = loss + aux
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, float]:
        model.eval()
        out, _ = _unpack(self.forward(model, self.data))
        return {
            split_key(name, self.metric): score(self.metric, self.data.y[idx], out[idx], self.evaluator)
            for name, idx in self.split.items()
        }


class MiniBatchNodeTask(NodeClassificationTask):
    r"""Node classification trained on mini-batches, evaluated on the full graph.

    Each batch from ``loader`` is a PyG ``Data``; the loss is taken on its
    first ``batch.batch_size`` nodes (seed nodes, as PyG's ``NeighborLoader``
    yields them), else on ``batch.train_mask``, else on all its nodes.
    ``batch_forward(model, batch)`` defaults to ``model(batch.x, batch.edge_index)``.

    A batch may carry ``loss_weight``, one weight per loss row (per seed node),
    for importance-sampled losses such as minimal-variance sampling's
    :math:`w_i = 1/(n p_i)` (Cong et al., "Minimal Variance Sampling with
    Provable Guarantees for Fast Training of Graph Neural Networks", KDD 2020;
    :class:`scalegnn.sampling.MVSLoader` batches carry them). The loss is then
    :math:`\sum_i w_i \ell_i`, :math:`\ell_i` the node's own loss
    (cross-entropy, or for multi-label targets the mean BCE over its labeled
    entries), instead of the mean over the rows. See :meth:`batch_loss`.
    """

    def __init__(
        self,
        loader: Iterable[Any],
        data: Any,
        split: Dict[str, Tensor],
        metric: str = "acc",
        evaluator: Optional[Any] = None,
        forward: Optional[ForwardFn] = None,
        batch_forward: Optional[ForwardFn] = None,
    ) -> None:
        super().__init__(data, split, metric, evaluator, forward)
        self.loader = loader
        self.batch_forward = batch_forward or _default_forward

    def batch_loss(self, model: torch.nn.Module, batch: Any) -> Tuple[Optional[Tensor], int]:
        r"""``(loss, number of loss rows)`` of one batch; ``(None, 0)`` when it has no loss rows.

        Rows: the first ``batch.batch_size`` nodes, else ``batch.train_mask``, else
        all. Without ``batch.loss_weight`` the loss is the mean over the rows
        (:func:`supervised_loss`); with it, :math:`\sum_i w_i \ell_i` over the rows
        (see the class docstring). The model's auxiliary loss is added.
        """
        out, aux = _unpack(self.batch_forward(model, batch))
        if getattr(batch, "batch_size", None) is not None:
            rows = torch.arange(batch.batch_size, device=out.device)
        elif getattr(batch, "train_mask", None) is not None:
            rows = batch.train_mask.nonzero().view(-1)
        else:
            rows = torch.arange(out.size(0), device=out.device)
        if rows.numel() == 0:
            return None, 0
        weight = getattr(batch, "loss_weight", None)
        if weight is None:
            loss = supervised_loss(out[rows], batch.y[rows], self.metric)
        else:
            weight = _check_loss_weight(weight, rows.numel()).to(out.device, out.dtype)
            loss = (weight * per_node_loss(out[rows], batch.y[rows], self.metric)).sum()
        if aux is not None:
            loss = loss + aux
        return loss, rows.numel()

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        model.train()
        total, count = 0.0, 0
        for batch in self.loader:
            optimizer.zero_grad()
            loss, num_rows = self.batch_loss(model, batch)
            if num_rows == 0:
                continue
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * num_rows
            count += num_rows
        if count == 0:
            raise ValueError("the loader yielded no training nodes in this epoch")
        return total / count


class GraphClassificationTask:
    """Graph classification over PyG ``DataLoader``s of ``Batch`` objects.

    ``model(batch)`` returns logits ``[num_graphs, C]`` or ``(logits, aux_loss)``.
    """

    def __init__(
        self,
        train_loader: Iterable[Any],
        val_loader: Optional[Iterable[Any]] = None,
        test_loader: Optional[Iterable[Any]] = None,
        metric: str = "acc",
        evaluator: Optional[Any] = None,
    ) -> None:
        self.loaders = {"train": train_loader, "valid": val_loader, "test": test_loader}
        self.metric = metric
        self.evaluator = evaluator

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        model.train()
        total, count = 0.0, 0
        for batch in self.loaders["train"]:
            optimizer.zero_grad()
            out, aux = _unpack(model(batch))
            loss = supervised_loss(out, batch.y, self.metric)
            if aux is not None:
                loss = loss + aux
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
        return total / max(count, 1)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, float]:
        model.eval()
        metrics = {}
        for name, loader in self.loaders.items():
            if loader is None:
                continue
            outs, ys = [], []
            for batch in loader:
                out, _ = _unpack(model(batch))
                outs.append(out)
                ys.append(batch.y)
            if outs:
                metrics[split_key(name, self.metric)] = score(
                    self.metric, torch.cat(ys), torch.cat(outs), self.evaluator
                )
        return metrics
