r"""Per-node gradient norms of the output layer in closed form (importance scores for MVS).

Cong et al., "Minimal Variance Sampling with Provable Guarantees for Fast
Training of Graph Neural Networks" (KDD 2020) sample node :math:`i` in
proportion to the norm of its own loss gradient :math:`\|\nabla_\theta \ell_i\|`.
One backward pass per node would cost :math:`n` backward passes; for the last
layer it has a closed form. If the output is :math:`z_i = W^\top a_i + b`
(for a GCN's last layer :math:`a_i = (\hat A H^{(L-1)})_i`, the aggregated input)
and :math:`\delta_i = \partial \ell_i / \partial z_i`, then
:math:`\nabla_W \ell_i = a_i \delta_i^\top` is rank one, so

.. math::
    \|\nabla_{(W, b)} \ell_i\|_F = \|\delta_i\|_2 \sqrt{\|a_i\|_2^2 + 1}

(without the :math:`+1` when there is no bias), with

* softmax cross-entropy: :math:`\delta_i = \mathrm{softmax}(z_i) - e_{y_i}`;
* mean binary cross-entropy over :math:`C` labels (multi-label):
  :math:`\delta_i = (\sigma(z_i) - y_i) / C_i`, :math:`C_i` the node's labeled
  entries (NaN labels are unlabeled and contribute nothing).

These are the exact per-example gradient norms of the output layer's
parameters; the gradient of the lower layers is not included (the usual,
cheap proxy for the full per-example gradient norm).
"""
from __future__ import annotations

import torch
from torch import Tensor

from scalegnn.data.validate import check_tensor

__all__ = ["output_gradient_norms", "output_loss_gradient"]


def output_loss_gradient(logits: Tensor, target: Tensor, loss: str = "ce") -> Tensor:
    r""":math:`\delta_i = \partial \ell_i / \partial z_i` for every row (``[n, C]``).

    Args:
        logits: ``[n, C]`` outputs.
        target: ``[n]`` class ids (``loss='ce'``) or ``[n, C]`` 0/1 labels, NaN = unlabeled (``loss='bce'``).
        loss: ``'ce'`` (softmax cross-entropy) or ``'bce'`` (mean binary cross-entropy with logits).
    """
    check_tensor(logits, "logits", dims=(2,), floating=True)
    z = logits.detach()
    if loss == "ce":
        y = target.view(-1).long()
        if y.numel() != z.size(0):
            raise ValueError(f"target has {y.numel()} labels for {z.size(0)} rows of logits")
        delta = torch.softmax(z, dim=-1)
        delta[torch.arange(z.size(0), device=z.device), y] -= 1.0
        return delta
    if loss == "bce":
        if target.shape != z.shape:
            raise ValueError(f"multi-label target must have the shape of logits {list(z.shape)}, "
                             f"got {list(target.shape)}")
        t = target.to(z.dtype)
        labeled = ~torch.isnan(t)
        count = labeled.sum(dim=1, keepdim=True).clamp(min=1).to(z.dtype)
        return torch.where(labeled, torch.sigmoid(z) - torch.nan_to_num(t), torch.zeros_like(z)) / count
    raise ValueError(f"loss must be 'ce' or 'bce', got {loss!r}")


def output_gradient_norms(
    logits: Tensor,
    target: Tensor,
    last_input: Tensor,
    loss: str = "ce",
    bias: bool = True,
) -> Tensor:
    r"""Norms :math:`\|\nabla_{(W,b)} \ell_i\|` of every node's loss w.r.t. the output layer (``[n]``).

    Args:
        logits: ``[n, C]`` outputs :math:`z_i = W^\top a_i + b`.
        target: labels (see :func:`output_loss_gradient`).
        last_input: ``[n, F]`` the inputs :math:`a_i` of the output linear map
            (for a GCN layer, the aggregated :math:`(\hat A H)_i`).
        loss: ``'ce'`` or ``'bce'``.
        bias: whether the output layer has a bias.
    """
    check_tensor(last_input, "last_input", dims=(2,), floating=True)
    if last_input.size(0) != logits.size(0):
        raise ValueError(f"last_input has {last_input.size(0)} rows but logits has {logits.size(0)}")
    delta = output_loss_gradient(logits, target, loss)
    sq = last_input.detach().to(delta.dtype).pow(2).sum(dim=1)
    if bias:
        sq = sq + 1.0
    return delta.norm(dim=1) * sq.sqrt()
