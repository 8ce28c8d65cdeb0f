"""DEQGNN: solvers against closed-form fixed points, implicit gradients against unrolled backprop."""
import pytest
import torch

from scalegnn.nn.deq_gnn import (
    DEQConvergenceError,
    DEQConvergenceWarning,
    DEQGNN,
    anderson,
    fixed_point_iteration,
)
from scalegnn.nn.rev_gnn import prepare_adjacency
from scalegnn.nn.reversible import SavedTensorCounter



def _graph(n=40, e=200, f=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, f, generator=g, dtype=torch.float64),
            torch.randint(0, n, (2, e), generator=g),
            torch.randn(e, 3, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("solver", [anderson, fixed_point_iteration])
def test_solvers_find_linear_fixed_point(solver):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20, 20, generator=g, dtype=torch.float64)
    a = 0.7 * a / torch.linalg.matrix_norm(a, ord=2)  # a contraction
    b = torch.randn(20, 3, generator=g, dtype=torch.float64)
    exact = torch.linalg.solve(torch.eye(20, dtype=torch.float64) - a, b)
    result = solver(lambda z: a @ z + b, torch.zeros_like(b), max_iter=200, tol=1e-12)
    assert result.converged and torch.allclose(result.z, exact, atol=1e-10)


def test_anderson_is_faster_on_slow_contraction():
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(30, 30, generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(0.0, 0.97, 30, dtype=torch.float64)) @ q.t()
    b = torch.randn(30, 1, generator=g, dtype=torch.float64)
    fp = fixed_point_iteration(lambda z: a @ z + b, torch.zeros_like(b), 2000, 1e-10)
    aa = anderson(lambda z: a @ z + b, torch.zeros_like(b), 2000, 1e-10, m=6)
    assert fp.converged and aa.converged and aa.iterations < fp.iterations / 3


def _grads(model, x, ei, ea, seed=3):
    for p in model.parameters():
        p.grad = None
    torch.manual_seed(seed)
    out = model(x, ei, ea)
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * w).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("conv", ["gcn", "gen"])
def test_implicit_gradients_equal_unrolled_backprop(conv):
    edge = conv == "gen"
    kw = dict(in_channels=7, hidden_channels=8, out_channels=3, num_groups=2, conv=conv, dropout=0.3,
              edge_dim=3 if edge else None, solver="fixed_point", max_iter=400, tol=1e-13)
    torch.manual_seed(3)  # an initialization where plain iteration contracts (else unrolling diverges)
    implicit = DEQGNN(**kw, memory_saving=True).double()
    unrolled = DEQGNN(**kw, memory_saving=False).double()
    unrolled.load_state_dict(implicit.state_dict())
    x, ei, ea = _graph()
    ea = ea if edge else None
    out_a, g_a = _grads(implicit, x, ei, ea)
    assert implicit.last_solve["forward_residual"] <= 1e-13
    assert implicit.last_solve["backward_residual"] <= 1e-13
    out_b, g_b = _grads(unrolled, x, ei, ea)
    assert torch.allclose(out_a, out_b, atol=1e-10)
    assert g_a.keys() == g_b.keys() and len(g_a) == len(list(implicit.parameters()))
    for name in g_a:
        assert torch.allclose(g_a[name], g_b[name], atol=1e-7, rtol=1e-6), name


@pytest.mark.parametrize("conv", ["gcn", "sage", "gat", "gen"])
def test_implicit_gradients_equal_finite_differences(conv):
    """Directional derivatives of the loss, with Anderson solves, dropout on, any initialization."""
    edge = conv in ("gen", "gat")
    torch.manual_seed(0)
    model = DEQGNN(7, 8, 3, conv=conv, dropout=0.3, edge_dim=3 if edge else None,
                   solver="anderson", max_iter=300, tol=1e-13, on_nonconvergence="raise").double()
    x, ei, ea = _graph()
    ea = ea if edge else None
    w = None

    def loss():
        nonlocal w
        torch.manual_seed(3)  # the same dropout mask every time
        out = model(x, ei, ea)
        w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out) if w is None else w
        return (out * w).sum()

    model.zero_grad()
    loss().backward()
    params = [p for p in model.parameters()]
    grads = [p.grad.clone() for p in params]
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        eps = 1e-6
        with torch.no_grad():
            for p, d in zip(params, v):
                p.add_(eps * d)
            up = float(loss())
            for p, d in zip(params, v):
                p.sub_(2 * eps * d)
            down = float(loss())
            for p, d in zip(params, v):
                p.add_(eps * d)
        numeric = (up - down) / (2 * eps)
        analytic = float(sum((gr * d).sum() for gr, d in zip(grads, v)))
        assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)


def test_anderson_implicit_gradients_match_fixed_point_ones():
    torch.manual_seed(3)
    a = DEQGNN(7, 8, 3, solver="anderson", max_iter=300, tol=1e-12).double()
    b = DEQGNN(7, 8, 3, solver="fixed_point", max_iter=300, tol=1e-12).double()
    b.load_state_dict(a.state_dict())
    x, ei, _ = _graph()
    _, g_a = _grads(a, x, ei, None)
    _, g_b = _grads(b, x, ei, None)
    for name in g_a:
        assert torch.allclose(g_a[name], g_b[name], atol=1e-8), name


def test_output_is_a_fixed_point():
    torch.manual_seed(0)
    model = DEQGNN(7, 8, 3, tol=1e-10, max_iter=200).double().eval()
    x, ei, _ = _graph()
    captured = {}
    model.out_norm.register_forward_hook(lambda m, inp, out: captured.setdefault("z", inp[0]))
    with torch.no_grad():
        model(x, ei)
        u = model.node_encoder(x)
        fz = model.equilibrium_map(captured["z"], u, [prepare_adjacency("gcn", ei, 40, x.dtype)])
    assert torch.allclose(fz, captured["z"], atol=1e-8)


def test_memory_independent_of_iterations():
    x, ei, _ = _graph(n=500, e=2500)
    x = x.float()
    sizes = {}
    for iters in (5, 40):
        for saving in (True, False):
            torch.manual_seed(0)
            model = DEQGNN(7, 16, 3, solver="fixed_point", max_iter=iters, tol=0.0,
                           on_nonconvergence="ignore", memory_saving=saving)
            with SavedTensorCounter(exclude=model.parameters()) as counter:
                out = model(x, ei)
            out.sum().backward()
            sizes[iters, saving] = counter.bytes
    assert sizes[40, True] == sizes[5, True]
    assert sizes[40, False] > 4 * sizes[5, False]


def test_nonconvergence_warns_or_raises():
    x, ei, _ = _graph()
    model = DEQGNN(7, 8, 3, max_iter=2, tol=1e-12).double()
    with pytest.warns(DEQConvergenceWarning, match="forward solve .* did not converge"):
        out = model(x, ei)
    with pytest.warns(DEQConvergenceWarning, match="backward solve"):
        out.sum().backward()
    strict = DEQGNN(7, 8, 3, max_iter=2, tol=1e-12, on_nonconvergence="raise").double()
    with pytest.raises(DEQConvergenceError, match="did not converge"):
        strict(x, ei)


def test_bad_configuration():
    with pytest.raises(ValueError, match="norm='batch' is not supported"):
        DEQGNN(7, 8, 3, norm="batch")
    with pytest.raises(ValueError, match="num_groups must be >= 2"):
        DEQGNN(7, 8, 3, num_groups=1)
    with pytest.raises(ValueError, match="not divisible"):
        DEQGNN(7, 9, 3, num_groups=2)
    with pytest.raises(ValueError, match=r"solver='broyden' is not one of \['anderson', 'fixed_point'\]"):
        DEQGNN(7, 8, 3, solver="broyden")
    with pytest.raises(ValueError, match="on_nonconvergence"):
        DEQGNN(7, 8, 3, on_nonconvergence="panic")
    with pytest.raises(ValueError, match="draw their own dropout masks"):
        DEQGNN(7, 8, 3, conv="gat", conv_kwargs={"dropout": 0.2})
