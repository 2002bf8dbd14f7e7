"""Graph CPC: Contrastive Predictive Coding over node embeddings gathered along random walks."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..augment.base import rand
from ..checks import check_int, check_positive
from ..encoders import build_encoder, encode
from ..objectives import CPC
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of


def random_walks(edge_index: Tensor, num_nodes: int, num_walks: int, walk_length: int,
                 generator: torch.Generator | None = None) -> Tensor:
    """``num_walks`` uniform random walks of ``walk_length`` nodes, drawn from ``generator``
    (torch's global RNG when ``None``; a CPU generator may drive walks on another device).

    Each walk starts at a node drawn uniformly from all ``num_nodes`` nodes; at every step it
    moves to a uniformly chosen out-neighbour, following ``edge_index`` from row 0 (source) to
    row 1 (target), i.e. along the edges as stored (both directions for an undirected graph;
    edge weights are ignored, a duplicated edge counts twice). **A node without out-neighbours
    (an isolated node, or a sink of a directed graph) keeps the walk in place**: the walk repeats
    that node until its end. In a batch of graphs the walks stay inside the graph they start in,
    since no edge leaves a graph.

    Vectorised over the walks (one draw of ``num_walks`` uniform numbers per step, always, so the
    generator advances the same way whatever the graph); the loop runs over the
    ``walk_length - 1`` steps only.

    Shapes: ``edge_index [2, E]`` -> ``[num_walks, walk_length]`` node ids (``long``).
    """
    num_nodes = check_int("num_nodes", int(num_nodes), 1)
    check_int("num_walks", num_walks, 1)
    check_int("walk_length", walk_length, 1)
    device = edge_index.device
    src, dst = edge_index[0], edge_index[1]
    num_edges = src.numel()
    dst = dst[torch.argsort(src, stable=True)]  # out-neighbours grouped by source node
    deg = torch.bincount(src, minlength=num_nodes)
    ptr = torch.cumsum(deg, 0) - deg  # first out-edge of each node in `dst`
    walks = torch.empty(num_walks, walk_length, dtype=torch.long, device=device)
    start = (rand(num_walks, generator, device).double() * num_nodes).long()
    walks[:, 0] = start.clamp_max(num_nodes - 1)
    for t in range(1, walk_length):
        cur = walks[:, t - 1]
        d = deg[cur]
        offset = (rand(num_walks, generator, device).double() * d).long()
        offset = torch.minimum(offset, (d - 1).clamp_min(0))
        if num_edges == 0:
            walks[:, t] = cur
            continue
        nxt = dst[(ptr[cur] + offset).clamp_max(num_edges - 1)]
        walks[:, t] = torch.where(d > 0, nxt, cur)
    return walks


@register_method("cpc")
class GraphCPC(Method):
    r"""Graph CPC: node representations learned by Contrastive Predictive Coding (van den Oord,
    Li, Vinyals, "Representation Learning with Contrastive Predictive Coding", 2018) over
    random-walk sequences, as DeepWalk (Perozzi et al., KDD 2014) and node2vec (Grover &
    Leskovec, KDD 2016) turn a graph into node sequences; here the sequences are scored by CPC
    instead of skip-gram.

    Each :meth:`loss` call:

    1. draws ``num_walks`` uniform random walks of ``walk_length`` nodes from ``generator``
       (:func:`random_walks`: uniform start nodes, uniform out-neighbours; a node without
       neighbours keeps the walk in place);
    2. encodes the whole graph once with the GNN encoder, ``[N, d]``;
    3. gathers the embeddings along the walks, ``z [B, T, d]`` (``B = num_walks``,
       ``T = walk_length``);
    4. runs a GRU over each walk to get the contexts ``c [B, T, context_dim]`` (``c_t`` sees
       ``z_1..z_t``);
    5. applies :class:`~graphssl.objectives.CPC`: ``c_t`` predicts ``z_{t+k}``
       (``k = 1..num_steps``) against the ``z_{t+k}`` of the other walks of the step (InfoNCE).

    Batches of graphs work as one graph with several components (walks start anywhere in the
    batch and stay in their graph; the other walks, from any graph, are the negatives). Isolated
    nodes give constant walks. :meth:`embed` is the encoder's output (the GRU and the prediction
    heads are only used for training).

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        num_walks: walks per step, ``B >= 2`` (each walk's negatives are the other ``B - 1``).
        walk_length: nodes per walk, ``T > num_steps``.
        num_steps: future steps predicted, ``K >= 1``.
        context_dim: GRU hidden size (default: ``d``).
        temperature: ``> 0``, divides CPC's scores.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).

    Shapes: a graph with ``N >= 1`` nodes -> scalar loss; :meth:`embed` -> ``[N, d]``.
    Cost per step: one encoder pass, a GRU over ``[B, T, d]`` and CPC's ``O(T B^2)`` scores.

    Example:
        >>> method = GraphCPC(GCNEncoder(1433, 128), num_walks=256, walk_length=10)
        >>> Trainer(epochs=100, lr=5e-3).fit(method, data)
        >>> z = method.embed(data)  # [N, 128]
    """

    def __init__(self, encoder: nn.Module, num_walks: int = 256, walk_length: int = 10,
                 num_steps: int = 3, context_dim: int | None = None, temperature: float = 1.0,
                 embedding_dim: int | None = None):
        check_int("num_walks", num_walks, 2)
        check_int("num_steps", num_steps, 1)
        check_int("walk_length", walk_length, 2)
        if walk_length <= num_steps:
            raise ValueError(f"walk_length must be > num_steps={num_steps} (a context needs a "
                             f"node num_steps ahead on its walk), got {walk_length!r}")
        if context_dim is not None:
            check_int("context_dim", context_dim, 1)
        check_positive("temperature", temperature)
        super().__init__(encoder)
        dim = embedding_dim_of(encoder, embedding_dim)
        context_dim = context_dim or dim
        self.num_walks, self.walk_length = num_walks, walk_length
        self.gru = nn.GRU(dim, context_dim, batch_first=True)
        self.objective = CPC(dim, context_dim, num_steps=num_steps, temperature=temperature)

    def walks(self, batch, generator: torch.Generator | None = None) -> Tensor:
        """This step's random walks ``[num_walks, walk_length]`` (node ids of ``batch``)."""
        return random_walks(batch.edge_index, batch.num_nodes, self.num_walks, self.walk_length,
                            generator)

    def loss(self, batch, generator: torch.Generator | None = None) -> Tensor:
        if not batch.num_nodes:
            raise ValueError("GraphCPC needs a graph with at least one node")
        walks = self.walks(batch, generator)
        z = encode(self.encoder, batch)[walks]  # [B, T, d]
        c, _ = self.gru(z)  # [B, T, context_dim]
        return self.objective(z, c)

    def extra_repr(self) -> str:
        return f"num_walks={self.num_walks}, walk_length={self.walk_length}"

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, num_walks: int = 256,
                    walk_length: int = 10, num_steps: int = 3, context_dim: int | None = None,
                    temperature: float = 1.0) -> "GraphCPC":
        """Defaults are our choice (no published graph-CPC configuration): DGI's encoder (one
        GCN layer, 512 PReLU units), 256 walks of 10 nodes, 3 predicted steps."""
        enc = dict(type="gcn", hidden_channels=512, num_layers=1, activation="prelu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc), num_walks=num_walks,
                   walk_length=walk_length, num_steps=num_steps, context_dim=context_dim,
                   temperature=temperature)
