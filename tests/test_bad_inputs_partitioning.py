"""Every public function of ``partitioning`` answers bad arguments with a clear TypeError/ValueError.

One table: (id, call, expected exception, message regex). Each call is a
lambda over small valid objects with exactly one argument broken, so a row
fails only if that argument's check is missing or unclear.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import partitioning as P
from partitioning.readers import read_edge_list, read_graph
from partitioning.synthetic import synthetic_features, synthetic_graph_blocks

G = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]]))
PARTS = np.array([0, 0, 1, 1])
ROWS = [{"method": "metis", "k": 2, "volume": 2, "max_per_part": 2, "messages": 2, "edge_cut": 1,
         "imbalance": 0.0, "seconds": 0.0}]

CASES = [
    # graphs (every function that takes one goes through as_csr)
    ("graph-str", lambda: P.as_csr("edges.txt"), TypeError, r"scipy.sparse matrix, an \(indptr, indices\) tuple"),
    ("graph-dense", lambda: P.as_csr(np.eye(4)), TypeError, "dense adjacency matrices are not accepted"),
    ("edge_index-shape", lambda: P.as_csr(np.zeros((3, 5), dtype=np.int64)), ValueError, r"shape \[2, num_edges\]"),
    ("edge_index-float", lambda: P.as_csr(np.array([[0.0, 1.0], [1.0, 0.0]])), ValueError, "integer vertex ids"),
    ("edge_index-negative", lambda: P.as_csr(np.array([[0, -1], [1, 0]])), ValueError, "negative vertex id"),
    ("edge_index-out-of-range", lambda: P.as_csr(np.array([[0, 7], [1, 0]]), num_nodes=4), ValueError,
     "vertex id 7, out of range for num_nodes=4"),
    ("edge_index-empty-no-n", lambda: P.as_csr(np.zeros((2, 0), dtype=np.int64)), ValueError,
     "num_nodes is not given"),
    ("num_nodes-float", lambda: P.as_csr(np.array([[0], [1]]), num_nodes=4.0), TypeError,
     "num_nodes must be an integer, got the float"),
    ("num_nodes-with-matrix", lambda: P.as_csr(G, num_nodes=4), ValueError, "only used with an edge_index"),
    ("graph-nonsquare", lambda: P.communication_volume(sp.csr_matrix((3, 4)), [0, 0, 1]), ValueError, "square"),
    ("graph-empty", lambda: P.partition(sp.csr_matrix((0, 0)), 1), ValueError, "empty"),
    ("symmetrize-str", lambda: P.symmetrize("g"), TypeError, "scipy.sparse matrix"),
    ("fingerprint-list", lambda: P.graph_fingerprint([1, 2, 3]), TypeError, "got list"),
    ("hypergraph-bad", lambda: P.column_net_hypergraph(np.eye(3)), TypeError, "dense adjacency"),
    # partition / partition_with_info
    ("k-zero", lambda: P.partition(G, 0), ValueError, "k must be >= 1, got 0"),
    ("k-float", lambda: P.partition(G, 2.5), TypeError, "k must be an integer, got float 2.5"),
    ("k-integral-float", lambda: P.partition(G, 2.0), TypeError, r"k must be an integer, got the float 2.0"),
    ("k-bool", lambda: P.partition(G, True), TypeError, "k must be an integer, got the boolean"),
    ("k-str", lambda: P.partition(G, "2"), TypeError, "k must be an integer, got str"),
    ("k-above-n", lambda: P.partition(G, 5), ValueError, "k=5 parts for a graph with only 4 vertices"),
    ("method-typo", lambda: P.partition(G, 2, method="hypergrah"), ValueError,
     "unknown method 'hypergrah'. Did you mean 'hypergraph'"),
    ("method-case", lambda: P.partition(G, 2, method="METIS"), ValueError, "Did you mean 'metis'"),
    ("method-none", lambda: P.partition(G, 2, method=None), TypeError, "method must be a string"),
    ("imbalance-negative", lambda: P.partition(G, 2, imbalance=-0.1), ValueError, r"imbalance must be in \[0, 1\)"),
    ("imbalance-one", lambda: P.partition(G, 2, imbalance=1.0), ValueError, r"imbalance must be in \[0, 1\)"),
    ("imbalance-nan", lambda: P.partition(G, 2, imbalance=float("nan")), ValueError, "imbalance must be finite"),
    ("imbalance-str", lambda: P.partition(G, 2, imbalance="3%"), TypeError, "imbalance must be a number"),
    ("seed-negative", lambda: P.partition(G, 2, seed=-1), ValueError, "seed must be >= 0"),
    ("seed-huge", lambda: P.partition(G, 2, seed=2**40), ValueError, "seed must be <= 2147483647"),
    ("seed-float", lambda: P.partition(G, 2, seed=0.5), TypeError, "seed must be an integer"),
    ("threads-zero", lambda: P.partition(G, 2, threads=0), ValueError, "threads must be >= 1"),
    ("preset-typo", lambda: P.partition(G, 2, preset="determinstic"), ValueError, "Did you mean 'deterministic'"),
    ("vcycles-negative", lambda: P.partition(G, 2, vcycles=-1), ValueError, "vcycles must be >= 0"),
    ("weights-typo", lambda: P.partition(G, 2, vertex_weights="degre"), ValueError, "Did you mean 'degree'"),
    ("weights-size", lambda: P.partition(G, 2, vertex_weights=[1, 2]), ValueError, r"shape \(4,\)"),
    ("weights-negative", lambda: P.partition(G, 2, vertex_weights=[1, -2, 1, 1]), ValueError,
     "must be positive, got -2 at vertex 1"),
    ("weights-zero", lambda: P.partition(G, 2, vertex_weights=[1, 0, 1, 1]), ValueError, "must be positive"),
    ("weights-nan", lambda: P.partition(G, 2, vertex_weights=[1.0, np.nan, 1.0, 1.0]), ValueError, "NaN or inf"),
    ("weights-fraction", lambda: P.partition(G, 2, vertex_weights=[1.5, 1, 1, 1]), ValueError, "must be integers"),
    ("weights-bool", lambda: P.partition(G, 2, vertex_weights=np.ones(4, dtype=bool)), TypeError, "boolean"),
    ("weights-str-array", lambda: P.partition(G, 2, vertex_weights=np.array(["a"] * 4)), TypeError, "numeric"),
    ("info-k", lambda: P.partition_with_info(G, -3), ValueError, "k must be >= 1"),
    ("core-fraction-zero", lambda: P.partition(G, 2, "balanced-volume", core_fraction=0), ValueError,
     "core_fraction must be in"),
    ("core-fraction-big", lambda: P.partition(G, 2, "balanced-volume", core_fraction=1.5), ValueError,
     "core_fraction must be in"),
    ("max-load-factor", lambda: P.partition(G, 2, "balanced-volume", max_load_factor=0), ValueError,
     "max_load_factor must be in"),
    ("volume-slack", lambda: P.partition(G, 2, "balanced-volume", volume_slack=-0.1), ValueError,
     "volume_slack must be in"),
    ("method-typo-balanced", lambda: P.partition(G, 2, method="balanced_volume"), ValueError,
     "Did you mean 'balanced-volume'"),
    # metrics
    ("parts-size", lambda: P.communication_volume(G, [0, 1]), ValueError, "parts has 2 entries but the graph has 4"),
    ("parts-2d", lambda: P.communication_volume(G, np.zeros((2, 2), dtype=int)), ValueError, "1-D"),
    ("parts-negative", lambda: P.communication_volume(G, [0, -1, 0, 1]), ValueError, "negative part id"),
    ("parts-fraction", lambda: P.communication_volume(G, [0, 0.5, 1, 1]), ValueError, "integer part ids"),
    ("parts-nan", lambda: P.communication_volume(G, [0, np.nan, 1, 1]), ValueError, "integer part ids"),
    ("parts-str", lambda: P.communication_volume(G, ["a", "b", "c", "d"]), TypeError, "integer part ids"),
    ("parts-bool", lambda: P.communication_volume(G, np.ones(4, dtype=bool)), TypeError, "integer part ids"),
    ("parts-above-k", lambda: P.communication_volume(G, [0, 0, 1, 2], k=2), ValueError, "out of range for k=2"),
    ("volume-k-float", lambda: P.communication_volume(G, PARTS, k=2.5), TypeError, "k must be an integer"),
    ("edge_cut-directed", lambda: P.edge_cut(G, PARTS, directed="yes"), TypeError, "directed must be True or False"),
    ("imbalance-weights-nan", lambda: P.imbalance(PARTS, 2, [1, np.nan, 1, 1]), ValueError, "NaN or inf"),
    ("imbalance-weights-negative", lambda: P.imbalance(PARTS, 2, [1, -1, 1, 1]), ValueError, "weights must be >= 0"),
    ("imbalance-weights-size", lambda: P.imbalance(PARTS, 2, [1, 1]), ValueError, "weights has shape"),
    ("imbalance-k", lambda: P.imbalance(PARTS, 0), ValueError, "k must be >= 1"),
    ("km1-parts", lambda: P.column_net_hypergraph(G).connectivity_minus_one([0, 1]), ValueError, "parts has 2"),
    # report
    ("report-method", lambda: P.partition_report(G, [2], ["metis", "spectral"]), ValueError, "unknown method"),
    ("report-k", lambda: P.partition_report(G, [2, 0], ["metis"]), ValueError, "k must be >= 1"),
    ("report-k-float", lambda: P.partition_report(G, [2.5], ["metis"]), TypeError, "k must be an integer"),
    ("report-empty", lambda: P.partition_report(G, [], ["metis"]), ValueError, "at least one k"),
    ("format-rows", lambda: P.format_report([]), ValueError, "non-empty list"),
    ("format-row-keys", lambda: P.format_report([{"method": "metis"}]), ValueError, "a row lacks"),
    ("format-baseline", lambda: P.format_report(ROWS, baseline=3), TypeError, "baseline must be a method name"),
    ("plot-rows", lambda: P.plot_report("rows", "x.png"), ValueError, "non-empty list"),
    # synthetic
    ("synthetic-n", lambda: P.powerlaw_sbm_graph(0, 10), ValueError, "num_nodes must be >= 1"),
    ("synthetic-n-float", lambda: P.powerlaw_sbm_graph(10.5, 10), TypeError, "num_nodes must be an integer"),
    ("synthetic-m-odd", lambda: P.powerlaw_sbm_graph(10, 11), ValueError, "must be even"),
    ("synthetic-m-dense", lambda: P.powerlaw_sbm_graph(4, 14), ValueError, "exceeds n\\(n-1\\)"),
    ("synthetic-blocks", lambda: P.powerlaw_sbm_graph(10, 10, num_blocks=11), ValueError, "num_blocks must be in"),
    ("synthetic-exponent", lambda: P.powerlaw_sbm_graph(10, 10, exponent=1.0), ValueError, "exponent must be in"),
    ("synthetic-fraction", lambda: P.powerlaw_sbm_graph(10, 10, intra_block_fraction=1.5), ValueError,
     "intra_block_fraction must be in"),
    ("synthetic-seed", lambda: P.powerlaw_sbm_graph(10, 10, seed=-5), ValueError, "seed must be >= 0"),
    ("synthetic-kind", lambda: synthetic_graph_blocks("powerlow", 10, 10), ValueError, "Did you mean 'powerlaw'"),
    ("features-labels", lambda: synthetic_features(np.array([0.5, 1.0])), ValueError, "integer class ids"),
    ("features-num", lambda: synthetic_features(np.array([0, 1]), num_features=0), ValueError,
     "num_features must be >= 1"),
    ("features-classes", lambda: synthetic_features(np.array([0, 3]), num_classes=2), ValueError,
     "num_classes must be >= 4"),
    # readers
    ("dataset-unknown", lambda: read_graph("Coraa"), ValueError, "unknown dataset 'Coraa'. Did you mean 'Cora'"),
    ("dataset-type", lambda: read_graph(3), TypeError, "dataset name must be a string"),
    ("dataset-synthetic", lambda: read_graph("synthetic-x-y"), ValueError, "synthetic"),
    ("dataset-seed", lambda: read_graph("synthetic-10-10", seed=-1), ValueError, "seed must be >= 0"),
    ("edge-list-missing", lambda: read_edge_list("/nonexistent/edges.txt"), FileNotFoundError, "edges.txt"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_integer_like_arguments_are_accepted():
    """numpy integers and 0-d integer arrays/tensors work wherever an int is meant."""
    torch = pytest.importorskip("torch")
    for k in (np.int64(2), np.array(2), torch.tensor(2)):
        parts = P.partition(G, k, "metis", seed=np.int32(0), imbalance=np.float32(0.03))
        assert np.bincount(parts).tolist() == [2, 2]
    assert P.communication_volume(G, torch.tensor(PARTS), k=torch.tensor(2)).total == 2


@pytest.fixture
def written(tmp_path):
    return P.write_partitions(tmp_path / "parts", G, PARTS)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"rank": 2}, ValueError, "rank 2 is out of range"),
    ({"rank": -1}, ValueError, "rank must be >= 0"),
    ({"rank": 1.0}, TypeError, "rank must be an integer"),
    ({"rank": 0, "k": 0}, ValueError, "k must be >= 1"),
    ({"rank": 0, "k": 3}, ValueError, "holds k=2 parts but k=3"),
    ({"rank": 0, "fingerprint": 123}, TypeError, "fingerprint must be a string"),
    ({"rank": 0, "graph": sp.eye(4, format="csr")}, ValueError, "made for another graph"),
], ids=["rank-high", "rank-negative", "rank-float", "k-zero", "k-mismatch", "fingerprint-type", "graph-mismatch"])
def test_read_partitions_bad_arguments(written, kwargs, error, message):
    with pytest.raises(error, match=message):
        P.read_partitions(written, **kwargs)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"features": np.ones((3, 2))}, ValueError, "features has 3 rows but the graph has 4"),
    ({"features": np.array([[1.0], [np.nan], [0.0], [0.0]])}, ValueError, "features contains NaN"),
    ({"labels": np.array(5)}, ValueError, "labels must be an array"),
    ({"labels": np.array([None] * 4, dtype=object)}, TypeError, "nothing is pickled"),
    ({"node_data": {"bad name": np.zeros(4)}}, ValueError, "node_data names"),
    ({"overwrite": "yes"}, TypeError, "overwrite must be True or False"),
    ({"method": 3}, TypeError, "method must be a string"),
    ({"parts": [0, 0, 1]}, ValueError, "parts has 3 entries"),
], ids=["features-rows", "features-nan", "labels-scalar", "labels-object", "node-data-name", "overwrite-type",
        "method-type", "parts-size"])
def test_write_partitions_bad_arguments(tmp_path, kwargs, error, message):
    args = {"parts": PARTS, **kwargs}
    parts = args.pop("parts")
    with pytest.raises(error, match=message):
        P.write_partitions(tmp_path / "out", G, parts, **args)
    assert not (tmp_path / "out").exists()
    assert not any(tmp_path.iterdir())  # no temporary directory left behind either


def test_write_partitions_rejects_a_non_path(tmp_path):
    with pytest.raises(TypeError, match="out_dir must be a path"):
        P.write_partitions(3, G, PARTS)
