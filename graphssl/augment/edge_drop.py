from __future__ import annotations

from ..checks import check_probability
from .base import Augmentation, keep_edges, rand


class EdgeDrop(Augmentation):
    r"""Remove each edge independently with probability ``p`` (GRACE, GraphCL).

    Edge attributes (``edge_attr``, ``edge_weight``) are dropped with their edges. With
    ``undirected=True`` both directions of an undirected edge share one draw, so the view stays
    undirected (``edge_index`` must then hold each edge in both directions).

    Example:
        >>> view = EdgeDrop(p=0.2)(data, generator=torch.Generator().manual_seed(0))
    """

    def __init__(self, p: float = 0.2, undirected: bool = False):
        self.p = check_probability("p", p)
        self.undirected = bool(undirected)

    def forward(self, data, generator):
        row, col = data.edge_index
        if self.undirected:
            # one draw per unordered pair, shared by (i, j) and (j, i): hash the pair
            low, high = row.minimum(col), row.maximum(col)
            key = low * (int(data.num_nodes) + 1) + high
            uniq, inverse = key.unique(return_inverse=True)
            keep = rand(uniq.numel(), generator, row.device)[inverse] >= self.p
        else:
            keep = rand(row.numel(), generator, row.device) >= self.p
        return keep_edges(data, keep)
