"""Minimal-variance probabilities against a brute-force solution; the sampler's weights; bad input."""
import math

import pytest
import torch

from scalegnn.sampling import MVSampler, minimal_variance_probs, poisson_sample


def brute_force_probs(scores, b, iters=200):
    """p_i = min(1, s_i / mu) with mu found by bisection on the monotone budget sum_i min(1, s_i/mu) = b."""
    s = [float(v) for v in scores]
    lo, hi = 1e-12 * max(s), sum(s) / b  # sum(min(1, s/hi)) <= b at hi = sum/b; > b at lo unless b = n
    for _ in range(iters):
        mid = math.sqrt(lo * hi)
        total = sum(min(1.0, v / mid) for v in s)
        if total > b:
            lo = mid
        else:
            hi = mid
    return torch.tensor([min(1.0, v / hi) for v in s], dtype=torch.float64)


def variance(scores, p):
    """sum_i (1 - p_i) / p_i s_i^2: the Poisson-sampling variance the probabilities minimize."""
    s = scores.double()
    keep = s > 0
    return float(((1 - p[keep]) / p[keep] * s[keep] ** 2).sum())


CASES = {
    "uniform": (torch.ones(10), 3),
    "ties": (torch.tensor([3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0]), 4),
    "zeros": (torch.tensor([0.0, 2.0, 0.0, 1.0, 5.0, 0.0, 0.5]), 3),
    "skewed, many p=1": (torch.tensor([1e6, 1e5, 1e4, 1e3, 100.0, 1.0, 1.0, 1.0, 1.0, 1.0]), 6),
    "tie at the cap": (torch.tensor([4.0, 2.0, 2.0, 1.0, 1.0]), 3),
    "random": (torch.rand(200, generator=torch.Generator().manual_seed(0)) ** 4, 37),
    "heavy tail": (torch.distributions.Pareto(1.0, 0.7).sample((300,)), 50),
    "b = n": (torch.rand(8) + 0.1, 8),
    "b = 1": (torch.rand(50, generator=torch.Generator().manual_seed(1)), 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_probs_match_brute_force(name):
    torch.manual_seed(0)
    scores, b = CASES[name]
    p = minimal_variance_probs(scores, b)
    assert p.dtype == scores.dtype and p.shape == scores.shape
    ref = brute_force_probs(scores, b)
    assert torch.allclose(p.double(), ref, rtol=1e-5, atol=1e-6), (p, ref)
    assert abs(float(p.double().sum()) - b) < 1e-4
    assert float(p.min()) >= 0 and float(p.max()) <= 1 + 1e-7
    assert torch.all(p[scores == 0] == 0)


def test_probs_are_variance_minimal():
    """No feasible perturbation (same budget, within [0, 1]) lowers the variance."""
    g = torch.Generator().manual_seed(3)
    scores = torch.rand(40, generator=g, dtype=torch.float64) ** 3 * 10
    p = minimal_variance_probs(scores, 12)
    best = variance(scores, p)
    assert (p == 1).any() and (p < 1).any()  # the cap is active: the non-trivial case
    uniform = torch.full_like(p, 12 / 40)
    assert variance(scores, uniform) > best * 1.5
    for _ in range(200):
        d = torch.randn(40, generator=g, dtype=torch.float64) * 0.02
        d -= d.mean()
        q = p + d
        if float(q.min()) <= 0 or float(q.max()) > 1:
            continue
        assert variance(scores, q) >= best - 1e-9


def test_probs_integer_scores_and_scale_invariance():
    s = torch.tensor([5, 1, 1, 1, 0])
    p = minimal_variance_probs(s, 3)
    assert p.dtype == torch.float32
    assert torch.allclose(p, torch.tensor([1.0, 2 / 3, 2 / 3, 2 / 3, 0.0]))
    assert torch.allclose(minimal_variance_probs(s.double() * 1e-8, 3).float(), p)


@pytest.mark.parametrize("scores, b, err, match", [
    (torch.ones(5), 0, ValueError, "batch_size"),
    (torch.ones(5), -2, ValueError, "batch_size"),
    (torch.ones(5), 6, ValueError, "larger than the number of nodes"),
    (torch.ones(5), 2.0, TypeError, "batch_size"),
    (torch.tensor([1.0, float("nan"), 1.0]), 1, ValueError, "NaN"),
    (torch.tensor([1.0, float("inf"), 1.0]), 1, ValueError, "inf"),
    (torch.tensor([1.0, -0.5, 1.0]), 1, ValueError, ">= 0"),
    (torch.zeros(5), 2, ValueError, "all scores are zero"),
    (torch.tensor([0.0, 1.0, 0.0, 2.0]), 3, ValueError, "only 2 of 4 scores are non-zero"),
    (torch.ones(2, 3), 1, ValueError, "1-D"),
    (torch.tensor([], dtype=torch.float32), 1, ValueError, "empty"),
    (torch.tensor([True, False]), 1, TypeError, "real-valued"),
    ([1.0, 2.0], 1, TypeError, "torch.Tensor"),
])
def test_probs_bad_input(scores, b, err, match):
    with pytest.raises(err, match=match):
        minimal_variance_probs(scores, b)


def test_poisson_sample_inclusion_frequencies():
    p = torch.tensor([1.0, 0.5, 0.1, 0.0, 0.9], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(5)
    reps = 4000
    for _ in range(reps):
        counts[poisson_sample(p, g)] += 1
    freq = counts / reps
    tol = 5 * torch.sqrt(p * (1 - p) / reps).float() + 1e-9
    assert torch.all((freq - p.float()).abs() <= tol), freq


def test_sampler_weights_make_the_mean_unbiased():
    """sum_{i in S} v_i / (n p_i) averages to mean(v), with the variance the formula predicts."""
    g = torch.Generator().manual_seed(0)
    train = torch.arange(100, 160)
    v = torch.rand(60, generator=g, dtype=torch.float64) ** 2
    sampler = MVSampler(train, batch_size=10, score_floor=0.0, generator=g)
    sampler.update_scores(v)
    p = sampler.probs
    reps = 6000
    est = torch.empty(reps, dtype=torch.float64)
    for r in range(reps):
        ids, w = sampler.sample()
        est[r] = (w.double() * v[ids - 100]).sum()
    predicted_var = float(((1 - p) / p * v ** 2).sum()) / 60 ** 2
    assert abs(float(est.mean()) - float(v.mean())) < 4 * math.sqrt(predicted_var / reps)
    assert float(est.var()) == pytest.approx(predicted_var, rel=0.1)


def test_sampler_floor_uniform_and_zero_scores():
    train = torch.arange(20)
    s = torch.zeros(20)
    s[0] = 1.0
    floored = MVSampler(train, 5, score_floor=0.1)
    p = floored.update_scores(s)
    assert float(p.min()) > 0 and abs(float(p.sum()) - 5) < 1e-6 and float(p[0]) == 1.0
    uniform = MVSampler(train, 5, mode="uniform")
    assert torch.allclose(uniform.update_scores(s), torch.full((20,), 0.25, dtype=torch.float64))
    strict = MVSampler(train, 5, score_floor=0.0)
    with pytest.warns(RuntimeWarning, match="all node scores are zero"):
        p = strict.update_scores(torch.zeros(20))
    assert torch.allclose(p, torch.full((20,), 0.25, dtype=torch.float64))


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(train_ids=torch.arange(5), batch_size=6), ValueError, "larger than the training set"),
    (dict(train_ids=torch.arange(5), batch_size=0), ValueError, "batch_size"),
    (dict(train_ids=torch.tensor([1, 1, 2]), batch_size=1), ValueError, "repeated"),
    (dict(train_ids=torch.tensor([], dtype=torch.long), batch_size=1), ValueError, "empty"),
    (dict(train_ids=torch.arange(5), batch_size=2, mode="importance"), ValueError, "mode"),
    (dict(train_ids=torch.arange(5), batch_size=2, score_floor=-1.0), ValueError, "score_floor"),
    (dict(train_ids=torch.arange(5).float(), batch_size=2), ValueError, "integer dtype"),
])
def test_sampler_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        MVSampler(**kwargs)


def test_sampler_rejects_misaligned_scores():
    sampler = MVSampler(torch.arange(5), 2)
    with pytest.raises(ValueError, match="5 training nodes"):
        sampler.update_scores(torch.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        sampler.update_scores(torch.tensor([1.0, float("nan"), 1.0, 1.0, 1.0]))
