"""Attention aggregation as a sparse product: ``out_i = sum_j alpha_ij x_j`` for every head
at once, without materialising one message per edge.

PyG's ``GATConv`` gathers ``x_j`` for every edge (``[E, heads, channels]``), multiplies it by
the attention and scatters it back; on CPU that traffic dominates a GAT epoch once a graph has
a few hundred thousand edges. Here the heads become the diagonal blocks of one
``[heads N, heads N]`` CSR matrix whose values are the attention coefficients, so

* forward is one sparse-dense product ``A X``,
* the gradient of ``X`` is one product with the transposed pattern ``A^T G``,
* the gradient of the coefficients is a sampled dense-dense product (SDDMM,
  ``torch.sparse.sampled_addmm``): ``<G_i, X_j>`` at the stored entries only.

The graph's sorted patterns are built once per graph (:class:`AttentionGraph`) and reused by
every layer and epoch that sees the same ``edge_index``.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import add_self_loops, remove_self_loops

from .. import sparse as _sparse  # noqa: F401  (silences torch's CSR beta warnings)


class _Pattern:
    """The edges (PyG's order, self loops handled as ``GATConv`` does) of one graph, with the
    orders that sort them by ``(dst, src)`` (rows of ``A``) and by ``(src, dst)`` (rows of
    ``A^T``), and block-diagonal CSR indices for each number of heads asked for."""

    def __init__(self, edge_index: Tensor, num_nodes: int, self_loops: bool):
        if self_loops:
            edge_index, _ = remove_self_loops(edge_index)
            edge_index, _ = add_self_loops(edge_index, num_nodes=num_nodes)
        self.edge_index, self.num_nodes = edge_index, num_nodes
        src, dst = edge_index
        self.order = torch.argsort(dst * num_nodes + src)
        self.order_t = torch.argsort(src * num_nodes + dst)
        key = (dst * num_nodes + src)[self.order]
        # a repeated edge would be two stored entries of one CSR position: fall back to PyG
        self.has_duplicates = bool(key.numel() > 1 and (key.diff() == 0).any())
        self._rows = (dst[self.order], src[self.order])
        self._rows_t = (src[self.order_t], dst[self.order_t])
        self._blocks: dict = {}

    @property
    def num_edges(self) -> int:
        return self.edge_index.size(1)

    def blocks(self, heads: int):
        """``(crow, col, crow_t, col_t)`` of the ``[heads N, heads N]`` block-diagonal matrix
        (head ``h`` is block ``h``) and of its transpose."""
        if heads not in self._blocks:
            self._blocks[heads] = (*self._block(*self._rows, heads),
                                   *self._block(*self._rows_t, heads))
        return self._blocks[heads]

    def _block(self, rows: Tensor, cols: Tensor, heads: int):
        n, e = self.num_nodes, rows.numel()
        crow = torch._convert_indices_from_coo_to_csr(rows, n)
        shift = torch.arange(heads, device=rows.device)
        crow = torch.cat([(crow[:-1].view(1, -1) + e * shift.view(-1, 1)).view(-1),
                          crow.new_full((1,), heads * e)])
        col = (cols.view(1, -1) + n * shift.view(-1, 1)).view(-1)
        return crow, col


class AttentionGraph:
    """A graph prepared for :func:`attention_spmm`: its edge patterns, built on first use and
    kept for as long as the object lives (``GATEncoder`` caches one per ``edge_index``).

    Args:
        edge_index: ``[2, E]`` edges ``src -> dst`` (PyG's convention: messages flow from
            ``edge_index[0]`` to ``edge_index[1]``).
        num_nodes: ``N``.

    Example:
        >>> graph = AttentionGraph(data.edge_index, data.num_nodes)
        >>> out = conv(x, graph)          # a FusedGATConv
    """

    def __init__(self, edge_index: Tensor, num_nodes: int):
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, num_edges], got "
                             f"{list(edge_index.shape)}")
        self.edge_index, self.num_nodes = edge_index, int(num_nodes)
        self._patterns: dict = {}

    def pattern(self, self_loops: bool) -> _Pattern:
        if self_loops not in self._patterns:
            self._patterns[self_loops] = _Pattern(self.edge_index, self.num_nodes, self_loops)
        return self._patterns[self_loops]

    def __repr__(self):
        return f"AttentionGraph(num_nodes={self.num_nodes}, num_edges={self.edge_index.size(1)})"


class _AttentionSpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, alpha: Tensor, x: Tensor, pattern: _Pattern) -> Tensor:
        n, heads, channels = x.shape
        crow, col, _, _ = pattern.blocks(heads)
        xb = x.transpose(0, 1).reshape(heads * n, channels)
        values = alpha[pattern.order].t().reshape(-1)
        a = torch.sparse_csr_tensor(crow, col, values, size=(heads * n, heads * n))
        out = torch.sparse.mm(a, xb)
        ctx.save_for_backward(alpha, xb)
        ctx.pattern = pattern
        return out.view(heads, n, channels).transpose(0, 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        alpha, xb = ctx.saved_tensors
        pattern = ctx.pattern
        n, heads, channels = grad.shape
        crow, col, crow_t, col_t = pattern.blocks(heads)
        gb = grad.transpose(0, 1).reshape(heads * n, channels)
        grad_alpha = grad_x = None
        if ctx.needs_input_grad[1]:
            values_t = alpha[pattern.order_t].t().reshape(-1)
            a_t = torch.sparse_csr_tensor(crow_t, col_t, values_t, size=(heads * n, heads * n))
            grad_x = torch.sparse.mm(a_t, gb).view(heads, n, channels).transpose(0, 1)
        if ctx.needs_input_grad[0]:
            mask = torch.sparse_csr_tensor(crow, col, alpha.new_zeros(heads * pattern.num_edges),
                                           size=(heads * n, heads * n))
            sampled = torch.sparse.sampled_addmm(mask, gb, xb.t(), beta=0.0).values()
            grad_alpha = torch.empty_like(alpha)
            grad_alpha[pattern.order] = sampled.view(heads, -1).t()
        return grad_alpha, grad_x, None


def attention_spmm(alpha: Tensor, x: Tensor, pattern: _Pattern) -> Tensor:
    """``out[i, h] = sum over edges (j -> i) of alpha[e, h] * x[j, h]``.

    Shapes: ``alpha [E, H]`` (one coefficient per edge of ``pattern.edge_index`` and head),
    ``x [N, H, C]`` -> ``[N, H, C]``. Differentiable in ``alpha`` and ``x`` (first order)."""
    if alpha.shape != (pattern.num_edges, x.size(1)):
        raise ValueError(f"alpha must have shape [{pattern.num_edges}, {x.size(1)}] (edges, "
                         f"heads), got {list(alpha.shape)}")
    return _AttentionSpMM.apply(alpha, x, pattern)
