"""Input validation messages and the normalized sparse adjacency against dense reference math."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from scalegnn.data import (cached_adjacency, normalized_adjacency, spmm, to_torch_csr, validate_edge_index,
                           validate_features, validate_graph, validate_node_ids)


def _graph(**kw):
    base = dict(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]),
                y=torch.tensor([0, 1, 0, 1]), num_nodes=4)
    base.update(kw)
    return Data(**base)


# ------------------------------------------------------------------ validation messages


def test_valid_graph_passes():
    validate_graph(_graph())
    validate_graph(_graph(edge_index=torch.tensor([[0, 1], [1, 2]], dtype=torch.int32)))
    validate_graph(_graph(edge_index=torch.empty(2, 0, dtype=torch.long)))


def test_negative_edge_index():
    with pytest.raises(ValueError, match=r"negative node index \(-1\) at edge 1"):
        validate_graph(_graph(edge_index=torch.tensor([[0, -1], [1, 2]])))


def test_out_of_range_edge_index():
    with pytest.raises(ValueError, match=r"node index 7 out of range for a graph with 4 nodes"):
        validate_graph(_graph(edge_index=torch.tensor([[0, 1], [7, 2]])))


def test_non_integer_edge_index():
    with pytest.raises(ValueError, match=r"integer dtype .* got torch.float32"):
        validate_graph(_graph(edge_index=torch.tensor([[0.0, 1.0], [1.0, 2.0]])))


def test_edge_index_bad_shape_and_type():
    with pytest.raises(ValueError, match=r"shape \[2, num_edges\]"):
        validate_edge_index(torch.tensor([[0, 1, 2]]), 4)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        validate_edge_index([[0, 1], [1, 0]], 4)


def test_feature_size_mismatch():
    with pytest.raises(ValueError, match=r"x has 5 rows but the graph has 4 nodes"):
        validate_graph(_graph(x=torch.randn(5, 3)))


def test_label_size_mismatch():
    with pytest.raises(ValueError, match=r"y has 3 labels but the graph has 4 nodes"):
        validate_graph(_graph(y=torch.tensor([0, 1, 0])))


def test_mask_size_mismatch():
    with pytest.raises(ValueError, match=r"train_mask has 3 entries but the graph has 4 nodes"):
        validate_graph(_graph(train_mask=torch.tensor([True, False, True])))
    for key in ("val_mask", "test_mask"):
        with pytest.raises(ValueError, match=key):
            validate_graph(_graph(**{key: torch.ones(6, dtype=torch.bool)}))


def test_edge_weight_size_mismatch():
    with pytest.raises(ValueError, match=r"edge_weight has 2 entries but edge_index has 4 edges"):
        validate_graph(_graph(edge_weight=torch.ones(2)))


def test_nan_features():
    x = torch.randn(4, 3)
    x[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"x contains NaN values \(first at index \[2, 1\]\)"):
        validate_graph(_graph(x=x))


def test_inf_features():
    x = torch.randn(4, 3)
    x[3, 0] = float("inf")
    with pytest.raises(ValueError, match=r"x contains inf values \(first at index \[3, 0\]\)"):
        validate_graph(_graph(x=x))
    x[3, 0] = -float("inf")
    with pytest.raises(ValueError, match="inf"):
        validate_features(x)


def test_zero_nodes():
    with pytest.raises(ValueError, match=r"the graph is empty: num_nodes=0"):
        validate_graph(Data(x=torch.empty(0, 3), edge_index=torch.empty(2, 0, dtype=torch.long)))
    with pytest.raises(ValueError, match="the graph is empty"):
        validate_edge_index(torch.empty(2, 0, dtype=torch.long), 0)


def test_feature_dtype():
    with pytest.raises(ValueError, match="floating-point"):
        validate_features(torch.zeros(4, 3, dtype=torch.bool))
    validate_features(torch.zeros(4, 3, dtype=torch.long))  # categorical features are allowed
    validate_features(torch.randn(4, 3).to_sparse())  # sparse: left to consumers


def test_graph_level_labels():
    g = _graph(y=torch.tensor([1]))
    validate_graph(g)  # task unknown: one label per graph is fine
    validate_graph(g, task="graph")
    with pytest.raises(ValueError, match="y has 1 labels but the graph has 4 nodes"):
        validate_graph(g, task="node")
    with pytest.raises(ValueError, match="y has 4 graph labels but there are 1 graph"):
        validate_graph(_graph(), task="graph")
    batch = Batch.from_data_list([_graph(y=torch.tensor([0])), _graph(y=torch.tensor([1]))])
    validate_graph(batch)
    validate_graph(batch, task="graph")


def test_node_ids():
    validate_node_ids(torch.tensor([0, 3]), 4)
    validate_node_ids(torch.tensor([True, False, True, False]), 4)
    with pytest.raises(ValueError, match="contains id 4, out of range"):
        validate_node_ids(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError, match="contains id -1"):
        validate_node_ids(torch.tensor([-1, 2]), 4)
    with pytest.raises(ValueError, match="mask of size 3"):
        validate_node_ids(torch.tensor([True, False, True]), 4)
    with pytest.raises(ValueError, match="integer ids or a boolean mask"):
        validate_node_ids(torch.tensor([0.0, 1.0]), 4)


# ------------------------------------------------------------------ adjacency vs dense math


def _random_graph(n=12, e=40, seed=0, loops=False):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    if not loops:
        ei = ei[:, ei[0] != ei[1]]
    return ei


def _dense_reference(ei, n, normalization, r=0.5, add_self_loops=True, weight=None):
    w = torch.ones(ei.size(1), dtype=torch.float64) if weight is None else weight.double()
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((ei[1], ei[0]), w, accumulate=True)  # A[i, j]: edge j -> i
    if add_self_loops:
        a.fill_diagonal_(1.0)
    deg = a.sum(1)
    inv = lambda p: torch.where(deg > 0, deg.clamp_min(1e-300) ** p, torch.zeros_like(deg))  # noqa: E731
    left, right = {"sym": (-0.5, -0.5), "row": (-1.0, 0.0), "col": (0.0, -1.0),
                   "gen": (r - 1.0, -r), "none": (0.0, 0.0)}[normalization]
    if (left, right) == (0.0, 0.0):
        return a
    return inv(left)[:, None] * a * inv(right)[None, :]


@pytest.mark.parametrize("normalization", ["sym", "row", "col", "gen", "none"])
@pytest.mark.parametrize("add_self_loops", [True, False])
@pytest.mark.parametrize("loops", [True, False])
def test_adjacency_matches_dense(normalization, add_self_loops, loops):
    n = 12
    ei = _random_graph(n, 40, seed=1, loops=loops)
    ei = torch.cat([ei, ei[:, :3]], dim=1)  # duplicates are summed
    m = normalized_adjacency(ei, n, normalization, r=0.3, add_self_loops=add_self_loops, dtype=torch.float64)
    assert m.layout == torch.sparse_csr and m.shape == (n, n)
    ref = _dense_reference(ei, n, normalization, r=0.3, add_self_loops=add_self_loops)
    torch.testing.assert_close(m.to_dense(), ref)


def test_gen_special_cases():
    ei = _random_graph(10, 30, seed=2)
    for r, name in ((0.5, "sym"), (0.0, "row"), (1.0, "col")):
        a = normalized_adjacency(ei, 10, "gen", r=r, dtype=torch.float64).to_dense()
        b = normalized_adjacency(ei, 10, name, dtype=torch.float64).to_dense()
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="0 <= r <= 1"):
        normalized_adjacency(ei, 10, "gen", r=1.5)
    with pytest.raises(ValueError, match=r"normalization=.bogus. is not one of"):
        normalized_adjacency(ei, 10, "bogus")


def test_isolated_nodes_have_zero_rows():
    ei = torch.tensor([[0, 1], [1, 0]])
    m = normalized_adjacency(ei, 4, "sym", add_self_loops=False).to_dense()
    assert torch.isfinite(m).all()
    assert m[2].abs().sum() == 0 and m[3].abs().sum() == 0


@pytest.mark.parametrize("add_self_loops", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_sym_matches_pyg_gcn_norm(add_self_loops, weighted):
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    n = 15
    ei = _random_graph(n, 60, seed=3)  # no self-loops: PyG keeps an existing loop's weight, we use 1
    w = torch.rand(ei.size(1), generator=torch.Generator().manual_seed(0)) + 0.5 if weighted else None
    pei, pw = gcn_norm(ei, w, num_nodes=n, add_self_loops=add_self_loops, dtype=torch.float64)
    ref = torch.zeros(n, n, dtype=torch.float64).index_put_((pei[1], pei[0]), pw.double(), accumulate=True)
    ours = normalized_adjacency(ei, n, "sym", add_self_loops=add_self_loops, edge_weight=w, dtype=torch.float64)
    torch.testing.assert_close(ours.to_dense(), ref)
    # and the propagation a GCN layer performs
    x = torch.randn(n, 4, dtype=torch.float64)
    torch.testing.assert_close(spmm(ours, x), ref @ x)


def test_edge_weight_length_checked():
    ei = _random_graph(6, 10, seed=4)
    with pytest.raises(ValueError, match="edge_weight has 3 entries"):
        normalized_adjacency(ei, 6, edge_weight=torch.ones(3))


def test_adjacency_validates_input():
    with pytest.raises(ValueError, match="out of range"):
        normalized_adjacency(torch.tensor([[0, 5], [1, 0]]), 3)


def test_cached_adjacency_memoizes():
    ei = _random_graph(8, 20, seed=5)
    a = cached_adjacency(ei, 8, "sym")
    assert cached_adjacency(ei, 8, "sym") is a
    b = cached_adjacency(ei, 8, "row")
    assert b is not a
    torch.testing.assert_close(a.to_dense(), normalized_adjacency(ei, 8, "sym").to_dense())


def test_to_torch_csr_and_spmm_layouts():
    ei = _random_graph(8, 20, seed=6)
    m = normalized_adjacency(ei, 8, "sym")
    dense = m.to_dense()
    x = torch.randn(8, 3)
    for layout in (m, m.to_sparse_coo(), dense):
        csr = to_torch_csr(layout)
        assert csr.layout == torch.sparse_csr
        torch.testing.assert_close(csr.to_dense(), dense)
        torch.testing.assert_close(spmm(layout, x), dense @ x)
    torch.testing.assert_close(spmm(m, x.double()), dense.double() @ x.double())  # dtype follows x
    with pytest.raises(ValueError, match="columns but x has 5 rows"):
        spmm(m, torch.randn(5, 3))
    with pytest.raises(TypeError):
        to_torch_csr("not a matrix")


def test_sparse_tensor_path():
    torch_sparse = pytest.importorskip("torch_sparse")
    ei = _random_graph(8, 20, seed=7)
    m = normalized_adjacency(ei, 8, "sym")
    dense = m.to_dense()
    st = torch_sparse.SparseTensor.from_dense(dense)
    torch.testing.assert_close(to_torch_csr(st).to_dense(), dense)
    x = torch.randn(8, 3)
    torch.testing.assert_close(spmm(st, x), dense @ x)


def test_cached_adjacency_releases_and_tracks_mutation():
    import gc

    from scalegnn.data import adjacency

    ei = _random_graph(8, 20, seed=8)
    a = cached_adjacency(ei, 8, "sym")
    ei[1, 0] = (ei[1, 0] + 1) % 8  # in-place change: a new matrix is built
    b = cached_adjacency(ei, 8, "sym")
    assert b is not a
    torch.testing.assert_close(b.to_dense(), normalized_adjacency(ei, 8, "sym").to_dense())
    key = id(ei)
    assert key in adjacency._CACHE
    del ei
    gc.collect()
    assert key not in adjacency._CACHE
