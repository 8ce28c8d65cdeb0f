"""One training utility for the CLI and every example: loop, evaluation, checkpoints, metrics."""
from scalegnn.train.checkpoint import atomic_save, load_checkpoint
from scalegnn.train.evaluation import score
from scalegnn.train.metrics_log import MetricsLog, plot_curves, save_summary
from scalegnn.train.seed import seed_everything
from scalegnn.train.tasks import GraphClassificationTask, MiniBatchNodeTask, NodeClassificationTask
from scalegnn.train.trainer import Trainer, TrainResult

__all__ = [
    "GraphClassificationTask",
    "MetricsLog",
    "MiniBatchNodeTask",
    "NodeClassificationTask",
    "TrainResult",
    "Trainer",
    "atomic_save",
    "load_checkpoint",
    "plot_curves",
    "save_summary",
    "score",
    "seed_everything",
]
