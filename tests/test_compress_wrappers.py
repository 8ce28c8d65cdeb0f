"""Compression wrappers around PyG convs, Linear and scalegnn layers: exactness, value sets, gradients."""
import pytest
import torch
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv
from torch_geometric.nn.dense.linear import Linear as PyGLinear

from scalegnn.compress import Binarized, Pruned, Quantized
from scalegnn.compress.fake_quant import weight_scale
from scalegnn.compress.ste import (InjectGradient, round_ste, round_ste_reference, sign_ste,
                                   sign_ste_reference)
from scalegnn.nn import GCNLayer
from scalegnn.data.adjacency import normalized_adjacency

N, F_IN, F_OUT = 30, 12, 8


def graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, N, (2, 120), generator=g)
    x = torch.randn(N, F_IN, generator=g)
    return x, ei


def make_layer(kind):
    torch.manual_seed(0)
    if kind == "gcn":
        return GCNConv(F_IN, F_OUT)
    if kind == "sage":
        return SAGEConv(F_IN, F_OUT)
    if kind == "gat":
        return GATConv(F_IN, F_OUT // 2, heads=2)
    if kind == "gin":
        return GINConv(torch.nn.Sequential(torch.nn.Linear(F_IN, 16), torch.nn.ReLU(), torch.nn.Linear(16, F_OUT)))
    if kind == "linear":
        return torch.nn.Linear(F_IN, F_OUT)
    if kind == "pyg_linear":
        return PyGLinear(F_IN, F_OUT)
    if kind == "revgnn_gcn_layer":
        return GCNLayer(F_IN, F_OUT)
    raise AssertionError(kind)


def call(layer, kind, x, ei):
    if kind in ("linear", "pyg_linear"):
        return layer(x)
    if kind == "revgnn_gcn_layer":
        return layer(x, normalized_adjacency(ei, N))
    return layer(x, ei)


KINDS = ["gcn", "sage", "gat", "gin", "linear", "pyg_linear", "revgnn_gcn_layer"]


@pytest.mark.parametrize("kind", KINDS)
def test_zero_sparsity_and_disabled_give_exact_output(kind):
    x, ei = graph()
    for wrap in (lambda m: Pruned(m, 0.0, "one_shot"),
                 lambda m: Pruned(m, 0.7, "one_shot"),
                 lambda m: Quantized(m, 4),
                 lambda m: Binarized(m, activations=kind != "gin")):
        layer = make_layer(kind)
        layer.eval()
        expected = call(layer, kind, x, ei).detach().clone()
        wrapped = wrap(layer).eval()
        if isinstance(wrapped, Pruned) and wrapped.sparsity == 0.0:
            assert torch.equal(call(wrapped, kind, x, ei), expected)
            continue
        wrapped.train()
        call(wrapped, kind, x, ei)  # changes activation statistics / masks
        wrapped.eval()
        assert not torch.equal(call(wrapped, kind, x, ei), expected)
        wrapped.compression_enabled = False
        if isinstance(wrapped, Pruned):  # pruning zeroes the originals: compare on a fresh copy instead
            continue
        assert torch.equal(call(wrapped, kind, x, ei), expected)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("kind", ["gcn", "sage", "gin", "linear"])
def test_quantized_weights_take_at_most_2_pow_bits_values_per_channel(kind, bits):
    q = Quantized(make_layer(kind), bits)
    for name, w in q.effective_weights().items():
        for row in w.detach():
            assert torch.unique(row).numel() <= 2 ** bits
        codes, scale = q.codes(name)
        assert torch.equal(codes * scale, w.detach())
        assert torch.equal(codes, codes.round())
        assert codes.abs().max() <= max(2 ** (bits - 1) - 1, 1)
    per_tensor = Quantized(make_layer(kind), bits, per_channel=False)
    for w in per_tensor.effective_weights().values():
        assert torch.unique(w.detach()).numel() <= 2 ** bits


@pytest.mark.parametrize("kind", ["gcn", "sage", "gat", "gin", "linear"])
def test_binarized_weights_are_plus_minus_scale_per_channel(kind):
    b = Binarized(make_layer(kind), activations=False)
    for name, w in b.effective_weights().items():
        original = b.original(name).detach()
        alpha = original.abs().mean(1, keepdim=True)
        expected = torch.where(original >= 0, alpha, -alpha)
        assert torch.equal(w.detach(), expected)


def _bigcn_reference(x, normalize):
    """Bi-GCN's binary features written out directly: batch norm (no affine), beta_i * sign, hard-tanh STE."""
    if normalize == "batch":
        x = (x - x.mean(0)) / x.std(0, unbiased=False)
    beta = x.abs().mean(1, keepdim=True).detach()
    hard = torch.clamp(x, -1.0, 1.0)
    return hard + (beta * torch.where(x >= 0, 1.0, -1.0).to(x.dtype) - hard).detach()


@pytest.mark.parametrize("normalize", ["batch", "none"])
def test_binary_features_match_a_direct_bigcn_reference(normalize):
    torch.manual_seed(0)
    x = (torch.randn(40, 9, dtype=torch.float64) * 3 + torch.arange(9)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    b = Binarized(torch.nn.Linear(9, 4).double(), normalize=normalize, quantize_statistics=False).binarizer
    b.train()
    h = b(x)
    expected = _bigcn_reference(x_ref, normalize)
    assert torch.equal(h.abs(), h.abs().amax(1, keepdim=True).expand_as(h))  # +-beta_i in each row
    torch.testing.assert_close(h, expected, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(h)
    (h * g).sum().backward()
    (expected * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)


def test_wrapped_two_layer_gcn_is_bigcn_written_out():
    """Bi-GCN's layout from wrappers equals the forward pass written out with dense matrices."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.nn.models import GCN

    x, ei = graph()
    x = x.double()
    torch.manual_seed(0)
    model = GCN(F_IN, 8, 2, 3, dropout=0.0, act=None).double()
    from scalegnn import compress
    compress.apply(model, {"method": "binarize", "normalize": "batch", "quantize_statistics": False}, include="convs.0")
    compress.apply(model, {"method": "binarize", "normalize": "none"}, include="convs.1")
    model.train()
    out = model(x, ei)
    (e, w) = gcn_norm(ei, num_nodes=N, add_self_loops=True, dtype=torch.float64)
    adj = torch.zeros(N, N, dtype=torch.float64).index_put_((e[1], e[0]), w, accumulate=True)

    def signed(h):
        beta = h.abs().mean(1, keepdim=True)
        return torch.where(h >= 0, beta, -beta)

    def binary_weight(wt):
        alpha = wt.abs().mean(1, keepdim=True)
        return torch.where(wt >= 0, alpha, -alpha)

    h = signed((x - x.mean(0)) / x.std(0, unbiased=False))
    c0, c1 = model.convs[0].module, model.convs[1].module
    h = adj @ (h @ binary_weight(c0.lin.parametrizations.weight.original.detach()).T) + c0.bias.detach()
    h = adj @ (signed(h) @ binary_weight(c1.lin.parametrizations.weight.original.detach()).T) + c1.bias.detach()
    torch.testing.assert_close(out.detach(), h, rtol=1e-10, atol=1e-12)


def test_binary_features_use_8bit_means_and_4bit_log_deviations_at_inference():
    x, _ = graph()
    b = Binarized(make_layer("gcn"))
    b.train()
    b.binarizer(x)
    b.eval()
    tau, std = b.binarizer.inference_threshold(), b.binarizer.inference_std()
    assert torch.unique(tau).numel() <= 256 and torch.unique(std).numel() <= 16
    mean, dev = x.mean(0), x.std(0, unbiased=False)
    torch.testing.assert_close(tau, mean, atol=float(mean.max() - mean.min()) / 255, rtol=0)
    log_range = float(dev.log().max() - dev.log().min())
    torch.testing.assert_close(std.log(), dev.log(), atol=log_range / 30 + 1e-6, rtol=0)
    x_hat = (x - tau) / std
    beta = x_hat.abs().mean(1, keepdim=True)
    torch.testing.assert_close(b.binarizer(x), torch.where(x_hat >= 0, beta, -beta))


def test_binary_features_train_with_the_statistics_inference_stores():
    """quantize_statistics=True: training uses the 8-bit means and 4-bit log-deviations inference decodes, so on a
    fixed full batch the training and inference features are identical; with exact statistics they are not."""
    x, _ = graph()
    x = x * torch.linspace(0.1, 3.0, F_IN)  # channels of different spread, so the 4-bit codes round
    outs = {}
    for quantize in (True, False):
        b = Binarized(make_layer("gcn"), quantize_statistics=quantize).binarizer
        b.train()
        train_out = b(x)
        b.eval()
        outs[quantize] = (train_out, b(x))
    assert torch.equal(*outs[True])
    assert not torch.allclose(*outs[False])
    # the signs agree with exact statistics here; only the per-node scales beta_i differ
    assert torch.equal(outs[True][0].sign(), outs[False][0].sign())
    # gradients pass straight through the coded statistics (hidden features have gradients)
    h = x.clone().requires_grad_()
    b = Binarized(make_layer("gcn")).binarizer
    b.train()
    b(h).pow(2).sum().backward()
    assert h.grad is not None and torch.isfinite(h.grad).all() and h.grad.abs().sum() > 0


def test_binarized_exact_when_disabled_and_sign_weights_with_quantized_statistics():
    x, ei = graph()
    layer = make_layer("gcn")
    expected = layer(x, ei)
    b = Binarized(layer, quantize_statistics=True)
    b.compression_enabled = False
    assert torch.equal(b(x, ei), expected)
    b.compression_enabled = True
    for name, w in b.effective_weights().items():
        original = b.original(name).detach()
        alpha = original.abs().mean(1, keepdim=True)
        assert torch.equal(w.detach(), torch.where(original >= 0, alpha, -alpha))


def test_binarized_dropout_zeroes_binary_features_after_the_sign():
    torch.manual_seed(0)
    lin = torch.nn.Linear(30, 5, bias=False)
    b = Binarized(lin, dropout=0.5, normalize="none")
    x = torch.randn(200, 30)
    b.train()
    seen = {}
    lin.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    b(x)
    fed = seen["x"]
    beta = x.abs().mean(1, keepdim=True)
    kept = fed != 0
    assert 0.4 < kept.float().mean() < 0.6  # dropped entries are exactly 0, not +-beta
    torch.testing.assert_close(fed[kept], (2 * torch.where(x >= 0, beta, -beta))[kept])  # kept: scaled by 1/(1-p)
    with pytest.raises(ValueError, match="dropout"):
        Binarized(torch.nn.Linear(3, 3), dropout=1.0)
    with pytest.raises(ValueError, match="normalize"):
        Binarized(torch.nn.Linear(3, 3), normalize="layer")


def test_apply_binary_moves_the_models_dropout_behind_the_signs():
    """compress.apply(model, "binary") drops the binary features after the sign (Bi-GCN), not before it."""
    from torch_geometric.nn.models import GCN

    from scalegnn import compress

    x, ei = graph()
    torch.manual_seed(0)
    model = compress.apply(GCN(F_IN, 16, 2, 3, dropout=0.5), "binary")
    assert model.dropout.p == 0.0
    wrappers = [model.convs[0], model.convs[1]]
    assert [w.dropout for w in wrappers] == [0.5, 0.5]
    seen = {}
    for i, w in enumerate(wrappers):
        w.module.register_forward_pre_hook(lambda m, args, i=i: seen.update({i: args[0].detach()}))
    model.train()
    model(x, ei)
    for i in (0, 1):  # every layer's input: exact zeros (dropped) or +-2 beta_i (kept, scaled by 1 / (1 - p))
        fed = seen[i]
        assert 0.3 < float((fed == 0).float().mean()) < 0.7
        mags = fed.abs().masked_fill(fed == 0, float("nan"))
        row_max = torch.nan_to_num(mags, nan=0.0).amax(1, keepdim=True)
        assert torch.equal(torch.where(fed == 0, row_max, fed.abs()), row_max.expand_as(fed))
    model.eval()  # inference: no dropout anywhere, every input entry is +-beta_i
    seen.clear()
    model(x, ei)
    assert all(bool((seen[i] != 0).all()) for i in (0, 1))
    # an explicit dropout leaves the model's own alone; other methods never touch it
    kept = compress.apply(GCN(F_IN, 16, 2, 3, dropout=0.5), {"method": "binarize", "dropout": 0.0})
    assert kept.dropout.p == 0.5 and kept.convs[0].dropout == 0.0
    assert compress.apply(GCN(F_IN, 16, 2, 3, dropout=0.5), "int8").dropout.p == 0.5
    # a spec that matches nothing fails before the model is changed
    untouched = GCN(F_IN, 16, 2, 3, dropout=0.5)
    with pytest.raises(ValueError, match="matched no layer"):
        compress.apply(untouched, "binary", include="nothing.*")
    assert untouched.dropout.p == 0.5


def test_instance_aware_thresholds_move_with_node_statistics():
    x, _ = graph()
    b = Binarized(make_layer("linear"), instance_aware=True)
    with torch.no_grad():
        b.binarizer.a.fill_(0.5)
    b.train()
    h = b.binarizer(x)
    m = x.mean(1, keepdim=True)
    tau = x.mean(0, keepdim=True) + 0.5 * (m - m.mean())
    signs = torch.where(x - tau >= 0, 1.0, -1.0)
    assert torch.equal(torch.sign(h), signs)
    h.sum().backward()
    assert b.binarizer.a.grad is not None


def test_straight_through_estimators_match_plain_autograd_twins():
    x = torch.randn(50, dtype=torch.float64) * 2
    for f, ref in ((round_ste, round_ste_reference), (sign_ste, sign_ste_reference)):
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        g = torch.randn(50, dtype=torch.float64)
        (f(a) * g).sum().backward()
        (ref(b) * g).sum().backward()
        assert torch.equal(f(x), ref(x))
        assert torch.equal(a.grad, b.grad)


def test_inject_gradient_equals_adding_the_loss():
    w = torch.randn(5, 3, requires_grad=True)
    x = torch.randn(7, 5)
    out = x @ w
    aux = 0.3 * (w ** 2).sum()
    (InjectGradient.apply(out, aux).sin().sum()).backward()
    g1 = w.grad.clone()
    w.grad = None
    ((x @ w).sin().sum() + 0.3 * (w ** 2).sum()).backward()
    torch.testing.assert_close(g1, w.grad)


@pytest.mark.parametrize("wrap", ["quantized", "binarized", "pruned"])
def test_gradients_reach_the_trainable_originals(wrap):
    x, ei = graph()
    layer = make_layer("gcn")
    w = {"quantized": lambda: Quantized(layer, 4), "binarized": lambda: Binarized(layer),
         "pruned": lambda: Pruned(layer, 0.5, "one_shot")}[wrap]()
    w(x, ei).pow(2).sum().backward()
    g = w.original("lin.weight").grad
    assert g is not None and g.abs().sum() > 0
    if wrap == "pruned":
        mask = w.parametrization("lin.weight").mask
        assert torch.all(g[mask == 0] == 0)


def test_quantized_weight_gradient_is_straight_through():
    layer = torch.nn.Linear(6, 4)
    q = Quantized(layer, 4, activations=False)
    x = torch.randn(10, 6)
    q(x).sum().backward()
    expected = torch.ones(10, 4).t() @ x  # d(sum(x W^T))/dW with the quantizer's gradient taken as identity
    torch.testing.assert_close(q.original("weight").grad, expected)


def test_weight_scale_per_channel_and_per_tensor():
    w = torch.tensor([[1.0, -3.0], [0.5, 0.25]])
    torch.testing.assert_close(weight_scale(w, 3), torch.tensor([[1.0], [1.0 / 6]]))
    torch.testing.assert_close(weight_scale(w, 3, per_channel=False), torch.tensor([[1.0]]))
    torch.testing.assert_close(weight_scale(w, 1), torch.tensor([[2.0], [0.375]]))


def test_state_dict_roundtrip_restores_compressed_model():
    x, ei = graph()
    for make in (lambda: Pruned(make_layer("sage"), 0.6, "one_shot"), lambda: Quantized(make_layer("gat"), 3),
                 lambda: Binarized(make_layer("gcn"))):
        a = make().train()
        a(x, ei)
        a.eval()
        torch.manual_seed(5)
        b = make()
        b.load_state_dict(a.state_dict())
        b.eval()
        assert torch.equal(a(x, ei), b(x, ei))


def test_wrapping_a_module_without_weights_or_twice_fails_clearly():
    with pytest.raises(ValueError, match="no weight matrices"):
        Quantized(torch.nn.ReLU())
    with pytest.raises(ValueError, match="no weight matrices"):
        Pruned(torch.nn.LayerNorm(4), 0.5)
    q = Quantized(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="already"):
        Pruned(q, 0.5)
    with pytest.raises(ValueError, match="not initialized"):
        Quantized(PyGLinear(-1, 4))
    with pytest.raises(TypeError):
        Quantized("not a module")


@pytest.mark.parametrize("bits", [0, 9, -1])
def test_bits_outside_1_to_8_fail(bits):
    with pytest.raises(ValueError, match="bits must be in 1..8"):
        Quantized(torch.nn.Linear(3, 3), bits)


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5])
def test_sparsity_outside_0_1_fails(sparsity):
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\)"):
        Pruned(torch.nn.Linear(3, 3), sparsity)


def test_reset_parameters_resets_the_trainable_originals():
    torch.manual_seed(0)
    q = Quantized(make_layer("gcn"), 8)
    before = q.original("lin.weight").detach().clone()
    q.reset_parameters()
    after = q.original("lin.weight")
    assert not torch.equal(before, after)
    assert isinstance(after, torch.nn.Parameter) and after is q.original("lin.weight")


def test_sensitivity_constraint_without_activation_quantization():
    x, _ = graph()
    q = Quantized(torch.nn.Linear(F_IN, F_OUT), 2, activations=False, track_sensitivity=True, epsilon=0.0)
    q(x).sum().backward()
    assert float(q.distance) > 0 and float(q.dual) == float(q.distance)


def test_sensitivity_distance_ignores_dropout_inside_the_layer():
    """GATConv's attention dropout draws the same masks in the quantized and the full-precision pass,
    so the constraint measures quantization error only (it measured dropout noise before: mixed
    precision on GAT collapsed to one class)."""
    x, ei = graph()
    torch.manual_seed(0)
    plain = Quantized(GATConv(F_IN, F_OUT // 2, heads=2, dropout=0.0), 8, track_sensitivity=True)
    plain(x, ei).sum().backward()
    torch.manual_seed(0)
    dropped = Quantized(GATConv(F_IN, F_OUT // 2, heads=2, dropout=0.6), 8, track_sensitivity=True)
    dropped(x, ei).sum().backward()
    assert float(plain.distance) < 1e-3
    assert float(dropped.distance) < 1e-3
    # without replaying the random numbers, two dropout passes differ by far more than 8-bit rounding
    with torch.no_grad():
        a, b = dropped.module(x, ei), dropped.module(x, ei)
    assert float((a - b).pow(2).sum() / b.pow(2).sum()) > 0.1
