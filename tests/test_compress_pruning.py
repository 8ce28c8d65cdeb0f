"""Pruned: schedules reached on time, masks that stay zero through training, channels and heads."""
import math

import pytest
import torch
from torch_geometric.nn import GATConv, SAGEConv
from torch_geometric.nn.models import GCN

from scalegnn import compress
from scalegnn.compress import CompressionScheduler, Pruned
from scalegnn.compress.schedules import sparsity_at
from scalegnn.data import load_dataset
from scalegnn.train import NodeClassificationTask, Trainer


def test_one_cycle_schedule_formula():
    T, s = 100, 0.9
    for t in (0, 10, 50, 90):
        expected = s * (1 + math.exp(-14 + 6)) / (1 + math.exp(-14 * t / T + 6))
        assert sparsity_at("one_cycle", t, T, s) == pytest.approx(expected)
    assert sparsity_at("one_cycle", 0, T, s) < 0.01
    assert sparsity_at("one_cycle", T, T, s) == s
    values = [sparsity_at("one_cycle", t, T, s) for t in range(T + 1)]
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_gradual_schedule_is_zhu_gupta_cubic():
    T, s = 100, 0.8
    assert sparsity_at("gradual", 5, T, s) == 0.0
    for t in (10, 30, 50, 74):
        assert sparsity_at("gradual", t, T, s) == pytest.approx(s * (1 - (1 - (t - 10) / 65) ** 3))
    assert sparsity_at("gradual", 75, T, s) == s
    assert sparsity_at("gradual", 33, T, s, frequency=10) == sparsity_at("gradual", 30, T, s)
    assert sparsity_at("one_shot", 49, T, s) == 0.0 and sparsity_at("one_shot", 50, T, s) == s


@pytest.mark.parametrize("schedule", ["one_cycle", "gradual", "one_shot"])
def test_pruning_reaches_the_scheduled_sparsity_at_every_step(schedule):
    torch.manual_seed(0)
    layer = torch.nn.Linear(40, 25)
    p = Pruned(layer, 0.9, schedule, total_steps=20)
    n = layer.parametrizations.weight.original.numel()
    for step in range(1, 21):
        with torch.no_grad():  # move the weights so magnitudes change between steps
            p.original("weight").add_(0.01 * torch.randn(25, 40))
        p.step()
        expected = round(sparsity_at(schedule, step, 20, 0.9) * n) / n
        assert p.weight_sparsity() == pytest.approx(expected, abs=1e-12)
    assert p.weight_sparsity() == pytest.approx(0.9, abs=1 / n)


def test_masks_only_grow_and_prune_the_smallest_magnitudes():
    layer = torch.nn.Linear(10, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(1.0, 11.0).view(1, 10) * torch.tensor([1, -1] * 5))
    p = Pruned(layer, 0.5, "one_shot")
    w = p.effective_weights()["weight"].detach().view(-1)
    assert torch.equal((w == 0).nonzero().view(-1), torch.arange(5))
    assert torch.equal(w[5:], torch.tensor([-6.0, 7, -8, 9, -10]))


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_masked_weights_stay_zero_through_training_and_persist(scope):
    ds = load_dataset()  # bundled Cora
    torch.manual_seed(0)
    model = compress.apply(GCN(ds.num_features, 16, 2, ds.num_classes), "prune:0.9:gradual", scope=scope)
    sched = CompressionScheduler(model, total_steps=20)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    Trainer(model, opt, NodeClassificationTask(ds.data, ds.split), epochs=20, progress=False, scheduler=sched,
            restore_best=False).fit()
    wrappers = [w for _, w in compress.compression_wrappers(model)]
    for w in wrappers:
        n = w.original("lin.weight").numel()
        if scope == "layer":
            assert w.weight_sparsity() == round(0.9 * n) / n
        mask = w.parametrization("lin.weight").mask
        assert torch.all(w.effective("lin.weight")[mask == 0] == 0)
        assert w.step_count == 20
    total = sum(w.original("lin.weight").numel() for w in wrappers)
    assert compress.global_sparsity(wrappers) == round(0.9 * total) / total
    state = model.state_dict()
    assert any(k.endswith("parametrizations.weight.0.mask") for k in state)
    fresh = compress.apply(GCN(ds.num_features, 16, 2, ds.num_classes), "prune:0.9:gradual", total_steps=20,
                           scope=scope)
    fresh.load_state_dict(state)
    model.eval(), fresh.eval()
    assert torch.equal(model(ds.data.x, ds.data.edge_index), fresh(ds.data.x, ds.data.edge_index))


def test_channel_pruning_removes_whole_output_channels():
    torch.manual_seed(0)
    x, ei = torch.randn(20, 6), torch.randint(0, 20, (2, 60))
    p = Pruned(SAGEConv(6, 8), 0.5, "one_shot", structured="channel")
    pruned = p.pruned_units()["channels8"]
    assert pruned.numel() == 4
    out = p(x, ei)
    assert torch.all(out[:, pruned] == 0) and torch.all(out[:, [c for c in range(8) if c not in pruned]] != 0)
    for name in ("lin_l.weight", "lin_r.weight"):
        assert torch.all(p.effective(name)[pruned] == 0)
    # the channels with the smallest total row norm went
    norms = sum(p.original(n).detach().pow(2).sum(1) for n in ("lin_l.weight", "lin_r.weight"))
    assert set(pruned.tolist()).isdisjoint(set(torch.topk(norms, 4).indices.tolist()))


@pytest.mark.parametrize("criterion", ["magnitude", "taylor"])
def test_head_pruning_removes_whole_gat_heads(criterion):
    torch.manual_seed(0)
    x, ei = torch.randn(20, 6), torch.randint(0, 20, (2, 60))
    conv = GATConv(6, 3, heads=4)
    with torch.no_grad():  # head 2 is nearly dead, head 0 tiny: both should go
        conv.lin.weight[6:9] *= 1e-3
        conv.lin.weight[0:3] *= 1e-2
    p = Pruned(conv, 0.5, "one_shot", criterion=criterion, structured="head", total_steps=4, begin=0.5)
    for _ in range(4):
        p.zero_grad()
        p(x, ei).pow(2).sum().backward()
        p.step()
    heads = p.pruned_units()["heads"]
    assert sorted(heads.tolist()) == [0, 2]
    out = p(x, ei).view(20, 4, 3)
    assert torch.all(out[:, heads] == 0) and torch.all(out[:, [1, 3]] != 0)
    assert torch.all(p.effective("att_src")[0, heads] == 0)


def test_taylor_importance_is_the_first_order_loss_change():
    torch.manual_seed(0)
    x, ei = torch.randn(15, 5), torch.randint(0, 15, (2, 40))
    p = Pruned(GATConv(5, 2, heads=3, bias=False), 0.3, "one_shot", criterion="taylor", structured="head",
               total_steps=10, begin=0.9)
    p(x, ei).pow(2).sum().backward()
    contrib = {n: p.original(n).detach() * p.original(n).grad for n in ("lin.weight", "att_src", "att_dst")}
    expected = (contrib["lin.weight"].view(3, -1).sum(1) + contrib["att_src"].view(3, -1).sum(1)
                + contrib["att_dst"].view(3, -1).sum(1)).abs()
    p.step()
    torch.testing.assert_close(p.importance_heads, 0.1 * expected)


def test_head_pruning_needs_heads():
    with pytest.raises(ValueError, match="heads"):
        Pruned(torch.nn.Linear(4, 4), 0.5, structured="head")


def test_schedule_without_total_steps_says_so():
    p = Pruned(torch.nn.Linear(4, 4), 0.5, "gradual")
    with pytest.raises(ValueError, match="total_steps"):
        p.step()


def test_scheduler_is_complete_once_the_final_sparsity_is_reached():
    model = compress.apply(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 2)), "prune:0.5:gradual")
    sched = CompressionScheduler(model, total_steps=8)
    done = []
    for _ in range(8):
        sched.step()
        done.append(sched.complete)
    assert done == [False] * 5 + [True] * 3  # the gradual schedule ends at 0.75 * 8 = 6 steps
    assert sched.state_dict()["steps"] == 8


def test_global_pruning_reaches_the_global_sparsity_and_ranks_across_layers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(50, 40), torch.nn.Linear(40, 3))
    with torch.no_grad():
        model[1].weight.mul_(100)  # the small output layer's weights are the large ones
    compress.apply(model, "prune:0.9:one_shot")
    wrappers = [w for _, w in compress.compression_wrappers(model)]
    assert all(w.scope == "global" for w in wrappers)
    total = 50 * 40 + 40 * 3
    assert compress.global_sparsity(wrappers) == round(0.9 * total) / total
    # exactly the smallest magnitudes of both layers together are gone
    originals = torch.cat([w.parametrization("weight").mask.reshape(-1) for w in wrappers])
    weights = torch.cat([model[0].module.weight.detach().reshape(-1), model[1].module.weight.detach().reshape(-1)])
    assert torch.equal(originals == 0, weights == 0)
    assert model[1].weight_sparsity() == 0.0  # the output layer stays dense: all its magnitudes rank above
    assert torch.all(model[1].module.bias != 0)  # biases are never pruned


def test_global_pruning_follows_the_schedule_and_excluded_layers_stay_dense():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.Linear(20, 20), torch.nn.Linear(20, 4))
    compress.apply(model, "prune:0.8:gradual", exclude="2")
    assert isinstance(model[2], torch.nn.Linear)
    sched = CompressionScheduler(model, total_steps=12)
    wrappers = [model[0], model[1]]
    total = 30 * 20 + 20 * 20
    for step in range(1, 13):
        with torch.no_grad():
            for w in wrappers:
                w.original("weight").add_(0.01 * torch.randn_like(w.original("weight")))
        sched.step()
        expected = round(sparsity_at("gradual", step, 12, 0.8) * total) / total
        assert compress.global_sparsity(wrappers) == pytest.approx(expected, abs=1e-12)
    assert sched.complete
    assert model[0].weight_sparsity() != model[1].weight_sparsity()  # ranked together, not 80% each
    assert torch.count_nonzero(model[2].weight) == 80


def test_global_scope_errors():
    with pytest.raises(ValueError, match="scope"):
        Pruned(torch.nn.Linear(4, 4), 0.5, scope="model")
    with pytest.raises(ValueError, match="structured"):
        Pruned(torch.nn.Linear(4, 4), 0.5, structured="channel", scope="global")
    model = torch.nn.Sequential(Pruned(torch.nn.Linear(4, 4), 0.5, "gradual", scope="global"),
                                Pruned(torch.nn.Linear(4, 4), 0.7, "gradual", scope="global"))
    with pytest.raises(ValueError, match="share sparsity"):
        CompressionScheduler(model, total_steps=10)
