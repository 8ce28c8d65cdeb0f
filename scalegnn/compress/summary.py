"""A per-layer table of a compressed model: method, bits, sparsity and bytes of its weights."""
from __future__ import annotations

from typing import Any, Dict, List

import torch

from scalegnn.compress.binarized import Binarized
from scalegnn.compress.pruned import Pruned
from scalegnn.compress.quantized import Quantized
from scalegnn.compress.wrapper import compression_wrappers

__all__ = ["summary", "summary_rows"]


def summary_rows(model: torch.nn.Module) -> List[Dict[str, Any]]:
    """One dict per wrapped layer: ``layer``, ``kind``, ``bits``, ``sparsity``, ``params``,
    ``float32_bytes`` and ``bytes`` (the weights' size in compact form, scales included;
    pruned weights as float32 nonzeros plus one mask bit per entry)."""
    rows = []
    for name, w in compression_wrappers(model):
        params = sum(w.original(n).numel() for n in w.weight_names)
        channels = sum(w.original(n).shape[0] for n in w.weight_names)
        if isinstance(w, Quantized):
            bits, sparsity = w.bits, 0.0
            size = params * bits / 8 + 4 * (channels if w.per_channel else len(w.weight_names))
        elif isinstance(w, Binarized):
            bits, sparsity = 1, 0.0
            size = params / 8 + 4 * (channels if w.per_channel else len(w.weight_names))
        elif isinstance(w, Pruned):
            bits, sparsity = 32, w.weight_sparsity()
            size = params / 8 + 4 * params * (1 - sparsity)
        else:
            bits, sparsity, size = 32, 0.0, 4 * params
        rows.append({"layer": name or "<model>", "kind": w.kind, "bits": bits, "sparsity": sparsity,
                     "params": params, "float32_bytes": 4 * params, "bytes": int(round(size))})
    return rows


def summary(model: torch.nn.Module) -> str:
    """The table of :func:`summary_rows` as text (also printed)."""
    rows = summary_rows(model)
    if not rows:
        raise ValueError("the model has no compression wrappers")
    lines = [f"{'layer':<28} {'kind':<10} {'bits':>4} {'sparsity':>8} {'params':>10} {'bytes':>10} {'ratio':>6}"]
    for r in rows:
        lines.append(f"{r['layer']:<28} {r['kind']:<10} {r['bits']:>4} {r['sparsity']:>8.3f} {r['params']:>10} "
                     f"{r['bytes']:>10} {r['float32_bytes'] / max(r['bytes'], 1):>5.1f}x")
    total, fp = sum(r["bytes"] for r in rows), sum(r["float32_bytes"] for r in rows)
    lines.append(f"{'total':<28} {'':<10} {'':>4} {'':>8} {sum(r['params'] for r in rows):>10} {total:>10} "
                 f"{fp / max(total, 1):>5.1f}x")
    text = "\n".join(lines)
    print(text)
    return text
