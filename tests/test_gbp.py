"""GBP's bidirectional propagation against dense sum_l w_l T^l X: exactness, error bounds, unbiased walks, work."""
import math

import pytest
import torch

import scalegnn.nn.forward_push as forward_push
import scalegnn.nn.gbp as gbp_module
from scalegnn.nn.forward_push import PushCounter, build_transition, densify, push_frontier, push_level
from scalegnn.nn.gbp import GBP, gbp_exact, gbp_precompute, transition_matrix
from scalegnn.nn.propagation_weights import heat_kernel_weights, ppr_weights, sgc_weights
from scalegnn.nn.reverse_walks import sample_walks


def random_graph(n=50, e=200, seed=0, undirected=True):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    return torch.cat([ei, ei.flip(0)], 1) if undirected else ei


def dense_A(edge_index, n, self_loops=True):
    src, dst = edge_index
    keep = src != dst if self_loops else torch.ones_like(src, dtype=torch.bool)
    A = torch.zeros(n, n, dtype=torch.float64)
    A.index_put_((dst[keep], src[keep]), torch.ones(int(keep.sum()), dtype=torch.float64), accumulate=True)
    if self_loops:
        A += torch.eye(n, dtype=torch.float64)
    return A


def dense_P(x, edge_index, w, r):
    n = x.size(0)
    A = dense_A(edge_index, n)
    d = A.sum(1)
    T = d.pow(r - 1)[:, None] * A * d.pow(-r)[None, :]
    out, h = torch.zeros_like(x), x.clone()
    for ell in range(w.numel()):
        out += float(w[ell]) * h
        h = T @ h
    return out


def push_only_bound(x, edge_index, w, r, rmax):
    """d(s)^r * rmax * ||D^-r x_k||_1 * sum_l l |w_l| for every (s, k)."""
    d = dense_A(edge_index, x.size(0)).sum(1)
    theta = rmax * (x * d.pow(-r)[:, None]).abs().sum(0)
    levels = torch.arange(w.numel(), dtype=torch.float64)
    return d.pow(r)[:, None] * theta[None, :] * float((levels * w.abs()).sum())


WEIGHTS = {"ppr": ppr_weights(0.15, 6), "heat": heat_kernel_weights(2.0, 5), "sgc": sgc_weights(3)}


@pytest.mark.parametrize("kind", list(WEIGHTS))
@pytest.mark.parametrize("r", [0.0, 0.5, 1.0])
def test_tiny_rmax_no_walks_is_exact(kind, r):
    ei = random_graph()
    x = torch.randn(50, 7, dtype=torch.float64)
    w = WEIGHTS[kind]
    expected = dense_P(x, ei, w, r)
    got = gbp_precompute(x, ei, w, r=r, rmax=1e-15)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gbp_exact(x, ei, w, r=r), expected, rtol=1e-10, atol=1e-10)


def test_float32_exact_to_1e5():
    ei = random_graph(80, 400)
    x = torch.randn(80, 16)
    w = ppr_weights(0.1, 10)
    expected = dense_P(x.double(), ei, w, 0.5)
    got = gbp_precompute(x, ei, w, r=0.5, rmax=1e-12)
    assert (got.double() - expected).abs().max() < 1e-5


def test_directed_graph_exact():
    # W = D^-1 A~ stays row-stochastic with in-degrees, so the scheme holds on directed graphs too.
    ei = random_graph(40, 160, undirected=False)
    x = torch.randn(40, 3, dtype=torch.float64)
    w = ppr_weights(0.2, 5)
    torch.testing.assert_close(gbp_precompute(x, ei, w, r=0.3, rmax=1e-15), dense_P(x, ei, w, 0.3))


@pytest.mark.parametrize("rmax", [1e-3, 1e-2, 5e-2])
def test_push_only_error_obeys_bound(rmax):
    ei = random_graph(60, 250)
    x = torch.randn(60, 5, dtype=torch.float64)
    w, r = ppr_weights(0.1, 8), 0.5
    err = (gbp_precompute(x, ei, w, r=r, rmax=rmax) - dense_P(x, ei, w, r)).abs()
    bound = push_only_bound(x, ei, w, r, rmax)
    assert err.max() > 0  # the threshold did truncate something
    assert bool((err <= bound + 1e-12).all())


def test_error_shrinks_with_rmax():
    ei = random_graph(60, 250)
    x = torch.randn(60, 5, dtype=torch.float64)
    w = ppr_weights(0.1, 8)
    exact = dense_P(x, ei, w, 0.5)
    errs = [(gbp_precompute(x, ei, w, rmax=t) - exact).abs().max().item() for t in (1e-1, 1e-2, 1e-3, 1e-5)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < 1e-3 * errs[0]


@pytest.mark.parametrize("push_all_dense, stratify", [(True, True), (False, False), (False, True)])
def test_walk_estimator_is_unbiased_and_obeys_hoeffding(push_all_dense, stratify):
    # Duplicate edges make A~ weighted, so the weighted walk step is exercised too.
    ei = random_graph(40, 150, seed=3)
    x = torch.randn(40, 3, dtype=torch.float64)
    w, r, rmax, n_r = ppr_weights(0.2, 5), 0.5, 5e-2, 4
    exact = dense_P(x, ei, w, r)
    push_only = gbp_precompute(x, ei, w, r=r, rmax=rmax, push_all_dense=push_all_dense)
    T = transition_matrix(ei, 40, dtype=torch.float64)  # built once for all runs
    runs = torch.stack([gbp_precompute(x, T, w, r=r, rmax=rmax, walks_per_node=n_r, seed=s,
                                       push_all_dense=push_all_dense, stratify_walks=stratify) for s in range(300)])
    bias_push = (push_only - exact).abs().max()
    mean_err = (runs.mean(0) - exact).abs()
    std_of_mean = runs.std(0) / math.sqrt(runs.size(0))
    assert bias_push > 1e-2  # the walks have something to correct
    assert bool((mean_err <= 5 * std_of_mean + 1e-12).all())  # unbiased: mean within 5 standard errors
    assert mean_err.max() < 0.2 * bias_push
    # Hoeffding: |err| <= d^r B sqrt(2 ln(2/delta) / n_r), union over all entries and runs.
    delta = 1e-3 / runs[0].numel() / runs.size(0)
    bound = push_only_bound(x, ei, w, r, rmax) * math.sqrt(2 * math.log(2 / delta) / n_r)
    assert bool(((runs - exact).abs() <= bound).all())


def reference_estimate(x, edge_index, w, r, rmax, walks_per_node, nodes, seed, dense_fraction, push_all_dense,
                       stratify_walks):
    """GBP's estimate with dense matrices and a per-walk loop, on the walks gbp_precompute draws for `seed`.

    The push follows push_frontier's rule: a level whose frontier (rows with an entry above the threshold) has
    at least dense_fraction of the edges is dense, and pushes everything if push_all_dense.
    """
    n, L = x.size(0), w.numel() - 1
    A = dense_A(edge_index, n)
    d = A.sum(1)
    W = A / d[:, None]
    T = transition_matrix(edge_index, n, dtype=x.dtype)
    y = x * d.pow(-r)[:, None]
    theta = rmax * y.abs().sum(0)
    R, kept = y.clone(), []  # kept[t]: leftover residue of level t
    reserve = float(w[0]) * R
    for ell in range(L):
        above = R.abs() > theta
        frontier_edges = int(T.out_count[above.any(1)].sum())
        pushed = torch.ones_like(above) if (push_all_dense and frontier_edges >= dense_fraction * T.num_entries) \
            else above
        kept.append(torch.where(pushed, 0.0, R))
        R = W @ torch.where(pushed, R, 0.0)
        reserve += float(w[ell + 1]) * R
    out = reserve[nodes].clone()
    if walks_per_node:
        gen = torch.Generator().manual_seed(seed)
        pos = sample_walks(T, nodes, walks_per_node, L, gen, stratify_walks)  # [L, len(nodes) * n_r]
        for i in range(nodes.numel()):
            for k in range(walks_per_node):
                for j in range(1, L + 1):
                    u = int(pos[j - 1, i * walks_per_node + k])
                    for t in range(0, L - j + 1):
                        out[i] += float(w[t + j]) * kept[t][u] / walks_per_node
    return out * d[nodes].pow(r)[:, None]


@pytest.mark.parametrize("push_all_dense", [False, True])
@pytest.mark.parametrize("dense_fraction", [0.0, 0.5, float("inf")])  # all SpMM, mixed, all row scatter
def test_walk_correction_matches_per_walk_reference(monkeypatch, push_all_dense, dense_fraction):
    # The row-sparse correction (embedding_bag on dense leftovers, lookups on row-sparse ones, gathers in small
    # slices) equals the textbook per-walk sum on the same walks: repeated and unsorted targets, PPR and heat.
    monkeypatch.setattr(gbp_module, "_GATHER_ELEMENTS", 7)
    n = 120
    ei = random_graph(n, 260, seed=11)
    x = torch.randn(n, 3, dtype=torch.float64)
    x[torch.randperm(n, generator=torch.Generator().manual_seed(0))[: n // 2]] *= 1e-3
    nodes = torch.tensor([9, 4, 100, 4, 57, 0])
    for w in (ppr_weights(0.15, 6), heat_kernel_weights(1.5, 4)):
        kw = dict(r=0.4, rmax=2e-3, walks_per_node=3, seed=5, dense_fraction=dense_fraction,
                  push_all_dense=push_all_dense, stratify_walks=push_all_dense)
        got, st = gbp_precompute(x, ei, w, nodes=nodes, return_stats=True, **kw)
        ref = reference_estimate(x, ei, w, nodes=nodes, **kw)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
        # Only a level pushed entirely leaves nothing to correct.
        assert (st.correction_updates > 0) == (not push_all_dense or st.sparse_push_levels > 0)


def test_push_all_dense_levels():
    ei = random_graph(60, 250)
    x = torch.randn(60, 5, dtype=torch.float64)
    w, r = ppr_weights(0.1, 8), 0.5
    exact = dense_P(x, ei, w, r)
    # Every level by SpMM pushing everything: exact at any threshold, and the walks have nothing to correct.
    got, st = gbp_precompute(x, ei, w, rmax=0.5, walks_per_node=4, dense_fraction=0.0, return_stats=True)
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-12)
    assert st.dense_push_levels == 8 and st.correction_updates == 0
    # Mixed levels: leftovers only where the paper's rule leaves them, so the push-only bound holds.
    for rmax in (1e-3, 1e-2, 5e-2):
        est = gbp_precompute(x, ei, w, rmax=rmax, push_all_dense=True)
        assert bool(((est - exact).abs() <= push_only_bound(x, ei, w, r, rmax) + 1e-12).all())
    # push_frontier: pushed=None and the next level is W R on a dense level.
    T = build_transition(ei, 60, dtype=torch.float64)
    A = dense_A(ei, 60)
    counter = PushCounter()
    rows_next, nxt, pushed = push_frontier(T, None, x, torch.full((5,), 0.5, dtype=torch.float64), counter, 0.0,
                                           push_all_dense=True)
    assert rows_next is None and pushed is None and counter.pushed_entries == x.numel()
    torch.testing.assert_close(nxt, (A / A.sum(1, keepdim=True)) @ x, rtol=0, atol=1e-12)


def test_walk_steps_follow_transition_probabilities():
    ei = torch.tensor([[1, 2, 2, 3, 0, 0], [0, 0, 0, 0, 1, 2]])  # node 0 receives from 1 (once), 2 (twice), 3
    T = build_transition(ei, 4, add_self_loops=True, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    steps = sample_walks(T, torch.tensor([0]), 200_000, 1, gen)[0]
    freq = torch.bincount(steps, minlength=4).double() / steps.numel()
    expected = torch.tensor([1, 1, 2, 1], dtype=torch.float64) / 5  # A~ row 0: self-loop, 1, 2 (x2), 3
    torch.testing.assert_close(freq, expected, atol=5e-3, rtol=0)


def test_stratified_first_step_covers_the_neighbours():
    ei = torch.tensor([[1, 2, 2, 3, 0, 0], [0, 0, 0, 0, 1, 2]])  # W row 0 = [1, 1, 2, 1] / 5 (self-loop, 1, 2 x2, 3)
    T = build_transition(ei, 4, add_self_loops=True, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):  # n_r = 5 systematic draws hit every neighbour exactly 5 W_0u times
        first = sample_walks(T, torch.tensor([0, 0]), 5, 3, gen, stratify_first_step=True)[0]
        for half in first.view(2, 5):
            assert torch.equal(torch.bincount(half, minlength=4), torch.tensor([1, 1, 2, 1]))
    # n_r = 3: each neighbour floor/ceil of 3 W_0u times, and the walks' average is unbiased.
    counts = torch.stack([torch.bincount(sample_walks(T, torch.tensor([0]), 3, 1, gen, True)[0], minlength=4)
                          for _ in range(20000)]).double()
    expected = 3 * torch.tensor([1, 1, 2, 1], dtype=torch.float64) / 5
    assert bool(((counts - expected.floor() >= 0) & (counts - expected.ceil() <= 0)).all())
    torch.testing.assert_close(counts.mean(0), expected, atol=2e-2, rtol=0)
    # Later steps stay independent draws from W.
    steps = sample_walks(T, torch.tensor([0]), 100_000, 2, gen, stratify_first_step=True)
    assert torch.equal(torch.bincount(steps[0], minlength=4), torch.tensor([20000, 20000, 40000, 20000]))
    pair = torch.bincount(steps[0] * 4 + steps[1], minlength=16).double().view(4, 4)
    A = dense_A(ei, 4)
    torch.testing.assert_close(pair / pair.sum(1, keepdim=True), A / A.sum(1, keepdim=True), atol=1e-2, rtol=0)


def test_subset_rows_match_and_cost_less():
    ei = random_graph(200, 1000)
    x = torch.randn(200, 8)
    w = ppr_weights(0.1, 6)
    kw = dict(rmax=1e-3, walks_per_node=10, return_stats=True, push_all_dense=False)  # leftovers on every level
    all_rows, full = gbp_precompute(x, ei, w, **kw)
    nodes = torch.arange(0, 200, 10)
    sub_rows, sub = gbp_precompute(x, ei, w, nodes=nodes, **kw)
    assert sub_rows.shape == (20, 8)
    assert sub.walk_steps == 20 * 10 * 6 and full.walk_steps == 200 * 10 * 6
    assert sub.correction_updates < full.correction_updates
    assert sub.push_edge_updates == full.push_edge_updates  # the push from the features is shared
    assert sub.total_work < full.total_work
    # Without walks, a subset's rows are exactly those of the full result.
    torch.testing.assert_close(
        gbp_precompute(x, ei, w, rmax=1e-3, nodes=nodes), gbp_precompute(x, ei, w, rmax=1e-3)[nodes]
    )
    mask = torch.zeros(200, dtype=torch.bool)
    mask[nodes] = True
    torch.testing.assert_close(gbp_precompute(x, ei, w, nodes=mask, **kw)[0], sub_rows)


def test_larger_rmax_pushes_less():
    ei = random_graph(200, 1000)
    x = torch.randn(200, 8)
    w = ppr_weights(0.1, 6)
    _, fine = gbp_precompute(x, ei, w, rmax=1e-6, return_stats=True)
    _, coarse = gbp_precompute(x, ei, w, rmax=1e-2, return_stats=True)
    assert coarse.push_edge_updates < fine.push_edge_updates
    assert coarse.pushed_entries < fine.pushed_entries


def test_sparse_and_dense_push_agree_and_chunks_and_seed():
    ei = random_graph(100, 500)
    x = torch.randn(100, 9, dtype=torch.float64)
    w = ppr_weights(0.1, 5)
    kw = dict(rmax=2e-3, walks_per_node=5, seed=7, push_all_dense=False)  # the paper's rule on every level
    sparse, s1 = gbp_precompute(x, ei, w, dense_fraction=float("inf"), return_stats=True, **kw)
    dense, s2 = gbp_precompute(x, ei, w, dense_fraction=0.0, return_stats=True, **kw)
    assert s1.dense_push_levels == 0 and s2.sparse_push_levels == 0
    torch.testing.assert_close(sparse, dense)
    torch.testing.assert_close(gbp_precompute(x, ei, w, chunk_size=2, **kw), dense)
    torch.testing.assert_close(gbp_precompute(x, ei, w, **kw), dense)  # same seed, same walks
    assert not torch.equal(gbp_precompute(x, ei, w, rmax=2e-3, walks_per_node=5, seed=8, push_all_dense=False), dense)


@pytest.mark.parametrize("chunk_elements", [1 << 24, 5])
def test_row_sparse_push_equals_dense_push(monkeypatch, chunk_elements):
    # push_frontier on a row-sparse residue == W (R * 1[|R| > theta]) with dense matrices; same work counts.
    monkeypatch.setattr(forward_push, "_SCATTER_ELEMENTS", chunk_elements)  # 5: the scatter runs in many slices
    n, c = 60, 4
    ei = random_graph(n, 150, seed=3)
    T = build_transition(ei, n, dtype=torch.float64)
    A = dense_A(ei, n)
    W = A / A.sum(1, keepdim=True)
    g = torch.Generator().manual_seed(1)
    rows = torch.tensor([2, 5, 11, 30, 31, 59])
    block = torch.randn(rows.numel(), c, generator=g, dtype=torch.float64)
    threshold = torch.full((c,), 0.5, dtype=torch.float64)
    R = torch.zeros(n, c, dtype=torch.float64)
    R[rows] = block
    mask = R.abs() > threshold
    ref = W @ torch.where(mask, R, 0.0)
    sparse_count, dense_count = PushCounter(), PushCounter()
    rows_next, block_next, pushed = push_frontier(T, rows, block, threshold, sparse_count, float("inf"))
    assert sparse_count.sparse_levels == 1 and rows_next is not None
    assert torch.equal(rows_next, torch.unique(rows_next)) and block_next.shape == (rows_next.numel(), c)
    torch.testing.assert_close(densify(T, rows_next, block_next), ref, rtol=0, atol=1e-12)
    assert ref[~torch.isin(torch.arange(n), rows_next)].abs().max() == 0  # every nonzero row is kept
    assert torch.equal(pushed, mask[rows])
    d_rows, d_block, _ = push_frontier(T, rows, block, threshold, dense_count, 0.0)
    assert d_rows is None and dense_count.dense_levels == 1
    torch.testing.assert_close(d_block, ref, rtol=0, atol=1e-12)
    assert sparse_count.edge_updates == dense_count.edge_updates == int((mask.sum(1) * T.out_count).sum())
    assert sparse_count.pushed_entries == int(mask.sum())
    # The dense-input wrapper and an empty frontier.
    R_next, m = push_level(T, R, threshold, PushCounter(), float("inf"))
    torch.testing.assert_close(R_next, ref, rtol=0, atol=1e-12)
    empty_rows, empty_block, _ = push_frontier(T, rows, block, threshold * 100, PushCounter(), float("inf"))
    assert empty_rows.numel() == 0 and empty_block.shape == (0, c)


def test_row_sparse_levels_exact_and_match_dense_levels():
    # All levels by row scatter (dense_fraction=inf): exact as rmax -> 0, and equal to the all-SpMM run at any
    # rmax, for unsorted nodes with repeats, with and without walks; the default mixes both kinds of level.
    n = 300
    ei = random_graph(n, 700, seed=5)
    x = torch.randn(n, 5, dtype=torch.float64)
    x[torch.randperm(n)[: n // 2]] *= 1e-3  # small residues: frontiers that shrink level by level
    w = ppr_weights(0.15, 8)
    ref = dense_P(x, ei, w, 0.5)
    exact = gbp_precompute(x, ei, w, rmax=1e-14, dense_fraction=float("inf"))
    torch.testing.assert_close(exact, ref, rtol=0, atol=1e-10)
    nodes = torch.tensor([7, 3, 250, 3, 99, 7, 0])
    for walks in (0, 6):
        kw = dict(rmax=3e-3, walks_per_node=walks, nodes=nodes, seed=2, return_stats=True, push_all_dense=False)
        scatter, s1 = gbp_precompute(x, ei, w, dense_fraction=float("inf"), **kw)
        spmm, s2 = gbp_precompute(x, ei, w, dense_fraction=0.0, **kw)
        mixed, s3 = gbp_precompute(x, ei, w, **kw)
        assert s1.dense_push_levels == 0 and s2.sparse_push_levels == 0
        assert s3.dense_push_levels > 0 and s3.sparse_push_levels > 0
        assert s1.push_edge_updates == s2.push_edge_updates == s3.push_edge_updates
        torch.testing.assert_close(scatter, spmm, rtol=0, atol=1e-12)
        torch.testing.assert_close(mixed, spmm, rtol=0, atol=1e-12)
        if walks == 0:
            torch.testing.assert_close(scatter, gbp_precompute(x, ei, w, rmax=3e-3, push_all_dense=False)[nodes],
                                       rtol=0, atol=1e-12)
        else:
            assert not torch.equal(scatter[1], scatter[3])  # a repeated node walks again (independent walks)


def test_prebuilt_transition_and_pyg_data():
    from torch_geometric.data import Data

    ei = random_graph(30, 100)
    x = torch.randn(30, 4, dtype=torch.float64)
    w = ppr_weights(0.1, 4)
    ref = gbp_precompute(x, ei, w, rmax=1e-4)
    T = transition_matrix(ei, 30, dtype=torch.float64)
    torch.testing.assert_close(gbp_precompute(x, T, w, rmax=1e-4), ref)
    torch.testing.assert_close(gbp_precompute(x, Data(edge_index=ei, num_nodes=30), w, rmax=1e-4), ref)


def test_model_shapes_and_graph_mode():
    ei = random_graph(30, 100)
    x = torch.randn(30, 6)
    model = GBP(6, 16, 3, num_layers=3, dropout=0.0).eval()
    feats = gbp_precompute(x, ei, model.weights, rmax=model.rmax)
    torch.testing.assert_close(model(x, ei), model(feats))
    assert model(feats).shape == (30, 3)
    assert "GBP(6, 16, 3" in repr(model)


def test_no_self_loops_without_isolated_nodes_is_exact():
    n = 6
    ei = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])  # a directed cycle: every in-degree is 1
    x = torch.randn(n, 2, dtype=torch.float64)
    w = ppr_weights(0.3, 4)
    A = dense_A(ei, n, self_loops=False)
    expected = sum(float(w[l]) * torch.linalg.matrix_power(A, l) @ x for l in range(5))
    torch.testing.assert_close(gbp_precompute(x, ei, w, rmax=1e-15, add_self_loops=False), expected)


@pytest.mark.parametrize("bad, match", [
    (dict(nan=True), "NaN"),
    (dict(rmax=0.0), "rmax must be a positive"),
    (dict(rmax=-1e-3), "rmax must be a positive"),
    (dict(rmax=float("nan")), "rmax must be a positive"),
    (dict(nodes=torch.tensor([0, 12])), "out of range"),
    (dict(nodes=torch.tensor([-1])), "out of range"),
    (dict(r=1.5), "0 <= r <= 1"),
    (dict(weights=[]), "non-empty"),
    (dict(walks_per_node=-2), "walks_per_node"),
    (dict(add_self_loops=False), "no in-edges"),
    (dict(edge=torch.tensor([[0, 10], [1, 0]])), "out of range"),
])
def test_bad_input(bad, match):
    n = 10
    x = torch.randn(n, 3)
    if bad.pop("nan", False):
        x[4, 0] = float("nan")
    ei = bad.pop("edge", torch.tensor([[0, 1, 2], [1, 2, 0]]))  # nodes 3..9 have no in-edges
    kwargs = dict(weights=ppr_weights(0.1, 3), rmax=1e-4)
    kwargs.update(bad)
    with pytest.raises(ValueError, match=match):
        gbp_precompute(x, ei, **kwargs)


@pytest.mark.parametrize("stratify", [True, False])
@pytest.mark.parametrize("all_nodes", [False, True])
def test_nothing_pushed_level_zero_matches_per_walk_reference(stratify, all_nodes):
    # rmax so large that no entry is pushed: level 0's residue D^-r X is never formed, its rows are scaled as the
    # walks read them, and step 1's visits are merged into runs (8 stratified walks on low in-degrees). The
    # result equals the per-walk textbook sum on the same walks, in the caller's (repeated, unsorted) order.
    n = 90
    ei = random_graph(n, 120, seed=4)
    x = torch.randn(n, 5, dtype=torch.float64)
    nodes = None if all_nodes else torch.tensor([17, 3, 80, 3, 0, 55, 54])
    for w in (ppr_weights(0.1, 5), heat_kernel_weights(1.0, 3)):
        kw = dict(r=0.3, rmax=10.0, walks_per_node=8, seed=2, dense_fraction=0.1, push_all_dense=True,
                  stratify_walks=stratify)
        got, st = gbp_precompute(x, ei, w, nodes=nodes, return_stats=True, **kw)
        ref = reference_estimate(x, ei, w, nodes=torch.arange(n) if nodes is None else nodes, **kw)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
        assert st.pushed_entries == 0 and st.correction_updates > 0


def test_first_step_runs_merge_only_equal_neighbours_of_one_target():
    ei = random_graph(30, 40, seed=1)
    T = transition_matrix(ei, 30, dtype=torch.float64)
    nodes = torch.tensor([2, 2, 7, 29])
    pos = sample_walks(T, nodes, 10, 3, torch.Generator().manual_seed(0), stratify_first_step=True)
    corr = gbp_module._WalkCorrection(pos, 30, nodes.numel(), 10, [1.0] * 4, torch.float64)
    assert corr.first is not None  # stratified walks on small in-degrees: far fewer runs than walks
    table = torch.randn(30, 2, dtype=torch.float64)
    scale = torch.rand(30, dtype=torch.float64)
    for row_scale in (None, scale):
        merged = corr._bag(0, table, row_scale)
        rows = table if row_scale is None else table * scale[:, None]
        torch.testing.assert_close(merged, rows[pos[0]].view(4, 10, 2).sum(1), rtol=0, atol=1e-12)
    iid = sample_walks(T, torch.arange(30), 2, 3, torch.Generator().manual_seed(0))
    assert gbp_module._WalkCorrection(iid, 30, 30, 2, [1.0] * 4, torch.float64).first is None


def test_walk_pick_needs_no_clamp():
    # floor(U * count) < count for the largest uniform below 1 (1 - 2^-53) and every integer count < 2^53
    # (all counts up to 2^20, and large ones around powers of two): _step relies on it.
    u = torch.tensor(1.0 - 2.0 ** -53, dtype=torch.float64)
    counts = torch.arange(1, 2 ** 20 + 1, dtype=torch.float64)
    big = torch.tensor([2.0 ** k + d for k in range(20, 53) for d in (-1, 0, 1)], dtype=torch.float64)
    for c in (counts, big):
        assert bool(((u * c).long() < c.long()).all())
    # The stratified first step keeps its uniforms below 1 too, whatever U is.
    ei = torch.tensor([[1, 2], [0, 0]])
    T = build_transition(ei, 3, dtype=torch.float64)
    for n_r in (2, 3, 40, 1000):
        pos = sample_walks(T, torch.tensor([0]), n_r, 1, torch.Generator().manual_seed(n_r), True)
        assert bool(((pos >= 0) & (pos < 3)).all())


def test_walks_are_fixed_by_the_generator_or_the_global_seed():
    ei = random_graph(50, 150, seed=2)
    T = transition_matrix(ei, 50)
    start = torch.arange(50)
    a = sample_walks(T, start, 3, 4, torch.Generator().manual_seed(7))
    b = sample_walks(T, start, 3, 4, torch.Generator().manual_seed(7))
    c = sample_walks(T, start, 3, 4, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(3)
    d = sample_walks(T, start, 3, 4)
    torch.manual_seed(3)
    assert torch.equal(d, sample_walks(T, start, 3, 4))


def test_scaled_abs_stats_in_slabs(monkeypatch):
    monkeypatch.setattr(gbp_module, "_SLAB_BYTES", 64)  # 2 rows of 4 float64 columns per slab
    x = torch.randn(11, 4, dtype=torch.float64)
    s = torch.rand(11, dtype=torch.float64)
    total, peak = gbp_module._scaled_abs_stats(x, s)
    ref = (x * s[:, None]).abs()
    torch.testing.assert_close(total, ref.sum(0), rtol=1e-15, atol=0)
    assert torch.equal(peak, ref.amax(0))
