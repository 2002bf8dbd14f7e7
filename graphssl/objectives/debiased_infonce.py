"""Debiased contrastive loss, with optional hard-negative reweighting."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_non_negative, check_number, check_positive
from ._checks import check_pair


class DebiasedInfoNCE(nn.Module):
    r"""Debiased contrastive loss (Chuang, Robinson, Lin, Torralba, Jegelka, "Debiased Contrastive
    Learning", NeurIPS 2020) and, with ``beta > 0``, its hard-negative version (Robinson, Chuang,
    Sra, Jegelka, "Contrastive Learning with Hard Negative Samples", ICLR 2021).

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are a positive pair. For anchor :math:`z_1^i`, the
    positive logit is :math:`p = s(z_1^i, z_2^i)/\tau` and the :math:`M` negative logits
    :math:`l_j = s_j/\tau` are those of the other rows of view 2 and, with
    ``intra_view_negatives``, of the other rows of view 1 (:math:`M = 2N - 2`, else
    :math:`N - 1`); :math:`s` is the cosine similarity. Some "negatives" share the anchor's latent
    class (prior :math:`\tau^+`); the debiased estimator removes their expected contribution:

    .. math::
        w_j = e^{\beta l_j}, \qquad
        R = M \frac{\sum_j w_j e^{l_j}}{\sum_j w_j}, \qquad
        N_g = \max\!\Big(\frac{R - \tau^+ M e^{p}}{1 - \tau^+},\; M e^{-1/\tau}\Big), \qquad
        \ell_i = -\log \frac{e^{p}}{e^{p} + N_g}

    :math:`\beta = 0` gives the plain negative sum :math:`R = \sum_j e^{l_j}`; :math:`\beta > 0`
    importance-weights the negatives towards the hard ones (those most similar to the anchor),
    which can only increase :math:`R` and the loss. The clamp at :math:`M e^{-1/\tau}` (the
    smallest value the sum of :math:`M` cosine terms can take) keeps :math:`N_g` positive. This
    follows the authors' code (both papers share it): the positive stays in the denominator and
    the loss is the mean over anchors of both views (``symmetric=True``) or of view 1 only. With
    ``tau_plus=0, beta=0`` the loss is exactly :class:`InfoNCE` with the same
    ``intra_view_negatives`` and ``symmetric`` (and the default ``decoupled=False``).

    Computed in log space for any temperature: :math:`\log R` by ``logsumexp`` over the masked
    logits (:math:`\log M + \mathrm{LSE}((1+\beta) l) - \mathrm{LSE}(\beta l)` with
    :math:`\beta > 0`), the debiasing subtraction as
    :math:`\log R + \log(1 - e^{\log(\tau^+ M) + p - \log R})` (``expm1``), the clamp as a max of
    logs and :math:`\ell_i = \log(1 + N_g e^{-p})` by ``logaddexp``.

    Cost: three ``N x N`` similarity products (``z1 z2^T``, ``z1 z1^T``, ``z2 z2^T``; the last
    two only with ``intra_view_negatives``), as :class:`InfoNCE`, plus ``N x N`` masked copies for
    the ``logsumexp`` reductions (two more per block with ``beta > 0``).

    Args:
        temperature: :math:`\tau > 0`.
        tau_plus: :math:`\tau^+ \in [0, 1)`, class prior: the probability that a negative shares
            the anchor's class. ``0`` turns the debiasing off.
        beta: :math:`\beta \ge 0`, hardness of the negative reweighting. ``0`` turns it off.
        intra_view_negatives: also contrast against the other rows of the anchor's own view.
        symmetric: average the loss with view 2 as anchor.

    Shapes: ``z1, z2: [N, d]`` with ``N >= 2`` -> scalar.

    Example:
        >>> loss_fn = DebiasedInfoNCE(temperature=0.5, tau_plus=0.1, beta=1.0)
        >>> loss = loss_fn(projector(encoder(v1.x, v1.edge_index)),
        ...                projector(encoder(v2.x, v2.edge_index)))
    """

    def __init__(self, temperature: float = 0.5, tau_plus: float = 0.1, beta: float = 0.0,
                 intra_view_negatives: bool = True, symmetric: bool = True):
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.tau_plus = check_number("tau_plus", tau_plus, low=0, high=1, high_open=True)
        self.beta = check_non_negative("beta", beta)
        self.intra_view_negatives = bool(intra_view_negatives)
        self.symmetric = bool(symmetric)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_pair(z1, z2, min_rows=2)
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        n = z1.size(0)
        c = 1.0 / self.temperature
        self_pair = torch.eye(n, dtype=torch.bool, device=z1.device)
        s12 = (z1 @ z2.t()).mul_(c)
        pos = s12.diagonal()
        neg12 = s12.masked_fill(self_pair, float("-inf"))
        blocks1, blocks2 = [neg12], [neg12.t()]  # view-2 anchors read the columns
        if self.intra_view_negatives:
            blocks1.append((z1 @ z1.t()).mul_(c).masked_fill_(self_pair, float("-inf")))
            if self.symmetric:
                blocks2.append((z2 @ z2.t()).mul_(c).masked_fill_(self_pair, float("-inf")))
        m = (2 * n - 2) if self.intra_view_negatives else (n - 1)
        loss = self._anchor_loss(pos, blocks1, m).mean()
        if self.symmetric:
            loss = 0.5 * (loss + self._anchor_loss(pos, blocks2, m).mean())
        return loss

    @staticmethod
    def _row_logsumexp(blocks, scale: float = 1.0) -> torch.Tensor:
        # scale > 0 only: 0 * -inf (a masked self pair) would be nan
        rows = [torch.logsumexp(b if scale == 1.0 else b * scale, dim=1) for b in blocks]
        return rows[0] if len(rows) == 1 else torch.logsumexp(torch.stack(rows), dim=0)

    def _anchor_loss(self, pos: torch.Tensor, blocks, m: int) -> torch.Tensor:
        """Per-anchor loss, given positive logits ``[N]`` and masked negative logits."""
        if self.beta == 0:
            log_r = self._row_logsumexp(blocks)
        else:  # log(M sum w e / sum w), w = e^{beta l}
            log_r = (math.log(m) + self._row_logsumexp(blocks, 1.0 + self.beta)
                     - self._row_logsumexp(blocks, self.beta))
        log_floor = math.log(m) - 1.0 / self.temperature
        if self.tau_plus > 0:
            # log(R - tau+ M e^p) = log R + log(1 - e^d), d = log(tau+ M e^p / R), defined for
            # d < 0; elsewhere the clamp applies. The where() keeps nan/inf out of the gradient.
            d = math.log(self.tau_plus * m) + pos - log_r
            valid = d < 0
            d_safe = torch.where(valid, d, torch.full_like(d, -1.0))
            log_ng = log_r + torch.log(-torch.expm1(d_safe)) - math.log1p(-self.tau_plus)
            log_ng = torch.where(valid, log_ng, torch.full_like(log_ng, float("-inf")))
        else:
            log_ng = log_r
        log_ng = log_ng.clamp(min=log_floor)
        # log(1 + N_g e^{-p}) without the cancellation of log(e^p + N_g) - p
        return torch.logaddexp(log_ng.new_zeros(()), log_ng - pos)

    def extra_repr(self):
        return (f"temperature={self.temperature}, tau_plus={self.tau_plus}, beta={self.beta}, "
                f"intra_view_negatives={self.intra_view_negatives}, "
                f"symmetric={self.symmetric}")
