"""Training: batches by bead count, loss, run configuration, checkpoints and the loop."""

from .batch import Batch, BeadBatchSampler, FrameSource, Piece, make_batch, make_frame
from .checkpoint import load_checkpoint, load_model, restore_mapping, save_checkpoint
from .config import RunConfig, TrainConfig, load_run_config
from .loss import LossConfig, compute_loss
from .loop import TrainResult, train

__all__ = [
    "Batch",
    "BeadBatchSampler",
    "FrameSource",
    "LossConfig",
    "Piece",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "compute_loss",
    "load_checkpoint",
    "load_model",
    "load_run_config",
    "make_batch",
    "make_frame",
    "restore_mapping",
    "save_checkpoint",
    "train",
]
