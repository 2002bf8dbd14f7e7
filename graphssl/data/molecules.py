"""Molecule features: OGB's categorical atom columns as one-hot floats, so that every graph
method (masking, feature noise, reconstruction) works on molecules unchanged."""
from __future__ import annotations

import torch
from torch_geometric.transforms import BaseTransform

#: OGB's atom feature columns (``ogb.utils.features.get_atom_feature_dims()``): atomic number
#: (119 values), chirality, degree, formal charge, hydrogens, radical electrons, hybridisation,
#: aromatic, in ring
OGB_ATOM_FEATURE_DIMS = (119, 5, 12, 12, 10, 6, 6, 2, 2)
#: OGB's bond feature columns: bond type, stereo, conjugated
OGB_BOND_FEATURE_DIMS = (5, 6, 2)


class OneHotCategorical(BaseTransform):
    r"""One-hot encode integer node feature columns: ``x [N, k]`` (``long``, column ``j`` in
    ``[0, dims[j])``) becomes ``x [N, sum(dims)]`` (``float``), the blocks side by side in column
    order. With OGB's atom columns (the default) the first 119 columns are the atomic number, the
    target GraphMAE reconstructs on molecules; a linear layer on the result is exactly OGB's
    ``AtomEncoder`` (a sum of one embedding per column).

    Edge features are left as they are (:class:`~graphssl.encoders.GINEEncoder` embeds the
    categorical bond columns itself). The input graph is not modified.

    Args:
        dims: number of categories of each column (default: OGB's atom features, 174 columns
            in all).

    Example:
        >>> data = OneHotCategorical()(molbace[0])  # x: [32, 9] long -> [32, 174] float
    """

    def __init__(self, dims=OGB_ATOM_FEATURE_DIMS):
        dims = tuple(int(d) for d in dims)
        if not dims or min(dims) < 1:
            raise ValueError(f"dims must be a non-empty list of positive category counts, got "
                             f"{dims!r}")
        self.dims = dims
        self._offsets = torch.tensor((0,) + dims[:-1]).cumsum(0)

    @property
    def out_channels(self) -> int:
        return sum(self.dims)

    def forward(self, data):
        x = getattr(data, "x", None)
        if x is None or x.is_floating_point() or x.dim() != 2 or x.size(1) != len(self.dims):
            got = None if x is None else f"{x.dtype} {list(x.shape)}"
            raise ValueError(f"OneHotCategorical({list(self.dims)}) expects integer features x "
                             f"of shape [num_nodes, {len(self.dims)}], got {got} (already "
                             f"one-hot? then drop this transform)")
        if x.numel():
            high = torch.tensor(self.dims, device=x.device)
            bad = (x < 0) | (x >= high)
            if bad.any():
                col = int(bad.any(dim=0).nonzero()[0])
                raise ValueError(f"feature column {col} has values outside [0, "
                                 f"{self.dims[col]}): {x[:, col][bad[:, col]][:5].tolist()}")
        out = torch.zeros(x.size(0), self.out_channels, device=x.device)
        out.scatter_(1, x + self._offsets.to(x.device), 1.0)
        data.x = out
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dims={list(self.dims)})"
