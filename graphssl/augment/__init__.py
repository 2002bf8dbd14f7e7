"""Augmentations: small callables, graph (or image / clip / token batch) in, new one out, seeded
by a generator."""
from .adaptive import AdaptiveEdgeDrop, AdaptiveFeatureMask
from .base import Augmentation
from .compose import Compose, Identity, RandomChoice
from .diffusion import PPRDiffusion
from .edge_add import EdgeAdd
from .edge_drop import EdgeDrop
from .feature_mask import FeatureMask
from .feature_shuffle import FeatureShuffle
from .image import (ColorJitter, GaussianBlur, GaussianNoise, HorizontalFlip, ImageAugmentation,
                    RandomAffine, RandomErasing, RandomGrayscale, RandomResizedCrop)
from .node_drop import NodeDrop
from .subgraph import Subgraph
from .text import SpanDeletion, TextAugmentation, TokenCrop, TokenDrop, TokenMask
from .video import TemporalCrop

__all__ = ["Augmentation", "EdgeDrop", "FeatureMask", "FeatureShuffle", "NodeDrop", "Subgraph", "EdgeAdd",
           "PPRDiffusion", "Compose", "RandomChoice", "Identity", "AdaptiveEdgeDrop",
           "AdaptiveFeatureMask",
           # images and video clips
           "ImageAugmentation", "RandomResizedCrop", "HorizontalFlip", "RandomAffine",
           "ColorJitter", "RandomGrayscale", "GaussianBlur", "GaussianNoise", "RandomErasing",
           "TemporalCrop",
           # token sequences
           "TextAugmentation", "TokenMask", "TokenDrop", "SpanDeletion", "TokenCrop"]
