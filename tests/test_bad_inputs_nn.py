"""Every public function of ``scalegnn.nn`` (and ``scalegnn.sampling``) fed its bad inputs.

One table, one parametrized test: each row is ``(id, callable, expected_exception, message_regex)``.
The callable takes no argument and must raise ``expected_exception`` with a message matching
``message_regex`` (``re.search``): the message has to name the argument and the bad value, so a
row that only checks the exception type is not enough.

``ACCEPTED`` lists the valid forms that must keep working (numpy integers and 0-d integer tensors
where an int is meant, ...): ``(id, callable)``, the callable must not raise.

Engineers owning other modules of ``scalegnn.nn`` append their rows in the marked blocks below
(one block per module, keep rows cheap: tiny tensors, no training).
"""
from __future__ import annotations

from typing import Any, Callable, List, Tuple, Type

import numpy as np
import pytest
import torch

from scalegnn.nn.column_chunks import column_chunks, default_memory_budget, progress_bar
from scalegnn.nn.mincut_pool import MinCutPool, dense_mincut_pool, sparse_mincut_pool
from scalegnn.nn.propagation_weights import as_weights, heat_kernel_weights, ppr_weights, sgc_weights
from scalegnn.sampling.random_partition import (RandomPartitionLoader, partition_subgraphs, predict_random_partitions,
                                                random_partition)

Case = Tuple[str, Callable[[], Any], Type[BaseException], str]

# ----------------------------------------------------------------------------------------------
# Small inputs shared by the rows (build them inside the lambdas' bodies only through these
# helpers, so that a row never depends on another row's side effects).
# ----------------------------------------------------------------------------------------------


def ring(n: int = 6) -> torch.Tensor:
    """``edge_index`` of an undirected ring on ``n`` nodes."""
    i = torch.arange(n)
    j = (i + 1) % n
    return torch.stack([torch.cat([i, j]), torch.cat([j, i])])


def feats(n: int = 6, f: int = 3) -> torch.Tensor:
    return torch.randn(n, f, generator=torch.Generator().manual_seed(0))


def with_nan(t: torch.Tensor, value: float = float("nan")) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[1] = value
    return t


CASES: List[Case] = []
ACCEPTED: List[Tuple[str, Callable[[], Any]]] = []

# ==============================================================================================
# mincut_pool.py (data/nn validation engineer)
# ==============================================================================================
W12 = torch.ones(12)  # edge weights of ring(6)
BATCH = torch.tensor([0, 0, 0, 1, 1, 1])  # ring(6) is not split by this batch: use pairs()


def pairs() -> torch.Tensor:
    """Edges 0-1, 1-2 and 3-4, 4-5: two 3-node paths, one per graph of BATCH."""
    return torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])


CASES += [
    ("MinCutPool/num_clusters=1", lambda: MinCutPool(3, 1), ValueError,
     r"at least 2 clusters, got num_clusters=1"),
    ("MinCutPool/num_clusters-float", lambda: MinCutPool(3, 2.5), TypeError,
     r"num_clusters must be an integer, got 2\.5 \(float\)"),
    ("MinCutPool/in_channels=0", lambda: MinCutPool(0, 2), ValueError,
     r"in_channels must be a positive integer, got 0"),
    ("MinCutPool/in_channels-bool", lambda: MinCutPool(True, 2), TypeError, r"in_channels must be .*True \(bool\)"),
    ("MinCutPool/mlp_hidden-int", lambda: MinCutPool(3, 2, mlp_hidden=16), TypeError,
     r"mlp_hidden must be a sequence of hidden sizes such as \(16,\), got 16"),
    ("MinCutPool/mlp_hidden-0", lambda: MinCutPool(3, 2, mlp_hidden=(16, 0)), ValueError,
     r"mlp_hidden\[1\] must be a positive integer, got 0"),
    ("MinCutPool/act-class", lambda: MinCutPool(3, 2, mlp_hidden=(4,), act=torch.nn.ReLU), TypeError,
     r"act must be a torch\.nn\.Module such as torch\.nn\.ReLU\(\) or None"),
    ("MinCutPool/dropout=1", lambda: MinCutPool(3, 2, dropout=1.0), ValueError,
     r"dropout must be a finite number in \[0\.0, 1\.0\), got 1\.0"),
    ("MinCutPool/temp=0", lambda: MinCutPool(3, 2, temp=0.0), ValueError,
     r"temp must be a positive finite number, got 0\.0"),
    ("MinCutPool.forward/x-list", lambda: MinCutPool(3, 2)([[1.0]], ring(6)), TypeError,
     r"x must be a torch\.Tensor, got \[\[1\.0\]\]"),
    ("MinCutPool.forward/x-int", lambda: MinCutPool(3, 2)(torch.ones(6, 3, dtype=torch.long), ring(6)), ValueError,
     r"x must have a floating-point dtype, got torch\.int64"),
    ("MinCutPool.forward/edge_index-list", lambda: MinCutPool(3, 2)(feats(6), [[0, 1], [1, 0]]), TypeError,
     r"edge_index must be a \[2, E\] tensor, a sparse adjacency or a dense adj"),
    ("MinCutPool.forward/channels", lambda: MinCutPool(4, 2)(feats(6), ring(6)), ValueError,
     r"x has 3 channels but MinCutPool expects in_channels=4"),
    ("MinCutPool.forward/x-nan", lambda: MinCutPool(3, 2)(with_nan(feats(6)), ring(6)), ValueError,
     r"x contains NaN values"),
    ("MinCutPool.forward/mask-on-sparse", lambda: MinCutPool(3, 2)(feats(6), ring(6), mask=torch.ones(1, 6).bool()),
     ValueError, r"mask is for the dense path"),
    ("sparse_mincut_pool/x-s-rows", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(5, 2)),
     ValueError, r"x has 6 rows \(nodes\) but s has 5"),
    ("sparse_mincut_pool/s-list", lambda: sparse_mincut_pool(feats(6), ring(6), [[0.0, 1.0]]), TypeError,
     r"s must be a torch\.Tensor"),
    ("sparse_mincut_pool/s-inf",
     lambda: sparse_mincut_pool(feats(6), ring(6), with_nan(torch.ones(6, 2), float("inf"))),
     ValueError, r"s contains inf values \(first at index \[0, 1\]\)"),
    ("sparse_mincut_pool/edge-out-of-range", lambda: sparse_mincut_pool(feats(6), ring(7), torch.randn(6, 2)),
     ValueError, r"edge_index has node index 6 out of range"),
    ("sparse_mincut_pool/edge-float", lambda: sparse_mincut_pool(feats(6), ring(6).float(), torch.randn(6, 2)),
     ValueError, r"edge_index must have an integer dtype"),
    ("sparse_mincut_pool/edge_weight-size", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(6, 2),
                                                                         edge_weight=torch.ones(5)),
     ValueError, r"edge_weight has 5 entries but edge_index has 12 edges"),
    ("sparse_mincut_pool/edge_weight-negative", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(6, 2),
                                                                             edge_weight=-W12),
     ValueError, r"edge_weight must be non-negative, got -1\.0 at edge 0"),
    ("sparse_mincut_pool/edge_weight-nan", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(6, 2),
                                                                        edge_weight=with_nan(W12)),
     ValueError, r"edge_weight contains NaN"),
    ("sparse_mincut_pool/temp-negative", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(6, 2), temp=-1.0),
     ValueError, r"temp must be a positive finite number, got -1\.0"),
    ("sparse_mincut_pool/batch-float", lambda: sparse_mincut_pool(feats(6), pairs(), torch.randn(6, 2),
                                                                    batch=BATCH.float()),
     ValueError, r"batch must be an integer tensor, got torch\.float32"),
    ("sparse_mincut_pool/batch-unsorted", lambda: sparse_mincut_pool(feats(6), pairs(), torch.randn(6, 2),
                                                                       batch=BATCH.flip(0)),
     ValueError, r"batch must be sorted"),
    ("sparse_mincut_pool/batch-negative", lambda: sparse_mincut_pool(feats(6), pairs(), torch.randn(6, 2),
                                                                       batch=BATCH - 1),
     ValueError, r"batch contains a negative graph id"),
    ("sparse_mincut_pool/k-exceeds-nodes", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(6, 7)),
     ValueError, r"num_clusters=7 exceeds the number of nodes in the input \(6\)"),
    ("dense_mincut_pool/adj-shape", lambda: dense_mincut_pool(feats(6), torch.ones(5, 5), torch.randn(6, 2)),
     ValueError, r"adj must be \[1, 6, 6\] to match x, got \[1, 5, 5\]"),
    ("dense_mincut_pool/adj-negative", lambda: dense_mincut_pool(feats(6), -torch.ones(6, 6), torch.randn(6, 2)),
     ValueError, r"adj has negative entries"),
    ("dense_mincut_pool/adj-nan", lambda: dense_mincut_pool(feats(6), with_nan(torch.ones(6, 6)), torch.randn(6, 2)),
     ValueError, r"adj contains NaN values"),
    ("dense_mincut_pool/adj-sparse", lambda: dense_mincut_pool(feats(6), torch.ones(6, 6).to_sparse(),
                                                                 torch.randn(6, 2)),
     TypeError, r"adj must be a dense tensor here.*sparse_mincut_pool"),
    ("dense_mincut_pool/x-4d", lambda: dense_mincut_pool(torch.ones(1, 1, 6, 3), torch.ones(6, 6), torch.randn(6, 2)),
     ValueError, r"x must be 2-D or 3-D, got shape \[1, 1, 6, 3\]"),
    ("dense_mincut_pool/mask-float", lambda: dense_mincut_pool(feats(6), torch.ones(6, 6), torch.randn(6, 2),
                                                                 mask=torch.ones(1, 6)),
     ValueError, r"mask must be a boolean tensor \[B, N\], got dtype torch\.float32"),
    ("dense_mincut_pool/mask-shape", lambda: dense_mincut_pool(feats(6), torch.ones(6, 6), torch.randn(6, 2),
                                                                 mask=torch.ones(1, 5).bool()),
     ValueError, r"mask must be \[1, 6\], got \[1, 5\]"),
    ("dense_mincut_pool/temp-str", lambda: dense_mincut_pool(feats(6), torch.ones(6, 6), torch.randn(6, 2), temp="1"),
     TypeError, r"temp must be a positive finite number, got '1' \(str\)"),
]
ACCEPTED += [
    ("MinCutPool/numpy-and-tensor-ints",
     lambda: MinCutPool(np.int64(3), torch.tensor(2), mlp_hidden=(np.int32(4),))(feats(6), ring(6))),
    ("sparse_mincut_pool/column-edge_weight",
     lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(6, 2), edge_weight=W12.view(-1, 1))),
    ("sparse_mincut_pool/int32-batch",
     lambda: sparse_mincut_pool(feats(6), pairs(), torch.randn(6, 2), batch=BATCH.int(), temp=np.float32(0.5))),
    ("dense_mincut_pool/bool-mask",
     lambda: dense_mincut_pool(feats(6), torch.ones(6, 6), torch.randn(6, 2), mask=torch.ones(1, 6).bool())),
]

# ==============================================================================================
# column_chunks.py, propagation_weights.py (data/nn validation engineer)
# ==============================================================================================
CASES += [
    ("column_chunks/chunk_size=0", lambda: column_chunks(8, 10, 4, 2, chunk_size=0), ValueError,
     r"chunk_size must be a positive integer, got 0"),
    ("column_chunks/chunk_size-float", lambda: column_chunks(8, 10, 4, 2, chunk_size=2.5), TypeError,
     r"chunk_size must be a positive integer, got 2\.5 \(float\)"),
    ("column_chunks/num_cols-negative", lambda: column_chunks(-1, 10, 4, 2), ValueError,
     r"num_cols must be a non-negative integer, got -1"),
    ("column_chunks/itemsize-0", lambda: column_chunks(8, 10, 0, 2), ValueError,
     r"itemsize must be a positive integer, got 0"),
    ("column_chunks/buffers-0", lambda: column_chunks(8, 10, 4, 0), ValueError,
     r"buffers must be a positive finite number, got 0\.0"),
    ("column_chunks/memory_budget-0", lambda: column_chunks(8, 10, 4, 2, memory_budget=0), ValueError,
     r"memory_budget must be a positive finite number, got 0\.0"),
    ("column_chunks/memory_budget-inf", lambda: column_chunks(8, 10, 4, 2, memory_budget=float("inf")), ValueError,
     r"memory_budget must be a positive finite number, got inf"),
    ("column_chunks/device", lambda: column_chunks(8, 10, 4, 2, device="gpu"), ValueError,
     r"device must be a torch\.device or a name like 'cpu' / 'cuda:0', got 'gpu'"),
    ("default_memory_budget/device-int", lambda: default_memory_budget(3.5), TypeError,
     r"device must be a torch\.device or a name .*got 3\.5"),
    ("progress_bar/total-float", lambda: progress_bar(2.5, "x", None, 1.0), TypeError,
     r"total must be a non-negative integer, got 2\.5"),
    ("progress_bar/progress-str", lambda: progress_bar(3, "x", "yes", 1.0), TypeError,
     r"progress must be True or False, got 'yes'"),
    ("progress_bar/desc", lambda: progress_bar(3, None, None, 1.0), TypeError, r"desc must be a string, got None"),
    ("ppr_weights/alpha=0", lambda: ppr_weights(0.0, 3), ValueError,
     r"alpha must be a finite number in \(0\.0, 1\.0\], got 0\.0"),
    ("ppr_weights/alpha-nan", lambda: ppr_weights(float("nan"), 3), ValueError, r"alpha must be .*got nan"),
    ("ppr_weights/num_levels-float", lambda: ppr_weights(0.1, 3.0), TypeError,
     r"num_levels must be a non-negative integer, got 3\.0 \(float\)"),
    ("heat_kernel_weights/t=0", lambda: heat_kernel_weights(0.0, 3), ValueError,
     r"t must be a positive finite number, got 0\.0"),
    ("heat_kernel_weights/t-inf", lambda: heat_kernel_weights(float("inf"), 3), ValueError,
     r"t must be a positive finite number, got inf"),
    ("heat_kernel_weights/num_levels-negative", lambda: heat_kernel_weights(1.0, -2), ValueError,
     r"num_levels must be a non-negative integer, got -2"),
    ("sgc_weights/K=-1", lambda: sgc_weights(-1), ValueError, r"K must be a non-negative integer, got -1"),
    ("sgc_weights/K-bool", lambda: sgc_weights(True), TypeError, r"K must be a non-negative integer, got True"),
    ("as_weights/nan", lambda: as_weights([0.5, float("nan")]), ValueError, r"weights contain NaN or inf"),
    ("as_weights/empty", lambda: as_weights([]), ValueError, r"weights must be a non-empty 1-D sequence"),
    ("as_weights/2d", lambda: as_weights([[0.5, 0.5]]), ValueError, r"got shape \[1, 2\]"),
    ("as_weights/str", lambda: as_weights("0.5"), TypeError, r"weights must be a sequence or 1-D tensor of numbers"),
    ("as_weights/strings", lambda: as_weights(["a", "b"]), TypeError, r"weights must be a sequence .*'a'"),
]
ACCEPTED += [
    ("column_chunks/numpy-ints", lambda: column_chunks(np.int64(8), torch.tensor(10), 4, 2, chunk_size=np.int32(3))),
    ("column_chunks/float-budget", lambda: column_chunks(8, 10, 4, 2, memory_budget=1e3)),
    ("ppr_weights/numpy-levels", lambda: ppr_weights(np.float64(0.1), np.int64(3))),
    ("sgc_weights/tensor-K", lambda: sgc_weights(torch.tensor(2))),
]

# ==============================================================================================
# sampling/random_partition.py (data/nn validation engineer)
# ==============================================================================================


def small_graph(n: int = 6):
    from torch_geometric.data import Data

    return Data(x=feats(n), edge_index=ring(n), num_nodes=n)


CASES += [
    ("random_partition/num_parts=0", lambda: random_partition(6, 0), ValueError, r"num_parts must be >= 1, got 0"),
    ("random_partition/num_parts-float", lambda: random_partition(6, 2.5), TypeError,
     r"num_parts must be an integer, got 2\.5 \(float\)"),
    ("random_partition/num_nodes-0", lambda: random_partition(0, 1), ValueError,
     r"num_nodes must be a positive integer, got 0"),
    ("random_partition/too-many-parts", lambda: random_partition(6, 7), ValueError,
     r"num_parts=7 exceeds the number of nodes \(6\)"),
    ("random_partition/generator", lambda: random_partition(6, 2, generator=0), TypeError,
     r"generator must be a torch\.Generator or None, got int"),
    ("partition_subgraphs/part-range", lambda: partition_subgraphs(small_graph(), torch.tensor([0, 1, 2, 0, 1, 2]), 2),
     ValueError, r"part contains 2, out of range for 2 parts \(valid: 0\.\.1\)"),
    ("partition_subgraphs/part-size", lambda: partition_subgraphs(small_graph(), torch.tensor([0, 1]), 2),
     ValueError, r"part has 2 entries but the graph has 6 nodes"),
    ("partition_subgraphs/part-float", lambda: partition_subgraphs(small_graph(), torch.zeros(6), 2),
     ValueError, r"part must have an integer dtype"),
    ("partition_subgraphs/bad-graph", lambda: partition_subgraphs(small_graph().update({"edge_index": ring(7)}),
                                                                  torch.zeros(6, dtype=torch.long), 1),
     ValueError, r"edge_index has node index 6 out of range"),
    ("RandomPartitionLoader/num_parts-float", lambda: RandomPartitionLoader(small_graph(), 1.5), TypeError,
     r"num_parts must be an integer, got 1\.5"),
    ("RandomPartitionLoader/num_parts=0", lambda: RandomPartitionLoader(small_graph(), 0), ValueError,
     r"num_parts must be >= 1, got 0"),
    ("RandomPartitionLoader/too-many-parts", lambda: RandomPartitionLoader(small_graph(), 7), ValueError,
     r"num_parts=7 exceeds the number of nodes \(6\)"),
    ("RandomPartitionLoader/shuffle-str", lambda: RandomPartitionLoader(small_graph(), 2, shuffle="no"), TypeError,
     r"shuffle must be True or False, got 'no'"),
    ("RandomPartitionLoader/seed-float", lambda: RandomPartitionLoader(small_graph(), 2, seed=0.5), TypeError,
     r"seed must be a non-negative integer, got 0\.5"),
    ("RandomPartitionLoader/x-nan", lambda: RandomPartitionLoader(small_graph().update({"x": with_nan(feats())}), 2),
     ValueError, r"x contains NaN values"),
    ("RandomPartitionLoader/edge_attr-size", lambda: RandomPartitionLoader(
        small_graph().update({"edge_attr": torch.ones(5, 2)}), 2),
     ValueError, r"edge_attr has shape \[5, 2\] but edge_index has 12 edges"),
    ("RandomPartitionLoader/not-a-graph", lambda: RandomPartitionLoader(ring(6), 2), TypeError,
     r"data must be a PyG Data/Batch"),
    ("predict_random_partitions/num_views=0", lambda: predict_random_partitions(lambda b: b.x, small_graph(), 2, 0),
     ValueError, r"num_views must be a positive integer, got 0"),
    ("predict_random_partitions/forward", lambda: predict_random_partitions("model", small_graph(), 2), TypeError,
     r"forward must be a callable batch -> predictions, got str"),
]
ACCEPTED += [
    ("RandomPartitionLoader/numpy-and-tensor-ints",
     lambda: list(RandomPartitionLoader(small_graph(), np.int64(2), seed=torch.tensor(3)))),
    ("random_partition/numpy-ints", lambda: random_partition(np.int32(6), torch.tensor(3))),
    ("predict_random_partitions/numpy-views",
     lambda: predict_random_partitions(lambda b: b.x, small_graph(), np.int64(2), num_views=np.int64(2), seed=0)),
]

# ==============================================================================================
# sgc.py, gbp.py, forward_push.py, reverse_walks.py (propagation engineer): append rows here
# ==============================================================================================

# ==============================================================================================
# reversible.py, rev_gnn.py, deq_gnn.py, shared_dropout.py (RevGNN engineer): append rows here
# ==============================================================================================


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
