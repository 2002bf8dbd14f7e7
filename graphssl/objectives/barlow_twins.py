"""Barlow Twins redundancy-reduction loss."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_positive
from ._checks import check_pair


class BarlowTwins(nn.Module):
    r"""Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny, "Barlow Twins: Self-Supervised Learning
    via Redundancy Reduction", ICML 2021), used on graphs by G-BT (Bielak, Kajdanowicz, Chawla,
    "Graph Barlow Twins: A self-supervised representation learning framework for graphs",
    Knowledge-Based Systems, 2022).

    Each dimension of each view is standardised over the batch (the paper's BatchNorm without
    affine parameters: biased variance, ``eps`` inside the square root), then the
    cross-correlation matrix of the two views is pushed to the identity:

    .. math::
        \hat z = \frac{z - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
        C = \tfrac1N \hat z_1^\top \hat z_2 \in \mathbb R^{d \times d}, \qquad
        \mathcal L = \sum_i (1 - C_{ii})^2 + \lambda \sum_{i \ne j} C_{ij}^2

    :math:`\mathcal L \ge 0`, with equality when the views are equal and their dimensions are
    uncorrelated over the batch. A collapsed batch (all rows equal, variance 0) gives
    :math:`\hat z = 0`, :math:`C = 0` and :math:`\mathcal L = d`, finite with finite gradients
    thanks to ``eps``.

    Where the papers differ: G-BT's code standardises with the unbiased std and adds its epsilon
    to the std, not the variance (the difference is a factor :math:`(N-1)/N` on :math:`C`), and
    uses :math:`\lambda = 1/d`; the default here is the ICML paper's :math:`\lambda = 5 \cdot
    10^{-3}`. The early Barlow Twins code also multiplied the loss by a ``scale_loss`` constant,
    which the published paper drops; it is not offered (scale the loss yourself if needed).

    Cost: one ``d x d`` product over the batch (:math:`O(N d^2)`).

    Args:
        lambda_: :math:`\lambda > 0`, weight of the redundancy-reduction (off-diagonal) term.
        batch_norm: standardise each dimension over the batch first (as in the paper); with
            ``False`` the inputs are used as given (already normalised by the caller).
        eps: :math:`\epsilon > 0` added to the variance.

    Shapes: ``z1, z2: [N, d]`` with ``N >= 2`` (with ``batch_norm``) -> scalar.

    Example:
        >>> loss_fn = BarlowTwins(lambda_=5e-3)
        >>> loss = loss_fn(projector(encoder(v1.x, v1.edge_index)),
        ...                projector(encoder(v2.x, v2.edge_index)))
    """

    def __init__(self, lambda_: float = 5e-3, batch_norm: bool = True, eps: float = 1e-5):
        super().__init__()
        self.lambda_ = check_positive("lambda_", lambda_)
        self.batch_norm = bool(batch_norm)
        self.eps = check_positive("eps", eps)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_pair(z1, z2, min_rows=0)
        n, d = z1.shape
        if (self.batch_norm and n < 2) or n < 1 or d < 1:
            raise ValueError(f"BarlowTwins standardises each dimension over the batch and needs "
                             f"z1, z2 with at least 2 rows and 1 column, got {list(z1.shape)}")
        if self.batch_norm:
            z1, z2 = self._standardise(z1), self._standardise(z2)
        c = (z1.t() @ z2).div_(n)
        on_diag = (1 - c.diagonal()).pow(2).sum()
        # off-diagonal entries as a view: drop the last entry, rows of d + 1 start at a diagonal
        off_diag = c.flatten()[:-1].view(d - 1, d + 1)[:, 1:].pow(2).sum()
        return on_diag + self.lambda_ * off_diag

    def _standardise(self, z: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(z, dim=0, correction=0)
        return (z - mean) * torch.rsqrt(var + self.eps)

    def extra_repr(self):
        return f"lambda_={self.lambda_}, batch_norm={self.batch_norm}, eps={self.eps}"
