"""Graph vs hypergraph partitioning for row-parallel GNN training, with exact communication volume.

This package does not import torch (directly or indirectly); it needs numpy,
scipy, pymetis and mtkahypar (tqdm and matplotlib for progress and plots).

In 1-D row-parallel full-batch training each rank owns a set of vertices and
must receive, every layer, the feature rows of all neighbours owned elsewhere.
The column-net hypergraph of :math:`A + I` (net :math:`j = \\{j\\} \\cup N(j)`)
turns that traffic into its connectivity−1 metric exactly; METIS's edge cut
only approximates it.

Graphs may be ``scipy.sparse`` matrices, ``(indptr, indices)`` tuples, PyG
``edge_index`` tensors or arrays, PyG ``Data`` objects or torch sparse tensors
(duck-typed: :func:`as_csr`). Every method returns a partition within the
imbalance bound (repaired if needed) and, with the default
``preset='deterministic'``, the same partition for the same seed on every run
(``FORMAT.md``, "Reproducibility", says exactly what is and is not
deterministic). Arguments are checked at the boundary with ``TypeError`` /
``ValueError`` messages that name the argument.

Main entry points:

* :func:`partition` — ``method='hypergraph' | 'refined-metis' | 'balanced-volume' | 'metis-volume' | 'metis' | 'random'``
  (``refined-metis``: METIS's partition with its exact volume lowered by
  Mt-KaHyPar V-cycles, the fast choice for graphs with millions of vertices;
  ``metis-volume``: METIS with its own total-volume objective;
  ``balanced-volume``: low total volume with the busiest part's send + receive
  kept within METIS's).
* :func:`communication_volume`, :func:`edge_cut`, :func:`imbalance`.
* :func:`write_partitions` / :func:`read_partitions` — on-disk layout in ``FORMAT.md``.
* :func:`partition_report` — several methods side by side (table and PNG).
* :func:`powerlaw_sbm_graph` — synthetic power-law graphs with planted blocks.
* CLI: ``python -m partitioning --help``.
"""
from partitioning.artifacts import (PartitionData, PartitionFormatError, check_output_dir, read_manifest, read_partitions,
                                   write_partitions)
from partitioning.graph import as_csr, graph_fingerprint, symmetrize
from partitioning.hypergraph import ColumnNetHypergraph, column_net_hypergraph
from partitioning.metrics import CommunicationVolume, communication_volume, edge_cut, imbalance
from partitioning.partition import METHODS, PartitionResult, partition, partition_with_info
from partitioning.report import format_report, partition_report, plot_part_loads, plot_report
from partitioning.synthetic import powerlaw_sbm_graph

__all__ = [
    "METHODS",
    "ColumnNetHypergraph",
    "CommunicationVolume",
    "PartitionData",
    "PartitionFormatError",
    "PartitionResult",
    "as_csr",
    "check_output_dir",
    "column_net_hypergraph",
    "communication_volume",
    "edge_cut",
    "format_report",
    "graph_fingerprint",
    "imbalance",
    "partition",
    "partition_report",
    "partition_with_info",
    "plot_part_loads",
    "plot_report",
    "powerlaw_sbm_graph",
    "read_manifest",
    "read_partitions",
    "symmetrize",
    "write_partitions",
]
