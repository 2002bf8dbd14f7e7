"""Encoders by name, for configurations: ``build_encoder('gcn', 1433, hidden_channels=256)``."""
from __future__ import annotations

import difflib

from torch import nn

from .cnn import ResNetEncoder
from .gnn import GNN_ENCODERS
from .graph_transformer import GraphTransformerEncoder
from .modality_encoders import TextTransformerEncoder, VideoTransformerEncoder, ViTEncoder

#: what each encoder takes: graphs (``x, edge_index``), images, clips or token ids
ENCODERS = {**GNN_ENCODERS, "graph-transformer": GraphTransformerEncoder,
            "vit": ViTEncoder, "resnet": ResNetEncoder, "video-transformer": VideoTransformerEncoder,
            "text-transformer": TextTransformerEncoder}


def build_encoder(type: str, in_channels: int, **kwargs) -> nn.Module:
    """Build the encoder registered as ``type``. ``in_channels`` is the node feature size for
    graph encoders, the channel count for images and clips, the vocabulary size for text."""
    key = str(type).lower().replace("_", "-")
    if key not in ENCODERS:
        close = difflib.get_close_matches(key, sorted(ENCODERS), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"encoder type must be one of {sorted(ENCODERS)}, got {type!r}.{hint}")
    return ENCODERS[key](in_channels, **kwargs)
