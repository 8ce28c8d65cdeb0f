"""SEAL datasets and loaders, link splits, heuristics, models and the link-prediction task."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch_geometric.data import Data

from scalegnn.linkpred import (DGCNN, SEALGNN, LinkPredictionTask, SEALDataset, SEALLoader, SEALNodeEncoder,
                               adamic_adar, common_neighbors, extract_enclosing_subgraphs, random_link_split,
                               sample_negative_pairs, seal_datasets, sort_pool_k)

from test_linkpred_extract import random_graph


def keys(pairs, n):
    return set((torch.minimum(pairs[:, 0], pairs[:, 1]) * n + torch.maximum(pairs[:, 0], pairs[:, 1])).tolist())


def cliques_graph(num_cliques=6, size=6):
    """Disjoint cliques joined in a ring by one edge each: links inside cliques are easy to predict."""
    edges = []
    for c in range(num_cliques):
        base = c * size
        edges += [(base + i, base + j) for i in range(size) for j in range(i + 1, size)]
        edges.append((base, ((c + 1) % num_cliques) * size + 1))
    e = torch.tensor(edges).t()
    return Data(edge_index=torch.cat([e, e.flip(0)], dim=1), num_nodes=num_cliques * size)


def test_random_link_split_hides_held_out_edges():
    ei = random_graph(60, 200, 1)
    data = Data(edge_index=ei, num_nodes=60)
    split = random_link_split(data, val=0.1, test=0.2, seed=3)
    n, all_edges = 60, keys(ei.t(), 60)
    observed = keys(split.edge_index.t(), n)
    assert observed == keys(split.pos["train"], n)
    for name in ("valid", "test"):
        assert not (keys(split.pos[name], n) & observed)
    assert keys(split.pos["train"], n) | keys(split.pos["valid"], n) | keys(split.pos["test"], n) == all_edges
    negs = [keys(split.neg[s], n) for s in ("train", "valid", "test")]
    for s, q in zip(("train", "valid", "test"), negs):
        assert len(q) == split.neg[s].size(0) == split.pos[s].size(0)
        assert not (q & all_edges)
        assert all(a != b for a, b in split.neg[s].tolist())
    assert not (negs[0] & negs[1]) and not (negs[0] & negs[2])
    again = random_link_split(data, val=0.1, test=0.2, seed=3)
    assert all(torch.equal(split.pos[k], again.pos[k]) and torch.equal(split.neg[k], again.neg[k]) for k in split.pos)


def test_random_link_split_both_directions():
    ei = random_graph(60, 200, 1)
    data = Data(edge_index=ei, num_nodes=60)
    one = random_link_split(data, val=0.1, test=0.2, seed=3, valedges_as_test_input=True)
    two = random_link_split(data, val=0.1, test=0.2, seed=3, valedges_as_test_input=True,
                            train_both_directions=True)
    p = one.pos["train"]
    assert torch.equal(two.pos["train"], torch.cat([p, p.flip(1)]))
    # the graphs seen and the held-out pairs are those of the plain split
    assert torch.equal(two.edge_index, one.edge_index) and torch.equal(two.test_edge_index, one.test_edge_index)
    for s in ("valid", "test"):
        assert torch.equal(two.pos[s], one.pos[s]) and torch.equal(two.neg[s], one.neg[s])
    # one negative per listed positive: twice as many, distinct non-edges, none held out
    n, q = 60, two.neg["train"]
    assert q.size(0) == 2 * p.size(0) == len(keys(q, n))
    assert not (keys(q, n) & keys(ei.t(), n))
    assert not (keys(q, n) & (keys(two.neg["valid"], n) | keys(two.neg["test"], n)))


def test_sample_negative_pairs():
    ei = random_graph(20, 40, 0)
    neg = sample_negative_pairs(ei, 20, 50, seed=1)
    assert neg.shape == (50, 2) and len(keys(neg, 20)) == 50
    assert not (keys(neg, 20) & keys(ei.t(), 20)) and bool((neg[:, 0] < neg[:, 1]).all())
    full = torch.combinations(torch.arange(4)).t()
    with pytest.raises(ValueError, match="non-edges"):
        sample_negative_pairs(torch.cat([full, full.flip(0)], 1), 4, 1)


def test_heuristics_match_brute_force():
    n = 30
    ei = random_graph(n, 90, 5)
    adj = [set() for _ in range(n)]
    for a, b in ei.t().tolist():
        adj[a].add(b)
    pairs = torch.tensor([[a, b] for a in range(0, n, 3) for b in range(1, n, 4) if a != b])
    cn = common_neighbors(ei, pairs, n)
    aa = adamic_adar(ei, pairs, n)
    for (a, b), c, s in zip(pairs.tolist(), cn.tolist(), aa.tolist()):
        common = adj[a] & adj[b]
        assert c == len(common)
        assert s == pytest.approx(sum(1 / np.log(len(adj[z])) for z in common), rel=1e-12)


def _split_dataset(precompute, **kw):
    data = cliques_graph()
    split = random_link_split(data, val=0.1, test=0.2, seed=0)
    return split, seal_datasets(split, 2, precompute=precompute, **kw)


def test_precomputed_batches_equal_on_the_fly(tmp_path):
    split, fly = _split_dataset(False)
    _, pre = _split_dataset(True)
    idx = [5, 0, 17, 3]
    for name in ("train", "test"):
        a, b = fly[name].__getitems__(idx), pre[name].__getitems__(idx)
        for key in ("edge_index", "batch", "ptr", "node_id", "z", "y", "pair"):
            assert torch.equal(getattr(a, key), getattr(b, key)), key
    # positives have their own edge removed
    assert bool(fly["train"].remove_target[: split.pos["train"].size(0)].all())
    # the cache file is written once and read back
    ds = fly["train"]
    path = tmp_path / "train.pt"
    first = SEALDataset(ds.csr, ds.pairs, ds.labels, ds.num_nodes, 2, precompute=True, cache_path=path)
    assert path.is_file()
    second = SEALDataset(ds.csr, ds.pairs, ds.labels, ds.num_nodes, 2, precompute=True, cache_path=path)
    assert torch.equal(first.store["z"], second.store["z"])
    single = ds[2]
    assert single.num_nodes == int(ds.__getitems__([2]).ptr[1])


def test_loader_with_workers_yields_the_same_batches():
    _, ds = _split_dataset(False, splits=("train",))
    plain = list(SEALLoader(ds["train"], batch_size=8))
    workers = list(SEALLoader(ds["train"], batch_size=8, num_workers=2))
    assert len(plain) == len(workers) == -(-len(ds["train"]) // 8)
    for a, b in zip(plain, workers):
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.z, b.z) and torch.equal(a.y, b.y)


def test_dataset_bad_input():
    ei = random_graph(10, 20, 0)
    with pytest.raises(ValueError, match="labels has 1 entries for 2 pairs"):
        SEALDataset(ei, torch.tensor([[0, 1], [2, 3]]), torch.tensor([1.0]), 10)
    with pytest.raises(ValueError, match="self-pair"):
        SEALDataset(ei, torch.tensor([[2, 2]]), torch.tensor([1.0]), 10)
    with pytest.raises(ValueError, match="cache_path needs precompute"):
        SEALDataset(ei, torch.tensor([[0, 1]]), torch.tensor([1.0]), 10, cache_path="x.pt")
    with pytest.raises(TypeError, match="SEALDataset"):
        SEALLoader([1, 2, 3])


def test_encoder_concatenates_label_features_and_embeddings():
    ei = random_graph(20, 40, 2)
    x = torch.randn(20, 3)
    b = extract_enclosing_subgraphs(ei, torch.tensor([[0, 1], [4, 5]]), 2, x=x)
    enc = SEALNodeEncoder(max_z=4, num_features=3, num_nodes=20, node_embedding_dim=2)
    out = enc(b)
    assert out.shape == (b.num_nodes, 4 + 3 + 2) and enc.out_channels == 9
    assert torch.equal(out[:, :4], torch.nn.functional.one_hot(b.z.clamp(max=3), 4).float())
    assert torch.equal(out[:, 4:7], x[b.node_id])
    assert torch.equal(out[:, 7:], enc.node_embedding.weight[b.node_id])
    emb = SEALNodeEncoder(max_z=10, label_mode="embedding", label_dim=5)
    assert emb(b).shape == (b.num_nodes, 5)
    with pytest.raises(ValueError, match="num_nodes"):
        SEALNodeEncoder(node_embedding_dim=4)
    with pytest.raises(ValueError, match="label_mode"):
        SEALNodeEncoder(label_mode="onehott")


@pytest.mark.parametrize("make", [
    lambda enc: DGCNN(enc, hidden_channels=8, num_layers=2, k=12),
    lambda enc: DGCNN(enc, hidden_channels=8, num_layers=2, k=12, conv="gin"),
    lambda enc: SEALGNN(enc, 8, 2, conv="gcn", pooling="target"),
    lambda enc: SEALGNN(enc, 8, 2, conv="gin", pooling="sum"),
    lambda enc: SEALGNN(enc, 8, 2, conv="gcn", pooling="mean"),
])
def test_models_score_each_link_and_ignore_other_subgraphs(make):
    torch.manual_seed(0)
    ei = random_graph(30, 70, 3)
    pairs = torch.tensor([[0, 1], [4, 9], [2, 20]])
    batch = extract_enclosing_subgraphs(ei, pairs, 2)
    model = make(SEALNodeEncoder(max_z=20)).eval()
    out = model(batch)
    assert out.shape == (3,)
    alone = model(extract_enclosing_subgraphs(ei, pairs[1:2], 2))
    assert torch.allclose(out[1:2], alone, atol=1e-5)
    model.reset_parameters()


def test_sort_pool_k():
    assert sort_pool_k(torch.arange(1, 101), 0.6) == 60
    assert sort_pool_k([3, 4, 5], 0.6) == 10
    with pytest.raises(ValueError):
        sort_pool_k([], 0.6)


class FixedScores(torch.nn.Module):
    """Scores each link by a lookup table of its pair (to test the task's metrics)."""

    def __init__(self, table):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.table = table

    def forward(self, batch):
        return torch.tensor([self.table[tuple(p)] for p in batch.pair.tolist()]) + 0 * self.w


def test_task_metrics_equal_sklearn_and_ogb():
    pytest.importorskip("ogb")
    from ogb.linkproppred import Evaluator

    _, ds = _split_dataset(False, splits=("test",))
    test = ds["test"]
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(len(test), generator=g)
    table = {tuple(p): float(s) for p, s in zip(test.pairs.tolist(), scores)}
    model = FixedScores(table)
    y = test.labels
    task = LinkPredictionTask([], {"test": SEALLoader(test, 5)}, metrics=("auc", "ap", "hits@3"))
    res = task.evaluate(model)
    assert res["test_auc"] == pytest.approx(roc_auc_score(y.numpy(), scores.numpy()))
    assert res["test_ap"] == pytest.approx(average_precision_score(y.numpy(), scores.numpy()))
    ev = Evaluator("ogbl-collab")
    task = LinkPredictionTask([], {"test": SEALLoader(test, 5)}, metrics=("hits@3", "hits@5"), evaluator=ev)
    res2 = task.evaluate(model)
    for k in (3, 5):
        ev.K = k
        ref = ev.eval({"y_pred_pos": scores[y > 0.5], "y_pred_neg": scores[y <= 0.5]})[f"hits@{k}"]
        assert res2[f"test_hits@{k}"] == pytest.approx(ref)
    assert res["test_hits@3"] == pytest.approx(res2["test_hits@3"])
    with pytest.raises(ValueError, match="unknown link metric"):
        LinkPredictionTask([], {}, metrics=("acc",))


def test_seal_learns_clique_links():
    """Trained on the shared Trainer, SEAL separates links inside cliques from links between them."""
    from scalegnn.linkpred import SEALConfig, train_seal

    data = cliques_graph(num_cliques=8, size=6)
    split = random_link_split(data, val=0.1, test=0.2, seed=1)
    cfg = SEALConfig(num_hops=1, model="gcn", lr=1e-2, epochs=15, batch_size=16, monitor="val_auc", seed=0)
    res = train_seal(split, cfg)
    assert res["test_auc"] > 0.9


def test_random_link_split_can_show_validation_edges_to_test_pairs():
    data = Data(edge_index=random_graph(60, 200, 1), num_nodes=60)
    split = random_link_split(data, val=0.1, test=0.2, seed=3, valedges_as_test_input=True)
    seen = keys(split.observed("test").t(), 60)
    assert seen == keys(split.pos["train"], 60) | keys(split.pos["valid"], 60)
    assert not (seen & keys(split.pos["test"], 60))
    assert keys(split.observed("valid").t(), 60) == keys(split.pos["train"], 60)
