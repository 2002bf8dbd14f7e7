"""Checks at the boundary: a graph with inconsistent tensors fails here, with the fix named,
instead of training on garbage."""
from __future__ import annotations

import torch

from .errors import InvalidGraphError


def check_graph(data, name: str = "data"):
    """Validate ``data`` (a PyG ``Data``/``Batch``) and return it unchanged.

    Checks that ``x`` is a finite floating tensor with one row per node, that ``edge_index`` is
    a ``[2, E]`` integer tensor with entries in ``[0, num_nodes)``, and that ``edge_weight`` (if
    any) is finite with one entry per edge. Graphs without edges and isolated nodes are valid.
    """
    x = getattr(data, "x", None)
    edge_index = getattr(data, "edge_index", None)
    if edge_index is None:
        raise InvalidGraphError(f"{name} has no edge_index; a graph needs edge_index of shape "
                                f"[2, num_edges] (use an empty [2, 0] tensor for no edges)")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise InvalidGraphError(f"{name}.edge_index must have shape [2, num_edges], got "
                                f"{list(edge_index.shape)}")
    if edge_index.dtype not in (torch.long, torch.int32, torch.int64):
        raise InvalidGraphError(f"{name}.edge_index must hold integers, got {edge_index.dtype}")
    num_nodes = data.num_nodes
    if x is not None:
        if x.dim() != 2:
            raise InvalidGraphError(f"{name}.x must have shape [num_nodes, num_features], got "
                                    f"{list(x.shape)}")
        if not x.is_floating_point():
            raise InvalidGraphError(f"{name}.x must be floating point, got {x.dtype}; "
                                    f"convert with x.float()")
        if x.layout == torch.sparse_csr:
            if not bool(torch.isfinite(x.values()).all()):
                raise InvalidGraphError(f"{name}.x (sparse) has NaN or inf values; clean them "
                                        f"first")
        elif not x.is_sparse and not bool(torch.isfinite(x).all()):
            bad = (~torch.isfinite(x)).any(dim=1).nonzero().view(-1)
            raise InvalidGraphError(
                f"{name}.x has NaN or inf values in {len(bad)} node(s) (first: node "
                f"{int(bad[0])}); impute or drop them first, e.g. "
                f"data.x = torch.nan_to_num(data.x, nan=0.0, posinf=0.0, neginf=0.0)")
    if edge_index.numel() > 0:
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= num_nodes:
            raise InvalidGraphError(
                f"{name}.edge_index refers to node {low if low < 0 else high}, but the graph has "
                f"{num_nodes} nodes (valid ids 0..{num_nodes - 1}); fix the edge list or set "
                f"num_nodes")
    weight = getattr(data, "edge_weight", None)
    if weight is not None:
        if weight.numel() != edge_index.size(1):
            raise InvalidGraphError(f"{name}.edge_weight has {weight.numel()} entries for "
                                    f"{edge_index.size(1)} edges")
        if not bool(torch.isfinite(weight).all()):
            raise InvalidGraphError(f"{name}.edge_weight has NaN or inf values")
    return data
