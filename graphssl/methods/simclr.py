"""SimCLR: contrastive learning of visual (and any modality's) representations."""
from __future__ import annotations

from torch import nn

from ..augment import Augmentation
from ..objectives import InfoNCE
from .registry import register_method
from .two_view import TwoViewMethod, embedding_dim_of, encoder_from_config, mlp

#: what the adapter-encoder methods train on
NON_GRAPH = ("image", "video", "text")


@register_method("simclr")
class SimCLR(TwoViewMethod):
    r"""SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual
    Representations", ICML 2020).

    Two random views of every item of a batch, one encoder, a projection head
    ``Linear-BN-ReLU-Linear``, and NT-Xent: :class:`~graphssl.objectives.InfoNCE` with the other
    ``2B - 2`` items of both views as negatives. It is the very class GRACE uses on nodes; only
    the encoder (a ViT, video or text Transformer, a ResNet) and the views differ.

    Args:
        encoder: ``batch -> [B, d]`` (e.g. :class:`~graphssl.encoders.ViTEncoder`).
        view1, view2: augmentations or configs (``{'random_resized_crop': {...}, ...}``);
            ``view2`` defaults to ``view1`` (two independent draws).
        projection_dim: output size of the projection head.
        temperature: NT-Xent temperature (the paper: 0.5 for CIFAR-10).

    Example:
        >>> method = SimCLR(ViTEncoder(1, image_size=8, patch_size=2, dim=64),
        ...                 view1={'random_affine': 15, 'gaussian_noise': 0.05})
        >>> loss = method.loss(images, generator)      # images: [B, 1, 8, 8]
    """

    modalities = NON_GRAPH

    def __init__(self, encoder: nn.Module, view1: Augmentation | dict,
                 view2: Augmentation | dict | None = None, embedding_dim: int | None = None,
                 projection_dim: int = 128, temperature: float = 0.5):
        dim = embedding_dim_of(encoder, embedding_dim)
        super().__init__(encoder, view1, view1 if view2 is None else view2,
                         InfoNCE(temperature=temperature),
                         projector=mlp([dim, dim, projection_dim], batch_norm=True))

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None, view1: dict | None = None,
                    view2: dict | None = None, **kwargs) -> "SimCLR":
        return cls(encoder_from_config(cls, in_channels, encoder), view1=view1 or {},
                   view2=view2, **kwargs)
