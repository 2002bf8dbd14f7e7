"""Modality tokenizers: inputs -> ``([B, T, dim] tokens with positions, [B, T] padding mask)``.

Each tokenizer also says what a masked autoencoder reconstructs per token
(:meth:`targets`): the pixels of a patch or tubelet (``target_kind='pixels'``, ``target_dim``
values each) or the token id itself (``target_kind='tokens'``, ``target_dim`` classes).
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_positive_int


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_divides(part_name: str, part: int, whole_name: str, whole: int):
    if whole % part:
        raise ValueError(f"{part_name} must divide {whole_name}: got {part_name}={part} for "
                         f"{whole_name}={whole}; use one of {_divisors(whole)}")


class _Positions(nn.Module):
    """Learned positional embeddings ``[1, T, dim]`` (ViT's choice)."""

    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, num_tokens, dim))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.weight[:, :tokens.size(1)]


class ImagePatches(nn.Module):
    r"""ViT patch embedding (Dosovitskiy et al., ICLR 2021): a ``patch_size`` x ``patch_size``
    convolution with the same stride, plus learned positions.

    Shapes: ``[B, C, H, W]`` with ``C = in_channels``, ``H = W = image_size`` ->
    ``[B, (image_size / patch_size)^2, dim]`` (no padding).

    Example:
        >>> tokens, _ = ImagePatches(1, image_size=16, patch_size=4, dim=64)(torch.rand(8, 1, 16, 16))
        >>> tokens.shape
        torch.Size([8, 16, 64])
    """

    target_kind = "pixels"

    def __init__(self, in_channels: int, image_size: int, patch_size: int, dim: int = 128):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("image_size", image_size),
                            ("patch_size", patch_size), ("dim", dim)):
            check_positive_int(name, value)
        _check_divides("patch_size", patch_size, "image_size", image_size)
        self.in_channels, self.image_size, self.patch_size, self.dim = \
            in_channels, image_size, patch_size, dim
        self.num_tokens = (image_size // patch_size) ** 2
        self.target_dim = in_channels * patch_size ** 2
        self.proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        self.pos = _Positions(self.num_tokens, dim)

    def check(self, x: torch.Tensor):
        if not torch.is_tensor(x) or x.dim() != 4:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"{type(self).__name__} takes images [B, C, H, W]; got {shape}"
                             + (" (one image: add the batch axis with x.unsqueeze(0))"
                                if torch.is_tensor(x) and x.dim() == 3 else ""))
        b, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"the encoder takes {self.in_channels}-channel images, got {c} "
                             f"channels (shape {tuple(x.shape)}); build it with in_channels={c}")
        if (h, w) != (self.image_size, self.image_size):
            raise ValueError(f"the encoder takes {self.image_size}x{self.image_size} images, got "
                             f"{h}x{w}; resize the inputs or build it with image_size={h}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        self.check(x)
        return self.pos(self.proj(x).flatten(2).transpose(1, 2)), None

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels of each patch, in token order: ``[B, T, C * patch_size^2]``."""
        self.check(x)
        return F.unfold(x, self.patch_size, stride=self.patch_size).transpose(1, 2)


class VideoTubelets(nn.Module):
    r"""Space-time patches (ViViT's tubelet embedding, Arnab et al., ICCV 2021; VideoMAE, Tong
    et al., NeurIPS 2022): a ``tubelet_size`` x ``patch_size`` x ``patch_size`` 3-D convolution
    with the same stride, plus learned positions.

    Shapes: clips ``[B, T, C, H, W]`` (``T = frames``) -> ``[B, (T / tubelet_size) *
    (image_size / patch_size)^2, dim]``.
    """

    target_kind = "pixels"

    def __init__(self, in_channels: int, frames: int, image_size: int, patch_size: int,
                 tubelet_size: int = 2, dim: int = 128):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("frames", frames),
                            ("image_size", image_size), ("patch_size", patch_size),
                            ("tubelet_size", tubelet_size), ("dim", dim)):
            check_positive_int(name, value)
        _check_divides("patch_size", patch_size, "image_size", image_size)
        _check_divides("tubelet_size", tubelet_size, "frames", frames)
        self.in_channels, self.frames, self.image_size = in_channels, frames, image_size
        self.patch_size, self.tubelet_size, self.dim = patch_size, tubelet_size, dim
        self.grid = image_size // patch_size
        self.num_tokens = (frames // tubelet_size) * self.grid ** 2
        self.target_dim = in_channels * tubelet_size * patch_size ** 2
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_channels, dim, kernel, stride=kernel)
        self.pos = _Positions(self.num_tokens, dim)

    def check(self, x: torch.Tensor):
        if not torch.is_tensor(x) or x.dim() != 5:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"{type(self).__name__} takes clips [B, T, C, H, W]; got {shape}")
        b, t, c, h, w = x.shape
        if t != self.frames:
            raise ValueError(f"the encoder takes clips of {self.frames} frames, got {t}; crop "
                             f"them (augment.TemporalCrop({self.frames})) or build it with "
                             f"frames={t}")
        if c != self.in_channels:
            raise ValueError(f"the encoder takes {self.in_channels}-channel frames, got {c} "
                             f"(shape {tuple(x.shape)}); build it with in_channels={c}")
        if (h, w) != (self.image_size, self.image_size):
            raise ValueError(f"the encoder takes {self.image_size}x{self.image_size} frames, got "
                             f"{h}x{w}; resize them or build it with image_size={h}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        self.check(x)
        return self.pos(self.proj(x.transpose(1, 2)).flatten(2).transpose(1, 2)), None

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels of each tubelet, in token order: ``[B, T', C * tubelet * patch^2]``."""
        self.check(x)
        b, t, c = x.shape[:3]
        tt, p, g = self.tubelet_size, self.patch_size, self.grid
        x = x.reshape(b, t // tt, tt, c, g, p, g, p).permute(0, 1, 4, 6, 3, 2, 5, 7)
        return x.reshape(b, self.num_tokens, self.target_dim)


class TextTokens(nn.Module):
    r"""Token embedding plus learned positions for right-padded id sequences (BERT's input
    layer, Devlin et al., NAACL 2019, without segment embeddings).

    Padding (``pad_id``) becomes the ``[B, L]`` padding mask, never attended to. Sequences longer
    than ``max_length`` are cut to it with a warning; a row of padding only is an error.

    Shapes: ``[B, L]`` int64 ids -> ``[B, min(L, max_length), dim]`` and the padding mask.
    """

    target_kind = "tokens"

    def __init__(self, vocab_size: int, max_length: int = 64, dim: int = 128, pad_id: int = 0):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("max_length", max_length),
                            ("dim", dim)):
            check_positive_int(name, value)
        if isinstance(pad_id, bool) or not isinstance(pad_id, int) or \
                not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id must be an id in [0, vocab_size={vocab_size}), got "
                             f"{pad_id!r}")
        self.vocab_size, self.max_length, self.dim, self.pad_id = \
            vocab_size, max_length, dim, pad_id
        self.num_tokens = max_length
        self.target_dim = vocab_size
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.trunc_normal_(self.embed.weight, std=0.02)
        self.pos = _Positions(max_length, dim)

    def check(self, ids: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(ids) or ids.dim() != 2 or ids.dtype != torch.long:
            what = f"{ids.dtype} {tuple(ids.shape)}" if torch.is_tensor(ids) else \
                type(ids).__name__
            raise ValueError(f"{type(self).__name__} takes int64 token ids [B, L]; got {what}")
        if ids.size(1) > self.max_length:
            warnings.warn(f"token sequences of length {ids.size(1)} cut to max_length="
                          f"{self.max_length}; encode texts with max_length <= "
                          f"{self.max_length} or build the encoder with a larger max_length",
                          stacklevel=3)
            ids = ids[:, :self.max_length]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(f"token ids must be in [0, vocab_size={self.vocab_size}), got "
                             f"[{int(ids.min())}, {int(ids.max())}]; the tokenizer and the "
                             f"encoder disagree on the vocabulary")
        empty = (ids == self.pad_id).all(1)
        if empty.any():
            rows = torch.nonzero(empty).view(-1)[:5].tolist()
            raise ValueError(f"{int(empty.sum())} sequence(s) hold padding only (rows {rows}); "
                             f"drop empty texts before encoding")
        return ids

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.check(ids)
        return self.pos(self.embed(ids)), ids == self.pad_id

    def targets(self, ids: torch.Tensor) -> torch.Tensor:
        """The ids themselves ``[B, L]`` (cut to ``max_length``)."""
        return self.check(ids)
