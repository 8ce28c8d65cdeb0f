r"""Binary node features with per-node scales and (optionally instance-aware) thresholds.

Bi-GCN (`"Bi-GCN: Binary Graph Convolutional Network"
<https://arxiv.org/abs/2010.07565>`_, Wang et al., CVPR 2021) binarizes the
input of every layer after a batch normalization without affine terms, with
one scale per node; since :math:`\mathrm{sign}((x - \mu)/\sigma) = \mathrm{sign}(x - \mu)`
that is

.. math::
    \tilde x_{ic} = \beta_i \,\mathrm{sign}(x_{ic} - \tau_{ic}), \qquad
    \beta_i = \frac{1}{r}\,\tfrac{1}{C} \textstyle\sum_c |x_{ic} - \tau_{ic}|,

with :math:`\tau_{ic} = \mu_c`, the per-channel mean (of the batch in training,
a moving average at inference). Bi-GCN's normalization also divides by the
per-channel deviation :math:`\sigma_c`, which changes only the scales
:math:`\beta_i`; here one scalar :math:`r` (the mean of the unnormalized
:math:`\beta_i`, a moving average at inference) brings them to mean 1 instead,
so an exported layer stores no per-channel deviations. The sign's straight-through gradient is the
one of batch normalization followed by sign: :math:`\mathbf 1_{|x - \mu| \le \sigma}/\sigma`.

``instance_aware=True`` follows INSTA-BNN (`"INSTA-BNN: Binary Neural Network
with INSTAnce-aware Threshold" <https://arxiv.org/abs/2204.07439>`_, Lee et
al., ICCV 2023): each node's threshold moves with the difference between its
own feature statistics and the batch's,

.. math::
    \tau_{ic} = \mu_c + a\,(m_i - \bar m) + b\,(s_i - \bar s),

where :math:`m_i, s_i` are the mean and standard deviation of node :math:`i`'s
features, :math:`\bar m, \bar s` their batch averages (moving averages at
inference) and :math:`a, b` are learned (initialized to 0, i.e. Bi-GCN).

At inference the thresholds :math:`\mu_c` are used as stored in 8 bits
(affine codes over their range), the form an exported model keeps.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from scalegnn.compress.fake_quant import affine_codes, affine_decode
from scalegnn.compress.ste import sign_ste

__all__ = ["BinaryActivation"]


class BinaryActivation(torch.nn.Module):
    """``x -> beta * sign(x - tau)`` per node (see the module docstring).

    Args:
        channels: number of feature channels.
        instance_aware: INSTA-style per-node thresholds.
        momentum: moving-average momentum of the statistics.
    """

    def __init__(self, channels: int, instance_aware: bool = False, momentum: float = 0.1) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels, self.instance_aware, self.momentum = channels, instance_aware, momentum
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_scale", torch.ones(()))
        self.register_buffer("running_node_mean", torch.zeros(()))
        self.register_buffer("running_node_std", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        if instance_aware:
            self.a = torch.nn.Parameter(torch.zeros(()))
            self.b = torch.nn.Parameter(torch.zeros(()))
        self.frozen_threshold: Optional[Tensor] = None
        self._cache: dict = {}
        self.running_scale_set = False

    def threshold_codes(self) -> tuple:
        """``(uint8 codes, low, scale)`` of the inference thresholds."""
        return affine_codes(self.running_mean, 8)

    def inference_threshold(self) -> Tensor:
        if self.frozen_threshold is not None:
            return self.frozen_threshold
        return affine_decode(*self.threshold_codes())

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.size(1) != self.channels:
            raise ValueError(f"binary activations expect [num_nodes, {self.channels}] features, got {tuple(x.shape)}")
        if x.requires_grad or self.instance_aware:
            return self._binarize(x)
        # raw node features (no gradient) are usually the same tensor at every step: binarize once
        # one cache entry per mode (training / inference), each holding x itself, so identity
        # plus version means the same values
        key = (x._version, self.running_mean._version, id(self.frozen_threshold))
        hit = self._cache.get(self.training)
        if hit is not None and hit[0] is x and hit[1] == key:
            return hit[2]
        out = self._binarize(x)
        key = (x._version, self.running_mean._version, id(self.frozen_threshold))
        self._cache[self.training] = (x, key, out)
        return out

    def _binarize(self, x: Tensor) -> Tensor:
        node_mean = node_std = None
        if self.instance_aware:
            node_mean, node_std = x.mean(1, keepdim=True), x.std(1, keepdim=True, unbiased=False)
        if self.training:
            mu = x.mean(0)
            sigma = x.detach().std(0, unbiased=False).clamp_min(1e-5)
            with torch.no_grad():
                m = self.momentum if bool(self.initialized) else 1.0
                if not torch.equal(self.running_mean, mu.detach()):
                    self.running_mean.mul_(1 - m).add_(m * mu.detach())
                if self.instance_aware:
                    self.running_node_mean.mul_(1 - m).add_(m * node_mean.detach().mean())
                    self.running_node_std.mul_(1 - m).add_(m * node_std.detach().mean())
                self.initialized.fill_(True)
            tau = mu.detach()
            ref_mean, ref_std = (node_mean.mean(), node_std.mean()) if self.instance_aware else (None, None)
        else:
            tau = self.inference_threshold().to(x.dtype)
            sigma = None
            ref_mean, ref_std = self.running_node_mean, self.running_node_std
        tau = tau.view(1, -1)
        if self.instance_aware:
            tau = tau + self.a * (node_mean - ref_mean) + self.b * (node_std - ref_std)
        centered = x - tau
        beta = centered.abs().mean(1, keepdim=True)
        if self.training:
            r = beta.detach().mean().clamp_min(1e-12)
            with torch.no_grad():
                if not torch.equal(self.running_scale, r):
                    m = self.momentum if self.running_scale_set else 1.0
                    self.running_scale.mul_(1 - m).add_(m * r)
                self.running_scale_set = True
        else:
            r = self.running_scale.to(x.dtype)
        beta = beta / r
        signs = sign_ste(centered / sigma) if sigma is not None else sign_ste(centered)
        return beta * signs

    def extra_repr(self) -> str:
        return f"{self.channels}, instance_aware={self.instance_aware}"
