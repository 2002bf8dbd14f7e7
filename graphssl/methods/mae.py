"""MAE: masked autoencoders for image patches, video tubelets and text tokens."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..augment.base import rand
from ..checks import check_number
from ..encoders.transformer import TransformerStack
from .base import Method
from .registry import register_method
from .simclr import NON_GRAPH
from .two_view import encoder_from_config

LOSSES = ("mse", "sce")


@register_method("mae")
class MAE(Method):
    r"""Masked autoencoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR
    2022; VideoMAE, Tong et al., NeurIPS 2022, for tubelets).

    Per item, a random ``mask_ratio`` of its real tokens (patches, tubelets, or the non-padding
    text tokens) is hidden; the encoder sees the visible tokens only; a light decoder gets the
    encoded visible tokens back in place, a learned mask token elsewhere, and its own positions,
    and predicts each hidden token's target: its pixels (normalised per patch with
    ``norm_targets``, MAE's best setting; loss ``'mse'`` or GraphMAE's ``'sce'``, the
    :class:`~graphssl.objectives.SCE` class GraphMAE uses) or, for text, its id (cross-entropy,
    as BERT's masked-token objective). The loss is averaged over hidden tokens only. Embeddings
    for evaluation are the encoder's pooled output on the whole, unmasked input.

    Args:
        encoder: a :class:`~graphssl.encoders.TransformerEncoder` (``tokenize``,
            ``encode_tokens`` and a ``tokenizer`` with ``targets``, ``num_tokens``,
            ``target_dim``, ``target_kind``).
        mask_ratio: fraction of tokens hidden, in (0, 1) (0.75 for images, 0.9 for video in the
            papers, 0.15 for BERT).
        decoder_dim, decoder_depth, decoder_heads: the decoder's shape.
        norm_targets: normalise each patch's pixels to zero mean, unit variance.
        loss: ``'mse'`` or ``'sce'`` for pixel targets.

    Shapes: ``batch`` as the encoder takes it (``[B, C, H, W]``, ``[B, T, C, H, W]`` or
    ``[B, L]`` ids) -> scalar.

    Example:
        >>> method = MAE(ViTEncoder(1, image_size=16, patch_size=4, dim=128), mask_ratio=0.75)
        >>> loss = method.loss(images, generator)
    """

    modalities = NON_GRAPH

    def __init__(self, encoder: nn.Module, mask_ratio: float = 0.75, decoder_dim: int = 64,
                 decoder_depth: int = 1, decoder_heads: int = 4, norm_targets: bool = True,
                 loss: str = "mse", sce_alpha: float = 2.0):
        super().__init__(encoder)
        tokenizer = getattr(encoder, "tokenizer", None)
        if not all(hasattr(encoder, a) for a in ("tokenize", "encode_tokens")) or \
                not hasattr(tokenizer, "targets"):
            raise TypeError(f"MAE needs a Transformer encoder with a tokenizer (ViTEncoder, "
                            f"VideoTransformerEncoder, TextTransformerEncoder), got "
                            f"{type(encoder).__name__}")
        mask_ratio = check_number("mask_ratio", mask_ratio, low=0, high=1, low_open=True,
                                  high_open=True)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.mask_ratio, self.norm_targets, self.loss_name = mask_ratio, norm_targets, loss
        self.to_decoder = nn.Linear(tokenizer.dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_pos = nn.Parameter(torch.zeros(1, tokenizer.num_tokens, decoder_dim))
        self.decoder = TransformerStack(decoder_dim, decoder_depth, decoder_heads)
        self.head = nn.Linear(decoder_dim, tokenizer.target_dim)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos, std=0.02)
        if loss == "sce":
            from ..objectives import SCE
            self.sce = SCE(alpha=sce_alpha)

    def split_tokens(self, padding: torch.Tensor | None, shape, generator, device):
        """Random visible/hidden positions: returns ``order [B, T]`` (visible positions first,
        padding last) and ``visible_count [B]`` (at least 1, at most real tokens - 1 where an
        item has 2 or more)."""
        b, t = shape
        scores = rand((b, t), generator, device)
        real = torch.full((b,), t, device=device) if padding is None else (~padding).sum(1)
        if padding is not None:
            scores = scores.masked_fill(padding, 2.0)  # padding sorts last, never visible
        order = scores.argsort(1)
        keep = torch.round(real * (1.0 - self.mask_ratio)).long()
        keep = torch.minimum(keep.clamp_min(1), (real - 1).clamp_min(1))
        return order, keep

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        tokens, padding = self.encoder.tokenize(batch)
        targets = self.encoder.tokenizer.targets(batch)
        b, t, d = tokens.shape
        order, keep = self.split_tokens(padding, (b, t), generator, tokens.device)
        width = int(keep.max())
        visible_idx = order[:, :width]
        visible_pad = torch.arange(width, device=tokens.device) >= keep[:, None]
        visible = tokens.gather(1, visible_idx[..., None].expand(-1, -1, d))
        _, encoded = self.encoder.encode_tokens(visible, visible_pad, return_tokens=True)
        # decoder input: the encoded visible tokens at their positions, mask tokens elsewhere
        # (visible_idx holds distinct positions, so a scatter places each token once)
        enc = self.to_decoder(encoded)
        placed = torch.zeros(b, t, enc.size(-1), dtype=enc.dtype, device=enc.device).scatter(
            1, visible_idx[..., None].expand(-1, -1, enc.size(-1)), enc)
        is_visible = torch.zeros(b, t, dtype=torch.bool, device=tokens.device).scatter(
            1, visible_idx, ~visible_pad)
        dec = torch.where(is_visible[..., None], placed, self.mask_token.expand(b, t, -1))
        decoded = self.decoder(dec + self.decoder_pos[:, :t], padding)
        hidden = ~is_visible if padding is None else ~is_visible & ~padding
        # the head runs on hidden tokens only (a vocabulary-sized output per token is costly)
        return self._reconstruction(self.head(decoded[hidden]), targets[hidden])

    def _reconstruction(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.encoder.tokenizer.target_kind == "tokens":
            return F.cross_entropy(pred, target)
        if self.norm_targets:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        if self.loss_name == "sce":
            return self.sce(pred, target)
        return F.mse_loss(pred, target)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, **kwargs) -> "MAE":
        return cls(encoder_from_config(cls, in_channels, encoder), **kwargs)
