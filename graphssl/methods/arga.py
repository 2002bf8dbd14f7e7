"""ARGA and ARGVA: graph auto-encoders whose embeddings are pushed towards a Gaussian prior by an
adversarial discriminator (Pan et al., "Adversarially Regularized Graph Autoencoder for Graph
Embedding", IJCAI 2018), built on PyG's ``ARGA``/``ARGVA`` losses."""
from __future__ import annotations

import contextlib
import copy

import torch
from torch import Tensor, nn
from torch_geometric.nn import ARGA as PyGARGA
from torch_geometric.nn import ARGVA as PyGARGVA

from ..checks import check_positive, check_positive_int
from .gae import GAE_ENCODER, VGAE_ENCODER, GraphAutoEncoder, build_autoencoder_encoder, \
    positive_edges
from .registry import register_method
from .two_view import embedding_dim_of, mlp


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Parameters of ``module`` recorded as constants by autograd inside the block: gradients
    still flow *through* the module to its input, but none reach its parameters."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield module
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


@register_method("arga")
class ARGA(GraphAutoEncoder):
    r"""ARGA (Pan et al., "Adversarially Regularized Graph Autoencoder for Graph Embedding",
    IJCAI 2018): a GAE (inner-product decoder, PyG's ``recon_loss`` with negative sampling)
    whose embeddings a discriminator MLP tries to tell from samples of :math:`N(0, I)`, while
    the encoder learns to fool it.

    **The alternating GAN updates inside the Trainer's single optimiser.** Each call of
    :meth:`loss` in training mode (with gradients enabled) first runs ``discriminator_steps``
    updates of the discriminator on PyG's ``discriminator_loss`` (prior samples against the
    *detached* embeddings) with the method's own Adam optimiser (``discriminator_lr``; created
    at the first step), as PyG's ``examples/argva_node_clustering.py`` does, then returns the
    encoder's (generator's) loss ``recon_loss + reg_loss`` (``+ kl_loss / N`` for ARGVA)
    against the updated discriminator. The discriminator is a registered submodule, so the
    Trainer's optimiser holds its parameters too; but ``reg_loss`` is computed with them
    :func:`frozen` (autograd records them as constants) and their gradients are cleared after
    the inner steps, so the generator loss leaves them without gradient and the Trainer's
    optimiser (Adam, AdamW or SGD: all skip parameters whose ``grad`` is ``None``, weight decay
    included) never moves them. The discriminator is trained by its own objective only; the
    encoder only by the generator loss (PyG's example steps only the encoder's optimiser there).

    The discriminator optimiser's state is part of :meth:`state_dict` (``_extra_state``), so the
    Trainer's checkpoints carry it and a resumed run continues exactly (see
    ``tests/test_autoencoders.py``). Randomness: negative edges and ARGVA's ``eps`` come from
    the ``generator``; PyG's ``discriminator_loss`` draws its prior samples from torch's global
    RNG, which the Trainer seeds and checkpoints too.

    Args:
        encoder: a module ``(x, edge_index, ...) -> [N, d]`` (ARGVA: ``-> (mu, logstd)``).
        discriminator: a module ``[N, d] -> [N, 1]`` (logits); by default an MLP with ReLU
            hidden layers of sizes ``discriminator_hidden``.
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).
        discriminator_lr: learning rate of the discriminator's Adam optimiser.
        discriminator_steps: discriminator updates per encoder update (5 in PyG's example).
        discriminator_hidden: hidden sizes of the default discriminator (PyG's example: 64, 64).
    """

    def __init__(self, encoder: nn.Module, discriminator: nn.Module | None = None,
                 embedding_dim: int | None = None, discriminator_lr: float = 0.001,
                 discriminator_steps: int = 5, discriminator_hidden=(64, 64)):
        super().__init__(encoder)
        discriminator_lr = check_positive("discriminator_lr", discriminator_lr)
        discriminator_steps = check_positive_int("discriminator_steps", discriminator_steps)
        if discriminator is None:
            hidden = list(discriminator_hidden)
            if not all(isinstance(h, int) and h > 0 for h in hidden):
                raise ValueError(f"discriminator_hidden must be positive integers, got "
                                 f"{discriminator_hidden!r}")
            discriminator = mlp([embedding_dim_of(encoder, embedding_dim), *hidden, 1])
        elif not isinstance(discriminator, nn.Module):
            raise TypeError(f"discriminator must be a torch.nn.Module, got "
                            f"{type(discriminator).__name__}")
        self.discriminator = discriminator
        self._pyg.discriminator = discriminator  # the same module: PyG's losses use it
        self.discriminator_lr, self.discriminator_steps = discriminator_lr, discriminator_steps
        self._discriminator_optimizer: torch.optim.Optimizer | None = None

    def _make_pyg(self) -> nn.Module:
        cls = PyGARGVA if self.variational else PyGARGA
        return cls(nn.Identity(), nn.Identity())  # placeholders: see GraphAutoEncoder

    @property
    def discriminator_optimizer(self) -> torch.optim.Optimizer:
        """The discriminator's own Adam optimiser (created on first use, so after the method
        has been moved to its device)."""
        if self._discriminator_optimizer is None:
            self._discriminator_optimizer = torch.optim.Adam(self.discriminator.parameters(),
                                                             lr=self.discriminator_lr)
        return self._discriminator_optimizer

    def train_discriminator(self, z: Tensor) -> float:
        """``discriminator_steps`` updates of the discriminator against the detached ``z``;
        returns the last discriminator loss. Leaves no gradient on its parameters."""
        optim = self.discriminator_optimizer
        z = z.detach()
        loss = torch.zeros(())
        for _ in range(self.discriminator_steps):
            optim.zero_grad(set_to_none=True)
            loss = self._pyg.discriminator_loss(z)
            loss.backward()
            optim.step()
        optim.zero_grad(set_to_none=True)
        return float(loss.detach())

    def loss(self, batch, generator: torch.Generator | None = None) -> Tensor:
        positive_edges(batch, type(self).__name__)
        z, mu, logstd = self.latent(batch, generator)
        if self.training and torch.is_grad_enabled():
            self.train_discriminator(z)
        loss = self.recon_loss(z, batch, generator)
        with frozen(self.discriminator):
            loss = loss + self._pyg.reg_loss(z)
        if logstd is not None:
            loss = loss + self.kl_loss(mu, logstd) / z.size(0)
        return loss

    # the discriminator optimiser travels in the state dict (and so in Trainer checkpoints)
    def get_extra_state(self):
        optim = self._discriminator_optimizer
        return {"discriminator_optimizer":
                None if optim is None else copy.deepcopy(optim.state_dict())}

    def set_extra_state(self, state):
        saved = (state or {}).get("discriminator_optimizer")
        if saved is None:
            self._discriminator_optimizer = None
        else:
            self.discriminator_optimizer.load_state_dict(copy.deepcopy(saved))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    discriminator_hidden=(64, 64), discriminator_lr: float = 0.001,
                    discriminator_steps: int = 5) -> "ARGA":
        enc = build_autoencoder_encoder(in_channels, cls.variational,
                                        VGAE_ENCODER if cls.variational else GAE_ENCODER,
                                        encoder)
        return cls(enc, discriminator_hidden=discriminator_hidden,
                   discriminator_lr=discriminator_lr, discriminator_steps=discriminator_steps)


@register_method("argva")
class ARGVA(ARGA):
    r"""ARGVA (Pan et al., IJCAI 2018): ARGA with a variational encoder
    (:class:`~graphssl.methods.gae.VariationalGCNEncoder`, ``(x, edge_index) -> (mu, logstd)``).
    The discriminator sees the sampled ``z``; the generator loss adds PyG's ``kl_loss`` weighted
    by :math:`\frac{1}{N}` (PyG's ``examples/argva_node_clustering.py``). Evaluation embeddings
    are ``mu``. See :class:`ARGA` for how the discriminator is trained."""

    variational = True
