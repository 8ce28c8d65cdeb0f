"""One training utility for the CLI and every example: loop, evaluation, checkpoints, metrics."""
from scalegnn.train.checkpoint import CheckpointError, atomic_save, load_checkpoint
from scalegnn.train.evaluation import score
from scalegnn.train.metrics_log import MetricsLog, curves_figure, plot_curves, save_summary
from scalegnn.train.repeats import pct, run_dirs, run_seeds, split_data, summarize
from scalegnn.train.run_dir import RunDirError, check_out_dir, is_run_dir, read_run_config
from scalegnn.train.seed import seed_everything
from scalegnn.train.tasks import GraphClassificationTask, MiniBatchNodeTask, NodeClassificationTask
from scalegnn.train.trainer import Trainer, TrainResult

__all__ = [
    "CheckpointError",
    "GraphClassificationTask",
    "MetricsLog",
    "MiniBatchNodeTask",
    "NodeClassificationTask",
    "RunDirError",
    "TrainResult",
    "Trainer",
    "atomic_save",
    "check_out_dir",
    "curves_figure",
    "is_run_dir",
    "load_checkpoint",
    "pct",
    "plot_curves",
    "read_run_config",
    "run_dirs",
    "run_seeds",
    "save_summary",
    "score",
    "seed_everything",
    "split_data",
    "summarize",
]
