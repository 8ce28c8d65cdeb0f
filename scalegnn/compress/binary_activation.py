r"""Binary node features with per-node scales, after an optional batch normalization.

Bi-GCN (`"Bi-GCN: Binary Graph Convolutional Network"
<https://arxiv.org/abs/2010.07565>`_, Wang et al., CVPR 2021) binarizes the
input of every layer as

.. math::
    \tilde x_{ic} = \beta_i \,\mathrm{sign}(\hat x_{ic}), \qquad
    \beta_i = \tfrac{1}{C} \textstyle\sum_c |\hat x_{ic}|,

one scale :math:`\beta_i` per node, where :math:`\hat x` is

* ``normalize='batch'``: the features after a batch normalization without affine
  terms, :math:`\hat x_{ic} = (x_{ic} - \mu_c)/\sigma_c` with the per-channel
  mean and deviation of the batch in training and their moving averages at
  inference (Bi-GCN normalizes the raw node features this way);
* ``normalize='none'``: the features themselves (Bi-GCN's hidden layers).

The backward pass is Bi-GCN's straight-through estimator:
:math:`\partial \tilde x_{ic} / \partial \hat x_{ic} := \mathbf 1_{|\hat x_{ic}| \le 1}`
(the scale is treated as a constant), and with ``normalize='batch'`` the
gradient continues through the normalization as in batch normalization.
``sign(0)`` is ``+1``, so every output is exactly :math:`\pm\beta_i`.

``instance_aware=True`` follows INSTA-BNN (`"INSTA-BNN: Binary Neural Network
with INSTAnce-aware Threshold" <https://arxiv.org/abs/2204.07439>`_, Lee et
al., ICCV 2023): each node's threshold moves with the difference between its
own feature statistics and the batch's,

.. math::
    \hat x_{ic} = (x_{ic} - \tau_{ic}) / \sigma_c, \qquad
    \tau_{ic} = \mu_c + a\,(m_i - \bar m) + b\,(s_i - \bar s),

where :math:`m_i, s_i` are the mean and standard deviation of node :math:`i`'s
features, :math:`\bar m, \bar s` their batch averages (moving averages at
inference) and :math:`a, b` are learned (initialized to 0, i.e. Bi-GCN).

At inference the statistics are used as an exported model stores them: the
thresholds :math:`\mu_c` as 8-bit affine codes over their range, and the
deviations as 4-bit affine codes of :math:`\log \sigma_c` (they change only the
per-node scales :math:`\beta_i`, never a sign; a relative error of at most
:math:`e^{\pm r/30}`, :math:`r` the range of :math:`\log \sigma`), so a binarized
Cora layer stores 1.5 bytes per input channel.

With ``quantize_statistics=True`` (the default) training uses the batch
statistics coded the same way (8-bit means, 4-bit log-deviations over the
batch's own range; straight-through gradient), so the model trains with the
per-node scales it will have at inference: with full-batch training, where the
moving averages equal the batch statistics, the training and inference outputs
are identical (before dropout). Trained on exact statistics instead, a GCN on
Cora sees its per-node scales :math:`\beta_i` move by several percent at
inference, and loses 1-5 points of accuracy.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import Tensor

from scalegnn.compress.fake_quant import affine_codes, affine_decode

__all__ = ["BinaryActivation", "scaled_sign", "NORMALIZATIONS", "STD_BITS"]

NORMALIZATIONS = ("batch", "none")
STD_BITS = 4  # log-deviations: they only set the per-node scales, not the signs
_EPS = 1e-5


class _ScaledSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        beta = x.abs().mean(1, keepdim=True)
        return torch.where(x >= 0, beta, -beta)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def scaled_sign(x: Tensor) -> Tensor:
    r"""``beta_i * sign(x_ic)`` with ``beta_i = mean_c |x_ic|``; backward ``1_{|x| <= 1}`` (Bi-GCN)."""
    return _ScaledSign.apply(x)


class _TakeValue(torch.autograd.Function):
    """``value`` in the forward pass, the gradient of ``x`` passed straight through."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, value: Tensor) -> Tensor:
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor, None]:
        return grad, None


def _as_stored(x: Tensor, value: Tensor) -> Tensor:
    return _TakeValue.apply(x, value) if x.requires_grad else value


class BinaryActivation(torch.nn.Module):
    """``x -> beta * sign(x_hat)`` per node (see the module docstring).

    Args:
        channels: number of feature channels.
        normalize: ``'batch'`` (per-channel batch normalization first) or ``'none'``.
        instance_aware: INSTA-style per-node thresholds.
        momentum: moving-average momentum of the statistics.
        quantize_statistics: train with the batch statistics coded as inference stores them.
    """

    def __init__(self, channels: int, instance_aware: bool = False, momentum: float = 0.1,
                 normalize: str = "batch", quantize_statistics: bool = True) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        self.channels, self.instance_aware, self.momentum = channels, instance_aware, momentum
        self.normalize, self.quantize_statistics = normalize, bool(quantize_statistics)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_std", torch.ones(channels))
        self.register_buffer("running_node_mean", torch.zeros(()))
        self.register_buffer("running_node_std", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        if instance_aware:
            self.a = torch.nn.Parameter(torch.zeros(()))
            self.b = torch.nn.Parameter(torch.zeros(()))
        self.frozen_threshold: Optional[Tensor] = None
        self.frozen_std: Optional[Tensor] = None
        self._cache: dict = {}

    # ------------------------------------------------------------ stored statistics
    @property
    def uses_statistics(self) -> bool:
        """Whether inference needs the stored per-channel statistics."""
        return self.normalize == "batch" or self.instance_aware

    def threshold_codes(self) -> Tuple[Tensor, Tensor, Tensor]:
        """``(uint8 codes, low, scale)`` of the inference thresholds :math:`\\mu_c`."""
        return affine_codes(self.running_mean, 8)

    def std_codes(self) -> Tuple[Tensor, Tensor, Tensor]:
        """``(codes in 0..15, low, scale)``: 4-bit affine codes of :math:`\\log \\sigma_c`."""
        return affine_codes(self.running_std.clamp_min(_EPS).log(), STD_BITS)

    def inference_threshold(self) -> Tensor:
        if self.frozen_threshold is not None:
            return self.frozen_threshold
        return affine_decode(*self.threshold_codes())

    def inference_std(self) -> Tensor:
        if self.frozen_std is not None:
            return self.frozen_std
        return affine_decode(*self.std_codes()).exp()

    def stored_statistics(self) -> Tuple[str, ...]:
        """Names of the buffers inference reads (an exported model keeps only these)."""
        names = ("running_mean",) if self.uses_statistics else ()
        names += ("running_std",) if self.normalize == "batch" else ()
        return names + (("running_node_mean", "running_node_std") if self.instance_aware else ())

    def freeze_statistic(self, name: str, value: Tensor) -> None:
        """Use ``value`` (decoded from an export) as the inference statistic ``name``."""
        if name == "running_mean":
            self.frozen_threshold = value
        elif name == "running_std":
            self.frozen_std = value
        else:
            raise ValueError(f"no 8-bit statistic {name!r}")

    # ------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.size(1) != self.channels:
            raise ValueError(f"binary activations expect [num_nodes, {self.channels}] features, got {tuple(x.shape)}")
        if x.requires_grad or self.instance_aware:
            return self._binarize(x)
        # raw node features (no gradient) are usually the same tensor at every step: binarize once
        # per mode (training / inference); identity plus version means the same values
        key = (x._version, self.running_mean._version, self.running_std._version, id(self.frozen_threshold),
               id(self.frozen_std))
        hit = self._cache.get(self.training)
        if hit is not None and hit[0] is x and hit[1] == key:
            return hit[2]
        out = self._binarize(x)
        key = (x._version, self.running_mean._version, self.running_std._version, id(self.frozen_threshold),
               id(self.frozen_std))
        self._cache[self.training] = (x, key, out)
        return out

    def _update(self, buf: Tensor, value: Tensor) -> None:
        m = self.momentum if bool(self.initialized) else 1.0
        if not torch.equal(buf, value):
            buf.mul_(1 - m).add_(m * value)

    def _binarize(self, x: Tensor) -> Tensor:
        node_mean = node_std = None
        if self.instance_aware:
            node_mean, node_std = x.mean(1, keepdim=True), x.std(1, keepdim=True, unbiased=False)
        batch = self.normalize == "batch"
        if self.training:
            mu = x.mean(0) if batch or self.instance_aware else None
            sigma = x.std(0, unbiased=False).clamp_min(_EPS) if batch else None
            with torch.no_grad():
                if mu is not None:
                    self._update(self.running_mean, mu.detach())
                if sigma is not None:
                    self._update(self.running_std, sigma.detach())
                if self.instance_aware:
                    self._update(self.running_node_mean, node_mean.detach().mean())
                    self._update(self.running_node_std, node_std.detach().mean())
                self.initialized.fill_(True)
            ref_mean, ref_std = (node_mean.mean(), node_std.mean()) if self.instance_aware else (None, None)
            if self.quantize_statistics:  # as inference will see them (inference_threshold / inference_std)
                if mu is not None:
                    mu = _as_stored(mu, affine_decode(*affine_codes(mu, 8)))
                if sigma is not None:
                    sigma = _as_stored(sigma, affine_decode(*affine_codes(sigma.detach().clamp_min(_EPS).log(),
                                                                          STD_BITS)).exp())
        else:
            mu = self.inference_threshold().to(x.dtype) if batch or self.instance_aware else None
            sigma = self.inference_std().to(x.dtype) if batch else None
            ref_mean, ref_std = self.running_node_mean, self.running_node_std
        centered = x if mu is None else x - mu.view(1, -1)
        if self.instance_aware:
            centered = centered - self.a * (node_mean - ref_mean) - self.b * (node_std - ref_std)
        x_hat = centered / sigma.view(1, -1) if sigma is not None else centered
        return scaled_sign(x_hat)

    def extra_repr(self) -> str:
        return (f"{self.channels}, normalize={self.normalize!r}, instance_aware={self.instance_aware}, "
                f"quantize_statistics={self.quantize_statistics}")
