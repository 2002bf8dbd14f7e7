"""CCA-SSG: canonical-correlation self-supervision."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder
from ..objectives import CCA_SSG as CCALoss
from .registry import register_method
from .two_view import TwoViewMethod


@register_method("cca-ssg")
class CCASSG(TwoViewMethod):
    r"""CCA-SSG (Zhang et al., "From Canonical Correlation Analysis to Self-supervised Graph
    Neural Networks", NeurIPS 2021).

    Two views with the same edge-drop and feature-mask rates, one encoder whose last layer has
    no activation, no projection head, and :class:`~graphssl.objectives.CCA_SSG` on the
    standardised outputs (invariance + ``lambda_`` x decorrelation).

    Example:
        >>> method = CCASSG(GCNEncoder(1433, 512, num_layers=2, act_last=False,
        ...                            activation='relu'),
        ...                 view={'edge_drop': 0.4, 'feature_mask': 0.1}, lambda_=1e-3)
    """

    def __init__(self, encoder: nn.Module, view: Augmentation | dict, lambda_: float = 1e-3):
        super().__init__(encoder, view, view, CCALoss(lambda_=lambda_))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    view: dict | None = None, lambda_: float = 1e-3) -> "CCASSG":
        enc = dict(type="gcn", hidden_channels=512, out_channels=512, num_layers=2,
                   activation="relu", act_last=False)
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view=view or {"edge_drop": 0.2, "feature_mask": 0.2}, lambda_=lambda_)
