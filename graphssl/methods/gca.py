"""GCA: Graph Contrastive Learning with Adaptive Augmentation."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder
from .grace import GRACE
from .registry import register_method

#: view-config keys that only change features, applied first so that the adaptive feature mask
#: measures the centralities of the input graph, not of an edge-dropped view
_FEATURE_KEYS = ("adaptive_feature_mask", "feature_mask")


def features_first(view):
    """A view config with its feature augmentations moved before the others (the order of the
    other keys is kept). Feature masks and edge drops commute, except that an adaptive feature
    mask reads the graph's structure: it must see the input graph. Augmentations are returned
    as they are."""
    if not isinstance(view, dict):
        return view
    first = {k: v for k, v in view.items() if k in _FEATURE_KEYS}
    return {**first, **{k: v for k, v in view.items() if k not in _FEATURE_KEYS}}


@register_method("gca")
class GCA(GRACE):
    r"""GCA (Zhu et al., "Graph Contrastive Learning with Adaptive Augmentation", WWW 2021),
    degree-centrality variant (GCA-DE).

    GRACE's architecture (two views, one shared encoder, a 2-layer ELU projection head,
    :class:`~graphssl.objectives.InfoNCE` with intra- and inter-view negatives) with adaptive
    views: :class:`~graphssl.augment.AdaptiveEdgeDrop` drops edges into low-degree nodes more
    often, :class:`~graphssl.augment.AdaptiveFeatureMask` masks features that are rare on central
    nodes more often, each with mean rate ``p`` and probabilities capped at ``p_tau`` (0.7).
    Both centralities are computed once per graph and cached. Evaluation embeddings are the
    encoder's output.

    In view configs the feature keys are applied first (whatever their order), so the adaptive
    feature mask sees the input graph's degrees, as in the authors' code where both weights are
    computed on the original graph.

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        view1, view2: augmentations or config dicts like
            ``{'adaptive_edge_drop': 0.3, 'adaptive_feature_mask': {'p': 0.1, 'p_tau': 0.7}}``.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).
        projection_dim: hidden size of the projection head.
        temperature: InfoNCE temperature.
        chunk_size, num_negatives: InfoNCE's memory-safe modes (see :class:`GRACE`).

    Shapes: a graph with ``x [N, F]`` -> scalar loss; :meth:`embed` -> ``[N, d]``.

    Example:
        >>> method = GCA(GCNEncoder(745, 512, out_channels=256, activation='relu'),
        ...              view1={'adaptive_edge_drop': 0.3, 'adaptive_feature_mask': 0.1},
        ...              view2={'adaptive_edge_drop': 0.5, 'adaptive_feature_mask': 0.1},
        ...              projection_dim=64, temperature=0.3)
        >>> Trainer(epochs=2000, lr=0.1, weight_decay=1e-5).fit(method, data)
        >>> z = method.embed(data)
    """

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict, view2: Augmentation | dict,
                 embedding_dim: int | None = None, projection_dim: int = 128,
                 temperature: float = 0.5, chunk_size: int | None = None,
                 num_negatives: int | None = None):
        super().__init__(encoder, features_first(view1), features_first(view2),
                         embedding_dim=embedding_dim, projection_dim=projection_dim,
                         temperature=temperature, chunk_size=chunk_size,
                         num_negatives=num_negatives)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, projection_dim: int = 32,
                    temperature: float = 0.4, chunk_size: int | None = None,
                    num_negatives: int | None = None) -> "GCA":
        # the defaults of the authors' train.py: 2 GCN layers of 2 x 256 and 256 units, PReLU
        enc = dict(type="gcn", hidden_channels=512, out_channels=256, num_layers=2,
                   activation="prelu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view1=view1 or {"adaptive_edge_drop": 0.3, "adaptive_feature_mask": 0.1},
                   view2=view2 or {"adaptive_edge_drop": 0.4},
                   projection_dim=projection_dim, temperature=temperature,
                   chunk_size=chunk_size, num_negatives=num_negatives)
