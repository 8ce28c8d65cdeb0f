"""The process group of a distributed run, set up from the ``torchrun`` environment.

``torchrun`` (standalone or multi-node with ``--rdzv_backend c10d``) exports
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_distributed` reads them, picks the backend (gloo on CPU, NCCL on
CUDA) and the device (``cuda:LOCAL_RANK``), and returns a :class:`DistContext`.
Run without ``torchrun`` it makes a one-process group, so the same code path
serves one process and many.

Setup steps where one rank can fail while the others cannot know it (a
missing dataset on rank 0, a corrupted file of rank 3's part) go through
:func:`agree`, which turns a failure on any rank into the same exception on
every rank instead of a hang at the next collective.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, TypeVar

import torch
import torch.distributed as dist

__all__ = ["DistContext", "DistributedSetupError", "agree", "init_distributed", "run_on_rank0"]

T = TypeVar("T")


class DistributedSetupError(ValueError):
    """A setup step failed on some rank; raised with the same message on every rank.

    A ``ValueError`` because what fails in setup is nearly always input (a
    missing dataset, a partition directory from another graph); errors of other
    types keep their type name in the message.
    """


@dataclass
class DistContext:
    """Who this process is in the run.

    Attributes:
        rank, world_size, local_rank: from the ``torchrun`` environment (0, 1, 0 alone).
        device: ``cuda:LOCAL_RANK`` with NCCL, else ``cpu``.
        backend: ``"gloo"`` or ``"nccl"``.
        timeout: the collective timeout of training (a dead peer is reported within it).
        setup_group: a gloo group with the (long) setup timeout, for :func:`agree`, so
            the other ranks can wait for rank 0 to partition a big graph.
        owns_group: whether :func:`init_distributed` created the process group
            (and :meth:`shutdown` destroys it).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    timeout: datetime.timedelta
    owns_group: bool = True
    setup_group: Optional[Any] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def all_reduce_sum(self, values: List[float], dtype: torch.dtype = torch.float64) -> List[float]:
        """Sum a list of numbers over ranks (one collective)."""
        t = torch.tensor(values, dtype=dtype, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def all_reduce_max(self, values: List[float]) -> List[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.tolist()

    def shutdown(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _env_int(name: str, default: Optional[int]) -> Optional[int]:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(backend: Optional[str] = None, device: Optional[str] = None,
                     timeout_s: float = 300.0, setup_timeout_s: float = 24 * 3600.0) -> DistContext:
    """Join (or make) the process group described by the ``torchrun`` environment.

    Args:
        backend: ``"gloo"``, ``"nccl"`` or ``None`` (NCCL when the device is CUDA, else gloo).
        device: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available and the
            backend is not gloo). With CUDA the rank uses ``cuda:LOCAL_RANK``.
        timeout_s: collective timeout in seconds during training; a rank whose peer
            died raises within this time instead of waiting forever.
        setup_timeout_s: how long ranks wait for setup steps of other ranks
            (rank 0 partitioning a graph with millions of vertices can take an hour).

    Returns:
        The :class:`DistContext`. Without ``RANK``/``WORLD_SIZE`` in the
        environment a one-process group (gloo, in-memory store) is created.
    """
    if backend not in (None, "gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo', 'nccl' or None, got {backend!r}")
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or None, got {device!r}")
    if not timeout_s > 0 or not setup_timeout_s > 0:
        raise ValueError(f"timeout_s and setup_timeout_s must be > 0, got {timeout_s} and {setup_timeout_s}")
    rank = _env_int("RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device is None:
        device = "cuda" if torch.cuda.is_available() and backend != "gloo" else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but CUDA is not available on this machine")
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local_rank} but this node has {torch.cuda.device_count()} GPUs; "
                             "launch at most one process per GPU (--nproc_per_node)")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if backend is None:
        backend = "nccl" if dev.type == "cuda" else "gloo"
    if backend == "nccl" and dev.type != "cuda":
        raise ValueError("the NCCL backend needs CUDA devices; use --backend gloo on CPU")
    timeout = datetime.timedelta(seconds=timeout_s)
    owns = not dist.is_initialized()
    if owns:
        if "RANK" in os.environ and "MASTER_ADDR" in os.environ:
            kwargs = {"device_id": dev} if dev.type == "cuda" else {}
            dist.init_process_group(backend, timeout=timeout, **kwargs)
        else:
            store = dist.HashStore()
            dist.init_process_group(backend, store=store, rank=0, world_size=1, timeout=timeout)
            rank, world_size, local_rank = 0, 1, 0
    else:
        rank, world_size = dist.get_rank(), dist.get_world_size()
    setup_group = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=setup_timeout_s))
    return DistContext(rank, world_size, local_rank, dev, backend, timeout, owns, setup_group)


def agree(ctx: DistContext, step: Callable[[], T], what: str) -> T:
    """Run ``step`` on every rank; if it fails anywhere, raise the same error everywhere.

    The first failing rank's message (lowest rank) is re-raised on all ranks
    as :class:`DistributedSetupError`, so no rank goes on to a collective that
    a failed peer will never join.
    """
    error: Optional[str] = None
    result: Any = None
    try:
        result = step()
    except Exception as exc:  # noqa: BLE001 - any failure must reach the other ranks
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (ValueError, DistributedSetupError)) else str(exc)
    errors: List[Optional[str]] = [None] * ctx.world_size
    dist.all_gather_object(errors, error, group=ctx.setup_group)
    for rank, message in enumerate(errors):
        if message is not None:
            where = "" if ctx.world_size == 1 else f" (rank {rank})"
            raise DistributedSetupError(f"{what} failed{where}: {message}")
    return result


def run_on_rank0(ctx: DistContext, step: Callable[[], T], what: str) -> Optional[T]:
    """Run ``step`` on rank 0 only while the others wait; a failure there is raised on every rank.

    Returns ``step()``'s result on rank 0 and ``None`` elsewhere.
    """
    return agree(ctx, step if ctx.is_main else (lambda: None), what)
