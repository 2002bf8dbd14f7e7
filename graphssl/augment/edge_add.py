from __future__ import annotations

import torch

from ..checks import check_probability
from .base import Augmentation, graph_index, rand, shallow_copy


class EdgeAdd(Augmentation):
    r"""Add ``round(p * num_edges)`` random edges, each between two nodes of the same graph
    (GraphCL edge perturbation). New edges get ``edge_weight`` 1 and a zero ``edge_attr``."""

    def __init__(self, p: float = 0.1):
        self.p = check_probability("p", p)

    def forward(self, data, generator):
        edge_index = data.edge_index
        device = edge_index.device
        n = data.num_nodes
        m = int(round(self.p * edge_index.size(1)))
        if m == 0 or n == 0:
            return shallow_copy(data)
        batch, num_graphs = graph_index(data)
        src = (rand(m, generator, device) * n).long().clamp(max=n - 1)
        if batch is None:
            dst = (rand(m, generator, device) * n).long().clamp(max=n - 1)
        else:  # a target inside the source's graph (nodes of a graph are contiguous in a Batch)
            counts = torch.bincount(batch, minlength=num_graphs)
            starts = torch.cumsum(counts, 0) - counts
            g = batch[src]
            dst = starts[g] + (rand(m, generator, device) * counts[g]).long().clamp(
                max=counts[g] - 1)
        out = shallow_copy(data)
        out.edge_index = torch.cat([edge_index, torch.stack([src, dst])], dim=1)
        if getattr(data, "edge_weight", None) is not None:
            out.edge_weight = torch.cat([data.edge_weight, data.edge_weight.new_ones(m)])
        if getattr(data, "edge_attr", None) is not None:
            ea = data.edge_attr
            out.edge_attr = torch.cat([ea, ea.new_zeros((m,) + tuple(ea.shape[1:]))])
        return out
