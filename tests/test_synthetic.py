"""Synthetic graph generators (numpy) and their torch wrapper."""
import numpy as np
import pytest
import torch

from partitioning.synthetic import parse_synthetic_name, powerlaw_sbm_graph, synthetic_features, synthetic_graph_blocks
from scalegnn.data.synthetic import load_synthetic, random_node_split, synthetic_graph


def hill_exponent(degrees, tail=0.05):
    """Hill estimate of the power-law exponent gamma of P(d) ~ d^-gamma from the top `tail` fraction."""
    d = np.sort(degrees[degrees > 0])[::-1]
    top = d[: max(int(tail * d.size), 10)]
    return 1.0 + top.size / np.log(top / top[-1]).sum()


def test_same_seed_same_graph_other_seed_other_graph():
    a, ba = powerlaw_sbm_graph(2000, 20000, num_blocks=5, seed=7)
    b, bb = powerlaw_sbm_graph(2000, 20000, num_blocks=5, seed=7)
    c, _ = powerlaw_sbm_graph(2000, 20000, num_blocks=5, seed=8)
    assert (a != b).nnz == 0 and np.array_equal(ba, bb)
    assert (a != c).nnz > 0


@pytest.mark.parametrize("n, m, blocks, exponent", [
    (1, 0, 1, 2.5), (2, 2, 1, 2.5), (10, 90, 2, 2.5), (500, 4000, 4, 2.1), (3000, 60000, 1, 3.0), (3000, 30000, 40, None),
])
def test_edge_count_exact_symmetric_simple(n, m, blocks, exponent):
    adj, labels = powerlaw_sbm_graph(n, m, num_blocks=blocks, exponent=exponent, seed=1)
    assert adj.shape == (n, n) and adj.nnz == m
    assert (adj != adj.T).nnz == 0
    assert adj.diagonal().sum() == 0
    assert adj.max() == 1 if m else True  # no duplicate entries summed up
    assert labels.shape == (n,) and labels.min() >= 0 and labels.max() < blocks
    sizes = np.bincount(labels, minlength=blocks)
    assert sizes.max() - sizes.min() <= 1


def test_power_law_tail_versus_plain_sbm():
    adj, _ = powerlaw_sbm_graph(50000, 500000, num_blocks=1, exponent=2.5, seed=0)
    deg = np.diff(adj.indptr)
    assert 2.0 < hill_exponent(deg) < 3.2
    assert deg.max() > 20 * deg.mean()
    sbm, _ = powerlaw_sbm_graph(50000, 500000, num_blocks=10, exponent=None, seed=0)
    sdeg = np.diff(sbm.indptr)
    assert sdeg.max() < 3 * sdeg.mean()  # Poisson-like: no heavy tail


def test_intra_block_fraction():
    f, blocks = 0.8, 10
    adj, labels = powerlaw_sbm_graph(20000, 200000, num_blocks=blocks, intra_block_fraction=f, seed=3)
    rows = np.repeat(np.arange(20000), np.diff(adj.indptr))
    intra = np.mean(labels[rows] == labels[adj.indices])
    assert intra == pytest.approx(f + (1 - f) / blocks, abs=0.03)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_nodes": 0, "num_edges": 0}, "num_nodes must be >= 1"),
    ({"num_nodes": 5, "num_edges": -2}, "num_edges must be >= 0"),
    ({"num_nodes": 5, "num_edges": 3}, "must be even"),
    ({"num_nodes": 5, "num_edges": 22}, "exceeds n\\(n-1\\)=20"),
    ({"num_nodes": 5, "num_edges": 4, "num_blocks": 6}, "num_blocks must be in"),
    ({"num_nodes": 5, "num_edges": 4, "intra_block_fraction": 1.5}, "intra_block_fraction"),
    ({"num_nodes": 5, "num_edges": 4, "exponent": 0.5}, r"exponent must be .*0\.5"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        powerlaw_sbm_graph(**kwargs)


def test_complete_graph_is_reachable():
    adj, _ = powerlaw_sbm_graph(6, 30, seed=0)
    assert adj.nnz == 30 and (adj.toarray() + np.eye(6) == 1).all()


def test_parse_names():
    assert parse_synthetic_name("synthetic-1000-20000") == ("powerlaw", 1000, 20000)
    assert parse_synthetic_name("synthetic-sbm-2.4M-60M") == ("sbm", 2_400_000, 60_000_000)
    assert parse_synthetic_name("Synthetic-100k-2M") == ("powerlaw", 100_000, 2_000_000)
    for bad, message in [("synthetic-10", "look like"), ("synthetic-x-10", "cannot read"),
                         ("synthetic-10-3", "must be even"), ("synthetic-0-0", "must be >= 1"),
                         ("synthetic-ws-10-20", "look like"), ("synthetic-1.5-2", "whole number")]:
        with pytest.raises(ValueError, match=message):
            parse_synthetic_name(bad)


def test_features_depend_on_class_and_are_deterministic():
    labels = np.random.default_rng(0).integers(0, 5, 3000)
    x = synthetic_features(labels, 64, seed=1)
    assert x.dtype == np.float32 and x.shape == (3000, 64)
    np.testing.assert_array_equal(x, synthetic_features(labels, 64, seed=1))
    means = np.stack([x[labels == c].mean(0) for c in range(5)])
    predicted = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(predicted == labels) > 0.5  # chance is 0.2


def test_torch_wrapper_matches_numpy_graph_and_is_well_formed():
    data = synthetic_graph(3000, 30000, num_features=16, num_classes=7, seed=5)
    adj, blocks = synthetic_graph_blocks("powerlaw", 3000, 30000, num_blocks=7, seed=5)
    assert data.x.shape == (3000, 16) and data.x.dtype == torch.float32
    assert data.y.dtype == torch.long and torch.equal(data.y, torch.from_numpy(blocks))
    assert data.edge_index.dtype == torch.long and data.edge_index.shape == (2, 30000)
    rebuilt = torch.sparse_coo_tensor(data.edge_index, torch.ones(30000), (3000, 3000),
                                      check_invariants=True).to_dense().numpy()
    np.testing.assert_array_equal(rebuilt, adj.toarray())
    assert torch.equal(synthetic_graph(3000, 30000, 16, 7, seed=5).x, data.x)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_nodes": 0, "num_edges": 0}, "num_nodes must be a positive integer, got 0"),
    ({"num_nodes": 10, "num_edges": 5}, "even"),
    ({"num_nodes": 10, "num_edges": 4, "num_features": 0}, "num_features"),
    ({"num_nodes": 10, "num_edges": 4, "num_classes": 11}, "num_classes"),
    ({"num_nodes": 10, "num_edges": 4, "kind": "er"}, r"kind='er' is not one of \['powerlaw', 'sbm'\]"),
])
def test_torch_wrapper_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_graph(**kwargs)


def test_load_synthetic_split_disjoint_and_covering():
    ds = load_synthetic("synthetic-sbm-2000-20000", seed=2)
    assert ds.task == "node" and ds.metric == "acc" and ds.num_classes == 40 and ds.num_features == 128
    assert ds.data.x.shape == (2000, 128) and ds.data.edge_index.shape == (2, 20000)
    split = ds.split
    assert {k: len(v) for k, v in split.items()} == {"train": 1200, "valid": 400, "test": 400}
    everything = torch.cat([split["train"], split["valid"], split["test"]])
    assert everything.dtype == torch.long
    assert torch.equal(everything.sort().values, torch.arange(2000))
    assert not torch.equal(random_node_split(2000, 3)["train"], split["train"])


def test_load_dataset_dispatches_synthetic_names():
    from scalegnn.data import load_dataset

    ds = load_dataset("synthetic-500-4000")
    assert ds.data.num_nodes == 500 and ds.num_classes == 40
