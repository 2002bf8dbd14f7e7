"""GAE and VGAE: graph auto-encoders that reconstruct the edges of a graph from inner products
of node embeddings (Kipf & Welling, "Variational Graph Auto-Encoders", NeurIPS 2016 workshop on
Bayesian Deep Learning).

The losses are PyG's own building blocks (:class:`torch_geometric.nn.GAE` ``recon_loss``,
:class:`torch_geometric.nn.VGAE` ``kl_loss``); this module adds what the
:class:`~graphssl.methods.Method` contract needs around them: encoders built from a config,
negative edges drawn from the Trainer's generator (also per graph in a batch), the variational
encoder ``(x, edge_index) -> (mu, logstd)`` and evaluation embeddings (``mu`` for VGAE).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GAE as PyGGAE
from torch_geometric.nn import VGAE as PyGVGAE
from torch_geometric.nn.models.autoencoder import MAX_LOGSTD

from ..augment.base import rand
from ..checks import check_positive_int
from ..encoders import GCNEncoder, build_encoder, encode
from .base import Method
from .registry import register_method


def sample_negative_edges(edge_index: Tensor, num_nodes: int, batch: Tensor | None = None,
                          generator: torch.Generator | None = None,
                          max_tries: int = 3) -> Tensor:
    """About one random non-edge ``(i, j)`` (``i != j``, ``(i, j)`` not in ``edge_index``) per
    edge of ``edge_index``, drawn from ``generator`` (torch's global RNG when ``None``).

    In a batch of graphs (``batch`` the node-to-graph vector) each negative pairs two nodes of
    the graph of its positive edge, so every graph gets as many negatives as it has edges (as
    PyG's ``batched_negative_sampling``). Pairs are drawn uniformly with replacement; the ones
    that hit an edge or a self-loop are redrawn up to ``max_tries`` times in all, then dropped
    (only dense graphs lose any; a graph of one node has no non-edge at all).

    PyG's ``negative_sampling`` is not used because it draws from Python's ``random`` module:
    it ignores the method's generator and the Trainer's checkpoints do not save that state, so
    a resumed run would not replay the same negatives.
    """
    num_edges = edge_index.size(1)
    if num_edges == 0 or num_nodes < 2:
        return edge_index.new_empty((2, 0))
    device = edge_index.device
    if batch is None:
        order = None
        low = torch.zeros(num_edges, dtype=torch.long, device=device)
        size = torch.full((num_edges,), num_nodes, dtype=torch.long, device=device)
    else:
        order = torch.argsort(batch, stable=True)  # node ids grouped by graph
        counts = torch.bincount(batch)
        starts = torch.cumsum(counts, 0) - counts
        graph = batch[edge_index[0]]
        low, size = starts[graph], counts[graph]
    positives = edge_index[0] * num_nodes + edge_index[1]
    found = []
    for _ in range(max_tries):
        n = low.numel()
        offset = (rand(2 * n, generator, device).double().view(2, n) * size).long()
        pairs = low + torch.minimum(offset, size - 1)
        if order is not None:
            pairs = order[pairs]
        ok = (pairs[0] != pairs[1]) & ~torch.isin(pairs[0] * num_nodes + pairs[1], positives)
        found.append(pairs[:, ok])
        low, size = low[~ok], size[~ok]
        if low.numel() == 0:
            break
    return torch.cat(found, dim=1)


def dense_recon_loss(z: Tensor, edge_index: Tensor, batch=None) -> Tensor:
    r"""The paper's reconstruction loss (Kipf & Welling's ``gae/optimizer.py``): weighted binary
    cross-entropy of :math:`\sigma(z_i^\top z_j)` over **every** node pair against
    :math:`A + I`, positives weighted by ``(N^2 - P) / P`` (``P`` the non-zeros of
    :math:`A + I`) and the mean scaled by ``N^2 / (2 (N^2 - P))``. ``O(N^2)`` memory: for one
    graph of up to some 10k nodes; batches of graphs are refused (cross-graph pairs are not
    non-edges)."""
    if batch is not None and getattr(batch, "batch", None) is not None and \
            int(batch.batch.max()) > 0:
        raise ValueError("reconstruction='dense' scores every node pair of one graph; this is a "
                         "batch of several graphs: use reconstruction='sampled'")
    n = z.size(0)
    # the non-zeros of A + I, each pair once
    loops = torch.arange(n, device=z.device)
    pairs = torch.unique(torch.cat([edge_index[0] * n + edge_index[1], loops * n + loops]))
    positives = pairs.numel()
    pos_weight = (n * n - positives) / positives
    norm = n * n / (2.0 * (n * n - positives))
    logits = z @ z.t()
    # weighted BCE without a dense target: with softplus(-x) = softplus(x) - x,
    # sum_ij [w t log(1 + e^-x) + (1 - t) log(1 + e^x)]
    #   = sum_ij softplus(x_ij) + sum_pos [(w - 1) softplus(x) - w x]
    x_pos = logits.view(-1)[pairs]
    total = F.softplus(logits).sum() + ((pos_weight - 1.0) * F.softplus(x_pos)
                                        - pos_weight * x_pos).sum()
    return norm * total / (n * n)


def positive_edges(batch, method: str) -> Tensor:
    """The edges to reconstruct; a clear error when there are none."""
    edge_index = batch.edge_index
    if edge_index.size(1) == 0:
        raise ValueError(f"{method} reconstructs the edges of the graph, and this graph (or "
                         f"batch) has no edges ({batch.num_nodes} nodes, 0 edges): the loss is "
                         f"undefined. Train on graphs with edges.")
    return edge_index


class VariationalGCNEncoder(nn.Module):
    r"""The VGAE encoder: a shared GNN trunk and two GCN heads giving :math:`\mu` and
    :math:`\log\sigma` (Kipf & Welling: one 32-unit ReLU GCN layer, then 16-dimensional
    GCN heads; PyG's ``examples/autoencoder.py`` builds the same).

    Args:
        in_channels: node feature size.
        hidden_channels: trunk width.
        out_channels: latent size (of ``mu`` and ``logstd``).
        num_layers: graph convolutions on any path from input to output, the head included:
            ``num_layers - 1`` trunk layers (each followed by ``activation``) then the heads.
            ``1`` is the "linear" VGAE: the heads read the features directly.
        trunk_type: convolution of the trunk (``'gcn'``, ``'gat'``, ``'sage'``, ``'gin'``); the
            heads are always GCN layers.
        activation: the trunk's activation.
        **trunk_kwargs: passed to the trunk's :func:`~graphssl.encoders.build_encoder`
            (``dropout``, ``sparse_input``, ...).

    Shapes: ``x [N, in_channels]``, ``edge_index [2, E]``, optional ``edge_weight [E]`` ->
    ``(mu [N, out_channels], logstd [N, out_channels])``.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, out_channels: int = 16,
                 num_layers: int = 2, trunk_type: str = "gcn", activation: str = "relu",
                 **trunk_kwargs):
        super().__init__()
        num_layers = check_positive_int("num_layers", num_layers)
        out_channels = check_positive_int("out_channels", out_channels)
        if num_layers == 1 and trunk_kwargs:
            raise ValueError(f"{sorted(trunk_kwargs)} configure the trunk, which num_layers=1 "
                             f"does not have (the heads read the features directly)")
        self.in_channels, self.out_channels, self.num_layers = in_channels, out_channels, num_layers
        self.trunk = None
        if num_layers > 1:
            self.trunk = build_encoder(trunk_type, in_channels, hidden_channels=hidden_channels,
                                       num_layers=num_layers - 1, activation=activation,
                                       act_last=True, **trunk_kwargs)
        head_in = in_channels if self.trunk is None else self.trunk.out_channels
        # the heads read the raw (maybe sparse) features only without a trunk
        head_sparse = "auto" if self.trunk is None else False
        self.conv_mu, self.conv_logstd = (
            GCNEncoder(head_in, out_channels, num_layers=1, activation="identity",
                       act_last=False, sparse_input=head_sparse) for _ in range(2))

    @property
    def _first(self) -> nn.Module:
        return self.conv_mu if self.trunk is None else self.trunk

    @property
    def supports_sparse_input(self) -> bool:
        return getattr(self._first, "supports_sparse_input", False)

    @property
    def sparse_input(self):
        return getattr(self._first, "sparse_input", False)

    def reset_parameters(self):
        for module in (self.trunk, self.conv_mu, self.conv_logstd):
            if module is not None:
                module.reset_parameters()

    def forward(self, x, edge_index, edge_weight=None) -> tuple[Tensor, Tensor]:
        h = x if self.trunk is None else self.trunk(x, edge_index, edge_weight)
        return self.conv_mu(h, edge_index, edge_weight), self.conv_logstd(h, edge_index,
                                                                          edge_weight)

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers})")


def _randn_like(t: Tensor, generator: torch.Generator | None) -> Tensor:
    if generator is not None and generator.device != t.device:
        return torch.randn(t.shape, generator=generator, device=generator.device,
                           dtype=t.dtype).to(t.device)
    return torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)


class GraphAutoEncoder(Method):
    """Shared machinery of GAE, VGAE, ARGA and ARGVA.

    ``self._pyg`` is the matching PyG model, used for its losses only (``recon_loss``,
    ``kl_loss``, and ARGA's ``reg_loss``/``discriminator_loss``). It is deliberately *not* a
    registered submodule: its own encoder is a placeholder (this method encodes through
    :func:`~graphssl.encoders.encode`, so ``edge_weight``/``batch`` reach any encoder), its
    inner-product decoder has no parameters, and the discriminator is registered on the method
    itself, so the state dict holds every parameter exactly once. (Passing the real encoder to
    PyG's constructor would also re-initialise it, which a user's pretrained encoder must not
    suffer.)
    """

    #: whether the encoder returns ``(mu, logstd)``
    variational = False

    def __init__(self, encoder: nn.Module, reconstruction: str = "sampled"):
        super().__init__(encoder)
        if reconstruction not in ("sampled", "dense"):
            raise ValueError(f"reconstruction must be 'sampled' (edges and as many random "
                             f"non-edges) or 'dense' (every node pair, the paper's loss), got "
                             f"{reconstruction!r}")
        self.reconstruction = reconstruction
        self.__dict__["_pyg"] = self._make_pyg()  # not a submodule: see the class docstring

    def _make_pyg(self) -> nn.Module:
        return PyGVGAE(nn.Identity()) if self.variational else PyGGAE(nn.Identity())

    def _encode(self, batch) -> tuple[Tensor, Tensor | None]:
        out = encode(self.encoder, batch)
        if not self.variational:
            if not isinstance(out, Tensor):
                raise TypeError(f"{type(self).__name__} needs an encoder returning one [N, d] "
                                f"tensor, got {type(out).__name__}")
            return out, None
        if not (isinstance(out, (tuple, list)) and len(out) == 2
                and all(isinstance(t, Tensor) for t in out) and out[0].shape == out[1].shape):
            raise TypeError(f"{type(self).__name__} needs an encoder returning (mu, logstd), two "
                            f"[N, d] tensors (e.g. VariationalGCNEncoder); got "
                            f"{type(out).__name__}")
        return out[0], out[1].clamp(max=MAX_LOGSTD)

    def latent(self, batch, generator: torch.Generator | None = None):
        """``(z, mu, logstd)``: for variational methods in training mode ``z`` is sampled as
        ``mu + eps * exp(logstd)`` with ``eps`` from ``generator``; otherwise ``z = mu`` (the
        encoder's output) and ``logstd`` is ``None`` for non-variational methods."""
        mu, logstd = self._encode(batch)
        if logstd is None or not self.training:
            return mu, mu, logstd
        return mu + _randn_like(logstd, generator) * torch.exp(logstd), mu, logstd

    def recon_loss(self, z: Tensor, batch, generator: torch.Generator | None = None) -> Tensor:
        """PyG's ``recon_loss``: binary cross-entropy of ``sigmoid(z_i . z_j)`` on the edges of
        ``batch`` and on as many negative pairs, drawn from ``generator`` within each graph."""
        pos = positive_edges(batch, type(self).__name__)
        if self.reconstruction == "dense":
            return dense_recon_loss(z, pos, batch)
        neg = sample_negative_edges(pos, z.size(0), getattr(batch, "batch", None), generator)
        if neg.size(1) == 0:
            raise ValueError(f"{type(self).__name__} found no node pair without an edge to use "
                             f"as a negative example: the graph is complete")
        return self._pyg.recon_loss(z, pos, neg)

    def kl_loss(self, mu: Tensor, logstd: Tensor) -> Tensor:
        """PyG's VGAE ``kl_loss``: KL divergence of ``N(mu, exp(logstd)^2)`` from ``N(0, I)``,
        summed over latent dimensions and averaged over nodes (0 for ``mu = logstd = 0``)."""
        return self._pyg.kl_loss(mu, logstd)

    def loss(self, batch, generator: torch.Generator | None = None) -> Tensor:
        positive_edges(batch, type(self).__name__)
        z, mu, logstd = self.latent(batch, generator)
        loss = self.recon_loss(z, batch, generator)
        if logstd is not None:
            # as PyG's examples/autoencoder.py: the KL term weighted by 1/N
            loss = loss + self.kl_loss(mu, logstd) / z.size(0)
        return loss

    def node_embeddings(self, data) -> Tensor:
        """The encoder's output; ``mu`` for variational methods (no sampling)."""
        return self._encode(data)[0]


GAE_ENCODER = dict(type="gcn", hidden_channels=32, out_channels=16, num_layers=2,
                   activation="relu", act_last=False)
VGAE_ENCODER = dict(type="gcn", hidden_channels=32, out_channels=16, num_layers=2,
                    activation="relu")


def build_autoencoder_encoder(in_channels: int, variational: bool, defaults: dict,
                              config: dict | None) -> nn.Module:
    enc = dict(defaults)
    enc.update(config or {})
    kind = enc.pop("type")
    if variational:
        return VariationalGCNEncoder(in_channels, trunk_type=kind, **enc)
    return build_encoder(kind, in_channels, **enc)


@register_method("gae")
class GAE(GraphAutoEncoder):
    r"""GAE (Kipf & Welling, "Variational Graph Auto-Encoders", 2016): a GNN encoder trained to
    reconstruct the graph's edges, :math:`p(A_{ij} = 1) = \sigma(z_i^\top z_j)`, with binary
    cross-entropy on the edges and on one random non-edge per edge (PyG's ``recon_loss``;
    the paper weighs every non-edge of the dense adjacency instead).

    Negative edges are drawn from the ``generator`` given to :meth:`loss` (the Trainer's, which
    its checkpoints save), within each graph of a batch. A graph (or batch) without any edge
    has nothing to reconstruct: :meth:`loss` raises ``ValueError``; graphs without edges inside
    a batch that has some simply contribute no term.

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``; the paper's is a 2-layer GCN
            (32 ReLU units, 16 linear outputs), which :meth:`from_config` builds by default.
        reconstruction: ``'sampled'`` (edges and one random non-edge per edge, any graph or
            batch) or ``'dense'`` (every node pair of one graph, weighted as in the paper:
            :func:`dense_recon_loss`).

    Example:
        >>> method = GAE.from_config(1433)
        >>> Trainer(epochs=200, lr=0.01).fit(method, split_edges(data).train_data)
    """

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    reconstruction: str = "sampled") -> "GAE":
        return cls(build_autoencoder_encoder(in_channels, False, GAE_ENCODER, encoder),
                   reconstruction=reconstruction)


@register_method("vgae")
class VGAE(GraphAutoEncoder):
    r"""VGAE (Kipf & Welling, "Variational Graph Auto-Encoders", 2016): a variational GAE. The
    encoder gives :math:`\mu` and :math:`\log\sigma` per node (a shared GCN trunk and two GCN
    heads: :class:`VariationalGCNEncoder`); :math:`z = \mu + \epsilon\,\sigma` is decoded by
    inner products. Loss: PyG's ``recon_loss`` on ``z`` plus :math:`\frac{1}{N}` times PyG's
    ``kl_loss`` (as PyG's ``examples/autoencoder.py``).

    Randomness: ``eps`` and the negative edges come from the ``generator`` given to
    :meth:`loss`. Evaluation embeddings are ``mu`` (eval mode, no sampling). See :class:`GAE`
    for graphs without edges.

    Args:
        encoder: a module ``(x, edge_index, ...) -> (mu, logstd)``, both ``[N, d]``.
        reconstruction: ``'sampled'`` or ``'dense'``, as for :class:`GAE`.
    """

    variational = True

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    reconstruction: str = "sampled") -> "VGAE":
        return cls(build_autoencoder_encoder(in_channels, True, VGAE_ENCODER, encoder),
                   reconstruction=reconstruction)
