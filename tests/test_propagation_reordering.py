"""Node reordering for SpMM locality: permutations, the permuted matrix, results in the caller's order."""
import pytest
import torch

from scalegnn.data.adjacency import normalized_adjacency
from scalegnn.nn.gbp import gbp_exact
from scalegnn.nn.propagation_weights import ppr_weights
from scalegnn.nn.reordering import (
    DBG_GROUP_BOUNDS,
    apply_reordering,
    degree_groups_order,
    locality_order,
    permute_csr,
    reordered_adjacency,
)
from scalegnn.nn.sgc import sgc_precompute


def shuffled_path(n=200, seed=0):
    """A path graph with randomly relabelled nodes: bandwidth ~n before reordering, 1 after RCM."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randperm(n, generator=g)
    a, b = label[:-1], label[1:]
    return torch.stack([torch.cat([a, b]), torch.cat([b, a])]), label


def bandwidth(A):
    crow, col = A.crow_indices(), A.col_indices()
    rows = torch.repeat_interleave(torch.arange(A.size(0)), crow[1:] - crow[:-1])
    return int((rows - col).abs().max())


@pytest.mark.parametrize("method", ["rcm", "degree", "dbg", "none"])
def test_orders_are_permutations_and_permute_csr_is_PAPt(method):
    ei, _ = shuffled_path()
    A = normalized_adjacency(ei, 200, "sym", dtype=torch.float64)
    perm = locality_order(A.crow_indices(), A.col_indices(), 200, method)
    assert torch.equal(perm.sort().values, torch.arange(200))
    P = torch.eye(200, dtype=torch.float64)[perm]
    torch.testing.assert_close(permute_csr(A, perm).to_dense(), P @ A.to_dense() @ P.T, rtol=0, atol=0)


def test_rcm_recovers_a_narrow_band():
    ei, _ = shuffled_path()
    A = normalized_adjacency(ei, 200, "sym", dtype=torch.float64)
    perm = locality_order(A.crow_indices(), A.col_indices(), 200, "rcm")
    assert bandwidth(A) > 100 and bandwidth(permute_csr(A, perm)) == 1


@pytest.mark.parametrize("method", ["rcm", "degree", "dbg"])
def test_results_in_callers_order_equal_unreordered(method):
    torch.manual_seed(0)
    n = 400
    ei = torch.randint(0, n, (2, 2500))
    x = torch.randn(n, 7, dtype=torch.float64, requires_grad=True)
    ref = sgc_precompute(x, ei, 3, reorder=None)
    got = sgc_precompute(x, ei, 3, reorder=method, chunk_size=3)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    g_ref, = torch.autograd.grad(ref.square().sum(), x)
    g_got, = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(g_got, g_ref, rtol=0, atol=1e-12)
    dense = normalized_adjacency(ei, n, "sym", dtype=torch.float64).to_dense()
    torch.testing.assert_close(got, torch.linalg.matrix_power(dense, 3) @ x, rtol=0, atol=1e-10)
    w = ppr_weights(0.1, 6)
    for r in (0.0, 0.5, 1.0):
        torch.testing.assert_close(gbp_exact(x.detach(), ei, w, r=r, reorder=method),
                                   gbp_exact(x.detach(), ei, w, r=r, reorder=None), rtol=0, atol=1e-12)


def test_dbg_groups_by_degree_range_hottest_first_and_keeps_ids_inside_a_group():
    torch.manual_seed(1)
    deg = torch.cat([torch.randint(0, 6, (500,)), torch.tensor([300, 40, 41, 0, 7, 200])])[torch.randperm(506)]
    perm = degree_groups_order(deg)
    assert torch.equal(perm.sort().values, torch.arange(506))
    # brute force: the group of a node is the number of bounds (x average degree) its degree is below
    avg = deg.double().mean().item()
    group = [sum(d < b * avg for b in DBG_GROUP_BOUNDS) for d in deg.tolist()]
    expected = sorted(range(506), key=lambda i: (group[i], i))
    assert perm.tolist() == expected
    assert deg[perm[0]] >= 32 * avg and group[perm[-1].item()] == len(DBG_GROUP_BOUNDS)
    # unlike "degree", dbg keeps the given order of a graph whose degrees are all equal (e.g. a cycle)
    cycle = torch.tensor([list(range(50)), [(i + 1) % 50 for i in range(50)]])
    cycle = torch.cat([cycle, cycle.flip(0)], 1)
    A = normalized_adjacency(cycle, 50, "sym")
    assert torch.equal(locality_order(A.crow_indices(), A.col_indices(), 50, "dbg"), torch.arange(50))
    assert degree_groups_order(torch.empty(0, dtype=torch.long)).numel() == 0


def test_permutation_is_cached_per_graph():
    ei, _ = shuffled_path()
    a = reordered_adjacency(ei, 200, "sym", 0.5, True, torch.float32, torch.device("cpu"), "rcm")
    b = reordered_adjacency(ei, 200, "sym", 0.5, True, torch.float32, torch.device("cpu"), "rcm")
    c = reordered_adjacency(ei, 200, "sym", 0.5, True, torch.float32, torch.device("cpu"), "degree")
    assert a is b and c is not a
    ei2 = ei.clone()
    assert reordered_adjacency(ei2, 200, "sym", 0.5, True, torch.float32, torch.device("cpu"), "rcm") is not a


def test_auto_applies_no_order_and_names_are_checked():
    # "auto" follows the measurements (benchmarks/results/propagation.md): no order paid end to end
    assert apply_reordering("auto", True) is None
    assert apply_reordering("auto", False) is None  # prebuilt matrix: used as is
    assert apply_reordering(None, True) is None and apply_reordering("none", False) is None
    for method in ("degree", "dbg", "rcm"):
        assert apply_reordering(method, True) == method
    with pytest.raises(ValueError, match="needs the graph as an edge_index"):
        apply_reordering("dbg", False)
    with pytest.raises(ValueError, match="reorder must be"):
        apply_reordering(3, True)


def test_bad_reorder_values():
    ei, _ = shuffled_path()
    x = torch.randn(200, 3)
    with pytest.raises(ValueError, match="reorder must be"):
        sgc_precompute(x, ei, 2, reorder="metis-ish")
    S = normalized_adjacency(ei, 200, "sym")
    with pytest.raises(ValueError, match="needs the graph as an edge_index"):
        sgc_precompute(x, S, 2, reorder="rcm")
    with pytest.raises(ValueError, match="unknown reordering"):
        locality_order(S.crow_indices(), S.col_indices(), 200, "random")


def test_rcm_on_a_one_way_graph_is_a_permutation_and_exact():
    # The order follows each row's own neighbour list (no A + A^T): on a one-way path, where rows see only one
    # neighbour, it must still be a permutation and leave the results unchanged, in the caller's order.
    n = 150
    label = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    ei = torch.stack([label[:-1], label[1:]])  # edges one way only
    A = normalized_adjacency(ei, n, "gen", 0.5, True, dtype=torch.float64)
    perm = locality_order(A.crow_indices(), A.col_indices(), n, "rcm")
    assert torch.equal(perm.sort().values, torch.arange(n))
    x = torch.randn(n, 4, dtype=torch.float64)
    w = ppr_weights(0.2, 5)
    torch.testing.assert_close(gbp_exact(x, ei, w, reorder="rcm"), gbp_exact(x, ei, w, reorder=None),
                               rtol=0, atol=1e-12)
