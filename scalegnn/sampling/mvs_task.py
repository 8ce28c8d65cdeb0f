r"""MVS-GNN training as a task for the shared :class:`scalegnn.train.Trainer`.

Cong, Forsati, Kandemir and Mahdavi, "Minimal Variance Sampling with Provable
Guarantees for Fast Training of Graph Neural Networks" (KDD 2020). The
algorithm alternates two kinds of steps:

* **snapshot** (every ``snapshot_every`` steps, and before the first): one exact
  full-graph forward pass without gradients. It stores every layer's input
  :math:`\bar H^{(l)}` and aggregation :math:`\hat A \bar H^{(l)}` in a
  :class:`~scalegnn.sampling.HistoryEmbedding`, and gives every training node
  its importance score, the closed-form norm of its output-layer gradient
  (:func:`~scalegnn.sampling.output_gradient_norms`), from which the loader's
  :class:`~scalegnn.sampling.MVSampler` recomputes the minimal-variance
  probabilities.
* **mini-batch steps**: seeds drawn with those probabilities, the unbiased loss
  :math:`\sum_{i \in S} \ell_i / (n p_i)`, and embeddings estimated on the
  sampled subgraph with the historical embeddings as a control variate
  (:func:`~scalegnn.sampling.control_variate_aggregate`): layer 1 is exact
  (:math:`\hat A X` is stored), so an :math:`L`-layer model samples only
  :math:`L-1` hops.

The snapshot updates no weights here (the paper's large-batch snapshot step
also takes a gradient step); it costs one inference pass, which the benchmarks
count in wall time. With ``history=False`` the batches go through the model as
an ordinary PyG model, ``model(x, edge_index, edge_weight)``.

The model is a PyG GCN whose layers take the sampled weights as given:
``torch_geometric.nn.models.GCN(in, hidden, L, out, normalize=False)`` (a
``BasicGNN`` of ``GCNConv(normalize=False)`` layers, no normalization layers
or jumping knowledge). Evaluation is an exact full-graph forward pass.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.adjacency import spmm
from scalegnn.data.validate import check_int, validate_node_ids
from scalegnn.sampling.gradient_norms import output_gradient_norms
from scalegnn.sampling.history import HistoryEmbedding, control_variate_aggregate
from scalegnn.sampling.mvs_loader import MVSLoader
from scalegnn.train.evaluation import score

__all__ = ["MVSTask", "micro_f1"]


def micro_f1(y_true: Tensor, logits: Tensor, top_k: bool = True) -> float:
    """Micro-averaged F1 of multi-label predictions against 0/1 labels ``[N, C]``.

    With ``top_k`` (default) node ``i`` is predicted its :math:`k_i` highest-scoring
    labels, :math:`k_i` its number of true labels: the protocol of the BlogCatalog
    literature (Perozzi et al., "DeepWalk", KDD 2014; Grover and Leskovec,
    "node2vec", KDD 2016). Otherwise the prediction is ``logits > 0``.
    """
    truth = y_true > 0.5
    if top_k:
        k = truth.sum(1, keepdim=True)
        rank = logits.argsort(dim=1, descending=True).argsort(dim=1)
        pred = rank < k
    else:
        pred = logits > 0
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def _check_model(model: torch.nn.Module) -> None:
    from torch_geometric.nn import GCNConv

    convs = getattr(model, "convs", None)
    if convs is None or not hasattr(model, "act") or not hasattr(model, "dropout"):
        raise TypeError("MVSTask needs a PyG BasicGNN-style GCN (torch_geometric.nn.models.GCN with "
                        f"normalize=False); got {type(model).__name__}")
    for i, conv in enumerate(convs):
        if not isinstance(conv, GCNConv):
            raise TypeError(f"layer {i} is {type(conv).__name__}; MVSTask supports GCNConv layers")
        if conv.normalize:
            raise ValueError(f"layer {i} is GCNConv(normalize=True): build the model with normalize=False, "
                             "the loader's edge weights are already normalized")
    if getattr(model, "jk_mode", None) is not None or hasattr(model, "lin"):
        raise ValueError("jumping knowledge is not supported by MVSTask")
    for norm in getattr(model, "norms", []):
        if not isinstance(norm, torch.nn.Identity):
            raise ValueError("normalization layers (batch norm, ...) are not supported by MVSTask")


def _post(model: torch.nn.Module, i: int, h: Tensor) -> Tensor:
    """What ``BasicGNN`` applies after conv ``i`` (activation and dropout between layers)."""
    if i < len(model.convs) - 1:
        if model.act is not None:
            h = model.act(h)
        h = model.dropout(h)
    return h


def _linear(conv: torch.nn.Module, agg: Tensor) -> Tensor:
    out = conv.lin(agg)
    return out + conv.bias if conv.bias is not None else out


class MVSTask:
    r"""Node classification with minimal-variance sampling and historical embeddings (a ``Trainer`` task).

    Args:
        loader (MVSLoader): the batch source; ``num_hops`` must be ``L - 1`` with
            ``history=True`` and ``L`` without (checked at the first step).
        split (dict): node ids (or masks) by split name (``train``, ``valid``, ``test``).
        metric (str): ``'acc'`` (single-label) or ``'micro_f1'`` (multi-label, ``y`` of shape ``[N, C]``).
        history (bool): use historical embeddings. (default: ``True``)
        history_device: where the history lives. (default: ``'cpu'``)
        snapshot_every (int, optional): mini-batch steps between snapshots (default: one epoch,
            ``len(loader)``).
        evaluator: an ``ogb`` Evaluator for ``'acc'``, if any.
        refresh_scores (bool): with ``sampler='mvs'``, also refresh the scores of each
            mini-batch's seeds from that batch's forward pass (the same closed form on the
            batch's outputs, no extra pass), between snapshots. Scores taken ``K/2`` steps
            earlier lose most of MVS's variance cut early in training, when the nodes MVS
            favours are being fit fastest (``benchmarks/results/sampling.md``). (default: ``True``)

    ``train_epoch`` runs ``len(loader)`` steps; ``evaluate`` returns
    ``{split}_{metric}`` of an exact full-graph forward pass. :attr:`steps`
    counts mini-batch steps, :attr:`snapshots` the snapshots.
    """

    def __init__(
        self,
        loader: MVSLoader,
        split: Dict[str, Tensor],
        metric: str = "acc",
        history: bool = True,
        history_device: Any = "cpu",
        snapshot_every: Optional[int] = None,
        evaluator: Optional[Any] = None,
        refresh_scores: bool = True,
    ) -> None:
        if not isinstance(loader, MVSLoader):
            raise TypeError(f"loader must be an MVSLoader, got {type(loader).__name__}")
        if metric not in ("acc", "micro_f1"):
            raise ValueError(f"metric must be 'acc' or 'micro_f1', got {metric!r}")
        self.loader, self.data = loader, loader.data
        y = self.data.y
        self.multilabel = y.dim() == 2 and y.size(1) > 1
        if metric == "micro_f1" and not self.multilabel:
            raise ValueError("metric 'micro_f1' needs multi-label targets y of shape [N, C]")
        if metric == "acc" and self.multilabel:
            raise ValueError("metric 'acc' needs single-label targets; use 'micro_f1' for y of shape [N, C]")
        self.metric, self.evaluator = metric, evaluator
        self.split = {}
        for name, ids in split.items():
            ids = ids.nonzero().view(-1) if ids.dtype == torch.bool else ids
            validate_node_ids(ids, self.data.num_nodes, name=f"split[{name!r}]")
            self.split[name] = ids
        self.use_history = bool(history)
        self.history_device = history_device
        self.snapshot_every = (len(loader) if snapshot_every is None
                               else check_int(snapshot_every, "snapshot_every", min_value=1))
        self.refresh_scores = bool(refresh_scores)
        self.history: Optional[HistoryEmbedding] = None
        self._last_agg: Optional[Tensor] = None  # the seeds' output-layer input in the last batch_forward
        self.steps = 0
        self.snapshots = 0
        self._since_snapshot: Optional[int] = None
        self._checked = False

    # ------------------------------------------------------------------ losses
    def node_losses(self, out: Tensor, y: Tensor) -> Tensor:
        """Per-node loss :math:`\\ell_i` (cross-entropy, or mean BCE over the labeled entries)."""
        if self.multilabel:
            t = y.to(out.dtype)
            labeled = ~torch.isnan(t)
            terms = F.binary_cross_entropy_with_logits(out, torch.nan_to_num(t), reduction="none")
            return (terms * labeled).sum(1) / labeled.sum(1).clamp(min=1)
        return F.cross_entropy(out, y.view(-1).long(), reduction="none")

    def _check(self, model: torch.nn.Module) -> None:
        if self._checked:
            return
        _check_model(model)
        want = len(model.convs) - 1 if self.use_history else len(model.convs)
        if self.loader.num_hops != want:
            raise ValueError(f"the loader samples {self.loader.num_hops} hops but a {len(model.convs)}-layer model "
                             f"{'with' if self.use_history else 'without'} history needs num_hops={want}")
        self._checked = True

    # ----------------------------------------------------------------- forward
    def _device(self, model: torch.nn.Module) -> torch.device:
        return next(model.parameters()).device

    def exact_forward(self, model: torch.nn.Module) -> Tuple[Tensor, List[Tensor], List[Tensor]]:
        """Full-graph forward: ``(logits, inputs per layer, aggregations Â·input per layer)``."""
        device = self._device(model)
        adj = self.loader.adj.to(device)
        h = self.data.x.to(device)
        inputs, aggs = [], []
        for i, conv in enumerate(model.convs):
            agg = spmm(adj, h)
            inputs.append(h)
            aggs.append(agg)
            h = _post(model, i, _linear(conv, agg))
        return h, inputs, aggs

    def batch_forward(self, model: torch.nn.Module, batch: Any) -> Tensor:
        """Outputs of the batch's seed nodes (``[batch.batch_size, C]``)."""
        self._check(model)
        if not self.use_history:
            captured: List[Tensor] = []
            hook = model.convs[-1].register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
            try:
                out = model(batch.x, batch.edge_index, batch.edge_weight)[: batch.batch_size]
            finally:
                hook.remove()
            h, ei, ew = captured[0], batch.edge_index.to(out.device), batch.edge_weight.to(out.device)
            keep = ei[1] < batch.batch_size
            self._last_agg = torch.zeros(batch.batch_size, h.size(1), dtype=h.dtype, device=h.device).index_add_(
                0, ei[1][keep], h[ei[0][keep]] * ew[keep].to(h.dtype).unsqueeze(-1))
            return out
        if self.history is None:
            raise RuntimeError("no history yet: call snapshot(model) first")
        device = self._device(model)
        n_id, ei, ew = batch.n_id.to(device), batch.edge_index.to(device), batch.edge_weight.to(device)
        h = batch.x.to(device)
        num_layers = len(model.convs)
        for i, conv in enumerate(model.convs):
            h_hist, agg_hist = self.history.pull(i, n_id, device)
            rows = batch.batch_size if i == num_layers - 1 else h.size(0)
            agg = control_variate_aggregate(h, h_hist, agg_hist, ei, ew, num_targets=rows)
            h = _post(model, i, _linear(conv, agg))
        self._last_agg = agg.detach()
        return h

    # ---------------------------------------------------------------- snapshot
    @torch.no_grad()
    def snapshot(self, model: torch.nn.Module) -> None:
        """Refresh the history and the sampling scores from an exact forward pass (eval mode)."""
        self._check(model)
        was_training = model.training
        model.eval()
        logits, inputs, aggs = self.exact_forward(model)
        model.train(was_training)
        if not bool(torch.isfinite(logits).all()):
            raise ValueError(f"the model's outputs are not finite (NaN or inf) at snapshot {self.snapshots} "
                             f"(step {self.steps}): training has diverged; lower the learning rate")
        if self.use_history:
            if self.history is None:
                self.history = HistoryEmbedding(self.data.num_nodes, self.history_device)
            for i, (h, agg) in enumerate(zip(inputs, aggs)):
                self.history.push(i, None if i == 0 else h, agg)
            self.history.mark_refreshed()
        if self.loader.sampler.mode == "mvs":
            train = self.loader.train_ids.to(logits.device)
            y = self.data.y.to(logits.device)[train]
            scores = output_gradient_norms(logits[train], y, aggs[-1][train], "bce" if self.multilabel else "ce",
                                           bias=model.convs[-1].bias is not None)
            self.loader.update_scores(scores.cpu())
        self.snapshots += 1
        self._since_snapshot = 0

    def _needs_snapshot(self) -> bool:
        if not self.use_history and self.loader.sampler.mode != "mvs":
            return False
        return self._since_snapshot is None or self._since_snapshot >= self.snapshot_every

    # ------------------------------------------------------------------- steps
    def batch_loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        r"""The unbiased estimate :math:`\sum_{i<B} w_i \ell_i` of the mean training loss."""
        out = self.batch_forward(model, batch)
        y = batch.y[: batch.batch_size].to(out.device)
        self._last_out = out.detach()
        return (batch.loss_weight.to(out.device) * self.node_losses(out, y)).sum()

    def _refresh_batch_scores(self, model: torch.nn.Module, batch: Any) -> None:
        """New scores for the last batch's seeds from its own outputs (see ``refresh_scores``)."""
        sampler = self.loader.sampler
        if not self.refresh_scores or sampler.mode != "mvs" or sampler.scores is None:
            return
        y = batch.y[: batch.batch_size].to(self._last_out.device)
        scores = output_gradient_norms(self._last_out, y, self._last_agg, "bce" if self.multilabel else "ce",
                                       bias=model.convs[-1].bias is not None)
        if bool(torch.isfinite(scores).all()):
            sampler.refresh(sampler.last_positions, scores.cpu())

    def full_loss(self, model: torch.nn.Module) -> Tensor:
        """The exact mean training loss (full graph), differentiable."""
        logits, _, _ = self.exact_forward(model)
        idx = self.loader.train_ids.to(logits.device)
        return self.node_losses(logits[idx], self.data.y.to(logits.device)[idx]).mean()

    def step(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        """One mini-batch step (after a snapshot when one is due); returns the batch loss."""
        self._check(model)
        if self._needs_snapshot():
            self.snapshot(model)
        model.train()
        batch = self.loader.sample_batch()
        self.steps += 1
        if self._since_snapshot is not None:
            self._since_snapshot += 1
        if batch.batch_size == 0:
            return 0.0  # an empty Poisson draw: the estimate is 0, no update
        optimizer.zero_grad()
        loss = self.batch_loss(model, batch)
        loss.backward()
        optimizer.step()
        self._refresh_batch_scores(model, batch)
        return float(loss.detach())

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        losses = [self.step(model, optimizer) for _ in range(len(self.loader))]
        return sum(losses) / len(losses)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, float]:
        model.eval()
        logits, _, _ = self.exact_forward(model)
        out: Dict[str, float] = {}
        for name, idx in self.split.items():
            prefix = {"valid": "val", "validation": "val"}.get(name, name)
            idx = idx.to(logits.device)
            y = self.data.y.to(logits.device)[idx]
            if self.metric == "micro_f1":
                out[f"{prefix}_micro_f1"] = micro_f1(y, logits[idx])
            else:
                out[f"{prefix}_acc"] = score("acc", y, logits[idx], self.evaluator)
        return out
