"""Scaled cosine error, GraphMAE's feature-reconstruction loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_positive, is_finite_number
from ._checks import check_pair


class SCE(nn.Module):
    r"""Scaled cosine error (Hou et al., "GraphMAE: Self-Supervised Masked Graph Autoencoders",
    KDD 2022, Eq. 4).

    Each row of the reconstruction ``x`` is compared with the same row of the target ``y`` by
    its cosine similarity, and the error is sharpened by the exponent :math:`\alpha \ge 1` (the
    paper's :math:`\gamma`), which down-weights rows that are already well reconstructed:

    .. math::
        \mathcal L = \frac1M \sum_{i=1}^{M}
            \left(1 - \frac{x_i^\top y_i}{\lVert x_i \rVert \, \lVert y_i \rVert}\right)^{\alpha}

    :math:`0 \le \mathcal L \le 2^{\alpha}`: 0 when every pair points the same way (any positive
    scale), :math:`2^{\alpha}` when every pair points in opposite directions. Rows are
    L2-normalised with ``F.normalize`` (norm clamped at ``eps``), as in the authors'
    ``sce_loss``, so an all-zero row has cosine 0 with everything (error 1), finite with finite
    gradients.

    Args:
        alpha: :math:`\alpha \ge 1`, the scaling exponent (the authors' ``alpha_l``: 1 to 3
            depending on the dataset).
        eps: the norm clamp of the normalisation (> 0).

    Shapes: ``x, y: [M, d]`` (in GraphMAE: the masked nodes' reconstructions and original
    features) -> scalar.

    Example:
        >>> loss_fn = SCE(alpha=2.0)
        >>> loss = loss_fn(reconstruction[masked], data.x[masked])
    """

    def __init__(self, alpha: float = 2.0, eps: float = 1e-12):
        super().__init__()
        if not is_finite_number(alpha) or not alpha >= 1:
            raise ValueError(f"alpha must be a finite number >= 1 (the paper's scaling exponent "
                             f"gamma >= 1), got {alpha!r}")
        self.alpha, self.eps = float(alpha), check_positive("eps", eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_pair(x, y)
        cos = (F.normalize(x, dim=-1, eps=self.eps) * F.normalize(y, dim=-1, eps=self.eps)).sum(-1)
        # clamp: rounding can push cos a hair above 1, and a negative base to a real power is NaN
        return (1.0 - cos).clamp_min(0.0).pow(self.alpha).mean()

    def extra_repr(self):
        return f"alpha={self.alpha}"
