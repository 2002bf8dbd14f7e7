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

    Cost: three ``N x N`` similarity products (``z1 z2^T``, ``z1 z1^T``, ``z2 z2^T``); with
    normalised embeddings the logits are bounded by ``1/tau``, so the exponentials use that fixed
    shift and each product needs one ``N x N`` buffer.

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
            return self._bounded(z1, z2)
        return self._general(z1, z2)

    def _exp_sim(self, a, b, shift):
        # one N x N buffer: matmul output scaled, shifted and exponentiated in place
        return (a @ b.t()).mul_(1.0 / self.temperature).sub_(shift).exp_()

    def _bounded(self, z1, z2):
        c = 1.0 / self.temperature  # logits of unit vectors are <= 1/tau
        pos = (z1 * z2).sum(1) / self.temperature - c
        e12 = self._exp_sim(z1, z2, c)
        den1 = e12.sum(1)
        den2 = e12.sum(0) if self.symmetric else None
        if self.intra_view_negatives:
            self_term1 = ((z1 * z1).sum(1) / self.temperature - c).exp()
            den1 = den1 + self._exp_sim(z1, z1, c).sum(1) - self_term1
            if self.symmetric:
                self_term2 = ((z2 * z2).sum(1) / self.temperature - c).exp()
                den2 = den2 + self._exp_sim(z2, z2, c).sum(1) - self_term2
        pos_exp = pos.exp()
        # the denominator contains the positive term: clamping at it only removes round-off
        loss1 = (torch.maximum(den1, pos_exp).log() - pos).mean()
        if not self.symmetric:
            return loss1
        loss2 = (torch.maximum(den2, pos_exp).log() - pos).mean()
        return 0.5 * (loss1 + loss2)

    def _general(self, z1, z2):
        t = self.temperature
        s12 = z1 @ z2.t() / t
        pos = s12.diagonal()

        def side(inter, own):
            logits = [inter]
            if self.intra_view_negatives:
                eye = torch.eye(own.size(0), dtype=torch.bool, device=own.device)
                logits.append((own @ own.t() / t).masked_fill(eye, float("-inf")))
            return (torch.logsumexp(torch.cat(logits, dim=1), dim=1) - pos).mean()

        loss1 = side(s12, z1)
        return loss1 if not self.symmetric else 0.5 * (loss1 + side(s12.t(), z2))

    def extra_repr(self):
        return (f"temperature={self.temperature}, intra_view_negatives="
                f"{self.intra_view_negatives}, symmetric={self.symmetric}, "
                f"normalize={self.normalize}")
