r"""Quantization-aware training of any layer: fake-quantized weights and activations.

``Quantized(module, bits)`` replaces every weight matrix :math:`W` of
``module`` by its ``bits``-bit symmetric quantization :math:`q\,s` (one scale
per output channel, :mod:`scalegnn.compress.fake_quant`) and, with
``activations=True``, quantizes the layer's node-feature input (and, with
``quantize_output=True``, its output) with affine ``activation_bits``-bit quantizers whose ranges are moving averages
(:mod:`scalegnn.compress.activation_quant`). Rounding uses straight-through
gradients, so the full-precision weights keep training
(`"Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference" <https://arxiv.org/abs/1712.05877>`_,
Jacob et al., CVPR 2018).

For message-passing layers (called as ``layer(x, edge_index | adj, ...)``),
``degree_quant=True`` applies Degree-Quant (Tailor et al., ICLR 2021,
:mod:`scalegnn.compress.degree_quant`): during training each node is kept in
full precision with a probability rising with its in-degree rank, from
``p_min`` to ``p_max``, and only unprotected nodes set the activation ranges.

``track_sensitivity=True`` adds the per-layer constraint of constrained
quantization-aware training ("Neural Networks with Quantization Constraints",
Hounie, Elenter & Ribeiro, ICASSP 2023; see :mod:`scalegnn.compress.mixed_precision`):
:math:`d = \lVert f_q(x) - f(x) \rVert^2 / \lVert f(x) \rVert^2 \le \epsilon`,
whose Lagrangian term :math:`\lambda (d - \epsilon)` is added to the gradient
of every training step and whose dual variable :math:`\lambda` (buffer ``dual``)
is updated by projected ascent, :math:`\lambda \leftarrow [\lambda + \eta (d - \epsilon)]_+`.

Args:
    module: the layer to quantize.
    bits: weight bit width, 1..8 (1 = signs with the mean-absolute scale).
    per_channel: one scale per output channel (default) or per tensor.
    activations: also quantize the layer's input node features (so every activation between
        wrapped layers is quantized once, as the next layer's input).
    quantize_output: also quantize the layer's output (off by default: for the last layer it
        would round the logits, and otherwise the next layer's input quantizer does it).
    activation_bits: bit width of the activations (default: ``bits``).
    degree_quant: protect high in-degree nodes during training.
    p_min, p_max: protection probabilities of the lowest and highest in-degree node.
    momentum: moving-average momentum of the activation ranges.
    track_sensitivity: add the constraint above and learn its dual variable.
    epsilon: the constraint's bound on the relative output distance.
    dual_lr: step size :math:`\eta` of the dual ascent.
    weights: the tensors to quantize (default: every weight matrix).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence

import torch
from torch import Tensor

from scalegnn.compress.activation_quant import ActivationQuantizer
from scalegnn.compress.degree_quant import in_degree, protection_mask
from scalegnn.compress.fake_quant import check_bits, fake_quant_weight, weight_codes
from scalegnn.compress.ste import InjectGradient
from scalegnn.compress.wrapper import CompressionWrapper, Reparametrization

__all__ = ["Quantized"]


class _WeightQuant(Reparametrization):
    def __init__(self, bits: int, per_channel: bool) -> None:
        super().__init__()
        self.bits, self.per_channel = bits, per_channel

    def get_extra_state(self) -> dict:
        return {"bits": self.bits, "per_channel": self.per_channel}

    def set_extra_state(self, state: dict) -> None:
        self.bits, self.per_channel = int(state["bits"]), bool(state["per_channel"])

    def transform(self, weight: Tensor) -> Tensor:
        return fake_quant_weight(weight, self.bits, self.per_channel)


def _graph_argument(args: Sequence[Any], kwargs: Dict[str, Any]) -> Any:
    if len(args) > 1:
        return args[1]
    for key in ("edge_index", "adj", "adj_t"):
        if key in kwargs:
            return kwargs[key]
    return None


def _rng_state(args: Sequence[Any], kwargs: Dict[str, Any]) -> tuple:
    """The CPU random state, and the CUDA one of the input's device, before a layer's forward pass."""
    x = args[0] if args else kwargs.get("x")
    device = x.device if isinstance(x, Tensor) and x.device.type == "cuda" else None
    return torch.get_rng_state(), device, torch.cuda.get_rng_state(device) if device is not None else None


class Quantized(CompressionWrapper):
    __doc__ = __doc__
    kind = "quantized"

    def __init__(self, module: torch.nn.Module, bits: int = 8, per_channel: bool = True, activations: bool = True,
                 *, quantize_output: bool = False, activation_bits: Optional[int] = None, degree_quant: bool = True, p_min: float = 0.0,
                 p_max: float = 0.1, momentum: float = 0.1, track_sensitivity: bool = False, epsilon: float = 0.01,
                 dual_lr: float = 1.0, weights: Optional[Sequence[str]] = None) -> None:
        super().__init__(module, weights)
        check_bits(bits)
        if activation_bits is not None:
            check_bits(activation_bits, "activation_bits")
        if not 0.0 <= p_min <= p_max <= 1.0:
            raise ValueError(f"need 0 <= p_min <= p_max <= 1, got p_min={p_min}, p_max={p_max}")
        if epsilon < 0 or dual_lr <= 0:
            raise ValueError(f"need epsilon >= 0 and dual_lr > 0, got epsilon={epsilon}, dual_lr={dual_lr}")
        self.per_channel, self.activations, self.degree_quant = per_channel, activations, degree_quant
        self.p_min, self.p_max, self.momentum = p_min, p_max, momentum
        self._follow_bits = activation_bits is None
        for name in self.weight_names:
            self._reparametrize(name, _WeightQuant(bits, per_channel))
        abits = bits if activation_bits is None else activation_bits
        self.input_quant = ActivationQuantizer(abits, momentum) if activations else None
        self.quantize_output = quantize_output
        self.output_quant = ActivationQuantizer(abits, momentum) if activations and quantize_output else None
        self.track_sensitivity, self.epsilon, self.dual_lr = track_sensitivity, epsilon, dual_lr
        self.register_buffer("dual", torch.zeros(()))
        self.register_buffer("distance", torch.zeros(()))
        self.mixed_budget: Optional[float] = None  # set by compress.apply for 'mixed:<budget>'
        self.bit_choices: Optional[Sequence[int]] = None
        self.mixed_rewind = False  # 'mixed:<budget>:rewind': the scheduler rewinds after choosing the bits

    # ------------------------------------------------------------ bits
    @property
    def bits(self) -> int:
        return self.parametrization(self.weight_names[0]).bits

    @bits.setter
    def bits(self, value: int) -> None:
        check_bits(value)
        for name in self.weight_names:
            self.parametrization(name).bits = value
        if self._follow_bits:
            for q in (self.input_quant, self.output_quant):
                if q is not None:
                    q.bits = value

    @property
    def activation_bits(self) -> Optional[int]:
        return self.input_quant.bits if self.input_quant is not None else None

    def get_extra_state(self) -> dict:
        return {"follow_bits": self._follow_bits}

    def set_extra_state(self, state: dict) -> None:
        self._follow_bits = bool(state["follow_bits"])

    def codes(self, name: str) -> tuple:
        """``(integer codes, scale)`` of weight ``name``: the forward pass uses ``codes * scale``."""
        p = self.parametrization(name)
        with torch.no_grad():
            c, s = weight_codes(self.original(name), p.bits, p.per_channel)
        return c, s

    # ------------------------------------------------------------ forward
    @contextmanager
    def full_precision(self) -> Iterator[None]:
        """Run the wrapped layer exactly as without the wrapper."""
        previous = self.compression_enabled
        self.compression_enabled = False
        try:
            yield
        finally:
            self.compression_enabled = previous

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self.compression_enabled:
            return self.module(*args, **kwargs)
        tracking = self.track_sensitivity and self.training and torch.is_grad_enabled()
        if not self.activations:
            rng = _rng_state(args, kwargs) if tracking else None
            out = self.module(*args, **kwargs)
            if tracking:
                first = out[0] if isinstance(out, tuple) else out
                first = self._constrain(first, args, kwargs, rng)
                return (first,) + tuple(out[1:]) if isinstance(out, tuple) else first
            return out
        x = args[0] if args else kwargs.get("x")
        protect = None
        if self.training and self.degree_quant and isinstance(x, Tensor) and self.p_max > 0:
            deg = in_degree(_graph_argument(args, kwargs), x.size(0))
            if deg is not None and deg.numel() == x.size(0):
                protect = protection_mask(deg, self.p_min, self.p_max)
        qargs, qkwargs = list(args), dict(kwargs)
        if isinstance(x, Tensor) and x.is_floating_point():
            xq = self.input_quant(x, protect)
            if args:
                qargs[0] = xq
            else:
                qkwargs["x"] = xq
        rng = _rng_state(args, kwargs) if tracking else None
        out = self.module(*qargs, **qkwargs)
        first = out[0] if isinstance(out, tuple) else out
        if not isinstance(first, Tensor) or not first.is_floating_point():
            return out
        out_rows = protect if protect is not None and protect.numel() == first.size(0) else None
        first_q = self.output_quant(first, out_rows) if self.output_quant is not None else first
        if tracking:
            first_q = self._constrain(first_q, args, kwargs, rng)
        return (first_q,) + tuple(out[1:]) if isinstance(out, tuple) else first_q

    def _constrain(self, out_q: Tensor, args: Sequence[Any], kwargs: Dict[str, Any], rng: Any = None) -> Tensor:
        # the full-precision pass replays the quantized pass's random numbers, so dropout inside the layer
        # (GATConv's attention dropout) draws the same masks and d measures quantization only, not dropout noise
        devices = [rng[1]] if rng is not None and rng[1] is not None else []
        with torch.random.fork_rng(devices=devices), self.full_precision():
            if rng is not None:
                torch.set_rng_state(rng[0])
                if rng[1] is not None:
                    torch.cuda.set_rng_state(rng[2], rng[1])
            out_fp = self.module(*args, **kwargs)
        out_fp = out_fp[0] if isinstance(out_fp, tuple) else out_fp
        d = (out_q - out_fp).pow(2).sum() / out_fp.detach().pow(2).sum().clamp_min(1e-12)
        aux = self.dual.detach().clone().to(d.dtype) * (d - self.epsilon)
        with torch.no_grad():
            self.distance.copy_(d.detach())
            self.dual.add_(self.dual_lr * (d.detach() - self.epsilon)).clamp_(min=0.0)
        return InjectGradient.apply(out_q, aux)

    # ------------------------------------------------------------ reports
    def config(self) -> Dict[str, Any]:
        return {"bits": self.bits, "per_channel": self.per_channel, "activations": self.activations,
                "quantize_output": self.quantize_output,
                "activation_bits": None if self._follow_bits else self.activation_bits,
                "degree_quant": self.degree_quant, "p_min": self.p_min, "p_max": self.p_max,
                "momentum": self.momentum, "weights": list(self.weight_names)}

    def training_only_state(self) -> List[str]:
        return ["dual", "distance"]
