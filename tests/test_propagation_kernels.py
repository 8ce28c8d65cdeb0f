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
