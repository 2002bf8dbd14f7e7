from __future__ import annotations

import torch

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
    Deterministic: ``generator`` is unused. Memory is ``B * n_max^2`` floats; a batch above
    ``MAX_DENSE_ENTRIES`` of them (one 620-node PROTEINS graph padding 511 small ones, say) is
    solved in chunks of graphs of similar size instead, each within the bound, with the edges
    in the same order; only a single graph beyond it is refused, with the alternative named.
    """

    #: the most padded ``[B, n, n]`` entries one solve may hold (10^8 float32: 400 MB a buffer)
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
        self.check_graph_size(n_max)
        starts = torch.cumsum(counts, 0) - counts
        local = torch.arange(n, device=device) - starts[batch]
        weight = getattr(data, "edge_weight", None)
        if weight is None:
            weight = torch.ones(data.edge_index.size(1), device=device)
        if num_graphs * n_max * n_max <= self.MAX_DENSE_ENTRIES:
            chunks = [torch.arange(num_graphs, device=device)]
        else:
            chunks = _size_chunks(counts, self.MAX_DENSE_ENTRIES)
        parts = [self._diffuse(graphs, counts, starts, batch, local, data.edge_index, weight)
                 for graphs in chunks]
        src = torch.cat([p[0] for p in parts])
        dst = torch.cat([p[1] for p in parts])
        value = torch.cat([p[2] for p in parts])
        if len(parts) > 1:  # the order of one solve: by source, then target
            order = torch.argsort(src * max(n, 1) + dst)
            src, dst, value = src[order], dst[order], value[order]
        out = shallow_copy(data)
        for key in ("edge_attr",):
            if key in out:
                del out[key]
        out.edge_index = torch.stack([src, dst])  # i -> j carries S[i, j]
        out.edge_weight = value
        return out

    def check_graph_size(self, num_nodes: int) -> None:
        if num_nodes * num_nodes > self.MAX_DENSE_ENTRIES:
            raise ValueError(
                f"PPRDiffusion is exact and dense: a graph of {num_nodes} nodes needs "
                f"{num_nodes}^2 entries, above MAX_DENSE_ENTRIES={self.MAX_DENSE_ENTRIES}. For "
                f"big graphs use torch_geometric.transforms.GDC with approximate PPR, or "
                f"diffuse mini-batch subgraphs.")

    def _diffuse(self, graphs, counts, starts, batch, local, edge_index, weight):
        """The sparsified diffusion of the graphs ``graphs`` (ids, in the batch) in one padded
        solve: ``(source, target, weight)`` of its kept entries, nodes numbered as in the
        batch."""
        device = edge_index.device
        num_graphs, sizes = graphs.numel(), counts[graphs]
        n_max = int(sizes.max()) if num_graphs else 0
        slot = torch.full((counts.numel(),), -1, dtype=torch.long, device=device)
        slot[graphs] = torch.arange(num_graphs, device=device)
        real = torch.arange(n_max, device=device) < sizes.unsqueeze(-1)
        src, dst = edge_index
        b = slot[batch[src]]
        keep = b >= 0
        adj = torch.zeros(num_graphs, n_max, n_max, dtype=weight.dtype, device=device)
        adj.index_put_((b[keep], local[src[keep]], local[dst[keep]]), weight[keep],
                       accumulate=True)
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
        c, i, j = (s > 0).nonzero(as_tuple=True)
        first = starts[graphs][c]
        return first + i, first + j, s[c, i, j]


def _size_chunks(counts: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """The graph ids of a batch in chunks for :class:`PPRDiffusion`'s padded solves: graphs in
    ascending size, each chunk as long as ``len(chunk) * largest^2 <= budget`` allows (every
    graph alone fits, which the caller has checked)."""
    order = torch.argsort(counts, stable=True)
    sizes = counts[order].tolist()
    chunks, begin = [], 0
    for end, size in enumerate(sizes):
        if (end - begin + 1) * size * size > budget:
            chunks.append(order[begin:end])
            begin = end
    chunks.append(order[begin:])
    return chunks


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
