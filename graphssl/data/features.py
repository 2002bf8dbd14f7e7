"""Degree features: default node features for graphs that have none (IMDB-BINARY, COLLAB, ...),
and the degree one-hot some methods append to existing features (MVGRL's graph level)."""
from __future__ import annotations

import torch
from torch_geometric.utils import degree

from ..checks import check_non_negative_int


def ensure_features(data, max_degree: int = 64, append_degree: bool = False):
    """Return ``data`` with a one-hot of the node degree, capped at ``max_degree`` (the last
    column collects every larger degree), as ``x`` when it has none. With
    ``append_degree=True`` the one-hot is also appended to existing features (``[x, onehot]``,
    as MVGRL's authors build node features); otherwise graphs with features are returned
    unchanged. The input is never modified. ``max_degree=0`` gives every node the constant
    feature ``[1.0]`` (what the InfoGraph and GraphCL authors' code uses for IMDB).

    Example:
        >>> mutag = load_dataset("MUTAG")
        >>> ensure_features(mutag[0], max_degree=4, append_degree=True).x.shape
        torch.Size([17, 12])
    """
    max_degree = check_non_negative_int("max_degree", max_degree)
    if not isinstance(append_degree, bool):
        raise ValueError(f"append_degree must be True or False, got {append_degree!r}")
    x = getattr(data, "x", None)
    if x is not None and not append_degree:
        return data
    deg = degree(data.edge_index[0], data.num_nodes, dtype=torch.long).clamp(max=max_degree)
    onehot = torch.nn.functional.one_hot(deg, max_degree + 1).float()
    out = data.clone()
    out.x = onehot if x is None else torch.cat([x.float(), onehot], dim=-1)
    return out


def largest_degree(dataset, batch_size: int = 4096) -> int:
    """The largest node degree over all graphs of ``dataset`` (counted from ``edge_index``
    sources, as :func:`ensure_features` counts), computed over batches of graphs."""
    from torch_geometric.loader import DataLoader

    top = 0
    for batch in DataLoader(dataset, batch_size=batch_size):
        if batch.edge_index.numel():
            top = max(top, int(degree(batch.edge_index[0], batch.num_nodes).max()))
    return top
