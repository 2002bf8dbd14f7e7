"""Deep Embedded Clustering: KL self-training towards a sharpened Student-t soft assignment."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int, check_positive


class DEC(nn.Module):
    r"""Deep Embedded Clustering (Xie, Girshick, Farhadi, "Unsupervised Deep Embedding for
    Clustering Analysis", ICML 2016), with its learnable cluster centres
    :math:`\mu \in \mathbb R^{K \times d}`.

    Soft assignment of embedding :math:`z_i` to centre :math:`\mu_j` by a Student-t kernel with
    :math:`\alpha` degrees of freedom (Eq. 1), the sharpened target (Eq. 3) and the loss (Eq. 2):

    .. math::
        q_{ij} = \frac{(1 + \lVert z_i - \mu_j \rVert^2 / \alpha)^{-\frac{\alpha+1}{2}}}
        {\sum_{j'} (1 + \lVert z_i - \mu_{j'} \rVert^2 / \alpha)^{-\frac{\alpha+1}{2}}}, \qquad
        p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}, \quad f_j = \sum_i q_{ij},
        \qquad
        \mathcal L = \mathrm{KL}(P \,\Vert\, Q) = \frac1N \sum_i \sum_j p_{ij}
        \log \frac{p_{ij}}{q_{ij}}

    :math:`P` is a constant target (no gradient flows through it); gradients reach the
    embeddings and the centres through :math:`Q`. :math:`\mathcal L \ge 0`, with equality when
    :math:`P = Q` (e.g. every point equidistant from all centres). ``log q`` is computed in log
    space (``log1p`` and ``logsumexp``), so far-away points neither underflow nor give ``-inf``.

    **Target schedule.** By default ``forward(z)`` computes :math:`P` from the :math:`Q` of the
    same batch (self-training at every step). The paper instead recomputes :math:`P` over the
    whole data set every few iterations: do that with :meth:`soft_assignment` and
    :meth:`target_distribution` under ``torch.no_grad()`` and pass the rows of the batch as
    ``forward(z, target=p)``.

    **Centres.** They start random (Xavier-normal); the paper initialises them by k-means on the
    embeddings of a pretrained encoder: call :meth:`init_centers` before training. ``forward``
    accepts any batch size ``N >= 1`` (a mini-batch may hold fewer points than clusters);
    :meth:`init_centers` needs at least ``num_clusters`` rows.

    Args:
        num_clusters: number of clusters ``K >= 2``.
        embedding_dim: embedding size ``d >= 1``.
        alpha: Student-t degrees of freedom :math:`\alpha > 0` (the paper uses 1).

    Shapes: ``z: [N, embedding_dim]`` -> scalar; ``centers: [K, embedding_dim]``;
    :meth:`soft_assignment` ``[N, d] -> [N, K]``; :meth:`target_distribution`
    ``[N, K] -> [N, K]``.

    Example:
        >>> dec = DEC(num_clusters=7, embedding_dim=128)
        >>> with torch.no_grad():
        ...     dec.init_centers(encoder(data.x, data.edge_index))
        >>> z = encoder(data.x, data.edge_index)
        >>> loss = dec(z)
        >>> labels = dec.soft_assignment(z).argmax(dim=1)
    """

    def __init__(self, num_clusters: int, embedding_dim: int, alpha: float = 1.0):
        super().__init__()
        self.num_clusters = check_int("num_clusters", num_clusters, 2)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, 1)
        self.alpha = check_positive("alpha", alpha)
        self.centers = nn.Parameter(torch.empty(num_clusters, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.xavier_normal_(self.centers)

    def _check_z(self, z, min_rows=1):
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.size(1) != self.embedding_dim:
            shape = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must have shape [num_samples, {self.embedding_dim}] "
                             f"(embedding_dim={self.embedding_dim}), got {shape}")
        if z.size(0) < min_rows:
            raise ValueError(f"z must have at least {min_rows} rows, got {z.size(0)}")

    def log_soft_assignment(self, z: torch.Tensor) -> torch.Tensor:
        """``log q`` ``[N, K]`` (Student-t kernel, rows normalised), computed in log space."""
        self._check_z(z)
        mu = self.centers.to(z.dtype)
        # squared distances [N, K] without an [N, K, d] buffer (finite gradients at distance 0)
        dist = (z.pow(2).sum(1, keepdim=True) - 2 * z @ mu.t() + mu.pow(2).sum(1)).clamp_min(0)
        logits = -0.5 * (self.alpha + 1.0) * torch.log1p(dist / self.alpha)
        return logits - torch.logsumexp(logits, dim=1, keepdim=True)

    def soft_assignment(self, z: torch.Tensor) -> torch.Tensor:
        """Soft assignments ``q`` ``[N, K]`` of ``z [N, d]`` to the centres; rows sum to 1."""
        return self.log_soft_assignment(z).exp()

    @staticmethod
    def target_distribution(q: torch.Tensor) -> torch.Tensor:
        r"""Sharpened target ``p`` ``[N, K]`` of soft assignments ``q [N, K]``:
        :math:`p_{ij} \propto q_{ij}^2 / f_j`, :math:`f_j = \sum_i q_{ij}`, rows summing to 1.
        Detached (a target). Computed over the rows given: pass the whole data set's ``q`` for
        the paper's schedule."""
        if not isinstance(q, torch.Tensor) or q.dim() != 2 or q.size(0) < 1 or q.size(1) < 1:
            shape = list(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
            raise ValueError(f"q must be a non-empty 2-D tensor [num_samples, num_clusters], got "
                             f"{shape}")
        q = q.detach()
        weight = q.pow(2) / q.sum(dim=0).clamp_min(torch.finfo(q.dtype).tiny)
        return weight / weight.sum(dim=1, keepdim=True)

    def forward(self, z: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        log_q = self.log_soft_assignment(z)
        if target is None:
            target = self.target_distribution(log_q.exp())
        elif not isinstance(target, torch.Tensor) or target.shape != log_q.shape:
            shape = list(target.shape) if isinstance(target, torch.Tensor) else \
                type(target).__name__
            raise ValueError(f"target must have shape {list(log_q.shape)} ([num_samples, "
                             f"num_clusters]), got {shape}")
        # KL(P || Q), batchmean; 0 * log 0 = 0
        return F.kl_div(log_q, target.detach().to(log_q.dtype), reduction="batchmean")

    @torch.no_grad()
    def init_centers(self, z: torch.Tensor, generator: torch.Generator | None = None,
                     n_init: int = 10) -> torch.Tensor:
        """Set the centres to the k-means centroids of ``z [N, d]`` (``N >= num_clusters``):
        scikit-learn's ``KMeans`` (k-means++ seeding, best of ``n_init`` runs), seeded by one
        draw from ``generator`` (torch's global RNG if ``None``, so ``torch.manual_seed`` makes
        it reproducible). Returns the centres (``[K, d]``, the parameter's data)."""
        from sklearn.cluster import KMeans

        self._check_z(z, min_rows=self.num_clusters)
        n_init = check_int("n_init", n_init, 1)
        seed = int(torch.randint(2 ** 31 - 1, (1,), generator=generator))
        points = z.detach().to("cpu", torch.float64).numpy()
        km = KMeans(n_clusters=self.num_clusters, n_init=n_init, random_state=seed).fit(points)
        centers = torch.from_numpy(km.cluster_centers_)
        self.centers.copy_(centers.to(self.centers.device, self.centers.dtype))
        return self.centers.data

    def extra_repr(self):
        return (f"num_clusters={self.num_clusters}, embedding_dim={self.embedding_dim}, "
                f"alpha={self.alpha}")
