"""The method contract: ``loss(batch, generator)`` for training, ``embed(data)`` for evaluation."""
from __future__ import annotations

import torch
from torch import nn

from ..encoders import encode


class Method(nn.Module):
    """A self-supervised recipe wiring views, encoder(s) and an objective.

    Subclasses implement :meth:`loss` and may override :meth:`embed` (default: the encoder's node
    embeddings) and :meth:`from_config` (build the method, encoder included, from plain
    configuration, as the command line and benchmark runner do).
    """

    name: str = ""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
        self.encoder = encoder

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.loss(batch, generator)

    @torch.no_grad()
    def embed(self, data) -> torch.Tensor:
        """Frozen node embeddings ``[N, d]`` of the un-augmented graph (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            return encode(self.encoder, data).detach()
        finally:
            self.train(was_training)

    @classmethod
    def from_config(cls, in_channels: int, **config) -> "Method":  # pragma: no cover
        raise NotImplementedError(f"{cls.__name__} cannot be built from a config")
