"""SwAV on graphs, images, clips and text."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder
from ..objectives import SwAV
from .registry import register_method
from .two_view import TwoViewMethod, embedding_dim_of, encoder_from_config, mlp

NON_GRAPH_ENCODERS = ("vit", "resnet", "video-transformer", "text-transformer")


@register_method("swav")
class GraphSwAV(TwoViewMethod):
    r"""SwAV (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
    Assignments", NeurIPS 2020) with a GNN encoder: two views, one encoder, an MLP projection
    head, and :class:`~graphssl.objectives.SwAV` (learnable prototypes, Sinkhorn-Knopp codes,
    swapped prediction) on the projected nodes. With an adapter encoder (``{'type': 'vit'}``,
    ``'video-transformer'``, ``'text-transformer'``) and image, clip or text views, the same
    class is SwAV on images, clips or sentences.

    Example:
        >>> method = GraphSwAV(GCNEncoder(1433, 512, out_channels=256),
        ...                    view={'edge_drop': 0.3, 'feature_mask': 0.3}, num_prototypes=64)
    """

    modalities = ("graph", "image", "video", "text")

    def __init__(self, encoder: nn.Module, view: Augmentation | dict,
                 embedding_dim: int | None = None, projection_dim: int = 128,
                 num_prototypes: int = 64, temperature: float = 0.1, epsilon: float = 0.05,
                 sinkhorn_iterations: int = 3):
        dim = embedding_dim_of(encoder, embedding_dim)
        super().__init__(encoder, view, view,
                         SwAV(num_prototypes=num_prototypes, dim=projection_dim,
                              temperature=temperature, epsilon=epsilon,
                              sinkhorn_iterations=sinkhorn_iterations),
                         projector=mlp([dim, dim, projection_dim], batch_norm=True))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    view: dict | None = None, **kwargs) -> "GraphSwAV":
        if (encoder or {}).get("type") in NON_GRAPH_ENCODERS:  # no GNN defaults for a ViT
            return cls(encoder_from_config(cls, in_channels, encoder), view=view or {},
                       **kwargs)
        enc = dict(type="gcn", hidden_channels=512, out_channels=256, num_layers=2,
                   activation="prelu", batch_norm=True)
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view=view or {"edge_drop": 0.3, "feature_mask": 0.3}, **kwargs)
