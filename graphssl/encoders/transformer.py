"""The shared self-attention core: a pre-norm Transformer over token sequences.

Every modality reaches it through a tokenizer (:mod:`graphssl.encoders.tokenizers`) that maps
its input to ``[B, T, D]`` tokens (positions included) and an optional ``[B, T]`` padding mask:
image patches (ViT), video tubelets, text tokens; graph nodes reach the same blocks through
:class:`~graphssl.encoders.GraphTransformerEncoder`. The objectives never see which it was.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_number, check_positive, check_positive_int

POOLS = ("mean", "cls")


class TransformerBlock(nn.Module):
    r"""One pre-norm Transformer block (Vaswani et al. 2017; pre-norm as in ViT, Dosovitskiy et
    al. 2021): ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``, attention computed by
    :func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels where available).

    Shapes: ``x: [B, T, dim]``, ``padding_mask: [B, T]`` bool (``True`` = padding, never
    attended to) -> ``[B, T, dim]``.
    """

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        check_positive_int("dim", dim)
        check_positive_int("heads", heads)
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        check_positive("mlp_ratio", mlp_ratio)
        self.heads = heads
        self.dropout = check_number("dropout", dropout, low=0, high=1, high_open=True)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads) \
            .permute(2, 0, 3, 1, 4)
        mask = None if padding_mask is None else ~padding_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(out.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.mlp(self.norm2(x)))


class TransformerStack(nn.Module):
    """``depth`` :class:`TransformerBlock` s and a final ``LayerNorm``: ``[B, T, dim]`` tokens
    (with an optional ``[B, T]`` padding mask) -> ``[B, T, dim]``."""

    def __init__(self, dim: int, depth: int = 4, heads: int = 4, mlp_ratio: float = 4.0,
                 dropout: float = 0.0):
        super().__init__()
        check_positive_int("depth", depth)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio, dropout)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, padding_mask)
        return self.norm(x)


class TransformerEncoder(nn.Module):
    r"""A tokenizer followed by the shared pre-norm Transformer, pooled to one vector per input.

    ``forward(x)`` tokenizes the batch, prepends a learned ``[CLS]`` token when
    ``pool='cls'``, runs :class:`TransformerStack` and returns the ``[CLS]`` output or the mean
    of the non-padding token outputs. Masked autoencoders use the two halves separately:
    :meth:`tokenize` then :meth:`encode_tokens` on the visible tokens only.

    Args:
        tokenizer: a module with ``forward(x) -> (tokens [B, T, dim], padding [B, T] or None)``
            and attributes ``dim`` and ``num_tokens`` (see :mod:`graphssl.encoders.tokenizers`).
        depth, heads, mlp_ratio, dropout: the blocks' shape; ``dropout > 0`` also makes the
            "dropout noise" views of SimCSE possible (the same input encoded twice).
        pool: ``'mean'`` (default; what a linear probe of MAE features needs) or ``'cls'``.

    Shapes: input as the tokenizer takes it -> ``[B, dim]``.

    Example:
        >>> enc = TransformerEncoder(ImagePatches(1, image_size=8, patch_size=2, dim=64), depth=2)
        >>> enc(torch.rand(32, 1, 8, 8)).shape
        torch.Size([32, 64])
    """

    def __init__(self, tokenizer: nn.Module, depth: int = 4, heads: int = 4,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, pool: str = "mean"):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.tokenizer, self.pool = tokenizer, pool
        self.out_channels = tokenizer.dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, tokenizer.dim)) if pool == "cls" \
            else None
        self.stack = TransformerStack(tokenizer.dim, depth, heads, mlp_ratio, dropout)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    def tokenize(self, x) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.tokenizer(x)

    def encode_tokens(self, tokens: torch.Tensor, padding_mask: torch.Tensor | None = None,
                      return_tokens: bool = False):
        """Run the blocks on ``[B, T, dim]`` tokens; returns the pooled ``[B, dim]`` (and, with
        ``return_tokens``, the ``[B, T, dim]`` token outputs, ``[CLS]`` left out)."""
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.size(0), -1, -1), tokens], 1)
            if padding_mask is not None:
                padding_mask = F.pad(padding_mask, (1, 0), value=False)
        out = self.stack(tokens, padding_mask)
        if self.cls_token is not None:
            pooled, out = out[:, 0], out[:, 1:]
        elif padding_mask is None:
            pooled = out.mean(1)
        else:
            keep = (~padding_mask).unsqueeze(-1).to(out.dtype)
            pooled = (out * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        return (pooled, out) if return_tokens else pooled

    def forward(self, x) -> torch.Tensor:
        return self.encode_tokens(*self.tokenize(x))
