"""Graph augmentations: small callables, graph in, new graph out, seeded by a generator."""
from .adaptive import AdaptiveEdgeDrop, AdaptiveFeatureMask
from .base import Augmentation
from .compose import Compose, Identity, RandomChoice
from .diffusion import PPRDiffusion
from .edge_add import EdgeAdd
from .edge_drop import EdgeDrop
from .feature_mask import FeatureMask
from .feature_shuffle import FeatureShuffle
from .node_drop import NodeDrop
from .subgraph import Subgraph

__all__ = ["Augmentation", "EdgeDrop", "FeatureMask", "FeatureShuffle", "NodeDrop", "Subgraph", "EdgeAdd",
           "PPRDiffusion", "Compose", "RandomChoice", "Identity", "AdaptiveEdgeDrop",
           "AdaptiveFeatureMask"]
