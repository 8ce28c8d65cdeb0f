"""Distributed full-batch training equals one process: 2 and 4 gloo ranks on CPU.

Each spawn trains many configurations (models x partition methods x dtypes) in
one process group; the test then compares every rank's losses, logits and
weight gradients with a single-process run of PyG's own layers on the whole
graph, and the exchanged rows with ``partitioning.communication_volume``.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from partitioning import communication_volume, read_manifest
from scalegnn.distributed import (DistributedGNN, graph_csr, prepare_partitions, single_process_forward,
                                  training_edge_index)

from _distributed_worker import free_port, train_configs

NUM_NODES, NUM_FEATURES, NUM_CLASSES, HIDDEN, EPOCHS = 307, 11, 3, 8, 3


def small_dataset(seed: int = 0) -> SimpleNamespace:
    """A directed random graph with a hub, self-loops and duplicate edges (the loader must clean them)."""
    g = torch.Generator().manual_seed(seed)
    n = NUM_NODES
    src = torch.randint(0, n, (4 * n,), generator=g)
    dst = torch.randint(0, n, (4 * n,), generator=g)
    hub = torch.zeros(40, dtype=torch.long)
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([hub, torch.arange(1, 41)]),
                            torch.tensor([[5, 5, 7], [5, 9, 9]])], dim=1)
    x = torch.randn(n, NUM_FEATURES, generator=g)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    perm = torch.randperm(n, generator=g)
    split = {"train": perm[:60], "valid": perm[60:120], "test": perm[120:200]}
    return SimpleNamespace(name="tiny", task="node", data=Data(x=x, edge_index=edge_index, y=y), split=split,
                           num_classes=NUM_CLASSES, metric="acc")


def reference_run(dataset, model_name: str, dtype: torch.dtype, dropout: float, seed: int):
    """One process, PyG's own layers, the whole graph: losses, final logits and last gradients."""
    data = dataset.data
    edge_index = training_edge_index(data.edge_index, NUM_NODES)
    torch.manual_seed(seed)
    model = DistributedGNN(model_name, NUM_FEATURES, HIDDEN, NUM_CLASSES, 2, dropout=dropout, seed=seed,
                           heads=2).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y, train = data.x.to(dtype), data.y, dataset.split["train"]
    losses = []
    for _ in range(EPOCHS):
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(single_process_forward(model, x, edge_index)[train], y[train])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    model.eval()
    with torch.no_grad():
        logits = single_process_forward(model, x, edge_index)
    return losses, grads, logits


def run_ranks(world_size: int, configs: list, tmp_path) -> list:
    import torch.multiprocessing as mp

    mp.start_processes(train_configs, args=(world_size, free_port(), configs, str(tmp_path)), nprocs=world_size,
                       start_method="spawn", join=True)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(world_size)]


def check_against_reference(dataset, results: list, name: str, model: str, dtype: torch.dtype, dropout: float,
                            tol: float) -> None:
    losses, grads, logits = reference_run(dataset, model, dtype, dropout, seed=0)
    for rank, res in enumerate(results):
        r = res[name]
        np.testing.assert_allclose(r["losses"], losses, rtol=tol, atol=tol, err_msg=f"{name} rank {rank} losses")
        for key, g in grads.items():
            torch.testing.assert_close(r["grads"][key], g, rtol=tol, atol=tol, msg=f"{name} rank {rank} grad {key}")
        torch.testing.assert_close(r["logits"], logits[r["global_ids"]], rtol=tol, atol=tol,
                                   msg=f"{name} rank {rank} logits")
    covered = torch.cat([r[name]["global_ids"] for r in results]).sort().values
    assert torch.equal(covered, torch.arange(NUM_NODES)), "ranks must own every vertex exactly once"


@pytest.fixture(scope="module")
def dataset():
    return small_dataset()


def _configs(dataset, world_size: int, tmp_path, methods) -> list:
    configs = []
    for method in methods:
        part_dir = tmp_path / f"parts-{method}-{world_size}"
        prepare_partitions(dataset, world_size, part_dir, method=method, seed=0)
        for model in ("gcn", "sage", "gat"):
            configs.append({"name": f"{model}-{method}-f32", "dir": str(part_dir), "model": model,
                            "dtype": torch.float32, "dropout": 0.5, "seed": 0, "hidden": HIDDEN,
                            "classes": NUM_CLASSES, "layers": 2, "epochs": EPOCHS})
    return configs


@pytest.mark.parametrize("world_size,methods", [(2, ("hypergraph", "metis", "random")), (4, ("hypergraph", "random"))])
def test_distributed_equals_single_process(dataset, tmp_path, world_size, methods):
    configs = _configs(dataset, world_size, tmp_path, methods)
    part_dir = configs[0]["dir"]
    # float64 at 1e-10 (GCN overlapped and plain twin, GIN), alltoall transport, and no training node on some ranks
    configs += [
        {**configs[0], "name": "gcn-f64", "dtype": torch.float64},
        {**configs[0], "name": "gcn-f64-plain", "dtype": torch.float64, "overlap": False},
        {**configs[1], "name": "sage-f64-alltoall", "dtype": torch.float64, "transport": "alltoall"},
        {**configs[2], "name": "gat-f64", "dtype": torch.float64},
    ]
    parts = np.asarray(read_manifest(part_dir) and np.load(f"{part_dir}/parts.npy"))
    train_on_rank0 = parts.copy()
    train_ids = dataset.split["train"].numpy()
    train_on_rank0[train_ids] = 0
    lonely = tmp_path / "parts-train-on-rank0"
    prepare_partitions(dataset, world_size, lonely, parts=train_on_rank0)
    configs.append({**configs[0], "name": "gcn-train-on-rank0", "dir": str(lonely), "dtype": torch.float64})

    results = run_ranks(world_size, configs, tmp_path)
    for cfg in configs:
        tol = 1e-10 if cfg["dtype"] == torch.float64 else 1e-5
        check_against_reference(dataset, results, cfg["name"], cfg["model"], cfg["dtype"], cfg["dropout"], tol)

    # rows sent per layer = the partition's exact communication volume, per rank and in total
    edge_index = training_edge_index(dataset.data.edge_index, NUM_NODES)
    csr = graph_csr(edge_index, NUM_NODES)
    for cfg in configs:
        cv = communication_volume(csr, np.load(f"{cfg['dir']}/parts.npy"), world_size)
        for rank, res in enumerate(results):
            stats = res[cfg["name"]]["stats"]
            for layer in ("layer0", "layer1"):
                fwd = stats[(layer, "forward")]
                assert fwd["rows"] == cv.send[rank] and fwd["rows_recv"] == cv.recv[rank], (cfg["name"], rank)
                # the input features need no gradient: wrapped layers exchange x itself, so their first
                # exchange has no backward; GCN exchanges x @ W, whose gradient goes back
                if layer == "layer1" or cfg["model"] == "gcn":
                    bwd = stats[(layer, "backward")]
                    assert bwd["rows"] == cv.recv[rank] and bwd["rows_recv"] == cv.send[rank], (cfg["name"], rank)
                else:
                    assert (layer, "backward") not in stats
        assert sum(res[cfg["name"]]["stats"][("layer0", "forward")]["rows"] for res in results) == cv.total

    # no rank holds a tensor over all vertices
    for rank, res in enumerate(results):
        for name in res:
            r = res[name]
            assert r["num_local"] < NUM_NODES
            assert all(NUM_NODES not in shape for shape in r["tensor_shapes"]), (name, rank)
    # some rank owned no training node in the lonely config, and its numbers still matched above
    assert (np.bincount(train_on_rank0[train_ids], minlength=world_size) == 0).any()
