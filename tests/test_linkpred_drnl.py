"""DRNL labels against the paper's formula on hand-built graphs and a brute-force BFS on random graphs."""
from __future__ import annotations

from collections import deque

import pytest
import torch

from scalegnn.linkpred import drnl_hash, drnl_labels, drnl_labels_batched


def undirected(edges):
    e = torch.tensor(edges, dtype=torch.long).t()
    return torch.cat([e, e.flip(0)], dim=1)


def formula(dx: int, dy: int) -> int:
    d = dx + dy
    return 1 + min(dx, dy) + (d // 2) * ((d // 2) + d % 2 - 1)


def bfs(adj, source, removed, n):
    dist = [None] * n
    dist[source] = 0
    q = deque([source])
    while q:
        u = q.popleft()
        for v in adj[u]:
            if v != removed and dist[v] is None:
                dist[v] = dist[u] + 1
                q.append(v)
    return dist


def reference_drnl(edge_index, src, dst, n):
    adj = [[] for _ in range(n)]
    for u, v in edge_index.t().tolist():
        adj[u].append(v)
    dx, dy = bfs(adj, src, dst, n), bfs(adj, dst, src, n)
    out = []
    for i in range(n):
        if i in (src, dst):
            out.append(1)
        elif dx[i] is None or dy[i] is None:
            out.append(0)
        else:
            out.append(formula(dx[i], dy[i]))
    return out


def test_path():
    ei = undirected([(0, 1), (1, 2), (2, 3), (3, 4)])
    # node 1: dx=1, dy=3; node 2: dx=dy=2; node 3: dx=3, dy=1
    expected = [1, formula(1, 3), formula(2, 2), formula(3, 1), 1]
    assert expected == [1, 4, 5, 4, 1]
    assert drnl_labels(ei, 0, 4).tolist() == expected


def test_cycle():
    ei = undirected([(i, (i + 1) % 6) for i in range(6)])
    # targets 0 and 3: every other node is 1 hop from one target and 2 from the other
    assert drnl_labels(ei, 0, 3).tolist() == [1, 3, 3, 1, 3, 3]
    assert formula(1, 2) == 3
    # adjacent targets 0 and 1 on the cycle: node 2 has dx=2 (via 3-4-5-0? no: 2-3-4-5-0 = 4), dy=1
    assert drnl_labels(ei, 0, 1).tolist() == reference_drnl(ei, 0, 1, 6)
    assert drnl_labels(ei, 0, 1)[2].item() == formula(4, 1)


def test_star():
    ei = undirected([(0, leaf) for leaf in range(1, 5)])
    # two leaves as targets: the centre is 1 from both, other leaves 2 from both
    assert drnl_labels(ei, 1, 2).tolist() == [formula(1, 1), 1, 1, formula(2, 2), formula(2, 2)]
    assert drnl_labels(ei, 1, 2).tolist() == [2, 1, 1, 5, 5]
    # centre as a target: the other leaves reach the leaf target only through the centre -> 0
    assert drnl_labels(ei, 0, 1).tolist() == [1, 1, 0, 0, 0]


def test_one_sided_and_unreachable_nodes():
    # 0-1-2 and 3-4 are separate components; 5 is isolated; targets 0 and 3
    ei = undirected([(0, 1), (1, 2), (3, 4)])
    assert drnl_labels(ei, 0, 3, num_nodes=6).tolist() == [1, 0, 0, 1, 0, 0]
    # a node whose only path to one target passes through the other target
    ei = undirected([(0, 1), (1, 2)])
    assert drnl_labels(ei, 0, 1).tolist() == [1, 1, 0]
    assert drnl_labels(ei, 1, 2).tolist() == [0, 1, 1]


def test_distance_to_one_target_ignores_paths_through_the_other():
    # 2 is adjacent to target 1 and reaches target 0 directly only through a long detour 2-3-4-0
    ei = undirected([(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)])
    z = drnl_labels(ei, 0, 1)
    assert z[2].item() == formula(3, 1)  # d(2, 0) without node 1 is 3, not 2


def test_hash_function_marks_unreachable():
    dx = torch.tensor([1, 2, -1, 3, -1])
    dy = torch.tensor([1, 2, 2, -1, -1])
    assert drnl_hash(dx, dy).tolist() == [formula(1, 1), formula(2, 2), 0, 0, 0]


@pytest.mark.parametrize("seed", range(5))
def test_random_graphs_match_bfs_reference(seed):
    g = torch.Generator().manual_seed(seed)
    n = 30
    e = torch.randint(0, n, (2, 45), generator=g)
    e = e[:, e[0] != e[1]]
    ei = torch.cat([e, e.flip(0)], dim=1)
    for _ in range(5):
        src, dst = torch.randperm(n, generator=g)[:2].tolist()
        assert drnl_labels(ei, src, dst, num_nodes=n).tolist() == reference_drnl(ei, src, dst, n)


def test_batched_equals_single():
    g = torch.Generator().manual_seed(3)
    graphs, targets, offset = [], [], 0
    singles = []
    for _ in range(4):
        n = 12
        e = torch.randint(0, n, (2, 20), generator=g)
        e = e[:, e[0] != e[1]]
        ei = torch.cat([e, e.flip(0)], dim=1)
        s, t = torch.randperm(n, generator=g)[:2].tolist()
        singles.append(drnl_labels(ei, s, t, num_nodes=n))
        graphs.append(ei + offset)
        targets.append((s + offset, t + offset))
        offset += n
    batched = drnl_labels_batched(torch.cat(graphs, dim=1), torch.tensor([a for a, _ in targets]),
                                  torch.tensor([b for _, b in targets]), offset)
    assert torch.equal(batched, torch.cat(singles))


def test_bad_input():
    ei = undirected([(0, 1), (1, 2)])
    with pytest.raises(ValueError, match="must be different"):
        drnl_labels(ei, 1, 1)
    with pytest.raises(ValueError, match="outside"):
        drnl_labels_batched(ei, torch.tensor([0]), torch.tensor([7]), 3)
    with pytest.raises(ValueError, match="same length"):
        drnl_labels_batched(ei, torch.tensor([0, 1]), torch.tensor([2]), 3)


def test_numpy_hash_used_by_the_batched_extractor_equals_drnl_hash():
    from scalegnn.linkpred.drnl import _drnl_hash_np

    d = torch.arange(-1, 40)
    dx, dy = d.repeat_interleave(d.numel()), d.repeat(d.numel())
    expected = drnl_hash(dx, dy)
    assert torch.equal(torch.from_numpy(_drnl_hash_np(dx.numpy().copy(), dy.numpy().copy())), expected)
    assert expected[(dx >= 0) & (dy >= 0)].tolist() == [formula(int(a), int(b)) for a, b in zip(dx, dy)
                                                        if a >= 0 and b >= 0]
