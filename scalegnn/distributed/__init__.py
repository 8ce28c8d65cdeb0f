"""Distributed full-batch GNN training: 1-D row parallelism over ``torch.distributed``, launched by ``torchrun``.

Rank :math:`p` owns its rows of :math:`A`, of the features and of every
layer's output; each layer it receives exactly its halo rows from their
owners (:func:`halo_exchange`, :class:`HaloSpMM`), backward returns the halo
gradients to their owners, weights are replicated and their gradients
all-reduced (Demirci, Haldar, Ferhatosmanoglu, "Scalable Graph Convolutional
Network Training on Distributed-Memory Systems", PVLDB 16(4), 2023). The
partition comes from :mod:`partitioning` (hypergraph by default), written once
by :func:`prepare_partitions` and read per rank by :func:`load_local_graph`.
Results equal a single-process run (:func:`single_process_forward`) for every
number of ranks and every partition, dropout included (:class:`NodeDropout`).
"""
from scalegnn.distributed.context import DistContext, DistributedSetupError, agree, init_distributed, run_on_rank0
from scalegnn.distributed.conv_wrapper import DistributedConv
from scalegnn.distributed.gcn_conv import DistGCNConv
from scalegnn.distributed.halo_exchange import TRANSPORTS, CommStats, ExchangePlan, HaloExchange, halo_exchange
from scalegnn.distributed.halo_spmm import HaloSpMM, halo_spmm
from scalegnn.distributed.local_graph import LocalGraph, load_local_graph
from scalegnn.distributed.models import DISTRIBUTED_MODELS, DistributedGNN, single_process_forward
from scalegnn.distributed.node_dropout import NodeDropout
from scalegnn.distributed.prepare import graph_csr, prepare_partitions, training_edge_index
from scalegnn.distributed.task import DistributedNodeTask, all_reduce_gradients, broadcast_parameters

__all__ = [
    "CommStats",
    "DISTRIBUTED_MODELS",
    "DistContext",
    "DistGCNConv",
    "DistributedConv",
    "DistributedGNN",
    "DistributedNodeTask",
    "DistributedSetupError",
    "ExchangePlan",
    "HaloExchange",
    "HaloSpMM",
    "LocalGraph",
    "NodeDropout",
    "TRANSPORTS",
    "agree",
    "all_reduce_gradients",
    "broadcast_parameters",
    "graph_csr",
    "halo_exchange",
    "halo_spmm",
    "init_distributed",
    "load_local_graph",
    "prepare_partitions",
    "run_on_rank0",
    "single_process_forward",
    "training_edge_index",
]
