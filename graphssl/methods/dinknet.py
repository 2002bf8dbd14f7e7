"""Dink-Net: node discrimination pretraining, then k-means centres trained by dilation + shrink."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor

from ..augment import FeatureMask, FeatureShuffle
from ..checks import check_int, check_non_negative, check_number, check_positive
from ..encoders import build_encoder, encode
from ..objectives.dinknet import DinkNetLoss, squared_distances
from .base import Method
from .clustering_state import StepCountedClustering
from .registry import register_method
from .two_view import embedding_dim_of


@register_method("dinknet")
class DinkNet(StepCountedClustering, Method):
    r"""Dink-Net (Liu, Liang, Xia, Zhou, Yang, Liu, Li, "Dink-Net: Neural Clustering on Large
    Graphs", ICML 2023): a GCN encoder pretrained to tell real nodes from corrupted ones, then
    learnable cluster centres, initialised by k-means, optimised with the cluster dilation and
    shrink losses (:class:`~graphssl.objectives.dinknet.DinkNetLoss`).

    Step by step (``s`` = optimiser steps done so far, counted by :meth:`after_step`):

    1. **Pretraining** (``s < pretrain_epochs``): node discrimination. View 1 is the graph with
       feature columns dropped (probability ``feature_drop``, the same columns for all nodes);
       view 2 is view 1 with its feature rows shuffled across nodes (DGI's corruption). Both go
       through the encoder and a linear head ``d -> d``; a node's logit is the sum of its head
       output, and the loss is binary cross-entropy with label 1 for view 1, 0 for view 2.
    2. **Centres** (the first loss call with ``s >= pretrain_epochs``): k-means
       (scikit-learn, ``n_init`` restarts, seeded by one draw from ``generator``, so a seeded
       run is deterministic) on the detached clustering embeddings.
    3. **Clustering** (from then on): loss = shrink + dilation on the clustering embeddings and
       centres + ``tradeoff`` * the discrimination loss.

    **Clustering embeddings** (:meth:`clustering_embeddings`): with the encoder output
    :math:`H` and :math:`\hat A` the GCN-normalised adjacency with self-loops
    (weighted by ``edge_weight`` when the graph has one),
    :math:`h = \mathrm{normalize}(H + \hat A^{p} H)` row-wise (L2), ``p = power``. As in the
    authors' code both terms are detached (``detach_embeddings=True``), so in phase 3 the
    dilation and shrink losses move only the centres and the encoder learns only from the
    ``tradeoff``-weighted discrimination term; ``detach_embeddings=False`` lets the clustering
    loss reach the encoder.

    **Length of the clustering phase.** The dilation + shrink loss is unbounded below (see
    :class:`~graphssl.objectives.dinknet.DinkNetLoss`): the centres drift apart for as long as
    the phase runs, and the nearest-centre clusters degrade once they are far from the data
    (on Cora, at the authors' centre learning rate 1e-2, after about 120 steps). The authors
    stop it by keeping the epoch with the best ACC against the labels; here the number of
    training steps after ``pretrain_epochs`` is the only stop.

    **Clusters** (:meth:`predict_clusters`): each node's nearest centre. :meth:`embed` returns
    the encoder's output :math:`H` (the library's k-means protocol can score it too).

    **Centre learning rate.** The authors pretrain with one learning rate (Cora 1e-3) and train
    the clustering phase with a fresh Adam at another (1e-2). The Trainer has one optimiser and
    one learning rate; the centres are stored as ``center_lr_scale * theta`` with ``theta`` the
    parameter, and since Adam's step does not depend on the gradient's scale, the centres move
    at ``center_lr_scale`` times the learning rate (exactly, up to Adam's ``eps``, with no
    weight decay). ``center_lr_scale = 10`` with ``lr = 1e-3`` gives the authors' 1e-2 for the
    centres.

    **State.** The step counter (``steps_done``) and whether the centres are initialised
    (``centers_initialized``) are buffers: they are in :meth:`state_dict`, so checkpoints and
    ``Trainer(...).fit(..., resume=True)`` continue the schedule exactly. A hand-written training
    loop must call ``method.after_step(step, total_steps)`` after each optimiser step, or the
    pretraining never ends.

    Deviations from the authors' code (github.com/yueliu1999/Dink-Net): one optimiser for the
    whole run (the encoder keeps its Adam state into the clustering phase and runs at the
    pretraining learning rate there; the centres get theirs through ``center_lr_scale``); the
    final state is used, not the epoch with the best ACC against the labels (the authors keep
    the best-ACC checkpoint of both phases, evaluated every 10 epochs); feature columns are
    dropped each with probability ``feature_drop`` (the authors drop exactly
    ``int(feature_drop * F)`` of them); PReLU has one slope per channel (theirs: one in all).

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        num_clusters: ``K >= 2``, at most the number of nodes of a training graph.
        pretrain_epochs: discrimination-only steps ``>= 0`` before the centres are initialised.
        tradeoff: weight ``>= 0`` of the discrimination loss in the clustering phase (authors:
            1e-10).
        power: propagation steps ``p >= 0`` of the clustering embeddings (authors: 5 for Cora
            and CiteSeer, 10 in their large-graph model).
        feature_drop: probability in ``[0, 1)`` that a feature column is zeroed in view 1.
        center_lr_scale: ``> 0``: the centres' learning rate relative to the optimiser's.
        exclude_self_pairs: see :class:`~graphssl.objectives.dinknet.DinkNetLoss`.
        detach_embeddings: the clustering loss leaves the encoder untouched (authors: True).
        n_init: k-means restarts ``>= 1`` for the centres (authors: 20).
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).

    Shapes: a graph (or batch of graphs) with ``N >= num_clusters`` nodes -> scalar loss
    (during pretraining any ``N >= 1``); :meth:`clustering_embeddings` -> ``[N, d]``;
    :meth:`predict_clusters` -> ``[N]``; :meth:`embed` -> ``[N, d]``; ``centers`` -> ``[K, d]``.

    Example:
        >>> method = DinkNet.from_config(1433, num_clusters=7, pretrain_epochs=200)
        >>> Trainer(epochs=300, lr=1e-3).fit(method, data)
        >>> clusters = method.predict_clusters(data)  # [N]
    """

    def __init__(self, encoder: nn.Module, num_clusters: int = 7, pretrain_epochs: int = 200,
                 tradeoff: float = 1e-10, power: int = 5, feature_drop: float = 0.2,
                 center_lr_scale: float = 10.0, exclude_self_pairs: bool = False,
                 detach_embeddings: bool = True, n_init: int = 20,
                 embedding_dim: int | None = None):
        check_int("num_clusters", num_clusters, 2)
        check_int("pretrain_epochs", pretrain_epochs, 0)
        check_int("power", power, 0)
        check_int("n_init", n_init, 1)
        tradeoff = check_non_negative("tradeoff", tradeoff)
        center_lr_scale = check_positive("center_lr_scale", center_lr_scale)
        feature_drop = check_number("feature_drop", feature_drop, low=0, high=1, high_open=True)
        if not isinstance(detach_embeddings, bool):
            raise ValueError(f"detach_embeddings must be True or False, got "
                             f"{detach_embeddings!r}")
        super().__init__(encoder)
        dim = embedding_dim_of(encoder, embedding_dim)
        self.num_clusters, self.pretrain_epochs = num_clusters, pretrain_epochs
        self.tradeoff, self.power, self.feature_drop = tradeoff, power, feature_drop
        self.center_lr_scale, self.detach_embeddings = center_lr_scale, detach_embeddings
        self.n_init = n_init
        self.drop = FeatureMask(p=feature_drop, mode="column")
        self.corruption = FeatureShuffle()
        self.head = nn.Linear(dim, dim)
        self.objective = DinkNetLoss(exclude_self_pairs=exclude_self_pairs)
        # the centres are center_lr_scale * center_param (see the class docstring)
        self.center_param = nn.Parameter(torch.zeros(num_clusters, dim))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.register_buffer("centers_initialized", torch.zeros((), dtype=torch.bool))

    # -- embeddings and clusters ----------------------------------------------------------

    @property
    def centers(self) -> Tensor:
        """The cluster centres ``[K, d]``."""
        return self.center_param * self.center_lr_scale

    @property
    def in_clustering_phase(self) -> bool:
        """Whether the next loss call trains the centres (pretraining is over)."""
        return int(self.steps_done) >= self.pretrain_epochs

    def _propagate(self, h: Tensor, batch) -> Tensor:
        n = h.size(0)
        weight = getattr(batch, "edge_weight", None)
        edge_index, weight = gcn_norm(batch.edge_index, weight, n, add_self_loops=True,
                                      dtype=h.dtype)
        adj = to_torch_csr_tensor(edge_index.flip(0), edge_attr=weight, size=(n, n))
        out = h
        for _ in range(self.power):
            out = adj @ out
        return out

    def _clustering_embeddings(self, local: Tensor, batch) -> Tensor:
        h = local + self._propagate(local, batch)
        if self.detach_embeddings:
            h = h.detach()
        return F.normalize(h, p=2, dim=1)

    def clustering_embeddings(self, batch) -> Tensor:
        """What the centres cluster, ``[N, d]``: ``normalize(H + A^power H)`` of the encoder
        output ``H`` (detached when ``detach_embeddings``)."""
        return self._clustering_embeddings(encode(self.encoder, batch), batch)

    @torch.no_grad()
    def predict_clusters(self, data) -> Tensor:
        """Each node's nearest centre ``[N]`` (eval mode; the training mode is restored). If
        training stopped before the pretraining ended, the centres are first initialised by
        k-means on these embeddings (what the end of the pretraining would do), with a
        warning."""
        self._ensure_centers(data, "pretrain_epochs", self.pretrain_epochs)
        was_training = self.training
        self.eval()
        try:
            h = self.clustering_embeddings(data)
            return squared_distances(h, self.centers.to(h.dtype)).argmin(dim=1)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def init_centers(self, data, generator: torch.Generator | None = None) -> Tensor:
        """Initialise the centres now, by k-means on the clustering embeddings of ``data``
        (eval mode): what training does when the pretraining ends. Returns them ``[K, d]``."""
        was_training = self.training
        self.eval()
        try:
            h = self.clustering_embeddings(data)
        finally:
            self.train(was_training)
        return self._init_centers(h, generator)

    # -- training -------------------------------------------------------------------------

    def discrimination_loss(self, batch, generator: torch.Generator | None = None,
                            local: Tensor | None = None) -> Tensor:
        """Binary cross-entropy of telling feature-dropped nodes (label 1) from the same nodes
        with shuffled features (label 0), through the encoder and the linear head."""
        view = self.drop(batch, generator)
        fake = self.corruption(view, generator)
        logits = torch.cat([self.head(encode(self.encoder, view)).sum(1),
                            self.head(encode(self.encoder, fake)).sum(1)])
        labels = torch.cat([logits.new_ones(batch.num_nodes), logits.new_zeros(batch.num_nodes)])
        return F.binary_cross_entropy_with_logits(logits, labels)

    def loss(self, batch, generator: torch.Generator | None = None) -> Tensor:
        disc = self.discrimination_loss(batch, generator)
        if not self.in_clustering_phase:
            return disc
        self._check_num_nodes(batch.num_nodes)
        h = self.clustering_embeddings(batch)
        if not bool(self.centers_initialized):
            self._init_centers(h.detach(), generator)
        return self.objective(h, self.centers) + self.tradeoff * disc

    # -- internals ------------------------------------------------------------------------

    @torch.no_grad()
    def _init_centers(self, h: Tensor, generator: torch.Generator | None) -> Tensor:
        from sklearn.cluster import KMeans

        self._check_num_nodes(h.size(0))
        seed = int(torch.randint(2 ** 31 - 1, (1,), generator=generator))
        points = h.detach().to("cpu", torch.float64).numpy()
        km = KMeans(n_clusters=self.num_clusters, n_init=self.n_init, random_state=seed)
        centers = torch.from_numpy(km.fit(points).cluster_centers_)
        self.center_param.copy_(centers.to(self.center_param) / self.center_lr_scale)
        self.centers_initialized.fill_(True)
        return self.centers.detach()

    def extra_repr(self) -> str:
        return (f"num_clusters={self.num_clusters}, pretrain_epochs={self.pretrain_epochs}, "
                f"tradeoff={self.tradeoff}, power={self.power}, "
                f"feature_drop={self.feature_drop}, center_lr_scale={self.center_lr_scale}, "
                f"detach_embeddings={self.detach_embeddings}")

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, num_clusters: int = 7,
                    pretrain_epochs: int = 200, tradeoff: float = 1e-10, power: int = 5,
                    feature_drop: float = 0.2, center_lr_scale: float = 10.0,
                    exclude_self_pairs: bool = False, detach_embeddings: bool = True,
                    n_init: int = 20) -> "DinkNet":
        """The authors' Cora encoder by default: one GCN layer, 512 channels, PReLU."""
        enc = dict(type="gcn", hidden_channels=512, num_layers=1, activation="prelu")
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   num_clusters=num_clusters, pretrain_epochs=pretrain_epochs,
                   tradeoff=tradeoff, power=power, feature_drop=feature_drop,
                   center_lr_scale=center_lr_scale, exclude_self_pairs=exclude_self_pairs,
                   detach_embeddings=detach_embeddings, n_init=n_init)
