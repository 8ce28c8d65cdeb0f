"""Mini-batch samplers that yield PyG ``Data`` batches."""
from scalegnn.sampling.gradient_norms import output_gradient_norms, output_loss_gradient
from scalegnn.sampling.history import HistoryEmbedding, control_variate_aggregate
from scalegnn.sampling.minimal_variance import MVSampler, minimal_variance_probs, poisson_sample
from scalegnn.sampling.mvs_loader import MVSLoader
from scalegnn.sampling.mvs_task import MVSTask, micro_f1
from scalegnn.sampling.neighbor_sampling import NormalizedNeighborSampler, SampledSubgraph
from scalegnn.sampling.random_partition import RandomPartitionLoader, predict_random_partitions, random_partition

__all__ = [
    "HistoryEmbedding",
    "MVSLoader",
    "MVSTask",
    "MVSampler",
    "NormalizedNeighborSampler",
    "RandomPartitionLoader",
    "SampledSubgraph",
    "control_variate_aggregate",
    "micro_f1",
    "minimal_variance_probs",
    "output_gradient_norms",
    "output_loss_gradient",
    "poisson_sample",
    "predict_random_partitions",
    "random_partition",
]
