"""GraphCL: graph contrastive learning with augmentations."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import Augmentation, EdgeDrop, FeatureMask, NodeDrop, RandomChoice, Subgraph
from ..encoders import Readout, build_encoder, encode
from ..encoders.init import check_init, xavier_linears_
from ..objectives import InfoNCE
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of, mlp
from .views import build_view


def graphcl_augmentations(ratio: float = 0.2) -> RandomChoice:
    """GraphCL's pool for unsupervised TU graphs: node dropping, edge perturbation (here edge
    dropping), subgraph (random walks) and attribute masking, one drawn per batch."""
    return RandomChoice([NodeDrop(ratio), EdgeDrop(ratio),
                         Subgraph("random_walk", root_ratio=0.1, walk_length=4),
                         FeatureMask(ratio, mode="node")])


@register_method("graphcl")
class GraphCL(Method):
    r"""GraphCL (You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020),
    graph level.

    Each graph of a batch is contrasted with its augmented view: graph embeddings (sum readout
    of every layer, ``jk='cat'``) pass a 2-layer projection head, and
    :class:`~graphssl.objectives.InfoNCE` is taken in GraphCL's form: view-1 anchors only, the
    other graphs of view 2 as negatives, the positive left out of the denominator
    (``intra_view_negatives=False, symmetric=False, decoupled=True``). As in the authors'
    unsupervised TU code, view 1 is the graph itself and view 2 an augmentation drawn per batch.

    ``init='xavier'`` re-initialises every ``nn.Linear`` of the encoder and the projection
    head as the authors' ``init_emb`` does (:func:`~graphssl.encoders.init.xavier_linears_`).

    Shapes: a ``Batch`` of ``G >= 2`` graphs -> scalar loss; :meth:`embed_graphs` gives
    ``[G, d]`` (before the projection head).

    Example:
        >>> method = GraphCL(GINEncoder(7, 32, num_layers=3, jk='cat'), temperature=0.2)
        >>> Trainer(epochs=20, lr=0.01).fit(method, DataLoader(mutag, batch_size=128))
    """

    graph_readout = "sum"
    level = "graph"

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict | None = None,
                 view2: Augmentation | dict | None = None, embedding_dim: int | None = None,
                 temperature: float = 0.2, init: str = "default"):
        super().__init__(encoder)
        self.init = check_init(init)
        dim = embedding_dim_of(encoder, embedding_dim)
        self.view1 = build_view(view1 or {})
        self.view2 = view2 if isinstance(view2, Augmentation) else (
            build_view(view2) if view2 else graphcl_augmentations())
        self.readout = Readout(self.graph_readout)
        self.projector = mlp([dim, dim, dim])
        self.objective = InfoNCE(temperature, intra_view_negatives=False, symmetric=False,
                                 decoupled=True)
        if init == "xavier":
            xavier_linears_(self)

    def _graphs(self, view) -> torch.Tensor:
        index = getattr(view, "batch", None)
        num_graphs = view.num_graphs if index is not None else 1
        return self.projector(self.readout(encode(self.encoder, view), index, num_graphs))

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        if getattr(batch, "num_graphs", 1) < 2:
            raise ValueError("GraphCL contrasts the graphs of a batch: it needs at least 2 graphs "
                             "per batch (the others are the negatives); use batch_size >= 2")
        return self.objective(self._graphs(self.view1(batch, generator)),
                              self._graphs(self.view2(batch, generator)))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, temperature: float = 0.2,
                    aug_ratio: float = 0.2, init: str = "default") -> "GraphCL":
        enc = dict(type="gin", hidden_channels=32, num_layers=3, activation="relu",
                   batch_norm=True, jk="cat")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc), view1=view1,
                   view2=view2 or graphcl_augmentations(aug_ratio), temperature=temperature,
                   init=init)
