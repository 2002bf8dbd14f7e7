"""MVGRL: Contrastive Multi-View Representation Learning on Graphs (node and graph level)."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import FeatureShuffle, PPRDiffusion
from ..augment.adaptive import IdentityCache
from ..augment.base import graph_index, shallow_copy
from ..checks import check_positive_int
from ..encoders import Readout, build_encoder, encode
from ..objectives import JSD
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of


class _DiffusionViews(Method):
    """What both MVGRL variants share: an encoder per view (graph, PPR diffusion) and the
    diffusion computed once per graph."""

    #: diffusions kept (the training graph, plus e.g. another graph being embedded)
    DIFFUSION_CACHE_SIZE = 2

    def __init__(self, encoder: nn.Module, diffusion_encoder: nn.Module, alpha: float,
                 eps: float, embedding_dim: int | None = None, minmax_columns: bool = False):
        super().__init__(encoder)
        if not isinstance(diffusion_encoder, nn.Module):
            raise TypeError(f"diffusion_encoder must be a torch.nn.Module, got "
                            f"{type(diffusion_encoder).__name__}")
        dim = embedding_dim_of(encoder, embedding_dim)
        diff_dim = embedding_dim or getattr(diffusion_encoder, "out_channels", dim)
        if diff_dim != dim:
            raise ValueError(f"encoder and diffusion_encoder must output the same size, got "
                             f"{dim} and {diff_dim}")
        self.diffusion_encoder = diffusion_encoder
        self.diffusion = PPRDiffusion(alpha=alpha, eps=eps, minmax_columns=minmax_columns)
        self._diffusion_cache = IdentityCache(self.DIFFUSION_CACHE_SIZE)
        self.embedding_dim = dim  # both views' output size d

    def diffusion_view(self, data):
        """``data`` with its PPR diffusion as ``edge_index`` + ``edge_weight`` (``edge_attr``
        dropped). The diffusion is computed once per graph: it is cached on the identity (and
        version) of ``edge_index``, ``edge_weight`` and ``batch``, so every epoch of a
        full-graph run, and :meth:`embed` after it, reuse it; a new or edited graph recomputes
        it. The cache holds references to those tensors (the last
        ``DIFFUSION_CACHE_SIZE`` graphs)."""
        batch, _ = graph_index(data)
        key = (data.edge_index, getattr(data, "edge_weight", None), batch, int(data.num_nodes))

        def build():
            out = self.diffusion(data)
            return out.edge_index, out.edge_weight

        edge_index, edge_weight = self._diffusion_cache.get(key, build)
        view = shallow_copy(data)
        if "edge_attr" in view:
            del view.edge_attr
        view.edge_index, view.edge_weight = edge_index, edge_weight
        return view


def _gcn_defaults(encoder: dict | None, diffusion_encoder: dict | None, **defaults):
    """Encoder configs of both views: ``encoder`` over ``defaults``; the diffusion encoder
    copies it, with GCN normalisation off (the authors multiply by ``S`` as it is), then
    ``diffusion_encoder`` on top."""
    enc = dict(defaults)
    enc.update(encoder or {})
    diff = dict(enc)
    if (diffusion_encoder or {}).get("type", enc["type"]) == "gcn":
        diff["normalize"] = False
    diff.update(diffusion_encoder or {})
    return enc, diff


@register_method("mvgrl")
class MVGRL(_DiffusionViews):
    r"""MVGRL, node level (Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning
    on Graphs", ICML 2020).

    Two views of the same nodes: the graph (GCN-normalised adjacency) and its personalised-
    PageRank diffusion :math:`S = \alpha (I - (1 - \alpha) \tilde D^{-1/2} \tilde A \tilde
    D^{-1/2})^{-1}` (:class:`~graphssl.augment.PPRDiffusion`, entries below ``eps`` removed),
    each with its own encoder: :math:`H_a = g_a(X, A)`, :math:`H_d = g_d(X, S)`. Summaries are
    :math:`s_a = \sigma(\mathrm{mean}(H_a))`, :math:`s_d = \sigma(\mathrm{mean}(H_d))` (per graph
    in a batch). Negatives are the same two encoders applied to the graph with node features
    shuffled (one permutation, shared by both views). One bilinear discriminator
    (:class:`~graphssl.objectives.JSD`) scores cross-view pairs; the loss is the mean of

    * locals of the adjacency view against the diffusion summary :math:`s_d`, and
    * locals of the diffusion view against the adjacency summary :math:`s_a`,

    which equals the authors' binary cross-entropy over all four score sets. Evaluation
    embeddings are :math:`H_a + H_d` of the un-corrupted graph.

    The diffusion is computed once per graph and reused across epochs (see
    :meth:`diffusion_view`): ``O(N^3)`` time and ``O(N^2)`` memory once, so graphs beyond about
    10^4 nodes are refused by :class:`~graphssl.augment.PPRDiffusion` (by the benchmark runner
    before training: :meth:`~graphssl.methods.Method.check_graph_size`).

    Differences from the paper: the paper (and the authors' code) trains on batches of four
    random 2000-node subgraphs of Cora/CiteSeer cut from the dense matrices; here the whole
    graph is one batch (Cora fits). The authors' dense :math:`S` is sparsified here at ``eps``
    (for CiteSeer they threshold it too, then min-max scale its columns: ``minmax_columns``).
    ``from_config`` builds the diffusion encoder with ``normalize=False`` so it
    multiplies by :math:`S` as it is, as the authors' code does.

    Args:
        encoder: encoder of the adjacency view, ``(x, edge_index, [edge_weight]) -> [N, d]``.
        diffusion_encoder: encoder of the diffusion view; it must use ``edge_weight`` (a
            :class:`~graphssl.encoders.GCNEncoder` does) and output the same ``d``.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).
        alpha: PPR teleport probability, in (0, 1).
        eps: diffusion entries below it are dropped (``0`` keeps all positive entries).
        minmax_columns: min-max scale each column of the sparsified diffusion to ``[0, 1]``
            (the authors' ``MinMaxScaler`` on CiteSeer; see
            :class:`~graphssl.augment.PPRDiffusion`).

    Shapes: a graph (or batch) with ``x [N, F]`` -> scalar loss; :meth:`embed` -> ``[N, d]``.

    Example:
        >>> method = MVGRL(GCNEncoder(1433, 512, num_layers=1),
        ...                GCNEncoder(1433, 512, num_layers=1, normalize=False))
        >>> Trainer(epochs=3000, lr=0.001, patience=20).fit(method, data)
        >>> z = method.embed(data)   # H_a + H_d
    """

    def __init__(self, encoder: nn.Module, diffusion_encoder: nn.Module,
                 embedding_dim: int | None = None, alpha: float = 0.2, eps: float = 1e-4,
                 minmax_columns: bool = False):
        super().__init__(encoder, diffusion_encoder, alpha, eps, embedding_dim, minmax_columns)
        dim = self.embedding_dim
        self.corruption = FeatureShuffle()
        self.readout = Readout("mean")
        self.objective = JSD(dim, discriminator="bilinear")

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        diffusion = self.diffusion_view(batch)
        shuffled = self.corruption(batch, generator)
        shuffled_diffusion = shallow_copy(diffusion)
        shuffled_diffusion.x = shuffled.x
        h_a, h_d = encode(self.encoder, batch), encode(self.diffusion_encoder, diffusion)
        n_a = encode(self.encoder, shuffled)
        n_d = encode(self.diffusion_encoder, shuffled_diffusion)
        index, num_graphs = graph_index(batch)
        s_a = torch.sigmoid(self.readout(h_a, index, num_graphs if index is not None else None))
        s_d = torch.sigmoid(self.readout(h_d, index, num_graphs if index is not None else None))
        return 0.5 * (self.objective(h_a, n_a, s_d, index, index) +
                      self.objective(h_d, n_d, s_a, index, index))

    def node_embeddings(self, data) -> torch.Tensor:
        """Frozen node embeddings :math:`H_a + H_d` ``[N, d]`` of the un-corrupted graph (eval
        mode; the training mode is restored)."""
        return (encode(self.encoder, data) +
                encode(self.diffusion_encoder, self.diffusion_view(data)))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    diffusion_encoder: dict | None = None, alpha: float = 0.2,
                    eps: float = 1e-4, minmax_columns: bool = False) -> "MVGRL":
        enc, diff = _gcn_defaults(encoder, diffusion_encoder, type="gcn", hidden_channels=512,
                                  num_layers=1, activation="prelu")
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   build_encoder(diff.pop("type"), in_channels, **diff), alpha=alpha, eps=eps,
                   minmax_columns=minmax_columns)


class ShortcutMLP(nn.Module):
    """MVGRL's projection head: three ``Linear`` + PReLU layers plus a linear shortcut,
    ``ffn(x) + W x`` (the authors' ``MLP``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        in_channels = check_positive_int("in_channels", in_channels)
        out_channels = check_positive_int("out_channels", out_channels)
        self.ffn = nn.Sequential(nn.Linear(in_channels, out_channels), nn.PReLU(),
                                 nn.Linear(out_channels, out_channels), nn.PReLU(),
                                 nn.Linear(out_channels, out_channels), nn.PReLU())
        self.shortcut = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(x) + self.shortcut(x)


@register_method("mvgrl-graph")
class MVGRLGraph(_DiffusionViews):
    r"""MVGRL, graph level (Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning
    on Graphs", ICML 2020).

    Each graph of a batch is seen as itself and as its PPR diffusion, each view with its own
    encoder (``jk='cat'``: every layer's output). A graph's embedding in a view is the sum
    readout of the concatenated layer outputs (the concatenated per-layer sums) passed through a
    projection head; a node's (local) embedding is the encoder's last ``local_dim`` columns (its
    last layer) through another head. Heads are :class:`ShortcutMLP`, each shared by both views.
    The loss is the mean of two cross-view local-global terms,
    :meth:`JSD.pairwise <graphssl.objectives.JSD.pairwise>` (dot-product discriminator): nodes
    of the adjacency view against the diffusion view's graph embeddings, and the converse; a
    node's own graph is its positive, the other graphs of the batch its negatives.

    Evaluation: :meth:`embed` gives node embeddings, the sum of both encoders' outputs, and
    :meth:`embed_graphs` their sum per graph (``graph_readout='sum'``), i.e. the sum of both
    views' graph embeddings before the heads, ``[G, encoder.out_channels]``, as for InfoGraph.
    With ``head_embeddings=True`` it returns the authors' ``gv1 + gv2`` instead: both views'
    graph embeddings after the graph head, ``[G, projection_dim]``.

    Differences from the paper: ``from_config`` uses GCN layers with PReLU, as the authors' code
    (GIN ignores edge weights, and the diffusion view *is* edge weights); the diffusion is
    computed per batch, exactly but dense (``B x n_max^2``, so very large graphs such as
    REDDIT's are refused), sparsified at ``eps``, and cached only while the same batch tensors
    come back (a shuffled loader makes new batches each epoch, so it is recomputed per batch);
    the authors sum the two terms (here: mean, the same up to a factor of 2 that Adam ignores);
    graph embeddings skip the head unless ``head_embeddings=True``.

    Args:
        encoder, diffusion_encoder: one per view, same output size; ``jk='cat'`` GNN encoders.
        local_dim: the trailing columns of an encoder output used as node embeddings (the last
            layer of a ``jk='cat'`` encoder); default: the whole output.
        projection_dim: output size of the heads (the JSD dimension); default ``local_dim``.
        embedding_dim: encoder output size (read from ``encoder.out_channels`` if omitted).
        alpha, eps: the PPR diffusion, as in :class:`MVGRL`.
        head_embeddings: :meth:`embed_graphs` returns the heads' graph embeddings.

    Shapes: a ``Batch`` of ``G >= 2`` graphs -> scalar loss; :meth:`embed_graphs` ->
    ``[G, d]`` (``[G, projection_dim]`` with ``head_embeddings``).

    Example:
        >>> method = MVGRLGraph.from_config(dataset.num_features)
        >>> Trainer(epochs=40, lr=0.001).fit(method, DataLoader(dataset, batch_size=64,
        ...                                                     shuffle=True))
        >>> z = method.embed_graphs(batch)
    """

    graph_readout = "sum"
    level = "graph"

    def __init__(self, encoder: nn.Module, diffusion_encoder: nn.Module,
                 local_dim: int | None = None, projection_dim: int | None = None,
                 embedding_dim: int | None = None, alpha: float = 0.2, eps: float = 1e-4,
                 head_embeddings: bool = False):
        super().__init__(encoder, diffusion_encoder, alpha, eps, embedding_dim)
        dim = self.embedding_dim
        local_dim = dim if local_dim is None else local_dim
        if isinstance(local_dim, bool) or not isinstance(local_dim, int) or \
                not 1 <= local_dim <= dim:
            raise ValueError(f"local_dim must be an integer in [1, {dim}], got {local_dim!r}")
        projection_dim = local_dim if projection_dim is None else projection_dim
        projection_dim = check_positive_int("projection_dim", projection_dim)
        self.local_dim, self.projection_dim = local_dim, projection_dim
        self.head_embeddings = bool(head_embeddings)
        self.local_head = ShortcutMLP(local_dim, projection_dim)
        self.graph_head = ShortcutMLP(dim, projection_dim)
        self.readout = Readout(self.graph_readout)
        self.objective = JSD(projection_dim, discriminator="dot")

    def _encode(self, data):
        """Node outputs ``[N, d]`` and graph sums ``[G, d]`` of both views."""
        index, num_graphs = graph_index(data)
        num_graphs = num_graphs if index is not None else None
        z_a = encode(self.encoder, data)
        z_d = encode(self.diffusion_encoder, self.diffusion_view(data))
        return z_a, z_d, self.readout(z_a, index, num_graphs), self.readout(z_d, index,
                                                                           num_graphs)

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        index, num_graphs = graph_index(batch)
        if index is None or num_graphs < 2:
            raise ValueError("MVGRLGraph contrasts the graphs of a batch: pass a Batch of at "
                             "least 2 graphs (e.g. a DataLoader with batch_size >= 2)")
        z_a, z_d, s_a, s_d = self._encode(batch)
        l_a = self.local_head(z_a[:, -self.local_dim:])
        l_d = self.local_head(z_d[:, -self.local_dim:])
        g_a, g_d = self.graph_head(s_a), self.graph_head(s_d)
        return 0.5 * (self.objective.pairwise(l_a, g_d, index) +
                      self.objective.pairwise(l_d, g_a, index))

    def node_embeddings(self, data) -> torch.Tensor:
        """Frozen node embeddings ``[N, d]``: the sum of both encoders' outputs (eval mode)."""
        return (encode(self.encoder, data) +
                encode(self.diffusion_encoder, self.diffusion_view(data)))

    @torch.no_grad()
    def embed_graphs(self, batch) -> torch.Tensor:
        """Frozen graph embeddings: the sum of both views' graph embeddings, before the graph
        head (``[G, d]``) or, with ``head_embeddings``, after it (``[G, projection_dim]``, the
        authors' ``gv1 + gv2``). Eval mode; the training mode is restored."""
        if not self.head_embeddings:
            return super().embed_graphs(batch)  # sum readout of embed(): s_a + s_d
        was_training = self.training
        self.eval()
        try:
            _, _, s_a, s_d = self._encode(batch)
            return (self.graph_head(s_a) + self.graph_head(s_d)).detach()
        finally:
            self.train(was_training)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    diffusion_encoder: dict | None = None, projection_dim: int | None = None,
                    alpha: float = 0.2, eps: float = 1e-4,
                    head_embeddings: bool = False) -> "MVGRLGraph":
        enc, diff = _gcn_defaults(encoder, diffusion_encoder, type="gcn", hidden_channels=512,
                                  num_layers=4, activation="prelu", jk="cat")
        local_dim = enc.get("out_channels") or enc["hidden_channels"]
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   build_encoder(diff.pop("type"), in_channels, **diff), local_dim=local_dim,
                   projection_dim=projection_dim, alpha=alpha, eps=eps,
                   head_embeddings=head_embeddings)
