"""Single-process pieces of scalegnn.distributed: dropout masks, validation, the one-rank path, ROC-AUC."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn import GATConv, GCNConv, SAGEConv

import partitioning
from scalegnn.data import load_dataset
from scalegnn.distributed import (DistributedConv, DistributedGNN, DistributedNodeTask, DistributedSetupError,
                                  ExchangePlan, NodeDropout, init_distributed, load_local_graph, prepare_partitions,
                                  single_process_forward, training_edge_index)
from scalegnn.train.evaluation import score


@pytest.fixture(scope="module")
def ctx():
    context = init_distributed(backend="gloo", timeout_s=30)
    yield context
    context.shutdown()


def test_dropout_masks_depend_on_global_ids_not_on_row_order():
    drop = NodeDropout(0.3, seed=7, layer=1)
    ids = torch.arange(500)
    full = drop.mask(ids, 40, call=3)
    subset = torch.tensor([499, 3, 250, 17])
    assert torch.equal(drop.mask(subset, 40, call=3), full[subset])
    assert abs(full.float().mean().item() - 0.7) < 0.01  # 20k draws: 4 standard deviations is 0.013
    assert not torch.equal(drop.mask(ids, 40, call=4), full)  # a new mask each call
    assert not torch.equal(NodeDropout(0.3, seed=8, layer=1).mask(ids, 40, 3), full)
    assert not torch.equal(NodeDropout(0.3, seed=7, layer=2).mask(ids, 40, 3), full)
    # columns and rows are independent draws: per-column keep rates spread like binomials
    rates = drop.mask(torch.arange(20000), 8, call=0).float().mean(0)
    assert (rates - 0.7).abs().max() < 4 * (0.21 / 20000) ** 0.5


def test_dropout_scales_kept_entries_and_counts_calls():
    drop = NodeDropout(0.5, seed=0)
    x = torch.ones(30, 6)
    out = drop(x, torch.arange(30))
    assert set(out.unique().tolist()) <= {0.0, 2.0} and int(drop.calls) == 1
    drop.eval()
    assert torch.equal(drop(x, torch.arange(30)), x) and int(drop.calls) == 1
    with pytest.raises(ValueError, match="p"):
        NodeDropout(1.0)
    with pytest.raises(ValueError, match="global ids"):
        NodeDropout(0.5).train()(x, torch.arange(3))


def test_wrapper_refuses_layers_that_cannot_run_row_parallel():
    with pytest.raises(TypeError, match="DistGCNConv"):
        DistributedConv(GCNConv(4, 4))
    with pytest.raises(ValueError, match="dropout"):
        DistributedConv(GATConv(4, 4, dropout=0.2))
    with pytest.raises(TypeError, match="MessagePassing"):
        DistributedConv(torch.nn.Linear(4, 4))
    DistributedConv(SAGEConv(4, 4))


def test_model_arguments_are_validated():
    with pytest.raises(ValueError, match="Did you mean 'sage'"):
        DistributedGNN("sag", 4, 8, 2)
    with pytest.raises(ValueError, match="divisible by heads"):
        DistributedGNN("gat", 4, 10, 2, heads=4)
    with pytest.raises(ValueError, match="num_layers"):
        DistributedGNN("gcn", 4, 8, 2, num_layers=0)


def test_exchange_plan_rejects_inconsistent_lists():
    with pytest.raises(ValueError, match="world_size"):
        ExchangePlan(0, 2, 3, np.array([0, 0]), np.array([], dtype=np.int64), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="itself"):
        ExchangePlan(0, 2, 3, np.array([0, 1, 1]), np.array([0]), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="outside the owned rows"):
        ExchangePlan(0, 2, 3, np.array([0, 0, 1]), np.array([5]), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="transport"):
        ExchangePlan(0, 1, 3, np.array([0, 0]), np.array([], dtype=np.int64), np.array([0, 0]), transport="mpi")


def test_prepare_partitions_rejects_too_many_parts_and_graph_tasks(tmp_path):
    data = load_dataset("synthetic-300-1200")
    with pytest.raises(ValueError, match="at most 300 ranks"):
        prepare_partitions(data, 301, tmp_path / "p")
    assert not (tmp_path / "p").exists()
    with pytest.raises(ValueError, match="node-level"):
        prepare_partitions(type("G", (), {"name": "PROTEINS", "task": "graph", "data": None})(), 2, tmp_path / "q")


def test_prepare_partitions_passes_the_mtkahypar_preset_and_records_it(tmp_path, monkeypatch):
    dataset = load_dataset("synthetic-300-1200")
    real_partition, seen = partitioning.partition, []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("preset"))
        return real_partition(*args, **kwargs)

    monkeypatch.setattr(partitioning, "partition", spy)
    directory = prepare_partitions(dataset, 2, tmp_path / "p", method="refined-metis", preset="quality")
    assert seen == ["quality"]
    assert partitioning.read_manifest(directory)["extra"]["preset"] == "quality"
    with pytest.raises(ValueError, match="preset"):
        prepare_partitions(dataset, 2, tmp_path / "q", method="hypergraph", preset="fastest")


def test_one_rank_run_equals_pyg_and_reads_a_synthetic_dataset(ctx, tmp_path):
    dataset = load_dataset("synthetic-300-1200")
    directory = prepare_partitions(dataset, 1, tmp_path / "p")
    graph = load_local_graph(ctx, directory, dataset="synthetic-300-1200")
    assert graph.num_halo == 0 and graph.split_sizes["train"] == int(dataset.split["train"].numel())
    torch.manual_seed(0)
    model = DistributedGNN("gcn", graph.x.shape[1], 8, dataset.num_classes, dropout=0.0)
    model.eval()
    edge_index = training_edge_index(dataset.data.edge_index, dataset.data.num_nodes)
    expected = single_process_forward(model, dataset.data.x, edge_index)
    torch.testing.assert_close(model(graph), expected[graph.global_ids], rtol=1e-5, atol=1e-5)


def test_structure_only_and_foreign_directories_are_refused(ctx, tmp_path):
    dataset = load_dataset("synthetic-300-1200")
    edge_index = training_edge_index(dataset.data.edge_index, 300)
    from scalegnn.distributed import graph_csr

    csr = graph_csr(edge_index, 300)
    bare = partitioning.write_partitions(tmp_path / "bare", csr, np.zeros(300, dtype=np.int64))
    with pytest.raises(DistributedSetupError, match="no features/labels"):
        load_local_graph(ctx, bare)
    directory = prepare_partitions(dataset, 1, tmp_path / "p")
    with pytest.raises(DistributedSetupError, match="made from dataset"):
        load_local_graph(ctx, directory, dataset="Cora")
    with pytest.raises(DistributedSetupError, match="another graph"):
        load_local_graph(ctx, directory, fingerprint="0" * 64)


def test_rocauc_task_scores_the_gathered_predictions(ctx, tmp_path):
    g = torch.Generator().manual_seed(0)
    n = 120
    edge_index = torch.randint(0, n, (2, 500), generator=g)
    y = torch.randint(0, 2, (n, 3), generator=g).float()
    data = Data(x=torch.randn(n, 5, generator=g), edge_index=edge_index, y=y)
    split = {"train": torch.arange(0, 60), "valid": torch.arange(60, 90), "test": torch.arange(90, 120)}
    dataset = type("D", (), {"name": "multi", "task": "node", "data": data, "split": split, "num_classes": 3,
                             "metric": "rocauc"})()
    graph = load_local_graph(ctx, prepare_partitions(dataset, 1, tmp_path / "p"))
    torch.manual_seed(0)
    model = DistributedGNN("sage", 5, 8, 3, dropout=0.0)
    task = DistributedNodeTask(ctx, graph, metric="rocauc")
    loss = task.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.0))
    metrics = task.evaluate(model)
    model.eval()
    out = single_process_forward(model, data.x, training_edge_index(edge_index, n))
    labeled = ~torch.isnan(y[split["train"]])
    expected_loss = torch.nn.functional.binary_cross_entropy_with_logits(out[split["train"]][labeled],
                                                                         y[split["train"]][labeled])
    assert loss == pytest.approx(float(expected_loss.detach()), rel=1e-5)
    for name, key in (("valid", "val_rocauc"), ("test", "test_rocauc")):
        assert metrics[key] == pytest.approx(score("rocauc", y[split[name]], out[split[name]].detach()), rel=1e-6)
    with pytest.raises(ValueError, match="metric"):
        DistributedNodeTask(ctx, graph, metric="mrr")


def test_the_first_step_refuses_replicas_with_different_weights(ctx, tmp_path, monkeypatch):
    dataset = load_dataset("synthetic-300-1200")
    graph = load_local_graph(ctx, prepare_partitions(dataset, 1, tmp_path / "p"))
    model = DistributedGNN("gcn", graph.x.shape[1], 8, dataset.num_classes)
    task = DistributedNodeTask(ctx, graph)
    # simulate a second rank holding other weights: the MAX reduction sees a larger checksum
    import torch.distributed as dist

    real = dist.all_reduce

    def skewed(tensor, op=dist.ReduceOp.SUM, **kwargs):
        out = real(tensor, op=op, **kwargs)
        if op == dist.ReduceOp.MAX:
            tensor += 1.0
        return out

    monkeypatch.setattr(dist, "all_reduce", skewed)
    with pytest.raises(ValueError, match="broadcast_parameters"):
        task.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1))
    monkeypatch.setattr(dist, "all_reduce", real)
    task.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1))  # one rank: equal replicas pass
    with pytest.raises(TypeError, match="LocalGraph"):
        model.convs[0](graph.x, dataset.data.edge_index)


def test_a_split_without_validation_nodes_is_refused(ctx, tmp_path):
    dataset = load_dataset("synthetic-300-1200")
    dataset.split = {"train": dataset.split["train"], "test": dataset.split["test"]}
    graph = load_local_graph(ctx, prepare_partitions(dataset, 1, tmp_path / "p"))
    with pytest.raises(ValueError, match="no valid nodes"):
        DistributedNodeTask(ctx, graph)
