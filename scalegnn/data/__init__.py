"""Datasets, synthetic graphs, normalized sparse adjacency and input validation.

The argument checkers shared by every public boundary (``check_int``, ``check_option``,
``check_edge_weight``, ...) live in :mod:`scalegnn.data.validate`.
"""
from scalegnn.data.adjacency import cached_adjacency, normalized_adjacency, spmm, to_torch_csr
from scalegnn.data.datasets import (
    DatasetNotFoundError,
    cache_dir,
    dataset_root,
    dataset_status,
    load_dataset,
    split_edges,
)
from scalegnn.data.loaded import LoadedDataset
from scalegnn.data.splits import fold_split, split_rows, stratified_folds
from scalegnn.data.synthetic import load_synthetic, synthetic_graph
from scalegnn.data.validate import validate_edge_index, validate_features, validate_graph, validate_node_ids

__all__ = [
    "split_rows",
    "fold_split",
    "stratified_folds",
    "DatasetNotFoundError",
    "cache_dir",
    "dataset_root",
    "dataset_status",
    "load_dataset",
    "split_edges",
    "LoadedDataset",
    "load_synthetic",
    "synthetic_graph",
    "cached_adjacency",
    "normalized_adjacency",
    "spmm",
    "to_torch_csr",
    "validate_edge_index",
    "validate_features",
    "validate_graph",
    "validate_node_ids",
]
