"""The two-view recipe shared by GRACE, CCA-SSG, G-BT, VICReg and SwAV on graphs."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import Augmentation
from ..encoders import encode
from .base import Method
from .views import build_view


def embedding_dim_of(encoder: nn.Module, embedding_dim: int | None) -> int:
    """``embedding_dim`` if given, else ``encoder.out_channels``; a clear error otherwise."""
    dim = embedding_dim or getattr(encoder, "out_channels", None)
    if not isinstance(dim, int) or dim < 1:
        raise ValueError("embedding_dim must be given when the encoder has no out_channels")
    return dim


class TwoViewMethod(Method):
    """Two augmented views, one shared encoder, an optional projection head, and an objective
    over the two ``[N, d]`` outputs: ``objective(head(enc(view1)), head(enc(view2)))``.

    Subclasses only choose the objective, the head and their defaults. Evaluation embeddings are
    the encoder's output (before the head).
    """

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict,
                 view2: Augmentation | dict, objective: nn.Module,
                 projector: nn.Module | None = None):
        super().__init__(encoder)
        self.view1, self.view2 = build_view(view1), build_view(view2)
        self.projector = projector if projector is not None else nn.Identity()
        self.objective = objective

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        v1, v2 = self.view1(batch, generator), self.view2(batch, generator)
        h1 = self.projector(encode(self.encoder, v1))
        h2 = self.projector(encode(self.encoder, v2))
        return self.objective(h1, h2)


def encoder_from_config(method_cls, in_channels: int, encoder: dict | None) -> nn.Module:
    """Build the encoder a configuration names, ``{'type': 'vit', 'image_size': 8, ...}``; a
    clear error when the type is missing (methods for images, clips and text have no default
    encoder: its shape depends on the data)."""
    from ..encoders import build_encoder
    config = dict(encoder or {})
    if "type" not in config:
        raise ValueError(f"{method_cls.__name__} needs an encoder configuration with a 'type' "
                         f"(e.g. {{'type': 'vit', 'image_size': 8, 'patch_size': 2}}); got "
                         f"{encoder!r}")
    return build_encoder(config.pop("type"), in_channels, **config)


def mlp(sizes, activation=nn.ReLU, batch_norm: bool = False) -> nn.Sequential:
    """``Linear`` layers of the given sizes with ``activation`` (and batch norm) between them."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(activation())
    return nn.Sequential(*layers)
