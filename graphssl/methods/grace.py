"""GRACE: Deep Graph Contrastive Representation Learning."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder, encode
from ..objectives import InfoNCE
from .base import Method
from .registry import register_method
from .views import build_view


@register_method("grace")
class GRACE(Method):
    r"""GRACE (Zhu et al., "Deep Graph Contrastive Representation Learning", GRL+@ICML 2020).

    Two views (edge dropping + feature-column masking), one shared encoder, a 2-layer projection
    head, and :class:`~graphssl.objectives.InfoNCE` with intra- and inter-view negatives.
    Embeddings for evaluation are the encoder's output (before the projection).

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        view1, view2: augmentations (``Augmentation`` or config dicts like
            ``{'edge_drop': 0.2, 'feature_mask': 0.3}``).
        embedding_dim: the encoder's output size ``d`` (read from ``encoder.out_channels`` if
            omitted).
        projection_dim: hidden size of the projection head.
        temperature: InfoNCE temperature.

    Example:
        >>> method = GRACE(GCNEncoder(1433, 256, out_channels=128),
        ...                view1={'edge_drop': 0.2, 'feature_mask': 0.3},
        ...                view2={'edge_drop': 0.4, 'feature_mask': 0.4}, temperature=0.4)
        >>> loss = method.loss(data, generator)
    """

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict, view2: Augmentation | dict,
                 embedding_dim: int | None = None, projection_dim: int = 128,
                 temperature: float = 0.5):
        super().__init__(encoder)
        dim = embedding_dim or getattr(encoder, "out_channels", None)
        if not isinstance(dim, int) or dim < 1:
            raise ValueError("embedding_dim must be given when the encoder has no out_channels")
        self.view1, self.view2 = build_view(view1), build_view(view2)
        self.projector = nn.Sequential(nn.Linear(dim, projection_dim), nn.ELU(),
                                       nn.Linear(projection_dim, dim))
        self.objective = InfoNCE(temperature=temperature)

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        v1, v2 = self.view1(batch, generator), self.view2(batch, generator)
        h1 = self.projector(encode(self.encoder, v1))
        h2 = self.projector(encode(self.encoder, v2))
        return self.objective(h1, h2)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, projection_dim: int = 128,
                    temperature: float = 0.5) -> "GRACE":
        enc = dict(type="gcn", hidden_channels=256, out_channels=128, num_layers=2,
                   activation="relu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view1=view1 or {"edge_drop": 0.2, "feature_mask": 0.3},
                   view2=view2 or {"edge_drop": 0.4, "feature_mask": 0.4},
                   projection_dim=projection_dim, temperature=temperature)
