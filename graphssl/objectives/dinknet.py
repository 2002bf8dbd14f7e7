"""Dink-Net's clustering objective: cluster dilation (centres apart) plus cluster shrink."""
from __future__ import annotations

import torch
from torch import nn


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``[N, M]`` between the rows of ``a [N, d]`` and ``b [M, d]``,
    without an ``[N, M, d]`` buffer (clamped at 0 against rounding)."""
    return (a.pow(2).sum(1, keepdim=True) - 2 * a @ b.t() + b.pow(2).sum(1)).clamp_min(0)


class DinkNetLoss(nn.Module):
    r"""The dilation and shrink losses of Dink-Net (Liu, Liang, Xia, Zhou, Yang, Liu, Li,
    "Dink-Net: Neural Clustering on Large Graphs", ICML 2023), on node embeddings
    :math:`h_i` (``N`` rows) and cluster centres :math:`c_k` (``K`` rows).

    .. math::
        \mathcal L_{\mathrm{shrink}} = \frac{1}{NK} \sum_{i=1}^N \sum_{k=1}^K
        \lVert h_i - c_k \rVert^2, \qquad
        \mathcal L_{\mathrm{dilation}} = -\frac{1}{P} \sum_{k=1}^K \sum_{l=1}^K
        \lVert c_k - c_l \rVert^2, \qquad
        \mathcal L = \mathcal L_{\mathrm{shrink}} + \mathcal L_{\mathrm{dilation}}

    The shrink term pulls every sample towards *every* centre (so all the centres towards the
    data), the dilation term pushes the centres apart; the two are adversarial. ``P`` is
    ``K * K`` by default, the mean over all ordered pairs including the zero self-distances, as
    the authors' code computes it (its ``no_diag`` helper discards its result);
    ``exclude_self_pairs=True`` uses ``P = K (K - 1)``, the mean over distinct pairs.

    **Unbounded below.** With :math:`\bar h`, :math:`\bar c` the means of the samples and of the
    centres, :math:`\mathcal L_{\mathrm{shrink}} = \mathrm{var}(h) + \lVert \bar h - \bar c
    \rVert^2 + S` and (default ``P``) :math:`\mathcal L_{\mathrm{dilation}} = -2 S`, where
    :math:`S = \frac1K \sum_k \lVert c_k - \bar c \rVert^2` is the spread of the centres; so
    :math:`\mathcal L = \mathrm{var}(h) + \lVert \bar h - \bar c \rVert^2 - S` decreases without
    limit as the centres move apart. Dink-Net optimises it for a fixed number of steps from
    k-means centres (and with L2-normalised embeddings); the clusters are the nearest centres.

    Args:
        exclude_self_pairs: average the dilation over the ``K (K - 1)`` distinct pairs instead
            of all ``K * K`` pairs.

    Shapes: ``h: [N, d]``, ``centers: [K, d]`` (``N >= 1``, ``K >= 2``) -> scalar;
    :meth:`shrink` ``([N, d], [K, d]) -> scalar``; :meth:`dilation` ``[K, d] -> scalar``.

    Example:
        >>> loss_fn = DinkNetLoss()
        >>> h = F.normalize(torch.randn(100, 16), dim=1)
        >>> centers = torch.randn(7, 16, requires_grad=True)
        >>> loss = loss_fn(h, centers)            # shrink + dilation
        >>> loss_fn.dilation(centers) <= 0
        tensor(True)
    """

    def __init__(self, exclude_self_pairs: bool = False):
        super().__init__()
        if not isinstance(exclude_self_pairs, bool):
            raise ValueError(f"exclude_self_pairs must be True or False, got "
                             f"{exclude_self_pairs!r}")
        self.exclude_self_pairs = exclude_self_pairs

    @staticmethod
    def _check(name: str, t, min_rows: int, dim: int | None = None) -> None:
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            shape = list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must be a 2-D tensor [rows, dim], got {shape}")
        if t.size(0) < min_rows:
            raise ValueError(f"{name} must have at least {min_rows} rows, got {t.size(0)}")
        if dim is not None and t.size(1) != dim:
            raise ValueError(f"{name} must have {dim} columns (the centres' dimension), got "
                             f"{t.size(1)}")

    def shrink(self, h: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Mean squared distance between every sample and every centre (scalar)."""
        self._check("centers", centers, 1)
        self._check("h", h, 1, centers.size(1))
        return squared_distances(h, centers.to(h.dtype)).mean()

    def dilation(self, centers: torch.Tensor) -> torch.Tensor:
        """Minus the mean squared distance between the centres (scalar, ``<= 0``)."""
        self._check("centers", centers, 2)
        k = centers.size(0)
        total = squared_distances(centers, centers).sum()
        return -total / (k * (k - 1) if self.exclude_self_pairs else k * k)

    def forward(self, h: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        return self.shrink(h, centers) + self.dilation(centers)

    def extra_repr(self) -> str:
        return f"exclude_self_pairs={self.exclude_self_pairs}"
