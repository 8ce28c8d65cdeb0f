"""Layers and models that drop into ordinary PyG models."""
from scalegnn.nn.deq_gnn import DEQConvergenceError, DEQConvergenceWarning, DEQGNN
from scalegnn.nn.gbp import GBP, gbp_exact, gbp_precompute
from scalegnn.nn.mincut_pool import MinCutOutput, MinCutPool, dense_mincut_pool, sparse_mincut_pool
from scalegnn.nn.propagation_weights import heat_kernel_weights, ppr_weights, sgc_weights
from scalegnn.nn.rev_gnn import GCNLayer, RevGNN
from scalegnn.nn.reversible import GroupedReversibleBlock, ReversibleSequential, SavedTensorCounter
from scalegnn.nn.sgc import SGC, sgc_precompute
from scalegnn.nn.shared_dropout import SharedDropout

__all__ = [
    "DEQConvergenceError",
    "DEQConvergenceWarning",
    "DEQGNN",
    "GBP",
    "GCNLayer",
    "GroupedReversibleBlock",
    "MinCutOutput",
    "MinCutPool",
    "ReversibleSequential",
    "RevGNN",
    "SGC",
    "SavedTensorCounter",
    "SharedDropout",
    "dense_mincut_pool",
    "gbp_exact",
    "gbp_precompute",
    "heat_kernel_weights",
    "ppr_weights",
    "sgc_precompute",
    "sgc_weights",
    "sparse_mincut_pool",
]
