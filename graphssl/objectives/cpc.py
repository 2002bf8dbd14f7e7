"""Contrastive Predictive Coding: InfoNCE between k-step predictions and future latents."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int, check_positive


class CPC(nn.Module):
    r"""Contrastive Predictive Coding (van den Oord, Li, Vinyals, "Representation Learning with
    Contrastive Predictive Coding", 2018), with the ``num_steps`` linear prediction heads
    :math:`W_k`.

    The inputs are a batch of ``B`` sequences of latent states :math:`z_t` and of context states
    :math:`c_t` (the output at step ``t`` of any autoregressive model over :math:`z_{\le t}`, e.g.
    a GRU that the caller runs). The context at step ``t`` predicts the latent ``k`` steps ahead
    through the log-bilinear score :math:`f_k(z, c_t) = z^\top W_k c_t`; the positive is the
    sequence's own :math:`z_{t+k}`, the negatives are :math:`z_{t+k}` of every other sequence of
    the batch (InfoNCE over the batch, the usual form of the paper's Eq. 4):

    .. math::
        \ell_{b,t,k} = -\log \frac{\exp\!\left(z_{t+k}^{b\top} W_k c_t^b / \tau\right)}
        {\sum_{b'=1}^{B} \exp\!\left(z_{t+k}^{b'\top} W_k c_t^b / \tau\right)}, \qquad
        \mathcal L = \operatorname{mean}_{b,\,k \in 1..K,\,t + k < T}\ \ell_{b,t,k}

    i.e. for each ``(t, k)`` the ``[B, B]`` logits :math:`(W_k c_t)\, z_{t+k}^\top / \tau` with
    the diagonal as target, averaged over every valid ``(b, t, k)``: all ``(t, k)`` pairs weigh
    the same (each has ``B`` anchors), so a horizon ``k`` counts ``T - k`` times. With random
    scores the loss is about :math:`\log B`; its minimum is 0.

    Scores are raw dot products (no normalisation), as in the paper; ``temperature`` only scales
    them. Cost per step ``k``: one batched ``[T-k, B, d] x [T-k, d, B]`` product (memory
    ``O(T B^2)``); the loop runs over ``k`` only, never over ``t`` or the samples.

    **Padding.** ``mask [B, T]`` (bool, ``True`` = real step) allows sequences of different
    lengths (any pattern, not only trailing padding). For each ``(t, k)``, sequence ``b`` is an
    anchor when steps ``t`` and ``t + k`` of ``b`` are both valid, and a candidate (positive or
    negative) when its step ``t + k`` is valid; anchors with no valid negative (loss exactly 0,
    no signal) are left out, and the mean runs over the remaining ``(b, t, k)``. Pairs ``(t, k)``
    with no anchor contribute nothing (no NaN); if no term is left at all the loss is 0 (still
    differentiable). Values at padded steps are ignored (zeroed first: they may even be
    ``inf``/``NaN``) and get zero gradient. Without ``mask`` all sequences must have the full
    length ``T``.

    The same objective serves any sequential modality: node embeddings gathered along random
    walks, video frames, audio, sensor streams.

    Args:
        latent_dim: size ``d_z`` of the latents :math:`z_t`.
        context_dim: size ``d_c`` of the contexts :math:`c_t`.
        num_steps: number ``K >= 1`` of future steps predicted (heads :math:`W_1..W_K`).
        temperature: :math:`\tau > 0` dividing the scores.

    Shapes: ``z: [B, T, latent_dim]``, ``c: [B, T, context_dim]``, ``mask: [B, T]`` (optional),
    with ``B >= 2`` and ``T > num_steps`` -> scalar. ``heads[k - 1].weight: [latent_dim,
    context_dim]`` is :math:`W_k`.

    Example (random walks on a graph, no ``torch_cluster`` needed):
        >>> B, T = 64, 8
        >>> walks = torch.empty(B, T, dtype=torch.long)
        >>> walks[:, 0] = torch.randint(data.num_nodes, (B,))
        >>> src, dst = data.edge_index
        >>> deg = torch.bincount(src, minlength=data.num_nodes)
        >>> ptr = torch.cat([deg.new_zeros(1), deg.cumsum(0)])  # edges sorted by src
        >>> for t in range(1, T):  # one uniform neighbour per step (assumes no isolated node)
        ...     cur = walks[:, t - 1]
        ...     walks[:, t] = dst[ptr[cur] + (torch.rand(B) * deg[cur]).long()]
        >>> node_emb = encoder(data.x, data.edge_index)  # [N, 128]
        >>> z = node_emb[walks]  # [B, T, 128]
        >>> c, _ = gru(z)  # nn.GRU(128, 256, batch_first=True)
        >>> cpc = CPC(latent_dim=128, context_dim=256, num_steps=3)
        >>> loss = cpc(z, c)
    """

    def __init__(self, latent_dim: int, context_dim: int, num_steps: int = 3,
                 temperature: float = 1.0):
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, 1)
        self.context_dim = check_int("context_dim", context_dim, 1)
        self.num_steps = check_int("num_steps", num_steps, 1)
        self.temperature = check_positive("temperature", temperature)
        self.heads = nn.ModuleList(nn.Linear(context_dim, latent_dim, bias=False)
                                   for _ in range(num_steps))

    def reset_parameters(self):
        for head in self.heads:
            head.reset_parameters()

    def forward(self, z: torch.Tensor, c: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        self._check_inputs(z, c, mask)
        b, t_len, _ = z.shape
        if mask is not None:
            mask = mask.to(device=z.device, dtype=torch.bool)
            # padded values (even inf/NaN) reach neither the loss nor the gradients
            z = z.masked_fill(~mask.unsqueeze(2), 0.0)
            c = c.masked_fill(~mask.unsqueeze(2), 0.0)
            total = z.new_zeros(())
            count = z.new_zeros(())
        losses = []
        eye = torch.eye(b, dtype=torch.bool, device=z.device)
        for k in range(1, self.num_steps + 1):
            steps = t_len - k
            pred = self.heads[k - 1](c[:, :steps]).transpose(0, 1)  # [T-k, B, d_z]
            target = z[:, k:].transpose(0, 1)  # [T-k, B, d_z]
            logits = torch.bmm(pred, target.transpose(1, 2)) / self.temperature  # [T-k, B, B]
            pos = logits.diagonal(dim1=1, dim2=2)  # [T-k, B]
            if mask is None:
                losses.append((torch.logsumexp(logits, dim=2) - pos).flatten())
                continue
            cand = mask[:, k:].t()  # [T-k, B]: step t+k of sequence b' exists
            anchor = mask[:, :steps].t() & cand  # steps t and t+k of b both exist
            # a valid negative: another candidate than the anchor itself
            negatives = (cand.unsqueeze(1) & ~eye).any(dim=2)  # [T-k, B]
            anchor = anchor & negatives
            logits = logits.masked_fill(~cand.unsqueeze(1), float("-inf"))
            # rows of non-anchors may be all -inf: zero them out before they can turn into NaN
            lse = torch.logsumexp(logits.masked_fill(~anchor.unsqueeze(2), 0.0), dim=2)
            term = torch.where(anchor, lse - pos, torch.zeros_like(lse))
            total = total + term.sum()
            count = count + anchor.sum()
        if mask is None:
            return torch.cat(losses).mean()
        return total / count.clamp_min(1)

    def _check_inputs(self, z, c, mask):
        for name, x, dim, label in (("z", z, self.latent_dim, "latent_dim"),
                                    ("c", c, self.context_dim, "context_dim")):
            if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.size(2) != dim:
                shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"{name} must be a 3-D tensor [batch, time, {label}={dim}], "
                                 f"got {shape}")
        if z.shape[:2] != c.shape[:2]:
            raise ValueError(f"z and c must have the same batch and time sizes (c_t is the "
                             f"context at step t), got {list(z.shape)} and {list(c.shape)}")
        b, t_len = z.shape[:2]
        if t_len <= self.num_steps:
            raise ValueError(f"sequence length T={t_len} must be > num_steps={self.num_steps} "
                             f"(a context must have a latent num_steps ahead)")
        if b < 2:
            raise ValueError(f"CPC contrasts each sequence with the other sequences of the batch "
                             f"and needs B >= 2 sequences, got B={b}")
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.shape != z.shape[:2]:
                shape = list(mask.shape) if isinstance(mask, torch.Tensor) else \
                    type(mask).__name__
                raise ValueError(f"mask must have shape [batch, time] = {list(z.shape[:2])}, "
                                 f"got {shape}")

    def extra_repr(self):
        return (f"latent_dim={self.latent_dim}, context_dim={self.context_dim}, "
                f"num_steps={self.num_steps}, temperature={self.temperature}")
