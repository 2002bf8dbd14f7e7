"""VICReg variance-invariance-covariance loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_non_negative, check_positive
from ._checks import check_pair


class VICReg(nn.Module):
    r"""VICReg (Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
    Self-Supervised Learning", ICLR 2022).

    .. math::
        \mathcal L = \lambda\, s(Z_1, Z_2) + \mu\, \tfrac12 [v(Z_1) + v(Z_2)]
                     + \nu\, [c(Z_1) + c(Z_2)]

    * invariance :math:`s = \frac{1}{Nd} \sum_{n,k} (Z_{1,nk} - Z_{2,nk})^2` (mean squared error);
    * variance :math:`v(Z) = \frac1d \sum_k \max(0, \gamma - \sqrt{\mathrm{Var}(Z_{:,k}) +
      \epsilon})`, unbiased variance over the batch;
    * covariance :math:`c(Z) = \frac1d \sum_{i \ne j} \mathrm{Cov}(Z)_{ij}^2`, with
      :math:`\mathrm{Cov}(Z) = \frac{1}{N-1} (Z - \bar Z)^\top (Z - \bar Z)`.

    Where paper and code differ, this follows the authors' code, for which the default weights
    (25, 25, 1) were tuned: :math:`s` averages over the ``N d`` entries (the paper's formula sums
    over dimensions, a factor ``d`` larger) and the two variance terms are averaged (the paper's
    formula sums them). The covariance terms are summed, as in both.

    A collapsed batch (all rows equal) gives :math:`s = 0`, :math:`c = 0` and
    :math:`v = \max(0, \gamma - \sqrt\epsilon)`, so :math:`\mathcal L = \mu (\gamma -
    \sqrt\epsilon)`: finite, with finite gradients, thanks to ``eps``.

    Cost: two ``d x d`` covariance products over the batch (:math:`O(N d^2)`).

    Args:
        sim_weight: :math:`\lambda \ge 0`, weight of the invariance term.
        var_weight: :math:`\mu \ge 0`, weight of the variance term.
        cov_weight: :math:`\nu \ge 0`, weight of the covariance term.
        gamma: :math:`\gamma > 0`, target standard deviation of each dimension.
        eps: :math:`\epsilon > 0` added to the variance before the square root.

    Shapes: ``z1, z2: [N, d]`` with ``N >= 2`` -> scalar. :meth:`terms` returns the three
    unweighted terms (for logging).

    Example:
        >>> loss_fn = VICReg()
        >>> loss = loss_fn(projector(encoder(v1.x, v1.edge_index)),
        ...                projector(encoder(v2.x, v2.edge_index)))
    """

    def __init__(self, sim_weight: float = 25.0, var_weight: float = 25.0,
                 cov_weight: float = 1.0, gamma: float = 1.0, eps: float = 1e-4):
        super().__init__()
        self.sim_weight = check_non_negative("sim_weight", sim_weight)
        self.var_weight = check_non_negative("var_weight", var_weight)
        self.cov_weight = check_non_negative("cov_weight", cov_weight)
        self.gamma = check_positive("gamma", gamma)
        self.eps = check_positive("eps", eps)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        inv, var, cov = self.terms(z1, z2)
        return self.sim_weight * inv + self.var_weight * var + self.cov_weight * cov

    def terms(self, z1: torch.Tensor, z2: torch.Tensor):
        """Unweighted ``(invariance, variance, covariance)`` terms, each a scalar; the variance
        term is already averaged over the two views and the covariance term summed."""
        check_pair(z1, z2, min_rows=0)
        n, d = z1.shape
        if n < 2 or d < 1:
            raise ValueError(f"VICReg takes variances over the batch and needs z1, z2 with at "
                             f"least 2 rows and 1 column, got {list(z1.shape)}")
        inv = F.mse_loss(z1, z2)
        z1, z2 = z1 - z1.mean(0), z2 - z2.mean(0)
        var = 0.5 * (self._variance(z1, n) + self._variance(z2, n))
        cov = self._covariance(z1, n, d) + self._covariance(z2, n, d)
        return inv, var, cov

    def _variance(self, zc: torch.Tensor, n: int) -> torch.Tensor:
        std = (zc.pow(2).sum(0) / (n - 1) + self.eps).sqrt()
        return F.relu(self.gamma - std).mean()

    @staticmethod
    def _covariance(zc: torch.Tensor, n: int, d: int) -> torch.Tensor:
        cov = (zc.t() @ zc).div_(n - 1)
        # off-diagonal entries as a view: drop the last entry, rows of d + 1 start at a diagonal
        return cov.flatten()[:-1].view(d - 1, d + 1)[:, 1:].pow(2).sum() / d

    def extra_repr(self):
        return (f"sim_weight={self.sim_weight}, var_weight={self.var_weight}, "
                f"cov_weight={self.cov_weight}, gamma={self.gamma}, eps={self.eps}")
