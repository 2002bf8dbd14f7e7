"""Views of token sequences: int64 ids ``[B, L]``, right-padded with ``pad_id``.

Every augmentation is vectorised over the padded batch (no loop over sentences), draws one set
of random numbers per sentence from the ``generator``, keeps the padding on the right and never
empties a sentence: at least one real token survives (a row that is all padding stays so).
Deleting or cropping tokens re-packs each row to the left with a stable sort on its keep mask.

* :class:`TokenMask` (BERT-style masking, ``'token_mask'``): replace tokens by ``mask_id``;
* :class:`TokenDrop` (``'token_drop'``): delete tokens independently;
* :class:`SpanDeletion` (``'span_deletion'``): delete one contiguous span;
* :class:`TokenCrop` (``'token_crop'``): keep one contiguous crop.

The "dropout-noise" view of SimCSE (Gao et al. 2021) needs no augmentation at all: feed the
same batch twice through an encoder in training mode, and its dropout makes the two views. Use
the :class:`~graphssl.augment.Identity` view (an empty view config ``{}``) for both.

The ids default to our BPE vocabulary's ``[PAD] = 0`` and ``[MASK] = 2`` (``[UNK] = 1``); a
dataset's own pad id is in ``ModalityData.info['pad_id']``.
"""
from __future__ import annotations

import torch

from ..checks import check_non_negative_int, check_number, check_probability
from .base import Augmentation, rand


class TextAugmentation(Augmentation):
    """Base class: checks the batch and hands ``transform(tokens, real, generator)`` the ids and
    the mask of real (non-pad) tokens."""

    pad_id = 0

    def forward(self, data, generator):
        name = type(self).__name__
        if not isinstance(data, torch.Tensor):
            raise TypeError(f"{name} expects token ids [B, L], got {type(data).__name__}")
        if data.dim() != 2:
            raise ValueError(f"{name} expects token ids [B, L], got shape {tuple(data.shape)}")
        if data.is_floating_point() or data.is_complex() or data.dtype == torch.bool:
            raise TypeError(f"{name} expects integer token ids, got dtype {data.dtype}")
        real = data != self.pad_id
        if data.size(1) > 1:
            gaps = real[:, 1:] & ~real[:, :-1]
            if gaps.any():
                row = int(gaps.any(1).nonzero()[0])
                raise ValueError(f"{name} expects right-padded rows (pad_id={self.pad_id}), but "
                                 f"row {row} has a real token after a pad")
        return self.transform(data, real, generator)

    def transform(self, tokens, real, generator):  # pragma: no cover - abstract
        raise NotImplementedError


def _keep_best(selected: torch.Tensor, real: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """``selected`` (tokens to remove) with, in each non-empty row where it covers every real
    token, the real token of highest ``score`` spared."""
    emptied = real.any(1) & ~(real & ~selected).any(1)
    best = torch.where(real, score, torch.full_like(score, -1.0)).argmax(1, keepdim=True)
    spare = torch.zeros_like(selected).scatter_(1, best, emptied.unsqueeze(1))
    return selected & ~spare


def repack(tokens: torch.Tensor, keep: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Move each row's kept tokens to the left, in order, and pad the rest with ``pad_id``."""
    order = torch.argsort((~keep).to(torch.uint8), dim=1, stable=True)
    out = tokens.gather(1, order)
    positions = torch.arange(tokens.size(1), device=tokens.device)
    return out.masked_fill(positions >= keep.sum(1, keepdim=True), pad_id)


class TokenMask(TextAugmentation):
    """Replace each real token by ``mask_id`` with probability ``p`` (drawn per token); pads are
    untouched and at least one real token of each sentence stays unmasked."""

    def __init__(self, p: float = 0.15, mask_id: int = 2, pad_id: int = 0):
        self.p = check_probability("p", p)
        self.mask_id = check_non_negative_int("mask_id", mask_id)
        self.pad_id = check_non_negative_int("pad_id", pad_id)
        if self.mask_id == self.pad_id:
            raise ValueError(f"mask_id and pad_id must differ, got both {mask_id!r}")

    def transform(self, tokens, real, generator):
        score = rand(tokens.shape, generator, tokens.device)
        masked = _keep_best((score < self.p) & real, real, score)
        return tokens.masked_fill(masked, self.mask_id)


class TokenDrop(TextAugmentation):
    """Delete each real token with probability ``p`` (keeping at least one), re-packed to the
    left."""

    def __init__(self, p: float = 0.1, pad_id: int = 0):
        self.p = check_probability("p", p)
        self.pad_id = check_non_negative_int("pad_id", pad_id)

    def transform(self, tokens, real, generator):
        score = rand(tokens.shape, generator, tokens.device)
        dropped = _keep_best((score < self.p) & real, real, score)
        return repack(tokens, real & ~dropped, self.pad_id)


class SpanDeletion(TextAugmentation):
    """Delete one contiguous span of ``round(fraction * n)`` tokens (at least 1 when
    ``fraction > 0``, at most ``n - 1``) from each sentence of ``n`` real tokens, at a uniform
    random position, and re-pack to the left."""

    def __init__(self, fraction: float = 0.1, pad_id: int = 0):
        self.fraction = check_number("fraction", fraction, low=0, high=1)
        self.pad_id = check_non_negative_int("pad_id", pad_id)

    def transform(self, tokens, real, generator):
        n = real.sum(1)
        span = torch.floor(self.fraction * n + 0.5).long()
        if self.fraction > 0:
            span = span.clamp(min=1)
        span = torch.minimum(span, n - 1).clamp(min=0)
        start = (rand(tokens.size(0), generator, tokens.device) * (n - span + 1)).long()
        start = torch.minimum(start, n - span)
        positions = torch.arange(tokens.size(1), device=tokens.device)
        deleted = (positions >= start[:, None]) & (positions < (start + span)[:, None])
        return repack(tokens, real & ~deleted, self.pad_id)


class TokenCrop(TextAugmentation):
    """Keep one contiguous crop of each sentence: of ``n`` real tokens, a crop length uniform in
    ``[ceil(min_fraction * n), n]`` (at least 1) at a uniform start, moved to the left."""

    def __init__(self, min_fraction: float = 0.6, pad_id: int = 0):
        self.min_fraction = check_number("min_fraction", min_fraction, low=0, high=1,
                                         low_open=True)
        self.pad_id = check_non_negative_int("pad_id", pad_id)

    def transform(self, tokens, real, generator):
        n = real.sum(1)
        shortest = torch.ceil(self.min_fraction * n - 1e-6).long().clamp(min=1)
        u = rand((2, tokens.size(0)), generator, tokens.device)
        length = torch.minimum(shortest + (u[0] * (n - shortest + 1)).long(), n)
        start = torch.minimum((u[1] * (n - length + 1)).long(), n - length)
        positions = torch.arange(tokens.size(1), device=tokens.device)
        index = (start[:, None] + positions).clamp(max=tokens.size(1) - 1)
        out = tokens.gather(1, index)
        return out.masked_fill(positions >= length[:, None], self.pad_id)

