"""Next-frame prediction from frozen clip embeddings: a linear predictive-coding head."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import Ridge

from ..checks import check_positive_int
from ._common import as_numpy

DEFAULT_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def next_frame_windows(clips: torch.Tensor, context: int, windows_per_clip: int = 4):
    """Cut clips ``[N, T, C, H, W]`` into ``(contexts [N * w, context, C, H, W], next frames
    [N * w, C, H, W], clip index [N * w])``: ``w`` context windows per clip, evenly spaced, each
    followed by the frame to predict."""
    if clips.dim() != 5:
        raise ValueError(f"clips must be [N, T, C, H, W], got shape {tuple(clips.shape)}")
    t = clips.size(1)
    context = check_positive_int("context", context)
    if t <= context:
        raise ValueError(f"clips of {t} frames are too short for a context of {context} frames "
                         f"plus the frame to predict; use context <= {t - 1} or longer clips")
    last_start = t - context - 1
    starts = torch.linspace(0, last_start, min(windows_per_clip, last_start + 1)).round().long() \
        .unique()
    index = starts[:, None] + torch.arange(context + 1)           # [w, context + 1]
    windows = clips[:, index]                                      # [N, w, context + 1, ...]
    windows = windows.flatten(0, 1)
    owner = torch.arange(clips.size(0)).repeat_interleave(len(starts))
    return windows[:, :context], windows[:, context], owner


def next_frame_probe(embed, clips: torch.Tensor, split, context: int,
                     alphas=DEFAULT_ALPHAS, windows_per_clip: int = 4) -> dict:
    """Predict each window's next frame as its last context frame plus a linear function of the
    frozen embedding of the context (ridge regression, ``alpha`` chosen on the validation
    clips' MSE), against copying the last frame. The test clips choose nothing.

    Args:
        embed: ``contexts [M, context, C, H, W] -> [M, d]`` (the frozen encoder).
        clips: ``[N, T, C, H, W]``; split: a ``Split`` over clips.

    Returns:
        ``{'val_mse', 'test_mse', 'test_copy_last_mse', 'alpha', 'windows_per_clip'}``: mean
        squared error per pixel on the test clips' windows.
    """
    contexts, targets, owner = next_frame_windows(clips, context, windows_per_clip)
    z = as_numpy(embed(contexts)).astype(np.float64)
    last = contexts[:, -1].flatten(1)
    change = as_numpy(targets.flatten(1) - last).astype(np.float64)
    parts = {name: np.isin(as_numpy(owner), as_numpy(getattr(split, name)))
             for name in ("train", "val", "test")}
    mean, std = z[parts["train"]].mean(0), z[parts["train"]].std(0) + 1e-8
    z = (z - mean) / std
    best = None
    for alpha in alphas:
        head = Ridge(alpha=alpha).fit(z[parts["train"]], change[parts["train"]])
        val_mse = float(((head.predict(z[parts["val"]]) - change[parts["val"]]) ** 2).mean())
        if best is None or val_mse < best[0]:
            best = (val_mse, alpha, head)
    val_mse, alpha, head = best
    te = parts["test"]
    return {"val_mse": val_mse,
            "test_mse": float(((head.predict(z[te]) - change[te]) ** 2).mean()),
            "test_copy_last_mse": float((change[te] ** 2).mean()), "alpha": alpha,
            "windows_per_clip": int(len(owner) // clips.size(0))}
