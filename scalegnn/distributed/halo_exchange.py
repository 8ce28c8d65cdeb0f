r"""Halo exchange: the communication step of 1-D row-parallel full-batch GNN training.

Rank :math:`p` owns the rows :math:`V_p` of :math:`A`, of the features and of
every layer's output. To compute :math:`(AH)_i` for :math:`i \in V_p` it needs
the rows :math:`H_j` of its *halo*, the neighbours :math:`j \notin V_p` of its
rows. Every layer, each rank therefore sends each peer exactly the rows that
peer's halo holds, and in the backward pass the gradients of the halo rows
travel back to their owners, where they are summed into the owners' rows
(Demirci, Haldar, Ferhatosmanoglu, "Scalable Graph Convolutional Network
Training on Distributed-Memory Systems", PVLDB 16(4), 2023).

The plan comes from a partition directory (:mod:`partitioning`, ``FORMAT.md``):
rank :math:`p` sends ``H[send_local[send_ptr[q]:send_ptr[q+1]]]`` to peer
:math:`q` and receives peer :math:`q`'s rows into its halo slots
``recv_ptr[q]:recv_ptr[q+1]`` (halo rows are grouped by owner, ascending).
Two transports implement it:

* ``"p2p"`` (default): one non-blocking ``isend``/``irecv`` pair per peer that
  actually exchanges rows (``batch_isend_irecv``); a rank talks only to its
  neighbours, so the message count equals the partition's.
* ``"alltoall"``: one ``all_to_all_single`` with per-peer split sizes; the
  halo, grouped by owner, is its output buffer as it is.

Both return a pending handle so that a layer can compute the part of its SpMM
that needs only owned rows while the halo is in flight
(:class:`~scalegnn.distributed.HaloSpMM`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["CommStats", "ExchangePlan", "HaloExchange", "PendingExchange", "halo_exchange", "TRANSPORTS"]

TRANSPORTS = ("p2p", "alltoall")


@dataclass
class CommStats:
    """Communication of one rank, by layer and direction, since the last :meth:`reset`.

    ``records[(layer, direction)]`` holds ``rows``, ``bytes`` and ``messages``
    sent, ``rows_recv`` and ``wait_s`` (seconds blocked waiting for the exchange
    to complete, i.e. not hidden behind computation). ``direction`` is
    ``"forward"`` (feature rows) or ``"backward"`` (gradient rows).
    """

    records: Dict[Tuple[str, str], Dict[str, float]] = field(default_factory=dict)

    def add(self, layer: str, direction: str, rows: int, nbytes: int, messages: int, rows_recv: int,
            wait_s: float) -> None:
        rec = self.records.setdefault((layer, direction), {"rows": 0, "bytes": 0, "messages": 0,
                                                           "rows_recv": 0, "wait_s": 0.0, "calls": 0})
        rec["rows"] += rows
        rec["bytes"] += nbytes
        rec["messages"] += messages
        rec["rows_recv"] += rows_recv
        rec["wait_s"] += wait_s
        rec["calls"] += 1

    def reset(self) -> None:
        self.records.clear()

    def totals(self, direction: Optional[str] = None) -> Dict[str, float]:
        keys = ("rows", "bytes", "messages", "rows_recv", "wait_s", "calls")
        out = {k: 0.0 for k in keys}
        for (_, d), rec in self.records.items():
            if direction is None or d == direction:
                for k in keys:
                    out[k] += rec[k]
        return out


class ExchangePlan:
    """Who sends which rows to whom, for one rank (built from a partition's send/receive lists).

    Args:
        rank, world_size: this rank and the number of ranks (= parts).
        num_owned: rows this rank owns.
        send_ptr, send_local: ``[k+1]`` offsets into ``[total_send]`` owned local ids
            (rows for peer ``q`` are ``send_local[send_ptr[q]:send_ptr[q+1]]``).
        recv_ptr: ``[k+1]`` offsets of each peer's rows inside the halo.
        device: where the index tensors live.
        transport: ``"p2p"`` or ``"alltoall"``.
    """

    def __init__(self, rank: int, world_size: int, num_owned: int, send_ptr: np.ndarray, send_local: np.ndarray,
                 recv_ptr: np.ndarray, device: torch.device = torch.device("cpu"), transport: str = "p2p") -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        send_ptr, recv_ptr = np.asarray(send_ptr, dtype=np.int64), np.asarray(recv_ptr, dtype=np.int64)
        if send_ptr.shape != (world_size + 1,) or recv_ptr.shape != (world_size + 1,):
            raise ValueError(f"send_ptr and recv_ptr must have world_size + 1 = {world_size + 1} entries, got "
                             f"{send_ptr.shape[0]} and {recv_ptr.shape[0]}")
        if send_ptr[rank + 1] != send_ptr[rank] or recv_ptr[rank + 1] != recv_ptr[rank]:
            raise ValueError(f"rank {rank} cannot send rows to itself")
        self.rank, self.world_size, self.num_owned = rank, world_size, int(num_owned)
        self.transport, self.device = transport, device
        self.send_counts: List[int] = np.diff(send_ptr).tolist()
        self.recv_counts: List[int] = np.diff(recv_ptr).tolist()
        self.send_ptr, self.recv_ptr = send_ptr.tolist(), recv_ptr.tolist()
        self.num_halo = int(recv_ptr[-1])
        self.num_send = int(send_ptr[-1])
        self.send_index = torch.as_tensor(np.asarray(send_local, dtype=np.int64), device=device)
        if self.send_index.numel() != self.num_send:
            raise ValueError(f"send_local has {self.send_index.numel()} entries, send_ptr says {self.num_send}")
        if self.num_send and (int(self.send_index.min()) < 0 or int(self.send_index.max()) >= num_owned):
            raise ValueError("send_local holds ids outside the owned rows")
        self.send_peers = [q for q, c in enumerate(self.send_counts) if c > 0]
        self.recv_peers = [q for q, c in enumerate(self.recv_counts) if c > 0]
        self.stats = CommStats()

    def start(self, send_rows: Tensor, recv_rows: int, forward: bool) -> "PendingExchange":
        """Post the exchange of ``send_rows`` (packed by peer); return a handle to wait on.

        Forward: ``send_rows`` is ``[num_send, F]`` packed by ``send_ptr`` and the
        result is the halo ``[num_halo, F]`` packed by ``recv_ptr``. Backward: the
        roles swap (halo gradients out, ``[num_send, F]`` gradients in).
        """
        send_ptr, recv_ptr = (self.send_ptr, self.recv_ptr) if forward else (self.recv_ptr, self.send_ptr)
        send_counts, recv_counts = ((self.send_counts, self.recv_counts) if forward
                                    else (self.recv_counts, self.send_counts))
        out = send_rows.new_empty((recv_rows,) + tuple(send_rows.shape[1:]))
        send_rows = send_rows.contiguous()
        works: List[dist.Work] = []
        if self.world_size > 1 and (self.num_send or self.num_halo or self.transport == "alltoall"):
            if self.transport == "alltoall":
                works.append(dist.all_to_all_single(out, send_rows, output_split_sizes=recv_counts,
                                                    input_split_sizes=send_counts, async_op=True))
            else:
                ops = []
                for q in range(self.world_size):
                    if send_counts[q]:
                        ops.append(dist.P2POp(dist.isend, send_rows[send_ptr[q]:send_ptr[q + 1]], q))
                    if recv_counts[q]:
                        ops.append(dist.P2POp(dist.irecv, out[recv_ptr[q]:recv_ptr[q + 1]], q))
                if ops:
                    works = dist.batch_isend_irecv(ops)
        messages = sum(1 for c in send_counts if c > 0)
        nbytes = send_rows.numel() * send_rows.element_size()
        return PendingExchange(out, works, int(send_rows.shape[0]), nbytes, messages)


class PendingExchange:
    """An exchange in flight; :meth:`wait` returns the received rows."""

    def __init__(self, out: Tensor, works: List[dist.Work], rows: int, nbytes: int, messages: int) -> None:
        self.out, self.works = out, works
        self.rows, self.nbytes, self.messages = rows, nbytes, messages
        self.wait_s = 0.0

    def wait(self) -> Tensor:
        start = time.perf_counter()
        for work in self.works:
            work.wait()
        if self.out.is_cuda and self.works:
            torch.cuda.current_stream(self.out.device).synchronize()
        self.wait_s = time.perf_counter() - start
        return self.out


def record(plan: ExchangePlan, pending: PendingExchange, layer: str, direction: str) -> None:
    plan.stats.add(layer, direction, pending.rows, pending.nbytes, pending.messages, int(pending.out.shape[0]),
                   pending.wait_s)


def scatter_add_back(grad_owned: Tensor, plan: ExchangePlan, returned: Tensor) -> Tensor:
    """Add the gradient rows returned by the peers into the owned rows they came from."""
    if returned.shape[0]:
        grad_owned.index_add_(0, plan.send_index, returned)
    return grad_owned


class HaloExchange(torch.autograd.Function):
    """``[owned | halo]`` rows from the owned rows: forward fetches the halo, backward returns its gradient.

    The halo's gradient is sent back to the owners and summed there, so the
    owned rows' gradient equals what one process computes on the whole graph.
    """

    @staticmethod
    def forward(ctx, h_owned: Tensor, plan: ExchangePlan, layer: str) -> Tensor:  # type: ignore[override]
        if h_owned.shape[0] != plan.num_owned:
            raise ValueError(f"halo_exchange got {h_owned.shape[0]} rows, this rank owns {plan.num_owned}")
        pending = plan.start(h_owned.index_select(0, plan.send_index), plan.num_halo, forward=True)
        halo = pending.wait()
        record(plan, pending, layer, "forward")
        ctx.plan, ctx.layer = plan, layer
        return torch.cat([h_owned, halo], dim=0)

    @staticmethod
    def backward(ctx, grad_local: Tensor):  # type: ignore[override]
        plan: ExchangePlan = ctx.plan
        grad_local = grad_local.contiguous()
        pending = plan.start(grad_local[plan.num_owned:], plan.num_send, forward=False)
        grad_owned = grad_local[:plan.num_owned].clone()
        returned = pending.wait()
        record(plan, pending, ctx.layer, "backward")
        return scatter_add_back(grad_owned, plan, returned), None, None


def halo_exchange(h_owned: Tensor, plan: ExchangePlan, layer: str = "exchange") -> Tensor:
    """The local rows ``[owned | halo]`` of ``h`` (``[num_owned + num_halo, F]``), differentiably.

    Every rank of the plan's group must call this in the same order (it is a
    collective). ``layer`` names the call in :attr:`ExchangePlan.stats`.
    """
    return HaloExchange.apply(h_owned, plan, layer)
