"""Encoders: PyG GNN stacks with a shared base class, readouts, an adapter for any model, and
the shared Transformer core with its image, video, text and graph tokenizers."""
from .adapter import encode
from .attention_graph import AttentionGraph, attention_spmm
from .cnn import ResNetEncoder
from .gat_conv import FusedGATConv
from .gcn_conv import FusedGCNConv, GCNGraph
from .gnn import (EdgeEmbedding, GATEncoder, GCNEncoder, GINEEncoder, GINEncoder, GNNEncoder,
                  SAGEEncoder)
from .graph_transformer import GraphTransformerEncoder
from .modality_encoders import TextTransformerEncoder, VideoTransformerEncoder, ViTEncoder
from .readout import Readout
from .registry import ENCODERS, build_encoder
from .tokenizers import ImagePatches, TextTokens, VideoTubelets
from .transformer import TransformerBlock, TransformerEncoder, TransformerStack

__all__ = ["GNNEncoder", "GCNEncoder", "GATEncoder", "SAGEEncoder", "GINEncoder", "GINEEncoder",
           "EdgeEmbedding", "GraphTransformerEncoder", "TransformerBlock", "TransformerStack",
           "TransformerEncoder", "ImagePatches", "VideoTubelets", "TextTokens", "ViTEncoder",
           "VideoTransformerEncoder", "TextTransformerEncoder", "ResNetEncoder", "ENCODERS",
           "build_encoder", "Readout", "encode", "FusedGATConv", "AttentionGraph",
           "attention_spmm", "FusedGCNConv", "GCNGraph"]
