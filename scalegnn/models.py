"""The registry of models that ``scalegnn train --model NAME`` knows.

Adding a model is one call to :func:`register_model`: a builder from
``(in_channels, out_channels, config)`` to a module, plus optional hooks for
models that transform the data once before training (decoupled models such
as SGC precompute their propagation there) or that are called differently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

import torch

__all__ = ["ModelConfig", "ModelSpec", "MODELS", "register_model", "build_model"]


@dataclass
class ModelConfig:
    """Hyper-parameters shared by the registered models (extras go in ``options``)."""

    hidden_channels: int = 16
    num_layers: int = 2
    dropout: float = 0.5
    options: Dict[str, Any] = field(default_factory=dict)


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
    """

    build: Callable[[int, int, ModelConfig], torch.nn.Module]
    prepare: Optional[Callable[[Any, ModelConfig], Any]] = None
    forward: Optional[Callable[[torch.nn.Module, Any], Any]] = None
    description: str = ""


MODELS: Dict[str, ModelSpec] = {}


def register_model(name: str, build: Callable[[int, int, ModelConfig], torch.nn.Module], *,
                   prepare: Optional[Callable[[Any, ModelConfig], Any]] = None,
                   forward: Optional[Callable[[torch.nn.Module, Any], Any]] = None,
                   description: str = "") -> None:
    """Make ``name`` available to ``scalegnn train --model``."""
    if name in MODELS:
        raise ValueError(f"a model named {name!r} is already registered")
    MODELS[name] = ModelSpec(build, prepare, forward, description)


def build_model(name: str, in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name].build(in_channels, out_channels, config)


def _pyg_basic(cls_name: str, **defaults: Any) -> Callable[[int, int, ModelConfig], torch.nn.Module]:
    def build(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
        from torch_geometric.nn import models

        options = {**defaults, **config.options}
        return getattr(models, cls_name)(in_channels, config.hidden_channels, config.num_layers, out_channels,
                                         dropout=config.dropout, **options)
    return build


def _mlp(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from torch_geometric.nn.models import MLP

    return MLP(in_channels=in_channels, hidden_channels=config.hidden_channels, out_channels=out_channels,
               num_layers=config.num_layers, dropout=config.dropout)


# Full-batch training sees one fixed graph: GCN caches its normalized adjacency.
register_model("gcn", _pyg_basic("GCN", cached=True), description="GCN (Kipf & Welling, ICLR 2017), PyG's GCN")
register_model("sage", _pyg_basic("GraphSAGE"), description="GraphSAGE (Hamilton et al., NeurIPS 2017), PyG's GraphSAGE")
register_model("gat", _pyg_basic("GAT"), description="GAT (Veličković et al., ICLR 2018), PyG's GAT")
register_model("gin", _pyg_basic("GIN"), description="GIN (Xu et al., ICLR 2019), PyG's GIN")
register_model("mlp", _mlp, forward=lambda model, data: model(data.x),
               description="MLP on node features only (graph-free baseline)")


def _sgc(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from scalegnn.nn import SGC

    return SGC(in_channels, out_channels, K=int(config.options.get("K", 2)))


def _sgc_prepare(data: Any, config: ModelConfig) -> Any:
    from scalegnn.nn import sgc_precompute

    data = data.clone()
    data.x = sgc_precompute(data.x, data.edge_index, int(config.options.get("K", 2)), num_nodes=data.num_nodes)
    return data


def _gbp(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from scalegnn.nn import GBP

    return GBP(in_channels, config.hidden_channels, out_channels, num_layers=config.num_layers,
               dropout=config.dropout, batch_norm=bool(config.options.get("batch_norm", True)))


def _gbp_prepare(data: Any, config: ModelConfig) -> Any:
    from scalegnn.nn import gbp_precompute, ppr_weights

    o = config.options
    weights = ppr_weights(float(o.get("alpha", 0.1)), int(o.get("L", 10)))
    data = data.clone()
    data.x = gbp_precompute(data.x, data.edge_index, weights, r=float(o.get("r", 0.5)),
                            rmax=float(o.get("rmax", 1e-7)), walks_per_node=int(o.get("walks", 0)),
                            seed=int(o.get("seed", 0)))
    return data


def _revgnn(in_channels: int, out_channels: int, config: ModelConfig) -> torch.nn.Module:
    from scalegnn.nn import RevGNN

    return RevGNN(in_channels, config.hidden_channels, out_channels, config.num_layers,
                  dropout=config.dropout, **config.options)


def _features_only(model: torch.nn.Module, data: Any) -> Any:
    return model(data.x)


register_model("sgc", _sgc, prepare=_sgc_prepare, forward=_features_only,
               description="SGC (Wu et al., ICML 2019): S^K X precomputed once, then a linear layer (--option K=2)")
register_model("gbp", _gbp, prepare=_gbp_prepare, forward=_features_only,
               description="GBP (Chen et al., NeurIPS 2020): PPR propagation by bidirectional push, then an MLP "
                           "(--option alpha=0.1 L=10 r=0.5 rmax=1e-7 walks=0)")
register_model("revgnn", _revgnn,
               description="RevGNN (Li et al., ICML 2021): grouped reversible residual GNN, O(1) activation "
                           "memory in depth (--option num_groups=2 conv=\"gcn\" norm=\"layer\")")
