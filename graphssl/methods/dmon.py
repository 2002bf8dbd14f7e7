"""DMoN: graph clustering by maximising the modularity of a GNN's soft assignments."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int, check_number
from ..encoders import build_encoder, encode
from ..objectives import DMoN
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of


@register_method("dmon")
class DMoNClustering(Method):
    r"""DMoN (Tsitsulin, Palowitch, Perozzi, Müller, "Graph Clustering with Graph Neural
    Networks", JMLR 2023): a GNN encoder and a linear assignment head with a softmax over
    ``num_clusters`` clusters, trained by :class:`~graphssl.objectives.DMoN` (minus the spectral
    modularity of the soft assignments plus the collapse regulariser). Clustering is learned
    end to end, without labels; :meth:`predict_clusters` gives each node's cluster and
    :meth:`embed` the encoder's output (for the library's probes).

    A batch of graphs is one graph with several components for the loss (each graph's edges
    stay within it), which is modularity's definition for a disjoint union.

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        num_clusters: ``K >= 2``, at most the number of nodes of a training graph.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).
        collapse_regularization: weight of the collapse term (the paper's default 1).
        dropout: dropout on the embeddings before the assignment head (the paper's code uses
            0.5; ``0`` disables it).

    Shapes: a graph with ``N >= num_clusters`` nodes -> scalar loss; :meth:`predict_clusters`
    -> ``[N]`` cluster ids; :meth:`embed` -> ``[N, d]``.

    Example:
        >>> method = DMoNClustering(GCNEncoder(1433, 64), num_clusters=16)
        >>> Trainer(epochs=1000, lr=1e-3).fit(method, data)
        >>> clusters = method.predict_clusters(data)
    """

    def __init__(self, encoder: nn.Module, num_clusters: int = 16,
                 embedding_dim: int | None = None, collapse_regularization: float = 1.0,
                 dropout: float = 0.5):
        super().__init__(encoder)
        num_clusters = check_int("num_clusters", num_clusters, 2)
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        self.num_clusters = num_clusters
        self.head = nn.Sequential(nn.Dropout(dropout),
                                  nn.Linear(embedding_dim_of(encoder, embedding_dim),
                                            num_clusters))
        self.objective = DMoN(collapse_regularization)

    def assignments(self, data) -> torch.Tensor:
        """Soft cluster assignments ``[N, K]`` (rows sum to 1)."""
        return self.head(encode(self.encoder, data)).softmax(dim=1)

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        if batch.num_nodes < self.num_clusters:
            raise ValueError(f"num_clusters={self.num_clusters} is larger than the number of "
                             f"nodes ({batch.num_nodes}): lower num_clusters")
        return self.objective(self.assignments(batch), batch.edge_index,
                              getattr(batch, "edge_weight", None), batch.num_nodes)

    @torch.no_grad()
    def predict_clusters(self, data) -> torch.Tensor:
        """Each node's most likely cluster ``[N]`` (eval mode; the training mode is kept)."""
        was_training = self.training
        self.eval()
        try:
            return self.assignments(data).argmax(dim=1)
        finally:
            self.train(was_training)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, num_clusters: int = 16,
                    collapse_regularization: float = 1.0,
                    dropout: float = 0.5) -> "DMoNClustering":
        enc = dict(type="gcn", hidden_channels=64, num_layers=1, activation="selu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   num_clusters=num_clusters, collapse_regularization=collapse_regularization,
                   dropout=dropout)
