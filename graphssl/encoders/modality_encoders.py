"""Transformer encoders for images, clips and sentences: a tokenizer plus the shared core.

Each is :class:`~graphssl.encoders.transformer.TransformerEncoder` with one tokenizer, so that
the configuration names what users know (image size, patch size, vocabulary size) and every
self-supervised method sees the same ``forward(x) -> [B, dim]`` and, for masked
autoencoding, ``tokenize`` / ``encode_tokens``.
"""
from __future__ import annotations

from .tokenizers import ImagePatches, TextTokens, VideoTubelets
from .transformer import TransformerEncoder


class ViTEncoder(TransformerEncoder):
    """Vision Transformer (Dosovitskiy et al., ICLR 2021) on ``[B, C, H, W]`` images in
    ``[0, 1]``: ``ImagePatches`` then the shared blocks, pooled to ``[B, dim]``.

    Example:
        >>> ViTEncoder(1, image_size=8, patch_size=2, dim=64, depth=2)(torch.rand(4, 1, 8, 8)).shape
        torch.Size([4, 64])
    """

    def __init__(self, in_channels: int, image_size: int, patch_size: int, dim: int = 128,
                 depth: int = 4, heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 pool: str = "mean"):
        super().__init__(ImagePatches(in_channels, image_size, patch_size, dim), depth, heads,
                         mlp_ratio, dropout, pool)


class VideoTransformerEncoder(TransformerEncoder):
    """A video Transformer over space-time tubelets (ViViT / VideoMAE style) on clips
    ``[B, T, C, H, W]``, pooled to ``[B, dim]``."""

    def __init__(self, in_channels: int, frames: int, image_size: int, patch_size: int,
                 tubelet_size: int = 2, dim: int = 128, depth: int = 4, heads: int = 4,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, pool: str = "mean"):
        super().__init__(VideoTubelets(in_channels, frames, image_size, patch_size,
                                       tubelet_size, dim), depth, heads, mlp_ratio, dropout,
                         pool)


class TextTransformerEncoder(TransformerEncoder):
    """A BERT-style text encoder on right-padded ``[B, L]`` token ids, pooled over the real
    tokens to ``[B, dim]``. ``in_channels`` is the vocabulary size (the registry's uniform
    first argument)."""

    def __init__(self, in_channels: int, max_length: int = 64, dim: int = 128, depth: int = 4,
                 heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.1, pad_id: int = 0,
                 pool: str = "mean"):
        super().__init__(TextTokens(in_channels, max_length, dim, pad_id), depth, heads,
                         mlp_ratio, dropout, pool)
