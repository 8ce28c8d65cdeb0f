"""SEAL datasets: target links whose enclosing subgraphs are extracted per mini-batch or precomputed.

:class:`SEALDataset` holds target pairs and their labels. A
:class:`SEALLoader` asks it for a whole mini-batch at once
(``__getitems__``), so on the fly the batch's subgraphs are extracted by one
vectorized :func:`~scalegnn.linkpred.extract.extract_enclosing_subgraphs`
call inside the DataLoader worker that builds the batch: memory is set by
the batch size, not by the number of links, and ``num_workers`` workers
extract while the model trains. For small graphs ``precompute=True``
extracts everything once (in chunks) into flat tensors, optionally cached to
a file, and batches are sliced out of them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from scalegnn.data.validate import check_int
from scalegnn.linkpred._ranges import concat_ranges
from scalegnn.linkpred.extract import CSRGraph, check_pairs, extract_enclosing_subgraphs

__all__ = ["SEALDataset", "SEALLoader", "seal_datasets"]

STORE_FORMAT = 1


class SEALDataset(torch.utils.data.Dataset):
    """Target pairs and labels of one split; ``dataset[i]`` is pair ``i``'s labeled enclosing subgraph.

    Args:
        edge_index: the observed graph (both directions of each edge).
        pairs: ``[P, 2]`` target pairs.
        labels: ``[P]`` link labels (1 positive, 0 negative).
        num_nodes: nodes of the graph.
        num_hops: enclosing-subgraph radius.
        max_nodes_per_hop, ratio_per_hop: per-hop sampling (see
            :func:`~scalegnn.linkpred.extract.extract_enclosing_subgraphs`).
        x: optional node features, gathered per batch.
        remove_target: remove each pair's own edge from its subgraph; default
            ``labels == 1`` (positives whose edge is in the observed graph).
        precompute: extract every subgraph once and serve batches from memory.
        cache_path: with ``precompute``, load the extracted subgraphs from this
            file if it exists (and matches), else write it.
        chunk_size: pairs per extraction call when precomputing.
        progress: show a tqdm bar while precomputing.
    """

    def __init__(self, edge_index: Union[Tensor, CSRGraph], pairs: Tensor, labels: Tensor, num_nodes: int,
                 num_hops: int = 1, max_nodes_per_hop: Optional[int] = None, ratio_per_hop: float = 1.0, *,
                 x: Optional[Tensor] = None, remove_target: Optional[Union[bool, Tensor]] = None,
                 precompute: bool = False, cache_path: Optional[Union[str, Path]] = None,
                 chunk_size: int = 1024, progress: bool = False) -> None:
        self.csr = edge_index if isinstance(edge_index, CSRGraph) else CSRGraph.from_edge_index(edge_index, num_nodes)
        self.num_nodes = self.csr.num_nodes
        self.pairs = check_pairs(pairs, self.num_nodes)
        labels = torch.as_tensor(labels).view(-1)
        if labels.numel() != self.pairs.size(0):
            raise ValueError(f"labels has {labels.numel()} entries for {self.pairs.size(0)} pairs")
        self.labels = labels.float()
        self.num_hops = check_int(num_hops, "num_hops", min_value=1)
        self.max_nodes_per_hop, self.ratio_per_hop = max_nodes_per_hop, ratio_per_hop
        if x is not None and x.size(0) != self.num_nodes:
            raise ValueError(f"x has {x.size(0)} rows for a graph with {self.num_nodes} nodes")
        self.x = x
        if remove_target is None:
            remove_target = self.labels > 0.5
        elif isinstance(remove_target, bool):
            remove_target = torch.full((self.pairs.size(0),), remove_target, dtype=torch.bool)
        self.remove_target = remove_target
        self.store = None
        if precompute:
            self.store = self._load_or_build(cache_path, check_int(chunk_size, "chunk_size", min_value=1), progress)
        elif cache_path is not None:
            raise ValueError("cache_path needs precompute=True")

    def __len__(self) -> int:
        return self.pairs.size(0)

    def __getitem__(self, index: int) -> Data:
        batch = self.__getitems__([int(index)])
        data = Data(edge_index=batch.edge_index, z=batch.z, node_id=batch.node_id, y=batch.y[:1],
                    num_nodes=batch.num_nodes)
        if self.x is not None:
            data.x = batch.x
        return data

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """The labeled subgraphs of ``indices`` as one ``Batch`` (one extraction call)."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        if self.store is not None:
            return self._from_store(idx)
        return extract_enclosing_subgraphs(
            self.csr, self.pairs[idx], self.num_hops, self.max_nodes_per_hop, ratio_per_hop=self.ratio_per_hop,
            remove_target=self.remove_target[idx], x=self.x, y=self.labels[idx])

    # ------------------------------------------------------------ precompute
    def _fingerprint(self) -> dict:
        return {"format": STORE_FORMAT, "num_pairs": len(self), "num_nodes": self.num_nodes,
                "num_edges": self.csr.num_edges, "num_hops": self.num_hops,
                "max_nodes_per_hop": self.max_nodes_per_hop, "ratio_per_hop": self.ratio_per_hop,
                "pairs_sum": int(self.pairs.sum()), "col_sum": int(self.csr.col.sum()),
                "removed": int(self.remove_target.sum())}

    def _load_or_build(self, cache_path, chunk_size: int, progress: bool) -> dict:
        fp = self._fingerprint()
        if cache_path is not None and Path(cache_path).is_file():
            store = torch.load(cache_path, weights_only=True)
            if store.get("fingerprint") == fp:
                return store
        from tqdm.auto import tqdm

        node_id, z, hop, edges, ncount, ecount = [], [], [], [], [], []
        starts = range(0, len(self), chunk_size)
        for s in tqdm(starts, disable=not progress, desc="extract", leave=False):
            idx = torch.arange(s, min(s + chunk_size, len(self)))
            b = extract_enclosing_subgraphs(
                self.csr, self.pairs[idx], self.num_hops, self.max_nodes_per_hop,
                ratio_per_hop=self.ratio_per_hop, remove_target=self.remove_target[idx])
            node_id.append(b.node_id)
            z.append(b.z)
            hop.append(b.hop)
            edges.append(b.edge_index - b.ptr[b.batch[b.edge_index[0]]])  # local ids
            ncount.append(b.ptr.diff())
            ecount.append(torch.bincount(b.batch[b.edge_index[0]], minlength=idx.numel()))
        def ptr(counts):
            c = torch.cat(counts)
            return torch.cat([c.new_zeros(1), torch.cumsum(c, 0)])
        store = {"fingerprint": fp, "node_ptr": ptr(ncount), "edge_ptr": ptr(ecount),
                 "node_id": torch.cat(node_id), "z": torch.cat(z), "hop": torch.cat(hop),
                 "edge_index": torch.cat(edges, dim=1)}
        if cache_path is not None:
            Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(str(cache_path) + ".tmp")
            torch.save(store, tmp)
            tmp.replace(cache_path)
        return store

    def _from_store(self, idx: Tensor) -> Batch:
        st = self.store
        n0, n1 = st["node_ptr"][idx], st["node_ptr"][idx + 1]
        e0, e1 = st["edge_ptr"][idx], st["edge_ptr"][idx + 1]
        ncount, ecount = n1 - n0, e1 - e0
        nodes = concat_ranges(n0, ncount)
        ptr = torch.cat([ncount.new_zeros(1), torch.cumsum(ncount, 0)])
        edge_index = st["edge_index"][:, concat_ranges(e0, ecount)] + torch.repeat_interleave(ptr[:-1], ecount)
        node_id = st["node_id"][nodes]
        out = Batch(edge_index=edge_index, batch=torch.repeat_interleave(torch.arange(idx.numel()), ncount),
                    ptr=ptr, node_id=node_id, hop=st["hop"][nodes], z=st["z"][nodes], pair=self.pairs[idx],
                    y=self.labels[idx])
        out._num_graphs = idx.numel()
        if self.x is not None:
            out.x = self.x[node_id]
        return out

    def subgraph_sizes(self, limit: Optional[int] = None, seed: int = 0) -> Tensor:
        """Node counts of (a random subset of ``limit``) subgraphs, e.g. to pick DGCNN's ``k``."""
        if self.store is not None and limit is None:
            return self.store["node_ptr"].diff()
        idx = torch.arange(len(self))
        if limit is not None and limit < len(self):
            idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:limit]
        sizes = []
        for s in range(0, idx.numel(), 1024):
            sizes.append(self.__getitems__(idx[s:s + 1024].tolist()).ptr.diff())
        return torch.cat(sizes)

    def __repr__(self) -> str:
        mode = "precomputed" if self.store is not None else "on the fly"
        return (f"{type(self).__name__}({len(self)} pairs, {int(self.labels.sum())} positive, "
                f"num_hops={self.num_hops}, {mode})")


def _first(batch: Any) -> Any:
    return batch


class SEALLoader(torch.utils.data.DataLoader):
    """Mini-batches of a :class:`SEALDataset`, each extracted by one call (in a worker when ``num_workers > 0``).

    Takes the usual ``DataLoader`` arguments (``batch_size``, ``shuffle``,
    ``num_workers``, ``generator``, ...); ``collate_fn`` is fixed.
    """

    def __init__(self, dataset: SEALDataset, batch_size: int = 32, shuffle: bool = False, **kwargs: Any) -> None:
        if not isinstance(dataset, SEALDataset):
            raise TypeError(f"SEALLoader needs a SEALDataset, got {type(dataset).__name__}")
        if "collate_fn" in kwargs:
            raise TypeError("SEALLoader's collate_fn is fixed (the dataset builds whole batches)")
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=_first, **kwargs)


def seal_datasets(split: Any, num_hops: int = 1, max_nodes_per_hop: Optional[int] = None,
                  ratio_per_hop: float = 1.0, *, x: Optional[Tensor] = None, precompute: bool = False,
                  splits: Sequence[str] = ("train", "valid", "test"), progress: bool = False) -> dict:
    """One :class:`SEALDataset` per split of a :class:`~scalegnn.linkpred.split.LinkSplit`.

    Each split's pairs are its positives then its negatives (labels 1 / 0),
    extracted from the graph that split may observe (``split.observed(name)``);
    positives have their own edge removed from their subgraph.
    """
    out = {}
    graphs: dict = {}
    for name in splits:
        pos, neg = split.pos[name], split.neg[name]
        pairs = torch.cat([pos, neg]).long()
        labels = torch.cat([torch.ones(pos.size(0)), torch.zeros(neg.size(0))])
        observed = split.observed(name)
        key = id(observed)
        if key not in graphs:
            graphs[key] = CSRGraph.from_edge_index(observed, split.num_nodes)
        out[name] = SEALDataset(graphs[key], pairs, labels, split.num_nodes, num_hops, max_nodes_per_hop,
                                ratio_per_hop, x=x, precompute=precompute, progress=progress)
    return out
