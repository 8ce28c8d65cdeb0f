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
from scalegnn.nn.csr_spmm import csr_spmm  # noqa: E402
from scalegnn.nn.gbp import gbp_exact, gbp_precompute  # noqa: E402
from scalegnn.nn.out_of_core import block_budget  # noqa: E402
from scalegnn.nn.reordering import locality_order  # noqa: E402
from scalegnn.nn.sgc import sgc_precompute  # noqa: E402


def npy_file(array: np.ndarray, name: str) -> str:
    """Save ``array`` under a fresh temporary directory; return the path."""
    import tempfile

    path = f"{tempfile.mkdtemp(prefix='scalegnn_bad_')}/{name}"
    np.save(path, array)
    return path


CASES += [
    ("sgc_precompute/memmap-int-dtype", lambda: sgc_precompute(np.zeros((6, 2), dtype=np.int32), ring(6), 2),
     ValueError, "float32 or float64 values, got dtype int32"),
    ("sgc_precompute/npy-wrong-rows", lambda: sgc_precompute(npy_file(np.zeros((5, 2)), "x.npy"), ring(6), 2,
                                                             num_nodes=6), ValueError, "num_nodes=6 but x has 5 rows"),
    ("sgc_precompute/npy-1d", lambda: sgc_precompute(npy_file(np.zeros(6), "x.npy"), ring(6), 2),
     ValueError, r"\[num_nodes, channels\] matrix, got shape \[6\]"),
    ("sgc_precompute/missing-file", lambda: sgc_precompute("/nonexistent/x.npy", ring(6), 2),
     ValueError, "no such feature file"),
    ("sgc_precompute/out-exists", lambda: sgc_precompute(feats(6), ring(6), 2,
                                                         out=npy_file(np.zeros(1), "r.npy")), ValueError,
     "already exists"),
    ("sgc_precompute/bad-reorder", lambda: sgc_precompute(feats(6), ring(6), 2, reorder="rmc"), ValueError,
     "reorder must be 'auto', None or one of"),
    ("sgc_precompute/cuda-without-cuda", lambda: sgc_precompute(feats(6), ring(6), 2, device="cuda"),
     ValueError, "cuda.is_available"),
    ("gbp_exact/memmap-float16", lambda: gbp_exact(np.zeros((6, 2), dtype=np.float16), ring(6), ppr_weights(0.1, 2)),
     ValueError, "got dtype float16"),
    ("gbp_exact/out-not-npy", lambda: gbp_exact(feats(6), ring(6), ppr_weights(0.1, 2), out="/tmp/result.txt"),
     ValueError, "must end in .npy"),
    ("gbp_precompute/npy-nan", lambda: gbp_precompute(npy_file(with_nan(feats(6)).numpy(), "x.npy"), ring(6),
                                                      ppr_weights(0.1, 2)), ValueError, r"NaN values \(first at"),
    ("gbp_precompute/features-list", lambda: gbp_precompute([[1.0]], ring(6), ppr_weights(0.1, 2)), TypeError,
     "numpy array / np.memmap or the path of an .npy file, got list"),
    ("block_budget/column-cannot-fit", lambda: block_budget(4, 10**6, 8, 3, memory_budget=1 << 20, streamed=True),
     ValueError, "one feature column needs"),
    ("csr_spmm/shape-mismatch", lambda: csr_spmm(torch.eye(3).to_sparse_csr(), torch.ones(2, 1)), ValueError,
     "3 columns but x has 2 rows"),
    ("locality_order/unknown", lambda: locality_order(torch.zeros(2, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                                                      1, "metis"), ValueError, "unknown reordering 'metis'"),
]
ACCEPTED += [
    ("sgc_precompute/npy-path", lambda: sgc_precompute(npy_file(np.ones((6, 2), dtype=np.float32), "x.npy"), ring(6), 2)),
    ("gbp_exact/memmap", lambda: gbp_exact(np.load(npy_file(np.ones((6, 2)), "x.npy"), mmap_mode="r"), ring(6),
                                           ppr_weights(0.1, 2))),
]

# ==============================================================================================
# reversible.py, rev_gnn.py, deq_gnn.py, shared_dropout.py (RevGNN engineer): append rows here
# ==============================================================================================
from scalegnn.nn.deq_gnn import DEQGNN, anderson, fixed_point_iteration  # noqa: E402
from scalegnn.nn.rev_gnn import (GCNLayer, RevGNN, RevGNNGroup, make_conv, make_norm, paired_adjacency,  # noqa: E402
                                 prepare_adjacency)
from scalegnn.nn.reversible import (GroupedReversibleBlock, ReversibleSequential, SavedTensorCounter,  # noqa: E402
                                    reversible_sequential)
from scalegnn.nn.shared_dropout import SharedDropout  # noqa: E402


def rev(**kw) -> RevGNN:
    """A tiny RevGNN on feats(6, 3) / ring(6): 3 -> 4 hidden (2 groups) -> 2 outputs, 2 layers."""
    return RevGNN(kw.pop("in_channels", 3), kw.pop("hidden_channels", 4), kw.pop("out_channels", 2),
                  kw.pop("num_layers", 2), **kw)


def block(**kw) -> GroupedReversibleBlock:
    return GroupedReversibleBlock(torch.nn.Linear(2, 2), **{"num_groups": 2, **kw})


def masked(p: float = 0.5) -> SharedDropout:
    d = SharedDropout(p)
    d.resample((6, 2))
    return d


def sparse_adj(n: int) -> torch.Tensor:
    return torch.sparse_coo_tensor(ring(n), torch.ones(2 * n), (n, n), check_invariants=True).coalesce()


CASES += [
    # SharedDropout
    ("SharedDropout/p=1", lambda: SharedDropout(1.0), ValueError, r"p must be a finite number in \[0\.0, 1\.0\), got 1\.0"),
    ("SharedDropout/p-negative", lambda: SharedDropout(-0.1), ValueError, r"p must be .*got -0\.1"),
    ("SharedDropout/p-nan", lambda: SharedDropout(float("nan")), ValueError, r"p must be .*got nan"),
    ("SharedDropout/p-str", lambda: SharedDropout("0.1"), TypeError, r"p must be .*got '0\.1' \(str\)"),
    ("SharedDropout.resample/shape-int", lambda: SharedDropout(0.5).resample(6), TypeError,
     r"shape must be a sequence of sizes such as \(num_nodes, channels\), got 6"),
    ("SharedDropout.resample/shape-float", lambda: SharedDropout(0.5).resample((6, 2.0)), TypeError,
     r"shape\[1\] must be a non-negative integer, got 2\.0 \(float\)"),
    ("SharedDropout.resample/shape-negative", lambda: SharedDropout(0.5).resample((-6, 2)), ValueError,
     r"shape\[0\] must be a non-negative integer, got -6"),
    ("SharedDropout.resample/dtype", lambda: SharedDropout(0.5).resample((6, 2), dtype=torch.long), TypeError,
     r"dtype must be a floating torch\.dtype such as torch\.float32, got torch\.int64"),
    ("SharedDropout.resample/device", lambda: SharedDropout(0.5).resample((6, 2), device="gpu"), ValueError,
     r"device must be a torch\.device or a name like 'cpu' / 'cuda:0', got 'gpu'"),
    ("SharedDropout.forward/x-list", lambda: masked()([[1.0, 2.0]]), TypeError, r"x must be a torch\.Tensor"),
    ("SharedDropout.forward/no-mask", lambda: SharedDropout(0.5)(feats(6, 2)), RuntimeError,
     r"SharedDropout has no mask: its owner must call resample\(shape\)"),
    ("SharedDropout.forward/shape", lambda: masked()(feats(5, 2)), ValueError,
     r"mask has shape \[6, 2\] but the input has shape \[5, 2\]"),
    # GroupedReversibleBlock, reversible_sequential, ReversibleSequential, SavedTensorCounter
    ("GroupedReversibleBlock/fns-int", lambda: GroupedReversibleBlock(3), TypeError,
     r"fns must be a torch\.nn\.Module or a sequence of Modules \(the group functions\), got int"),
    ("GroupedReversibleBlock/fns-item", lambda: GroupedReversibleBlock([torch.nn.Linear(2, 2), torch.relu]),
     TypeError, r"fns\[1\] must be a torch\.nn\.Module \(a group function\), got builtin_function_or_method"),
    ("GroupedReversibleBlock/num_groups=1", lambda: block(num_groups=1), ValueError,
     r"needs num_groups >= 2, got 1"),
    ("GroupedReversibleBlock/num_groups-float", lambda: block(num_groups=2.0), TypeError,
     r"num_groups must be an integer, got 2\.0 \(float\)"),
    ("GroupedReversibleBlock/num_groups-mismatch",
     lambda: GroupedReversibleBlock([torch.nn.Linear(2, 2) for _ in range(3)], num_groups=2), ValueError,
     r"got 3 group functions but num_groups=2"),
    ("GroupedReversibleBlock/one-module-no-count", lambda: GroupedReversibleBlock(torch.nn.Linear(2, 2)), ValueError,
     r"pass num_groups when giving a single group function"),
    ("GroupedReversibleBlock/memory_saving-str", lambda: block(memory_saving="yes"), TypeError,
     r"memory_saving must be True or False, got 'yes' \(str\)"),
    ("GroupedReversibleBlock/private-dropout",
     lambda: GroupedReversibleBlock(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)), 2),
     ValueError, r"draw their own dropout masks: .*Dropout\(p=0\.5\)"),
    ("GroupedReversibleBlock.forward/x-list", lambda: block()([[1.0] * 4]), TypeError,
     r"x must be a torch\.Tensor, got \[\[1\.0, 1\.0, 1\.0, 1\.0\]\] \(list\)"),
    ("GroupedReversibleBlock.forward/x-int", lambda: block()(torch.ones(3, 4, dtype=torch.long)), ValueError,
     r"x must have a floating-point dtype, got torch\.int64"),
    ("GroupedReversibleBlock.forward/channels", lambda: block()(feats(3, 5)), ValueError,
     r"x has 5 channels \(last dimension, shape \[3, 5\]\), which cannot be split into 2 equal groups"),
    ("reversible_sequential/one-block", lambda: reversible_sequential(block(), feats(3, 4)), TypeError,
     r"blocks must be a sequence of GroupedReversibleBlock, got GroupedReversibleBlock"),
    ("reversible_sequential/blocks-item", lambda: reversible_sequential([block(), torch.nn.Linear(4, 4)],
                                                                         feats(3, 4)),
     TypeError, r"blocks\[1\] must be a GroupedReversibleBlock, got Linear"),
    ("reversible_sequential/memory_saving-int", lambda: reversible_sequential([block()], feats(3, 4), memory_saving=1),
     TypeError, r"memory_saving must be True or False, got 1 \(int\)"),
    ("ReversibleSequential/blocks-item", lambda: ReversibleSequential([torch.nn.Linear(4, 4)]), TypeError,
     r"blocks\[0\] must be a GroupedReversibleBlock, got Linear"),
    ("SavedTensorCounter/exclude-tensor", lambda: SavedTensorCounter(exclude=torch.ones(3)), TypeError,
     r"exclude must be an iterable of tensors \(e\.g\. model\.parameters\(\)\), got Tensor"),
    ("SavedTensorCounter/exclude-item", lambda: SavedTensorCounter(exclude=[torch.nn.Linear(2, 2)]), TypeError,
     r"exclude\[0\] must be a torch\.Tensor, got Linear"),
    # RevGNN: constructor
    ("RevGNN/in_channels=0", lambda: rev(in_channels=0), ValueError, r"in_channels must be a positive integer, got 0"),
    ("RevGNN/hidden-float", lambda: rev(hidden_channels=4.0), TypeError,
     r"hidden_channels must be a positive integer, got 4\.0 \(float\)"),
    ("RevGNN/out_channels-bool", lambda: rev(out_channels=True), TypeError,
     r"out_channels must be a positive integer, got True \(bool\)"),
    ("RevGNN/num_layers=0", lambda: rev(num_layers=0), ValueError, r"num_layers must be a positive integer, got 0"),
    ("RevGNN/num_layers-float", lambda: rev(num_layers=2.5), TypeError,
     r"num_layers must be a positive integer, got 2\.5 \(float\)"),
    ("RevGNN/num_groups=1", lambda: rev(num_groups=1), ValueError, r"num_groups must be >= 2, got 1"),
    ("RevGNN/num_groups-str", lambda: rev(num_groups="2"), TypeError, r"num_groups must be an integer, got '2'"),
    ("RevGNN/hidden-not-divisible", lambda: rev(hidden_channels=5), ValueError,
     r"hidden_channels=5 is not divisible by num_groups=2"),
    ("RevGNN/conv-typo", lambda: rev(conv="gcm"), ValueError,
     r"conv='gcm' is not one of \['gcn', 'sage', 'gat', 'gen'\]\. Did you mean 'gcn'"),
    ("RevGNN/conv-int", lambda: rev(conv=3), TypeError, r"conv must be one of .* or a callable .*got 3 \(int\)"),
    ("RevGNN/dropout=1", lambda: rev(dropout=1.0), ValueError,
     r"dropout must be a finite number in \[0\.0, 1\.0\), got 1\.0"),
    ("RevGNN/dropout-negative", lambda: rev(dropout=-0.5), ValueError, r"dropout must be .*got -0\.5"),
    ("RevGNN/norm-typo", lambda: rev(norm="layr"), ValueError,
     r"norm='layr' is not one of \['layer', 'batch'\]\. Did you mean 'layer'"),
    ("RevGNN/norm-bool", lambda: rev(norm=True), TypeError, r"norm must be one of \['layer', 'batch', None\], got True"),
    ("RevGNN/weight_tying-str", lambda: rev(weight_tying="no"), TypeError,
     r"weight_tying must be True or False, got 'no' \(str\)"),
    ("RevGNN/memory_saving-int", lambda: rev(memory_saving=0), TypeError,
     r"memory_saving must be True or False, got 0 \(int\)"),
    ("RevGNN/edge_dim=0", lambda: rev(conv="gen", edge_dim=0), ValueError,
     r"edge_dim must be a positive integer, got 0"),
    ("RevGNN/edge_dim-with-gcn", lambda: rev(edge_dim=2), ValueError,
     r"conv='gcn' does not use edge features"),
    ("RevGNN/conv_kwargs-typo", lambda: rev(conv="gat", conv_kwargs={"heds": 1}), ValueError,
     r"conv_kwargs has 'heds', which GATConv does not accept; .*Did you mean 'heads'"),
    ("RevGNN/conv_kwargs-gcn", lambda: rev(conv_kwargs={"normalize": False}), ValueError,
     r"conv_kwargs has 'normalize', which GCNLayer does not accept; it accepts \['bias'\]"),
    ("RevGNN/conv_kwargs-callable", lambda: rev(conv=GCNLayer, conv_kwargs={"bais": False}), ValueError,
     r"conv_kwargs has 'bais', which GCNLayer does not accept.*Did you mean 'bias'"),
    ("RevGNN/conv_kwargs-list", lambda: rev(conv_kwargs=[("bias", False)]), TypeError,
     r"conv_kwargs must be a dict of keyword arguments for the inner layer, got list"),
    ("RevGNN/conv_kwargs-channels", lambda: rev(conv="sage", conv_kwargs={"out_channels": 8}), ValueError,
     r"conv_kwargs may not set out_channels"),
    ("RevGNN/gat-private-dropout", lambda: rev(conv="gat", conv_kwargs={"dropout": 0.5}), ValueError,
     r"draw their own dropout masks: .*GATConv\(dropout=0\.5\)"),
    # RevGNN: forward
    ("RevGNN.forward/x-list", lambda: rev()([[0.0] * 3] * 6, ring(6)), TypeError, r"x must be a torch\.Tensor"),
    ("RevGNN.forward/x-1d", lambda: rev()(torch.ones(6), ring(6)), ValueError, r"x must be 2-D, got shape \[6\]"),
    ("RevGNN.forward/x-int", lambda: rev()(torch.ones(6, 3, dtype=torch.long), ring(6)), ValueError,
     r"x must have a floating-point dtype, got torch\.int64"),
    ("RevGNN.forward/x-channels", lambda: rev()(feats(6, 4), ring(6)), ValueError,
     r"x must have shape \[N, 3\] \(in_channels=3\), got \[6, 4\]"),
    ("RevGNN.forward/x-nan", lambda: rev()(with_nan(feats(6)), ring(6)), ValueError,
     r"x contains NaN values \(first at index \[0, 1\]\)"),
    ("RevGNN.forward/x-empty", lambda: rev()(torch.ones(0, 3), ring(6)[:, :0]), ValueError,
     r"x has no rows: the graph is empty"),
    ("RevGNN.forward/edge_index-list", lambda: rev()(feats(6), [[0, 1], [1, 0]]), TypeError,
     r"edge_index must be a \[2, E\] integer tensor or a sparse \[N, N\] adjacency .*got list"),
    ("RevGNN.forward/edge_index-float", lambda: rev()(feats(6), ring(6).float()), ValueError,
     r"edge_index must have an integer dtype"),
    ("RevGNN.forward/edge_index-range", lambda: rev(conv="sage")(feats(6), ring(7)), ValueError,
     r"edge_index has node index 6 out of range for a graph with 6 nodes"),
    ("RevGNN.forward/adjacency-shape", lambda: rev()(feats(6), sparse_adj(5)), ValueError,
     r"the sparse adjacency has shape \[5, 5\] but x has 6 rows \(nodes\); expected \[6, 6\]"),
    ("RevGNN.forward/paired-adjacency-sage", lambda: rev(conv="sage")(feats(6), paired_adjacency(sparse_adj(6))),
     TypeError, r"a PairedAdjacency is the prepared input of conv='gcn'"),
    ("RevGNN.forward/edge_attr-unexpected", lambda: rev(conv="gen")(feats(6), ring(6), torch.ones(12, 2)),
     ValueError, r"edge_attr was given but the model was built without edge_dim"),
    ("RevGNN.forward/edge_attr-missing", lambda: rev(conv="gen", edge_dim=2)(feats(6), ring(6)), ValueError,
     r"the model was built with edge_dim=2; pass edge_attr"),
    ("RevGNN.forward/edge_attr-rows", lambda: rev(conv="gen", edge_dim=2)(feats(6), ring(6), torch.ones(5, 2)),
     ValueError, r"edge_attr has shape \[5, 2\] but edge_index has 12 edges"),
    ("RevGNN.forward/edge_attr-columns", lambda: rev(conv="gen", edge_dim=2)(feats(6), ring(6), torch.ones(12, 3)),
     ValueError, r"edge_attr must have shape \[E, 2\] \(edge_dim=2\), got \[12, 3\]"),
    ("RevGNN.forward/edge_attr-inf", lambda: rev(conv="gen", edge_dim=2)(feats(6), ring(6),
                                                                          with_nan(torch.ones(12, 2), float("inf"))),
     ValueError, r"edge_attr contains inf values"),
    ("RevGNN.forward/edge_attr-int", lambda: rev(conv="gen", edge_dim=2)(feats(6), ring(6),
                                                                          torch.ones(12, 2, dtype=torch.long)),
     ValueError, r"edge_attr must have a floating-point dtype, got torch\.int64"),
    # the building blocks RevGNN exports
    ("make_norm/typo", lambda: make_norm("batchnorm", 4), ValueError,
     r"norm='batchnorm' is not one of \['layer', 'batch'\]\. Did you mean 'batch'"),
    ("make_norm/channels=0", lambda: make_norm("layer", 0), ValueError, r"channels must be a positive integer, got 0"),
    ("make_conv/typo", lambda: make_conv("sag", 4, None, False), ValueError, r"conv='sag' .*Did you mean 'sage'"),
    ("make_conv/channels-float", lambda: make_conv("sage", 4.0, None, False), TypeError,
     r"channels must be a positive integer, got 4\.0 \(float\)"),
    ("prepare_adjacency/num_nodes=0", lambda: prepare_adjacency("gcn", ring(6), 0, torch.float32), ValueError,
     r"num_nodes must be a positive integer, got 0"),
    ("prepare_adjacency/edge_index-ndarray", lambda: prepare_adjacency("gcn", ring(6).numpy(), 6, torch.float32),
     TypeError, r"edge_index must be a \[2, E\] integer tensor or a sparse \[N, N\] adjacency .*got ndarray"),
    ("GCNLayer/in_channels=0", lambda: GCNLayer(0, 4), ValueError, r"in_channels must be a positive integer, got 0"),
    ("GCNLayer/bias-str", lambda: GCNLayer(4, 4, bias="yes"), TypeError, r"bias must be True or False, got 'yes'"),
    ("RevGNNGroup/dropout-module", lambda: RevGNNGroup(torch.nn.LayerNorm(2), torch.nn.Dropout(0.5), GCNLayer(2, 2)),
     TypeError, r"dropout must be a SharedDropout \(one mask reused by the recomputation\), got Dropout"),
    ("RevGNNGroup/conv-function", lambda: RevGNNGroup(torch.nn.LayerNorm(2), SharedDropout(), torch.relu),
     TypeError, r"conv must be a torch\.nn\.Module, got builtin_function_or_method"),
    # DEQGNN and its solvers
    ("DEQGNN/num_groups=1", lambda: DEQGNN(3, 4, 2, num_groups=1), ValueError, r"num_groups must be >= 2, got 1"),
    ("DEQGNN/hidden=0", lambda: DEQGNN(3, 0, 2), ValueError, r"hidden_channels must be a positive integer, got 0"),
    ("DEQGNN/norm=batch", lambda: DEQGNN(3, 4, 2, norm="batch"), ValueError, r"norm='batch' is not supported by DEQGNN"),
    ("DEQGNN/norm-typo", lambda: DEQGNN(3, 4, 2, norm="Layer"), ValueError,
     r"norm='Layer' is not one of \['layer'\]\. Did you mean 'layer'"),
    ("DEQGNN/conv-typo", lambda: DEQGNN(3, 4, 2, conv="GAT"), ValueError, r"conv='GAT' .*Did you mean 'gat'"),
    ("DEQGNN/dropout=1", lambda: DEQGNN(3, 4, 2, dropout=1), ValueError, r"dropout must be .*got 1\.0"),
    ("DEQGNN/solver-typo", lambda: DEQGNN(3, 4, 2, solver="andersen"), ValueError,
     r"solver='andersen' is not one of \['anderson', 'fixed_point'\]\. Did you mean 'anderson'"),
    ("DEQGNN/on_nonconvergence-typo", lambda: DEQGNN(3, 4, 2, on_nonconvergence="warning"), ValueError,
     r"on_nonconvergence='warning' is not one of \['warn', 'raise', 'ignore'\]\. Did you mean 'warn'"),
    ("DEQGNN/max_iter=0", lambda: DEQGNN(3, 4, 2, max_iter=0), ValueError, r"max_iter must be a positive integer, got 0"),
    ("DEQGNN/max_iter-float", lambda: DEQGNN(3, 4, 2, max_iter=50.0), TypeError,
     r"max_iter must be a positive integer, got 50\.0 \(float\)"),
    ("DEQGNN/backward_max_iter=0", lambda: DEQGNN(3, 4, 2, backward_max_iter=0), ValueError,
     r"backward_max_iter must be a positive integer, got 0"),
    ("DEQGNN/tol-negative", lambda: DEQGNN(3, 4, 2, tol=-1e-4), ValueError,
     r"tol must be a non-negative finite number, got -0\.0001"),
    ("DEQGNN/backward_tol-nan", lambda: DEQGNN(3, 4, 2, backward_tol=float("nan")), ValueError,
     r"backward_tol must be a non-negative finite number, got nan"),
    ("DEQGNN/anderson_m=0", lambda: DEQGNN(3, 4, 2, anderson_m=0), ValueError,
     r"anderson_m must be a positive integer, got 0"),
    ("DEQGNN/memory_saving-str", lambda: DEQGNN(3, 4, 2, memory_saving="True"), TypeError,
     r"memory_saving must be True or False, got 'True' \(str\)"),
    ("DEQGNN/conv_kwargs-typo", lambda: DEQGNN(3, 4, 2, conv="sage", conv_kwargs={"agr": "max"}), ValueError,
     r"conv_kwargs has 'agr', which SAGEConv does not accept.*Did you mean 'aggr'"),
    ("DEQGNN.forward/x-nan", lambda: DEQGNN(3, 4, 2)(with_nan(feats(6)), ring(6)), ValueError,
     r"x contains NaN values"),
    ("DEQGNN.forward/x-channels", lambda: DEQGNN(3, 4, 2)(feats(6, 2), ring(6)), ValueError,
     r"x must have shape \[N, 3\] \(in_channels=3\), got \[6, 2\]"),
    ("DEQGNN.forward/edge_index-tuple", lambda: DEQGNN(3, 4, 2)(feats(6), (ring(6)[0], ring(6)[1])), TypeError,
     r"edge_index must be a \[2, E\] integer tensor or a sparse .*got tuple"),
    ("DEQGNN.forward/edge_attr-rows", lambda: DEQGNN(3, 4, 2, conv="gen", edge_dim=1)(feats(6), ring(6), torch.ones(5)),
     ValueError, r"edge_attr has shape \[5\] but edge_index has 12 edges"),
    ("anderson/f", lambda: anderson(torch.zeros(3), torch.zeros(3), 10, 1e-4), TypeError,
     r"f must be a callable z -> f\(z\), got Tensor"),
    ("anderson/z0-list", lambda: anderson(lambda z: z, [0.0], 10, 1e-4), TypeError, r"z0 must be a torch\.Tensor"),
    ("anderson/max_iter=0", lambda: anderson(lambda z: z, torch.zeros(3), 0, 1e-4), ValueError,
     r"max_iter must be a positive integer, got 0"),
    ("anderson/m=0", lambda: anderson(lambda z: z, torch.zeros(3), 10, 1e-4, m=0), ValueError,
     r"m must be a positive integer, got 0"),
    ("anderson/lam-negative", lambda: anderson(lambda z: z, torch.zeros(3), 10, 1e-4, lam=-1.0), ValueError,
     r"lam must be a non-negative finite number, got -1\.0"),
    ("anderson/beta=0", lambda: anderson(lambda z: z, torch.zeros(3), 10, 1e-4, beta=0.0), ValueError,
     r"beta must be a finite number in \(0\.0, 1\.0\], got 0\.0"),
    ("fixed_point_iteration/tol-inf", lambda: fixed_point_iteration(lambda z: z, torch.zeros(3), 10, float("inf")),
     ValueError, r"tol must be a non-negative finite number, got inf"),
    ("fixed_point_iteration/max_iter-str", lambda: fixed_point_iteration(lambda z: z, torch.zeros(3), "10", 1e-4),
     TypeError, r"max_iter must be a positive integer, got '10' \(str\)"),
]
ACCEPTED += [
    ("RevGNN/numpy-and-tensor-ints",
     lambda: RevGNN(np.int64(3), torch.tensor(4), np.int32(2), torch.tensor(2), num_groups=np.int64(2),
                    dropout=np.float32(0.25))(feats(6), ring(6))),
    ("RevGNN/gen-1d-edge_attr", lambda: rev(conv="gen", edge_dim=np.int64(1))(feats(6), ring(6), torch.ones(12))),
    ("RevGNN/sparse-adjacency", lambda: rev(conv="sage")(feats(6), sparse_adj(6).to_sparse_csr())),
    ("RevGNN/callable-conv-kwargs",
     lambda: rev(conv=GCNLayer, conv_kwargs={"bias": False})(feats(6), sparse_adj(6).to_sparse_csr())),
    ("DEQGNN/numpy-and-tensor-ints",
     lambda: DEQGNN(np.int64(3), torch.tensor(4), 2, max_iter=np.int64(5), tol=np.float64(1e-3),
                    anderson_m=torch.tensor(3), on_nonconvergence="ignore")(feats(6), ring(6))),
    ("GroupedReversibleBlock/numpy-groups", lambda: block(num_groups=np.int64(2))(feats(3, 4))),
    ("SharedDropout/numpy-shape", lambda: SharedDropout(np.float64(0.2)).resample((np.int64(6), torch.tensor(2)))),
    ("anderson/numpy-args",
     lambda: anderson(lambda z: 0.5 * z + 1, torch.zeros(3), np.int64(20), np.float32(1e-6), m=np.int32(3))),
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
