r"""DEQ-GNN: a weight-tied grouped block iterated to its fixed point, trained by implicit differentiation.

The deep-equilibrium variant studied in Li, Müller, Ghanem and Koltun,
"Training Graph Neural Networks with 1000 Layers" (ICML 2021,
https://arxiv.org/abs/2106.07476), after Bai, Kolter and Koltun, "Deep
Equilibrium Models" (NeurIPS 2019).

The equilibrium map uses the grouped structure of the reversible block with
the input injection :math:`U = X W_{\text{in}}` in place of the identity path
(a residual identity path would make :math:`f` expansive):

.. math::

    f(Z)_1 = U_1 + F_1\Big(\sum_{i=2}^{G} Z_i\Big), \qquad
    f(Z)_i = U_i + F_i\big(f(Z)_{i-1}\big), \quad i = 2, \ldots, G.

Forward: :math:`Z^\star = f(Z^\star)` by Anderson acceleration or plain
fixed-point iteration, without recording autograd. Backward (implicit function
theorem): solve the adjoint fixed point :math:`g = J_f(Z^\star)^\top g +
\partial L/\partial Z^\star` with the same solver, using vector-Jacobian
products of one recorded evaluation of :math:`f` at :math:`Z^\star`, then
:math:`\partial L/\partial \theta = g^\top \partial f/\partial\theta`. Memory is
that of one evaluation of :math:`f` (plus the solver's ``anderson_m`` history),
whatever the number of iterations.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from scalegnn.data.validate import check_bool, check_float, check_int, check_option, check_tensor
from scalegnn.nn.rev_gnn import RevGNNGroup, check_stack_arguments, make_conv, make_norm, prepare_inputs
from scalegnn.nn.reversible import GroupedReversibleBlock
from scalegnn.nn.shared_dropout import SharedDropout

__all__ = [
    "DEQGNN",
    "DEQConvergenceError",
    "DEQConvergenceWarning",
    "SolverResult",
    "anderson",
    "fixed_point_iteration",
]

SOLVERS = ("anderson", "fixed_point")
NONCONVERGENCE = ("warn", "raise", "ignore")


def _check_solver_arguments(f: Any, z0: Any, max_iter: Any, tol: Any) -> tuple:
    if not callable(f):
        raise TypeError(f"f must be a callable z -> f(z), got {type(f).__name__}")
    check_tensor(z0, "z0", floating=True)
    return check_int(max_iter, "max_iter", min_value=1), check_float(tol, "tol", min_value=0.0)


class DEQConvergenceWarning(UserWarning):
    """A DEQ solve stopped at ``max_iter`` above its tolerance."""


class DEQConvergenceError(RuntimeError):
    """A DEQ solve stopped at ``max_iter`` above its tolerance (``on_nonconvergence='raise'``)."""


@dataclass
class SolverResult:
    """The fixed point found, iterations (evaluations of ``f``) used, final relative residual."""

    z: Tensor
    iterations: int
    residual: float
    converged: bool


def _relative_residual(fz: Tensor, z: Tensor) -> float:
    fz, z = fz.detach(), z.detach()
    return float((fz - z).norm() / (fz.norm() + 1e-12))


def fixed_point_iteration(f: Callable[[Tensor], Tensor], z0: Tensor, max_iter: int, tol: float) -> SolverResult:
    """Iterate ``z <- f(z)`` until ``||f(z) - z|| / ||f(z)|| <= tol`` or ``max_iter`` evaluations."""
    max_iter, tol = _check_solver_arguments(f, z0, max_iter, tol)
    z, res = z0, float("inf")
    for k in range(1, max_iter + 1):
        fz = f(z)
        res = _relative_residual(fz, z)
        z = fz
        if res <= tol:
            return SolverResult(z, k, res, True)
    return SolverResult(z, max_iter, res, False)


def anderson(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    max_iter: int,
    tol: float,
    m: int = 5,
    lam: float = 1e-4,
    beta: float = 1.0,
) -> SolverResult:
    r"""Anderson acceleration of ``z <- f(z)`` (type II, memory ``m``, damping ``beta``).

    Each step mixes the last ``m`` images with weights :math:`\alpha` minimizing
    :math:`\|\sum_i \alpha_i (f(z_i) - z_i)\|^2 + \lambda\|\alpha\|^2` subject
    to :math:`\sum_i \alpha_i = 1`. Differentiable (autograd can unroll it).
    """
    max_iter, tol = _check_solver_arguments(f, z0, max_iter, tol)
    m = check_int(m, "m", min_value=1)
    lam = check_float(lam, "lam", min_value=0.0)
    beta = check_float(beta, "beta", min_value=0.0, max_value=1.0, min_open=True)
    xs: List[Tensor] = [z0]
    fs: List[Tensor] = [f(z0)]
    res = _relative_residual(fs[0], z0)
    if res <= tol or max_iter <= 1:
        return SolverResult(fs[0], 1, res, res <= tol)
    best = (res, fs[0])
    for k in range(2, max_iter + 1):
        n = len(xs)
        g = torch.stack([(fi - xi).reshape(-1) for xi, fi in zip(xs, fs)])  # [n, D]
        h = g @ g.t()
        # Regularize relative to the residuals' scale, so late (tiny) residuals still steer the mixing.
        h = h + lam * h.diagonal().max().clamp_min(1e-300) * torch.eye(n, dtype=g.dtype, device=g.device)
        # Bordered system for the constraint sum(alpha) = 1.
        a = torch.zeros(n + 1, n + 1, dtype=g.dtype, device=g.device)
        a[0, 1:] = 1
        a[1:, 0] = 1
        a[1:, 1:] = h
        rhs = torch.zeros(n + 1, dtype=g.dtype, device=g.device)
        rhs[0] = 1
        alpha = torch.linalg.solve(a, rhs)[1:]
        x_new = sum(alpha[i] * fs[i] for i in range(n))
        if beta != 1.0:
            x_new = beta * x_new + (1 - beta) * sum(alpha[i] * xs[i] for i in range(n))
        f_new = f(x_new)
        res = _relative_residual(f_new, x_new)
        xs.append(x_new)
        fs.append(f_new)
        if len(xs) > m:
            xs.pop(0)
            fs.pop(0)
        if res < best[0]:
            best = (res, f_new)
        if res <= tol:
            return SolverResult(f_new, k, res, True)
    return SolverResult(best[1], max_iter, best[0], False)


class _Equilibrium:
    """Python-side description of one implicit solve: the map, its solver settings and recorded state."""

    def __init__(self, model: "DEQGNN", args: List[Any]) -> None:
        self.model = model
        self.args = args
        self.grad_pos = [j for j, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.params = [p for p in model.block.parameters() if p.requires_grad]
        self.mask = model.shared_dropout.mask

    def solve(self, fn: Callable[[Tensor], Tensor], z0: Tensor, backward: bool) -> SolverResult:
        return self.model._solve(fn, z0, backward)


class ImplicitFixedPoint(torch.autograd.Function):
    """``Z* = f(Z*; U)`` solved without autograd; backward by the implicit function theorem.

    ``apply(eq, u, *grad_args, *params)`` with ``eq`` an :class:`_Equilibrium`.
    """

    @staticmethod
    def forward(ctx, eq: _Equilibrium, u: Tensor, *tensors: Tensor) -> Tensor:
        grad_args = tensors[: len(eq.grad_pos)]
        args = list(eq.args)
        for j, t in zip(eq.grad_pos, grad_args):
            args[j] = t.detach()
        u = u.detach()
        result = eq.solve(lambda z: eq.model.equilibrium_map(z, u, args), torch.zeros_like(u), backward=False)
        ctx.eq = eq
        ctx.save_for_backward(result.z, u, *grad_args)
        return result.z

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_z: Tensor):
        eq: _Equilibrium = ctx.eq
        z_star, u, *grad_args = ctx.saved_tensors
        args = list(eq.args)
        leaves = []
        for j, t in zip(eq.grad_pos, grad_args):
            args[j] = t.detach().requires_grad_()
            leaves.append(args[j])
        current = eq.model.shared_dropout.mask
        eq.model.shared_dropout.mask = eq.mask
        try:
            with torch.enable_grad():
                z = z_star.detach().requires_grad_()
                u_leaf = u.detach().requires_grad_()
                fz = eq.model.equilibrium_map(z, u_leaf, args)

            def adjoint(g: Tensor) -> Tensor:
                return torch.autograd.grad(fz, z, g, retain_graph=True)[0] + grad_z

            g = eq.solve(adjoint, grad_z, backward=True).z
            grads = torch.autograd.grad(fz, [u_leaf, *leaves, *eq.params], g, allow_unused=True)
        finally:
            eq.model.shared_dropout.mask = current
        return (None, *grads)


class DEQGNN(torch.nn.Module):
    r"""A deep-equilibrium GNN: one weight-tied grouped block iterated to a fixed point.

    .. math::

        U = X W_{\text{in}}, \qquad Z^\star = f_\theta(Z^\star; U, A), \qquad
        \hat Y = \operatorname{ReLU}(\operatorname{Norm}(Z^\star)) W_{\text{out}}

    with :math:`f_\theta` the grouped map described in :mod:`scalegnn.nn.deq_gnn`
    (group functions norm → ReLU → shared dropout → conv, as in
    :class:`~scalegnn.nn.rev_gnn.RevGNN`). The forward solve runs without
    autograd and the backward pass solves the adjoint fixed point, so memory
    does not depend on the number of iterations.

    Args:
        in_channels, hidden_channels, out_channels (int): sizes; ``hidden_channels``
            divisible by ``num_groups``.
        num_groups (int): groups :math:`G \ge 2`. (default: ``2``)
        conv (str or callable): ``'gcn'``, ``'sage'``, ``'gat'``, ``'gen'`` or a
            callable, as in :class:`~scalegnn.nn.rev_gnn.RevGNN`. (default: ``'gcn'``)
        dropout (float): dropout (one mask per forward pass, shared by all
            iterations so that a fixed point exists). (default: ``0.0``)
        norm (str or None): ``'layer'`` or ``None`` (BatchNorm would update its
            running statistics at every iteration). (default: ``'layer'``)
        edge_dim (int, optional): edge feature size (encoded to ``hidden_channels``).
        conv_kwargs (dict, optional): extra arguments of the inner layer.
        solver (str): ``'anderson'`` or ``'fixed_point'``. (default: ``'anderson'``)
        max_iter (int): most evaluations of :math:`f` in the forward solve. (default: ``50``)
        tol (float): relative residual :math:`\|f(Z)-Z\|/\|f(Z)\|` to stop at. (default: ``1e-4``)
        backward_max_iter, backward_tol: the same for the adjoint solve (default: the forward values).
        on_nonconvergence (str): ``'warn'`` (:class:`DEQConvergenceWarning`),
            ``'raise'`` (:class:`DEQConvergenceError`) or ``'ignore'``. (default: ``'warn'``)
        memory_saving (bool): implicit differentiation (``True``) or backpropagation
            through the unrolled solver iterations (``False``, memory grows with
            iterations; the reference the implicit gradients are tested against).
        anderson_m (int): Anderson history size. (default: ``5``)

    After each forward (and backward) pass, :attr:`last_solve` holds the
    iterations and residuals of the solves.

    Shapes:
        - **input:** ``x`` ``[N, in_channels]``, ``edge_index`` ``[2, E]`` or a
          sparse adjacency, ``edge_attr`` ``[E, edge_dim]`` (optional).
        - **output:** ``[N, out_channels]``.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_groups: int = 2,
        conv: Union[str, Callable[..., torch.nn.Module]] = "gcn",
        dropout: float = 0.0,
        norm: Optional[str] = "layer",
        edge_dim: Optional[int] = None,
        conv_kwargs: Optional[Dict[str, Any]] = None,
        solver: str = "anderson",
        max_iter: int = 50,
        tol: float = 1e-4,
        backward_max_iter: Optional[int] = None,
        backward_tol: Optional[float] = None,
        on_nonconvergence: str = "warn",
        memory_saving: bool = True,
        anderson_m: int = 5,
    ) -> None:
        super().__init__()
        if norm == "batch":
            raise ValueError(
                "norm='batch' is not supported by DEQGNN: BatchNorm would update its running statistics at "
                "every solver iteration; use norm='layer' or None"
            )
        a = check_stack_arguments(in_channels, hidden_channels, out_channels, num_groups, conv, dropout, norm,
                                  edge_dim, conv_kwargs, norms=("layer", None))
        in_channels, hidden_channels, out_channels = a["in_channels"], a["hidden_channels"], a["out_channels"]
        num_groups, conv, dropout, norm = a["num_groups"], a["conv"], a["dropout"], a["norm"]
        edge_dim, conv_kwargs = a["edge_dim"], a["conv_kwargs"]
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_groups = num_groups
        self.conv, self.norm, self.dropout = conv, norm, dropout
        self.edge_dim = edge_dim
        self.solver = check_option(solver, "solver", SOLVERS)
        self.max_iter = check_int(max_iter, "max_iter", min_value=1)
        self.tol = check_float(tol, "tol", min_value=0.0)
        self.backward_max_iter = (self.max_iter if backward_max_iter is None
                                  else check_int(backward_max_iter, "backward_max_iter", min_value=1))
        self.backward_tol = self.tol if backward_tol is None else check_float(backward_tol, "backward_tol",
                                                                             min_value=0.0)
        self.on_nonconvergence = check_option(on_nonconvergence, "on_nonconvergence", NONCONVERGENCE)
        self.memory_saving = check_bool(memory_saving, "memory_saving")
        self.anderson_m = check_int(anderson_m, "anderson_m", min_value=1)
        self.last_solve: Dict[str, Any] = {}

        c = hidden_channels // num_groups
        self.node_encoder = torch.nn.Linear(in_channels, hidden_channels)
        self.edge_encoder = torch.nn.Linear(edge_dim, hidden_channels) if edge_dim is not None else None
        self.shared_dropout = SharedDropout(dropout)
        fns = [
            RevGNNGroup(make_norm(norm, c), self.shared_dropout,
                        make_conv(conv, c, norm, edge_dim is not None, conv_kwargs))
            for _ in range(num_groups)
        ]
        self.block = GroupedReversibleBlock(fns)  # its checks reject private dropout and shape changes
        self.out_norm = make_norm(norm, hidden_channels)
        self.lin = torch.nn.Linear(hidden_channels, out_channels)

    def reset_parameters(self) -> None:
        self.node_encoder.reset_parameters()
        if self.edge_encoder is not None:
            self.edge_encoder.reset_parameters()
        self.block.reset_parameters()
        if hasattr(self.out_norm, "reset_parameters"):
            self.out_norm.reset_parameters()
        self.lin.reset_parameters()

    def equilibrium_map(self, z: Tensor, u: Tensor, args: List[Any]) -> Tensor:
        """:math:`f(Z; U)`: ``f_1 = U_1 + F_1(sum_{i>=2} Z_i)``, ``f_i = U_i + F_i(f_{i-1})``."""
        zs, us = self.block.split(z), self.block.split(u)
        gargs = self.block.group_args(args, z.size(-1))
        h = zs[1]
        for t in zs[2:]:
            h = h + t
        out = []
        for i in range(self.num_groups):
            h = us[i] + self.block.call_group(i, h, gargs[i])
            out.append(h)
        return torch.cat(out, dim=-1)

    def _solve(self, fn: Callable[[Tensor], Tensor], z0: Tensor, backward: bool) -> SolverResult:
        max_iter = self.backward_max_iter if backward else self.max_iter
        tol = self.backward_tol if backward else self.tol
        if self.solver == "anderson":
            result = anderson(fn, z0, max_iter, tol, m=self.anderson_m)
        else:
            result = fixed_point_iteration(fn, z0, max_iter, tol)
        which = "backward" if backward else "forward"
        self.last_solve[f"{which}_iterations"] = result.iterations
        self.last_solve[f"{which}_residual"] = result.residual
        if not result.converged and self.on_nonconvergence != "ignore":
            msg = (f"DEQGNN {which} solve ({self.solver}) did not converge: relative residual "
                   f"{result.residual:.3g} > tol {tol:g} after {result.iterations} iterations; raise "
                   f"{'backward_' if backward else ''}max_iter, loosen the tolerance, or use solver='anderson'")
            if self.on_nonconvergence == "raise":
                raise DEQConvergenceError(msg)
            warnings.warn(msg, DEQConvergenceWarning, stacklevel=3)
        return result

    def forward(self, x: Tensor, edge_index: Any, edge_attr: Optional[Tensor] = None) -> Tensor:
        args: List[Any] = prepare_inputs(self, x, edge_index, edge_attr)
        n = x.size(0)
        u = self.node_encoder(x)
        self.shared_dropout.resample((n, self.hidden_channels // self.num_groups), x.device, x.dtype)
        self.last_solve = {}
        try:
            needs_grad = torch.is_grad_enabled() and (
                u.requires_grad or any(p.requires_grad for p in self.block.parameters())
            )
            if not needs_grad:
                z = self._solve(lambda z: self.equilibrium_map(z, u, args), torch.zeros_like(u), False).z
            elif self.memory_saving:
                eq = _Equilibrium(self, args)
                grad_args = [args[j] for j in eq.grad_pos]
                z = ImplicitFixedPoint.apply(eq, u, *grad_args, *eq.params)
            else:  # plain twin: backpropagate through the unrolled solver
                z = self._solve(lambda z: self.equilibrium_map(z, u, args), torch.zeros_like(u), False).z
        finally:
            self.shared_dropout.clear()
        h = F.relu(self.out_norm(z))
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.lin(h)

    def __repr__(self) -> str:
        conv = self.conv if isinstance(self.conv, str) else getattr(self.conv, "__name__", "callable")
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"num_groups={self.num_groups}, conv={conv}, solver={self.solver}, max_iter={self.max_iter}, "
                f"tol={self.tol}, memory_saving={self.memory_saving})")
