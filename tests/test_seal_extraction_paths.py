"""The extraction's batching internals leave the output unchanged.

Runs of pairs packed together (``extract._RUN_ENTRIES``), DRNL groups searched
on their own copies (``drnl._GROUP_EDGES``), the single-pair search on a small
view of a larger buffer (scipy copies it), and the per-thread reuse of the
(pair, node) map must all give the per-pair BFS reference, edge order included.
"""
from __future__ import annotations

import pytest
import torch

import scalegnn.linkpred.drnl as drnl
import scalegnn.linkpred.extract as extract
from scalegnn.linkpred import extract_enclosing_subgraphs

from test_linkpred_extract import random_graph, reference_subgraph, unpack

KEYS = ("edge_index", "batch", "ptr", "node_id", "hop", "z")


def graph_with_repeats(n, m, seed):
    """A random undirected graph plus a repeated edge and a doubled self-loop."""
    ei = random_graph(n, m, seed)
    return torch.cat([ei, torch.tensor([[0, 1, 2, 2], [1, 0, 2, 2]])], dim=1)


def check_against_reference(batch, ei, n, pairs, hops, remove):
    for i, (s, t) in enumerate(pairs.tolist()):
        ids, hop, edges, z = unpack(batch, i)
        ref_hop, ref_edges, ref_z = reference_subgraph(ei, n, s, t, hops, bool(remove[i]))
        assert ids[:2] == [s, t] and ids[2:] == sorted(ids[2:])
        assert hop == ref_hop and edges == ref_edges and z == ref_z


def check_edge_order(batch):
    """Rows in batch order; within a row, neighbours in increasing original id (the graph's CSR order)."""
    row, col = batch.edge_index
    assert bool((row[1:] >= row[:-1]).all())
    same_row = row[1:] == row[:-1]
    ids = batch.node_id[col]
    assert bool((ids[1:][same_row] >= ids[:-1][same_row]).all())


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_runs_and_groups_leave_the_batch_unchanged(monkeypatch, hops):
    n = 60
    ei = graph_with_repeats(n, 160, hops)
    g = torch.Generator().manual_seed(10 + hops)
    pairs = torch.stack([torch.randperm(n, generator=g)[:2] for _ in range(20)])
    edges = ei[:, ei[0] != ei[1]]
    edge_pairs = edges[:, torch.randperm(edges.size(1), generator=g)[:8]].t()
    pairs = torch.cat([pairs, edge_pairs, torch.tensor([[0, 1], [2, 3]])])
    remove = torch.rand(pairs.size(0), generator=g) < 0.5
    default = extract_enclosing_subgraphs(ei, pairs, hops, remove_target=remove, num_nodes=n)
    check_against_reference(default, ei, n, pairs, hops, remove)
    check_edge_order(default)
    # every pair its own run and a DRNL group of (almost) every subgraph, then everything in one run and group
    for run_entries, group_edges in ((1, 1), (1 << 30, 1 << 30), (7, 50)):
        monkeypatch.setattr(extract, "_RUN_ENTRIES", run_entries)
        monkeypatch.setattr(drnl, "_GROUP_EDGES", group_edges)
        batch = extract_enclosing_subgraphs(ei, pairs, hops, remove_target=remove, num_nodes=n)
        for key in KEYS:
            assert torch.equal(getattr(batch, key), getattr(default, key)), (run_entries, group_edges, key)


def test_single_pair_with_few_hits_among_many_neighbours():
    """Most gathered neighbours fall outside the subgraph: DRNL then searches a small view of a large buffer."""
    n = 400
    hubs = torch.arange(4)
    others = torch.arange(4, n)
    star = torch.stack([hubs.repeat_interleave(others.numel()), others.repeat(hubs.numel())])
    ring = torch.stack([others, torch.roll(others, 1)])
    half = torch.cat([star, ring], dim=1)
    ei = torch.cat([half, half.flip(0)], dim=1)
    for pair, hops in (([10, 11], 1), ([10, 200], 1), ([0, 11], 1), ([10, 11], 2)):
        pairs = torch.tensor([pair])
        for remove in (True, False):
            batch = extract_enclosing_subgraphs(ei, pairs, hops, remove_target=remove, num_nodes=n)
            check_against_reference(batch, ei, n, pairs, hops, [remove])
            check_edge_order(batch)


def test_map_reuse_across_graphs_and_after_an_error():
    small, large = random_graph(30, 70, 1), random_graph(90, 300, 2)
    pairs_small = torch.tensor([[0, 1], [2, 3], [4, 5]])
    pairs_large = torch.tensor([[10, 80], [3, 4]])
    first = extract_enclosing_subgraphs(small, pairs_small, 2, num_nodes=30)
    extract_enclosing_subgraphs(large, pairs_large, 2, num_nodes=90)  # needs a larger map
    again = extract_enclosing_subgraphs(small, pairs_small, 2, num_nodes=30)  # reuses the larger one
    for key in KEYS:
        assert torch.equal(getattr(again, key), getattr(first, key)), key
    # a failure half-way (after the map was written) must not leave a dirty map behind
    with pytest.raises(TypeError):
        extract_enclosing_subgraphs(large, pairs_large, 2, num_nodes=90, max_nodes_per_hop=1,
                                    generator="not a generator")
    after = extract_enclosing_subgraphs(small, pairs_small, 2, num_nodes=30)
    for key in KEYS:
        assert torch.equal(getattr(after, key), getattr(first, key)), key
    check_against_reference(after, small, 30, pairs_small, 2, [True] * 3)
