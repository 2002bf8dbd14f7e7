from __future__ import annotations

import random

import numpy as np
import torch

from ..checks import check_non_negative_int


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a fresh ``torch.Generator`` seeded with ``seed`` for
    augmentations."""
    seed = check_non_negative_int("seed", seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
