"""Default node features for graphs that have none (IMDB-BINARY, COLLAB, ...)."""
from __future__ import annotations

import torch
from torch_geometric.utils import degree


def ensure_features(data, max_degree: int = 64):
    """Return ``data`` with ``x`` set when it has none: a one-hot of the node degree, capped at
    ``max_degree`` (the last column collects every larger degree). Graphs with features are
    returned unchanged; the input is never modified."""
    if getattr(data, "x", None) is not None:
        return data
    deg = degree(data.edge_index[0], data.num_nodes, dtype=torch.long).clamp(max=max_degree)
    out = data.clone()
    out.x = torch.nn.functional.one_hot(deg, max_degree + 1).float()
    return out
