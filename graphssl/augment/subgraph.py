from __future__ import annotations

import torch
from torch_geometric.utils import k_hop_subgraph

from ..checks import check_non_negative_int, check_probability
from .base import Augmentation, graph_index, keep_nodes, one_per_graph, rand


class Subgraph(Augmentation):
    r"""Keep the subgraph around random root nodes (GraphCL subgraph view).

    Roots are drawn with probability ``root_ratio`` per node (at least one per graph). With
    ``method='random_walk'`` each root walks ``walk_length`` uniform random steps and every visited
    node is kept; with ``method='khop'`` the ``num_hops``-hop neighbourhood of the roots is kept.
    All walks advance together, one tensor step per hop (no loop over nodes or graphs).
    """

    METHODS = ("random_walk", "khop")

    def __init__(self, method: str = "random_walk", root_ratio: float = 0.1,
                 walk_length: int = 10, num_hops: int = 2):
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        self.method = method
        self.root_ratio = check_probability("root_ratio", root_ratio)
        self.walk_length = check_non_negative_int("walk_length", walk_length)
        self.num_hops = check_non_negative_int("num_hops", num_hops)

    def forward(self, data, generator):
        batch, num_graphs = graph_index(data)
        n = data.num_nodes
        device = data.edge_index.device
        scores = rand(n, generator, device)
        roots = (scores < self.root_ratio) | one_per_graph(scores, batch, num_graphs)
        if self.method == "khop":
            subset, _, _, _ = k_hop_subgraph(roots.nonzero().view(-1), self.num_hops,
                                             data.edge_index, num_nodes=n)
            keep = torch.zeros(n, dtype=torch.bool, device=device)
            keep[subset] = True
        else:
            keep = self._random_walk(data.edge_index, n, roots, generator)
        return keep_nodes(data, keep)

    def _random_walk(self, edge_index, n, roots, generator):
        row, col = edge_index
        order = torch.argsort(row, stable=True)
        col = col[order]
        deg = torch.bincount(row, minlength=n)
        rowptr = torch.cumsum(deg, 0) - deg
        current = roots.nonzero().view(-1)
        visited = roots.clone()
        for _ in range(self.walk_length):
            d = deg[current]
            step = (rand(current.numel(), generator, current.device) * d).long()
            moved = d > 0  # isolated nodes stay where they are
            nxt = current.clone()
            nxt[moved] = col[rowptr[current[moved]] + step[moved]]
            current = nxt
            visited[current] = True
        return visited
