"""The grouped reversible block and its memory-saving autograd.Function.

References: the block's own plain-autograd twin (same computation through
ordinary autograd), numerical gradients (gradcheck), and the closed-form
inverse of the coupling.
"""
import pytest
import torch
from torch import nn

from scalegnn.nn.reversible import (
    GroupedReversibleBlock,
    ReversibleSequential,
    SavedTensorCounter,
    reversible_sequential,
)
from scalegnn.nn.shared_dropout import SharedDropout



class Affine(nn.Module):
    """A small non-linear group function that also consumes a per-group extra tensor."""

    def __init__(self, c, norm=None, dropout=None):
        super().__init__()
        self.lin = nn.Linear(c, c)
        self.norm = norm if norm is not None else nn.Identity()
        self.dropout = dropout if dropout is not None else nn.Identity()

    def forward(self, z, adj, extra=None):
        h = self.dropout(torch.tanh(self.norm(z)))
        out = adj @ self.lin(h)
        if extra is not None:
            out = out + extra
        return out


def _blocks(num_blocks, c=12, g=3, norm=False, dropout=None, seed=0):
    torch.manual_seed(seed)
    blocks = []
    for _ in range(num_blocks):
        fns = [Affine(c // g, nn.BatchNorm1d(c // g) if norm else None, dropout) for _ in range(g)]
        blocks.append(GroupedReversibleBlock(fns))
    return [b.double() for b in blocks]


def _graph(n=10, c=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=torch.float64)
    adj = torch.rand(n, n, generator=g, dtype=torch.float64) / n
    extra = torch.randn(n, c, generator=g, dtype=torch.float64)
    return x, adj, extra


def _grads(blocks, x, adj, extra, memory_saving):
    x = x.clone().requires_grad_()
    extra = extra.clone().requires_grad_()
    params = list({id(p): p for b in blocks for p in b.parameters()}.values())
    for p in params:
        p.grad = None
    y = reversible_sequential(blocks, x, adj, extra, memory_saving=memory_saving)
    w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    (y * w).sum().backward()
    return y.detach(), [x.grad, extra.grad] + [p.grad.clone() for p in params]


def test_inverse_reconstructs_input():
    (block,) = _blocks(1)
    x, adj, extra = _graph()
    with torch.no_grad():
        y = block(x, adj, extra)
        assert torch.allclose(block.inverse(y, adj, extra), x, atol=1e-12)
        assert not torch.allclose(y, x)


def test_coupling_matches_formula():
    (block,) = _blocks(1, c=12, g=3)
    x, adj, extra = _graph()
    with torch.no_grad():
        y = block(x, adj, extra)
        x1, x2, x3 = x.split(4, -1)
        e1, e2, e3 = extra.split(4, -1)
        y1 = x1 + block.fns[0](x2 + x3, adj, e1)
        y2 = x2 + block.fns[1](y1, adj, e2)
        y3 = x3 + block.fns[2](y2, adj, e3)
    assert torch.allclose(y, torch.cat([y1, y2, y3], -1), atol=1e-12)


@pytest.mark.parametrize("tied", [False, True])
def test_gradients_equal_plain_autograd(tied):
    blocks = _blocks(1 if tied else 6)
    if tied:
        blocks = blocks * 6
    x, adj, extra = _graph()
    y_a, g_a = _grads(blocks, x, adj, extra, memory_saving=True)
    y_b, g_b = _grads(blocks, x, adj, extra, memory_saving=False)
    assert torch.allclose(y_a, y_b, atol=1e-12)
    assert len(g_a) == len(g_b)
    for a, b in zip(g_a, g_b):
        assert torch.allclose(a, b, atol=1e-9, rtol=0), (a - b).abs().max()


def test_gradcheck_against_numerical_gradients():
    blocks = _blocks(3, c=6, g=2)
    x, adj, extra = _graph(n=5, c=6)
    x.requires_grad_()
    extra.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, e: reversible_sequential(blocks, x, adj, e, memory_saving=True), (x, extra)
    )


def test_batchnorm_running_stats_updated_once():
    x, adj, extra = _graph()
    a = _blocks(4, norm=True)
    b = _blocks(4, norm=True)
    _grads(a, x, adj, extra, memory_saving=True)
    _grads(b, x, adj, extra, memory_saving=False)
    for ba, bb in zip(a, b):
        for (name, buf_a), buf_b in zip(ba.named_buffers(), bb.buffers()):
            assert torch.equal(buf_a, buf_b), name
        assert all(int(m.num_batches_tracked) == 1 for m in ba.modules() if isinstance(m, nn.BatchNorm1d))


def test_shared_dropout_mask_is_reused_in_backward():
    drop = SharedDropout(0.5)
    x, adj, extra = _graph()
    a = _blocks(4, dropout=drop)
    torch.manual_seed(3)
    drop.resample((x.size(0), 4), dtype=x.dtype)
    y_a, g_a = _grads(a, x, adj, extra, memory_saving=True)
    mask_a = drop.mask
    y_b, g_b = _grads(a, x, adj, extra, memory_saving=False)
    assert torch.equal(drop.mask, mask_a) and bool((mask_a == 0).any())
    for ga, gb in zip(g_a, g_b):
        assert torch.allclose(ga, gb, atol=1e-9)


def test_mask_changed_between_forward_and_backward_is_restored():
    drop = SharedDropout(0.5)
    blocks = _blocks(3, dropout=drop)
    x, adj, extra = _graph()
    torch.manual_seed(0)
    mask = drop.resample((x.size(0), 4), dtype=x.dtype)
    x1 = x.clone().requires_grad_()
    reversible_sequential(blocks, x1, adj, extra).sum().backward()
    drop.mask = mask
    x2 = x.clone().requires_grad_()
    y = reversible_sequential(blocks, x2, adj, extra)
    drop.resample((x.size(0), 4), dtype=x.dtype)  # a new mask before backward must not leak in
    y.sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-12)


def test_memory_flat_in_depth():
    x, adj, extra = _graph(n=200, c=12)
    x.requires_grad_()
    sizes = {}
    for depth in (4, 64):
        for saving in (True, False):
            seq = ReversibleSequential(_blocks(depth), memory_saving=saving)
            with SavedTensorCounter(exclude=seq.parameters()) as counter:
                y = seq(x, adj, extra)
            y.sum().backward()
            sizes[depth, saving] = counter.bytes
    assert sizes[64, True] <= 1.2 * sizes[4, True]
    # The plain twin keeps at least one [N, C] activation per extra block.
    per_block = (sizes[64, False] - sizes[4, False]) / 60
    assert per_block >= x.numel() * x.element_size()


def test_no_grad_path_matches():
    blocks = _blocks(3)
    x, adj, extra = _graph()
    with torch.no_grad():
        a = reversible_sequential(blocks, x, adj, extra, memory_saving=True)
    b = reversible_sequential(blocks, x.requires_grad_(), adj, extra, memory_saving=True)
    assert torch.allclose(a, b.detach(), atol=1e-12)


# -- bad configurations -----------------------------------------------------------------------

def test_one_group_is_rejected():
    with pytest.raises(ValueError, match="num_groups >= 2"):
        GroupedReversibleBlock([Affine(4)])
    with pytest.raises(ValueError, match="num_groups >= 2"):
        GroupedReversibleBlock(Affine(4), num_groups=1)


def test_channels_not_divisible_by_groups():
    (block,) = _blocks(1, c=12, g=3)
    x = torch.randn(5, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="cannot be split into 3 equal groups"):
        block(x, torch.eye(5, dtype=torch.float64))


def test_private_dropout_is_rejected():
    with pytest.raises(ValueError, match="draw their own dropout masks"):
        GroupedReversibleBlock(Affine(4, dropout=nn.Dropout(0.5)), num_groups=2)
    from torch_geometric.nn import GATConv

    with pytest.raises(ValueError, match="GATConv"):
        GroupedReversibleBlock(GATConv(4, 4, dropout=0.5), num_groups=2)
    # Allowed without the memory trick, where nothing is recomputed.
    GroupedReversibleBlock(Affine(4, dropout=nn.Dropout(0.5)), num_groups=2, memory_saving=False)


def test_shape_changing_group_function_is_rejected():
    block = GroupedReversibleBlock([nn.Linear(4, 3), nn.Linear(4, 4)])
    with pytest.raises(ValueError, match="keep the shape"):
        block(torch.randn(5, 8, requires_grad=True))


def test_inplace_group_function_is_rejected():
    class InPlace(nn.Module):
        def forward(self, z):
            return z.mul_(2)

    block = GroupedReversibleBlock([InPlace(), InPlace()])
    with pytest.raises(ValueError, match="in place"):
        block(torch.randn(5, 8, requires_grad=True))


def test_mode_switch_between_forward_and_backward_raises():
    blocks = _blocks(2, norm=True)
    x, adj, extra = _graph()
    y = reversible_sequential(blocks, x.requires_grad_(), adj, extra)
    for b in blocks:
        b.eval()
    with pytest.raises(RuntimeError, match="train/eval mode"):
        y.sum().backward()


def test_autocast_state_is_recomputed():
    torch.manual_seed(0)
    blocks = [GroupedReversibleBlock([nn.Linear(4, 4), nn.Linear(4, 4)]) for _ in range(3)]
    x = torch.randn(6, 8)
    grads = []
    for saving in (True, False):
        for b in blocks:
            b.zero_grad()
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = reversible_sequential(blocks, xi, memory_saving=saving)
        y.float().sum().backward()  # outside autocast, as usual
        grads.append([xi.grad] + [p.grad.clone() for b in blocks for p in b.parameters()])
    # Recomputed in bfloat16 like the forward pass: the same rounding, the same gradients.
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)


class _WithUnused(Affine):
    """A group function with a parameter that takes no part in the output (its grad stays None)."""

    def __init__(self, c):
        super().__init__(c)
        self.unused = nn.Parameter(torch.ones(c))


def test_gradient_accumulators_match_autograd_twice_and_leave_unused_none():
    """Preallocated accumulators: grads equal the twin's over two backward passes, unused params stay None."""
    x, adj, extra = _graph()
    grads = {}
    for memory_saving in (True, False):
        torch.manual_seed(0)
        block = GroupedReversibleBlock([_WithUnused(4) for _ in range(3)]).double()
        blocks = [block, block, block]  # weight tying: every layer adds into the same accumulator
        for _ in range(2):  # the second backward adds to .grad left by the first
            y = reversible_sequential(blocks, x, adj, extra.clone().requires_grad_(), memory_saving=memory_saving)
            (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        grads[memory_saving] = {n: p.grad for n, p in block.named_parameters()}
    for name, g in grads[False].items():
        if name.endswith("unused"):
            assert g is None and grads[True][name] is None, name
        else:
            assert torch.allclose(grads[True][name], g, atol=1e-10, rtol=1e-8), name
