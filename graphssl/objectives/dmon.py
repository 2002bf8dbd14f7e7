"""DMoN: spectral modularity of soft cluster assignments with a collapse regulariser."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..checks import check_non_negative


class DMoN(nn.Module):
    r"""The Deep Modularity Networks loss (Tsitsulin, Palowitch, Perozzi, Müller, "Graph
    Clustering with Graph Neural Networks", JMLR 2023), for one graph given sparsely.

    With soft cluster assignments :math:`S \in \mathbb R^{N \times K}`, adjacency :math:`A`,
    degrees :math:`d = A \mathbf 1`, :math:`2m = \mathbf 1^\top d` and the modularity matrix
    :math:`B = A - d d^\top / 2m`:

    .. math::
        \mathcal L = \underbrace{-\frac{1}{2m} \operatorname{Tr}(S^\top B S)}_{\text{spectral}}
        \; + \; \lambda \underbrace{\left(\frac{\sqrt K}{N}
        \Big\lVert \sum_i s_i \Big\rVert_2 - 1\right)}_{\text{collapse}}

    The spectral term is minus the (relaxed) modularity of the clustering: for a hard assignment
    it is exactly :math:`-Q`, so it lies in :math:`[-1, 1/2]`. The collapse term lies in
    :math:`[0, \sqrt K - 1]` for rows on the simplex: 0 for equal cluster sizes,
    :math:`\sqrt K - 1` when every node is in one cluster.

    :math:`B` (dense ``N x N``) is never formed:
    :math:`\operatorname{Tr}(S^\top A S) = \sum_{(u,v) \in E} w_{uv} \langle s_u, s_v \rangle`
    (one gather per edge) and :math:`\operatorname{Tr}(S^\top d d^\top S) = \lVert S^\top d
    \rVert^2`; time and memory ``O((N + E) K)``.

    **Conventions.** ``s`` holds assignment *probabilities*: the caller applies the softmax over
    clusters (as the paper's pooling layer does before its loss); the rows are used as given,
    not checked. The graph is ``edge_index`` with ``A[u, v] = `` the summed weight of the edges
    ``u -> v`` (as :func:`torch_geometric.utils.to_dense_adj`) and :math:`d` its row sums (out
    degrees). For an undirected graph, store both directions (the PyG convention), so each
    undirected edge counts twice in :math:`2m` as in the paper; self-loops count once. The
    values equal :class:`torch_geometric.nn.DMoNPooling`'s ``spectral_loss`` and
    ``cluster_loss`` on the dense form of the same graph (that layer, dense and batched, also
    returns an orthogonality loss, not used by DMoN's objective and not computed here).

    Checks on ``edge_index`` (indices in range) and on :math:`2m > 0` read values back from the
    device.

    Args:
        collapse_regularization: weight :math:`\lambda \ge 0` of the collapse term (the
            paper's default 1; 0 disables it).

    Shapes: ``s: [N, K]`` with ``2 <= K <= N``; ``edge_index: [2, E]``, ``E >= 1``;
    ``edge_weight: [E]`` (optional, non-negative) -> scalar.

    Example:
        >>> head = torch.nn.Linear(128, 16)  # 16 clusters
        >>> s = head(encoder(data.x, data.edge_index)).softmax(dim=1)
        >>> loss = DMoN(collapse_regularization=1.0)(s, data.edge_index)
        >>> clusters = s.argmax(dim=1)
    """

    def __init__(self, collapse_regularization: float = 1.0):
        super().__init__()
        self.collapse_regularization = check_non_negative("collapse_regularization",
                                                          collapse_regularization)

    def forward(self, s: torch.Tensor, edge_index: torch.Tensor,
                edge_weight: torch.Tensor | None = None,
                num_nodes: int | None = None) -> torch.Tensor:
        loss = self.spectral_loss(s, edge_index, edge_weight, num_nodes)
        if self.collapse_regularization > 0:
            loss = loss + self.collapse_regularization * self.collapse_loss(s)
        return loss

    @staticmethod
    def spectral_loss(s: torch.Tensor, edge_index: torch.Tensor,
                      edge_weight: torch.Tensor | None = None,
                      num_nodes: int | None = None) -> torch.Tensor:
        r""":math:`-\operatorname{Tr}(S^\top B S) / 2m` (minus the soft modularity), sparse."""
        _check_assignments(s)
        weight = _check_graph(s, edge_index, edge_weight, num_nodes)
        src, dst = edge_index
        degree = torch.zeros(s.size(0), dtype=s.dtype, device=s.device).index_add_(0, src, weight)
        two_m = weight.sum()
        if not bool(two_m > 0):
            raise ValueError(f"the graph must have a positive total edge weight (2m), got "
                             f"{two_m.item()!r}")
        within = (weight * (s[src] * s[dst]).sum(dim=1)).sum()  # Tr(S^T A S)
        expected = (degree @ s).pow(2).sum() / two_m  # Tr(S^T d d^T S) / 2m
        return -(within - expected) / two_m

    @staticmethod
    def collapse_loss(s: torch.Tensor) -> torch.Tensor:
        r""":math:`\sqrt K / N \, \lVert \sum_i s_i \rVert_2 - 1` (0 for equal cluster sizes)."""
        _check_assignments(s)
        n, k = s.shape
        return s.sum(dim=0).norm() * (math.sqrt(k) / n) - 1

    def extra_repr(self):
        return f"collapse_regularization={self.collapse_regularization}"


def _check_assignments(s):
    if not isinstance(s, torch.Tensor) or s.dim() != 2 or not s.is_floating_point():
        shape = list(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise ValueError(f"s must be a floating-point 2-D tensor [num_nodes, num_clusters] of "
                         f"soft assignments, got {shape}")
    n, k = s.shape
    if k < 2:
        raise ValueError(f"need at least 2 clusters, got K={k} (s has shape {list(s.shape)})")
    if k > n:
        raise ValueError(f"the number of clusters K={k} must be <= the number of nodes N={n}")


def _check_graph(s, edge_index, edge_weight, num_nodes):
    """Validate the graph against ``s [N, K]``; return the edge weights (ones if ``None``)."""
    n = s.size(0)
    if num_nodes is not None and num_nodes != n:
        raise ValueError(f"num_nodes={num_nodes!r} does not match the N={n} rows of s")
    if not isinstance(edge_index, torch.Tensor) or edge_index.dim() != 2 or \
            edge_index.size(0) != 2 or edge_index.dtype not in (torch.long, torch.int):
        shape = list(edge_index.shape) if isinstance(edge_index, torch.Tensor) else \
            type(edge_index).__name__
        raise ValueError(f"edge_index must be an integer tensor of shape [2, num_edges], got "
                         f"{shape}")
    if edge_index.size(1) < 1:
        raise ValueError("edge_index has no edge: modularity needs a graph with edges (2m > 0)")
    low, high = int(edge_index.min()), int(edge_index.max())
    if low < 0 or high >= n:
        raise ValueError(f"edge_index values must be in [0, N) with N={n} nodes (rows of s), "
                         f"got values in [{low}, {high}]")
    if edge_weight is None:
        return s.new_ones(edge_index.size(1))
    if not isinstance(edge_weight, torch.Tensor) or edge_weight.shape != (edge_index.size(1),):
        shape = list(edge_weight.shape) if isinstance(edge_weight, torch.Tensor) else \
            type(edge_weight).__name__
        raise ValueError(f"edge_weight must have shape [num_edges] = [{edge_index.size(1)}], "
                         f"got {shape}")
    return edge_weight.to(s.dtype)
