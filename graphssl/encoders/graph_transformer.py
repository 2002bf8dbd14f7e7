"""Graphs through the shared Transformer core: nodes as tokens, one attention set per graph."""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_dense_batch

from ..checks import check_positive_int
from .gnn import make_activation
from .transformer import TransformerBlock


class GraphTransformerEncoder(nn.Module):
    r"""A GPS-style graph Transformer (Rampášek et al., "Recipe for a General, Powerful,
    Scalable Graph Transformer", NeurIPS 2022) built on graphssl's shared
    :class:`~graphssl.encoders.transformer.TransformerBlock`.

    Each of the ``num_layers`` layers adds a local message-passing update (a ``GCNConv``,
    residual) and then lets every node attend to every node **of its own graph**: the nodes of a
    batch are packed into ``[B, N_max, dim]`` token sequences (``to_dense_batch``) whose padding
    is masked out, so batched graphs never attend across graphs and no Python loop runs over
    graphs. Structure enters through the local convolutions, which is how GPS gets positional
    information when no positional encoding is added; attention is ``O(N_max^2)`` per graph, so
    node-level graphs of more than ~20k nodes want a GNN encoder or a sampled subgraph instead.

    It takes the GNN encoders' ``hidden_channels``, ``num_layers``, ``out_channels`` and
    ``activation`` (of the local updates), so a method's GNN configuration switches to it with
    ``encoder: {type: graph-transformer}``.

    Shapes: ``x [N, in_channels]``, ``edge_index [2, E]``, optional ``batch [N]`` ->
    ``[N, out_channels]`` (node embeddings, pooled by the methods' readouts like any encoder's).

    Example:
        >>> enc = GraphTransformerEncoder(1433, 128, num_layers=2, heads=4)
        >>> z = enc(data.x, data.edge_index)
    """

    def __init__(self, in_channels: int, hidden_channels: int = 128, num_layers: int = 2,
                 out_channels: int | None = None, heads: int = 4, mlp_ratio: float = 2.0,
                 dropout: float = 0.0, activation: str = "gelu"):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden_channels", hidden_channels),
                            ("num_layers", num_layers)):
            check_positive_int(name, value)
        self.out_channels = out_channels or hidden_channels
        self.input = nn.Linear(in_channels, hidden_channels)
        self.local = nn.ModuleList(GCNConv(hidden_channels, hidden_channels)
                                   for _ in range(num_layers))
        self.blocks = nn.ModuleList(TransformerBlock(hidden_channels, heads, mlp_ratio, dropout)
                                    for _ in range(num_layers))
        self.act = make_activation(activation, hidden_channels)
        self.norm = nn.LayerNorm(hidden_channels)
        self.output = nn.Linear(hidden_channels, self.out_channels)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                edge_weight: torch.Tensor | None = None,
                batch: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(x)
        for conv, block in zip(self.local, self.blocks):
            h = h + self.act(conv(h, edge_index, edge_weight))
            dense, real = to_dense_batch(h, batch)
            h = block(dense, padding_mask=~real)[real]
        return self.output(self.norm(h))
