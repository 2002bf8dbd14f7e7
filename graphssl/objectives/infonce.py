"""InfoNCE / NT-Xent contrastive loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_pair, check_positive


class InfoNCE(nn.Module):
    r"""InfoNCE over two views, as in GRACE (Zhu et al., "Deep Graph Contrastive Representation
    Learning", 2020) and SimCLR's NT-Xent (Chen et al., ICML 2020): the same class serves both.

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are a positive pair; every other row of the other
    view (and, with ``intra_view_negatives``, of the same view) is a negative:

    .. math::
        \ell_i = -\log \frac{e^{s(z_1^i, z_2^i)/\tau}}
        {\sum_j e^{s(z_1^i, z_2^j)/\tau} + \sum_{j \ne i} e^{s(z_1^i, z_1^j)/\tau}}

    with :math:`s` the cosine similarity (dot product if ``normalize=False``); the loss is the mean
    over anchors of both views (``symmetric=True``) or of view 1 only.

    Cost: three ``N x N`` similarity products (``z1 z2^T``, ``z1 z1^T``, ``z2 z2^T``), each
    reduced with a stable ``logsumexp`` (finite for any temperature), one ``N x N`` buffer each.

    Args:
        temperature: :math:`\tau > 0`.
        intra_view_negatives: also contrast against the other rows of the anchor's own view.
        symmetric: average the loss with view 2 as anchor.
        normalize: L2-normalise rows first (cosine similarity).

    Shapes: ``z1, z2: [N, d]`` -> scalar.

    Example:
        >>> loss_fn = InfoNCE(temperature=0.5)
        >>> loss = loss_fn(projector(encoder(v1.x, v1.edge_index)),
        ...                projector(encoder(v2.x, v2.edge_index)))
    """

    def __init__(self, temperature: float = 0.5, intra_view_negatives: bool = True,
                 symmetric: bool = True, normalize: bool = True):
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.intra_view_negatives = bool(intra_view_negatives)
        self.symmetric = bool(symmetric)
        self.normalize = bool(normalize)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_pair(z1, z2, min_rows=2)
        if self.normalize:
            z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        s12 = self._logits(z1, z2)
        pos = s12.diagonal()
        lse1 = torch.logsumexp(s12, dim=1)
        lse2 = torch.logsumexp(s12, dim=0) if self.symmetric else None
        if self.intra_view_negatives:
            lse1 = torch.logaddexp(lse1, torch.logsumexp(self._logits(z1, z1, True), dim=1))
            if self.symmetric:
                lse2 = torch.logaddexp(lse2, torch.logsumexp(self._logits(z2, z2, True), dim=1))
        loss = (lse1 - pos).mean()
        return loss if not self.symmetric else 0.5 * (loss + (lse2 - pos).mean())

    def _logits(self, a, b, exclude_self: bool = False):
        # one N x N buffer per product: the matmul output is scaled (and masked) in place;
        # logsumexp is stable for any temperature
        s = (a @ b.t()).mul_(1.0 / self.temperature)
        if exclude_self:
            s.diagonal().fill_(float("-inf"))
        return s

    def extra_repr(self):
        return (f"temperature={self.temperature}, intra_view_negatives="
                f"{self.intra_view_negatives}, symmetric={self.symmetric}, "
                f"normalize={self.normalize}")
