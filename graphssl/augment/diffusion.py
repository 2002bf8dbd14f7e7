from __future__ import annotations

import torch
from torch_geometric.utils import to_dense_adj

from ..checks import check_non_negative, check_number
from .base import Augmentation, graph_index, shallow_copy


class PPRDiffusion(Augmentation):
    r"""Personalised-PageRank diffusion view (MVGRL; Klicpera et al., "Diffusion Improves Graph
    Learning", NeurIPS 2019):

    .. math:: S = \alpha \left(I - (1 - \alpha) \tilde D^{-1/2} \tilde A \tilde D^{-1/2}\right)^{-1}

    with :math:`\tilde A = A + I`, computed exactly and batched over graphs (one padded
    ``[B, n, n]`` solve), then sparsified: entries below ``eps`` are removed. The view has the
    diffusion as ``edge_index`` + ``edge_weight`` (the edge ``i -> j`` carries
    :math:`S_{ij}`, rows indexing sources as in PyG's ``to_dense_adj``); other edge attributes
    are dropped. With ``minmax_columns`` the weights leaving each node (over all nodes of its
    graph, zeros included) are then min-max scaled to ``[0, 1]`` (``(s - min) / (max - min)``,
    a constant set left as it is): the columns of :math:`S` as the MVGRL authors multiply
    :math:`S X`, scaled by scikit-learn's ``MinMaxScaler`` in their CiteSeer loader. The
    diffusion is then no longer symmetric.
    Deterministic: ``generator`` is unused. Memory is ``B * n_max^2`` floats, so very large
    graphs are refused with the alternative named.
    """

    MAX_DENSE_ENTRIES = 10 ** 8

    def __init__(self, alpha: float = 0.2, eps: float = 1e-4, minmax_columns: bool = False):
        self.alpha = check_number("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
        self.eps = check_non_negative("eps", eps)
        if not isinstance(minmax_columns, bool):
            raise ValueError(f"minmax_columns must be True or False, got {minmax_columns!r}")
        self.minmax_columns = minmax_columns

    def forward(self, data, generator):
        batch, num_graphs = graph_index(data)
        n = data.num_nodes
        device = data.edge_index.device
        if batch is None:
            batch = torch.zeros(n, dtype=torch.long, device=device)
        counts = torch.bincount(batch, minlength=num_graphs)
        n_max = int(counts.max()) if n else 0
        if num_graphs * n_max * n_max > self.MAX_DENSE_ENTRIES:
            raise ValueError(
                f"PPRDiffusion is exact and dense: {num_graphs} x {n_max}^2 entries is too large. "
                f"For big graphs use torch_geometric.transforms.GDC with approximate PPR, or "
                f"diffuse mini-batch subgraphs.")
        weight = getattr(data, "edge_weight", None)
        adj = to_dense_adj(data.edge_index, batch, edge_attr=weight, max_num_nodes=n_max,
                           batch_size=num_graphs)
        starts = torch.cumsum(counts, 0) - counts
        local = torch.arange(n, device=device) - starts[batch]
        real = torch.zeros(num_graphs, n_max, dtype=torch.bool, device=device)
        real[batch, local] = True
        eye = torch.eye(n_max, device=device).expand(num_graphs, n_max, n_max)
        adj = adj + eye * real.unsqueeze(-1)  # self-loops on real nodes only
        deg = adj.sum(-1)
        dinv = deg.clamp(min=1e-12).pow(-0.5) * real
        t = dinv.unsqueeze(-1) * adj * dinv.unsqueeze(-2)
        s = self.alpha * torch.linalg.inv(eye - (1 - self.alpha) * t)
        pairs = real.unsqueeze(-1) & real.unsqueeze(-2)
        s = s * pairs
        s = s * (s > self.eps)
        if self.minmax_columns:
            s = _minmax_columns(s, real, pairs)
        b, i, j = (s > 0).nonzero(as_tuple=True)
        out = shallow_copy(data)
        for key in ("edge_attr",):
            if key in out:
                del out[key]
        out.edge_index = torch.stack([starts[b] + i, starts[b] + j])  # i -> j carries S[i, j]
        out.edge_weight = s[b, i, j]
        return out


def _minmax_columns(s: torch.Tensor, real: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Min-max scaling of each source node's weights ``s [B, n, n][b, i, :]`` over its graph's
    real nodes (padding stays 0); a range of 0 keeps its values (scale 1, as
    ``MinMaxScaler``)."""
    inf = torch.finfo(s.dtype).max
    targets = real.unsqueeze(-2)
    low = torch.where(targets, s, inf).amin(dim=-1, keepdim=True)
    high = torch.where(targets, s, -inf).amax(dim=-1, keepdim=True)
    span = high - low
    span = torch.where(span > 0, span, torch.ones_like(span))
    return ((s - low) / span) * pairs
