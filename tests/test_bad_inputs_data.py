"""Every public function of ``scalegnn.data`` fed its bad inputs (and the valid forms it must accept).

One table, one parametrized test: each row of ``CASES`` is ``(id, callable, expected_exception,
message_regex)``; the callable takes no argument and must raise ``expected_exception`` with a
message matching ``message_regex`` (``re.search``), which names the argument and the bad value.
``ACCEPTED`` rows ``(id, callable)`` must not raise: numpy and 0-d tensor integers where an int is
meant, ``[E, 1]`` edge weights, ...

Nothing here reads real data or the network: options are checked before any file is looked up,
and the absent-dataset rows point at an empty temporary root with ``download=False``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, List, Tuple, Type

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from scalegnn.data import (DatasetNotFoundError, LoadedDataset, cached_adjacency, dataset_root, dataset_status,
                           load_dataset, load_synthetic, normalized_adjacency, spmm, split_edges, split_rows,
                           synthetic_graph, to_torch_csr, validate_edge_index, validate_features, validate_graph,
                           validate_node_ids)
from scalegnn.data.bundled import load_cora_arrays
from scalegnn.data.datasets import expected_path
from scalegnn.data.ogb_datasets import load_ogb, ogb_dataset_dir, ogb_dir_name, ogb_meta_info
from scalegnn.data.planetoid import load_planetoid_data, planetoid_raw_dir
from scalegnn.data.seal_networks import load_seal_network, seal_path
from scalegnn.data.splits import fold_split, stratified_folds
from scalegnn.data.synthetic import random_node_split
from scalegnn.data.tu import load_tu_dataset, tu_graph_labels, tu_raw_dir
from scalegnn.data.validate import (check_bool, check_edge_attr, check_edge_weight, check_finite, check_float,
                                    check_index, check_int, check_option, check_probability, check_tensor,
                                    did_you_mean)

Case = Tuple[str, Callable[[], Any], Type[BaseException], str]

_EMPTY_ROOT: List[Path] = []


def empty_root() -> Path:
    """An empty data root (made once per session); the rows below never write into it."""
    if not _EMPTY_ROOT:
        _EMPTY_ROOT.append(Path(tempfile.mkdtemp(prefix="scalegnn-empty-root-")))
    return _EMPTY_ROOT[0]


def ring(n: int = 5) -> torch.Tensor:
    i = torch.arange(n)
    j = (i + 1) % n
    return torch.stack([torch.cat([i, j]), torch.cat([j, i])])


def graph(**kw) -> Data:
    base = dict(x=torch.ones(5, 2), edge_index=ring(5), num_nodes=5)
    base.update(kw)
    return Data(**base)


def poked(t: torch.Tensor, value: float, at: int = 1) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[at] = value
    return t


NAN, INF = float("nan"), float("inf")
W10 = torch.ones(10)  # edge weights of ring(5)
Y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])  # 12 graph labels, 3 classes

CASES: List[Case] = [
    # ---------------------------------------------------------------- the checkers themselves
    ("check_int/bool", lambda: check_int(True, "k"), TypeError, r"k must be an integer, got True \(bool\)"),
    ("check_int/float", lambda: check_int(2.5, "k"), TypeError, r"k must be an integer, got 2\.5 \(float\)"),
    ("check_int/integral-float", lambda: check_int(2.0, "k"), TypeError, r"got 2\.0 \(float\)"),
    ("check_int/float-tensor", lambda: check_int(torch.tensor(2.0), "k"), TypeError, r"k must be .*torch\.float32"),
    ("check_int/1d-tensor", lambda: check_int(torch.tensor([2]), "k"), TypeError, r"k must be .*shape \[1\]"),
    ("check_int/str", lambda: check_int("3", "k"), TypeError, r"k must be an integer, got '3' \(str\)"),
    ("check_int/below", lambda: check_int(0, "k", min_value=1), ValueError, r"k must be a positive integer, got 0"),
    ("check_int/above", lambda: check_int(5, "k", min_value=0, max_value=4), ValueError,
     r"k must be an integer in \[0, 4\], got 5"),
    ("check_float/nan", lambda: check_float(NAN, "lr"), ValueError, r"lr must be a finite number, got nan"),
    ("check_float/inf", lambda: check_float(INF, "lr"), ValueError, r"lr must be a finite number, got inf"),
    ("check_float/bool", lambda: check_float(False, "lr"), TypeError, r"lr must be .*False \(bool\)"),
    ("check_float/open-bound", lambda: check_float(0.0, "t", min_value=0.0, min_open=True), ValueError,
     r"t must be a positive finite number, got 0\.0"),
    ("check_probability/1.5", lambda: check_probability(1.5, "p"), ValueError, r"p must be .*\[0\.0, 1\.0\], got 1\.5"),
    ("check_probability/-0.1", lambda: check_probability(-0.1, "p"), ValueError, r"p must .* got -0\.1"),
    ("check_probability/open-1", lambda: check_probability(1.0, "p", allow_one=False), ValueError,
     r"p must be .*\[0\.0, 1\.0\), got 1\.0"),
    ("check_bool/int", lambda: check_bool(1, "flag"), TypeError, r"flag must be True or False, got 1 \(int\)"),
    ("check_bool/str", lambda: check_bool("yes", "flag"), TypeError, r"flag must be True or False, got 'yes'"),
    ("check_option/typo", lambda: check_option("symm", "norm", ("sym", "row")), ValueError,
     r"norm='symm' is not one of \['sym', 'row'\]\. Did you mean 'sym'\?"),
    ("check_option/far", lambda: check_option("zzz", "norm", ("sym", "row")), ValueError,
     r"norm='zzz' is not one of \['sym', 'row'\]$"),
    ("check_option/not-str", lambda: check_option(1, "norm", ("sym",)), TypeError, r"norm must be one of .*1 \(int\)"),
    ("did_you_mean/not-iterable", lambda: did_you_mean("a", 3), TypeError, r"int"),
    ("check_tensor/list", lambda: check_tensor([1, 2], "x"), TypeError, r"x must be a torch\.Tensor, got \[1, 2\]"),
    ("check_tensor/dims", lambda: check_tensor(torch.ones(2, 2, 2), "x", dims=(2,)), ValueError,
     r"x must be 2-D, got shape \[2, 2, 2\]"),
    ("check_tensor/floating", lambda: check_tensor(torch.ones(2, dtype=torch.long), "x", floating=True), ValueError,
     r"x must have a floating-point dtype, got torch\.int64"),
    ("check_tensor/integer", lambda: check_tensor(torch.ones(2), "ids", integer=True), ValueError,
     r"ids must have an integer dtype .*got torch\.float32"),
    ("check_finite/nan", lambda: check_finite(poked(torch.ones(2, 3), NAN, 4), "x"), ValueError,
     r"x contains NaN values \(first at index \[1, 1\]\)"),
    ("check_finite/inf", lambda: check_finite(poked(torch.ones(3), -INF, 2), "w"), ValueError,
     r"w contains inf values \(first at index \[2\]\)"),
    ("check_edge_weight/size", lambda: check_edge_weight(torch.ones(3), 4), ValueError,
     r"edge_weight has 3 entries but edge_index has 4 edges; expected shape \[4\]"),
    ("check_edge_weight/2d", lambda: check_edge_weight(torch.ones(4, 2), 4), ValueError,
     r"edge_weight has shape \[4, 2\] but edge_index has 4 edges"),
    ("check_edge_weight/negative", lambda: check_edge_weight(torch.tensor([1.0, -2.0]), 2), ValueError,
     r"edge_weight must be non-negative, got -2\.0 at edge 1"),
    ("check_edge_weight/nan", lambda: check_edge_weight(torch.tensor([1.0, NAN]), 2), ValueError,
     r"edge_weight contains NaN"),
    ("check_edge_weight/int", lambda: check_edge_weight(torch.ones(2, dtype=torch.long), 2), ValueError,
     r"edge_weight must have a floating-point dtype, got torch\.int64"),
    ("check_edge_weight/list", lambda: check_edge_weight([1.0, 2.0], 2), TypeError,
     r"edge_weight must be a torch\.Tensor"),
    ("check_edge_attr/rows", lambda: check_edge_attr(torch.ones(3, 2), 4), ValueError,
     r"edge_attr has shape \[3, 2\] but edge_index has 4 edges"),
    ("check_edge_attr/inf", lambda: check_edge_attr(poked(torch.ones(4, 2), INF), 4), ValueError,
     r"edge_attr contains inf"),
    ("check_index/range", lambda: check_index(torch.tensor([0, 4]), "part", 4, what="parts"), ValueError,
     r"part contains 4, out of range for 4 parts \(valid: 0\.\.3\)"),
    ("check_index/float", lambda: check_index(torch.tensor([0.0]), "part", 4), ValueError,
     r"part must have an integer dtype"),
    ("check_index/2d", lambda: check_index(torch.zeros(2, 2, dtype=torch.long), "part", 4), ValueError,
     r"part must be 1-D, got shape \[2, 2\]"),

    # ---------------------------------------------------------------- graph validators
    ("validate_edge_index/num_nodes-float", lambda: validate_edge_index(ring(5), 5.0), TypeError,
     r"num_nodes must be an integer, got 5\.0 \(float\)"),
    ("validate_edge_index/sparse", lambda: validate_edge_index(ring(5).to_sparse(), 5), TypeError,
     r"edge_index must be a dense \[2, num_edges\] tensor"),
    ("validate_edge_index/shape", lambda: validate_edge_index(torch.zeros(3, 2, dtype=torch.long), 5), ValueError,
     r"edge_index must have shape \[2, num_edges\], got \[3, 2\]"),
    ("validate_edge_index/range", lambda: validate_edge_index(ring(6), 5), ValueError,
     r"edge_index has node index 5 out of range for a graph with 5 nodes"),
    ("validate_features/nan", lambda: validate_features(poked(torch.ones(5, 2), NAN)), ValueError,
     r"x contains NaN values"),
    ("validate_features/rows", lambda: validate_features(torch.ones(4, 2), 5), ValueError,
     r"x has 4 rows but the graph has 5 nodes"),
    ("validate_features/num_nodes-bool", lambda: validate_features(torch.ones(4, 2), True), TypeError,
     r"num_nodes must be an integer, got True"),
    ("validate_node_ids/range", lambda: validate_node_ids(torch.tensor([0, 7]), 5, "split['test']"), ValueError,
     r"split\['test'\] contains id 7, out of range for a graph with 5 nodes"),
    ("validate_node_ids/num_nodes-float", lambda: validate_node_ids(torch.tensor([0]), 2.5), TypeError,
     r"num_nodes must be a non-negative integer, got 2\.5"),
    ("validate_graph/not-a-graph", lambda: validate_graph({"x": torch.ones(2, 2)}), TypeError,
     r"data must be a PyG Data/Batch .*got dict"),
    ("validate_graph/task-typo", lambda: validate_graph(graph(), task="nodes"), ValueError,
     r"task='nodes' is not one of \['node', 'link', 'graph'\]\. Did you mean 'node'\?"),
    ("validate_graph/edge_weight-size", lambda: validate_graph(graph(edge_weight=torch.ones(9))), ValueError,
     r"edge_weight has 9 entries but edge_index has 10 edges"),
    ("validate_graph/edge_weight-inf", lambda: validate_graph(graph(edge_weight=poked(W10, INF))), ValueError,
     r"edge_weight contains inf"),
    ("validate_graph/edge_attr-size", lambda: validate_graph(graph(edge_attr=torch.ones(7, 3))), ValueError,
     r"edge_attr has shape \[7, 3\] but edge_index has 10 edges"),
    ("validate_graph/edge_attr-nan", lambda: validate_graph(graph(edge_attr=poked(torch.ones(10, 3), NAN))),
     ValueError, r"edge_attr contains NaN"),
    ("validate_graph/x-inf", lambda: validate_graph(graph(x=poked(torch.ones(5, 2), INF))), ValueError,
     r"x contains inf values"),

    # ---------------------------------------------------------------- adjacency
    ("normalized_adjacency/normalization-typo", lambda: normalized_adjacency(ring(), 5, "rows"), ValueError,
     r"normalization='rows' is not one of \['sym', 'row', 'col', 'gen', 'none'\]\. Did you mean 'row'\?"),
    ("normalized_adjacency/num_nodes-float", lambda: normalized_adjacency(ring(), 5.5), TypeError,
     r"num_nodes must be an integer, got 5\.5"),
    ("normalized_adjacency/r-out-of-range", lambda: normalized_adjacency(ring(), 5, "gen", r=1.5), ValueError,
     r"0 <= r <= 1, got r=1\.5"),
    ("normalized_adjacency/r-nan", lambda: normalized_adjacency(ring(), 5, "gen", r=NAN), ValueError,
     r"r must be a finite number, got nan"),
    ("normalized_adjacency/add_self_loops-str", lambda: normalized_adjacency(ring(), 5, add_self_loops="no"),
     TypeError, r"add_self_loops must be True or False, got 'no'"),
    ("normalized_adjacency/edge_weight-size", lambda: normalized_adjacency(ring(), 5, edge_weight=torch.ones(3)),
     ValueError, r"edge_weight has 3 entries but edge_index has 10 edges"),
    ("normalized_adjacency/edge_weight-negative",
     lambda: normalized_adjacency(ring(), 5, edge_weight=poked(W10, -1.0, 3)), ValueError,
     r"edge_weight must be non-negative, got -1\.0 at edge 3"),
    ("normalized_adjacency/edge_weight-nan", lambda: normalized_adjacency(ring(), 5, edge_weight=poked(W10, NAN)),
     ValueError, r"edge_weight contains NaN"),
    ("normalized_adjacency/dtype", lambda: normalized_adjacency(ring(), 5, dtype=torch.long), TypeError,
     r"dtype must be a floating torch\.dtype .*torch\.int64"),
    ("normalized_adjacency/edge-range", lambda: normalized_adjacency(ring(6), 5), ValueError,
     r"node index 5 out of range"),
    ("cached_adjacency/normalization-typo", lambda: cached_adjacency(ring(), 5, "symm"), ValueError,
     r"normalization='symm' is not one of .* Did you mean 'sym'\?"),
    ("cached_adjacency/num_nodes-0", lambda: cached_adjacency(ring(), 0), ValueError,
     r"num_nodes must be a positive integer, got 0"),
    ("cached_adjacency/edge_index-list", lambda: cached_adjacency([[0, 1], [1, 0]], 2), TypeError,
     r"edge_index must be a torch\.Tensor"),
    ("cached_adjacency/device", lambda: cached_adjacency(ring(), 5, device="gpu0"), ValueError,
     r"device must be a torch\.device or a name like 'cpu'.*'gpu0'"),
    ("to_torch_csr/str", lambda: to_torch_csr("adj"), TypeError, r"expected a sparse adjacency .*got str"),
    ("spmm/x-list", lambda: spmm(torch.eye(3), [[1.0]]), TypeError, r"x must be a torch\.Tensor"),
    ("spmm/rows", lambda: spmm(torch.eye(3).to_sparse_csr(), torch.ones(4, 2)), ValueError,
     r"adjacency has 3 columns but x has 4 rows"),
    ("spmm/adj-3d", lambda: spmm(torch.ones(2, 3, 3), torch.ones(3, 2)), ValueError,
     r"adjacency must be a 2-D \[N, N\] matrix, got shape \[2, 3, 3\]"),

    # ---------------------------------------------------------------- load_dataset and friends
    ("load_dataset/unknown-name", lambda: load_dataset("Cora2"), ValueError,
     r"unknown dataset 'Cora2'\. Did you mean 'Cora'\?.*`scalegnn datasets`"),
    ("load_dataset/unknown-name-case", lambda: load_dataset("protiens"), ValueError,
     r"Did you mean 'PROTEINS'"),
    ("load_dataset/synthetic-typo", lambda: load_dataset("synthetc-1k-10k"), ValueError,
     r"unknown dataset 'synthetc-1k-10k'\. Generated graphs are named 'synthetic-<nodes>-<edges>'"),
    ("load_dataset/name-int", lambda: load_dataset(7), TypeError, r"dataset name must be a string .*got 7 \(int\)"),
    ("load_dataset/root-int", lambda: load_dataset("Cora", root=3), TypeError,
     r"root must be a path \(str or os\.PathLike\) or None, got 3"),
    ("load_dataset/download-str", lambda: load_dataset("Cora", download="no"), TypeError,
     r"download must be True or False, got 'no'"),
    ("load_dataset/option-typo", lambda: load_dataset("PROTEINS", root=empty_root(), flod=2), TypeError,
     r"load_dataset\('PROTEINS'\) got an unexpected option 'flod': it takes \[.*\]\. Did you mean 'fold'\?"),
    ("load_dataset/bundled-option", lambda: load_dataset(None, seed=1), TypeError,
     r"got an unexpected option 'seed': it takes no options"),
    ("load_dataset/planetoid-option", lambda: load_dataset("Cora", root=empty_root(), fold=1), TypeError,
     r"load_dataset\('Cora'\) got an unexpected option 'fold'"),
    ("load_dataset/seal-option-typo", lambda: load_dataset("USAir", root=empty_root(), split_edge=True), TypeError,
     r"unexpected option 'split_edge'.* Did you mean 'split_edges'\?"),
    ("load_dataset/ogb-option-typo", lambda: load_dataset("ogbn-arxiv", root=empty_root(), splittype="x"),
     TypeError, r"unexpected option 'splittype'.* Did you mean 'split_type'\?"),
    ("load_dataset/synthetic-option", lambda: load_dataset("synthetic-100-400", sed=1), TypeError,
     r"unexpected option 'sed'.* Did you mean 'seed'\?"),
    ("load_dataset/tu-fold-range", lambda: load_dataset("PROTEINS", root=empty_root(), fold=10), ValueError,
     r"fold must be an integer in \[0, 9\], got 10"),
    ("load_dataset/tu-fold-float", lambda: load_dataset("PROTEINS", root=empty_root(), fold=1.5), TypeError,
     r"fold must be an integer in \[0, 9\], got 1\.5 \(float\)"),
    ("load_dataset/tu-num_folds", lambda: load_dataset("PROTEINS", root=empty_root(), num_folds=2), ValueError,
     r"num_folds must be an integer >= 3, got 2"),
    ("load_dataset/tu-seed", lambda: load_dataset("PROTEINS", root=empty_root(), seed="0"), TypeError,
     r"seed must be an integer, got '0'"),
    ("load_dataset/seal-val", lambda: load_dataset("USAir", root=empty_root(), split_edges=True, val=1.2),
     ValueError, r"val must be a finite number in \[0\.0, 1\.0\), got 1\.2"),
    ("load_dataset/absent-offline", lambda: load_dataset("PROTEINS", root=empty_root(), download=False),
     DatasetNotFoundError,
     r"TU/PROTEINS/raw.*Searched the data root .*--root / SCALEGNN_DATA.*download=True.*'synthetic-<nodes>-<edges>'"),
    ("load_dataset/absent-planetoid", lambda: load_dataset("PubMed", root=empty_root(), download=False),
     DatasetNotFoundError, r"Planetoid/PubMed/raw.*Searched the data root.*--root"),
    ("load_dataset/absent-ogb", lambda: load_dataset("ogbn-arxiv", root=empty_root(), download=False),
     DatasetNotFoundError, r"OGB/ogbn_arxiv.*Searched the data root.*SCALEGNN_DATA"),
    ("load_dataset/absent-seal-edgelist", lambda: load_dataset("facebook", root=empty_root(), download=False),
     DatasetNotFoundError, r"not downloaded automatically.*Searched the data root"),
    ("load_dataset/synthetic-bad-name", lambda: load_dataset("synthetic-1k"), ValueError,
     r"synthetic dataset names look like 'synthetic-<nodes>-<edges>'"),
    ("expected_path/unknown", lambda: expected_path("Citeseer2"), ValueError, r"Did you mean 'CiteSeer'\?"),
    ("expected_path/not-str", lambda: expected_path(3.0), TypeError, r"dataset name must be a string"),
    ("dataset_root/int", lambda: dataset_root(5), TypeError, r"root must be a path .*got 5 \(int\)"),
    ("dataset_status/root-list", lambda: dataset_status(["a"]), TypeError, r"root must be a path"),
    ("split_edges/val", lambda: split_edges(graph(), val=-0.1), ValueError, r"val must be .*got -0\.1"),
    ("split_edges/test-nan", lambda: split_edges(graph(), test=NAN), ValueError, r"test must be .*got nan"),
    ("split_edges/sum", lambda: split_edges(graph(), val=0.5, test=0.6), ValueError, r"val \+ test < 1"),
    ("split_edges/seed-float", lambda: split_edges(graph(), seed=0.5), TypeError,
     r"seed must be a non-negative integer, got 0\.5"),
    ("split_edges/bad-graph", lambda: split_edges(graph(edge_index=ring(6))), ValueError, r"out of range"),

    # ---------------------------------------------------------------- family loaders and paths
    ("planetoid_raw_dir/name", lambda: planetoid_raw_dir(empty_root(), "cora"), ValueError,
     r"name='cora' is not one of \['Cora', 'CiteSeer', 'PubMed'\]\. Did you mean 'Cora'\?"),
    ("load_planetoid_data/download", lambda: load_planetoid_data("Cora", empty_root(), download=None), TypeError,
     r"download must be True or False, got None"),
    ("tu_raw_dir/name", lambda: tu_raw_dir(empty_root(), ""), TypeError, r"TU dataset name must be a non-empty"),
    ("load_tu_dataset/use_node_attr", lambda: load_tu_dataset("MUTAG", empty_root(), use_node_attr="yes"),
     TypeError, r"use_node_attr must be True or False, got 'yes'"),
    ("tu_graph_labels/not-a-collection", lambda: tu_graph_labels(3), TypeError, r"graphs must be a graph collection"),
    ("tu_graph_labels/empty", lambda: tu_graph_labels([]), ValueError, r"graphs is empty"),
    ("tu_graph_labels/no-y", lambda: tu_graph_labels([graph()]), ValueError, r"graph 0 has no label y"),
    ("seal_path/name", lambda: seal_path(empty_root(), None), TypeError, r"SEAL network name must be"),
    ("load_seal_network/unknown", lambda: load_seal_network("USair", empty_root()), ValueError,
     r"unknown SEAL network 'USair'\. Did you mean 'USAir'"),
    ("ogb_dir_name/prefix", lambda: ogb_dir_name("arxiv"), ValueError,
     r"start with ogbn-, ogbl- or ogbg-, got 'arxiv'"),
    ("ogb_dataset_dir/name", lambda: ogb_dataset_dir(empty_root(), "ogbn_arxiv"), ValueError,
     r"start with ogbn-, ogbl- or ogbg-, got 'ogbn_arxiv'"),
    ("ogb_meta_info/type", lambda: ogb_meta_info(5), TypeError, r"OGB dataset name such as 'ogbn-arxiv', got 5"),
    ("load_ogb/download", lambda: load_ogb("ogbn-arxiv", empty_root(), download=1), TypeError,
     r"download must be True or False, got 1 \(int\)"),
    ("load_ogb/split_type", lambda: load_ogb("ogbg-molhiv", empty_root(), split_type=3), TypeError,
     r"split_type must be a string"),
    ("load_ogb/meta_dict", lambda: load_ogb("ogbn-tiny", empty_root(), meta_dict=[1]), TypeError,
     r"meta_dict must be a dict or a path"),

    # ---------------------------------------------------------------- splits
    ("load_cora_arrays/path", lambda: load_cora_arrays(3), TypeError, r"path must be a path to cora\.npz"),
    ("split_rows/not-mapping", lambda: split_rows([torch.tensor([0])]), TypeError, r"split must be a mapping"),
    ("split_rows/key-typo", lambda: split_rows({"train": torch.tensor([0]), "val": torch.tensor([1])}), ValueError,
     r"split has an unknown key 'val'; allowed keys are \['train', 'valid', 'test'\]\. Did you mean 'valid'\?"),
    ("split_rows/list-value", lambda: split_rows({"train": [0, 1]}), TypeError,
     r"split\['train'\] must be a tensor of node ids, got list"),
    ("split_rows/float-ids", lambda: split_rows({"train": torch.tensor([0.0])}), ValueError,
     r"split\['train'\] must hold integer node ids or a boolean mask, got dtype torch\.float32"),
    ("split_rows/negative", lambda: split_rows({"test": torch.tensor([3, -1])}), ValueError,
     r"split\['test'\] contains the negative node id -1"),
    ("stratified_folds/num_folds-1", lambda: stratified_folds(Y, 1), ValueError,
     r"num_folds must be an integer >= 2, got 1"),
    ("stratified_folds/too-many", lambda: stratified_folds(Y, 13), ValueError,
     r"num_folds=13 exceeds the number of graphs \(12\)"),
    ("stratified_folds/y-list", lambda: stratified_folds([0, 1], 2), TypeError, r"y must be a tensor"),
    ("stratified_folds/seed-float", lambda: stratified_folds(Y, 3, seed=1.5), TypeError,
     r"seed must be an integer, got 1\.5"),
    ("fold_split/fold-range", lambda: fold_split(Y, fold=4, num_folds=4), ValueError,
     r"fold must be an integer in \[0, 3\], got 4"),
    ("fold_split/fold-negative", lambda: fold_split(Y, fold=-1), ValueError, r"fold must be .* got -1"),
    ("fold_split/num_folds-2", lambda: fold_split(Y, fold=0, num_folds=2), ValueError,
     r"num_folds must be an integer >= 3, got 2"),

    # ---------------------------------------------------------------- synthetic graphs
    ("synthetic_graph/num_nodes-float", lambda: synthetic_graph(10.5, 4), TypeError,
     r"num_nodes must be a positive integer, got 10\.5 \(float\)"),
    ("synthetic_graph/num_nodes-0", lambda: synthetic_graph(0, 0), ValueError,
     r"num_nodes must be a positive integer, got 0"),
    ("synthetic_graph/num_edges-odd", lambda: synthetic_graph(10, 5), ValueError, r"must be even .*got 5"),
    ("synthetic_graph/num_edges-too-many", lambda: synthetic_graph(4, 14, num_classes=2), ValueError,
     r"num_edges=14 exceeds the 12 directed edges"),
    ("synthetic_graph/num_edges-bool", lambda: synthetic_graph(10, True), TypeError, r"num_edges must be .*True"),
    ("synthetic_graph/num_features-0", lambda: synthetic_graph(10, 4, num_features=0), ValueError,
     r"num_features must be a positive integer, got 0"),
    ("synthetic_graph/num_classes", lambda: synthetic_graph(10, 4, num_classes=11), ValueError,
     r"num_classes must be an integer in \[1, 10\], got 11"),
    ("synthetic_graph/kind-typo", lambda: synthetic_graph(10, 4, num_classes=2, kind="powerlw"), ValueError,
     r"kind='powerlw' is not one of \['powerlaw', 'sbm'\]\. Did you mean 'powerlaw'\?"),
    ("synthetic_graph/seed-negative", lambda: synthetic_graph(10, 4, num_classes=2, seed=-1), ValueError,
     r"seed must be a non-negative integer, got -1"),
    ("random_node_split/num_nodes", lambda: random_node_split(0), ValueError,
     r"num_nodes must be a positive integer, got 0"),
    ("random_node_split/fractions-sum", lambda: random_node_split(10, fractions=(0.5, 0.5, 0.5)), ValueError,
     r"fractions must be three numbers .*summing to 1, got \(0\.5, 0\.5, 0\.5\)"),
    ("random_node_split/fractions-two", lambda: random_node_split(10, fractions=(0.5, 0.5)), ValueError,
     r"fractions must be three numbers"),
    ("random_node_split/fractions-negative", lambda: random_node_split(10, fractions=(1.2, -0.1, -0.1)),
     ValueError, r"each of fractions must be .*got 1\.2"),
    ("random_node_split/fractions-str", lambda: random_node_split(10, fractions=("a", "b", "c")), TypeError,
     r"fractions must be three numbers"),
    ("load_synthetic/name-int", lambda: load_synthetic(5), TypeError,
     r"name must be a string like 'synthetic-10k-100k'"),
    ("load_synthetic/seed", lambda: load_synthetic("synthetic-100-400", seed=2.5), TypeError,
     r"seed must be a non-negative integer, got 2\.5"),

    # ---------------------------------------------------------------- LoadedDataset
    ("LoadedDataset/task-typo", lambda: LoadedDataset("g", "nodes", {}, 1, 2, "acc", data=graph()), ValueError,
     r"task='nodes' is not one of \['node', 'link', 'graph'\]\. Did you mean 'node'\?"),
    ("LoadedDataset/num_classes-float", lambda: LoadedDataset("g", "node", {}, 1, 2.5, "acc", data=graph()),
     TypeError, r"num_classes must be a non-negative integer, got 2\.5"),
    ("LoadedDataset/split-list", lambda: LoadedDataset("g", "node", [], 1, 2, "acc", data=graph()), TypeError,
     r"split must be a dict"),
    ("LoadedDataset/no-graph", lambda: LoadedDataset("g", "node", {}, 1, 2, "acc"), ValueError,
     r"needs `data` \(one graph\) or `graphs`"),
]


def _accepts_numpy_and_tensor_ints():
    for v in (3, np.int64(3), np.int32(3), torch.tensor(3), torch.tensor(3, dtype=torch.int32), np.array(3)):
        assert check_int(v, "k", min_value=1) == 3 and type(check_int(v, "k")) is int


ACCEPTED: List[Tuple[str, Callable[[], Any]]] = [
    ("check_int/int-forms", _accepts_numpy_and_tensor_ints),
    ("check_float/forms", lambda: [check_float(v, "x") for v in (1, 0.5, np.float32(0.5), torch.tensor(0.5))]),
    ("check_bool/numpy", lambda: check_bool(np.bool_(True), "flag")),
    ("check_finite/large-finite-values", lambda: check_finite(torch.full((10,), 3e38), "x")),  # the sum overflows
    ("check_edge_weight/column", lambda: check_edge_weight(torch.ones(4, 1), 4)),
    ("validate_graph/int-edge_weight", lambda: validate_graph(graph(edge_weight=torch.ones(10, dtype=torch.long)))),
    ("validate_graph/signed-edge_weight", lambda: validate_graph(graph(edge_weight=poked(W10, -1.0)))),
    ("validate_graph/categorical-edge_attr",
     lambda: validate_graph(graph(edge_attr=torch.ones(10, 3, dtype=torch.long)))),
    ("normalized_adjacency/numpy-num_nodes", lambda: normalized_adjacency(ring(), np.int64(5))),
    ("normalized_adjacency/tensor-num_nodes",
     lambda: normalized_adjacency(ring(), torch.tensor(5), "gen", r=np.float64(0.3))),
    ("normalized_adjacency/none-signed-weights", lambda: normalized_adjacency(ring(), 5, "none", edge_weight=-W10)),
    ("cached_adjacency/numpy-num_nodes", lambda: cached_adjacency(ring(), np.int32(5), device="cpu")),
    ("synthetic_graph/numpy-and-tensor-ints",
     lambda: synthetic_graph(np.int64(20), torch.tensor(40), num_features=np.int32(4), num_classes=torch.tensor(2),
                             seed=np.int64(1))),
    ("load_dataset/synthetic-numpy-seed", lambda: load_dataset("synthetic-100-400", seed=np.int64(1))),
    ("random_node_split/tensor-n", lambda: random_node_split(torch.tensor(10), seed=np.int64(2))),
    ("split_edges/numpy-seed", lambda: split_edges(graph(), val=np.float64(0.1), seed=np.int64(0))),
    ("split_rows/mask", lambda: split_rows({"train": torch.tensor([True, False, True])})),
    ("fold_split/tensor-fold", lambda: fold_split(Y, fold=torch.tensor(2), num_folds=np.int64(4), seed=np.int64(3))),
    ("stratified_folds/column-labels", lambda: stratified_folds(Y.view(-1, 1), 3)),
    ("LoadedDataset/numpy-counts", lambda: LoadedDataset("g", "node", {}, np.int64(2), torch.tensor(3), "acc",
                                                         data=graph())),
]


@pytest.mark.parametrize("call,exc,match", [pytest.param(c, e, m, id=i) for i, c, e, m in CASES])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call", [pytest.param(c, id=i) for i, c in ACCEPTED])
def test_valid_input_forms_are_accepted(call):
    call()


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES] + [a[0] for a in ACCEPTED]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_bad_inputs_leave_the_data_root_untouched():
    """The absent-dataset and bad-option rows point at an empty root: nothing may be written there."""
    for _, call, exc, _ in CASES:
        try:
            call()
        except exc:
            pass
    assert list(empty_root().iterdir()) == []
