"""Compression as layer wrappers: pruning, quantization and binarization for any PyG model.

Every wrapper reparametrizes the weights of an existing layer instead of
forking its code, so the same classes apply to PyG's convolutions, linear
layers and this project's own layers::

    from scalegnn import compress

    model = compress.apply(GCN(1433, 16, 2, 7), "int8")        # or "prune:0.9", "binary", "mixed:5", "heads:0.5"
    sched = compress.CompressionScheduler(model, total_steps=200)   # Trainer(..., scheduler=sched)
    report = compress.export(model, "gcn.sgc")                   # packed codes / bits / sparse weights
    restored = compress.load("gcn.sgc", GCN(1433, 16, 2, 7))     # same outputs
"""
from scalegnn.compress.apply import apply, default_targets, parse_spec
from scalegnn.compress.binarized import Binarized
from scalegnn.compress.binary_activation import BinaryActivation
from scalegnn.compress.export import ExportReport, export, float32_bytes, load
from scalegnn.compress.global_pruning import global_prune, global_sparsity
from scalegnn.compress.mixed_precision import allocate_bits
from scalegnn.compress.pruned import Pruned
from scalegnn.compress.quantized import Quantized
from scalegnn.compress.scheduler import CompressionScheduler
from scalegnn.compress.summary import summary, summary_rows
from scalegnn.compress.wrapper import CompressionWrapper, compression_wrappers

__all__ = [
    "Binarized",
    "BinaryActivation",
    "CompressionScheduler",
    "CompressionWrapper",
    "ExportReport",
    "Pruned",
    "Quantized",
    "allocate_bits",
    "apply",
    "compression_wrappers",
    "default_targets",
    "export",
    "float32_bytes",
    "global_prune",
    "global_sparsity",
    "load",
    "parse_spec",
    "summary",
    "summary_rows",
]
