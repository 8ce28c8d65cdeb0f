"""Dense bit packing of small unsigned integers and sparse layouts of pruned matrices.

``pack_bits(codes, bits)`` stores ``n`` codes in ``ceil(n * bits / 8)`` bytes
(little-endian bit order, code after code, any width from 1 to 8), and
``unpack_bits`` inverts it. ``sparse_layout`` picks the smaller of a bitmask
(one bit per entry, then the nonzero values) and CSR (row pointers, column
indices in the narrowest integer type, values) for a pruned matrix.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

__all__ = ["pack_bits", "unpack_bits", "packed_size", "sparse_layout", "sparse_restore"]


def packed_size(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


def pack_bits(codes: np.ndarray, bits: int) -> bytes:
    """Pack unsigned integer ``codes`` (each ``< 2**bits``) into ``bits`` bits each."""
    codes = np.asarray(codes).reshape(-1)
    if codes.size and (codes.min() < 0 or codes.max() >= 2 ** bits):
        raise ValueError(f"codes must lie in [0, {2 ** bits}) to pack into {bits} bits")
    u8 = codes.astype(np.uint8)
    if bits == 8:
        return u8.tobytes()
    planes = np.unpackbits(u8[:, None], axis=1, bitorder="little")[:, :bits]
    return np.packbits(planes.reshape(-1), bitorder="little").tobytes()


def unpack_bits(buffer: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``count`` codes as ``uint8``."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    if bits == 8:
        return raw[:count].copy()
    planes = np.unpackbits(raw, bitorder="little")[: count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits, dtype=np.uint16)).astype(np.uint16)
    return (planes.astype(np.uint16) @ weights).astype(np.uint8)


def sparse_layout(matrix: np.ndarray) -> Tuple[str, Dict[str, bytes]]:
    """The smaller exact encoding of ``matrix`` (2-D view) with its zeros dropped."""
    m = matrix.reshape(matrix.shape[0], -1) if matrix.ndim > 1 else matrix.reshape(1, -1)
    nonzero = m != 0
    values = m[nonzero].astype(m.dtype)
    bitmask = {"mask": np.packbits(nonzero.reshape(-1), bitorder="little").tobytes(), "values": values.tobytes()}
    index_type = np.uint8 if m.shape[1] <= 256 else np.uint16 if m.shape[1] <= 65536 else np.uint32
    rows, cols = np.nonzero(nonzero)
    crow = np.zeros(m.shape[0] + 1, dtype=np.uint32)
    np.cumsum(np.bincount(rows, minlength=m.shape[0]), out=crow[1:])
    csr = {"crow": crow.tobytes(), "col": cols.astype(index_type).tobytes(), "values": values.tobytes(),
           "index_bits": np.array([np.dtype(index_type).itemsize * 8], dtype=np.uint8).tobytes()}
    size = lambda parts: sum(len(v) for v in parts.values())  # noqa: E731
    return ("bitmask", bitmask) if size(bitmask) <= size(csr) else ("csr", csr)


def sparse_restore(layout: str, parts: Dict[str, bytes], shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    rows = shape[0] if len(shape) > 1 else 1
    cols = int(np.prod(shape)) // rows
    values = np.frombuffer(parts["values"], dtype=dtype)
    out = np.zeros((rows, cols), dtype=dtype)
    if layout == "bitmask":
        mask = np.unpackbits(np.frombuffer(parts["mask"], dtype=np.uint8), bitorder="little")[: rows * cols]
        out.reshape(-1)[mask.astype(bool)] = values
    elif layout == "csr":
        crow = np.frombuffer(parts["crow"], dtype=np.uint32)
        index_type = {8: np.uint8, 16: np.uint16, 32: np.uint32}[int(parts["index_bits"][0])]
        col = np.frombuffer(parts["col"], dtype=index_type).astype(np.int64)
        row = np.repeat(np.arange(rows), np.diff(crow).astype(np.int64))
        out[row, col] = values
    else:
        raise ValueError(f"unknown sparse layout {layout!r}")
    return out.reshape(shape)
