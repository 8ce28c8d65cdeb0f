"""minCUT pooling: the sparse path equals PyG's dense_mincut_pool, per graph, safely."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import dense_mincut_pool as pyg_dense_mincut_pool
from torch_geometric.utils import to_dense_adj, to_dense_batch

from scalegnn.nn import mincut_pool as mp
from scalegnn.nn.mincut_pool import MinCutPool, dense_mincut_pool, sparse_mincut_pool

DT = torch.float64


def random_batch(sizes, k=4, f=3, density=3, weighted=False, seed=0, self_loops=True):
    g = torch.Generator().manual_seed(seed)
    batch = torch.cat([torch.full((n,), i, dtype=torch.long) for i, n in enumerate(sizes)])
    parts, off = [], 0
    for n in sizes:
        e = torch.randint(0, n, (2, density * n), generator=g)
        if not self_loops:
            e = e[:, e[0] != e[1]]
        parts.append(e + off)
        off += n
    ei = torch.cat(parts, 1)
    x = torch.randn(off, f, generator=g, dtype=DT)
    s = torch.randn(off, k, generator=g, dtype=DT)
    w = torch.rand(ei.size(1), generator=g, dtype=DT) + 0.1 if weighted else None
    return x, ei, s, batch, w


def dense_reference(x, ei, s, batch, w=None):
    xd, mask = to_dense_batch(x, batch)
    sd, _ = to_dense_batch(s, batch)
    if w is None:
        w = torch.ones(ei.size(1), dtype=x.dtype)
    adj = to_dense_adj(ei, batch, w)
    return pyg_dense_mincut_pool(xd, adj, sd, mask)


def assert_close_outputs(out, ref, atol=1e-5):
    names = ("x", "adj", "mincut_loss", "ortho_loss")
    for name, a, b in zip(names, out, ref):
        assert a.shape == b.shape, name
        torch.testing.assert_close(a, b, atol=atol, rtol=0, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_equals_pyg_dense_values_and_gradients(weighted):
    x, ei, s, batch, w = random_batch([7, 12, 5, 9, 16], k=5, f=4, weighted=weighted)
    x.requires_grad_(True)
    s.requires_grad_(True)
    out = sparse_mincut_pool(x, ei, s, batch, w)
    ref = dense_reference(x, ei, s, batch, w)
    assert_close_outputs(out, ref)

    # A generic scalar of all four outputs, so every path carries gradient.
    def objective(o):
        return (o[0] * torch.linspace(-1, 1, o[0].numel(), dtype=DT).view_as(o[0])).sum() \
            + (o[1] ** 2).sum() + 3 * o[2] + 2 * o[3]

    g_out = torch.autograd.grad(objective(out), [x, s])
    g_ref = torch.autograd.grad(objective(ref), [x, s])
    for a, b in zip(g_out, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_edge_weight_gradient_matches_dense():
    x, ei, s, batch, w = random_batch([6, 8], k=3, weighted=True, seed=3)
    w.requires_grad_(True)
    out = sparse_mincut_pool(x, ei, s, batch, w)
    (out[1].sum() + out[2]).backward()
    w_sparse = w.grad.clone()
    w.grad = None
    ref = dense_reference(x, ei, s, batch, w)
    (ref[1].sum() + ref[2]).backward()
    torch.testing.assert_close(w_sparse, w.grad, atol=1e-8, rtol=0)


def test_gradcheck_sparse_path():
    x, ei, s, batch, w = random_batch([4, 6], k=3, f=2, weighted=True, seed=1)
    x.requires_grad_(True)
    s.requires_grad_(True)

    def fn(x_, s_):
        o = sparse_mincut_pool(x_, ei, s_, batch, w)
        return o.x, o.adj, o.mincut_loss, o.ortho_loss

    assert torch.autograd.gradcheck(fn, (x, s))


def test_batch_pools_each_graph_like_alone():
    sizes = [3, 11, 6, 20]
    x, ei, s, batch, w = random_batch(sizes, k=3, weighted=True, seed=2)
    out = sparse_mincut_pool(x, ei, s, batch, w)
    off, mincuts, orthos = 0, [], []
    for b, n in enumerate(sizes):
        keep = (ei[0] >= off) & (ei[0] < off + n)
        alone = sparse_mincut_pool(x[off:off + n], ei[:, keep] - off, s[off:off + n], None, w[keep])
        torch.testing.assert_close(out.x[b], alone.x[0])
        torch.testing.assert_close(out.adj[b], alone.adj[0])
        mincuts.append(alone.mincut_loss)
        orthos.append(alone.ortho_loss)
        off += n
    torch.testing.assert_close(out.mincut_loss, torch.stack(mincuts).mean())
    torch.testing.assert_close(out.ortho_loss, torch.stack(orthos).mean())


def test_size_buckets_cover_mixed_graph_sizes():
    """Graphs of sizes 1..70 fall in different padding buckets; all must match the dense reference."""
    sizes = [1, 2, 3, 4, 5, 8, 9, 16, 17, 33, 70, 2, 31]
    x, ei, s, batch, w = random_batch(sizes, k=3, f=2, weighted=True, seed=5)
    assert_close_outputs(sparse_mincut_pool(x, ei, s, batch, w), dense_reference(x, ei, s, batch, w))
    plan = mp._SegmentPlan(batch, len(sizes), batch.numel())
    padded = sum(g.numel() * size for g, size, _, _ in plan.buckets)
    assert padded <= 2 * batch.numel()


def test_dense_path_matches_pyg():
    x, ei, s, batch, w = random_batch([7, 4, 10], k=3, weighted=True, seed=4)
    xd, mask = to_dense_batch(x, batch)
    sd, _ = to_dense_batch(s, batch)
    adj = to_dense_adj(ei, batch, w)
    assert_close_outputs(dense_mincut_pool(xd, adj, sd, mask), pyg_dense_mincut_pool(xd, adj, sd, mask), atol=1e-12)
    # 2-D single-graph inputs, temperature
    assert_close_outputs(dense_mincut_pool(xd[0], adj[0], sd[0], temp=0.5),
                         pyg_dense_mincut_pool(xd[0], adj[0], sd[0], temp=0.5), atol=1e-12)


def test_temperature_matches_pyg():
    x, ei, s, batch, w = random_batch([8, 5], k=4, seed=6)
    out = sparse_mincut_pool(x, ei, s, batch, w, temp=0.3)
    xd, mask = to_dense_batch(x, batch)
    sd, _ = to_dense_batch(s, batch)
    ref = pyg_dense_mincut_pool(xd, to_dense_adj(ei, batch).to(DT), sd, mask, temp=0.3)
    assert_close_outputs(out, ref)


def cliques(sizes):
    """Disjoint cliques (no self-loops), both edge directions, and the one-hot planted partition."""
    parts, labels, off = [], [], 0
    for c, n in enumerate(sizes):
        idx = torch.arange(off, off + n)
        r, cc = torch.meshgrid(idx, idx, indexing="ij")
        keep = r != cc
        parts.append(torch.stack([r[keep], cc[keep]]))
        labels.append(torch.full((n,), c))
        off += n
    return torch.cat(parts, 1), torch.cat(labels)


def test_planted_partition_is_optimal():
    ei, y = cliques([5, 5, 5])
    k = 3
    onehot = torch.nn.functional.one_hot(y, k).to(DT)
    logits = 1000.0 * onehot  # softmax is exactly one-hot
    x = torch.randn(y.numel(), 2, dtype=DT)
    best = sparse_mincut_pool(x, ei, logits)
    assert abs(best.mincut_loss.item() + 1.0) < 1e-12
    assert abs(best.ortho_loss.item()) < 1e-12
    # Pooled graph of disconnected clusters: the adjacency is all zero (no NaN).
    assert torch.count_nonzero(best.adj) == 0
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        noisy = 4.0 * onehot + torch.randn(logits.shape, generator=g, dtype=DT)
        worse = sparse_mincut_pool(x, ei, noisy)
        assert worse.mincut_loss.item() > best.mincut_loss.item() + 1e-9
        assert worse.mincut_loss.item() + worse.ortho_loss.item() > best.mincut_loss.item() + best.ortho_loss.item()
    # Merging two cliques into one cluster (an unbalanced cut) breaks orthogonality.
    merged = torch.where(y == 2, 1, y)
    m = sparse_mincut_pool(x, ei, 1000.0 * torch.nn.functional.one_hot(merged, k).to(DT))
    assert m.ortho_loss.item() > 0.1


def test_isolated_nodes_empty_clusters_and_edgeless_graphs_are_finite():
    # graph 0: a triangle plus two isolated nodes; graph 1: no edges at all; graph 2: one node.
    ei = torch.tensor([[0, 1, 2, 1, 2, 0], [1, 2, 0, 0, 1, 2]])
    batch = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 2])
    n, k = batch.numel(), 4
    x = torch.randn(n, 3, dtype=DT, requires_grad=True)
    # Cluster 3 is empty (softmax underflows to exactly 0 in it).
    s = torch.zeros(n, k, dtype=DT)
    s[:, 3] = -1e4
    s = (s + torch.randn(n, k, dtype=DT)).requires_grad_(True)
    out = sparse_mincut_pool(x, ei, s, batch)
    for t in out:
        assert torch.isfinite(t).all()
    (out.x.sum() + out.adj.sum() + out.mincut_loss + out.ortho_loss).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(s.grad).all()
    # Graph 0 is unaffected by the safety measures: it equals PyG on its own.
    keep = batch == 0
    ref = pyg_dense_mincut_pool(x[keep].detach(), to_dense_adj(ei, max_num_nodes=5).to(DT), s[keep].detach())
    torch.testing.assert_close(out.x[0].detach(), ref[0][0])
    # Edgeless graphs: zero pooled adjacency and a zero minCUT term (PyG gives NaN).
    assert torch.count_nonzero(out.adj[1:]) == 0
    alone = sparse_mincut_pool(x[:5].detach(), torch.empty(2, 0, dtype=torch.long), s[:5].detach())
    assert alone.mincut_loss.item() == 0.0
    # The dense path is safe in the same way.
    xd, mask = to_dense_batch(x.detach(), batch)
    sd, _ = to_dense_batch(s.detach(), batch)
    dense = dense_mincut_pool(xd, to_dense_adj(ei, batch, max_num_nodes=5).to(DT), sd, mask)
    assert_close_outputs(dense, [t.detach() for t in out], atol=1e-12)


def test_empty_graph_id_in_batch():
    x, ei, s, batch, _ = random_batch([4, 5], k=2, seed=7)
    batch = torch.where(batch == 1, 2, batch)  # graph id 1 has no nodes
    x.requires_grad_(True)
    s.requires_grad_(True)
    out = sparse_mincut_pool(x, ei, s, batch)
    assert out.x.shape[0] == 3
    assert torch.count_nonzero(out.x[1]) == 0 and torch.isfinite(out.mincut_loss) and torch.isfinite(out.ortho_loss)
    (out.x.sum() + out.adj.sum() + out.mincut_loss + out.ortho_loss).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(s.grad).all()


# --- the module -------------------------------------------------------------
def test_module_sparse_dense_and_sparse_tensor_inputs_agree():
    torch.manual_seed(0)
    x, ei, _, batch, w = random_batch([6, 9], k=3, f=5, weighted=True, seed=8)
    pool = MinCutPool(5, 3, mlp_hidden=(8,)).to(DT)
    sparse = pool(x, ei, batch, w)
    xd, mask = to_dense_batch(x, batch)
    dense = pool(xd, to_dense_adj(ei, batch, w), mask=mask)
    assert_close_outputs(sparse, dense, atol=1e-10)
    # A torch.sparse adjacency is the same graph (one graph here).
    keep = batch == 0
    e0 = ei[:, keep[ei[0]]]
    adj = torch.sparse_coo_tensor(e0, w[keep[ei[0]]], (6, 6), check_invariants=True)
    assert_close_outputs(pool(x[keep], adj), pool(x[keep], e0, None, w[keep[ei[0]]]), atol=1e-12)
    a = pool.assign(x)
    assert a.shape == (15, 3)
    torch.testing.assert_close(a.sum(-1), torch.ones(15, dtype=DT))


@pytest.fixture
def one_thread():
    # Tiny ops on a shared, loaded CPU are dominated by thread synchronization.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_module_trains_losses_down(one_thread):
    torch.manual_seed(0)
    ei, y = cliques([6, 6, 6, 6])
    x = torch.nn.functional.one_hot(y, 4).float() + 0.3 * torch.randn(24, 4)
    pool = MinCutPool(4, 4)
    opt = torch.optim.Adam(pool.parameters(), lr=0.05)
    first = None
    for _ in range(200):
        out = pool(x, ei)
        loss = out.mincut_loss + out.ortho_loss
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first - 0.5
    assert loss.item() < -0.9


# --- bad input --------------------------------------------------------------
def test_bad_number_of_clusters():
    with pytest.raises(ValueError, match="at least 2 clusters"):
        MinCutPool(8, 1)
    x, ei, s, batch, _ = random_batch([5, 4], k=3)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        sparse_mincut_pool(x, ei, s[:, :1], batch)
    pool = MinCutPool(3, 20).to(DT)
    with pytest.raises(ValueError, match="exceeds the number of nodes"):
        pool(x, ei)  # one lone 9-node graph into 20 clusters
    with pytest.raises(ValueError, match="exceeds the number of nodes"):
        dense_mincut_pool(x[:5], torch.ones(5, 5, dtype=DT), torch.randn(5, 20, dtype=DT))
    with pytest.raises(ValueError, match="exceeds the number of nodes"):
        sparse_mincut_pool(x[:2], torch.tensor([[0], [1]]), s[:2])


@pytest.mark.parametrize("sizes", [[3], [3, 12, 2]])
def test_graphs_of_a_batch_may_be_smaller_than_k(sizes):
    # Graph classification fixes K from the dataset's average size, so a batch (even of one
    # graph, batch size 1) can hold graphs with fewer nodes than clusters; PyG allows it too.
    x, ei, s, batch, _ = random_batch(sizes, k=5)
    assert_close_outputs(sparse_mincut_pool(x, ei, s, batch), dense_reference(x, ei, s, batch))
    pool = MinCutPool(x.size(1), 5).to(DT)
    out = pool(x, ei, batch)
    assert out[0].shape == (len(sizes), 5, x.size(1)) and torch.isfinite(out[2]) and torch.isfinite(out[3])


def test_unsorted_batch_is_rejected():
    x, ei, s, batch, _ = random_batch([5, 4], k=3)
    bad = batch.flip(0)
    with pytest.raises(ValueError, match="batch must be sorted"):
        sparse_mincut_pool(x, ei, s, bad)
    with pytest.raises(ValueError, match=r"batch has shape"):
        sparse_mincut_pool(x, ei, s, batch[:-1])


def test_size_mismatches_are_rejected():
    x, ei, s, batch, _ = random_batch([5, 4], k=3)
    with pytest.raises(ValueError, match="features and assignments disagree"):
        sparse_mincut_pool(x, ei, s[:-1], batch)
    with pytest.raises(ValueError, match="features and assignments disagree"):
        dense_mincut_pool(x.view(1, 9, -1), torch.zeros(1, 9, 9, dtype=DT), s[:-1].unsqueeze(0))
    with pytest.raises(ValueError, match="edge_weight"):
        sparse_mincut_pool(x, ei, s, batch, torch.ones(3, dtype=DT))
    with pytest.raises(ValueError, match="out of range"):
        sparse_mincut_pool(x, torch.tensor([[0], [9]]), s, batch)
    with pytest.raises(ValueError, match="in_channels"):
        MinCutPool(7, 3).to(DT)(x, ei, batch)


def test_edges_between_graphs_are_rejected():
    x, ei, s, batch, _ = random_batch([5, 4], k=3)
    with pytest.raises(ValueError, match="edges must stay inside their graph"):
        sparse_mincut_pool(x, torch.cat([ei, torch.tensor([[0], [7]])], 1), s, batch)
