"""Bootstrap (BYOL / BGRL) regression loss between online predictions and target projections."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BootstrapLoss(nn.Module):
    r"""BYOL's loss (Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised
    Learning", NeurIPS 2020), as used on graphs by BGRL (Thakoor et al., "Large-Scale
    Representation Learning on Graphs via Bootstrapping", ICLR 2022).

    The online network's prediction ``p`` of one view regresses the target network's projection
    ``t`` of the other view; for unit-normalised rows this is the squared distance

    .. math:: \ell(p, t) = \frac1N \sum_i \left\| \bar p_i - \bar t_i \right\|_2^2
              = \frac1N \sum_i \left(2 - 2\cos(p_i, t_i)\right),
              \quad \bar x = x / \max(\|x\|_2, 10^{-12})

    so the loss lies in ``[0, 4]``: 0 when each prediction points along its target (any scale),
    2 when orthogonal, 4 when opposite. With ``symmetric=True`` it is
    :math:`\tfrac12(\ell(p_1, t_2) + \ell(p_2, t_1))`.

    Conventions, relative to the papers:

    - BGRL reports its objective as the mean cosine similarity (to maximise); ``2 - 2 cos`` is
      an affine function of it (same minimiser, gradients scaled by 2, sign flipped to a loss).
    - BYOL sums the two symmetric terms; they are averaged here so that the symmetric and the
      one-sided loss share the ``[0, 4]`` range (this halves the gradient: a learning-rate
      constant).
    - **Targets are detached inside the loss**: gradients never flow to ``t1``/``t2`` (nor,
      through them, to the target network), even if they require grad. Updating the target
      (exponential moving average of the online weights) is the method's job, not the loss's.

    Args:
        symmetric: average the two directions ``(p1, t2)`` and ``(p2, t1)``; ``forward`` then
            requires ``p2`` and ``t1``. With ``False`` only ``(p1, t2)`` is used and passing
            ``p2``/``t1`` is an error (rather than silently ignoring them).

    Shapes: ``p1, t2 [, p2, t1]: [N, d]`` (row ``i`` of a prediction is paired with row ``i``
    of the target) -> scalar.

    Example:
        >>> loss_fn = BootstrapLoss()
        >>> h1, h2 = online_encoder(v1.x, v1.edge_index), online_encoder(v2.x, v2.edge_index)
        >>> with torch.no_grad():
        ...     t1 = target_encoder(v1.x, v1.edge_index)
        ...     t2 = target_encoder(v2.x, v2.edge_index)
        >>> loss = loss_fn(predictor(h1), t2, predictor(h2), t1)
    """

    def __init__(self, symmetric: bool = True):
        super().__init__()
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be a bool, got {symmetric!r}")
        self.symmetric = symmetric

    def forward(self, p1: torch.Tensor, t2: torch.Tensor, p2: torch.Tensor | None = None,
                t1: torch.Tensor | None = None) -> torch.Tensor:
        if not self.symmetric:
            if p2 is not None or t1 is not None:
                raise ValueError("symmetric=False uses only (p1, t2); got p2/t1 as well (use "
                                 "BootstrapLoss(symmetric=True) to average both directions)")
            return self._one_way(p1, t2, "p1", "t2")
        missing = [name for name, t in (("p2", p2), ("t1", t1)) if t is None]
        if missing:
            raise ValueError(f"symmetric=True needs both pairs (p1, t2) and (p2, t1); missing "
                             f"{', '.join(missing)} (or use BootstrapLoss(symmetric=False))")
        return 0.5 * (self._one_way(p1, t2, "p1", "t2") + self._one_way(p2, t1, "p2", "t1"))

    @staticmethod
    def _one_way(p: torch.Tensor, t: torch.Tensor, p_name: str, t_name: str) -> torch.Tensor:
        _check_aligned(p_name, p, t_name, t)
        p = F.normalize(p, dim=1)
        t = F.normalize(t.detach(), dim=1)
        return 2.0 - 2.0 * (p * t).sum(dim=1).mean()

    def extra_repr(self):
        return f"symmetric={self.symmetric}"


def _check_aligned(a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor):
    """Row-aligned 2-D tensors of the same shape ``[N, d]``, ``N >= 1`` (named in errors)."""
    for name, z in ((a_name, a), (b_name, b)):
        if not isinstance(z, torch.Tensor) or z.dim() != 2:
            shape = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"{name} must be a 2-D tensor [num_samples, dim], got {shape}")
    if a.shape != b.shape:
        raise ValueError(f"{a_name} and {b_name} must have the same shape (row i of each is a "
                         f"pair), got {list(a.shape)} and {list(b.shape)}")
    if a.size(0) < 1:
        raise ValueError(f"{a_name} and {b_name} must have at least 1 row, got 0")
