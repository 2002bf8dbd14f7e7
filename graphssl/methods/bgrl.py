"""BGRL: Bootstrapped Graph Latents."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..augment import Augmentation
from ..checks import check_number
from ..encoders import build_encoder, encode
from ..objectives import BootstrapLoss
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of, mlp
from .views import build_view


def cosine_ema_rate(step: int, total_steps: int, base: float) -> float:
    """BYOL/BGRL target decay: ``1 - (1 - base) * (cos(pi * step / total) + 1) / 2``, rising from
    ``base`` to 1 over training."""
    return 1.0 - (1.0 - base) * (math.cos(math.pi * step / max(total_steps, 1)) + 1.0) / 2.0


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, rate: float) -> None:
    """``target <- rate * target + (1 - rate) * online`` for parameters; buffers (batch-norm
    statistics) are copied from ``online``."""
    params = list(target.parameters())
    torch._foreach_mul_(params, rate)
    torch._foreach_add_(params, list(online.parameters()), alpha=1.0 - rate)
    for t_buf, o_buf in zip(target.buffers(), online.buffers()):
        t_buf.copy_(o_buf)


@register_method("bgrl")
class BGRL(Method):
    r"""BGRL (Thakoor et al., "Large-Scale Representation Learning on Graphs via Bootstrapping",
    ICLR 2022).

    An online encoder and predictor learn to predict, for each node, the target encoder's
    embedding of the other view (:class:`~graphssl.objectives.BootstrapLoss`, symmetric). The
    target encoder receives no gradient: after every optimiser step it moves towards the online
    one by an exponential moving average whose decay rises from ``ema_base`` to 1 on a cosine
    schedule. No negatives. Evaluation embeddings come from the online encoder.

    Args:
        encoder: the online encoder; the target starts as a copy of it.
        view1, view2: augmentations or config dicts.
        predictor_hidden: hidden size of the predictor MLP ``Linear -> PReLU (one slope) ->
            Linear``, as the authors' ``MLP_Predictor``.
        predictor_batch_norm: batch norm before the predictor's PReLU (BYOL's image predictor
            has one; the BGRL authors' has none).
        ema_base: initial EMA decay, in [0, 1].

    Example:
        >>> method = BGRL(GCNEncoder(745, 512, out_channels=256, batch_norm=True,
        ...                          activation='prelu_shared'),
        ...               view1={'edge_drop': 0.4, 'feature_mask': 0.1},
        ...               view2={'edge_drop': 0.1, 'feature_mask': 0.2})
        >>> Trainer(epochs=10000, lr=1e-4, lr_schedule='cosine', warmup_epochs=1000).fit(method, data)
    """

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict, view2: Augmentation | dict,
                 embedding_dim: int | None = None, predictor_hidden: int = 512,
                 ema_base: float = 0.99, predictor_batch_norm: bool = False):
        super().__init__(encoder)
        check_number("ema_base", ema_base, low=0, high=1)
        if not isinstance(predictor_batch_norm, bool):
            raise ValueError(f"predictor_batch_norm must be True or False, got "
                             f"{predictor_batch_norm!r}")
        dim = embedding_dim_of(encoder, embedding_dim)
        self.ema_base = float(ema_base)
        self.view1, self.view2 = build_view(view1), build_view(view2)
        self.predictor = mlp([dim, predictor_hidden, dim], activation=nn.PReLU,
                             batch_norm=bool(predictor_batch_norm))
        self.target = copy.deepcopy(encoder)
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.objective = BootstrapLoss(symmetric=True)

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        v1, v2 = self.view1(batch, generator), self.view2(batch, generator)
        p1 = self.predictor(encode(self.encoder, v1))
        p2 = self.predictor(encode(self.encoder, v2))
        with torch.no_grad():
            t1, t2 = encode(self.target, v1), encode(self.target, v2)
        return self.objective(p1, t2, p2, t1)

    @torch.no_grad()
    def after_step(self, step: int, total_steps: int) -> None:
        ema_update(self.target, self.encoder, cosine_ema_rate(step, total_steps, self.ema_base))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, predictor_hidden: int = 512,
                    ema_base: float = 0.99, predictor_batch_norm: bool = False) -> "BGRL":
        # the authors' GCN: GCNConv -> BatchNorm -> PReLU (one slope) per layer
        enc = dict(type="gcn", hidden_channels=512, out_channels=256, num_layers=2,
                   activation="prelu_shared", batch_norm=True)
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view1=view1 or {"edge_drop": 0.4, "feature_mask": 0.1},
                   view2=view2 or {"edge_drop": 0.1, "feature_mask": 0.2},
                   predictor_hidden=predictor_hidden, ema_base=ema_base,
                   predictor_batch_norm=predictor_batch_norm)
