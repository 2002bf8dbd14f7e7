from __future__ import annotations

import numpy as np
import torch


def as_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def check_embeddings(z, y):
    z, y = as_numpy(z), as_numpy(y).reshape(-1)
    if z.ndim != 2:
        raise ValueError(f"embeddings must be 2-D [num_samples, dim], got shape {z.shape}")
    if len(z) != len(y):
        raise ValueError(f"{len(z)} embeddings but {len(y)} labels")
    if not np.isfinite(z).all():
        raise ValueError("embeddings contain NaN or inf: the encoder diverged (lower the learning "
                         "rate) or its input has NaN features")
    return z.astype(np.float64), y


def l2_normalize(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
