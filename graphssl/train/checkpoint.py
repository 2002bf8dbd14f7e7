"""Atomic checkpoints read back with ``weights_only=True`` (never unpickled as code)."""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import torch

FORMAT = "graphssl-checkpoint"
VERSION = 1
#: the file a Trainer keeps in its ``checkpoint_dir``
FILENAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that is corrupt, foreign, or from another method/configuration."""


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, flushed to
    disk, then renamed over the old checkpoint. An interruption leaves the previous one intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, mmap: bool = False) -> dict:
    """Read a graphssl checkpoint with ``torch.load(weights_only=True)``; ``mmap=True`` maps
    the tensors' storage instead of reading it (for a look at the plain fields of a large one).

    Raises:
        CheckpointError: the file is truncated/corrupt, holds anything but tensors and plain
            containers (pickled code is refused, never executed), or is not a graphssl checkpoint.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError,
            AttributeError) as err:
        raise CheckpointError(
            f"refusing checkpoint {str(path)!r}: it is corrupt or holds objects other than "
            f"tensors and plain containers ({type(err).__name__}: {str(err)[:200]}). Delete it to "
            f"start over, or point to a checkpoint written by graphssl.") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a graphssl checkpoint (no "
                              f"format={FORMAT!r} marker)")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{str(path)!r} has checkpoint version {state.get('version')}, "
                              f"this graphssl reads version {VERSION}")
    return state
