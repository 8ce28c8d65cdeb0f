r"""Features larger than memory: column blocks streamed from disk, through the compute device, back to disk.

Every propagation of this package (:math:`S^K X`, :math:`\sum_\ell w_\ell T^\ell X`,
GBP's push and walks) acts on each feature column independently, so it can
run one block of columns at a time. This module moves those blocks:

* :class:`FeatureSource` reads ``X[:, a:b]`` from an in-memory tensor, a numpy
  array or ``np.memmap``, or an ``.npy`` file given by its path (read in row
  windows through one reused buffer, never mapped whole, so a file larger than
  the process's address-space limit can be read). Each block is checked for
  NaN/inf as it is read.
* :class:`ResultSink` writes result blocks into a tensor or into a new ``.npy``
  file (Fortran order, so that every column block is one contiguous region:
  ``np.load`` returns the same ``[N, F]`` array either way).
* :func:`block_budget` sizes the blocks so that the working buffers fit the
  memory budget *and* the process's enforced limits (``RLIMIT_AS``,
  ``RLIMIT_DATA``); a requested block that cannot fit raises ``ValueError``.
* :func:`stream_blocks` runs a per-block function over all blocks: in order
  on CPU, and on a GPU with the host->device copy of the next block and the
  device->host copy of the previous result on a side CUDA stream from pinned
  buffers, overlapping the SpMMs of the current block.

Peak memory is then the graph plus a few ``N x block`` buffers, whatever ``F``.
"""
from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from scalegnn.data.validate import validate_features
from scalegnn.nn.column_chunks import default_memory_budget

__all__ = [
    "FeatureSource",
    "ResultSink",
    "block_budget",
    "stream_blocks",
    "check_features",
    "memory_limit",
    "pipeline_kind",
    "compute_device",
]

PathLike = Union[str, os.PathLike]

#: largest row window read from (or written to) a file at once; :func:`block_budget` lowers it to an
#: eighth of the memory budget.
WINDOW_BYTES = 16 << 20

_NUMPY_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def check_features(x: Tensor, name: str = "x") -> None:
    """:func:`~scalegnn.data.validate.validate_features` with a one-pass fast path for the finite check.

    A float sum over all entries is finite only if every entry is finite (an
    inf or NaN anywhere makes it inf or NaN), so a finite sum settles the
    check in one vectorized read; only when it is not finite (or overflowed)
    does the full, element-wise check run and name the first bad entry.
    """
    if isinstance(x, Tensor) and x.layout == torch.strided and torch.is_floating_point(x) and x.numel() > 0:
        with torch.no_grad():
            finite = bool(torch.isfinite(x.sum()))
        if finite:
            validate_features(x[:0] if x.dim() >= 1 else x, name=name)  # dtype and shape checks only
            return
    validate_features(x, name=name)


def memory_limit() -> Optional[int]:
    """Bytes this process may still allocate under ``RLIMIT_AS`` / ``RLIMIT_DATA`` (``None``: no limit set)."""
    limits = []
    for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY:
            limits.append((which, soft))
    if not limits:
        return None
    usage = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmSize", "VmData"):
                    usage[key] = int(value.split()[0]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        return None
    left = []
    for which, soft in limits:
        used = usage.get("VmSize" if which == resource.RLIMIT_AS else "VmData", 0)
        left.append(max(0, soft - used))
    return min(left)


class FeatureSource:
    """``[N, F]`` node features to be read one column block at a time.

    Args:
        x: a floating ``torch.Tensor`` (``[N, F]``), a numpy array or
            ``np.memmap`` (``float32``/``float64``), or the path of an ``.npy``
            file holding one.
        name: the argument's name in error messages.

    Raises:
        TypeError: ``x`` is none of these.
        ValueError: not 2-D, not ``float32``/``float64``, an empty or missing
            file, a non-``.npy`` file; NaN/inf values (found when the block
            holding them is read, for arrays and files).
    """

    def __init__(self, x: Any, name: str = "x"):
        self.name = name
        self.path: Optional[Path] = None
        self.tensor: Optional[Tensor] = None
        self.array: Optional[np.ndarray] = None
        if isinstance(x, Tensor):
            check_features(x, name)
            if x.dim() != 2:
                raise ValueError(f"{name} must be a [num_nodes, channels] matrix, got shape {list(x.shape)}")
            self.tensor = x
            self.shape = tuple(x.shape)
            self.dtype = x.dtype
            self.fortran = False
        elif isinstance(x, np.ndarray):
            self._check_numpy(x.shape, x.dtype, f"{name} ({type(x).__name__})")
            self.array = x
            self.shape = tuple(x.shape)
            self.dtype = _NUMPY_TO_TORCH[np.dtype(x.dtype)]
            self.fortran = False
        elif isinstance(x, (str, os.PathLike)):
            self._open_npy(Path(x))
        else:
            raise TypeError(
                f"{name} must be a torch.Tensor, a numpy array / np.memmap or the path of an .npy file, "
                f"got {type(x).__name__}"
            )
        self.itemsize = torch.empty((), dtype=self.dtype).element_size()
        self.window_bytes = WINDOW_BYTES

    # -- construction -----------------------------------------------------------------------------------------
    def _check_numpy(self, shape: Tuple[int, ...], dtype: Any, what: str) -> None:
        if len(shape) != 2:
            raise ValueError(f"{what} must be a [num_nodes, channels] matrix, got shape {list(shape)}")
        if np.dtype(dtype) not in _NUMPY_TO_TORCH:
            raise ValueError(f"{what} must hold float32 or float64 values, got dtype {np.dtype(dtype)}")

    def _open_npy(self, path: Path) -> None:
        if not path.is_file():
            raise ValueError(f"{self.name}: no such feature file {str(path)!r}")
        with open(path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            except ValueError as err:
                raise ValueError(f"{self.name}: {str(path)!r} is not an .npy file ({err})") from None
            self.offset = fh.tell()
        self._check_numpy(shape, dtype, f"{self.name} ({str(path)!r})")
        if dtype.byteorder == ">" or (dtype.byteorder == "=" and np.little_endian is False):
            raise ValueError(f"{self.name} ({str(path)!r}): big-endian files are not supported")
        need = self.offset + int(np.prod(shape)) * dtype.itemsize
        if path.stat().st_size < need:
            raise ValueError(f"{self.name} ({str(path)!r}) is truncated: {path.stat().st_size} bytes, need {need}")
        self.path = path
        self.shape = tuple(int(s) for s in shape)
        self.np_dtype = np.dtype(dtype)
        self.dtype = _NUMPY_TO_TORCH[self.np_dtype]
        self.fortran = bool(fortran)

    # -- properties -------------------------------------------------------------------------------------------
    @property
    def num_rows(self) -> int:
        return self.shape[0]

    @property
    def num_cols(self) -> int:
        return self.shape[1]

    @property
    def in_memory(self) -> bool:
        """True for a tensor; arrays and files are read block by block."""
        return self.tensor is not None

    @property
    def device(self) -> torch.device:
        return self.tensor.device if self.tensor is not None else torch.device("cpu")

    def window_rows(self) -> int:
        """Rows per read window (``window_bytes`` of full rows, at least one row)."""
        return max(1, self.window_bytes // max(1, self.num_cols * self.itemsize))

    # -- reading ----------------------------------------------------------------------------------------------
    def read(self, cols: slice, out: Optional[Tensor] = None) -> Tensor:
        """``X[:, cols]`` as a contiguous ``[N, width]`` tensor (into ``out``, a CPU buffer, when given)."""
        width = cols.stop - cols.start
        if self.tensor is not None:
            block = self.tensor[:, cols]
            if out is None:
                return block.contiguous()
            out.copy_(block)
            return out
        n = self.num_rows
        if out is None:
            out = torch.empty(n, width, dtype=self.dtype)
        if self.array is not None:
            step = self.window_rows()
            for a in range(0, n, step):
                b = min(a + step, n)
                out[a:b].copy_(torch.from_numpy(np.array(self.array[a:b, cols], order="C", copy=True)))
        elif self.fortran:
            # Each column is one contiguous run of the file: read it in windows straight into its column.
            step = max(1, self.window_bytes // self.itemsize)
            window = np.empty(min(step, n), dtype=self.np_dtype)
            with open(self.path, "rb") as fh:
                for j in range(width):
                    fh.seek(self.offset + (cols.start + j) * n * self.itemsize)
                    for a in range(0, n, step):
                        b = min(a + step, n)
                        fh.readinto(memoryview(window[: b - a]).cast("B"))
                        out[a:b, j].copy_(torch.from_numpy(window[: b - a]))
        else:
            self._read_rows(cols, out)
        self._check_block(out, cols)
        return out

    def _read_rows(self, cols: slice, out: Tensor) -> None:
        n, f = self.shape
        step = self.window_rows()
        window = np.empty((min(step, n), f), dtype=self.np_dtype)
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            for a in range(0, n, step):
                b = min(a + step, n)
                view = window[: b - a]
                got = fh.readinto(memoryview(view).cast("B"))
                if got != view.nbytes:  # pragma: no cover - checked in _open_npy
                    raise ValueError(f"{self.name}: short read from {str(self.path)!r}")
                out[a:b].copy_(torch.from_numpy(view[:, cols]))

    def _check_block(self, block: Tensor, cols: slice) -> None:
        if not bool(torch.isfinite(block.sum())):
            bad = (~torch.isfinite(block)).nonzero()
            if bad.numel():
                i, j = bad[0].tolist()
                kind = "NaN" if bool(torch.isnan(block[i, j])) else "inf"
                raise ValueError(
                    f"{self.name} contains {kind} values (first at index [{i}, {cols.start + j}]); "
                    "only finite values are allowed"
                )


class ResultSink:
    """Where result blocks go: a tensor (``out=None``) or a new ``.npy`` file (``out=`` a path).

    The file is written in Fortran (column-major) order, so that a block of
    columns is one contiguous region; ``np.load(path)`` gives the ``[N, F]``
    array. The path must not exist (it is never overwritten).
    """

    def __init__(self, shape: Tuple[int, int], dtype: torch.dtype, out: Optional[PathLike] = None,
                 device: torch.device = torch.device("cpu")):
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self.path: Optional[Path] = None
        if out is None:
            self.tensor: Optional[Tensor] = torch.empty(self.shape, dtype=dtype, device=device)
            return
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"out must be a path (str or os.PathLike) of a new .npy file, got {type(out).__name__}")
        path = Path(out)
        if path.suffix != ".npy":
            raise ValueError(f"out={str(path)!r}: the result file must end in .npy")
        if path.exists():
            raise ValueError(f"out={str(path)!r} already exists; remove it or choose a new path (results are "
                             "never written over an existing file)")
        if not path.parent.is_dir():
            raise ValueError(f"out={str(path)!r}: directory {str(path.parent)!r} does not exist")
        self.tensor = None
        self.window_bytes = WINDOW_BYTES
        np_dtype = np.dtype(np.float32 if dtype == torch.float32 else np.float64)
        self.itemsize = np_dtype.itemsize
        self.tmp = path.with_name(path.name + ".partial")
        with open(self.tmp, "wb") as fh:
            np.lib.format.write_array_header_2_0(
                fh, {"descr": np.lib.format.dtype_to_descr(np_dtype), "fortran_order": True, "shape": self.shape}
            )
            self.offset = fh.tell()
            fh.truncate(self.offset + self.shape[0] * self.shape[1] * self.itemsize)
        self.path = path

    def write(self, cols: slice, block: Tensor) -> None:
        """Store ``block`` (``[N, width]``, any device) as columns ``cols``."""
        if self.tensor is not None:
            self.tensor[:, cols] = block.to(self.tensor.device)
            return
        n = self.shape[0]
        block = block.detach().to("cpu", self.dtype)
        step = max(1, self.window_bytes // max(1, block.size(1) * self.itemsize))
        with open(self.tmp, "r+b") as fh:
            for a in range(0, n, step):
                b = min(a + step, n)
                part = block[a:b].t().contiguous()  # [width, rows]: row j is a contiguous run of column j
                for j in range(part.size(0)):
                    fh.seek(self.offset + ((cols.start + j) * n + a) * self.itemsize)
                    fh.write(memoryview(part[j].numpy()).cast("B"))

    def result(self) -> Union[Tensor, Path]:
        """The filled tensor, or the path of the finished file (renamed from ``<path>.partial`` at the end)."""
        if self.tensor is not None:
            return self.tensor
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Remove a partial file after an error."""
        if self.tensor is None and self.tmp.exists():
            self.tmp.unlink()


@dataclass
class BlockPlan:
    """Column blocks and the bytes their buffers take."""

    blocks: List[slice]
    bytes_per_column: int
    budget: int
    window: int = WINDOW_BYTES


def block_budget(
    num_cols: int,
    num_rows: int,
    itemsize: int,
    buffers: float,
    chunk_size: Optional[int] = None,
    memory_budget: Optional[int] = None,
    device: torch.device = torch.device("cpu"),
    streamed: bool = False,
) -> BlockPlan:
    """Column blocks whose ``buffers`` working ``[num_rows, width]`` buffers fit the budget and the process limit.

    Args:
        num_cols, num_rows, itemsize: the feature matrix.
        buffers: ``N x width`` buffers alive per block.
        chunk_size: explicit block width (checked against the limit).
        memory_budget: bytes for the buffers (default: :func:`default_memory_budget`,
            lowered to half of what :func:`memory_limit` leaves when a limit is set).
        device: where the buffers live.
        streamed: a file or array source (adds the read window to the bytes needed).

    Raises:
        ValueError: ``chunk_size`` or ``memory_budget`` is not positive, or
            the requested blocks cannot fit under the enforced memory limit.
    """
    per_col = int(buffers * num_rows * itemsize)
    limit = memory_limit() if device.type == "cpu" else None
    # read/write windows: at most WINDOW_BYTES and an eighth of what may be allocated
    room = memory_budget if memory_budget is not None else limit
    window_size = WINDOW_BYTES if room is None else max(64 << 10, min(WINDOW_BYTES, room // 8))
    window = window_size if streamed else 0
    if memory_budget is not None and (not isinstance(memory_budget, int) or memory_budget <= 0):
        raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
    if chunk_size is not None:
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        width = min(chunk_size, max(num_cols, 1))
        need = width * per_col + window
        if limit is not None and need > limit:
            raise ValueError(
                f"chunk_size={chunk_size} needs {need / 2**20:,.1f} MiB of block buffers ({buffers:g} x {num_rows} "
                f"rows x {width} columns x {itemsize} bytes) but the process's memory limit leaves "
                f"{limit / 2**20:,.1f} MiB; use a smaller chunk_size"
            )
        budget = need
    else:
        if memory_budget is None:
            memory_budget = default_memory_budget(device)
            if limit is not None:
                memory_budget = min(memory_budget, limit // 2)
        elif limit is not None and memory_budget > limit:
            raise ValueError(
                f"memory_budget={memory_budget / 2**20:,.1f} MiB exceeds what the process's memory limit leaves "
                f"({limit / 2**20:,.1f} MiB)"
            )
        if per_col + window > memory_budget and (streamed or limit is not None):
            raise ValueError(
                f"one feature column needs {(per_col + window) / 2**20:,.1f} MiB of block buffers ({buffers:g} x "
                f"{num_rows} rows x {itemsize} bytes) but the memory budget is {memory_budget / 2**20:,.1f} MiB"
                + (f" (process limit leaves {limit / 2**20:,.1f} MiB)" if limit is not None else "")
            )
        width = max(1, int((memory_budget - window) // max(1, per_col)))
        width = min(width, max(num_cols, 1))
        budget = memory_budget
    blocks = [slice(a, min(a + width, num_cols)) for a in range(0, num_cols, width)]
    return BlockPlan(blocks, per_col, budget, window_size)


def compute_device(device: Any, default: torch.device) -> torch.device:
    """``device`` (default ``default``) as a ``torch.device``; a CUDA device without CUDA raises ``ValueError``."""
    try:
        device = torch.device(device) if device is not None else torch.device(default)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a valid torch device ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} requested but torch.cuda.is_available() is False")
    return device


def pipeline_kind(source: FeatureSource, device: torch.device) -> str:
    """How :func:`stream_blocks` moves blocks: ``'inplace'``, ``'sequential'`` or ``'cuda-overlap'``.

    * ``'inplace'``: the features are a tensor on the compute device;
    * ``'cuda-overlap'``: a CUDA device and host (or on-disk) features: pinned
      buffers, copies on a side stream overlapping the compute;
    * ``'sequential'``: everything else (CPU compute on file or array blocks).

    Raises:
        ValueError: a CUDA device is requested but CUDA is not available.
    """
    device = compute_device(device, source.device)
    if source.in_memory and source.device == device:
        return "inplace"
    if device.type == "cuda":
        return "cuda-overlap"
    return "sequential"


def stream_blocks(
    source: FeatureSource,
    blocks: Sequence[slice],
    compute: Callable[[slice, Tensor], Tensor],
    sink: ResultSink,
    device: torch.device,
) -> None:
    """For every block ``cols``: ``sink.write(cols, compute(cols, X[:, cols] on device))``.

    On CUDA with host/disk features (:func:`pipeline_kind` ``'cuda-overlap'``)
    the next block is read into a pinned buffer and copied to the GPU on a
    side stream while the current block computes, and results come back
    through pinned buffers on the same side stream; otherwise blocks run in
    order.
    """
    kind = pipeline_kind(source, device)
    if kind != "cuda-overlap":
        for cols in blocks:
            sink.write(cols, compute(cols, source.read(cols).to(device)))
        return
    _stream_cuda(source, blocks, compute, sink, torch.device(device))


def _stream_cuda(source: FeatureSource, blocks: Sequence[slice], compute: Callable[[slice, Tensor], Tensor],
                 sink: ResultSink, device: torch.device) -> None:  # pragma: no cover - needs a GPU
    copy_stream = torch.cuda.Stream(device)
    main = torch.cuda.current_stream(device)
    n = source.num_rows
    width = max(b.stop - b.start for b in blocks)
    # Flat pinned buffers viewed as contiguous [n, w] blocks (a strided slice would not copy asynchronously).
    pinned_in = [torch.empty(n * width, dtype=source.dtype).pin_memory() for _ in range(2)]
    pinned_out = [torch.empty(n * width, dtype=source.dtype).pin_memory() for _ in range(2)]
    loaded: List[Optional[Tuple[Tensor, torch.cuda.Event]]] = [None, None]
    pending: List[Optional[Tuple[slice, Tensor, torch.cuda.Event]]] = [None, None]

    def load(i: int) -> None:
        cols = blocks[i]
        w = cols.stop - cols.start
        if loaded[i % 2] is not None:
            loaded[i % 2][1].synchronize()  # the previous copy out of this pinned buffer has finished
        host = pinned_in[i % 2][: n * w].view(n, w)
        source.read(cols, out=host)
        with torch.cuda.stream(copy_stream):
            dev = host.to(device, non_blocking=True)
            ev = torch.cuda.Event()
            ev.record(copy_stream)
        loaded[i % 2] = (dev, ev)

    def flush(slot: int) -> None:
        item = pending[slot]
        if item is not None:
            cols, host, ev = item
            ev.synchronize()
            sink.write(cols, host)
            pending[slot] = None

    load(0)
    for i, cols in enumerate(blocks):
        dev, ev = loaded[i % 2]
        main.wait_event(ev)
        dev.record_stream(main)
        if i + 1 < len(blocks):
            load(i + 1)  # read + copy of the next block overlap this block's compute
        result = compute(cols, dev)
        done = torch.cuda.Event()
        done.record(main)
        flush(i % 2)
        w = cols.stop - cols.start
        host = pinned_out[i % 2][: n * w].view(n, w)
        with torch.cuda.stream(copy_stream):
            copy_stream.wait_event(done)
            result.record_stream(copy_stream)
            host.copy_(result, non_blocking=True)
            ev_out = torch.cuda.Event()
            ev_out.record(copy_stream)
        pending[i % 2] = (cols, host, ev_out)
    for slot in (0, 1):
        flush(slot)
    torch.cuda.synchronize(device)
