"""GRACE: Deep Graph Contrastive Representation Learning."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder
from ..objectives import InfoNCE
from .registry import register_method
from .two_view import TwoViewMethod, embedding_dim_of, mlp


@register_method("grace")
class GRACE(TwoViewMethod):
    r"""GRACE (Zhu et al., "Deep Graph Contrastive Representation Learning", GRL+@ICML 2020).

    Two views (edge dropping + feature-column masking), one shared encoder, a 2-layer ELU
    projection head, and :class:`~graphssl.objectives.InfoNCE` with intra- and inter-view
    negatives. Embeddings for evaluation are the encoder's output (before the projection).

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        view1, view2: augmentations (``Augmentation`` or config dicts like
            ``{'edge_drop': 0.2, 'feature_mask': 0.3}``).
        embedding_dim: the encoder's output size ``d`` (read from ``encoder.out_channels`` if
            omitted).
        projection_dim: hidden size of the projection head.
        temperature: InfoNCE temperature.
        chunk_size, num_negatives: InfoNCE's memory-safe modes (exact in blocks of anchors, or
            sampled negatives) for graphs whose ``N x N`` similarities do not fit.

    Example:
        >>> method = GRACE(GCNEncoder(1433, 256, out_channels=128),
        ...                view1={'edge_drop': 0.2, 'feature_mask': 0.3},
        ...                view2={'edge_drop': 0.4, 'feature_mask': 0.4}, temperature=0.4)
        >>> loss = method.loss(data, generator)
    """

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict, view2: Augmentation | dict,
                 embedding_dim: int | None = None, projection_dim: int = 128,
                 temperature: float = 0.5, chunk_size: int | None = None,
                 num_negatives: int | None = None):
        dim = embedding_dim_of(encoder, embedding_dim)
        objective = InfoNCE(temperature=temperature, chunk_size=chunk_size,
                            num_negatives=num_negatives)
        super().__init__(encoder, view1, view2, objective,
                         projector=mlp([dim, projection_dim, dim], activation=nn.ELU))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, projection_dim: int = 128,
                    temperature: float = 0.5, chunk_size: int | None = None,
                    num_negatives: int | None = None) -> "GRACE":
        enc = dict(type="gcn", hidden_channels=256, out_channels=128, num_layers=2,
                   activation="relu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view1=view1 or {"edge_drop": 0.2, "feature_mask": 0.3},
                   view2=view2 or {"edge_drop": 0.4, "feature_mask": 0.4},
                   projection_dim=projection_dim, temperature=temperature,
                   chunk_size=chunk_size, num_negatives=num_negatives)
