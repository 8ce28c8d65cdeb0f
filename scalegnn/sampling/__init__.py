"""Mini-batch samplers that yield PyG ``Data`` batches."""
from scalegnn.sampling.random_partition import RandomPartitionLoader, predict_random_partitions, random_partition

__all__ = ["RandomPartitionLoader", "predict_random_partitions", "random_partition"]
