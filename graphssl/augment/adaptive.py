r"""Adaptive augmentations of GCA (Zhu et al., "Graph Contrastive Learning with Adaptive
Augmentation", WWW 2021), degree-centrality variant (GCA-DE).

Important edges and features are perturbed less often. An importance score :math:`s` becomes a
drop probability relative to the most important item,

.. math:: p_i = \min\left(\frac{s_{max} - s_i}{s_{max} - \bar s}\, p,\; p_\tau\right),

so the probabilities average ``p`` (before the cap :math:`p_\tau`) and the most important item is
never dropped. In a batch of graphs, :math:`s_{max}` and :math:`\bar s` are taken per graph.

Centralities depend only on the graph, not on the random draw: each augmentation computes them
once and reuses them while it is given the same tensors again (every epoch of a full-graph run),
through :class:`IdentityCache`.
"""
from __future__ import annotations

import torch
from torch_geometric.utils import degree, to_undirected

from ..checks import check_positive_int, check_probability
from ..sparse import csr_row_ids, csr_scale, is_csr
from .base import Augmentation, graph_index, keep_edges, rand, shallow_copy


class IdentityCache:
    """``build()`` memoised on the identity of its inputs, as ``GNNEncoder._cached`` does.

    Tensors match when they are the same object with the same ``_version`` (an in-place edit
    invalidates the entry); other inputs (``None``, ints) match by equality. The cache keeps
    references to its inputs, so an identity match cannot be a recycled address; it holds at
    most ``size`` entries, most recent first. Inputs that require grad are never cached.

    Example:
        >>> cache = IdentityCache()
        >>> deg = cache.get((data.edge_index,), lambda: degree(data.edge_index[1]))
    """

    def __init__(self, size: int = 2):
        self.size = check_positive_int("size", size)
        self.entries: list = []

    @staticmethod
    def _key(inputs):
        return tuple((t, t._version) if isinstance(t, torch.Tensor) else t for t in inputs)

    @staticmethod
    def _same(a, b) -> bool:
        if isinstance(a, tuple) and isinstance(b, tuple):
            return a[0] is b[0] and a[1] == b[1]
        return not isinstance(a, tuple) and not isinstance(b, tuple) and a == b

    def get(self, inputs: tuple, build):
        if any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs):
            return build()
        key = self._key(inputs)
        for cached_key, value in self.entries:
            if len(cached_key) == len(key) and all(self._same(a, b)
                                                   for a, b in zip(cached_key, key)):
                return value
        value = build()
        self.entries.insert(0, (key, value))
        del self.entries[self.size:]
        return value

    def clear(self):
        self.entries.clear()

    def __repr__(self):
        return f"IdentityCache(size={self.size}, entries={len(self.entries)})"


def degree_centrality(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Node degrees ``[N]`` of the undirected version of the graph (each neighbour counted once),
    as the authors' ``degree(to_undirected(edge_index)[1])``."""
    if edge_index.numel() == 0:
        return torch.zeros(num_nodes, device=edge_index.device)
    und = to_undirected(edge_index, num_nodes=num_nodes)
    return degree(und[1], num_nodes, dtype=torch.float)


def relative_weights(s: torch.Tensor, group: torch.Tensor | None = None,
                     num_groups: int = 1) -> torch.Tensor:
    r""":math:`(s_{max} - s) / (s_{max} - \bar s)` elementwise, with max and mean over the entries
    sharing a ``group`` (all entries when ``group`` is None). The weights average 1 within a
    group; a group whose scores are all equal gets weight 1 everywhere (uniform dropping)."""
    if s.numel() == 0:
        return s
    if group is None:
        return _ratio(s, s.max(), s.mean())
    s_max = s.new_full((num_groups,), float("-inf")).scatter_reduce(0, group, s, reduce="amax")
    count = torch.bincount(group, minlength=num_groups).clamp(min=1)
    s_mean = s.new_zeros(num_groups).index_add(0, group, s) / count
    return _ratio(s, s_max[group], s_mean[group])


def _ratio(s, s_max, s_mean):
    spread = s_max - s_mean
    flat = spread <= 1e-6 * s_max.abs().clamp(min=1.0)  # all scores equal up to rounding
    return torch.where(flat, torch.ones_like(s), (s_max - s) / spread.clamp(min=1e-12))


def _capped(weights: torch.Tensor, p: float, p_tau: float) -> torch.Tensor:
    return (weights * p).clamp(max=p_tau)


class AdaptiveEdgeDrop(Augmentation):
    r"""Remove edges with a probability that decreases with their importance (GCA-DE).

    An edge's importance is the log-degree of its target node,
    :math:`s_e = \log(1 + \deg(v))` for :math:`e = (u, v)`, as the authors' ``degree_drop_weights``
    (degrees of the undirected graph; the ``+1``, also theirs, keeps isolated nodes finite). Its
    drop probability is :math:`p_e = \min\left(\frac{s_{max} - s_e}{s_{max} - \bar s} p,
    p_\tau\right)`: ``p`` is the mean drop rate, ``p_tau`` the cap (0.7 in the paper). Each
    direction of an undirected edge is drawn independently, as in the authors' code. Edge
    attributes are dropped with their edges. In a batch, max and mean are taken per graph.

    The weights are cached on the identity of ``edge_index`` (and ``batch``): a graph seen
    again reuses them, a new or edited tensor recomputes them.

    Args:
        p: mean drop probability, in [0, 1].
        p_tau: cap on any edge's drop probability, in [0, 1].

    Shapes: ``edge_index [2, E]`` -> ``[2, E']`` with ``E' <= E``.

    Example:
        >>> view = AdaptiveEdgeDrop(p=0.3)(data, generator=torch.Generator().manual_seed(0))
        >>> AdaptiveEdgeDrop(p=0.3).drop_probability(data)   # [E], mean about 0.3, max 0.7
    """

    def __init__(self, p: float = 0.2, p_tau: float = 0.7):
        self.p = check_probability("p", p)
        self.p_tau = check_probability("p_tau", p_tau)
        self._cache = IdentityCache()

    def weights(self, data) -> torch.Tensor:
        """Relative drop weights ``[E]`` (mean 1 per graph), before ``p`` and the cap."""
        batch, num_graphs = graph_index(data)
        edge_index, n = data.edge_index, int(data.num_nodes)

        def build():
            s = torch.log1p(degree_centrality(edge_index, n)[edge_index[1]])
            group = None if batch is None else batch[edge_index[1]]
            return relative_weights(s, group, num_graphs)

        return self._cache.get((edge_index, batch, n), build)

    def drop_probability(self, data) -> torch.Tensor:
        """Each edge's drop probability ``[E]``."""
        return _capped(self.weights(data), self.p, self.p_tau)

    def forward(self, data, generator):
        prob = self.drop_probability(data)
        keep = rand(prob.numel(), generator, prob.device) >= prob
        return keep_edges(data, keep)


class AdaptiveFeatureMask(Augmentation):
    r"""Mask feature columns with a probability that decreases with their importance (GCA-DE).

    A feature's importance is its magnitude weighted by node centrality,
    :math:`w_f = \log\left(1 + \sum_u |x_{uf}|\, \deg(u)\right)` (the authors'
    ``feature_drop_weights_dense``; with ``feature_values='nonzero'``, :math:`|x_{uf}|` is replaced
    by :math:`[x_{uf} \ne 0]`, their ``feature_drop_weights`` used for bag-of-words datasets). Its
    drop probability is :math:`p_f = \min\left(\frac{w_{max} - w_f}{w_{max} - \bar w} p,
    p_\tau\right)`, and a dropped feature is zeroed for every node of the graph (a column mask,
    one independent draw per graph of a batch, with per-graph weights).

    The weights are cached on the identity of ``x``, ``edge_index`` (and ``batch``). They use the
    graph this augmentation receives: apply it before structural augmentations (GCA does), so the
    centralities are those of the input graph. A sparse CSR ``x`` is supported (the mask scales
    its stored entries).

    Args:
        p: mean drop probability, in [0, 1].
        p_tau: cap on any feature's drop probability, in [0, 1].
        feature_values: ``'abs'`` (:math:`|x|`, the paper's formula) or ``'nonzero'``
            (:math:`[x \ne 0]`, the authors' code on sparse bag-of-words features).

    Shapes: ``x [N, F]`` -> ``[N, F]``.

    Example:
        >>> view = AdaptiveFeatureMask(p=0.1)(data, generator=torch.Generator().manual_seed(0))
    """

    FEATURE_VALUES = ("abs", "nonzero")

    def __init__(self, p: float = 0.3, p_tau: float = 0.7, feature_values: str = "abs"):
        self.p = check_probability("p", p)
        self.p_tau = check_probability("p_tau", p_tau)
        if feature_values not in self.FEATURE_VALUES:
            raise ValueError(f"feature_values must be one of {self.FEATURE_VALUES}, got "
                             f"{feature_values!r}")
        self.feature_values = feature_values
        self._cache = IdentityCache()

    def weights(self, data) -> torch.Tensor:
        """Relative drop weights ``[num_graphs, F]`` (mean 1 per graph), before ``p`` and the
        cap."""
        x = data.x
        if x is None:
            raise ValueError("AdaptiveFeatureMask needs node features (data.x is None); add "
                             "default features first, e.g. graphssl.data.ensure_features(data)")
        batch, num_graphs = graph_index(data)
        edge_index, n = data.edge_index, int(data.num_nodes)
        return self._cache.get((x, edge_index, batch, n),
                               lambda: self._weights(x, edge_index, batch, num_graphs, n))

    def _weights(self, x, edge_index, batch, num_graphs, n):
        c = degree_centrality(edge_index, n).to(x.device)
        num_features = x.size(1)
        if is_csr(x):
            values, cols, rows = x.values(), x.col_indices(), csr_row_ids(x)
            values = values.abs() if self.feature_values == "abs" else (values != 0).to(c.dtype)
            graph = rows.new_zeros(rows.shape) if batch is None else batch[rows]
            w = c.new_zeros(num_graphs * num_features).index_add_(
                0, graph * num_features + cols, values.to(c.dtype) * c[rows])
            w = w.view(num_graphs, num_features)
        else:
            values = x.abs() if self.feature_values == "abs" else (x != 0)
            values = values.to(c.dtype)
            if batch is None:
                w = (values.t() @ c).unsqueeze(0)
            else:
                w = c.new_zeros(num_graphs, num_features).index_add_(0, batch,
                                                                     values * c.unsqueeze(1))
        s = torch.log1p(w)  # [num_graphs, F]: max and mean over the features of each graph
        if num_features == 0:
            return s
        return _ratio(s, s.max(1, keepdim=True).values, s.mean(1, keepdim=True))

    def drop_probability(self, data) -> torch.Tensor:
        """Each feature's drop probability ``[num_graphs, F]``."""
        return _capped(self.weights(data), self.p, self.p_tau)

    def forward(self, data, generator):
        prob = self.drop_probability(data)
        x = data.x
        batch, _ = graph_index(data)
        keep = (rand(prob.numel(), generator, prob.device) >= prob.view(-1)).view(prob.shape)
        out = shallow_copy(data)
        if is_csr(x):
            rows, cols = csr_row_ids(x), x.col_indices()
            factor = keep[0, cols] if batch is None else keep[batch[rows], cols]
            out.x = csr_scale(x, factor.to(x.dtype))
        else:
            keep = keep.to(x.dtype)
            out.x = x * (keep[0] if batch is None else keep[batch])
        return out
