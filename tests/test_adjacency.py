"""normalized_adjacency against dense matrix math, and its CPU (SciPy) build against torch's coalesce path."""
import pytest
import torch

from scalegnn.data.adjacency import _coalesced_csr, normalized_adjacency

EXPONENTS = {"sym": (-0.5, -0.5), "row": (-1.0, 0.0), "col": (0.0, -1.0), "gen": (0.3 - 1.0, -0.3), "none": (0.0, 0.0)}


def messy_graph(n=40, m=300, seed=0):
    """Random directed edges with duplicates, self-loops and an isolated node (n - 1)."""
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n - 1, (2, m), generator=g)
    ei = torch.cat([ei, ei[:, :25], torch.tensor([[3, 7], [3, 7]])], dim=1)  # duplicates, self-loops
    weight = torch.rand(ei.size(1), generator=g, dtype=torch.float64) + 0.1
    return ei, weight, n


def dense_reference(ei, weight, n, normalization, add_self_loops):
    A = torch.zeros(n, n, dtype=torch.float64)
    src, dst = ei
    if add_self_loops:  # existing loops are replaced by weight-1 loops
        keep = src != dst
        src, dst, weight = src[keep], dst[keep], weight[keep]
    A.index_put_((dst, src), weight, accumulate=True)
    if add_self_loops:
        A += torch.eye(n, dtype=torch.float64)
    deg = A.sum(1)
    left, right = EXPONENTS[normalization]
    safe = torch.where(deg > 0, deg, torch.ones_like(deg))
    dl = torch.where(deg > 0, safe ** left, torch.zeros_like(deg))
    dr = torch.where(deg > 0, safe ** right, torch.zeros_like(deg))
    return dl[:, None] * A * dr[None, :]


@pytest.mark.parametrize("normalization", sorted(EXPONENTS))
@pytest.mark.parametrize("add_self_loops", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_equals_dense_matrix_math(normalization, add_self_loops, weighted):
    ei, weight, n = messy_graph()
    w = weight if weighted else torch.ones(ei.size(1), dtype=torch.float64)
    M = normalized_adjacency(ei, n, normalization, r=0.3, add_self_loops=add_self_loops,
                             edge_weight=w if weighted else None, dtype=torch.float64)
    assert M.layout == torch.sparse_csr
    torch.testing.assert_close(M.to_dense(), dense_reference(ei, w, n, normalization, add_self_loops),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scipy_build_equals_torch_coalesce_entry_for_entry(dtype):
    ei, weight, n = messy_graph(n=300, m=5000, seed=1)
    value = weight.to(dtype)
    fast = _coalesced_csr(ei[1], ei[0], value, n)
    reference = torch.sparse_coo_tensor(torch.stack([ei[1], ei[0]]), value, (n, n),
                                        check_invariants=False).coalesce().to_sparse_csr()
    assert fast.crow_indices().dtype == fast.col_indices().dtype == torch.int64
    assert torch.equal(fast.crow_indices(), reference.crow_indices())
    assert torch.equal(fast.col_indices(), reference.col_indices())
    torch.testing.assert_close(fast.values(), reference.values(), rtol=4 * torch.finfo(dtype).eps, atol=0)
    assert fast.values().dtype == dtype


def test_weights_that_need_gradients_keep_them():
    ei, weight, n = messy_graph()
    weight = weight.clone().requires_grad_(True)
    M = normalized_adjacency(ei, n, "sym", edge_weight=weight, dtype=torch.float64)
    (M @ torch.ones(n, 1, dtype=torch.float64)).sum().backward()
    assert weight.grad is not None and torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0


def test_half_precision_takes_the_torch_path():
    ei, weight, n = messy_graph()
    half = normalized_adjacency(ei, n, "sym", dtype=torch.float16)
    full = normalized_adjacency(ei, n, "sym", dtype=torch.float64)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.to_dense().double(), full.to_dense(), rtol=2e-3, atol=2e-3)
