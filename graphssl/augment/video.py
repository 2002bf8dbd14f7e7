"""Temporal views of video clips ``[B, T, C, H, W]``.

Every image augmentation of :mod:`graphssl.augment.image` also takes clips (one draw per clip,
shared by its frames); this module adds the temporal ones.
"""
from __future__ import annotations

import torch

from ..checks import check_positive_int
from .base import Augmentation, rand


class TemporalCrop(Augmentation):
    """A random window of ``frames`` consecutive frames from each clip (one start per clip,
    uniform over the valid starts), gathered in one vectorised indexing: ``[B, T, C, H, W]`` ->
    ``[B, frames, C, H, W]``. Two crops of one clip are the temporally shifted views of
    e.g. CVRL (Qian et al. 2021)."""

    def __init__(self, frames: int = 8):
        self.frames = check_positive_int("frames", frames)

    def forward(self, data, generator):
        if not isinstance(data, torch.Tensor) or data.dim() != 5:
            shape = tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__
            raise ValueError(f"TemporalCrop expects clips [B, T, C, H, W], got {shape}")
        b, t = data.shape[:2]
        if t < self.frames:
            raise ValueError(f"TemporalCrop(frames={self.frames}) needs clips of at least "
                             f"{self.frames} frames, got clips of {t} frames")
        starts = (rand(b, generator, data.device) * (t - self.frames + 1)).long()
        starts = starts.clamp(max=t - self.frames)
        index = starts[:, None] + torch.arange(self.frames, device=data.device)
        return data[torch.arange(b, device=data.device)[:, None], index]
