"""CCA-SSG canonical-correlation loss."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_positive
from ._checks import check_pair


class CCA_SSG(nn.Module):
    r"""CCA-SSG (Zhang, Wu, Yang, Yu, "From Canonical Correlation Analysis to Self-supervised
    Graph Neural Networks", NeurIPS 2021).

    Each dimension of each view is standardised over the batch and scaled by
    :math:`1/\sqrt N`, so that :math:`\tilde Z^\top \tilde Z` is the correlation matrix of the
    dimensions; then

    .. math::
        \tilde Z = \frac{Z - \mu}{\sqrt{N \max(\sigma^2, \epsilon)}}, \qquad
        \mathcal L = \|\tilde Z_1 - \tilde Z_2\|_F^2
        + \lambda \left(\|\tilde Z_1^\top \tilde Z_1 - I\|_F^2
        + \|\tilde Z_2^\top \tilde Z_2 - I\|_F^2\right)

    (the paper's Eq. 5), with :math:`\sigma^2` the biased variance over the batch.
    :math:`\mathcal L \ge 0`, with equality (up to ``eps``) when the views are equal and their
    dimensions uncorrelated. A collapsed batch (all rows equal, variance 0) gives
    :math:`\tilde Z = 0` and :math:`\mathcal L = 2 \lambda d`, finite with finite gradients
    thanks to ``eps``.

    Where the paper and the authors' code differ: the code standardises with the unbiased std
    and no epsilon (a factor :math:`(N-1)/N` on the correlations, and NaN on a collapsed batch),
    and its invariance term is :math:`-\mathrm{tr}(\tilde Z_1^\top \tilde Z_2)`. Since
    :math:`\|\tilde Z_1 - \tilde Z_2\|_F^2 = \|\tilde Z_1\|_F^2 + \|\tilde Z_2\|_F^2 -
    2\,\mathrm{tr}(\tilde Z_1^\top \tilde Z_2)` and :math:`\|\tilde Z\|_F^2 \approx d`, this loss
    with ``lambda_ = 2 * lambd`` is twice the code's loss with ``lambd`` plus :math:`2d`: the
    authors' per-dataset ``lambd`` values carry over doubled (the overall factor 2 only rescales
    gradients).

    Cost: two ``d x d`` Gram products over the batch (:math:`O(N d^2)`).

    Args:
        lambda_: :math:`\lambda > 0`, weight of the decorrelation term.
        eps: :math:`\epsilon > 0`, a floor on the variance that only guards constant columns
            (a floor, not an addition: an additive epsilon makes small-scale outputs, such as
            a GCN's on row-normalised bag-of-words features, look collapsed, and collapse then
            becomes a minimum of the loss at ``2 lambda_ d``; measured on Cora).

    Shapes: ``z1, z2: [N, d]`` with ``N >= 2`` -> scalar.

    Example:
        >>> loss_fn = CCA_SSG(lambda_=1e-3)
        >>> loss = loss_fn(encoder(v1.x, v1.edge_index), encoder(v2.x, v2.edge_index))
    """

    def __init__(self, lambda_: float = 1e-3, eps: float = 1e-12):
        super().__init__()
        self.lambda_ = check_positive("lambda_", lambda_)
        self.eps = check_positive("eps", eps)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_pair(z1, z2, min_rows=0)
        n, d = z1.shape
        if n < 2 or d < 1:
            raise ValueError(f"CCA_SSG standardises each dimension over the batch and needs "
                             f"z1, z2 with at least 2 rows and 1 column, got {list(z1.shape)}")
        z1, z2 = self._standardise(z1, n), self._standardise(z2, n)
        invariance = (z1 - z2).pow(2).sum()
        eye = torch.eye(d, dtype=z1.dtype, device=z1.device)
        decorrelation = (z1.t() @ z1 - eye).pow(2).sum() + (z2.t() @ z2 - eye).pow(2).sum()
        return invariance + self.lambda_ * decorrelation

    def _standardise(self, z: torch.Tensor, n: int) -> torch.Tensor:
        var, mean = torch.var_mean(z, dim=0, correction=0)
        return (z - mean) * torch.rsqrt(var.clamp_min(self.eps).mul(n))

    def extra_repr(self):
        return f"lambda_={self.lambda_}, eps={self.eps}"
