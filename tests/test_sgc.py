"""sgc_precompute and SGC against dense S^K X and PyG's SGConv."""
import pytest
import torch
from torch_geometric.nn import SGConv

from scalegnn.nn.sgc import SGC, sgc_precompute


def random_graph(n=40, e=160, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    return torch.cat([ei, ei.flip(0)], 1)


def dense_S(edge_index, n, self_loops=True):
    """D^-1/2 (A + I) D^-1/2 with duplicate edges summed, existing loops replaced (gcn_norm's convention)."""
    src, dst = edge_index
    keep = src != dst if self_loops else torch.ones_like(src, dtype=torch.bool)
    A = torch.zeros(n, n, dtype=torch.float64)
    A.index_put_((dst[keep], src[keep]), torch.ones(int(keep.sum()), dtype=torch.float64), accumulate=True)
    if self_loops:
        A += torch.eye(n, dtype=torch.float64)
    d = A.sum(1)
    dinv = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    return dinv[:, None] * A * dinv[None, :]


@pytest.mark.parametrize("K", [0, 1, 2, 3])
def test_matches_dense_power(K):
    n = 40
    ei = random_graph(n)
    x = torch.randn(n, 6, dtype=torch.float64)
    expected = torch.linalg.matrix_power(dense_S(ei, n), K) @ x
    torch.testing.assert_close(sgc_precompute(x, ei, K), expected, rtol=1e-10, atol=1e-12)


def test_chunked_equals_unchunked_and_budget_splits():
    n = 40
    ei = random_graph(n)
    x = torch.randn(n, 11)
    full = sgc_precompute(x, ei, 2)
    torch.testing.assert_close(sgc_precompute(x, ei, 2, chunk_size=3), full)
    # A budget of ~2 columns x 3 buffers forces several chunks.
    torch.testing.assert_close(sgc_precompute(x, ei, 2, memory_budget=3 * 2 * n * 4), full)


def test_prebuilt_adjacency_used_as_is():
    n = 30
    ei = random_graph(n, 90)
    x = torch.randn(n, 4, dtype=torch.float64)
    S = dense_S(ei, n)
    expected = S @ S @ x
    torch.testing.assert_close(sgc_precompute(x, S.to_sparse_csr(), 2), expected)
    torch.testing.assert_close(sgc_precompute(x, S.to_sparse(), 2), expected)
    torch.testing.assert_close(sgc_precompute(x, S, 2), expected)


def test_model_equals_pyg_sgconv_as_layer():
    n = 40
    ei = random_graph(n)
    x = torch.randn(n, 8)
    ref = SGConv(8, 3, K=2, cached=False)
    model = SGC(8, 3, K=2)
    model.lin.weight.data.copy_(ref.lin.weight.data)
    model.lin.bias.data.copy_(ref.lin.bias.data)
    torch.testing.assert_close(model(x, ei), ref(x, ei), rtol=1e-5, atol=1e-6)
    # Precomputed features: the model only applies its linear layer.
    torch.testing.assert_close(model(sgc_precompute(x, ei, 2)), ref(x, ei), rtol=1e-5, atol=1e-6)
    assert repr(model) == "SGC(8, 3, K=2)"


def test_gradient_flows_through_propagation():
    n = 20
    ei = random_graph(n, 50)
    x = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    sgc_precompute(x, ei, 2, chunk_size=1).sum().backward()
    S = dense_S(ei, n)
    expected = (S @ S).sum(0).unsqueeze(1).expand(n, 3)
    torch.testing.assert_close(x.grad, expected)


def test_vector_features():
    n = 20
    ei = random_graph(n, 50)
    x = torch.randn(n, dtype=torch.float64)
    torch.testing.assert_close(sgc_precompute(x, ei, 2), dense_S(ei, n) @ dense_S(ei, n) @ x)


def test_self_loop_handling_documented():
    # A graph without self-loops gets them added (SGC's normalization needs them);
    # existing self-loops are replaced by weight-1 loops, not doubled.
    n = 5
    ei = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 3, 3]])  # node 3: a duplicated loop; node 4 isolated
    x = torch.randn(n, 2, dtype=torch.float64)
    torch.testing.assert_close(sgc_precompute(x, ei, 1), dense_S(ei, n) @ x)
    out = sgc_precompute(x, ei, 1)
    torch.testing.assert_close(out[4], x[4])  # isolated node: only its own loop
    torch.testing.assert_close(out[3], x[3])
    # Without self-loops the graph is normalized as given: zero rows for nodes without in-edges.
    no_loops = sgc_precompute(x, ei, 1, add_self_loops=False)
    torch.testing.assert_close(no_loops, dense_S(ei, n, self_loops=False) @ x)
    assert torch.all(no_loops[4] == 0)


@pytest.mark.parametrize("bad, match", [
    (dict(K=-1), "K must be a non-negative integer"),
    (dict(K=1.5), "K must be a non-negative integer"),
    (dict(nan=True), "NaN"),
    (dict(num_nodes=7), "num_nodes=7"),
    (dict(edge=torch.tensor([[0, 9], [1, 0]])), "out of range"),
    (dict(chunk_size=0), "chunk_size must be a positive integer"),
])
def test_bad_input(bad, match):
    n = 5
    x = torch.randn(n, 3)
    if bad.get("nan"):
        x[2, 1] = float("nan")
    ei = bad.get("edge", torch.tensor([[0, 1], [1, 0]]))
    kwargs = {k: v for k, v in bad.items() if k in ("num_nodes", "chunk_size")}
    with pytest.raises(ValueError, match=match):
        sgc_precompute(x, ei, bad.get("K", 2), **kwargs)


def test_bad_adjacency_shape():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="shape"):
        sgc_precompute(x, torch.eye(4).to_sparse_csr(), 1)
    with pytest.raises(ValueError, match="K must be"):
        SGC(3, 2, K=-2)
