"""G-BT: Graph Barlow Twins."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder
from ..objectives import BarlowTwins
from .registry import register_method
from .two_view import TwoViewMethod


@register_method("g-bt")
class GBT(TwoViewMethod):
    r"""Graph Barlow Twins (Bielak, Kajdanowicz, Chawla, "Graph Barlow Twins: A self-supervised
    representation learning framework for graphs", Knowledge-Based Systems 2022).

    Two views (edge dropping + feature masking), one encoder (GCN with batch norm and PReLU),
    no projection head, and :class:`~graphssl.objectives.BarlowTwins` on the encoder outputs:
    no negatives, no asymmetric networks.

    Example:
        >>> method = GBT(GCNEncoder(1433, 512, out_channels=256, batch_norm=True),
        ...              view={'edge_drop': 0.3, 'feature_mask': 0.3})
    """

    def __init__(self, encoder: nn.Module, view: Augmentation | dict,
                 lambda_: float | None = None):
        super().__init__(encoder, view, view, BarlowTwins(**(
            {} if lambda_ is None else {"lambda_": lambda_})))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    view: dict | None = None, lambda_: float | None = None) -> "GBT":
        enc = dict(type="gcn", hidden_channels=512, out_channels=256, num_layers=2,
                   activation="prelu", batch_norm=True)
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view=view or {"edge_drop": 0.3, "feature_mask": 0.3}, lambda_=lambda_)
