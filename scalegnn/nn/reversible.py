r"""Grouped reversible residual blocks whose backward pass recomputes inputs from outputs.

Li, Müller, Ghanem and Koltun, "Training Graph Neural Networks with 1000
Layers" (ICML 2021, https://arxiv.org/abs/2106.07476). The channels of the
node features :math:`X` are split into :math:`G` groups
:math:`X_1, \ldots, X_G`, and a block computes

.. math::

    X'_0 = \sum_{i=2}^{G} X_i, \qquad
    Y_i = X_i + F_i(Y_{i-1}, A), \quad i = 1, \ldots, G \quad (Y_0 := X'_0).

Every :math:`X_i` can be recovered from the outputs: :math:`X_i = Y_i -
F_i(Y_{i-1}, A)` for :math:`i = G, \ldots, 2`, then :math:`X'_0 = \sum_{i\ge2}
X_i` and :math:`X_1 = Y_1 - F_1(X'_0, A)`. :class:`ReversibleFunction` runs a
whole stack of blocks without recording any autograd graph and keeps only the
final output; its backward walks the stack from the top and, for each group,
evaluates :math:`F_i` once with autograd enabled: that one evaluation yields
both the reconstructed input :math:`X_i` and the local graph through which the
gradient is propagated. Activation memory is therefore independent of depth,
and the time cost is one extra forward evaluation of each :math:`F_i`
(PyG's ``GroupAddRev`` evaluates it twice more: once to invert, once to
rebuild the graph).

The plain-autograd twin (``memory_saving=False``) runs exactly the same
:meth:`GroupedReversibleBlock.coupling` under ordinary autograd; tests compare
the two.

Recomputation must reproduce the forward pass exactly, so:

* dropout inside a block must be :class:`~scalegnn.nn.shared_dropout.SharedDropout`
  (its mask, recorded at forward time, is reinstated during backward);
  layers with a private dropout (``torch.nn.Dropout(p>0)``, ``GATConv(dropout>0)``)
  are rejected;
* buffers (BatchNorm running statistics) are snapshotted before and restored
  after each recomputation, so they are updated exactly once per forward;
* the train/eval mode of a block may not change between forward and backward;
* the autocast (mixed precision) state of the forward pass is restored for the recomputation;
* inner functions may not modify their input in place.

Resident memory on CPU. The backward pass allocates every gradient it keeps
until the end (the parameters' gradients, those of extra arguments such as
encoded edge features) once, before walking the stack: the parameters'
gradients are views of one flat zero buffer per dtype and device
(:func:`_gradient_accumulators`), into which each block adds its
contribution. Allocated inside the walk, these small long-lived tensors would
land in the holes that each block's freed temporaries leave in the glibc
heap and pin them, so that the next block's temporaries need fresh memory:
the process's peak RSS then grew with depth even though the live tensors
did not (``benchmarks/revgnn_depth.py``, 20,000 nodes, 64 channels: 536, 984
and 1,320 MB at depths 4, 64 and 128). With the accumulators allocated up
front it stays flat (531, 550 and 535 MB), with no allocator setting.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from scalegnn.data.validate import check_bool, check_int, check_tensor
from scalegnn.nn.shared_dropout import SharedDropout

__all__ = [
    "GroupedReversibleBlock",
    "ReversibleFunction",
    "ReversibleSequential",
    "SavedTensorCounter",
    "reversible_sequential",
]


def _splittable(a: Any, channels: int) -> bool:
    """Whether an extra argument is split by group: a dense floating tensor whose last dim is ``channels``."""
    return (
        isinstance(a, Tensor)
        and a.layout == torch.strided
        and a.is_floating_point()
        and a.dim() >= 2
        and a.size(-1) == channels
    )


def _private_randomness(module: torch.nn.Module) -> List[str]:
    """Names of submodules that draw their own dropout masks (so a recomputation would differ)."""
    found = []
    for name, m in module.named_modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0:
            found.append(f"{name or type(m).__name__} ({type(m).__name__}(p={m.p}))")
        elif not isinstance(m, (SharedDropout, torch.nn.modules.dropout._DropoutNd)):
            p = getattr(m, "dropout", None)
            if isinstance(p, float) and p > 0:
                found.append(f"{name or type(m).__name__} ({type(m).__name__}(dropout={p}))")
    return found


class GroupedReversibleBlock(torch.nn.Module):
    r"""A grouped reversible residual block (Li et al., ICML 2021).

    .. math::

        X'_0 = \sum_{i=2}^{G} X_i, \qquad Y_i = X_i + F_i(Y_{i-1}, \ldots)
        \quad (Y_0 := X'_0)

    Each :math:`F_i` maps ``[N, C/G]`` to ``[N, C/G]``. Extra arguments given
    to :meth:`forward` (``edge_index``, an adjacency, edge features) are passed
    on to every :math:`F_i`; a dense floating tensor whose last dimension is
    ``C`` (e.g. encoded edge features) is split into the same ``G`` groups and
    :math:`F_i` receives the ``i``-th chunk.

    Called on its own, the block saves only its output for backward (its inner
    activations are recomputed). To chain blocks with depth-independent memory
    use :class:`ReversibleSequential` or :func:`reversible_sequential`, which
    keep only the output of the whole stack.

    Args:
        fns (torch.nn.Module or sequence of Modules): the group functions
            :math:`F_1, \ldots, F_G`, or one module that is deep-copied
            ``num_groups`` times (each copy re-initialized with
            ``reset_parameters()`` when it has one).
        num_groups (int, optional): :math:`G` when ``fns`` is a single module.
        memory_saving (bool): use :class:`ReversibleFunction` (``True``) or plain
            autograd on the same computation (``False``). (default: ``True``)

    Shapes:
        - **input:** ``x`` ``[N, C]`` with ``C`` divisible by ``G``.
        - **output:** ``[N, C]``.
    """

    def __init__(self, fns, num_groups: Optional[int] = None, memory_saving: bool = True) -> None:
        super().__init__()
        if num_groups is not None:
            num_groups = check_int(num_groups, "num_groups")
            if num_groups < 2:
                raise ValueError(f"a grouped reversible block needs num_groups >= 2, got {num_groups}: with one "
                                 "group the input cannot be reconstructed from the output")
        memory_saving = check_bool(memory_saving, "memory_saving")
        if isinstance(fns, torch.nn.Module) and not isinstance(fns, torch.nn.ModuleList):
            if num_groups is None:
                raise ValueError("pass num_groups when giving a single group function to copy")
            copies = [fns]
            for _ in range(num_groups - 1):
                c = copy.deepcopy(fns)
                if hasattr(c, "reset_parameters"):
                    c.reset_parameters()
                copies.append(c)
            fns = copies
        if isinstance(fns, (str, bytes, Tensor)) or not hasattr(fns, "__iter__"):
            raise TypeError(f"fns must be a torch.nn.Module or a sequence of Modules (the group functions), "
                            f"got {type(fns).__name__}")
        fns = list(fns)
        for i, fn in enumerate(fns):
            if not isinstance(fn, torch.nn.Module):
                raise TypeError(f"fns[{i}] must be a torch.nn.Module (a group function), got {type(fn).__name__}")
        if num_groups is not None and len(fns) != num_groups:
            raise ValueError(f"got {len(fns)} group functions but num_groups={num_groups}")
        if len(fns) < 2:
            raise ValueError(
                f"a grouped reversible block needs num_groups >= 2, got {len(fns)}: with one group "
                "the input cannot be reconstructed from the output"
            )
        self.fns = torch.nn.ModuleList(fns)
        self.memory_saving = memory_saving
        if memory_saving:
            self.check_invertible()

    @property
    def num_groups(self) -> int:
        return len(self.fns)

    def check_invertible(self) -> None:
        """Raise ``ValueError`` if an inner layer draws its own random dropout masks."""
        bad = _private_randomness(self.fns)
        if bad:
            raise ValueError(
                "a reversible block recomputes its inner layers in backward, so they must be deterministic; "
                f"these draw their own dropout masks: {', '.join(bad)}. Set their dropout to 0 and use "
                "SharedDropout (RevGNN(dropout=...)) instead, or memory_saving=False"
            )

    def reset_parameters(self) -> None:
        for fn in self.fns:
            if hasattr(fn, "reset_parameters"):
                fn.reset_parameters()

    # -- the math, shared by the memory-saving path and its plain twin ------------------------
    def split(self, x: Tensor) -> List[Tensor]:
        """Split ``[N, C]`` into ``G`` views of ``[N, C/G]``."""
        channels = x.size(-1)
        if channels % self.num_groups != 0:
            raise ValueError(
                f"{channels} channels cannot be split into {self.num_groups} equal groups; "
                "choose hidden channels divisible by num_groups"
            )
        return list(x.split(channels // self.num_groups, dim=-1))

    def group_args(self, args: Sequence[Any], channels: int) -> List[List[Any]]:
        """The extra arguments each group function receives (chunks of splittable tensors)."""
        g = self.num_groups
        c = channels // g
        out: List[List[Any]] = [[] for _ in range(g)]
        for a in args:
            if _splittable(a, channels):
                for i in range(g):
                    out[i].append(a.narrow(-1, i * c, c))
            else:
                for i in range(g):
                    out[i].append(a)
        return out

    def call_group(self, i: int, z: Tensor, args: Sequence[Any]) -> Tensor:
        version = z._version
        f = self.fns[i](z, *args)
        if not isinstance(f, Tensor) or f.shape != z.shape:
            shape = list(f.shape) if isinstance(f, Tensor) else type(f).__name__
            raise ValueError(
                f"group function {i} maps {list(z.shape)} to {shape}; a reversible block needs each group "
                "function to keep the shape [N, channels/num_groups]"
            )
        if z._version != version:
            raise ValueError(f"group function {i} modified its input in place; the inverse needs it intact")
        return f

    def coupling(self, xs: List[Tensor], gargs: List[List[Any]]) -> List[Tensor]:
        """Forward map on the list of groups: ``Y_i = X_i + F_i(Y_{i-1})`` with ``Y_0 = sum(X_2..X_G)``."""
        z = xs[1]
        for t in xs[2:]:
            z = z + t
        ys = []
        for i in range(self.num_groups):
            z = xs[i] + self.call_group(i, z, gargs[i])
            ys.append(z)
        return ys

    def inverse(self, y: Tensor, *args: Any) -> Tensor:
        """Reconstruct the input ``x`` from the output ``y`` (no autograd tape is needed)."""
        ys = self.split(y)
        gargs = self.group_args(args, y.size(-1))
        xs: List[Optional[Tensor]] = [None] * self.num_groups
        for i in reversed(range(self.num_groups)):
            z = ys[i - 1] if i > 0 else sum(xs[1:])
            xs[i] = ys[i] - self.call_group(i, z, gargs[i])
        return torch.cat(xs, dim=-1)

    def forward(self, x: Tensor, *args: Any) -> Tensor:
        return reversible_sequential([self], x, *args, memory_saving=self.memory_saving)

    def _check_input(self, x: Any, name: str = "x") -> None:
        check_tensor(x, name, floating=True)
        if x.dim() < 1 or x.size(-1) % self.num_groups != 0:
            raise ValueError(
                f"{name} has {x.size(-1) if x.dim() else 0} channels (last dimension, shape {list(x.shape)}), "
                f"which cannot be split into {self.num_groups} equal groups; choose channels divisible by "
                f"num_groups"
            )

    # -- state that recomputation must reproduce (looked up each time: .to() replaces buffers) ----
    def shared_dropouts(self) -> List[SharedDropout]:
        return [m for m in self.modules() if isinstance(m, SharedDropout)]

    def state_buffers(self) -> List[Tensor]:
        return [b for b in self.buffers() if b is not None]

    def extra_repr(self) -> str:
        return f"num_groups={self.num_groups}, memory_saving={self.memory_saving}"


class _Plan:
    """Python-side description of one memory-saving call (blocks, args, parameters, recorded state)."""

    def __init__(self, blocks: Sequence[GroupedReversibleBlock], args: Sequence[Any]) -> None:
        self.blocks = list(blocks)
        self.args = list(args)
        self.grad_pos = [j for j, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.params: List[Tensor] = []
        index: Dict[int, int] = {}
        self.group_params: Dict[int, List[List[Tuple[int, Tensor]]]] = {}
        for b in self.blocks:
            if id(b) in self.group_params:
                continue
            per_group = []
            for fn in b.fns:
                ps = []
                for p in fn.parameters():
                    if not p.requires_grad:
                        continue
                    if id(p) not in index:
                        index[id(p)] = len(self.params)
                        self.params.append(p)
                    ps.append((index[id(p)], p))
                per_group.append(ps)
            self.group_params[id(b)] = per_group
        unique = {id(b): b for b in self.blocks}.values()
        dropouts = {id(m): m for b in unique for m in b.shared_dropouts()}.values()
        self.masks = [(m, m.mask) for m in dropouts]  # reinstated during backward
        self.training = [b.training for b in self.blocks]
        self.autocast: List[Tuple[str, bool, torch.dtype]] = [
            (d, torch.is_autocast_enabled(d), torch.get_autocast_dtype(d)) for d in ("cpu", "cuda")
        ]  # mixed precision is recomputed as it ran


def _gradient_accumulators(tensors: Sequence[Tensor]) -> List[Tensor]:
    """Zero gradient accumulators shaped like ``tensors``: views of one flat buffer per (dtype, device).

    One allocation, made before the backward walk, instead of one small
    tensor per parameter made during it (see the module docstring: small
    long-lived allocations among the per-block temporaries fragment the heap).
    """
    sizes: Dict[Tuple[torch.dtype, torch.device], int] = {}
    for t in tensors:
        key = (t.dtype, t.device)
        sizes[key] = sizes.get(key, 0) + t.numel()
    flats = {key: torch.zeros(n, dtype=key[0], device=key[1]) for key, n in sizes.items()}
    offsets = dict.fromkeys(sizes, 0)
    out = []
    for t in tensors:
        key = (t.dtype, t.device)
        out.append(flats[key].narrow(0, offsets[key], t.numel()).view(t.shape))
        offsets[key] += t.numel()
    return out


def _regroup(xs: List[Tensor], block: GroupedReversibleBlock) -> List[Tensor]:
    if len(xs) == block.num_groups:
        return xs
    return block.split(torch.cat(xs, dim=-1))


class ReversibleFunction(torch.autograd.Function):
    """Run a stack of :class:`GroupedReversibleBlock` keeping only the final output.

    ``apply(plan, x, *grad_args, *params)``: ``grad_args`` are the extra
    arguments that require grad (in ``plan.grad_pos`` order) and ``params``
    the unique trainable parameters of the blocks (``plan.params``); both are
    inputs so that their gradients are returned, not accumulated behind
    autograd's back.
    """

    @staticmethod
    def forward(ctx, plan: _Plan, x: Tensor, *tensors: Tensor) -> Tensor:
        grad_args = tensors[: len(plan.grad_pos)]
        args = list(plan.args)
        for j, t in zip(plan.grad_pos, grad_args):
            args[j] = t.detach()
        channels = x.size(-1)
        xs = plan.blocks[0].split(x.detach())
        for block in plan.blocks:
            xs = _regroup(xs, block)
            xs = block.coupling(xs, block.group_args(args, channels))
        y = torch.cat(xs, dim=-1)
        ctx.plan = plan
        ctx.save_for_backward(y, *grad_args)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor):
        plan: _Plan = ctx.plan
        y, *grad_args = ctx.saved_tensors
        args = list(plan.args)
        for j, t in zip(plan.grad_pos, grad_args):
            args[j] = t
        slot = {j: k for k, j in enumerate(plan.grad_pos)}
        channels = y.size(-1)
        # Every gradient kept to the end is allocated now, before the walk (see the module docstring);
        # ``touched`` records which received a contribution (the others are returned as None, as autograd would).
        arg_grads = [torch.zeros_like(t, memory_format=torch.contiguous_format) for t in grad_args]
        param_grads = _gradient_accumulators(plan.params)
        touched = [False] * (len(arg_grads) + len(param_grads))

        current = [(m, m.mask) for m, _ in plan.masks]
        for m, mask in plan.masks:
            m.mask = mask
        amp = contextlib.ExitStack()
        for device, enabled, dtype in plan.autocast:
            amp.enter_context(torch.autocast(device, dtype=dtype, enabled=enabled))
        try:
            ys = plan.blocks[-1].split(y)
            gys = plan.blocks[-1].split(grad_y)
            for pos in reversed(range(len(plan.blocks))):
                block = plan.blocks[pos]
                if block.training != plan.training[pos]:
                    raise RuntimeError(
                        "a reversible block changed train/eval mode between forward and backward; "
                        "its recomputation would differ from the forward pass"
                    )
                ys, gys = _regroup(ys, block), _regroup(gys, block)
                buffers = block.state_buffers() if block.training else []
                saved = [b.clone() for b in buffers]
                try:
                    ys, gys = ReversibleFunction._block_backward(
                        block, ys, gys, args, channels, slot, plan, arg_grads, param_grads, touched
                    )
                finally:
                    for b, s in zip(buffers, saved):
                        b.copy_(s)
        finally:
            amp.close()
            for m, mask in current:
                m.mask = mask
        grad_x = torch.cat(gys, dim=-1)
        grads = [g if used else None for g, used in zip(arg_grads + param_grads, touched)]
        return (None, grad_x, *grads)

    @staticmethod
    def _block_backward(block, ys, gys, args, channels, slot, plan, arg_grads, param_grads, touched):
        """Reconstruct one block's input groups and propagate the gradient through it."""
        g = block.num_groups
        c = channels // g
        gys = list(gys)
        xs: List[Optional[Tensor]] = [None] * g
        gxs: List[Optional[Tensor]] = [None] * g
        group_params = plan.group_params[id(block)]
        for i in reversed(range(g)):
            # The arguments of F_i, with fresh leaves for those that need a gradient.
            gi, leaves = [], []
            for j, a in enumerate(args):
                split = _splittable(a, channels)
                a_i = a.narrow(-1, i * c, c) if split else a
                if j in slot:
                    a_i = a_i.detach().requires_grad_()
                    leaves.append((slot[j], split, a_i))
                gi.append(a_i)
            z_in = ys[i - 1] if i > 0 else sum(xs[1:])
            z = z_in.detach().requires_grad_()
            with torch.enable_grad():
                f = block.call_group(i, z, gi)
            xs[i] = ys[i] - f.detach()
            params = group_params[i]
            inputs = [z] + [leaf for _, _, leaf in leaves] + [p for _, p in params]
            grads = torch.autograd.grad(f, inputs, gys[i], allow_unused=True)
            del f
            gxs[i] = gys[i]
            gz = grads[0]
            if gz is not None:
                if i > 0:
                    gys[i - 1] = gys[i - 1] + gz
                else:
                    for j in range(1, g):
                        gxs[j] = gxs[j] + gz
            for (k, split, leaf), gr in zip(leaves, grads[1 : 1 + len(leaves)]):
                if gr is None:
                    continue
                target = arg_grads[k].narrow(-1, i * c, c) if split else arg_grads[k]
                target.add_(gr)
                touched[k] = True
            for (idx, _), gr in zip(params, grads[1 + len(leaves) :]):
                if gr is None:
                    continue
                param_grads[idx].add_(gr)
                touched[len(arg_grads) + idx] = True
        return xs, gxs


def reversible_sequential(
    blocks: Sequence[GroupedReversibleBlock], x: Tensor, *args: Any, memory_saving: bool = True
) -> Tensor:
    """Apply ``blocks`` in order to ``x``; the same block may appear several times (weight tying).

    With ``memory_saving=True`` and autograd recording, the stack runs through
    :class:`ReversibleFunction` (activation memory independent of
    ``len(blocks)``); otherwise through ordinary autograd, computing the same
    values.
    """
    if isinstance(blocks, (GroupedReversibleBlock, str, bytes)) or not hasattr(blocks, "__len__"):
        raise TypeError(f"blocks must be a sequence of GroupedReversibleBlock, got {type(blocks).__name__}")
    for i, b in enumerate(blocks):
        if not isinstance(b, GroupedReversibleBlock):
            raise TypeError(f"blocks[{i}] must be a GroupedReversibleBlock, got {type(b).__name__}")
    memory_saving = check_bool(memory_saving, "memory_saving")
    if len(blocks) == 0:
        check_tensor(x, "x")
        return x
    for b in {id(b): b for b in blocks}.values():
        b._check_input(x)
    channels = x.size(-1)
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad
        or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        or any(p.requires_grad for b in {id(b): b for b in blocks}.values() for p in b.parameters())
    )
    if memory_saving and needs_grad:
        plan = _Plan(blocks, args)
        grad_args = [args[j] for j in plan.grad_pos]
        return ReversibleFunction.apply(plan, x, *grad_args, *plan.params)
    xs = blocks[0].split(x)
    for block in blocks:
        xs = _regroup(xs, block)
        xs = block.coupling(xs, block.group_args(args, channels))
    return torch.cat(xs, dim=-1)


class ReversibleSequential(torch.nn.Module):
    r"""A stack of :class:`GroupedReversibleBlock` run with depth-independent activation memory.

    Args:
        blocks (sequence of GroupedReversibleBlock): the blocks, in order.
        memory_saving (bool): :class:`ReversibleFunction` (``True``) or plain
            autograd on the same computation (``False``). (default: ``True``)

    Shapes:
        - **input:** ``x`` ``[N, C]``, then extra arguments passed to every block.
        - **output:** ``[N, C]``.
    """

    def __init__(self, blocks: Sequence[GroupedReversibleBlock], memory_saving: bool = True) -> None:
        super().__init__()
        if isinstance(blocks, (torch.nn.Module, str, bytes)) and not isinstance(blocks, torch.nn.ModuleList) \
                or not hasattr(blocks, "__iter__"):
            raise TypeError(f"blocks must be a sequence of GroupedReversibleBlock, got {type(blocks).__name__}")
        blocks = list(blocks)
        for i, b in enumerate(blocks):
            if not isinstance(b, GroupedReversibleBlock):
                raise TypeError(f"blocks[{i}] must be a GroupedReversibleBlock, got {type(b).__name__}")
        self.blocks = torch.nn.ModuleList(blocks)
        self.memory_saving = check_bool(memory_saving, "memory_saving")

    def forward(self, x: Tensor, *args: Any) -> Tensor:
        return reversible_sequential(list(self.blocks), x, *args, memory_saving=self.memory_saving)


class SavedTensorCounter:
    """Count the bytes autograd keeps for backward while the context is open.

    A deterministic measure of activation memory on any device: every tensor
    saved for backward inside the ``with`` block is recorded by its storage
    (a storage saved twice, or through several views, counts once), and
    storages of ``exclude`` tensors (e.g. ``model.parameters()``) are left out.

    Example::

        with SavedTensorCounter(exclude=model.parameters()) as counter:
            loss = model(x, edge_index).sum()
        counter.bytes  # activation bytes held until loss.backward()
    """

    def __init__(self, exclude=()) -> None:
        if isinstance(exclude, Tensor) or not hasattr(exclude, "__iter__"):
            raise TypeError(f"exclude must be an iterable of tensors (e.g. model.parameters()), "
                            f"got {type(exclude).__name__}")
        exclude = list(exclude)
        for i, t in enumerate(exclude):
            if not isinstance(t, Tensor):
                raise TypeError(f"exclude[{i}] must be a torch.Tensor, got {type(t).__name__}")
        self._exclude = {self._key(t) for t in exclude}
        self._sizes: Dict[Any, int] = {}
        self._hooks = None

    @staticmethod
    def _key(t: Tensor):
        return (t.device.type, t.untyped_storage().data_ptr())

    def _pack(self, t: Tensor) -> Tensor:
        if t.layout == torch.strided:
            parts = [t]
        elif t.layout == torch.sparse_coo:
            parts = [t._indices(), t._values()]
        elif t.layout == torch.sparse_csr:
            parts = [t.crow_indices(), t.col_indices(), t.values()]
        else:  # other sparse layouts: count their nominal size
            self._sizes[("other", id(t))] = t._nnz() * t.element_size()
            return t
        for p in parts:
            key = self._key(p)
            if key not in self._exclude:
                self._sizes[key] = p.untyped_storage().nbytes()
        return t

    @property
    def bytes(self) -> int:
        return sum(self._sizes.values())

    def __enter__(self) -> "SavedTensorCounter":
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
