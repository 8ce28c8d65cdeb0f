"""The link-prediction task for :class:`scalegnn.train.Trainer`: binary cross-entropy on labeled pairs.

``train_epoch`` runs over a loader of SEAL batches (``model(batch)`` returns one
logit per target link, ``batch.y`` holds 1 for positives and 0 for negatives);
``evaluate`` scores every evaluation loader with the requested metrics:
``"auc"`` and ``"ap"`` (scikit-learn) for the classic networks, ``"hits@K"``
and ``"mrr"`` with OGB's ``Evaluator`` for ``ogbl-*`` datasets (through
:func:`scalegnn.train.evaluation.score`).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from scalegnn.train.evaluation import score
from scalegnn.train.tasks import split_key

__all__ = ["LinkPredictionTask"]


class LinkPredictionTask:
    """Train on labeled target links, evaluate ranking metrics per split.

    Args:
        train_loader: yields batches with ``y`` (float 0/1) that ``model`` scores.
        eval_loaders: ``{"valid": loader, "test": loader, ...}``.
        metrics: metric names; the first is the natural ``monitor`` (``"val_<metric>"``).
        evaluator: an ``ogb`` link Evaluator for ``hits@K`` / ``mrr``.
        progress: show a batch-level progress bar.
    """

    def __init__(self, train_loader: Iterable[Any], eval_loaders: Dict[str, Iterable[Any]],
                 metrics: Sequence[str] = ("auc", "ap"), evaluator: Optional[Any] = None,
                 progress: bool = False) -> None:
        if not metrics:
            raise ValueError("metrics must name at least one metric")
        for m in metrics:
            m = m.lower()
            if m not in ("auc", "ap", "mrr") and not (m.startswith("hits@") and m[5:].isdigit()):
                raise ValueError(f"unknown link metric {m!r}; use 'auc', 'ap', 'hits@K' or 'mrr'")
        self.train_loader, self.eval_loaders = train_loader, dict(eval_loaders)
        self.metrics = [m.lower() for m in metrics]
        self.evaluator, self.progress = evaluator, progress

    def _batches(self, loader: Iterable[Any]) -> Iterator[Any]:
        """The loader's batches, iterated once, behind a progress bar when ``progress``.

        The bar is driven by hand: ``tqdm.auto`` given the loader itself calls
        ``iter(loader)`` in its constructor, a second pass per epoch that draws
        a shuffling loader's permutation (so the batch order would depend on
        the bar) and starts or resets its worker processes.
        """
        if not self.progress:
            yield from loader
            return
        try:
            total = len(loader)  # type: ignore[arg-type]
        except TypeError:  # an iterable-style loader has no length
            total = None
        with tqdm(total=total, desc="batches", leave=False) as bar:
            for batch in loader:
                yield batch
                bar.update(1)

    def skip_epochs(self, epochs: int) -> None:
        """Advance the training loader's shuffling generator past ``epochs`` epochs without loading a batch.

        For resuming: a twin ``DataLoader`` over indices, with the same
        generator, batch size and sampler type, is iterated exactly as
        :meth:`train_epoch` iterates the real one, so it makes the same draws.
        A loader without a ``generator`` attribute draws nothing to replay.
        """
        loader = self.train_loader
        generator = getattr(loader, "generator", None)
        if generator is None:
            return
        twin = torch.utils.data.DataLoader(range(len(loader.dataset)), batch_size=loader.batch_size,
                                           shuffle=isinstance(loader.sampler, torch.utils.data.RandomSampler),
                                           drop_last=loader.drop_last, generator=generator)
        for _ in range(epochs):
            for _ in twin:  # one pass, as train_epoch makes; no bar for the replay
                pass

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        model.train()
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for batch in self._batches(self.train_loader):
            batch = batch.to(device)
            optimizer.zero_grad()
            out = model(batch)
            loss = F.binary_cross_entropy_with_logits(out.view(-1), batch.y.view(-1).float())
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
        if count == 0:
            raise ValueError("the training loader yielded no links")
        return total / count

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, loader: Iterable[Any]):
        """``(scores, labels)`` of every link in ``loader``."""
        model.eval()
        device = next(model.parameters()).device
        outs, ys = [], []
        for batch in loader:
            batch = batch.to(device)
            outs.append(model(batch).view(-1).cpu())
            ys.append(batch.y.view(-1).cpu())
        return torch.cat(outs), torch.cat(ys)

    def _score(self, metric: str, pred: Tensor, y: Tensor) -> float:
        pos, neg = pred[y > 0.5], pred[y <= 0.5]
        if metric in ("auc", "ap"):
            return score(metric, y_pred_pos=pos, y_pred_neg=neg)
        if metric == "mrr":
            if neg.numel() % max(pos.numel(), 1):
                raise ValueError(f"MRR needs the same number of negatives per positive: {pos.numel()} positives, "
                                 f"{neg.numel()} negatives")
            return score("mrr", y_pred_pos=pos, y_pred_neg=neg.view(pos.numel(), -1), evaluator=self.evaluator)
        ev = self.evaluator
        if ev is not None:
            old = getattr(ev, "K", None)
            ev.K = int(metric.split("@")[1])
            try:
                return score(metric, y_pred_pos=pos, y_pred_neg=neg, evaluator=ev)
            finally:
                if old is not None:
                    ev.K = old
        return score(metric, y_pred_pos=pos, y_pred_neg=neg)

    def evaluate(self, model: torch.nn.Module) -> Dict[str, float]:
        out: Dict[str, float] = {}
        for name, loader in self.eval_loaders.items():
            if loader is None:
                continue
            pred, y = self.predict(model, loader)
            for m in self.metrics:
                out[split_key(name, m)] = self._score(m, pred, y)
        return out
