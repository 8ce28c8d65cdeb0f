"""Smoke and accuracy checks of the minCUT examples on tiny synthetic settings (and MUTAG when present)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import normalized_mutual_info_score
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from scalegnn.train import GraphClassificationTask, Trainer, seed_everything

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def ring_or_clique(label: int, n: int) -> Data:
    """Class 0: a ring; class 1: two cliques joined by one edge. Features: 1 and the scaled degree."""
    if label == 0:
        i = torch.arange(n)
        e = torch.stack([i, (i + 1) % n])
    else:
        h = n // 2
        parts = []
        for lo, hi in ((0, h), (h, n)):
            idx = torch.arange(lo, hi)
            r, c = torch.meshgrid(idx, idx, indexing="ij")
            parts.append(torch.stack([r[r != c], c[r != c]]))
        parts.append(torch.tensor([[h - 1], [h]]))
        e = torch.cat(parts, 1)
    e = torch.cat([e, e.flip(0)], 1).unique(dim=1)
    deg = torch.bincount(e[0], minlength=n).float()
    x = torch.stack([torch.ones(n), deg / 10, torch.zeros(n)], 1)
    return Data(x=x, edge_index=e, y=torch.tensor([label]))


def test_tu_network_learns_a_structural_task(one_thread):
    tu = load_example("tu_mincut")
    seed_everything(0)
    g = torch.Generator().manual_seed(0)
    graphs = [ring_or_clique(i % 2, int(torch.randint(8, 16, (1,), generator=g))) for i in range(80)]
    split = tu.stratified_split(torch.tensor([d.y.item() for d in graphs]), seed=0)
    assert sum(v.numel() for v in split.values()) == 80
    assert set(torch.cat(list(split.values())).tolist()) == set(range(80))
    loaders = {k: DataLoader([graphs[i] for i in v], batch_size=16, shuffle=(k == "train")) for k, v in split.items()}
    model = tu.MinCutNet(3, 2, avg_nodes=12.0, hidden=16)
    assert (model.k1, model.k2) == (6, 3)
    batch = next(iter(loaders["train"]))
    logits, aux = model(batch)
    assert logits.shape == (batch.num_graphs, 2) and torch.isfinite(aux)
    task = GraphClassificationTask(loaders["train"], loaders["valid"], loaders["test"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    res = Trainer(model, opt, task, epochs=40, patience=20, progress=False).fit()
    assert res.best["test_acc"] >= 0.85


def sbm(sizes, p_in=0.3, p_out=0.005, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(sizes)])
    n = y.numel()
    prob = torch.where(y[:, None] == y[None, :], p_in, p_out)
    upper = torch.triu(torch.rand(n, n, generator=g) < prob, diagonal=1)
    e = upper.nonzero().t()
    x = torch.eye(n)  # identity features: only the structure tells the communities apart
    return Data(x=x, edge_index=torch.cat([e, e.flip(0)], 1), y=y)


def test_clustering_recovers_planted_communities(one_thread):
    cl = load_example("mincut_clustering")
    seed_everything(0)
    data = sbm([40, 40, 40])
    model = cl.ClusterNet(120, 3, hidden=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    res = Trainer(model, opt, cl.ClusteringTask(data), epochs=600, monitor="loss", mode="min",
                  eval_every=25, progress=False).fit()
    assert res.best["mincut_loss"] < -0.8
    pred = model.clusters(data.x, data.edge_index)
    assert normalized_mutual_info_score(data.y.numpy(), pred.numpy()) > 0.8


@pytest.mark.realdata
def test_tu_example_end_to_end_on_mutag(real_data_root, one_thread):
    tu = load_example("tu_mincut")
    res = tu.run("MUTAG", runs=1, epochs=3, patience=3, root=str(real_data_root), verbose=False)
    assert len(res["accs"]) == 1 and 0.0 <= res["accs"][0] <= 100.0


def test_reference_node_features_match_hand_computed_values():
    tu = load_example("tu_mincut")
    # graph 0: triangle 0-1-2 with a pendant 3 on node 0; graph 1: path 0-1-2 (plus a self-loop, ignored)
    e0 = torch.tensor([[0, 1], [1, 2], [0, 2], [0, 3]]).t()
    e1 = torch.tensor([[0, 1], [1, 2], [2, 2]]).t()
    sym = lambda e: torch.cat([e, e.flip(0)], 1)
    attr0, attr1 = torch.tensor([5.0, 7.0, 5.0, 9.0]), torch.tensor([7.0, 7.0, 5.0])
    lab0, lab1 = torch.tensor([0, 1, 1, 0]), torch.tensor([1, 0, 0])
    graphs = [Data(x=torch.cat([attr0[:, None], F.one_hot(lab0, 2).float()], 1), edge_index=sym(e0), y=torch.tensor([0])),
              Data(x=torch.cat([attr1[:, None], F.one_hot(lab1, 2).float()], 1), edge_index=sym(e1), y=torch.tensor([1]))]
    out = tu.reference_node_features(graphs, num_label_columns=2)
    x = torch.cat([g.x for g in out])
    degree = torch.tensor([3, 2, 2, 1, 1, 2, 1])
    cc = torch.tensor([1 / 3, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    cc = (cc - cc.mean()) / cc.std()
    attr = torch.cat([attr0, attr1])
    expected = torch.cat([F.one_hot(degree - 1, 3).float(), cc[:, None],
                          F.one_hot(((attr - 5) / 2).long(), 3).float(),
                          F.one_hot(torch.cat([lab0, lab1]), 2).float()], 1)
    torch.testing.assert_close(x, expected, rtol=0, atol=1e-6)
    assert [g.num_nodes for g in out] == [4, 3] and torch.equal(out[1].edge_index, graphs[1].edge_index)
