from __future__ import annotations

from ..checks import check_probability
from ..sparse import csr_row_ids, csr_scale, is_csr
from .base import Augmentation, graph_index, rand, shallow_copy


class FeatureMask(Augmentation):
    r"""Zero node features with probability ``p``.

    ``mode='column'`` (GRACE): each feature dimension is masked for all nodes of a graph, with an
    independent draw per graph of a batch. ``mode='node'`` (GraphCL attribute masking): a node's
    whole feature vector is zeroed. ``mode='entry'``: every entry independently.

    Example:
        >>> view = FeatureMask(p=0.3)(data, generator=g)   # view.x = data.x * mask
    """

    MODES = ("column", "node", "entry")

    def __init__(self, p: float = 0.3, mode: str = "column"):
        self.p = check_probability("p", p)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def forward(self, data, generator):
        x = data.x
        if x is None:
            raise ValueError("FeatureMask needs node features (data.x is None); add default "
                             "features first, e.g. graphssl.data.ensure_features(data)")
        if is_csr(x):
            return self._sparse(data, x, generator)
        if self.mode == "column":
            batch, num_graphs = graph_index(data)
            keep = (rand(num_graphs * x.size(1), generator, x.device) >= self.p)
            keep = keep.view(num_graphs, x.size(1)).to(x.dtype)
            mask = keep[0] if batch is None else keep[batch]
        elif self.mode == "node":
            mask = (rand(x.size(0), generator, x.device) >= self.p).to(x.dtype).unsqueeze(1)
        else:
            mask = (rand(x.shape, generator, x.device) >= self.p).to(x.dtype)
        out = shallow_copy(data)
        out.x = x * mask
        return out

    def _sparse(self, data, x, generator):
        """The masks on a CSR ``x``, applied to the stored entries only. Column and node masks are
        drawn exactly as on a dense ``x`` (same views for the same generator state); entry masks
        draw one number per stored entry instead of per matrix entry."""
        col = x.col_indices()
        if self.mode == "entry":
            factor = rand(col.numel(), generator, x.device) >= self.p
        else:
            rows = csr_row_ids(x)
            if self.mode == "column":
                batch, num_graphs = graph_index(data)
                keep = (rand(num_graphs * x.size(1), generator, x.device) >= self.p)
                keep = keep.view(num_graphs, x.size(1))
                factor = keep[0, col] if batch is None else keep[batch[rows], col]
            else:
                factor = (rand(x.size(0), generator, x.device) >= self.p)[rows]
        out = shallow_copy(data)
        out.x = csr_scale(x, factor.to(x.dtype))
        return out
