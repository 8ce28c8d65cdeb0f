"""The CPU CSR SpMM kernel (embedding_bag) against dense products and torch.sparse.mm."""
import pytest
import torch

from scalegnn.nn.csr_spmm import csr_spmm


@pytest.mark.parametrize("n, nnz", [(5, 0), (50, 200), (64, 1), (30, 900)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_dense_and_gradient(n, nnz, dtype):
    g = torch.Generator().manual_seed(n + nnz)
    idx = torch.randint(0, n, (2, nnz), generator=g)
    A = torch.sparse_coo_tensor(idx, torch.rand(nnz, dtype=dtype, generator=g), (n, n),
                                check_invariants=True).coalesce().to_sparse_csr()
    X = torch.randn(n, 6, dtype=dtype, generator=g, requires_grad=True)
    Y = csr_spmm(A, X)
    ref = A.to_dense() @ X
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(Y, ref, rtol=tol, atol=tol)
    torch.testing.assert_close(Y, torch.sparse.mm(A, X), rtol=0, atol=tol)
    gy, = torch.autograd.grad(Y.sum(), X)
    gr, = torch.autograd.grad(ref.sum(), X)
    torch.testing.assert_close(gy, gr, rtol=tol, atol=tol)


def test_rectangular_and_shape_errors():
    A = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]]).to_sparse_csr()
    X = torch.arange(6, dtype=torch.float32).view(3, 2)
    torch.testing.assert_close(csr_spmm(A, X), A.to_dense() @ X)
    with pytest.raises(ValueError, match="3 columns but x has 2 rows"):
        csr_spmm(A, X[:2])
    assert csr_spmm(A, X[:, :0]).shape == (2, 0)


@pytest.mark.parametrize("slice_bytes", [8, 24, 1 << 20])  # one row per slice, a ragged last slice, one slice
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_out_in_row_slices_is_bit_identical(monkeypatch, slice_bytes, dtype):
    import scalegnn.nn.csr_spmm as mod

    monkeypatch.setattr(mod, "ROW_SLICE_BYTES", slice_bytes)
    g = torch.Generator().manual_seed(3)
    n = 37
    idx = torch.randint(0, n, (2, 300), generator=g)
    A = torch.sparse_coo_tensor(idx, torch.rand(300, dtype=dtype, generator=g), (n, n),
                                check_invariants=True).coalesce().to_sparse_csr()
    X = torch.randn(n, 3, dtype=dtype, generator=g)
    out = torch.full((n, 3), float("nan"), dtype=dtype)
    got = csr_spmm(A, X, out=out)
    assert got is out
    assert torch.equal(out, csr_spmm(A, X))  # same terms in the same order per row: bit for bit
    torch.testing.assert_close(out, A.to_dense() @ X, rtol=1e-5, atol=1e-6)
    # empty rows at the ends and in the middle
    B = torch.tensor([[0.0, 0, 0], [1.0, 0, 2.0], [0, 0, 0], [0, 3.0, 0]], dtype=dtype).to_sparse_csr()
    Y = torch.randn(3, 2, dtype=dtype)
    assert torch.equal(csr_spmm(B, Y, out=torch.empty(4, 2, dtype=dtype)), B.to_dense() @ Y)


def test_out_errors():
    A = torch.tensor([[1.0, 0.0], [0.5, 2.0]]).to_sparse_csr()
    X = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"out must be a contiguous \[2, 3\]"):
        csr_spmm(A, X, out=torch.empty(3, 2))
    with pytest.raises(ValueError, match="out must be a contiguous"):
        csr_spmm(A, X, out=torch.empty(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="share memory"):
        csr_spmm(A, X, out=X)
    with pytest.raises(ValueError, match="not differentiable"):
        csr_spmm(A, X.requires_grad_(), out=torch.empty(2, 3))


def test_repeated_spmm_reuses_two_buffers_and_equals_fresh_hops():
    from scalegnn.nn.csr_spmm import repeated_spmm

    g = torch.Generator().manual_seed(4)
    n = 40
    idx = torch.randint(0, n, (2, 200), generator=g)
    A = torch.sparse_coo_tensor(idx, torch.rand(200, generator=g) / 5, (n, n), check_invariants=True).coalesce().to_sparse_csr()
    X = torch.randn(n, 4, generator=g)
    X0 = X.clone()
    ref, h = [], X
    for _ in range(5):
        h = csr_spmm(A, h)
        ref.append(h)
    got = [(hop.clone(), hop.data_ptr()) for hop in repeated_spmm(A, X, 5)]
    for (hop, _), r in zip(got, ref):
        assert torch.equal(hop, r)
    assert torch.equal(X, X0)  # the input is never written
    ptrs = [p for _, p in got]
    assert len(set(ptrs)) == 2 and ptrs[0] == ptrs[2] == ptrs[4] and ptrs[1] == ptrs[3]
    assert X.data_ptr() not in ptrs
    # with autograd: fresh, differentiable hops
    Xg = X.clone().requires_grad_()
    last = list(repeated_spmm(A, Xg, 3))[-1]
    gx, = torch.autograd.grad(last.sum(), Xg)
    dense = A.to_dense()
    torch.testing.assert_close(gx, torch.linalg.matrix_power(dense, 3).T @ torch.ones(n, 4), rtol=1e-5, atol=1e-6)
    assert list(repeated_spmm(A, X, 0)) == []
