"""Small argument checks shared by the objectives (tensor helpers only, nothing graph-specific)."""
from __future__ import annotations

import torch


def check_pair(z1: torch.Tensor, z2: torch.Tensor, min_rows: int = 1):
    """Two embedding matrices of the same shape ``[N, d]`` with ``N >= min_rows``."""
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor) or z.dim() != 2:
            shape = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"{name} must be a 2-D tensor [num_samples, dim], got {shape}")
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape (row i of each is a positive pair), "
                         f"got {list(z1.shape)} and {list(z2.shape)}")
    if z1.size(0) < min_rows:
        raise ValueError(f"need at least {min_rows} samples to have negatives, got {z1.size(0)}")
