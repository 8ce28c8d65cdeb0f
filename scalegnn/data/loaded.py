"""The value returned by :func:`scalegnn.data.load_dataset`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from torch import Tensor

__all__ = ["LoadedDataset", "TASKS"]

TASKS = ("node", "link", "graph")


@dataclass
class LoadedDataset:
    """A dataset ready for training: the graph(s), the split and how to score predictions.

    Attributes:
        name: canonical dataset name (``"Cora"``, ``"ogbn-arxiv"``, ``"PROTEINS"``, ...).
        task: ``"node"`` (node classification / property prediction),
            ``"link"`` (link prediction) or ``"graph"`` (graph classification).
        data: the single graph of node- and link-level tasks (a PyG ``Data``).
        graphs: the graph collection of graph-level tasks (a PyG ``Dataset``).
        split: index tensors by split name, ``"train"``, ``"valid"``, ``"test"``:
            node ids (node tasks), graph ids (graph tasks), or for link tasks a
            dict of edge tensors as OGB's ``get_edge_split()`` returns them.
        num_features: input channels.
        num_classes: output channels (classes, or tasks for multi-task binary).
        metric: the metric models are selected on: ``"acc"``, ``"rocauc"``,
            ``"auc"``, ``"hits@K"`` or ``"mrr"``.
        evaluator: the matching ``ogb`` Evaluator for OGB datasets, else ``None``.
        info: free-form facts (source path, whether it came from the local root, ...).
    """

    name: str
    task: str
    split: Dict[str, Any]
    num_features: int
    num_classes: int
    metric: str
    data: Optional[Any] = None
    graphs: Optional[Any] = None
    evaluator: Optional[Any] = None
    info: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from scalegnn.data.validate import check_int, check_option

        check_option(self.task, "task", TASKS)
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {self.name!r}")
        if not isinstance(self.metric, str):
            raise TypeError(f"metric must be a string such as 'acc' or 'rocauc', got {self.metric!r}")
        if not isinstance(self.split, dict):
            raise TypeError(f"split must be a dict of index tensors by split name, got {type(self.split).__name__}")
        self.num_features = check_int(self.num_features, "num_features", min_value=0)
        self.num_classes = check_int(self.num_classes, "num_classes", min_value=0)
        if self.data is None and self.graphs is None:
            raise ValueError("a LoadedDataset needs `data` (one graph) or `graphs` (a collection)")

    def __repr__(self) -> str:
        sizes = {k: (len(v) if isinstance(v, Tensor) else type(v).__name__) for k, v in self.split.items()}
        return (f"LoadedDataset({self.name}, task={self.task}, features={self.num_features}, "
                f"classes={self.num_classes}, metric={self.metric}, split={sizes})")
