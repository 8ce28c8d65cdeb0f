"""A compact on-disk form of a compressed model, and the loader that restores it exactly.

``export(model, path)`` writes one file: an 8-byte magic, the length of a
zlib-compressed JSON header, the header (the wrappers to rebuild and one entry
per state-dict tensor) and the tensors' bytes. Each compressed weight is stored
in the form its wrapper uses:

* :class:`~scalegnn.compress.Quantized`: ``bits``-bit codes packed densely
  (:func:`~scalegnn.compress.packing.pack_bits`) plus one float32 scale per channel;
* :class:`~scalegnn.compress.Binarized`: one bit per weight plus its scales, and
  the binary-activation statistics as 8-bit codes (per-channel means) and 4-bit
  codes of the log-deviations;
* :class:`~scalegnn.compress.Pruned`: the nonzeros as a bitmask or CSR
  (whichever is smaller) with float32 values.

Everything else (biases, normalization statistics, activation ranges) is
stored raw; training-only state (masks, step counters, dual variables) is
dropped. ``load(path, model)`` wraps the same layers of a model built with
the same architecture, fills in the decoded tensors and freezes the
compressed ones, so the loaded model computes exactly what the exported one did.
"""
from __future__ import annotations

import io
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np
import torch

from scalegnn.compress.activation_quant import ActivationQuantizer
from scalegnn.compress.binarized import Binarized
from scalegnn.compress.binary_activation import STD_BITS, BinaryActivation
from scalegnn.compress.fake_quant import affine_decode
from scalegnn.compress.packing import pack_bits, sparse_layout, sparse_restore, unpack_bits
from scalegnn.compress.pruned import Pruned
from scalegnn.compress.quantized import Quantized
from scalegnn.compress.wrapper import CompressionWrapper, Reparametrization, compression_wrappers

__all__ = ["ExportReport", "export", "load", "float32_bytes"]

MAGIC = b"SGNNCMP1"
WRAPPERS = {"quantized": Quantized, "binarized": Binarized, "pruned": Pruned}
_DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16",
           torch.int64: "int64", torch.int32: "int32", torch.uint8: "uint8", torch.bool: "bool", torch.int8: "int8"}


@dataclass
class ExportReport:
    """What :func:`export` wrote: ``bytes`` on disk against the float32 model's ``float32_bytes``."""

    path: str
    bytes: int
    float32_bytes: int
    layers: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.float32_bytes / self.bytes

    def __str__(self) -> str:
        return f"{self.path}: {self.bytes} bytes ({self.ratio:.1f}x smaller than float32's {self.float32_bytes})"


def _prefix(path: str) -> str:
    return f"{path}." if path else ""


def _tensor_key(path: str, wrapper: CompressionWrapper, name: str) -> str:
    owner, _, attr = name.rpartition(".")
    inner = f"{owner}." if owner else ""
    return f"{_prefix(path)}module.{inner}parametrizations.{attr}.original"


def _is_added_state(module: torch.nn.Module) -> bool:
    return isinstance(module, (ActivationQuantizer, BinaryActivation, Reparametrization))


def float32_bytes(model: torch.nn.Module) -> int:
    """Bytes of the uncompressed model in float32: every parameter, plus the buffers of the original layers."""
    total = sum(p.numel() for p in model.parameters()) * 4
    for name, module in model.named_modules():
        if _is_added_state(module) or isinstance(module, CompressionWrapper):
            continue
        for b in module.buffers(recurse=False):
            if b.is_floating_point():
                total += b.numel() * 4
    return total


class _Writer:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def add(self, data: bytes) -> int:
        """Append a segment; segments are read back in the order they were written."""
        self.buffer.write(data)
        return len(data)


def _raw(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def export(model: torch.nn.Module, path: Union[str, Path]) -> ExportReport:
    """Write ``model`` (with compression wrappers) to ``path`` in compact form; returns the sizes."""
    wrappers = list(compression_wrappers(model))
    if not wrappers:
        raise ValueError("the model has no compression wrappers: nothing to export compactly (use compress.apply)")
    state = model.state_dict()
    writer = _Writer()
    entries: List[Dict[str, Any]] = []
    handled: set = set()
    layers = []
    for wpath, w in wrappers:
        layer_bytes, bits = 0, None
        for name in w._reparametrized:
            key = _tensor_key(wpath, w, name)
            handled.add(key)
            eff = w.effective(name).detach().cpu()
            entry: Dict[str, Any] = {"key": key, "shape": list(eff.shape), "dtype": _DTYPES[eff.dtype]}
            if isinstance(w, (Quantized, Binarized)):
                codes, scale = w.codes(name)
                b = w.parametrization(name).bits if isinstance(w, Quantized) else 1
                bits = b
                if b == 1:
                    unsigned = (codes > 0).to(torch.uint8)
                else:
                    unsigned = (codes + (2 ** (b - 1) - 1)).to(torch.uint8)
                entry.update(encoding="codes", bits=b,
                             codes=writer.add(pack_bits(unsigned.numpy(), b)),
                             scale=writer.add(_raw(scale.to(eff.dtype))))
                layer_bytes += entry["codes"] + entry["scale"]
            else:
                layout, parts = sparse_layout(eff.numpy())
                entry.update(encoding="sparse", layout=layout, parts={k: writer.add(v) for k, v in parts.items()})
                layer_bytes += sum(entry["parts"].values())
            entries.append(entry)
        for key in w.training_only_state():
            handled.add(_prefix(wpath) + key)
        if isinstance(w, Binarized) and w.binarizer is not None:
            for stat in set(w.binarizer.stored_statistics()) & {"running_mean", "running_std"}:
                key = f"{_prefix(wpath)}binarizer.{stat}"
                handled.add(key)
                if stat == "running_mean":
                    codes, low, scale = w.binarizer.threshold_codes()
                    encoding, data = "threshold8", codes.cpu().numpy().tobytes()
                else:
                    codes, low, scale = w.binarizer.std_codes()
                    encoding, data = "logstd4", pack_bits(codes.cpu().numpy(), STD_BITS)
                entries.append({"key": key, "encoding": encoding, "shape": list(codes.shape), "dtype": "float32",
                                "codes": writer.add(data),
                                "scale": writer.add(_raw(scale.reshape(1))), "low": writer.add(_raw(low.reshape(1)))})
                layer_bytes += len(data) + 8
        sparsity = w.weight_sparsity() if isinstance(w, Pruned) else None
        layers.append({"layer": wpath or "<model>", "kind": w.kind, "bits": bits, "sparsity": sparsity,
                       "bytes": layer_bytes})
    extra: Dict[str, Any] = {}
    for key, value in state.items():
        if key in handled:
            continue
        if key.endswith("_extra_state"):
            extra[key] = value
            continue
        entries.append({"key": key, "encoding": "raw", "shape": list(value.shape), "dtype": _DTYPES[value.dtype],
                        "data": writer.add(_raw(value))})
    for entry in entries:  # float32 is the default dtype
        if entry.get("dtype") == "float32":
            del entry["dtype"]
    header = {"format": 1, "wrappers": [{"path": p, "kind": w.kind, "config": _non_default(w)} for p, w in wrappers],
              "entries": entries, "extra_state": extra}
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed_header = deflate.compress(json.dumps(header, separators=(",", ":")).encode()) + deflate.flush()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", len(packed_header)))
        f.write(packed_header)
        f.write(writer.buffer.getvalue())
    os.replace(tmp, path)
    return ExportReport(str(path), path.stat().st_size, float32_bytes(model), layers)


def _non_default(wrapper: CompressionWrapper) -> Dict[str, Any]:
    """The wrapper's config without the arguments left at their defaults (a smaller header)."""
    import inspect

    params = inspect.signature(type(wrapper).__init__).parameters
    config = wrapper.config()
    out = {k: v for k, v in config.items()
           if k not in params or params[k].default is inspect.Parameter.empty or params[k].default != v}
    if wrapper.default_weights:
        out.pop("weights", None)
    return out


def _read(path: Union[str, Path]) -> Tuple[Dict[str, Any], memoryview]:
    data = Path(path).read_bytes()
    if data[:8] != MAGIC:
        raise ValueError(f"{path} is not a scalegnn compressed model (bad magic {data[:8]!r})")
    (length,) = struct.unpack("<Q", data[8:16])
    header = json.loads(zlib.decompress(data[16:16 + length], -15))
    blob = memoryview(data)[16 + length:]
    offset = 0  # segments follow one another in entry order
    for entry in header["entries"]:
        entry.setdefault("dtype", "float32")
        for field_name in ("codes", "scale", "data", "low"):
            if field_name in entry:
                entry[field_name] = [offset, entry[field_name]]
                offset += entry[field_name][1]
        if "parts" in entry:
            for k in list(entry["parts"]):
                entry["parts"][k] = [offset, entry["parts"][k]]
                offset += entry["parts"][k][1]
    return header, blob


def _np_dtype(name: str) -> np.dtype:
    return np.dtype("int16") if name == "bfloat16" else np.dtype(name)


def _decode(entry: Dict[str, Any], blob: memoryview) -> torch.Tensor:
    def seg(span: List[int]) -> bytes:
        return bytes(blob[span[0]:span[0] + span[1]])

    shape = tuple(entry["shape"])
    dtype = getattr(torch, entry["dtype"])
    if entry["encoding"] == "raw":
        arr = np.frombuffer(seg(entry["data"]), dtype=_np_dtype(entry["dtype"])).copy().reshape(shape)
        t = torch.from_numpy(arr)
        return t.view(torch.bfloat16) if entry["dtype"] == "bfloat16" else t
    if entry["encoding"] == "codes":
        b = entry["bits"]
        count = int(np.prod(shape)) if shape else 1
        unsigned = torch.from_numpy(unpack_bits(seg(entry["codes"]), b, count).astype(np.int64)).reshape(shape)
        codes = unsigned * 2 - 1 if b == 1 else unsigned - (2 ** (b - 1) - 1)
        scale = torch.from_numpy(np.frombuffer(seg(entry["scale"]), dtype=_np_dtype(entry["dtype"])).copy())
        scale_shape = (scale.numel(),) + (1,) * (len(shape) - 1) if scale.numel() > 1 or shape[:1] == (1,) \
            else (1,) * len(shape)
        return codes.to(dtype) * scale.reshape(scale_shape)
    if entry["encoding"] == "sparse":
        parts = {k: seg(v) for k, v in entry["parts"].items()}
        return torch.from_numpy(sparse_restore(entry["layout"], parts, shape, _np_dtype(entry["dtype"])).copy())
    if entry["encoding"] in ("threshold8", "logstd4"):
        count = int(np.prod(shape)) if shape else 1
        raw = seg(entry["codes"])
        codes_np = np.frombuffer(raw, dtype=np.uint8).copy() if entry["encoding"] == "threshold8" \
            else unpack_bits(raw, STD_BITS, count)
        codes = torch.from_numpy(codes_np).reshape(shape)
        low = torch.from_numpy(np.frombuffer(seg(entry["low"]), dtype=np.float32).copy())[0]
        scale = torch.from_numpy(np.frombuffer(seg(entry["scale"]), dtype=np.float32).copy())[0]
        value = affine_decode(codes, low, scale)
        return value.exp() if entry["encoding"] == "logstd4" else value
    raise ValueError(f"unknown encoding {entry['encoding']!r} in the exported file")


def load(path: Union[str, Path], model: torch.nn.Module) -> torch.nn.Module:
    """Restore an exported model into ``model`` (the same architecture, plain or already wrapped).

    Returns the model (the wrapper itself when the whole model was one wrapped
    layer) in eval mode, computing exactly what the exported model computed.
    """
    header, blob = _read(path)
    if header.get("format") != 1:
        raise ValueError(f"unsupported export format {header.get('format')!r}")
    for record in header["wrappers"]:
        wpath, kind, config = record["path"], record["kind"], dict(record["config"])
        modules = dict(model.named_modules())
        if wpath not in modules:
            raise ValueError(f"the exported model has a compressed layer {wpath!r} that this model lacks")
        current = modules[wpath]
        if isinstance(current, CompressionWrapper):
            if current.kind != kind:
                raise ValueError(f"layer {wpath!r} is wrapped as {current.kind}, the file has {kind}")
            continue
        wrapped = WRAPPERS[kind](current, **config)
        if wpath == "":
            model = wrapped
        else:
            parent, _, child = wpath.rpartition(".")
            setattr(modules[parent], child, wrapped)
    state: Dict[str, Any] = dict(header.get("extra_state", {}))
    frozen: Dict[str, Tuple[str, torch.Tensor]] = {}
    for entry in header["entries"]:
        tensor = _decode(entry, blob)
        state[entry["key"]] = tensor
        if entry["encoding"] in ("codes", "sparse"):
            frozen[entry["key"]] = ("", tensor)
        if entry["encoding"] in ("threshold8", "logstd4"):
            frozen[entry["key"]] = ("<statistic>", tensor)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ValueError(f"the exported file does not fit this model: {exc}") from exc
    wrappers = dict(compression_wrappers(model))
    allowed = {_prefix(p) + k for p, w in wrappers.items() for k in w.training_only_state()}
    missing = [k for k in result.missing_keys if k not in allowed]
    if missing or result.unexpected_keys:
        raise ValueError(f"the exported file does not fit this model: missing {missing[:5]}, "
                         f"unexpected {result.unexpected_keys[:5]}")
    for wpath, w in wrappers.items():
        for name in w._reparametrized:
            key = _tensor_key(wpath, w, name)
            if key in frozen:
                w.freeze(name, frozen[key][1].to(w.original(name).device))
        if isinstance(w, Binarized) and w.binarizer is not None:
            for stat in ("running_mean", "running_std"):
                key = f"{_prefix(wpath)}binarizer.{stat}"
                if key in frozen:
                    w.binarizer.freeze_statistic(stat, frozen[key][1])
    return model.eval()
