"""PyG's ``GCNConv`` over a prepared CSR adjacency: normalised once per graph, and a backward
pass that reuses the adjacency's transpose instead of rebuilding it at every call."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor

from .. import sparse as _sparse  # noqa: F401  (silences torch's CSR beta warnings)


class GCNGraph:
    """A graph prepared for :class:`FusedGCNConv`: the transposed CSR adjacency PyG's sparse
    path expects (row ``i`` holds the edges into ``i``), and on demand its GCN-normalised form
    and the transposes of both, each built once for as long as the object lives
    (``GCNEncoder`` caches one per ``edge_index``).

    Args:
        edge_index: ``[2, E]`` edges ``src -> dst``.
        edge_weight: optional ``[E]`` weights (e.g. a PPR diffusion's).
        num_nodes: ``N``.

    Example:
        >>> graph = GCNGraph(data.edge_index, None, data.num_nodes)
        >>> out = conv(x, graph)          # a FusedGCNConv
    """

    def __init__(self, edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int):
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, num_edges], got "
                             f"{list(edge_index.shape)}")
        if edge_weight is not None and edge_weight.shape != (edge_index.size(1),):
            raise ValueError(f"edge_weight must have shape [{edge_index.size(1)}] (one weight "
                             f"per edge), got {list(edge_weight.shape)}")
        self.num_nodes = int(num_nodes)
        self.edge_weight = edge_weight
        self.adj_t = to_torch_csr_tensor(edge_index.flip(0), edge_attr=edge_weight,
                                         size=(self.num_nodes, self.num_nodes))
        self._operators: dict = {}

    @property
    def requires_grad(self) -> bool:
        return self.edge_weight is not None and self.edge_weight.requires_grad

    def operator(self, normalize: bool, improved: bool, add_self_loops: bool, flow: str,
                 dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``(A, A^T)``, both CSR: the adjacency a ``GCNConv`` with these settings multiplies
        (``gcn_norm``'s output when ``normalize``) and its transpose."""
        key = (normalize, normalize and improved, normalize and add_self_loops, flow, dtype)
        if key not in self._operators:
            adj = self.adj_t
            if normalize:
                adj, _ = gcn_norm(adj, None, self.num_nodes, improved, add_self_loops, flow,
                                  dtype)
            self._operators[key] = (adj, adj.t().to_sparse_csr())
        return self._operators[key]

    def __repr__(self):
        return f"GCNGraph(num_nodes={self.num_nodes}, num_edges={self.adj_t.values().numel()})"


class _SpMM(torch.autograd.Function):
    """``A X`` for a constant CSR ``A``, whose backward multiplies by the given ``A^T`` (torch's
    own backward transposes and re-sorts ``A`` at every call)."""

    @staticmethod
    def forward(ctx, x: Tensor, adj: Tensor, adj_transposed: Tensor) -> Tensor:
        ctx.adj_transposed = adj_transposed
        return torch.sparse.mm(adj, x)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        return torch.sparse.mm(ctx.adj_transposed, grad), None, None


class FusedGCNConv(GCNConv):
    r"""``torch_geometric.nn.GCNConv`` (Kipf & Welling, ICLR 2017) with the same parameters,
    state-dict keys and outputs (up to float summation order in the backward pass) that,
    given a :class:`GCNGraph`, normalises the adjacency once per graph instead of once per call
    and multiplies by a transpose built once in the backward pass.

    It pays off wherever a graph is seen more than once: every layer of an encoder, every epoch
    of full-graph training (DGI, MVGRL) and large weighted graphs (MVGRL's PPR diffusion of
    Amazon-Photo holds 6.6 million entries; re-sorting its transpose took about half a second a
    call). The fast path runs on CPU for a :class:`GCNGraph` whose weights need no gradient;
    anything else (a plain ``edge_index``, CUDA tensors, learned edge weights, ``cached=True``)
    runs ``GCNConv.forward`` on the same adjacency.

    Shapes: ``x [N, in_channels]`` (dense or CSR through the layer's linear map), a
    :class:`GCNGraph` or ``edge_index [2, E]`` -> ``[N, out_channels]``.

    Example:
        >>> conv = FusedGCNConv(745, 512)
        >>> graph = GCNGraph(data.edge_index, None, data.num_nodes)   # reuse it across calls
        >>> out = conv(data.x, graph)                                  # [N, 512]
    """

    def forward(self, x, edge_index, edge_weight=None):
        if not isinstance(edge_index, GCNGraph):
            return super().forward(x, edge_index, edge_weight)
        graph = edge_index
        if edge_weight is not None:
            raise ValueError("a GCNGraph carries its own edge weights: build it with "
                             "GCNGraph(edge_index, edge_weight, num_nodes) instead of passing "
                             "edge_weight")
        if x.size(0) != graph.num_nodes:
            raise ValueError(f"the GCNGraph has {graph.num_nodes} nodes but x has {x.size(0)} "
                             f"rows: build it from this graph's edge_index")
        if (x.device.type != "cpu" or graph.requires_grad or self.cached
                or x.dtype not in (torch.float32, torch.float64)):
            return super().forward(x, graph.adj_t)
        adj, adj_transposed = graph.operator(self.normalize, self.improved, self.add_self_loops,
                                             self.flow, x.dtype)
        out = _SpMM.apply(self.lin(x), adj, adj_transposed)
        if self.bias is not None:
            out = out + self.bias
        return out
