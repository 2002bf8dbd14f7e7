"""VICReg on graphs."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..encoders import build_encoder
from ..objectives import VICReg
from .registry import register_method
from .two_view import TwoViewMethod, embedding_dim_of, mlp


@register_method("vicreg")
class GraphVICReg(TwoViewMethod):
    r"""VICReg (Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
    Self-Supervised Learning", ICLR 2022) with a GNN encoder: two views, one encoder, an MLP
    expander, and :class:`~graphssl.objectives.VICReg` on the expanded outputs.

    Example:
        >>> method = GraphVICReg(GCNEncoder(1433, 512, out_channels=256),
        ...                      view={'edge_drop': 0.3, 'feature_mask': 0.3})
    """

    def __init__(self, encoder: nn.Module, view: Augmentation | dict,
                 embedding_dim: int | None = None, expander_dim: int = 512,
                 sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0):
        dim = embedding_dim_of(encoder, embedding_dim)
        super().__init__(encoder, view, view,
                         VICReg(sim_weight=sim_weight, var_weight=var_weight,
                                cov_weight=cov_weight),
                         projector=mlp([dim, expander_dim, expander_dim], batch_norm=True))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    view: dict | None = None, expander_dim: int = 512, sim_weight: float = 25.0,
                    var_weight: float = 25.0, cov_weight: float = 1.0) -> "GraphVICReg":
        enc = dict(type="gcn", hidden_channels=512, out_channels=256, num_layers=2,
                   activation="prelu", batch_norm=True)
        enc.update(encoder or {})
        return cls(build_encoder(enc.pop("type"), in_channels, **enc),
                   view=view or {"edge_drop": 0.3, "feature_mask": 0.3},
                   expander_dim=expander_dim, sim_weight=sim_weight, var_weight=var_weight,
                   cov_weight=cov_weight)
