"""Contextual stochastic block model (CSBM): a labelled graph generated in memory, for offline
demos and tests (Deshpande et al., "Contextual Stochastic Block Models", NeurIPS 2018)."""
from __future__ import annotations

import torch
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.utils import coalesce, to_undirected


def csbm_graph(num_nodes: int = 2000, num_classes: int = 5, num_features: int = 128,
               avg_degree: float = 8.0, homophily: float = 0.8, feature_signal: float = 1.0,
               seed: int = 0) -> Data:
    """One CSBM graph.

    Nodes get a uniform class; an edge's endpoints share a class with probability ``homophily``;
    features are ``N(mu_class, I)`` with class means of norm ``feature_signal`` (a random
    direction per class). Returns an undirected :class:`~torch_geometric.data.Data` with ``x``,
    ``edge_index``, ``y`` and no split masks.
    """
    if num_nodes < num_classes or num_classes < 2:
        raise ValueError(f"need num_nodes >= num_classes >= 2, got num_nodes={num_nodes}, "
                         f"num_classes={num_classes}")
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"homophily must be in [0, 1], got {homophily}")
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % num_classes
    y = y[torch.randperm(num_nodes, generator=g)]
    order = torch.argsort(y, stable=True)  # node ids grouped by class
    counts = torch.bincount(y, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts

    num_edges = int(num_nodes * avg_degree / 2)
    src = torch.randint(num_nodes, (num_edges,), generator=g)
    same = torch.rand(num_edges, generator=g) < homophily
    shift = torch.randint(1, num_classes, (num_edges,), generator=g)
    dst_class = torch.where(same, y[src], (y[src] + shift) % num_classes)
    offset = (torch.rand(num_edges, generator=g) * counts[dst_class]).long()
    dst = order[starts[dst_class] + offset]
    keep = src != dst
    edge_index = to_undirected(torch.stack([src[keep], dst[keep]]), num_nodes=num_nodes)
    edge_index = coalesce(edge_index, num_nodes=num_nodes)

    means = torch.randn(num_classes, num_features, generator=g)
    means = feature_signal * means / means.norm(dim=1, keepdim=True)
    x = means[y] + torch.randn(num_nodes, num_features, generator=g)
    return Data(x=x, edge_index=edge_index, y=y)


class CSBM(InMemoryDataset):
    """A one-graph dataset holding :func:`csbm_graph` (nothing is read or written on disk)."""

    def __init__(self, transform=None, **kwargs):
        super().__init__(None, transform)
        self.kwargs = kwargs
        self.data, self.slices = self.collate([csbm_graph(**kwargs)])

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"CSBM({args})"
