"""InfoGraph: graph-level representations by mutual-information maximisation."""
from __future__ import annotations

import torch
from torch import nn

from ..encoders import Readout, build_encoder, encode
from ..encoders.init import check_init, xavier_linears_
from ..objectives import JSD
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of, mlp


class _ShortcutMLP(nn.Module):
    """InfoGraph's discriminator head: a 3-layer ReLU MLP plus a linear shortcut."""

    def __init__(self, dim: int):
        super().__init__()
        self.block = mlp([dim, dim, dim, dim])
        self.block.append(nn.ReLU())
        self.shortcut = nn.Linear(dim, dim)

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


@register_method("infograph")
class InfoGraph(Method):
    r"""InfoGraph (Sun et al., "InfoGraph: Unsupervised and Semi-supervised Graph-Level
    Representation Learning via Mutual Information Maximization", ICLR 2020).

    Node ("patch") embeddings, the concatenation of every encoder layer (``jk='cat'``), and graph
    embeddings, their sum per graph, pass two MLP heads; the Jensen-Shannon estimator
    (:meth:`~graphssl.objectives.JSD.pairwise`, dot-product discriminator) scores every (node,
    graph) pair of a batch: positive for a node's own graph, negative for the others.

    ``init='xavier'`` re-initialises every ``nn.Linear`` of the encoder and the heads as the
    authors' ``init_emb`` does (:func:`~graphssl.encoders.init.xavier_linears_`); ``'default'``
    keeps each layer's own initialisation.

    Shapes: a ``Batch`` of ``G >= 2`` graphs -> scalar; :meth:`embed_graphs` gives ``[G, d]``.

    Example:
        >>> method = InfoGraph(GINEncoder(7, 32, num_layers=4, jk='cat'))
        >>> Trainer(epochs=20, lr=1e-3).fit(method, DataLoader(mutag, batch_size=128))
    """

    graph_readout = "sum"
    level = "graph"

    def __init__(self, encoder: nn.Module, embedding_dim: int | None = None,
                 init: str = "default"):
        super().__init__(encoder)
        self.init = check_init(init)
        dim = embedding_dim_of(encoder, embedding_dim)
        self.readout = Readout(self.graph_readout)
        self.local_head = _ShortcutMLP(dim)
        self.global_head = _ShortcutMLP(dim)
        self.objective = JSD(dim, discriminator="dot")
        if init == "xavier":
            xavier_linears_(self)

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        index = getattr(batch, "batch", None)
        if index is None or batch.num_graphs < 2:
            raise ValueError("InfoGraph contrasts nodes with the other graphs of their batch: it "
                             "needs a Batch of at least 2 graphs (use batch_size >= 2)")
        nodes = encode(self.encoder, batch)
        graphs = self.readout(nodes, index, batch.num_graphs)
        return self.objective.pairwise(self.local_head(nodes), self.global_head(graphs), index)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    init: str = "default") -> "InfoGraph":
        enc = dict(type="gin", hidden_channels=32, num_layers=4, activation="relu",
                   batch_norm=True, jk="cat")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc), init=init)
