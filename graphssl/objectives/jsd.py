"""Jensen-Shannon mutual-information estimator between local and global embeddings."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_positive_int


class JSD(nn.Module):
    r"""Local-global mutual information, Jensen-Shannon estimator, as in DGI (Velickovic et al.,
    "Deep Graph Infomax", ICLR 2019), InfoGraph and MVGRL.

    A discriminator scores (local, summary) pairs; positives come from the real graph, negatives
    from a corrupted one. The loss is binary cross-entropy on the scores, i.e. the negative JSD
    lower bound on MI up to constants:

    .. math:: \mathcal L = \tfrac12\left(\mathbb E_{pos}[\mathrm{sp}(-T)] +
              \mathbb E_{neg}[\mathrm{sp}(T)]\right), \quad \mathrm{sp}(t)=\log(1+e^t)

    Args:
        dim: embedding size of locals and summaries.
        discriminator: ``'bilinear'`` (:math:`T = h^\top W s + b`, DGI) or ``'dot'``
            (:math:`T = h^\top s`, InfoGraph).

    Shapes: ``pos [N, d]``, ``neg [M, d]``; ``summary [d]`` (one graph) or ``[G, d]`` with
    ``pos_index [N]`` / ``neg_index [M]`` giving each local row's graph -> scalar.

    Example:
        >>> jsd = JSD(512)
        >>> loss = jsd(h, h_corrupted, torch.sigmoid(h.mean(0)))
    """

    DISCRIMINATORS = ("bilinear", "dot")

    def __init__(self, dim: int, discriminator: str = "bilinear"):
        super().__init__()
        dim = check_positive_int("dim", dim)
        if discriminator not in self.DISCRIMINATORS:
            raise ValueError(f"discriminator must be one of {self.DISCRIMINATORS}, got "
                             f"{discriminator!r}")
        self.dim, self.discriminator = dim, discriminator
        if discriminator == "bilinear":
            self.weight = nn.Parameter(torch.empty(dim, dim))
            self.bias = nn.Parameter(torch.zeros(1))
        self.reset_parameters()

    def reset_parameters(self):
        if self.discriminator == "bilinear":
            nn.init.xavier_uniform_(self.weight)
            nn.init.zeros_(self.bias)

    def _summary_side(self, summary: torch.Tensor) -> torch.Tensor:
        # h^T W s = h . (W s): apply W to the few summaries, not to the many locals
        return summary @ self.weight.t() if self.discriminator == "bilinear" else summary

    def score(self, local: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
        """Discriminator logits of row-aligned ``local [N, d]`` and ``summary [N, d]``."""
        out = (local * self._summary_side(summary)).sum(-1)
        return out + self.bias if self.discriminator == "bilinear" else out

    def forward(self, pos: torch.Tensor, neg: torch.Tensor, summary: torch.Tensor,
                pos_index: torch.Tensor | None = None,
                neg_index: torch.Tensor | None = None) -> torch.Tensor:
        for name, t in (("pos", pos), ("neg", neg)):
            if t.dim() != 2 or t.size(1) != self.dim:
                raise ValueError(f"{name} must have shape [num_samples, {self.dim}], got "
                                 f"{list(t.shape)}")
        if summary.dim() == 1:
            summary = summary.unsqueeze(0)
        if summary.dim() != 2 or summary.size(1) != self.dim:
            raise ValueError(f"summary must have shape [{self.dim}] or [num_graphs, {self.dim}], "
                             f"got {list(summary.shape)}")
        if summary.size(0) > 1 and (pos_index is None or neg_index is None):
            raise ValueError("with several summaries, pass pos_index and neg_index (the graph of "
                             "each local row)")
        ws = self._summary_side(summary)
        bias = self.bias if self.discriminator == "bilinear" else 0.0

        def logits(local, index):
            if index is None:  # one summary: a matrix-vector product
                return local @ ws[0] + bias
            return (local * ws[index]).sum(-1) + bias

        return 0.5 * (F.softplus(-logits(pos, pos_index)).mean() +
                      F.softplus(logits(neg, neg_index)).mean())

    def pairwise(self, local: torch.Tensor, summary: torch.Tensor,
                 index: torch.Tensor) -> torch.Tensor:
        """All (local, summary) pairs of a batch of graphs (InfoGraph, graph-level MVGRL): row
        ``i`` of ``local [N, d]`` is a positive with its own graph's summary ``summary[index[i]]``
        and a negative with every other graph's summary (``summary [G, d]``, ``G >= 2``).
        Scores are one ``[N, G]`` product."""
        if local.dim() != 2 or local.size(1) != self.dim:
            raise ValueError(f"local must have shape [num_nodes, {self.dim}], got "
                             f"{list(local.shape)}")
        if summary.dim() != 2 or summary.size(1) != self.dim:
            raise ValueError(f"summary must have shape [num_graphs, {self.dim}], got "
                             f"{list(summary.shape)}")
        if summary.size(0) < 2:
            raise ValueError("pairwise JSD needs at least 2 graphs in a batch: the other graphs "
                             "are the negatives (use batch_size >= 2)")
        if index.shape != (local.size(0),):
            raise ValueError(f"index must have shape [{local.size(0)}], got {list(index.shape)}")
        scores = local @ self._summary_side(summary).t()
        if self.discriminator == "bilinear":
            scores = scores + self.bias
        positive = torch.zeros_like(scores, dtype=torch.bool)
        positive[torch.arange(local.size(0), device=local.device), index] = True
        pos_term = F.softplus(-scores[positive]).mean()
        neg_term = F.softplus(scores[~positive]).mean()
        return 0.5 * (pos_term + neg_term)

    def extra_repr(self):
        return f"dim={self.dim}, discriminator={self.discriminator!r}"
