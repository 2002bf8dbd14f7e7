"""SwAV: swapped prediction of Sinkhorn-Knopp cluster codes over learnable prototypes."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int, check_positive
from ._checks import check_pair


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, epsilon: float = 0.05,
                   iterations: int = 3) -> torch.Tensor:
    r"""Soft cluster codes with an equipartition constraint (SwAV's Sinkhorn-Knopp, Alg. 1 and
    Sec. 3.1 of Caron et al., NeurIPS 2020; Cuturi, NeurIPS 2013).

    Starting from :math:`Q = \exp(S / \varepsilon)`, each iteration alternates

    1. prototype step: every column of ``Q`` (one prototype) is scaled to sum to ``N/K``;
    2. sample step: every row of ``Q`` (one sample) is scaled to sum to 1.

    This is the paper's algorithm (which writes ``Q`` as ``K x N`` with marginals ``1/K`` and
    ``1/N``, then multiplies by ``N``), up to a constant factor that each full normalisation
    cancels, so the result equals the paper's to rounding.

    **Which marginal is exact.** The last step fixes the rows, so after it every sample's code
    sums to 1 exactly (to rounding). The prototype marginal is only approximate: each column sums
    to ``N/K`` up to the error the last row step introduced, which shrinks geometrically with the
    iterations, faster for larger ``epsilon`` (smoother codes). E.g. for random unit-norm
    embeddings and prototypes (scores in ``[-1, 1]``), ``N = 64``, ``K = 8``, ``epsilon = 0.05``,
    the largest relative column error ``max_k |sum_i Q_ik - N/K| / (N/K)`` is about 0.2-0.55
    after 3 iterations (the paper's default: a loose balance, by design), 0.01-0.04 after 10 and
    below 1e-3 after 30 (the tests check < 1e-3 after 50).

    Numerically stable: the iterations run in log space (``logsumexp``), so ``exp(S/eps)`` is
    never formed and a tiny ``epsilon`` (near-hard assignments) neither overflows nor divides
    zero by zero, unlike the literal ``exp`` form. Half-precision scores are processed in
    float32. No gradient: the codes are targets.

    Args:
        scores: ``[N, K]`` sample-prototype similarities (detached here).
        epsilon: entropic regularisation :math:`\varepsilon > 0` (smaller: harder codes).
        iterations: number of (prototype step, sample step) rounds, ``>= 1``.

    Returns:
        ``[N, K]`` codes, non-negative, rows summing to 1, columns to about ``N/K``; same dtype
        as ``scores``.

    Example:
        >>> q = sinkhorn_knopp(z @ prototypes.t(), epsilon=0.05, iterations=3)
    """
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2:
        shape = list(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a 2-D tensor [num_samples, num_prototypes], got {shape}")
    if scores.size(0) < 1 or scores.size(1) < 1:
        raise ValueError(f"scores must be non-empty, got shape {list(scores.shape)}")
    epsilon = check_positive("epsilon", epsilon)
    iterations = check_int("iterations", iterations, 1)
    n, k = scores.shape
    log_q = scores.detach().to(torch.promote_types(scores.dtype, torch.float32)) / epsilon
    log_cols = math.log(n / k)  # target log-sum of each prototype column
    for _ in range(iterations):
        log_q = log_q - (torch.logsumexp(log_q, dim=0, keepdim=True) - log_cols)
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True)
    return log_q.exp().to(scores.dtype)


class SwAV(nn.Module):
    r"""SwAV's swapped-prediction loss (Caron et al., "Unsupervised Learning of Visual Features by
    Contrasting Cluster Assignments", NeurIPS 2020), with its learnable prototypes.

    Each view's embeddings are assigned to ``K`` prototypes :math:`C \in \mathbb R^{K \times d}`
    by :func:`sinkhorn_knopp` (soft codes, balanced over the batch, no gradient); each view then
    predicts the *other* view's codes from its own scores:

    .. math::
        S_v = \bar Z_v C^\top, \quad Q_v = \mathrm{Sinkhorn}_\varepsilon(S_v), \quad
        \mathcal L = -\frac{1}{2N} \sum_i \sum_k \left( Q_2^{ik} \log \mathrm{softmax}
        (S_1^{i}/\tau)_k + Q_1^{ik} \log \mathrm{softmax}(S_2^{i}/\tau)_k \right)

    with :math:`\bar Z_v` the L2-normalised rows of ``z_v``. Gradients reach the embeddings and
    the prototypes through the softmax term only (codes are targets).

    **Prototype normalisation.** At the start of every ``forward`` the prototype rows are
    rescaled to unit L2 norm in place, under ``torch.no_grad()`` (as the paper does before each
    step), so the scores are cosine similarities. The rescale is skipped when the rows are
    already unit norm (within 1e-5), so two ``forward`` calls before one ``backward`` (e.g.
    several view pairs summed) do not invalidate the first call's graph; after an optimiser step
    the next ``forward`` renormalises. (This check reads one scalar back from the device.)

    Not included (method concerns): freezing the prototypes for the first iterations, the
    feature queue for small batches, multi-crop.

    Args:
        num_prototypes: number of prototypes ``K >= 2``.
        dim: embedding size ``d >= 1``.
        temperature: softmax temperature :math:`\tau > 0` of the prediction.
        epsilon: Sinkhorn entropic regularisation :math:`\varepsilon > 0`.
        sinkhorn_iterations: Sinkhorn-Knopp rounds, ``>= 1``.

    Shapes: ``z1, z2: [N, dim]``, ``N >= 2`` (row ``i`` of each is the same node/graph) ->
    scalar. ``prototypes.weight: [K, dim]``.

    Example:
        >>> swav = SwAV(num_prototypes=100, dim=128)
        >>> loss = swav(projector(encoder(v1.x, v1.edge_index)),
        ...             projector(encoder(v2.x, v2.edge_index)))
        >>> codes = swav.sinkhorn(swav.scores(z))  # [N, 100] soft assignments
    """

    def __init__(self, num_prototypes: int, dim: int, temperature: float = 0.1,
                 epsilon: float = 0.05, sinkhorn_iterations: int = 3):
        super().__init__()
        self.num_prototypes = check_int("num_prototypes", num_prototypes, 2)
        self.dim = check_int("dim", dim, 1)
        self.temperature = check_positive("temperature", temperature)
        self.epsilon = check_positive("epsilon", epsilon)
        self.sinkhorn_iterations = check_int("sinkhorn_iterations", sinkhorn_iterations, 1)
        self.prototypes = nn.Linear(dim, num_prototypes, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        self.prototypes.reset_parameters()
        self.normalize_prototypes()

    @torch.no_grad()
    def normalize_prototypes(self):
        """Rescale the prototype rows to unit L2 norm in place (no-op if they already are)."""
        w = self.prototypes.weight
        norms = w.norm(dim=1, keepdim=True)
        if bool(((norms - 1.0).abs() > 1e-5).any()):
            w.div_(norms.clamp_min(1e-12))

    def scores(self, z: torch.Tensor) -> torch.Tensor:
        """Cosine scores ``[N, K]`` of ``z [N, dim]`` (rows L2-normalised) against the prototypes
        (used as they are: call :meth:`normalize_prototypes` first outside ``forward``)."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.size(1) != self.dim:
            shape = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must have shape [num_samples, {self.dim}] (dim={self.dim}), got "
                             f"{shape}")
        return self.prototypes(F.normalize(z, dim=1))

    def sinkhorn(self, scores: torch.Tensor) -> torch.Tensor:
        """Codes ``[N, K]`` of ``scores [N, K]`` with this module's ``epsilon`` and iterations;
        rows sum to 1 exactly, columns to about ``N/K`` (see :func:`sinkhorn_knopp`)."""
        if isinstance(scores, torch.Tensor) and scores.dim() == 2 and \
                scores.size(1) != self.num_prototypes:
            raise ValueError(f"scores must have {self.num_prototypes} columns (num_prototypes), "
                             f"got shape {list(scores.shape)}")
        return sinkhorn_knopp(scores, self.epsilon, self.sinkhorn_iterations)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_pair(z1, z2)
        if z1.size(1) != self.dim:
            raise ValueError(f"z1 and z2 must have {self.dim} columns (dim), got "
                             f"{list(z1.shape)}")
        if z1.size(0) < 2:
            raise ValueError(f"SwAV needs at least 2 samples (codes are balanced over the "
                             f"batch), got {z1.size(0)}")
        self.normalize_prototypes()
        s1, s2 = self.scores(z1), self.scores(z2)
        q1, q2 = self.sinkhorn(s1), self.sinkhorn(s2)
        ls1 = F.log_softmax(s1 / self.temperature, dim=1)
        ls2 = F.log_softmax(s2 / self.temperature, dim=1)
        return -0.5 * ((q2 * ls1).sum(dim=1).mean() + (q1 * ls2).sum(dim=1).mean())

    def extra_repr(self):
        return (f"num_prototypes={self.num_prototypes}, dim={self.dim}, "
                f"temperature={self.temperature}, epsilon={self.epsilon}, "
                f"sinkhorn_iterations={self.sinkhorn_iterations}")
