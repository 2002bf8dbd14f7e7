"""Training: the loop, checkpoints, seeding."""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .seed import seed_everything
from .trainer import NonFiniteLossError, Trainer

__all__ = ["Trainer", "NonFiniteLossError", "CheckpointError", "save_checkpoint",
           "load_checkpoint", "seed_everything"]
