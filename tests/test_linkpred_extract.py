"""Batched enclosing-subgraph extraction against a per-pair BFS reference; leakage, sampling, bad input."""
from __future__ import annotations

from collections import Counter, deque

import pytest
import torch

from scalegnn.linkpred import CSRGraph, extract_enclosing_subgraphs

from test_linkpred_drnl import reference_drnl


def random_graph(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    e = torch.randint(0, n, (2, m), generator=g)
    e = e[:, e[0] != e[1]]
    key = torch.unique(torch.minimum(e[0], e[1]) * n + torch.maximum(e[0], e[1]))
    e = torch.stack([key // n, key % n])
    return torch.cat([e, e.flip(0)], dim=1)


def reference_subgraph(edge_index, n, src, dst, hops, remove_target):
    """Plain per-pair BFS: node set with hop, induced edges (original ids), DRNL labels by original id."""
    adj = [[] for _ in range(n)]
    for u, v in edge_index.t().tolist():
        adj[u].append(v)
    hop = {src: 0, dst: 0}
    q = deque([src, dst])
    while q:
        u = q.popleft()
        if hop[u] == hops:
            continue
        for v in adj[u]:
            if v not in hop:
                hop[v] = hop[u] + 1
                q.append(v)
    nodes = sorted(hop)
    edges = [(u, v) for u, v in edge_index.t().tolist() if u in hop and v in hop]
    if remove_target:
        edges = [(u, v) for u, v in edges if {u, v} != {src, dst}]
    local = {v: i for i, v in enumerate(nodes)}
    sub = torch.tensor([[local[u] for u, _ in edges], [local[v] for _, v in edges]], dtype=torch.long).view(2, -1)
    z = reference_drnl(sub, local[src], local[dst], len(nodes))
    return hop, Counter(edges), {v: z[local[v]] for v in nodes}


def unpack(batch, i):
    lo, hi = batch.ptr[i].item(), batch.ptr[i + 1].item()
    ids = batch.node_id[lo:hi].tolist()
    mask = (batch.edge_index[0] >= lo) & (batch.edge_index[0] < hi)
    ei = batch.edge_index[:, mask]
    assert bool(((ei[1] >= lo) & (ei[1] < hi)).all()), "an edge leaves its subgraph"
    edges = Counter((batch.node_id[u].item(), batch.node_id[v].item()) for u, v in ei.t().tolist())
    hop = dict(zip(ids, batch.hop[lo:hi].tolist()))
    z = dict(zip(ids, batch.z[lo:hi].tolist()))
    return ids, hop, edges, z


@pytest.mark.parametrize("seed,hops", [(0, 1), (1, 2), (2, 2), (3, 3)])
def test_batched_extraction_matches_per_pair_bfs(seed, hops):
    n = 40
    ei = random_graph(n, 70, seed)
    g = torch.Generator().manual_seed(100 + seed)
    pairs = torch.stack([torch.randperm(n, generator=g)[:2] for _ in range(25)])
    edge_pairs = ei[:, torch.randperm(ei.size(1), generator=g)[:10]].t()  # pairs that are edges
    pairs = torch.cat([pairs, edge_pairs])
    remove = torch.rand(pairs.size(0), generator=g) < 0.5
    batch = extract_enclosing_subgraphs(ei, pairs, hops, remove_target=remove, num_nodes=n)
    assert batch.num_graphs == pairs.size(0)
    assert torch.equal(batch.pair, pairs)
    for i, (s, t) in enumerate(pairs.tolist()):
        ids, hop, edges, z = unpack(batch, i)
        ref_hop, ref_edges, ref_z = reference_subgraph(ei, n, s, t, hops, bool(remove[i]))
        assert ids[:2] == [s, t]
        assert ids[2:] == sorted(ids[2:])
        assert hop == ref_hop
        assert edges == ref_edges
        assert z == ref_z


def test_target_edge_removed_for_training_and_kept_for_inference():
    ei = random_graph(30, 60, 7)
    u, v = ei[:, 0].tolist()
    pairs = torch.tensor([[u, v], [v, u]])
    for remove in (True, False):
        batch = extract_enclosing_subgraphs(ei, pairs, 2, remove_target=remove)
        for i in range(2):
            lo = batch.ptr[i].item()
            e = batch.edge_index
            between = ((e[0] == lo) & (e[1] == lo + 1)) | ((e[0] == lo + 1) & (e[1] == lo))
            assert int(between.sum()) == (0 if remove else 2)
    # other edges are untouched: only the target edge's two directions differ
    a = extract_enclosing_subgraphs(ei, pairs[:1], 2, remove_target=True)
    b = extract_enclosing_subgraphs(ei, pairs[:1], 2, remove_target=False)
    assert b.edge_index.size(1) - a.edge_index.size(1) == 2
    assert torch.equal(a.node_id, b.node_id)
    assert torch.equal(a.z, b.z)  # DRNL removes the other target anyway


def test_per_hop_sampling_respects_cap_and_ratio():
    n = 200
    ei = random_graph(n, 2000, 11)
    g = torch.Generator().manual_seed(0)
    pairs = torch.stack([torch.randperm(n, generator=g)[:2] for _ in range(30)])
    full = extract_enclosing_subgraphs(ei, pairs, 2)
    cap = 5
    capped = extract_enclosing_subgraphs(ei, pairs, 2, max_nodes_per_hop=cap, generator=g)
    halves = extract_enclosing_subgraphs(ei, pairs, 2, ratio_per_hop=0.5, generator=g)
    adj = [set() for _ in range(n)]
    for a, b in ei.t().tolist():
        adj[a].add(b)
    for i in range(pairs.size(0)):
        f_ids, f_hop, _, _ = unpack(full, i)
        c_ids, c_hop, c_edges, _ = unpack(capped, i)
        per_hop = Counter(c_hop.values())
        assert per_hop[0] == 2 and per_hop[1] <= cap and per_hop[2] <= cap
        assert per_hop[1] == min(cap, Counter(f_hop.values())[1])  # fringe of hop 1 is the same set
        assert set(c_ids) <= set(f_ids)
        for node, h in c_hop.items():  # each sampled node hangs off a kept node of the previous hop
            if h > 0:
                assert any(c_hop.get(p) == h - 1 for p in adj[node])
        # edges are the induced edges of the sampled node set
        assert c_edges == Counter((a, b) for a, b in ei.t().tolist() if a in c_hop and b in c_hop
                                  and {a, b} != set(pairs[i].tolist()))
        h_hop = unpack(halves, i)[1]
        assert Counter(h_hop.values())[1] == Counter(f_hop.values())[1] // 2


def test_sampling_is_reproducible_with_a_generator():
    ei = random_graph(100, 800, 2)
    pairs = torch.tensor([[0, 1], [2, 3], [4, 5]])
    a = extract_enclosing_subgraphs(ei, pairs, 2, 3, generator=torch.Generator().manual_seed(5))
    b = extract_enclosing_subgraphs(ei, pairs, 2, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.node_id, b.node_id) and torch.equal(a.edge_index, b.edge_index)


def test_csr_graph_input_and_features():
    ei = random_graph(25, 40, 4)
    x = torch.randn(25, 3)
    pairs = torch.tensor([[0, 1], [3, 9]])
    a = extract_enclosing_subgraphs(ei, pairs, 2, x=x, y=torch.tensor([1.0, 0.0]))
    b = extract_enclosing_subgraphs(CSRGraph.from_edge_index(ei, 25), pairs, 2)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.z, b.z)
    assert torch.equal(a.x, x[a.node_id]) and a.y.tolist() == [1.0, 0.0]


def test_pyg_model_takes_the_batch():
    from torch_geometric.nn import GCNConv, global_mean_pool

    ei = random_graph(25, 40, 4)
    batch = extract_enclosing_subgraphs(ei, torch.tensor([[0, 1], [3, 9], [2, 7]]), 1)
    h = GCNConv(1, 4)(batch.z.float().view(-1, 1), batch.edge_index)
    assert global_mean_pool(h, batch.batch).shape == (3, 4)


def test_bad_input():
    ei = random_graph(10, 20, 0)
    with pytest.raises(ValueError, match="outside 0..9"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 10]]), 1, num_nodes=10)
    with pytest.raises(ValueError, match="outside"):
        extract_enclosing_subgraphs(ei, torch.tensor([[-1, 2]]), 1, num_nodes=10)
    with pytest.raises(ValueError, match="self-pair"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1], [3, 3]]), 1, num_nodes=10)
    with pytest.raises(ValueError, match="num_hops"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1]]), 0, num_nodes=10)
    with pytest.raises(ValueError, match="empty"):
        extract_enclosing_subgraphs(ei, torch.zeros(0, 2, dtype=torch.long), 1, num_nodes=10)
    with pytest.raises(ValueError, match=r"\[num_pairs, 2\]"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1, 2]]), 1, num_nodes=10)
    with pytest.raises(ValueError, match="integer dtype"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0.0, 1.0]]), 1, num_nodes=10)
    with pytest.raises(ValueError, match="max_nodes_per_hop"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1]]), 1, 0, num_nodes=10)
    with pytest.raises(ValueError, match="ratio_per_hop"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1]]), 1, ratio_per_hop=0.0, num_nodes=10)
    with pytest.raises(ValueError, match="remove_target"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1]]), 1, remove_target=torch.tensor([True, False]))
    with pytest.raises(TypeError, match="graph must be"):
        extract_enclosing_subgraphs([[0, 1]], torch.tensor([[0, 1]]), 1)
    with pytest.raises(ValueError, match="node index"):
        extract_enclosing_subgraphs(ei, torch.tensor([[0, 1]]), 1, num_nodes=5)


def test_chunked_extraction_equals_one_pass():
    """A small map budget splits the batch into chunks of pairs; the result is the same batch."""
    ei = random_graph(50, 150, 9)
    g = torch.Generator().manual_seed(1)
    pairs = torch.stack([torch.randperm(50, generator=g)[:2] for _ in range(23)])
    whole = extract_enclosing_subgraphs(ei, pairs, 2)
    chunked = extract_enclosing_subgraphs(ei, pairs, 2, map_budget=50 * 4)  # 4 pairs per chunk
    for key in ("edge_index", "batch", "ptr", "node_id", "z", "hop"):
        assert torch.equal(getattr(whole, key), getattr(chunked, key)), key


def test_duplicate_edges_and_self_loops_are_kept_like_the_reference():
    """The per-hop sparse products deduplicate node sets only: repeated edges and self-loops stay in the subgraph."""
    ei = random_graph(30, 70, 5)
    extra = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 2]])  # a repeated edge (both directions) and a doubled self-loop
    ei = torch.cat([ei, extra], dim=1)
    pairs = torch.tensor([[0, 1], [2, 5], [1, 2]])
    batch = extract_enclosing_subgraphs(ei, pairs, 2, remove_target=torch.tensor([False, False, True]))
    for i, (s, t) in enumerate(pairs.tolist()):
        _, hop, edges, z = unpack(batch, i)
        ref_hop, ref_edges, ref_z = reference_subgraph(ei, 30, s, t, 2, i == 2)
        assert hop == ref_hop and edges == ref_edges and z == ref_z
