"""Graph DEC: edge reconstruction, then DEC self-training on the embeddings (the DAEGC recipe)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_int, check_non_negative
from ..encoders import build_encoder
from ..objectives import DEC
from .gae import GraphAutoEncoder, positive_edges
from .clustering_state import StepCountedClustering
from .registry import register_method
from .two_view import embedding_dim_of


@register_method("dec")
class DECClustering(StepCountedClustering, GraphAutoEncoder):
    r"""Graph DEC in the DAEGC recipe (Wang, Pan, Hu, Long, Jiang, Zhang, "Attributed Graph
    Clustering: A Deep Attentional Embedding Approach", IJCAI 2019), whose clustering term is
    Deep Embedded Clustering (Xie, Girshick, Farhadi, "Unsupervised Deep Embedding for
    Clustering Analysis", ICML 2016): a GNN encoder learns to reconstruct the graph's edges and,
    once its embeddings are meaningful, to sharpen their own soft cluster assignments.

    Step by step (``s`` = optimiser steps done so far, counted by :meth:`after_step`):

    1. **Warm-up** (``s < warmup_epochs``): the loss is the edge reconstruction of
       :class:`~graphssl.methods.GAE` (its ``recon_loss``: inner-product decoder, binary
       cross-entropy on the edges and on random non-edges drawn from ``generator``, or every
       node pair with ``reconstruction='dense'``).
    2. **Centres** (the first loss call with ``s >= warmup_epochs``): the ``K`` cluster centres
       of :class:`~graphssl.objectives.DEC` are set by k-means on the detached embeddings
       (:meth:`DEC.init_centers <graphssl.objectives.DEC.init_centers>`, seeded by one draw
       from ``generator``, so a seeded run is deterministic).
    3. **Self-training** (from then on): loss = reconstruction + ``gamma`` *
       :math:`\mathrm{KL}(P \,\Vert\, Q)`, with :math:`Q` the Student-t soft assignments of the
       current embeddings and :math:`P` the sharpened target. :math:`P` is recomputed from the
       current (detached) embeddings every ``update_interval`` steps and held in between in the
       buffer ``target``, so it is a fixed target for those steps.

    The embeddings used by the loss are the encoder's output, L2-normalised per node when
    ``normalize=True`` (as DAEGC's encoder does before its decoder and clustering layer).

    **State.** The step counter (``steps_done``), whether the centres are initialised
    (``centers_initialized``), the target ``P`` (``target``, ``[N, K]``; ``[0, K]`` until first
    computed) and the step it was computed at (``target_step``; ``-1`` = never) are buffers: they
    are in :meth:`state_dict`, so checkpoints and ``Trainer(...).fit(..., resume=True)`` continue
    the schedule exactly (:meth:`load_state_dict` accepts a ``target`` of any number of rows).

    **Steps, not epochs.** The Trainer calls :meth:`after_step` after every optimiser step; with
    one graph trained full-batch (DAEGC's setting) a step is an epoch. A hand-written training
    loop must call ``method.after_step(step, total_steps)`` after each optimiser step too, or the
    warm-up never ends. A mini-batch of several graphs (a ``Batch`` with a ``batch`` vector)
    cannot reuse a target computed on another batch: there :math:`P` is computed from the batch
    itself at every step (DEC's per-batch self-training) and ``update_interval`` does not apply;
    likewise when the number of nodes differs from the stored target's.

    Deviations from DAEGC: the encoder is any GNN (by default PyG's ``GATConv``, whose attention
    does not use DAEGC's second-order proximity matrix ``M``), and there is one optimiser for
    the whole run (DAEGC pretrains the auto-encoder separately, with another learning rate).

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        num_clusters: ``K >= 2``, at most the number of nodes of a training graph.
        gamma: weight ``>= 0`` of the clustering term (DAEGC: 10).
        warmup_epochs: reconstruction-only steps ``>= 0`` before the centres are initialised.
        update_interval: steps ``>= 1`` between two computations of the target ``P``.
        alpha: Student-t degrees of freedom (DEC and DAEGC: 1).
        normalize: L2-normalise the embeddings before the decoder and the clustering term.
        reconstruction: ``'sampled'`` (edges and one random non-edge per edge; any graph or
            batch) or ``'dense'`` (every node pair of one graph): as for
            :class:`~graphssl.methods.GAE`.
        n_init: k-means restarts for the centres.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).

    Shapes: a graph with ``N >= num_clusters`` nodes -> scalar loss; :meth:`soft_assignment`
    -> ``[N, K]``; :meth:`predict_clusters` -> ``[N]`` cluster ids; :meth:`embed` -> ``[N, d]``
    (the encoder's output, not normalised; the library's clustering protocol L2-normalises
    it before k-means); ``centers`` -> ``[K, d]``.

    Example:
        >>> method = DECClustering.from_config(1433, num_clusters=7)
        >>> Trainer(epochs=130, lr=0.005).fit(method, data)
        >>> clusters = method.predict_clusters(data)  # [N]
        >>> z = method.embed(data)  # [N, 16]
    """

    variational = False

    def __init__(self, encoder: nn.Module, num_clusters: int = 7, gamma: float = 10.0,
                 warmup_epochs: int = 30, update_interval: int = 1, alpha: float = 1.0,
                 normalize: bool = True, reconstruction: str = "sampled", n_init: int = 20,
                 embedding_dim: int | None = None):
        check_int("num_clusters", num_clusters, 2)
        gamma = check_non_negative("gamma", gamma)
        check_int("warmup_epochs", warmup_epochs, 0)
        check_int("update_interval", update_interval, 1)
        check_int("n_init", n_init, 1)
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be True or False, got {normalize!r}")
        super().__init__(encoder, reconstruction=reconstruction)
        self.num_clusters, self.gamma = num_clusters, gamma
        self.warmup_epochs, self.update_interval = warmup_epochs, update_interval
        self.normalize, self.n_init = normalize, n_init
        self.dec = DEC(num_clusters, embedding_dim_of(encoder, embedding_dim), alpha=alpha)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.register_buffer("centers_initialized", torch.zeros((), dtype=torch.bool))
        self.register_buffer("target", torch.zeros(0, num_clusters))
        self.register_buffer("target_step", torch.full((), -1, dtype=torch.long))

    # -- embeddings and clusters ----------------------------------------------------------

    @property
    def centers(self) -> Tensor:
        """The cluster centres ``[K, d]`` (a parameter of :attr:`dec`)."""
        return self.dec.centers

    def clustering_embeddings(self, batch) -> Tensor:
        """The embeddings ``[N, d]`` that the loss decodes and clusters: the encoder's output,
        L2-normalised per node when ``normalize``."""
        z = self._encode(batch)[0]
        return F.normalize(z, p=2, dim=1) if self.normalize else z

    def soft_assignment(self, data) -> Tensor:
        """Soft cluster assignments ``Q`` ``[N, K]`` of the nodes (rows sum to 1)."""
        return self.dec.soft_assignment(self.clustering_embeddings(data))

    @torch.no_grad()
    def predict_clusters(self, data) -> Tensor:
        """Each node's most likely cluster ``[N]`` (argmax of ``Q``; eval mode, the training mode
        is restored). If training stopped before the warm-up ended, the centres are first
        initialised from these embeddings by k-means (what the warm-up's end would do), with a
        warning."""
        self._ensure_centers(data, "warmup_epochs", self.warmup_epochs)
        was_training = self.training
        self.eval()
        try:
            return self.soft_assignment(data).argmax(dim=1)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def init_centers(self, data, generator: torch.Generator | None = None) -> Tensor:
        """Initialise the centres now, by k-means on the embeddings of ``data`` (eval mode):
        what training does after the warm-up. Returns the centres ``[K, d]``."""
        was_training = self.training
        self.eval()
        try:
            z = self.clustering_embeddings(data)
        finally:
            self.train(was_training)
        self._check_num_nodes(z.size(0))
        return self._init_centers(z, generator)

    # -- training -------------------------------------------------------------------------

    def loss(self, batch, generator: torch.Generator | None = None) -> Tensor:
        self._check_num_nodes(batch.num_nodes)
        positive_edges(batch, type(self).__name__)
        z = self.clustering_embeddings(batch)
        loss = self.recon_loss(z, batch, generator)
        if int(self.steps_done) < self.warmup_epochs:
            return loss
        if not bool(self.centers_initialized):
            self._init_centers(z.detach(), generator)
        return loss + self.gamma * self.dec(z, target=self._target_for(z, batch))

    # -- internals ------------------------------------------------------------------------

    def _init_centers(self, z: Tensor, generator: torch.Generator | None) -> Tensor:
        centers = self.dec.init_centers(z.detach(), generator=generator, n_init=self.n_init)
        self.centers_initialized.fill_(True)
        self.target = self.target.new_zeros(0, self.num_clusters)  # no target from old centres
        self.target_step.fill_(-1)
        return centers

    @torch.no_grad()
    def _compute_target(self, z: Tensor) -> Tensor:
        return self.dec.target_distribution(self.dec.soft_assignment(z.detach()))

    def _target_for(self, z: Tensor, batch) -> Tensor:
        """``P`` for this step: the stored target, recomputed when ``update_interval`` steps
        have passed since the last one (or none fits these nodes); per batch for batches of
        graphs."""
        if getattr(batch, "batch", None) is not None:
            return self._compute_target(z)
        step, last = int(self.steps_done), int(self.target_step)
        if last < 0 or step - last >= self.update_interval or \
                tuple(self.target.shape) != (z.size(0), self.num_clusters):
            self.target = self._compute_target(z).to(self.target.dtype)
            self.target_step.fill_(step)
        return self.target

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the stored target has as many rows as the graph it was computed on
        saved = state_dict.get(prefix + "target")
        if isinstance(saved, Tensor) and saved.dim() == 2 and saved.size(1) == self.num_clusters:
            self.target = self.target.new_empty(saved.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return (f"num_clusters={self.num_clusters}, gamma={self.gamma}, "
                f"warmup_epochs={self.warmup_epochs}, update_interval={self.update_interval}, "
                f"normalize={self.normalize}, reconstruction={self.reconstruction!r}")

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, num_clusters: int = 7,
                    gamma: float = 10.0, warmup_epochs: int = 30, update_interval: int = 1,
                    alpha: float = 1.0, normalize: bool = True, reconstruction: str = "sampled",
                    n_init: int = 20) -> "DECClustering":
        """DAEGC's encoder by default: 2 GAT layers (256 hidden, 16 out), ELU after each."""
        enc = dict(type="gat", hidden_channels=256, out_channels=16, num_layers=2,
                   activation="elu", act_last=True)
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   num_clusters=num_clusters, gamma=gamma, warmup_epochs=warmup_epochs,
                   update_interval=update_interval, alpha=alpha, normalize=normalize,
                   reconstruction=reconstruction, n_init=n_init)
