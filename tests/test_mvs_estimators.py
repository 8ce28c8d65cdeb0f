"""MVS-GNN estimators against full-batch references: unbiasedness, variance, history exactness.

Unbiasedness is checked with a tolerance derived from the sample itself: for R
independent estimates with mean m of a vector whose exact value is g,
E||m - g||^2 = tr(Cov) / R, so the ratio ||m - g||^2 / (tr(Cov_hat) / R) is
about 1 for an unbiased estimator and grows like R * bias^2 / tr(Cov) otherwise.
Every test also shows that the check rejects a biased estimator (power).
"""
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from scalegnn.data import normalized_adjacency
from scalegnn.sampling import (MVSLoader, MVSTask, NormalizedNeighborSampler, output_gradient_norms)


def graph(n=40, e=160, f=6, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (e,), generator=g)
    dst = torch.randint(0, n, (e,), generator=g)
    keep = src != dst
    ei = torch.cat([torch.stack([src[keep], dst[keep]]), torch.stack([dst[keep], src[keep]])], 1)
    ei = torch.unique(ei, dim=1)
    y = torch.randint(0, c, (n,), generator=g)
    x = torch.randn(n, f, generator=g) + 0.7 * torch.nn.functional.one_hot(y, f).float()
    split = {"train": torch.arange(0, 30), "valid": torch.arange(30, 35), "test": torch.arange(35, 40)}
    return Data(x=x, edge_index=ei, y=y, num_nodes=n), split


def model_for(data, c=3, act="relu", seed=0, trained_steps=0, split=None):
    torch.manual_seed(seed)
    model = GCN(data.num_features, 8, 2, c, normalize=False, dropout=0.0, act=act)
    if trained_steps:  # fit partially: a spread of per-node gradient norms, as mid-training
        full = GCN(data.num_features, 8, 2, c, act=act)
        full.load_state_dict(model.state_dict())
        opt = torch.optim.Adam(full.parameters(), lr=0.05)
        for _ in range(trained_steps):
            opt.zero_grad()
            out = full(data.x, data.edge_index)
            torch.nn.functional.cross_entropy(out[split["train"]], data.y[split["train"]]).backward()
            opt.step()
        model.load_state_dict(full.state_dict())
    return model


def flat_grad(model, loss):
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, model.parameters())])


def sample_gradients(task, model, reps):
    model.eval()  # no dropout anyway; eval makes the model deterministic
    out = []
    for _ in range(reps):
        batch = task.loader.sample_batch()
        if batch.batch_size == 0:
            out.append(torch.zeros(sum(p.numel() for p in model.parameters())))
            continue
        out.append(flat_grad(model, task.batch_loss(model, batch)))
    return torch.stack(out).double()


def bias_ratio(samples, exact):
    """||mean - exact||^2 / (tr(Cov_hat) / R): ~1 when unbiased."""
    r = samples.size(0)
    err = float(((samples.mean(0) - exact.double()) ** 2).sum())
    return err / (float(samples.var(0).sum()) / r)


def mse(samples, exact):
    return float(((samples - exact.double()) ** 2).sum(1).mean())


def make_task(data, split, sampler="mvs", history=False, fanout=None, batch_size=8, seed=0):
    loader = MVSLoader(data, split["train"], batch_size=batch_size, num_hops=1 if history else 2,
                       fanout=fanout, sampler=sampler, seed=seed)
    return MVSTask(loader, split, history=history)


def test_exact_forward_equals_pyg_gcn():
    data, split = graph()
    model = model_for(data)
    ref = GCN(data.num_features, 8, 2, 3, dropout=0.0)  # PyG's own normalization
    ref.load_state_dict(model.state_dict())
    task = make_task(data, split)
    logits, _, _ = task.exact_forward(model)
    assert torch.allclose(logits, ref(data.x, data.edge_index), atol=1e-5)


def test_full_neighbourhood_batches_are_exact_and_consumed_by_pyg():
    """With fanout=None the batch subgraph reproduces the full-graph outputs of its seeds."""
    data, split = graph()
    model = model_for(data)
    task = make_task(data, split, fanout=None)
    logits, _, _ = task.exact_forward(model)
    for _ in range(5):
        batch = task.loader.sample_batch()
        assert batch.n_id[: batch.batch_size].tolist() == sorted(batch.n_id[: batch.batch_size].tolist())
        out = model(batch.x, batch.edge_index, batch.edge_weight)[: batch.batch_size]
        assert torch.allclose(out, logits[batch.n_id[: batch.batch_size]], atol=1e-5)
        assert torch.equal(batch.y, data.y[batch.n_id]) and torch.equal(batch.x, data.x[batch.n_id])


@pytest.mark.parametrize("sampler", ["mvs", "uniform"])
def test_node_sampling_loss_and_gradient_unbiased(sampler):
    data, split = graph()
    model = model_for(data, trained_steps=30, split=split)
    task = make_task(data, split, sampler=sampler, fanout=None)
    task.snapshot(model)
    exact_loss = task.full_loss(model)
    exact = flat_grad(model, exact_loss)
    grads = sample_gradients(task, model, 1500)
    assert bias_ratio(grads, exact) < 4.0
    losses = torch.tensor([float(task.batch_loss(model, task.loader.sample_batch()).detach()) for _ in range(1500)])
    z = (losses.mean() - float(exact_loss.detach())) / (losses.std() / 1500 ** 0.5)
    assert abs(float(z)) < 4.0
    # power: the plain batch mean (no 1/(n p) weights) is biased under MVS and the check sees it
    if sampler == "mvs":
        biased = []
        for _ in range(300):
            b = task.loader.sample_batch()
            out = task.batch_forward(model, b)
            biased.append(flat_grad(model, task.node_losses(out, b.y[: b.batch_size]).mean()))
        assert bias_ratio(torch.stack(biased).double(), exact) > 20.0


def per_node_gradients(task, model):
    logits, _, _ = task.exact_forward(model)
    losses = task.node_losses(logits, task.data.y)
    rows = []
    for i in task.loader.train_ids.tolist():
        grads = torch.autograd.grad(losses[i], list(model.parameters()), retain_graph=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    return torch.stack(rows).double()


def test_mvs_gradient_variance_below_uniform():
    """Measured at the same expected batch size with exact embeddings: MVS beats uniform node sampling
    (Poisson and fixed-size), and each measured variance matches sum_i (1 - p_i)/p_i ||g_i||^2 / n^2."""
    data, split = graph()
    model = model_for(data, trained_steps=100, split=split)  # mid-training: well- and badly-fit nodes
    per_node = None
    results, predicted = {}, {}
    for sampler in ("mvs", "uniform"):
        task = make_task(data, split, sampler=sampler, fanout=None, seed=1)
        task.snapshot(model)
        if per_node is None:
            per_node = per_node_gradients(task, model)
            exact = per_node.mean(0)
        p = task.loader.sampler.probs
        predicted[sampler] = float(((1 - p) / p * per_node.pow(2).sum(1)).sum()) / 30 ** 2
        results[sampler] = mse(sample_gradients(task, model, 1000), exact)
        assert results[sampler] == pytest.approx(predicted[sampler], rel=0.15)
    # uniform without replacement (the usual fixed-size mini-batch, weights 1/B)
    g = torch.Generator().manual_seed(2)
    fixed = []
    for _ in range(1000):
        seeds = split["train"][torch.randperm(30, generator=g)[:8]].sort().values
        sub = task.loader.neighbors.sample(seeds, 2, None, g)
        out = model(data.x[sub.n_id], sub.edge_index, sub.edge_weight)[:8]
        fixed.append(flat_grad(model, task.node_losses(out, data.y[seeds]).mean()))
    results["uniform_fixed"] = mse(torch.stack(fixed).double(), exact)
    assert results["mvs"] < 0.8 * results["uniform"], results
    assert results["mvs"] < 0.8 * results["uniform_fixed"], results


def test_neighbor_sampling_unbiased_for_a_linear_model():
    """Fan-out 2 with |N(i)|/k weights: the seed outputs of a linear 2-layer GCN average to the exact ones."""
    data, split = graph(e=300)
    model = model_for(data, act=None)
    task = make_task(data, split, fanout=2, batch_size=30)  # every training node is a seed
    exact, _, _ = task.exact_forward(model)
    exact = exact[split["train"]].detach()
    reps = 1500
    outs = torch.stack([model(b.x, b.edge_index, b.edge_weight)[: b.batch_size].detach().reshape(-1)
                        for b in (task.loader.sample_batch() for _ in range(reps))]).double()
    assert bias_ratio(outs, exact.reshape(-1)) < 4.0
    assert float(outs.var(0).sum()) > 1e-3  # the fan-out really samples
    # power: dropping the |N(i)|/k correction is caught
    loader = task.loader
    uncorrected = []
    for _ in range(300):
        b = loader.sample_batch()
        w = b.edge_weight.clone()
        src, dst = b.edge_index
        off = src != dst
        w[off] = loader.adj.to_dense()[b.n_id[dst[off]], b.n_id[src[off]]]
        uncorrected.append(model(b.x, b.edge_index, w)[: b.batch_size].detach().reshape(-1))
    assert bias_ratio(torch.stack(uncorrected).double(), exact.reshape(-1)) > 20.0


def test_neighbor_sampler_weights_and_isolated_nodes():
    # node 4 is isolated; node 0 has 3 neighbours
    ei = torch.tensor([[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]])
    adj = normalized_adjacency(ei, 5)
    sampler = NormalizedNeighborSampler(adj)
    assert sampler.degree.tolist() == [3, 1, 1, 1, 0]
    g = torch.Generator().manual_seed(0)
    sub = sampler.sample(torch.tensor([4]), 2, 1, g)
    assert sub.n_id.tolist() == [4] and sub.edge_index.tolist() == [[0], [0]]
    assert torch.allclose(sub.edge_weight, torch.tensor([1.0]))  # deg 1 (self-loop only): exact aggregation
    sub = sampler.sample(torch.tensor([0]), 1, 2, g)
    dense = adj.to_dense()
    off = sub.edge_index[0] != sub.edge_index[1]
    assert int(off.sum()) == 2
    for (s, d), w in zip(sub.edge_index[:, off].t().tolist(), sub.edge_weight[off].tolist()):
        assert w == pytest.approx(float(dense[sub.n_id[d], sub.n_id[s]]) * 3 / 2)
    assert sub.num_sampled_nodes == [1, 2]
    with pytest.raises(ValueError, match="repeated"):
        sampler.sample(torch.tensor([1, 1]), 1)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        sampler.sample(torch.tensor([7]), 1)
    with pytest.raises(ValueError, match="fanout"):
        sampler.sample(torch.tensor([1]), 1, 0)


def test_history_makes_the_forward_exact_when_weights_are_unchanged():
    data, split = graph(e=300)
    model = model_for(data, trained_steps=20, split=split)
    task = make_task(data, split, history=True, fanout=1)
    task.snapshot(model)
    model.eval()
    exact, _, _ = task.exact_forward(model)
    plain = make_task(data, split, history=False, fanout=1)
    differs = 0
    for _ in range(10):
        batch = task.loader.sample_batch()
        seeds = batch.n_id[: batch.batch_size]
        assert torch.allclose(task.batch_forward(model, batch), exact[seeds], atol=1e-5)
        pb = plain.loader.sample_batch()
        pout = plain.batch_forward(model, pb)
        differs += int(not torch.allclose(pout, exact[pb.n_id[: pb.batch_size]], atol=1e-3))
    assert differs >= 5  # without the history, fan-out 1 is far from exact
    # after a weight update the history is stale: no longer exact, until the next snapshot
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    opt.zero_grad()
    task.full_loss(model).backward()
    opt.step()
    model.eval()
    exact, _, _ = task.exact_forward(model)
    batch = task.loader.sample_batch()
    assert not torch.allclose(task.batch_forward(model, batch), exact[batch.n_id[: batch.batch_size]], atol=1e-4)
    task.snapshot(model)
    assert torch.allclose(task.batch_forward(model, batch), exact[batch.n_id[: batch.batch_size]], atol=1e-5)


def test_history_gradient_unbiased_with_lower_variance():
    data, split = graph(e=300)
    model = model_for(data, trained_steps=20, split=split)
    hist = make_task(data, split, history=True, fanout=1, seed=3)
    hist.snapshot(model)
    exact = flat_grad(model, hist.full_loss(model))
    g_hist = sample_gradients(hist, model, 1500)
    assert bias_ratio(g_hist, exact) < 4.0
    plain = make_task(data, split, history=False, fanout=1, seed=3)
    plain.snapshot(model)
    g_plain = sample_gradients(plain, model, 600)
    assert mse(g_hist, exact) < 0.8 * mse(g_plain, exact)


@pytest.mark.parametrize("multilabel", [False, True])
def test_output_gradient_norms_match_autograd(multilabel):
    data, split = graph()
    c = 4 if multilabel else 3
    if multilabel:
        g = torch.Generator().manual_seed(5)
        data.y = (torch.rand(data.num_nodes, c, generator=g) < 0.3).float()
        data.y[0, 1] = float("nan")  # unlabeled entry
    model = model_for(data, c=c)
    loader = MVSLoader(data, split["train"], batch_size=8, num_hops=2, fanout=None, seed=0)
    task = MVSTask(loader, split, metric="micro_f1" if multilabel else "acc", history=False)
    logits, _, aggs = task.exact_forward(model)
    losses = task.node_losses(logits, data.y)
    last = model.convs[-1]
    closed = output_gradient_norms(logits, data.y, aggs[-1], "bce" if multilabel else "ce")
    for i in range(data.num_nodes):
        gw, gb = torch.autograd.grad(losses[i], [last.lin.weight, last.bias], retain_graph=True)
        ref = torch.sqrt(gw.pow(2).sum() + gb.pow(2).sum())
        assert float(closed[i]) == pytest.approx(float(ref), rel=1e-4, abs=1e-7)
