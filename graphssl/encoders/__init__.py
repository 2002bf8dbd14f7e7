"""Encoders: PyG GNN stacks with a shared base class, readouts, and an adapter for any model."""
from .adapter import encode
from .gnn import (ENCODERS, EdgeEmbedding, GATEncoder, GCNEncoder, GINEEncoder, GINEncoder,
                  GNNEncoder, SAGEEncoder, build_encoder)
from .readout import Readout

__all__ = ["GNNEncoder", "GCNEncoder", "GATEncoder", "SAGEEncoder", "GINEncoder", "GINEEncoder",
           "EdgeEmbedding", "ENCODERS",
           "build_encoder", "Readout", "encode"]
