"""Train/valid/test link splits with negatives, and the message-passing graph each split may see.

A link split holds positive and negative pairs per split and the *observed*
graph models may read: for a random split only the training edges (both
directions), so no validation or test edge can leak into an enclosing
subgraph. :func:`random_link_split` splits a graph's undirected edges
(through :func:`scalegnn.data.split_edges`, OGB's layout) and adds training
negatives; :func:`ogb_link_split` wraps the split of an ``ogbl-*`` dataset
loaded by :func:`scalegnn.data.load_dataset`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import torch
from torch import Tensor

from scalegnn.data import split_edges
from scalegnn.data.validate import check_float, check_int

__all__ = ["LinkSplit", "random_link_split", "ogb_link_split", "sample_negative_pairs", "undirected_edge_index"]


def undirected_edge_index(pairs: Tensor) -> Tensor:
    """``[2, 2B]`` edge index listing each of the ``[B, 2]`` pairs in both directions."""
    return torch.cat([pairs.t(), pairs.t().flip(0)], dim=1)


def sample_negative_pairs(edge_index: Tensor, num_nodes: int, num_samples: int, *,
                          seed: int = 0, exclude: Optional[Tensor] = None) -> Tensor:
    """``[num_samples, 2]`` uniformly random distinct node pairs ``u < v`` that are not edges.

    Args:
        edge_index: edges to avoid (either direction).
        num_nodes: nodes of the graph.
        num_samples: how many pairs.
        seed: the random seed.
        exclude: optional ``[K, 2]`` further pairs to avoid (e.g. held-out positives).
    """
    num_nodes = check_int(num_nodes, "num_nodes", min_value=2)
    num_samples = check_int(num_samples, "num_samples", min_value=0)
    known = [torch.minimum(edge_index[0], edge_index[1]) * num_nodes + torch.maximum(edge_index[0], edge_index[1])]
    if exclude is not None and exclude.numel():
        known.append(exclude.min(dim=1).values * num_nodes + exclude.max(dim=1).values)
    known_keys = torch.unique(torch.cat(known).long())
    free = num_nodes * (num_nodes - 1) // 2 - int((known_keys // num_nodes != known_keys % num_nodes).sum())
    if num_samples > free:
        raise ValueError(f"the graph has only {free} non-edges, cannot sample {num_samples} negatives")
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(0, dtype=torch.long)
    while out.numel() < num_samples:
        k = max(2 * (num_samples - out.numel()), 64)
        a = torch.randint(0, num_nodes, (k,), generator=g)
        b = torch.randint(0, num_nodes, (k,), generator=g)
        key = torch.minimum(a, b) * num_nodes + torch.maximum(a, b)
        key = key[a != b]
        pos = torch.searchsorted(known_keys, key).clamp(max=max(known_keys.numel() - 1, 0))
        if known_keys.numel():
            key = key[known_keys[pos] != key]
        key = torch.cat([out, key])
        # keep first occurrences only, in draw order
        uniq, inverse = torch.unique(key, return_inverse=True)
        first = torch.full((uniq.numel(),), key.numel(), dtype=torch.long).scatter_reduce(
            0, inverse, torch.arange(key.numel()), reduce="amin")
        out = key[torch.sort(first).values]
    out = out[:num_samples]
    return torch.stack([out // num_nodes, out % num_nodes], dim=1)


@dataclass
class LinkSplit:
    """Positive / negative pairs by split and the graph each may observe.

    Attributes:
        num_nodes: nodes of the graph.
        pos: ``{"train"|"valid"|"test": [P, 2]}`` positive pairs.
        neg: ``{"train"|"valid"|"test": [Q, 2]}`` negative pairs.
        edge_index: the observed (message-passing) graph for training and
            validation: the training positives in both directions.
        test_edge_index: the observed graph at test time (default: the same;
            OGB collab's recipe adds the validation edges).
        edge_weight: optional weights of ``edge_index`` (unused by SEAL's DGCNN).
    """

    num_nodes: int
    pos: Dict[str, Tensor]
    neg: Dict[str, Tensor]
    edge_index: Tensor
    test_edge_index: Optional[Tensor] = None
    info: Dict[str, object] = field(default_factory=dict)

    def observed(self, split: str) -> Tensor:
        if split == "test" and self.test_edge_index is not None:
            return self.test_edge_index
        return self.edge_index

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={self.pos[k].size(0)}+/{self.neg[k].size(0)}-" for k in self.pos)
        return f"LinkSplit(num_nodes={self.num_nodes}, {parts}, observed_edges={self.edge_index.size(1)})"


def random_link_split(data, val: float = 0.05, test: float = 0.1, seed: int = 0,
                      train_neg_ratio: float = 1.0, valedges_as_test_input: bool = False,
                      train_both_directions: bool = False) -> LinkSplit:
    """Random split of an undirected graph's edges (85/5/10 by default) with negatives.

    Validation and test negatives come from :func:`scalegnn.data.split_edges`
    (non-edges of the whole graph, as many as positives); training negatives
    (``train_neg_ratio`` per positive) are non-edges of the whole graph that
    are not validation/test negatives either. The observed graph is the
    training edges in both directions: validation and test edges are removed.
    With ``valedges_as_test_input`` the test pairs see the training and the
    validation edges, as PyG's ``RandomLinkSplit`` gives its test split.
    With ``train_both_directions`` every training edge is a positive twice,
    as ``(u, v)`` and ``(v, u)``, and ``train_neg_ratio`` negatives are drawn
    per listed positive (so twice as many): the training set of the first
    version of PyG's SEAL example (PR #1392, ``train_test_split_edges``, whose
    ``train_pos_edge_index`` holds both directions), the run behind its
    reported 0.9332 AUC on Cora.
    """
    val = check_float(val, "val", min_value=0.0, max_value=1.0, max_open=True)
    test = check_float(test, "test", min_value=0.0, max_value=1.0, max_open=True)
    train_neg_ratio = check_float(train_neg_ratio, "train_neg_ratio", min_value=0.0)
    raw = split_edges(data, val=val, test=test, seed=seed)
    n = int(data.num_nodes)
    pos = {"train": raw["train"]["edge"], "valid": raw["valid"]["edge"], "test": raw["test"]["edge"]}
    observed = undirected_edge_index(pos["train"])
    if train_both_directions:
        pos["train"] = torch.cat([pos["train"], pos["train"].flip(1)])
    held_neg = torch.cat([raw["valid"]["edge_neg"], raw["test"]["edge_neg"]])
    num_train_neg = int(round(train_neg_ratio * pos["train"].size(0)))
    train_neg = sample_negative_pairs(data.edge_index, n, num_train_neg, seed=seed + 1, exclude=held_neg)
    neg = {"train": train_neg, "valid": raw["valid"]["edge_neg"], "test": raw["test"]["edge_neg"]}
    test_ei = (undirected_edge_index(torch.cat([raw["train"]["edge"], pos["valid"]]))
               if valedges_as_test_input else None)
    return LinkSplit(num_nodes=n, pos=pos, neg=neg, edge_index=observed, test_edge_index=test_ei,
                     info={"seed": seed, "val": val, "test": test, "train_both_directions": train_both_directions})


def _subsample(pairs: Tensor, percent: float, g: torch.Generator) -> Tensor:
    if percent >= 100:
        return pairs
    k = max(1, int(pairs.size(0) * percent / 100))
    return pairs[torch.randperm(pairs.size(0), generator=g)[:k]]


def ogb_link_split(dataset, *, use_valedges_as_input: bool = False, train_percent: float = 100.0,
                   val_percent: float = 100.0, test_percent: float = 100.0, seed: int = 0) -> LinkSplit:
    """The :class:`LinkSplit` of an ``ogbl-*`` :class:`~scalegnn.data.LoadedDataset`.

    Positives and negatives are OGB's own (``get_edge_split()``); training
    negatives are sampled (one per positive) from non-edges of the training
    graph. The observed graph is the dataset's graph (OGB stores the training
    edges there), made undirected; with
    ``use_valedges_as_input`` (OGB's collab rule) the test-time graph also has
    the validation edges. ``*_percent`` keep a random subset of a split's
    pairs, as the SEAL-OGB recipes do to bound the cost of an epoch.
    """
    if getattr(dataset, "task", None) != "link":
        raise ValueError(f"ogb_link_split needs a link-prediction dataset, got task {getattr(dataset, 'task', None)!r}")
    split = dataset.split
    for key in ("train", "valid", "test"):
        if key not in split or "edge" not in split[key]:
            raise ValueError(f"the dataset's split has no {key!r} positives: keys {sorted(split)}")
    n = int(dataset.data.num_nodes)
    g = torch.Generator().manual_seed(seed)
    train_pos = split["train"]["edge"].long()
    from torch_geometric.utils import to_undirected

    # OGB stores the training graph (both directions when the dataset adds inverse edges); make sure
    # both directions are there, duplicates merged
    observed = to_undirected(dataset.data.edge_index.long(), num_nodes=n)
    pos = {"train": _subsample(train_pos, train_percent, g)}
    neg = {"train": sample_negative_pairs(observed, n, pos["train"].size(0), seed=seed + 1)}
    for key, pct in (("valid", val_percent), ("test", test_percent)):
        p = split[key]["edge"].long()
        q = split[key].get("edge_neg")
        if q is None:
            raise ValueError(f"the dataset's {key!r} split has no 'edge_neg' negatives")
        q = q.long().view(-1, 2)
        pos[key], neg[key] = _subsample(p, pct, g), _subsample(q, pct, g)
    test_ei = None
    if use_valedges_as_input:
        test_ei = to_undirected(torch.cat([observed, split["valid"]["edge"].long().t()], dim=1), num_nodes=n)
    return LinkSplit(num_nodes=n, pos=pos, neg=neg, edge_index=observed, test_edge_index=test_ei,
                     info={"seed": seed, "use_valedges_as_input": use_valedges_as_input})
