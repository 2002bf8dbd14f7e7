from __future__ import annotations

from ..checks import check_probability
from .base import Augmentation, graph_index, keep_nodes, one_per_graph, rand


class NodeDrop(Augmentation):
    r"""Remove each node (and its edges) with probability ``p`` (GraphCL node dropping).

    Every graph keeps at least one node, so a batch keeps its number of graphs; node ids are
    relabelled and node/edge attributes subset accordingly.
    """

    def __init__(self, p: float = 0.2):
        self.p = check_probability("p", p)

    def forward(self, data, generator):
        batch, num_graphs = graph_index(data)
        scores = rand(data.num_nodes, generator, data.edge_index.device)
        keep = scores >= self.p
        kept_per_graph = (keep.long() if batch is None else
                          keep.long().new_zeros(num_graphs).index_add_(0, batch, keep.long()))
        if bool((kept_per_graph == 0).any()):
            empty = (kept_per_graph == 0)
            rescue = one_per_graph(scores, batch, num_graphs)
            keep = keep | (rescue & (empty if batch is None else empty[batch]))
        return keep_nodes(data, keep)
