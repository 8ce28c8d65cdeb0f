"""Link prediction with SEAL (Zhang & Chen, "Link Prediction Based on Graph Neural Networks", NeurIPS 2018).

* :func:`extract_enclosing_subgraphs`: the h-hop enclosing subgraphs of a whole
  batch of target pairs in one vectorized pass, DRNL-labeled, as a PyG ``Batch``;
* :func:`drnl_labels` / :func:`drnl_labels_batched`: Double-Radius Node Labeling;
* :class:`SEALDataset` / :class:`SEALLoader`: on-the-fly (worker) or precomputed extraction;
* :class:`DGCNN` and :class:`SEALGNN` (GCN/GIN) with :class:`SEALNodeEncoder`;
* :class:`LinkPredictionTask` for the shared ``Trainer`` (AUC/AP, OGB Hits@K/MRR);
* :func:`random_link_split`, :func:`ogb_link_split`; :func:`common_neighbors`, :func:`adamic_adar`.
"""
from scalegnn.linkpred.dataset import SEALDataset, SEALLoader, seal_datasets
from scalegnn.linkpred.dgcnn import DGCNN, sort_pool_k
from scalegnn.linkpred.drnl import drnl_hash, drnl_labels, drnl_labels_batched
from scalegnn.linkpred.extract import CSRGraph, check_pairs, extract_enclosing_subgraphs
from scalegnn.linkpred.heuristics import adamic_adar, common_neighbors
from scalegnn.linkpred.node_input import SEALNodeEncoder
from scalegnn.linkpred.seal_gnn import SEALGNN
from scalegnn.linkpred.split import LinkSplit, ogb_link_split, random_link_split, sample_negative_pairs
from scalegnn.linkpred.task import LinkPredictionTask
from scalegnn.linkpred.recipe import SEALConfig, build_model, train_seal

__all__ = [
    "extract_enclosing_subgraphs", "CSRGraph", "check_pairs",
    "drnl_hash", "drnl_labels", "drnl_labels_batched",
    "SEALDataset", "SEALLoader", "seal_datasets",
    "DGCNN", "sort_pool_k", "SEALGNN", "SEALNodeEncoder",
    "LinkPredictionTask", "SEALConfig", "train_seal", "build_model",
    "LinkSplit", "random_link_split", "ogb_link_split", "sample_negative_pairs",
    "common_neighbors", "adamic_adar",
]
