"""Random-partition mini-batches against PyG's own induced-subgraph slicing."""
import pytest
import torch
from torch_geometric.data import Data

from scalegnn.sampling import RandomPartitionLoader, predict_random_partitions, random_partition


def _data(n=50, e=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    return Data(
        x=torch.randn(n, 5, generator=g),
        y=torch.randint(0, 3, (n,), generator=g),
        train_mask=torch.rand(n, generator=g) < 0.5,
        edge_index=ei,
        edge_attr=torch.randn(e, 8, generator=g),
    )


def test_partition_sizes_and_cover():
    part = random_partition(103, 10, torch.Generator().manual_seed(0))
    counts = torch.bincount(part, minlength=10)
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1


def test_batches_equal_pyg_subgraph():
    data = _data()
    loader = RandomPartitionLoader(data, num_parts=4, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == 4
    seen = torch.cat([b.n_id for b in batches])
    assert torch.equal(seen.sort().values, torch.arange(data.num_nodes))  # every node exactly once
    edges = 0
    for b in batches:
        ref = data.subgraph(b.n_id)  # PyG's induced subgraph on the same (sorted) node set
        assert torch.equal(b.edge_index, ref.edge_index)
        for key in ("x", "y", "train_mask", "edge_attr"):
            assert torch.equal(b[key], ref[key]), key
        assert torch.equal(data.edge_index[:, b.e_id], b.n_id[b.edge_index])
        edges += b.edge_index.size(1)
    part = torch.empty(data.num_nodes, dtype=torch.long)
    for i, b in enumerate(batches):
        part[b.n_id] = i
    assert edges == int((part[data.edge_index[0]] == part[data.edge_index[1]]).sum())


def test_new_partition_each_epoch_and_seeded():
    data = _data()
    loader = RandomPartitionLoader(data, num_parts=3, shuffle=False, seed=1)
    a = [b.n_id for b in loader]
    b = [b.n_id for b in loader]
    assert any(not torch.equal(x, y) for x, y in zip(a, b))
    again = [b.n_id for b in RandomPartitionLoader(data, num_parts=3, shuffle=False, seed=1)]
    assert all(torch.equal(x, y) for x, y in zip(a, again))


def test_one_part_is_full_batch():
    data = _data()
    (batch,) = list(RandomPartitionLoader(data, num_parts=1))
    assert torch.equal(batch.edge_index, data.edge_index) and torch.equal(batch.x, data.x)


def test_multi_view_prediction_averages():
    data = _data()
    # A prediction that depends only on the node: every view gives the same value.
    out = predict_random_partitions(lambda b: b.x * 2, data, num_parts=5, num_views=3, seed=0)
    assert torch.allclose(out, data.x * 2, atol=1e-6)
    # A prediction that depends on the batch: the average over views of per-batch degrees.
    deg = predict_random_partitions(
        lambda b: torch.bincount(b.edge_index[1], minlength=b.num_nodes).float().unsqueeze(-1),
        data, num_parts=2, num_views=4, seed=0,
    )
    full = torch.bincount(data.edge_index[1], minlength=data.num_nodes).float().unsqueeze(-1)
    assert bool((deg <= full).all()) and deg.sum() < full.sum()


def test_bad_arguments():
    data = _data()
    with pytest.raises(ValueError, match="num_parts must be >= 1"):
        RandomPartitionLoader(data, num_parts=0)
    with pytest.raises(ValueError, match="exceeds the number of nodes"):
        RandomPartitionLoader(data, num_parts=51)
    bad = data.clone()
    bad.edge_index = bad.edge_index.clone()
    bad.edge_index[0, 0] = 99
    with pytest.raises(ValueError, match="out of range"):
        RandomPartitionLoader(bad, num_parts=2)
