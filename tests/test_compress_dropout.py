"""fast_dropout: exact zeros, exact inverted scaling, the requested drop rate, gradients through kept entries."""
import pytest
import torch

from scalegnn.compress.fast_dropout import fast_dropout, keep_threshold


@pytest.mark.parametrize("p", [0.1, 0.4, 0.5, 0.9])
def test_fast_dropout_drops_at_the_requested_rate_and_rescales_exactly(p):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(500, 301, dtype=torch.float64) + 0.5  # no zeros of its own; odd size (not a multiple of 4)
    y = fast_dropout(x, p, generator=g)
    kept = y != 0
    keep_prob = keep_threshold(p) / 2 ** 16
    assert abs(keep_prob - (1 - p)) <= 2 ** -17
    n = x.numel()
    # binomial count within 5 standard deviations
    assert abs(kept.sum().item() - keep_prob * n) < 5 * (n * keep_prob * (1 - keep_prob)) ** 0.5
    torch.testing.assert_close(y[kept], x[kept] / keep_prob, rtol=1e-15, atol=0)


def test_fast_dropout_masks_differ_between_calls_and_pass_gradients_to_kept_entries():
    x = torch.ones(64, 64, requires_grad=True)
    a, b = fast_dropout(x, 0.5), fast_dropout(x, 0.5)
    assert not torch.equal(a != 0, b != 0)
    a.sum().backward()
    torch.testing.assert_close(x.grad, (a != 0).float() * (2 ** 16 / keep_threshold(0.5)))


def test_fast_dropout_is_identity_in_evaluation_and_at_zero():
    x = torch.randn(10, 7)
    assert fast_dropout(x, 0.5, training=False) is x
    assert fast_dropout(x, 0.0) is x
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="dropout"):
            fast_dropout(x, bad)
