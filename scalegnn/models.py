"""The registry of models that ``scalegnn train --model NAME`` knows.

Adding a model is one call to :func:`register_model`: a builder from
``(in_channels, out_channels, config)`` to a module, the options it accepts
(``--option KEY=VALUE``, each an :class:`Option` with a type, a default and an
allowed range), which of the shared hyper-parameters it uses, plus optional
hooks for models that transform the data once before training (decoupled
models such as SGC precompute their propagation there) or that are called
differently. :func:`resolve_options` checks a user's options against that
declaration, so a mistyped key or a value of the wrong type is refused with
the list of what the model accepts instead of being passed on or ignored.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

import torch

__all__ = ["ModelConfig", "ModelSpec", "Option", "MODELS", "SHARED_HYPERPARAMETERS", "register_model", "build_model",
           "resolve_options"]

# the hyper-parameters every model may take from --hidden, --layers, --dropout
SHARED_HYPERPARAMETERS = ("hidden_channels", "num_layers", "dropout")


@dataclass
class ModelConfig:
    """Hyper-parameters shared by the registered models (extras go in ``options``)."""

    hidden_channels: int = 16
    num_layers: int = 2
    dropout: float = 0.5
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    """One ``--option KEY=VALUE`` a model accepts.

    Attributes:
        kind: ``int``, ``float``, ``bool`` or ``str`` (an ``int`` value is accepted
            for a ``float`` option; a fractional value is never truncated to an int).
        default: the value when the option is not given.
        help: one line for ``scalegnn train --help``.
        choices: the allowed values (``None`` may be one of them).
        minimum, maximum: inclusive bounds for numbers.
        exclusive_minimum: whether ``minimum`` itself is refused (``> 0`` rather than ``>= 0``).
    """

    kind: type
    default: Any
    help: str = ""
    choices: Optional[Tuple[Any, ...]] = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_minimum: bool = False

    def check(self, model: str, key: str, value: Any) -> Any:
        """``value`` if it is allowed, else a ``ValueError`` naming the option, the value and what is allowed."""
        where = f"--option {key}={value!r} for --model {model}"
        if self.choices is not None:
            if value not in self.choices:
                allowed = ", ".join("null" if c is None else repr(c) for c in self.choices)
                raise ValueError(f"{where}: expected one of {allowed}")
            return value
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected true or false")
            return value
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: expected an integer")
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"{where}: expected a number")
            value = float(value)
        elif not isinstance(value, self.kind):
            raise ValueError(f"{where}: expected a {self.kind.__name__}")
        low = self.minimum
        if low is not None and (value < low or (self.exclusive_minimum and value == low)):
            raise ValueError(f"{where}: expected a value {'>' if self.exclusive_minimum else '>='} {low:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{where}: expected a value <= {self.maximum:g}")
        return value

    def describe(self, key: str) -> str:
        """``"key=default"`` with the default written as JSON (as ``--option`` reads it)."""
        import json

        return f"{key}={json.dumps(self.default)}"


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model and, optionally, prepare data for it.

    Attributes:
        build: ``build(in_channels, out_channels, config) -> nn.Module``.
        prepare: ``prepare(data, config) -> data`` run once before training
            (e.g. a precomputed propagation replacing ``data.x``).
        forward: ``forward(model, data) -> logits`` when the model is not called as
            ``model(data.x, data.edge_index)``.
        description: one line for ``scalegnn train --help``.
        options: the ``--option`` keys the model accepts.
        uses: which of :data:`SHARED_HYPERPARAMETERS` the model reads (a flag
            for one it does not use is refused).
    """

    build: Callable[[int, int, ModelConfig], torch.nn.Module]
    prepare: Optional[Callable[[Any, ModelConfig], Any]] = None
    forward: Optional[Callable[[torch.nn.Module, Any], Any]] = None
    description: str = ""
    options: Mapping[str, Option] = field(default_factory=dict)
    uses: FrozenSet[str] = frozenset(SHARED_HYPERPARAMETERS)


MODELS: Dict[str, ModelSpec] = {}


def register_model(name: str, build: Callable[[int, int, ModelConfig], torch.nn.Module], *,
                   prepare: Optional[Callable[[Any, ModelConfig], Any]] = None,
                   forward: Optional[Callable[[torch.nn.Module, Any], Any]] = None,
                   description: str = "", options: Optional[Mapping[str, Option]] = None,
                   uses: Iterable[str] = SHARED_HYPERPARAMETERS) -> None:
    """Make ``name`` available to ``scalegnn train --model``."""
    if name in MODELS:
        raise ValueError(f"a model named {name!r} is already registered")
    uses = frozenset(uses)
    unknown = uses - set(SHARED_HYPERPARAMETERS)
    if unknown:
        raise ValueError(f"uses must be a subset of {SHARED_HYPERPARAMETERS}, got {sorted(unknown)}")
    MODELS[name] = ModelSpec(build, prepare, forward, description, dict(options or {}), uses)


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def resolve_options(name: str, given: Mapping[str, Any]) -> Dict[str, Any]:
    """Model ``name``'s options: ``given`` checked against its declaration, defaults filled in.

    Raises:
        ValueError: an unknown key (with the close matches and every accepted key)
            or a value of the wrong type or range.
    """
    spec = _spec(name)
    resolved = {key: opt.default for key, opt in spec.options.items()}
    for key, value in given.items():
        if key not in spec.options:
            accepted = ", ".join(opt.describe(k) for k, opt in spec.options.items())
            close = [k for k in spec.options if k.lower() == key.lower()]
            close = close or difflib.get_close_matches(key, list(spec.options), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"--model {name} has no option {key!r}{hint}; "
                             + (f"it accepts {accepted}" if accepted else "it takes no --option"))
        resolved[key] = spec.options[key].check(name, key, value)
    return resolved


def build_model(name: str, in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    """Build registered model ``name`` (its options checked and completed by :func:`resolve_options`)."""
    spec = _spec(name)
    config = ModelConfig(config.hidden_channels, config.num_layers, config.dropout,
                         resolve_options(name, config.options))
    return spec.build(in_channels, out_channels, config)


# -- PyG's basic GNNs ----------------------------------------------------------------------------------------------

_NORMS = (None, "batch_norm", "layer_norm", "instance_norm", "graph_norm", "pair_norm")
_BASIC_OPTIONS = {
    "norm": Option(str, None, "normalization after each hidden layer", choices=_NORMS),
    "jk": Option(str, None, "jumping knowledge", choices=(None, "last", "cat", "max", "lstm")),
    "act": Option(str, "relu", "activation", choices=("relu", "elu", "leaky_relu", "gelu", "tanh", "sigmoid")),
}


def _pyg_basic(cls_name: str, **fixed: Any) -> Callable[[int, int, ModelConfig], torch.nn.Module]:
    def build(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
        from torch_geometric.nn import models

        return getattr(models, cls_name)(in_channels, config.hidden_channels, config.num_layers, out_channels,
                                         dropout=config.dropout, **fixed, **config.options)
    return build


# Full-batch training sees one fixed graph: GCN caches its normalized adjacency.
register_model("gcn", _pyg_basic("GCN", cached=True), description="GCN (Kipf & Welling, ICLR 2017), PyG's GCN",
               options={**_BASIC_OPTIONS, "improved": Option(bool, False, "A + 2I instead of A + I")})
register_model("sage", _pyg_basic("GraphSAGE"),
               description="GraphSAGE (Hamilton et al., NeurIPS 2017), PyG's GraphSAGE",
               options={**_BASIC_OPTIONS, "aggr": Option(str, "mean", "neighbour aggregation",
                                                         choices=("mean", "max", "sum"))})
register_model("gat", _pyg_basic("GAT"), description="GAT (Veličković et al., ICLR 2018), PyG's GAT",
               options={**_BASIC_OPTIONS,
                        "heads": Option(int, 1, "attention heads (--hidden must be divisible by it)", minimum=1),
                        "v2": Option(bool, False, "GATv2 attention")})
register_model("gin", _pyg_basic("GIN"), description="GIN (Xu et al., ICLR 2019), PyG's GIN",
               options={**_BASIC_OPTIONS, "train_eps": Option(bool, False, "learn epsilon")})


def _mlp(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from torch_geometric.nn.models import MLP

    # A fair graph-free baseline: no batch norm unless asked (with it the MLP over-fits Cora's 140 labels: ~39%).
    return MLP(in_channels=in_channels, hidden_channels=config.hidden_channels, out_channels=out_channels,
               num_layers=config.num_layers, dropout=config.dropout,
               norm="batch_norm" if config.options["batch_norm"] else None)


register_model("mlp", _mlp, forward=lambda model, data: model(data.x),
               description="MLP on node features only (graph-free baseline; --option batch_norm=false)",
               options={"batch_norm": Option(bool, False, "batch norm after each hidden layer")})


# -- decoupled and deep models ------------------------------------------------------------------------------------

def _sgc(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from scalegnn.nn import SGC

    return SGC(in_channels, out_channels, K=config.options["K"])


def _sgc_prepare(data: Any, config: ModelConfig) -> Any:
    from scalegnn.nn import sgc_precompute

    data = data.clone()
    data.x = sgc_precompute(data.x, data.edge_index, config.options["K"], num_nodes=data.num_nodes)
    return data


def _gbp(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from scalegnn.nn import GBP

    return GBP(in_channels, config.hidden_channels, out_channels, num_layers=config.num_layers,
               dropout=config.dropout, batch_norm=config.options["batch_norm"])


def _gbp_prepare(data: Any, config: ModelConfig) -> Any:
    from scalegnn.nn import gbp_precompute, ppr_weights

    o = config.options
    weights = ppr_weights(o["alpha"], o["L"])
    data = data.clone()
    data.x = gbp_precompute(data.x, data.edge_index, weights, r=o["r"], rmax=o["rmax"], walks_per_node=o["walks"],
                            seed=o["seed"])
    return data


def _revgnn(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from scalegnn.nn import RevGNN

    return RevGNN(in_channels, config.hidden_channels, out_channels, config.num_layers,
                  dropout=config.dropout, **config.options)


def _features_only(model: torch.nn.Module, data: Any) -> Any:
    return model(data.x)


register_model("sgc", _sgc, prepare=_sgc_prepare, forward=_features_only, uses=(),
               description="SGC (Wu et al., ICML 2019): S^K X precomputed once, then a linear layer (--option K=2)",
               options={"K": Option(int, 2, "propagation steps", minimum=0)})
register_model("gbp", _gbp, prepare=_gbp_prepare, forward=_features_only,
               description="GBP (Chen et al., NeurIPS 2020): PPR propagation by bidirectional push, then an MLP "
                           "(--option alpha=0.1 L=10 r=0.5 rmax=1e-7 walks=0)",
               options={"alpha": Option(float, 0.1, "PPR teleport probability", minimum=0, maximum=1,
                                        exclusive_minimum=True),
                        "L": Option(int, 10, "propagation levels", minimum=1),
                        "r": Option(float, 0.5, "normalization exponent of D^{r-1} A D^{-r}", minimum=0, maximum=1),
                        "rmax": Option(float, 1e-7, "push threshold", minimum=0, exclusive_minimum=True),
                        "walks": Option(int, 0, "reverse random walks per node", minimum=0),
                        "seed": Option(int, 0, "seed of the walks", minimum=0),
                        "batch_norm": Option(bool, True, "batch norm in the MLP")})
register_model("revgnn", _revgnn,
               description="RevGNN (Li et al., ICML 2021): grouped reversible residual GNN, O(1) activation "
                           "memory in depth (--option num_groups=2 conv=\"gcn\" norm=\"layer\")",
               options={"num_groups": Option(int, 2, "channel groups (--hidden must be divisible by it)", minimum=2),
                        "conv": Option(str, "gcn", "inner layer", choices=("gcn", "sage", "gat")),
                        "norm": Option(str, "layer", "normalization", choices=("layer", "batch", None)),
                        "weight_tying": Option(bool, False, "one set of weights for all layers"),
                        "memory_saving": Option(bool, True, "reversible recomputation (False: plain autograd)")})
