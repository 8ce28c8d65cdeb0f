r"""The owned rows of :math:`\hat A H` with the halo exchange hidden behind the local SpMM.

:math:`\hat A` restricted to a rank's rows splits by column block into
:math:`\hat A_{\text{inner}}` (owned columns) and :math:`\hat A_{\text{halo}}`:

.. math::
    (\hat A H)_{V_p} = \hat A_{\text{inner}} H_{V_p} + \hat A_{\text{halo}} H_{\text{halo}}.

Forward posts the exchange of the halo rows, multiplies the inner block while
they travel, then adds the halo block. Backward mirrors it: the halo
gradients :math:`\hat A_{\text{halo}}^T G` are sent back first, the inner
gradient :math:`\hat A_{\text{inner}}^T G` is computed while they travel, and
the returned rows are summed into their owners.

``overlap=False`` runs the same computation through :func:`halo_exchange` and
ordinary autograd (the plain twin the tests compare against).
"""
from __future__ import annotations

import torch
from torch import Tensor

from scalegnn.distributed.halo_exchange import ExchangePlan, halo_exchange, record, scatter_add_back

__all__ = ["HaloSpMM", "halo_spmm"]


class HaloSpMM(torch.autograd.Function):
    """Overlapped distributed SpMM; see the module docstring."""

    @staticmethod
    def forward(ctx, h_owned: Tensor, plan: ExchangePlan, layer: str, inner: Tensor, halo: Tensor,  # type: ignore[override]
                inner_t: Tensor, halo_t: Tensor) -> Tensor:
        pending = plan.start(h_owned.index_select(0, plan.send_index), plan.num_halo, forward=True)
        out = torch.sparse.mm(inner, h_owned)
        h_halo = pending.wait()
        record(plan, pending, layer, "forward")
        if plan.num_halo:
            out = out + torch.sparse.mm(halo, h_halo)
        ctx.plan, ctx.layer = plan, layer
        ctx.inner_t, ctx.halo_t = inner_t, halo_t
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        plan: ExchangePlan = ctx.plan
        grad_out = grad_out.contiguous()
        grad_halo = (torch.sparse.mm(ctx.halo_t, grad_out) if plan.num_halo
                     else grad_out.new_zeros((0, grad_out.shape[1])))
        pending = plan.start(grad_halo, plan.num_send, forward=False)
        grad_owned = torch.sparse.mm(ctx.inner_t, grad_out)
        returned = pending.wait()
        record(plan, pending, ctx.layer, "backward")
        return scatter_add_back(grad_owned, plan, returned), None, None, None, None, None, None


def halo_spmm(h_owned: Tensor, plan: ExchangePlan, matrices, layer: str = "spmm", overlap: bool = True) -> Tensor:
    """``(A H)`` on the owned rows, for ``matrices = (inner, halo, inner_t, halo_t)`` CSR blocks.

    A collective: every rank calls it in the same order.
    """
    inner, halo, inner_t, halo_t = matrices
    if overlap:
        return HaloSpMM.apply(h_owned, plan, layer, inner, halo, inner_t, halo_t)
    h_local = halo_exchange(h_owned, plan, layer)
    out = torch.sparse.mm(inner, h_local[:plan.num_owned])
    if plan.num_halo:
        out = out + torch.sparse.mm(halo, h_local[plan.num_owned:])
    return out
