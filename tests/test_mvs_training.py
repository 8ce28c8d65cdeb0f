"""MVS-GNN through the shared Trainer, the loader's batches and its input checks."""
import json
import sys

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from scalegnn.data import load_dataset
from scalegnn.sampling import MVSLoader, MVSTask
from scalegnn.train import Trainer


def cora():
    ds = load_dataset()  # the bundled Cora
    return ds.data, {k: v for k, v in ds.split.items()}


@pytest.mark.parametrize("history", [True, False])
def test_trainer_fits_cora(tmp_path, history):
    torch.manual_seed(0)
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, num_hops=1 if history else 2, fanout=5, seed=0)
    task = MVSTask(loader, split, history=history)
    model = GCN(data.num_features, 32, 2, 7, normalize=False, dropout=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    result = Trainer(model, opt, task, epochs=12, out_dir=tmp_path, progress=False).fit()
    assert result.best["val_acc"] > 0.65 and result.best["test_acc"] > 0.65
    assert task.steps == 12 * len(loader) and task.snapshots == 12  # one snapshot per epoch
    if history:
        # layer 0 keeps only A X (X is constant); layer 1 keeps H and A H (32 channels), float32
        assert task.history.memory_bytes() == 4 * 2708 * (1433 + 2 * 32)
    lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["final"] and "val_acc" in lines[0]


def test_uniform_without_history_needs_no_snapshot():
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, sampler="uniform", seed=0)
    task = MVSTask(loader, split, history=False)
    model = GCN(data.num_features, 16, 2, 7, normalize=False)
    task.train_epoch(model, torch.optim.Adam(model.parameters(), lr=0.01))
    assert task.snapshots == 0 and torch.allclose(loader.sampler.probs, torch.full((140,), 20 / 140, dtype=torch.float64))


def test_mvs_snapshot_updates_probabilities():
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, num_hops=1, seed=0)
    task = MVSTask(loader, split, snapshot_every=3)
    model = GCN(data.num_features, 16, 2, 7, normalize=False)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(7):
        task.step(model, opt)
    assert task.snapshots == 3  # before steps 1, 4 and 7
    p = loader.sampler.probs
    assert abs(float(p.sum()) - 20) < 1e-6 and float(p.std()) > 0


def test_empty_poisson_draw_skips_the_update():
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=1, sampler="uniform", seed=0)
    task = MVSTask(loader, split, history=False)
    model = GCN(data.num_features, 8, 2, 7, normalize=False)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    empty = 0
    for _ in range(20):  # P(empty) = (1 - 1/140)^140 ~ 0.37 per step
        before = [p.detach().clone() for p in model.parameters()]
        state = loader.generator.get_state()
        is_empty = loader.sample_batch().batch_size == 0
        loader.generator.set_state(state)
        loss = task.step(model, opt)
        if is_empty:
            empty += 1
            assert loss == 0.0 and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert empty > 0


def test_isolated_nodes_train_and_evaluate():
    g = torch.Generator().manual_seed(0)
    n = 60
    ei = torch.randint(0, 40, (2, 200), generator=g)  # nodes 40..59 have no edges
    ei = torch.cat([ei, ei.flip(0)], 1)
    y = torch.randint(0, 3, (n,), generator=g)
    data = Data(x=torch.randn(n, 5, generator=g) + torch.nn.functional.one_hot(y, 5).float(), edge_index=ei, y=y)
    split = {"train": torch.arange(0, 60, 2), "valid": torch.arange(1, 60, 2)}
    loader = MVSLoader(data, split["train"], batch_size=10, num_hops=1, fanout=3, seed=0)
    task = MVSTask(loader, split)
    model = GCN(5, 8, 2, 3, normalize=False)
    task.snapshot(model)
    model.eval()
    exact, _, _ = task.exact_forward(model)
    batch = loader.sample_batch()
    assert torch.allclose(task.batch_forward(model, batch), exact[batch.n_id[: batch.batch_size]], atol=1e-5)
    assert set(task.evaluate(model)) == {"train_acc", "val_acc"}


def test_multilabel_micro_f1():
    g = torch.Generator().manual_seed(0)
    data = Data(x=torch.randn(30, 4, generator=g), edge_index=torch.randint(0, 30, (2, 90), generator=g),
                y=(torch.rand(30, 5, generator=g) < 0.3).float())
    split = {"train": torch.arange(20), "valid": torch.arange(20, 30)}
    loader = MVSLoader(data, split["train"], batch_size=5, num_hops=1, fanout=2, seed=0)
    task = MVSTask(loader, split, metric="micro_f1")
    model = GCN(4, 8, 2, 5, normalize=False)
    task.train_epoch(model, torch.optim.Adam(model.parameters(), lr=0.01))
    metrics = task.evaluate(model)
    assert set(metrics) == {"train_micro_f1", "val_micro_f1"} and 0 <= metrics["val_micro_f1"] <= 1
    with pytest.raises(ValueError, match="single-label"):
        MVSTask(loader, split, metric="acc")


def test_bad_input():
    data, split = cora()
    with pytest.raises(ValueError, match="larger than the training set"):
        MVSLoader(data, split["train"], batch_size=141)
    with pytest.raises(ValueError, match="batch_size"):
        MVSLoader(data, split["train"], batch_size=0)
    with pytest.raises(ValueError, match="train_ids"):
        MVSLoader(data, torch.tensor([0, 5000]), batch_size=1)
    with pytest.raises(ValueError, match="fanout"):
        MVSLoader(data, split["train"], batch_size=5, fanout=[5])
    with pytest.raises(ValueError, match="mode"):
        MVSLoader(data, split["train"], batch_size=5, sampler="saint")
    loader = MVSLoader(data, split["train"], batch_size=5, num_hops=2)
    task = MVSTask(loader, split, history=True)
    model = GCN(data.num_features, 8, 2, 7, normalize=False)
    with pytest.raises(ValueError, match="num_hops=1"):
        task.step(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="normalize=False"):
        MVSTask(loader, split, history=False).step(GCN(data.num_features, 8, 2, 7), None)
    with pytest.raises(TypeError, match="GCNConv"):
        from torch_geometric.nn.models import GraphSAGE
        MVSTask(loader, split, history=False).step(GraphSAGE(data.num_features, 8, 2, 7), None)


@pytest.mark.realdata
def test_citeseer_mvs_accuracy(real_data_root):
    torch.manual_seed(0)
    ds = load_dataset("CiteSeer", root=real_data_root)
    loader = MVSLoader(ds.data, ds.split["train"], batch_size=20, num_hops=1, fanout=5, seed=0)
    task = MVSTask(loader, ds.split)
    model = GCN(ds.num_features, 64, 2, ds.num_classes, normalize=False, dropout=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    result = Trainer(model, opt, task, epochs=20, progress=False).fit()
    assert result.best["test_acc"] > 0.66  # the GCN paper reports 70.3 full-batch


def test_micro_f1_against_sklearn():
    from sklearn.metrics import f1_score

    g = torch.Generator().manual_seed(1)
    y = (torch.rand(50, 6, generator=g) < 0.3).float()
    logits = torch.randn(50, 6, generator=g)
    from scalegnn.sampling import micro_f1

    assert micro_f1(y, logits, top_k=False) == pytest.approx(f1_score(y.numpy(), (logits > 0).numpy(), average="micro"))
    k = y.sum(1, keepdim=True)
    top = torch.zeros_like(y, dtype=torch.bool)
    for i in range(50):
        top[i, logits[i].topk(int(k[i])).indices] = True
    assert micro_f1(y, logits) == pytest.approx(f1_score(y.numpy(), top.numpy(), average="micro"))


def _example():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "mvs_gnn.py"
    spec = importlib.util.spec_from_file_location("_example_mvs_gnn", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the example's dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_example_runs_on_a_synthetic_graph(tmp_path):
    best = _example().main(["--dataset", "synthetic-sbm-2k-20k", "--epochs", "2", "--batch-size", "128",
                            "--out", str(tmp_path), "--threads", "1"])
    assert best["val_acc"] > 0.5  # 40 planted classes: chance is 0.025
    assert (tmp_path / "metrics.jsonl").exists()


def test_spectral_features_are_leading_eigenvectors():
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 30, (2, 120), generator=g)
    ei = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)
    ei = ei[:, ei[0] != ei[1]]
    x = _example().spectral_features(ei, 30, dim=4).double()
    a = torch.zeros(30, 30, dtype=torch.float64)
    a[ei[1], ei[0]] = 1.0
    d = a.sum(1).clamp(min=1e-12).rsqrt() * (a.sum(1) > 0)
    m = d[:, None] * a * d[None, :]
    vals, vecs = torch.linalg.eigh(m)
    top = vecs[:, -4:]
    # standardized columns, each in span(leading eigenvectors, constant vector)
    assert torch.allclose(x.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(4, dtype=torch.float64), atol=1e-5)
    basis = torch.cat([top, torch.ones(30, 1, dtype=torch.float64) / 30 ** 0.5], 1)
    q, _ = torch.linalg.qr(basis)
    assert torch.allclose(q @ (q.t() @ x), x, atol=1e-5)
    assert not torch.allclose(vecs[:, :4] @ (vecs[:, :4].t() @ x), x, atol=1e-2)  # not the trailing ones


@pytest.mark.slow  # the 64 eigenvectors take ~20 s idle, minutes on a loaded machine
@pytest.mark.realdata
def test_blogcatalog_node_task(real_data_root):
    nt = _example().blogcatalog_node_task(real_data_root)
    assert nt.data.x.shape == (10312, 64) and nt.data.y.shape == (10312, 39) and nt.metric == "micro_f1"
    assert sum(len(v) for v in nt.split.values()) == 10312


def _gcn_forward(model, batch):
    return model(batch.x, batch.edge_index, batch.edge_weight)


@pytest.mark.parametrize("multilabel", [False, True])
def test_minibatch_node_task_honours_loss_weight(multilabel):
    """A weighted MVS batch through the generic MiniBatchNodeTask: sum_i w_i l_i, equal to MVSTask's loss."""
    import torch.nn.functional as F

    from scalegnn.train import MiniBatchNodeTask

    g = torch.Generator().manual_seed(3)
    n, c = 50, 4
    ei = torch.randint(0, n, (2, 200), generator=g)
    y = (torch.rand(n, c, generator=g) < 0.4).float() if multilabel else torch.randint(0, c, (n,), generator=g)
    if multilabel:
        y[0, 1] = float("nan")  # an unlabeled entry
    data = Data(x=torch.randn(n, 6, generator=g), edge_index=ei, y=y)
    split = {"train": torch.arange(30), "valid": torch.arange(30, 50)}
    metric = "micro_f1" if multilabel else "acc"
    loader = MVSLoader(data, split["train"], batch_size=8, num_hops=2, fanout=3, seed=0)
    loader.update_scores(torch.rand(30, generator=g) + 0.05)  # non-uniform weights
    batch = loader.sample_batch()
    assert batch.batch_size > 0 and float(batch.loss_weight.std()) > 0
    model = GCN(6, 8, 2, c, normalize=False, dropout=0.0)
    task = MiniBatchNodeTask([batch], data, split, metric="rocauc" if multilabel else "acc",
                             batch_forward=_gcn_forward)
    loss, rows = task.batch_loss(model, batch)
    out = model(batch.x, batch.edge_index, batch.edge_weight)[: batch.batch_size]
    yb = batch.y[: batch.batch_size]
    if multilabel:
        lab = ~torch.isnan(yb)
        terms = F.binary_cross_entropy_with_logits(out, torch.nan_to_num(yb), reduction="none")
        per_node = torch.stack([terms[i][lab[i]].mean() for i in range(batch.batch_size)])
    else:
        per_node = torch.stack([F.cross_entropy(out[i:i + 1], yb[i:i + 1]) for i in range(batch.batch_size)])
    direct = float((batch.loss_weight.double() * per_node.detach().double()).sum())
    assert rows == batch.batch_size and float(loss) == pytest.approx(direct, rel=1e-6)
    # unweighted mean is not what it computes (the weights differ)
    assert abs(float(loss) - float(per_node.mean())) > 1e-4
    mvs = MVSTask(loader, split, metric=metric, history=False)
    assert float(mvs.batch_loss(model, batch)) == pytest.approx(float(loss), rel=1e-6)
    # train_epoch takes exactly this loss's gradient step
    ref = [p.detach().clone() for p in model.parameters()]
    grads = torch.autograd.grad(task.batch_loss(model, batch)[0], list(model.parameters()))
    epoch_loss = task.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.5))
    assert epoch_loss == pytest.approx(direct, rel=1e-6)
    for p0, gr, p1 in zip(ref, grads, model.parameters()):
        assert torch.allclose(p0 - 0.5 * gr, p1, atol=1e-6)


def test_minibatch_node_task_rejects_bad_loss_weight():
    from scalegnn.train import MiniBatchNodeTask

    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, seed=0)
    batch = loader.sample_batch()
    task = MiniBatchNodeTask([batch], data, split, batch_forward=_gcn_forward)
    model = GCN(data.num_features, 8, 2, 7, normalize=False)
    for bad, err, match in [(batch.loss_weight[:-1], ValueError, "loss rows"),
                            (-batch.loss_weight, ValueError, ">= 0"),
                            (batch.loss_weight * float("nan"), ValueError, "finite"),
                            (torch.ones(batch.batch_size, dtype=torch.long), TypeError, "floating")]:
        b = batch.clone()
        b.loss_weight = bad
        with pytest.raises(err, match=match):
            task.batch_loss(model, b)


def test_loader_scores_bad_input_and_all_zero():
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, seed=0)
    n = split["train"].numel()
    bad = torch.ones(n)
    bad[3] = -1.0
    with pytest.raises(ValueError, match=">= 0"):
        loader.update_scores(bad)
    bad[3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        loader.update_scores(bad)
    with pytest.raises(ValueError, match="140 training nodes"):
        loader.update_scores(torch.ones(n + 1))
    # all-zero scores (every training node fitted exactly): documented fallback to uniform sampling
    with pytest.warns(RuntimeWarning, match="all node scores are zero"):
        p = loader.update_scores(torch.zeros(n))
    assert torch.allclose(p, torch.full((n,), 20 / n, dtype=torch.float64))
    batch = loader.sample_batch()
    assert torch.allclose(batch.loss_weight, torch.full((batch.batch_size,), 1 / 20))


def test_batch_size_equal_to_train_set_takes_every_node():
    data, split = cora()
    n = split["train"].numel()
    loader = MVSLoader(data, split["train"], batch_size=n, seed=0)
    loader.update_scores(torch.rand(n) + 0.1)
    batch = loader.sample_batch()
    assert batch.batch_size == n and torch.equal(batch.n_id[:n].sort().values, split["train"].sort().values)
    assert torch.allclose(batch.loss_weight, torch.full((n,), 1 / n))  # the exact mean loss


def test_snapshot_of_a_diverged_model_is_a_clear_error():
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, num_hops=1, seed=0)
    task = MVSTask(loader, split)
    model = GCN(data.num_features, 8, 2, 7, normalize=False)
    with torch.no_grad():
        model.convs[1].lin.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="not finite.*diverged"):
        task.snapshot(model)


def test_isolated_seeds_without_history_are_exact():
    """Isolated training nodes as seeds of a 2-hop sampled batch: their aggregation is the self-loop only."""
    g = torch.Generator().manual_seed(1)
    n = 30
    ei = torch.randint(0, 20, (2, 60), generator=g)  # nodes 20..29 are isolated
    ei = torch.cat([ei, ei.flip(0)], 1)
    y = torch.randint(0, 3, (n,), generator=g)
    data = Data(x=torch.randn(n, 4, generator=g), edge_index=ei, y=y)
    split = {"train": torch.arange(20, 30), "valid": torch.arange(0, 20)}
    loader = MVSLoader(data, split["train"], batch_size=10, num_hops=2, fanout=2, seed=0)
    task = MVSTask(loader, split, history=False)
    model = GCN(4, 8, 2, 3, normalize=False).eval()
    task.snapshot(model)  # scores of isolated nodes are finite and positive
    assert bool((loader.sampler.scores > 0).all()) and bool(torch.isfinite(loader.sampler.scores).all())
    batch = loader.sample_batch()
    assert batch.num_nodes == batch.batch_size == 10  # no neighbours were added
    exact, _, _ = task.exact_forward(model)
    assert torch.allclose(task.batch_forward(model, batch), exact[batch.n_id], atol=1e-5)


@pytest.mark.parametrize("history", [True, False])
def test_batch_score_refresh_equals_exact_scores(history):
    """With the weights unchanged (lr 0, no dropout) and an exact batch, the refreshed seed scores are the
    snapshot's closed-form scores; other nodes keep theirs; probabilities still sum to the batch size."""
    data, split = cora()
    loader = MVSLoader(data, split["train"], batch_size=20, num_hops=1 if history else 2,
                       fanout=None, seed=0)
    task = MVSTask(loader, split, history=history, snapshot_every=100)
    model = GCN(data.num_features, 16, 2, 7, normalize=False, dropout=0.0)
    torch.optim.Adam(model.parameters(), lr=0.01)
    task.snapshot(model)
    exact = loader.sampler.scores.clone()
    loader.update_scores(torch.ones(140))
    task.step(model, torch.optim.SGD(model.parameters(), lr=0.0))
    pos = loader.sampler.last_positions
    assert pos.numel() > 0
    assert torch.allclose(loader.sampler.scores[pos], exact[pos], rtol=1e-4)
    rest = torch.ones(140, dtype=torch.bool)
    rest[pos] = False
    assert bool((loader.sampler.scores[rest] == 1).all())
    assert abs(float(loader.sampler.probs.sum()) - 20) < 1e-6
    off = MVSTask(MVSLoader(data, split["train"], batch_size=20, num_hops=1, seed=0), split, refresh_scores=False,
                  snapshot_every=100)
    off.snapshot(model)
    before = off.loader.sampler.scores.clone()
    off.step(model, torch.optim.SGD(model.parameters(), lr=0.0))
    assert torch.equal(off.loader.sampler.scores, before)


def test_sampler_refresh_bad_input():
    from scalegnn.sampling import MVSampler

    sampler = MVSampler(torch.arange(10), 3)
    sampler.update_scores(torch.ones(10))
    with pytest.raises(ValueError, match="2 positions but 1 scores"):
        sampler.refresh(torch.tensor([0, 1]), torch.ones(1))
    with pytest.raises(ValueError, match="index the 10"):
        sampler.refresh(torch.tensor([10]), torch.ones(1))
    with pytest.raises(ValueError, match=">= 0"):
        sampler.refresh(torch.tensor([1]), torch.tensor([-1.0]))
    p = sampler.refresh(torch.tensor([2]), torch.tensor([5.0]))
    assert float(p[2]) > float(p[0]) and abs(float(p.sum()) - 3) < 1e-9
