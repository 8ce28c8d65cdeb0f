r"""Minimal-variance node sampling: the inclusion probabilities and the sampler.

Cong, Forsati, Kandemir and Mahdavi, "Minimal Variance Sampling with Provable
Guarantees for Fast Training of Graph Neural Networks" (KDD 2020,
https://arxiv.org/abs/2006.13866).

Each training node :math:`i` enters the mini-batch independently with
probability :math:`p_i` (Poisson sampling), and the full-batch mean
:math:`\frac{1}{n}\sum_i g_i` of per-node gradients is estimated without bias by

.. math::
    \hat g = \sum_{i \in S} \frac{g_i}{n\, p_i}, \qquad
    \mathbb{E}\,\|\hat g - \bar g\|^2 = \frac{1}{n^2} \sum_i \frac{1 - p_i}{p_i}\,\|g_i\|^2 .

Under the budget :math:`\sum_i p_i = B` (expected batch size) and
:math:`0 \le p_i \le 1`, the variance is minimized (Lagrange / KKT) by

.. math::
    p_i = \min\!\Big(1, \frac{s_i}{\mu}\Big), \qquad s_i = \|g_i\|,

with :math:`\mu > 0` the unique value that makes :math:`\sum_i p_i = B`. The
nodes with the largest scores are taken with certainty, the rest in proportion
to their score. :func:`minimal_variance_probs` computes it exactly after one
sort: if the :math:`k` largest scores are capped,
:math:`\mu = \sum_{j > k} s_{(j)} / (B - k)`, and :math:`k` is the smallest
count for which :math:`s_{(k+1)} \le \mu` (a cumulative sum tests every
:math:`k` at once).

:class:`MVSampler` holds the scores of the training nodes (refreshed from the
model, see :func:`scalegnn.sampling.output_gradient_norms`), draws Poisson
samples and returns the :math:`1/(n p_i)` loss weights.
"""
from __future__ import annotations

import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor

from scalegnn.data.validate import check_float, check_int, check_tensor

__all__ = ["minimal_variance_probs", "poisson_sample", "MVSampler"]


def _check_scores(scores: Tensor) -> Tensor:
    check_tensor(scores, "scores", dims=(1,))
    if scores.dtype == torch.bool or torch.is_complex(scores):
        raise TypeError(f"scores must be a real-valued tensor, got dtype {scores.dtype}")
    if scores.numel() == 0:
        raise ValueError("scores is empty: there are no nodes to sample from")
    s = scores.detach().to(torch.float64)
    if bool(torch.isnan(s).any()):
        first = int(torch.isnan(s).nonzero()[0])
        raise ValueError(f"scores contains NaN (first at index {first}); scores must be finite and >= 0")
    if bool(torch.isinf(s).any()):
        first = int(torch.isinf(s).nonzero()[0])
        raise ValueError(f"scores contains inf (first at index {first}); scores must be finite and >= 0")
    if bool((s < 0).any()):
        first = int((s < 0).nonzero()[0])
        raise ValueError(f"scores must be >= 0, got {float(s[first])} at index {first}")
    return s


def minimal_variance_probs(scores: Tensor, batch_size: int) -> Tensor:
    r"""Inclusion probabilities :math:`p_i = \min(1, s_i/\mu)` with :math:`\sum_i p_i` = ``batch_size``.

    The variance-minimizing distribution of Poisson (independent) sampling with
    expected batch size ``batch_size`` for estimating :math:`\sum_i g_i` when
    :math:`s_i = \|g_i\|` (see the module docstring). Exact up to float64
    rounding, vectorized (one sort, one cumulative sum), so ties, zeros and
    scores so skewed that many nodes get :math:`p_i = 1` need no special case.

    Args:
        scores (Tensor): ``[n]`` non-negative finite scores (any real dtype).
        batch_size (int): the expected batch size :math:`B`,
            ``1 <= B <= (number of non-zero scores)``.

    Returns:
        ``[n]`` probabilities in ``[0, 1]`` (the dtype of ``scores`` if floating,
        else ``float32``) summing to ``batch_size``. Nodes with score 0 get 0:
        under this distribution they are never sampled, which is unbiased only if
        their gradient really is 0 (mix in a floor, as :class:`MVSampler` does,
        when scores are stale or approximate). ``batch_size == n`` gives all ones.

    Raises:
        TypeError: ``scores`` is not a 1-D real tensor, ``batch_size`` not an int.
        ValueError: NaN, inf or negative scores, ``batch_size < 1`` or larger than
            the number of nodes, or fewer non-zero scores than ``batch_size``
            (all-zero scores included): no :math:`\mu` meets the budget then.
    """
    s = _check_scores(scores)
    n = s.numel()
    b = check_int(batch_size, "batch_size", min_value=1)
    if b > n:
        raise ValueError(f"batch_size={b} is larger than the number of nodes to sample from ({n})")
    nonzero = int((s > 0).sum())
    if nonzero < b:
        what = "all scores are zero" if nonzero == 0 else f"only {nonzero} of {n} scores are non-zero"
        raise ValueError(
            f"batch_size={b} cannot be met: {what}, and nodes with score 0 get probability 0; "
            f"lower batch_size or add a floor to the scores (MVSampler(score_floor=...))")
    out_dtype = scores.dtype if torch.is_floating_point(scores) else torch.float32
    if b == n:
        return torch.ones(n, dtype=out_dtype, device=scores.device)
    sorted_s, order = torch.sort(s, descending=True)
    # tail[k] = sum of the scores after the k largest, k = 0..b-1.
    total = sorted_s.sum()
    head = torch.cat([sorted_s.new_zeros(1), torch.cumsum(sorted_s, 0)[: b - 1]])
    tail = total - head
    k_range = torch.arange(b, dtype=torch.float64, device=s.device)
    # Capping the k largest is consistent iff s_(k+1) <= mu_k = tail[k] / (b - k); the first such k is
    # the solution (for smaller k the condition fails, see the module docstring), and k = b - 1 always holds.
    # A relative slack absorbs the rounding of the cumulative sum on exact ties.
    ok = sorted_s[:b] * (b - k_range) <= tail * (1 + 1e-12)
    k = int(torch.nonzero(ok)[0])
    mu = tail[k] / (b - k)
    p_sorted = torch.clamp(sorted_s / mu, max=1.0)
    p_sorted[:k] = 1.0
    p = torch.empty_like(p_sorted)
    p[order] = p_sorted
    return p.to(out_dtype)


def poisson_sample(probs: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Positions ``i`` drawn independently with probability ``probs[i]`` (ascending ``int64``)."""
    check_tensor(probs, "probs", dims=(1,), floating=True)
    u = torch.rand(probs.shape, generator=generator, dtype=torch.float64, device=probs.device)
    return torch.nonzero(u < probs.to(torch.float64)).view(-1)


class MVSampler:
    r"""Draws training nodes with minimal-variance probabilities and gives their loss weights.

    From Cong et al., "Minimal Variance Sampling with Provable Guarantees for
    Fast Training of Graph Neural Networks" (KDD 2020). Every call to
    :meth:`sample` draws a Poisson sample :math:`S` of the ``train_ids`` with
    inclusion probabilities

    .. math::
        p = \texttt{minimal\_variance\_probs}(s + \epsilon\,\bar s,\; B),

    where :math:`s` are the current scores (per-node gradient norms, refreshed
    by :meth:`update_scores`), :math:`\bar s` their mean and :math:`\epsilon` =
    ``score_floor``. The floor keeps every probability positive, so the
    estimator stays unbiased when scores are stale (taken at an earlier
    snapshot) or approximate (the output layer's gradient only), and bounds
    the weights :math:`1/(n p_i)`. The returned weights make
    :math:`\sum_{i \in S} w_i \ell_i` an unbiased estimate of the mean training
    loss :math:`\frac1n \sum_i \ell_i`, and likewise for its gradient.

    Before the first :meth:`update_scores` (or with ``mode='uniform'``) all
    scores are equal, i.e. uniform Poisson sampling with :math:`p_i = B/n`.

    Args:
        train_ids (Tensor): ``[n]`` node ids to sample from (distinct).
        batch_size (int): expected number of sampled nodes :math:`B`, ``1 <= B <= n``.
        mode (str): ``'mvs'`` (use the scores) or ``'uniform'`` (ignore them).
            (default: ``'mvs'``)
        score_floor (float): :math:`\epsilon \ge 0` above. (default: ``0.1``)
        generator (torch.Generator, optional): source of randomness.

    If every score is 0 (a model that fits every training node exactly) and
    ``score_floor`` cannot help, the sampler falls back to uniform
    probabilities with a ``RuntimeWarning`` rather than failing mid-training.
    """

    def __init__(
        self,
        train_ids: Tensor,
        batch_size: int,
        mode: str = "mvs",
        score_floor: float = 0.1,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        check_tensor(train_ids, "train_ids", dims=(1,), integer=True)
        n = train_ids.numel()
        if n == 0:
            raise ValueError("train_ids is empty: there are no training nodes to sample")
        if torch.unique(train_ids).numel() != n:
            raise ValueError("train_ids contains repeated node ids")
        self.batch_size = check_int(batch_size, "batch_size", min_value=1)
        if self.batch_size > n:
            raise ValueError(f"batch_size={self.batch_size} is larger than the training set ({n} nodes)")
        if mode not in ("mvs", "uniform"):
            raise ValueError(f"mode must be 'mvs' or 'uniform', got {mode!r}")
        self.mode = mode
        self.score_floor = check_float(score_floor, "score_floor", min_value=0.0)
        self.train_ids = train_ids.to(torch.long)
        self.generator = generator
        self.scores: Optional[Tensor] = None
        self.probs = torch.full((n,), self.batch_size / n, dtype=torch.float64)
        self.last_positions = torch.zeros(0, dtype=torch.long)  # positions (in train_ids) of the last sample

    @property
    def num_train(self) -> int:
        return self.train_ids.numel()

    def update_scores(self, scores: Tensor) -> Tensor:
        """Set the per-node scores (aligned with ``train_ids``) and recompute the probabilities."""
        s = _check_scores(scores)
        if s.numel() != self.num_train:
            raise ValueError(f"scores has {s.numel()} entries but the sampler has {self.num_train} training nodes")
        self.scores = s.cpu()
        return self._recompute()

    def refresh(self, positions: Tensor, scores: Tensor) -> Tensor:
        """Replace the scores at ``positions`` (indices into ``train_ids``, e.g. :attr:`last_positions`).

        Used to refresh the scores of the nodes of each mini-batch from that batch's own forward pass
        (free: the closed-form gradient norms need only the batch's outputs), so the nodes MVS samples
        most often, whose scores change fastest as they get fit, do not wait for the next snapshot.
        Returns the new probabilities. Before any :meth:`update_scores` it does nothing.
        """
        check_tensor(positions, "positions", dims=(1,), integer=True)
        s = _check_scores(scores)
        if s.numel() != positions.numel():
            raise ValueError(f"{positions.numel()} positions but {s.numel()} scores")
        if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= self.num_train):
            raise ValueError(f"positions must index the {self.num_train} training nodes")
        if self.scores is None:
            return self.probs
        self.scores[positions.cpu().long()] = s.cpu()
        return self._recompute()

    def _recompute(self) -> Tensor:
        if self.mode == "uniform":
            return self.probs
        floored = self.scores + self.score_floor * self.scores.mean()
        if int((floored > 0).sum()) < self.batch_size:
            warnings.warn("all node scores are zero: sampling uniformly until the next score update",
                          RuntimeWarning, stacklevel=2)
            self.probs = torch.full((self.num_train,), self.batch_size / self.num_train, dtype=torch.float64)
        else:
            self.probs = minimal_variance_probs(floored, self.batch_size)
        return self.probs

    def sample(self) -> Tuple[Tensor, Tensor]:
        """One Poisson sample: ``(node_ids, loss_weight)`` with ``loss_weight = 1 / (n p_i)``.

        The sample may be empty (probability :math:`\\prod_i (1 - p_i)`); an empty
        sample is a valid draw of the unbiased estimator (its estimate is 0).
        """
        pos = poisson_sample(self.probs, self.generator)
        self.last_positions = pos
        weight = 1.0 / (self.num_train * self.probs[pos])
        return self.train_ids[pos], weight.to(torch.float32)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_train={self.num_train}, batch_size={self.batch_size}, "
                f"mode={self.mode!r}, score_floor={self.score_floor})")
