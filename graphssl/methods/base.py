"""The method contract: ``loss(batch, generator)`` for training, ``embed(data)`` for evaluation."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import Augmentation
from ..augment.compose import check_graph_size
from ..encoders import Readout, encode


class Method(nn.Module):
    """A self-supervised recipe wiring views, encoder(s) and an objective.

    Subclasses implement :meth:`loss` and may override :meth:`embed` (default: the encoder's node
    embeddings) and :meth:`from_config` (build the method, encoder included, from plain
    configuration, as the command line and benchmark runner do).
    """

    name: str = ""
    #: ``'node'`` methods train on one graph or batches of graphs; ``'graph'`` methods contrast the
    #: graphs of a batch and need batches of at least 2 graphs
    level: str = "node"
    #: how :meth:`embed_graphs` pools node embeddings into graph embeddings
    graph_readout: str = "mean"
    #: the inputs the method trains on: ``'graph'`` and/or the non-graph modalities
    #: ``'image'``, ``'video'``, ``'text'`` (whose encoders map a batch tensor to ``[B, d]``)
    modalities: tuple = ("graph",)

    def __init__(self, encoder: nn.Module):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
        self.encoder = encoder

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self, step: int, total_steps: int) -> None:
        """Called by the Trainer after each optimiser step (``step`` counts from 1 to
        ``total_steps``): the place for EMA target updates. Does nothing by default."""

    def forward(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.loss(batch, generator)

    def check_graph_size(self, num_nodes: int) -> None:
        """Raise a ``ValueError`` before any training if the method cannot train on or embed a
        graph of ``num_nodes`` nodes: each augmentation the method (or any of its submodules)
        holds checks the size (:meth:`Augmentation.check_graph_size`; MVGRL's exact, dense
        PPR diffusion refuses graphs beyond about 10^4 nodes). The benchmark runner calls it
        with the largest graph it will embed."""
        for module in self.modules():
            for value in vars(module).values():
                views = value if isinstance(value, (list, tuple)) else (value,)
                check_graph_size([v for v in views if isinstance(v, Augmentation)], num_nodes)

    @torch.no_grad()
    def embed(self, data) -> torch.Tensor:
        """Frozen node embeddings ``[N, d]`` of the un-augmented graph: :meth:`node_embeddings`
        in eval mode, without gradients (the training mode is restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            return self.node_embeddings(data).detach()
        finally:
            self.train(was_training)

    def node_embeddings(self, data) -> torch.Tensor:
        """What :meth:`embed` returns, computed in eval mode: the encoder's output by default."""
        return encode(self.encoder, data)

    @torch.no_grad()
    def embed_graphs(self, batch) -> torch.Tensor:
        """Frozen graph embeddings ``[num_graphs, d]`` of a batch of graphs: the node embeddings
        of :meth:`embed` pooled per graph with ``graph_readout``."""
        index = getattr(batch, "batch", None)
        num_graphs = getattr(batch, "num_graphs", None) if index is not None else 1
        return Readout(self.graph_readout)(self.embed(batch), index, num_graphs)

    @classmethod
    def from_config(cls, in_channels: int, **config) -> "Method":  # pragma: no cover
        raise NotImplementedError(f"{cls.__name__} cannot be built from a config")
