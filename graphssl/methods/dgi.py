"""DGI: Deep Graph Infomax."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import FeatureShuffle
from ..encoders import Readout, build_encoder, encode
from ..objectives import JSD
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of


@register_method("dgi")
class DGI(Method):
    r"""DGI (Velickovic et al., "Deep Graph Infomax", ICLR 2019).

    Node embeddings of the graph are contrasted, through a bilinear discriminator
    (:class:`~graphssl.objectives.JSD`), with those of a corrupted graph (features shuffled
    across nodes, structure kept) against the graph summary :math:`s = \sigma(\mathrm{mean}(H))`.
    In a batch of graphs each node is scored against its own graph's summary.

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).

    Example:
        >>> method = DGI(GCNEncoder(1433, 512, num_layers=1))
        >>> loss = method.loss(data, generator)
    """

    def __init__(self, encoder: nn.Module, embedding_dim: int | None = None):
        super().__init__(encoder)
        dim = embedding_dim_of(encoder, embedding_dim)
        self.corruption = FeatureShuffle()
        self.readout = Readout("mean")
        self.objective = JSD(dim, discriminator="bilinear")

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        pos = encode(self.encoder, batch)
        neg = encode(self.encoder, self.corruption(batch, generator))
        index = getattr(batch, "batch", None)
        summary = torch.sigmoid(self.readout(pos, index))
        return self.objective(pos, neg, summary, index, index)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None) -> "DGI":
        enc = dict(type="gcn", hidden_channels=512, num_layers=1, activation="prelu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc))
