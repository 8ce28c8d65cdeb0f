"""Mixed precision with ``rewind=True``: calibrate, choose the bits, then train them from the initialization."""
import io

import pytest
import torch

from scalegnn import compress
from scalegnn.compress import CompressionScheduler


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(32, 24), torch.nn.ReLU(), torch.nn.Linear(24, 5))
    # no activation quantizers: their running ranges are state that rewinding deliberately keeps
    return compress.apply(net, "mixed:5", activations=False)


def _step(model, optimizer, x, y) -> None:
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def _train(model, optimizer, sched, steps: int, x, y) -> None:
    for _ in range(steps):
        _step(model, optimizer, x, y)
        sched.step()


def _assert_initial(model, initial) -> None:
    for n, p in model.named_parameters():
        assert torch.equal(p, initial[n]), n


def _calibrate(steps: int, **scheduler_kwargs):
    """A fresh model, its initial parameters, its Adam and scheduler, after ``steps`` training steps."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 32, generator=g), torch.randint(0, 5, (64,), generator=g)
    model = _model()
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    if scheduler_kwargs.get("rewind"):
        scheduler_kwargs["optimizer"] = optimizer
    sched = CompressionScheduler(model, total_steps=20, **scheduler_kwargs)
    _train(model, optimizer, sched, steps, x, y)
    return model, initial, optimizer, sched, (x, y)


def test_rewind_restores_the_initial_weights_and_then_trains_like_a_fresh_run_with_the_chosen_bits():
    fresh = _model()  # the same initialization (same seed)
    model, initial, optimizer, sched, (x, y) = _calibrate(5, allocate_at=0.25, rewind=True)
    assert sched.allocation is not None and sched.complete
    _assert_initial(model, initial)
    assert len(optimizer.state) == 0
    # the same initialization with the chosen bits fixed from the start, a new Adam: identical from here on
    for name, wrapper in compress.compression_wrappers(fresh):
        wrapper.bits, wrapper.track_sensitivity = sched.allocation[name], False
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.01)
    for _ in range(3):
        _step(model, optimizer, x, y)
        _step(fresh, fresh_opt, x, y)
    for (n, p), (_, q) in zip(model.named_parameters(), fresh.named_parameters()):
        assert torch.equal(p, q), n


def test_without_rewind_the_calibrated_weights_continue():
    model, initial, optimizer, sched, _ = _calibrate(5, allocate_at=0.25)
    assert sched.allocation is not None and len(optimizer.state) > 0
    assert any(not torch.equal(p, initial[n]) for n, p in model.named_parameters())


def test_rewind_survives_a_checkpoint_written_during_calibration():
    model, initial, optimizer, sched, (x, y) = _calibrate(2, rewind=True)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "sched": sched.state_dict()},
               buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = _model()
    resumed.load_state_dict(state["model"])  # trained weights: the initial ones come from the checkpoint
    resumed_opt = torch.optim.Adam(resumed.parameters(), lr=0.01)
    resumed_opt.load_state_dict(state["optimizer"])
    resumed_sched = CompressionScheduler(resumed, total_steps=20, rewind=True, optimizer=resumed_opt)
    resumed_sched.load_state_dict(state["sched"])
    _train(resumed, resumed_opt, resumed_sched, 3, x, y)
    assert resumed_sched.allocation is not None
    _assert_initial(resumed, initial)

    plain = CompressionScheduler(_model(), total_steps=20)
    with pytest.raises(ValueError, match="no initial weights to rewind to"):
        resumed_sched.load_state_dict({**plain.state_dict(), "steps": 2})


def test_rewind_needs_mixed_precision_and_the_optimizer():
    model = _model()
    with pytest.raises(ValueError, match="needs optimizer="):
        CompressionScheduler(model, total_steps=10, rewind=True)
    int4 = compress.apply(torch.nn.Sequential(torch.nn.Linear(8, 4)), "int4")
    with pytest.raises(ValueError, match="no 'mixed:<budget>' layer"):
        CompressionScheduler(int4, total_steps=10, rewind=True, optimizer=torch.optim.SGD(int4.parameters(), lr=0.1))


def test_the_spec_suffix_turns_rewinding_on():
    method, kwargs = compress.parse_spec("mixed:5:rewind")
    assert (method, kwargs) == ("mixed", {"budget": 5.0, "rewind": True})
    with pytest.raises(ValueError, match="mixed:B\\[:rewind\\]"):
        compress.parse_spec("mixed:5:later")
    torch.manual_seed(0)
    model = compress.apply(torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Linear(8, 3)), "mixed:5:rewind",
                           activations=False)
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    with pytest.raises(ValueError, match="needs optimizer="):
        CompressionScheduler(model, total_steps=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    sched = CompressionScheduler(model, total_steps=8, optimizer=optimizer)  # rewind=None: from the spec
    assert sched.rewind
    x, y = torch.randn(32, 16), torch.randint(0, 3, (32,))
    _train(model, optimizer, sched, 2, x, y)
    assert sched.allocation is not None
    _assert_initial(model, initial)
    # an explicit rewind=False overrides the spec
    assert not CompressionScheduler(model, total_steps=8, rewind=False).rewind
