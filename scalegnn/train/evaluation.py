"""Scoring predictions: OGB's own evaluators where they apply, the same formulas otherwise.

For OGB datasets the ``ogb`` Evaluator is authoritative and is always used
when given. For other datasets the same metrics are computed here:
accuracy, mean per-task ROC-AUC (tasks with a single class are skipped, as in
OGB), binary AUC/AP, Hits@K (positives ranked above the K-th best negative, as
in OGB's link evaluator) and MRR (against per-positive negatives).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

__all__ = ["score", "predict_labels", "METRICS"]

METRICS = ("acc", "rocauc", "auc", "ap", "hits@K", "mrr")


def predict_labels(logits: Tensor) -> Tensor:
    """Class predictions from logits ``[N, C]`` (argmax) or pass-through integer labels."""
    if logits.dim() == 2 and logits.size(1) > 1:
        return logits.argmax(dim=-1)
    if torch.is_floating_point(logits):
        return (logits.view(-1) > 0).long()
    return logits.view(-1)


def _rocauc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if y_true.ndim == 1:
        y_true, y_score = y_true[:, None], y_score[:, None]
    values = []
    for t in range(y_true.shape[1]):
        labeled = ~np.isnan(y_true[:, t]) if np.issubdtype(y_true.dtype, np.floating) else slice(None)
        col = y_true[labeled, t]
        if np.unique(col).size < 2:
            continue
        values.append(roc_auc_score(col, y_score[labeled, t]))
    if not values:
        raise ValueError("ROC-AUC is undefined: no task has both positive and negative labels")
    return float(np.mean(values))


def score(
    metric: str,
    y_true: Optional[Tensor] = None,
    y_pred: Optional[Tensor] = None,
    evaluator: Optional[Any] = None,
    *,
    y_pred_pos: Optional[Tensor] = None,
    y_pred_neg: Optional[Tensor] = None,
) -> float:
    """Compute ``metric`` for a prediction.

    Args:
        metric: ``"acc"``, ``"rocauc"``, ``"auc"``, ``"ap"``, ``"hits@K"`` (e.g. ``"hits@50"``) or ``"mrr"``.
        y_true: labels (``[N]`` classes, or ``[N, T]`` binary tasks).
        y_pred: logits/scores aligned with ``y_true``.
        evaluator: an ``ogb`` Evaluator; used when given.
        y_pred_pos, y_pred_neg: link scores for ``hits@K`` and ``mrr`` (and ``auc``/``ap``
            when given instead of ``y_true``/``y_pred``).
    """
    metric = metric.lower()
    if metric == "acc":
        if y_true is None or y_pred is None:
            raise ValueError("accuracy needs y_true and y_pred")
        labels = predict_labels(y_pred).view(-1).cpu()
        truth = y_true.view(-1).cpu()
        if labels.numel() != truth.numel():
            raise ValueError(f"y_pred has {labels.numel()} predictions but y_true has {truth.numel()} labels")
        if evaluator is not None:
            return float(evaluator.eval({"y_true": truth.view(-1, 1), "y_pred": labels.view(-1, 1)})["acc"])
        return float((labels == truth).float().mean()) if truth.numel() else float("nan")
    if metric == "rocauc":
        if y_true is None or y_pred is None:
            raise ValueError("ROC-AUC needs y_true and y_pred")
        if evaluator is not None:
            return float(evaluator.eval({"y_true": y_true.cpu(), "y_pred": y_pred.detach().cpu()})["rocauc"])
        return _rocauc(y_true.detach().cpu().numpy(), y_pred.detach().cpu().float().numpy())
    if metric in ("auc", "ap"):
        from sklearn.metrics import average_precision_score, roc_auc_score

        if y_pred_pos is not None and y_pred_neg is not None:
            y_pred = torch.cat([y_pred_pos.view(-1), y_pred_neg.view(-1)])
            y_true = torch.cat([torch.ones(y_pred_pos.numel()), torch.zeros(y_pred_neg.numel())])
        if y_true is None or y_pred is None:
            raise ValueError(f"{metric} needs y_true/y_pred or y_pred_pos/y_pred_neg")
        fn = roc_auc_score if metric == "auc" else average_precision_score
        return float(fn(y_true.view(-1).cpu().numpy(), y_pred.detach().view(-1).cpu().float().numpy()))
    if metric.startswith("hits@"):
        if y_pred_pos is None or y_pred_neg is None:
            raise ValueError("Hits@K needs y_pred_pos and y_pred_neg")
        k = int(metric.split("@", 1)[1])
        if evaluator is not None:
            result = evaluator.eval({"y_pred_pos": y_pred_pos.view(-1), "y_pred_neg": y_pred_neg.view(-1)})
            return float(result[f"hits@{k}"])
        neg = y_pred_neg.view(-1)
        if neg.numel() < k:
            return 1.0
        kth = torch.topk(neg, k).values[-1]
        return float((y_pred_pos.view(-1) > kth).float().mean())
    if metric == "mrr":
        if y_pred_pos is None or y_pred_neg is None:
            raise ValueError("MRR needs y_pred_pos [P] and y_pred_neg [P, Q]")
        if evaluator is not None:
            return float(evaluator.eval({"y_pred_pos": y_pred_pos, "y_pred_neg": y_pred_neg})["mrr_list"].mean())
        pos = y_pred_pos.view(-1, 1)
        # optimistic/pessimistic tie handling averaged, as OGB does
        optimistic = (y_pred_neg > pos).sum(dim=1)
        pessimistic = (y_pred_neg >= pos).sum(dim=1)
        rank = 0.5 * (optimistic + pessimistic).float() + 1
        return float((1.0 / rank).mean())
    raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
