"""Noise-contrastive estimation between two views, with sampled noise rows."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_positive, check_positive_int
from ._checks import check_pair


class NCE(nn.Module):
    r"""Noise-contrastive estimation (Gutmann, Hyvarinen, "Noise-contrastive estimation: A new
    estimation principle for unnormalized statistical models", AISTATS 2010) between two views.

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are a data pair. For each anchor :math:`z_1^i`,
    :math:`k` noise indices :math:`j` are drawn, with replacement, from a distribution :math:`q`
    over the rows of ``z2`` (uniform, or proportional to ``noise_weights``, e.g. ``deg ** 0.75``).
    A logistic classifier tells data from noise with the NCE logit
    :math:`u_{ij} = s_{ij} - \log(k\, q_j)`, where :math:`s_{ij} = s(z_1^i, z_2^j)/\tau` and
    :math:`s` is the cosine similarity (dot product if ``normalize=False``):

    .. math::
        \ell_i = -\log \sigma(u_{ii}) - \sum_{j \in \mathrm{noise}(i)} \log \sigma(-u_{ij}),
        \qquad \mathcal L = \tfrac1N \sum_i \ell_i

    Dropping the :math:`\log(k q_j)` correction gives the negative-sampling loss of word2vec,
    DeepWalk-style skip-gram and node2vec; keeping it makes the classifier's optimum
    :math:`s_{ij} = \log(p_{data}/q)`, the NCE estimator. As in NCE the noise is independent of the
    data: a noise draw may be the anchor's own positive row (probability :math:`q_i` per draw), so
    the loss is bounded away from 0 even for perfectly separated embeddings. A node with zero
    noise weight is never drawn; its positive logit is :math:`+\infty` and its data term is 0.

    Sampling uses ``torch.multinomial`` (``torch.randint`` when uniform) with ``generator``, or the
    global RNG of ``z1``'s device when it is ``None`` (a generator must live on that device).
    :meth:`sample_noise` draws the same indices as :meth:`forward` for the same generator state.

    Cost: :math:`O(N k d)` time and memory. The ``N x k`` scores are batched row-wise dot
    products of each anchor with its gathered noise rows (``z2[idx]``, ``[N, k, d]``); no
    ``N x N`` matrix is formed, which is the cheaper choice while :math:`k < N`.

    Args:
        temperature: :math:`\tau > 0`.
        num_noise: :math:`k \ge 1`, noise samples per anchor.
        normalize: L2-normalise rows first (cosine similarity).

    Shapes: ``z1, z2: [N, d]``, ``noise_weights: [N]`` (optional, non-negative, not all zero) ->
    scalar.

    Example:
        >>> loss_fn = NCE(temperature=0.5, num_noise=16)
        >>> deg = torch_geometric.utils.degree(data.edge_index[0], data.num_nodes)
        >>> loss = loss_fn(projector(encoder(v1.x, v1.edge_index)),
        ...                projector(encoder(v2.x, v2.edge_index)), noise_weights=deg ** 0.75)
    """

    def __init__(self, temperature: float = 0.5, num_noise: int = 64, normalize: bool = True):
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.num_noise = check_positive_int("num_noise", num_noise)
        self.normalize = bool(normalize)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor,
                noise_weights: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        check_pair(z1, z2, min_rows=1)
        n, k = z1.size(0), self.num_noise
        q = self._noise_probs(noise_weights, n, z1.device)
        idx = self._draw(q, n, z1.device, generator)
        if self.normalize:
            z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        c = 1.0 / self.temperature
        pos = (z1 * z2).sum(1).mul(c)                                   # [N]
        neg = torch.bmm(z2[idx], z1.unsqueeze(2)).squeeze(2).mul(c)     # [N, k]
        if q is None:
            log_kq = math.log(k / n)
            pos_logit, neg_logit = pos - log_kq, neg - log_kq
        else:
            # -inf where q = 0 (never drawn as noise); q is float64, the logits keep z's dtype
            log_kq = torch.log(q).add_(math.log(k)).to(pos.dtype)
            pos_logit, neg_logit = pos - log_kq, neg - log_kq[idx]
        return -(F.logsigmoid(pos_logit) + F.logsigmoid(-neg_logit).sum(1)).mean()

    def sample_noise(self, num_nodes: int, noise_weights: torch.Tensor | None = None,
                     generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
        """Noise indices ``[num_nodes, num_noise]`` into the rows of ``z2``, as :meth:`forward`
        draws them (same generator state, same indices)."""
        num_nodes = check_positive_int("num_nodes", num_nodes)
        device = torch.device("cpu") if device is None else torch.device(device)
        return self._draw(self._noise_probs(noise_weights, num_nodes, device), num_nodes, device,
                          generator)

    @staticmethod
    def _noise_probs(noise_weights, n: int, device) -> torch.Tensor | None:
        """Validated noise distribution ``q [N]`` in float64 (``None`` for uniform): one dtype
        for sampling whatever the embeddings' dtype, so a generator state gives one draw."""
        if noise_weights is None:
            return None
        if not isinstance(noise_weights, torch.Tensor) or noise_weights.shape != (n,):
            shape = (list(noise_weights.shape) if isinstance(noise_weights, torch.Tensor)
                     else type(noise_weights).__name__)
            raise ValueError(f"noise_weights must be a 1-D tensor of {n} weights (one per row of "
                             f"z2), got {shape}")
        w = noise_weights.detach().to(device=device, dtype=torch.float64)
        if not torch.isfinite(w).all():
            raise ValueError("noise_weights must be finite, got inf or nan entries")
        if (w < 0).any():
            raise ValueError(f"noise_weights must be non-negative, got minimum {w.min().item()}")
        total = w.sum()
        if not total > 0:
            raise ValueError("noise_weights must have a positive sum, got all zeros")
        return w / total

    def _draw(self, q, n: int, device, generator) -> torch.Tensor:
        k = self.num_noise
        if q is None:
            return torch.randint(n, (n, k), device=device, generator=generator)
        return torch.multinomial(q, n * k, replacement=True, generator=generator).view(n, k)

    def extra_repr(self):
        return (f"temperature={self.temperature}, num_noise={self.num_noise}, "
                f"normalize={self.normalize}")
