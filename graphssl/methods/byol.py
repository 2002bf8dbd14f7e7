"""BYOL: Bootstrap Your Own Latent."""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..augment import Augmentation
from ..checks import check_number
from ..encoders import encode
from ..objectives import BootstrapLoss
from .base import Method
from .bgrl import cosine_ema_rate, ema_update
from .registry import register_method
from .simclr import NON_GRAPH
from .two_view import embedding_dim_of, encoder_from_config, mlp
from .views import build_view


@register_method("byol")
class BYOL(Method):
    r"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020).

    An online network (encoder, projector, predictor) predicts the target network's projection
    of the other view; the target (encoder and projector) is an exponential moving average of
    the online one whose decay rises from ``ema_base`` to 1 on a cosine schedule. The loss is
    :class:`~graphssl.objectives.BootstrapLoss`, symmetric over the two views: the same class
    BGRL uses on graphs, with the same EMA schedule (:func:`~graphssl.methods.bgrl.ema_update`).

    Args:
        encoder: ``batch -> [B, d]``.
        view1, view2: augmentations or configs (``view2`` defaults to ``view1``).
        projection_dim, hidden_dim: projector/predictor sizes (``Linear-BN-ReLU-Linear``).
        ema_base: initial target decay, in [0, 1] (0.99 in the paper's small-batch settings).

    Example:
        >>> method = BYOL(ViTEncoder(1, image_size=16, patch_size=4), view1={'random_affine': 15})
        >>> Trainer(epochs=100).fit(method, batches)   # after_step updates the target
    """

    modalities = NON_GRAPH

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict,
                 view2: Augmentation | dict | None = None, embedding_dim: int | None = None,
                 projection_dim: int = 128, hidden_dim: int = 512, ema_base: float = 0.99):
        super().__init__(encoder)
        check_number("ema_base", ema_base, low=0, high=1)
        dim = embedding_dim_of(encoder, embedding_dim)
        self.ema_base = float(ema_base)
        self.view1 = build_view(view1)
        self.view2 = self.view1 if view2 is None else build_view(view2)
        self.projector = mlp([dim, hidden_dim, projection_dim], batch_norm=True)
        self.predictor = mlp([projection_dim, hidden_dim, projection_dim], batch_norm=True)
        self.target_encoder = copy.deepcopy(encoder)
        self.target_projector = copy.deepcopy(self.projector)
        for p in [*self.target_encoder.parameters(), *self.target_projector.parameters()]:
            p.requires_grad_(False)
        self.objective = BootstrapLoss(symmetric=True)

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        v1, v2 = self.view1(batch, generator), self.view2(batch, generator)
        p1 = self.predictor(self.projector(encode(self.encoder, v1)))
        p2 = self.predictor(self.projector(encode(self.encoder, v2)))
        with torch.no_grad():
            t1 = self.target_projector(encode(self.target_encoder, v1))
            t2 = self.target_projector(encode(self.target_encoder, v2))
        return self.objective(p1, t2, p2, t1)

    @torch.no_grad()
    def after_step(self, step: int, total_steps: int) -> None:
        rate = cosine_ema_rate(step, total_steps, self.ema_base)
        ema_update(self.target_encoder, self.encoder, rate)
        ema_update(self.target_projector, self.projector, rate)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, **kwargs) -> "BYOL":
        return cls(encoder_from_config(cls, in_channels, encoder), view1=view1 or {},
                   view2=view2, **kwargs)
