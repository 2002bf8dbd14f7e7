"""Sparse CSR node features: bag-of-words features (Cora, CiteSeer) are ~99% zeros, so keeping
``x`` as a CSR matrix lets augmentations and the first layer touch only the non-zeros.

Only what torch lacks for CSR matrices is here: row gathers (permutations, subsets) and
per-entry rescaling, all O(nnz + N), no Python loops.
"""
from __future__ import annotations

import warnings

import torch

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")


def is_csr(x) -> bool:
    return isinstance(x, torch.Tensor) and x.layout == torch.sparse_csr


def density(x: torch.Tensor) -> float:
    """The fraction of non-zero entries of a dense ``x`` (``0.0`` for an empty one; NaN counts
    as non-zero).

    The count is summed in float32, about 3 times faster on CPU than ``torch.count_nonzero``
    (12 ms against 39 ms for Amazon-Photo's 7,650 x 745 features), which matters because
    encoders check every view they are given; it is exact up to 2^24 non-zeros and within float32
    rounding beyond, ample for a density threshold."""
    if x.numel() == 0:
        return 0.0
    return float(x.detach().ne(0).sum(dtype=torch.float32)) / x.numel()


def to_sparse_features(data, max_density: float = 0.1):
    """A shallow copy of ``data`` whose ``x`` is a CSR matrix when at most ``max_density`` of its
    entries are non-zero (else ``data`` itself). The input is not modified."""
    x = getattr(data, "x", None)
    if x is None or is_csr(x) or x.dim() != 2 or x.numel() == 0:
        return data
    if density(x) > max_density:
        return data
    out = data.__copy__()
    out.x = x.to_sparse_csr()
    return out


def csr_row_ids(x: torch.Tensor) -> torch.Tensor:
    """The row of each stored entry of CSR ``x``."""
    crow = x.crow_indices()
    return torch.repeat_interleave(torch.arange(x.size(0), device=crow.device), crow.diff())


def csr_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[index]`` for a CSR matrix ``x`` and a 1-D ``index`` (bool mask or row ids, repeats
    allowed): the rows gathered in the given order."""
    if index.dtype == torch.bool:
        index = index.nonzero().view(-1)
    crow, col, val = x.crow_indices(), x.col_indices(), x.values()
    lengths = crow.diff()[index]
    new_crow = torch.zeros(index.numel() + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(lengths, 0, out=new_crow[1:])
    nnz = int(new_crow[-1])
    # entry k of new row r comes from old position crow[index[r]] + (k - new_crow[r])
    offset = torch.repeat_interleave(crow[index] - new_crow[:-1], lengths, output_size=nnz)
    source = offset + torch.arange(nnz, dtype=crow.dtype, device=crow.device)
    return torch.sparse_csr_tensor(new_crow, col[source], val[source],
                                   size=(index.numel(), x.size(1)))


def csr_scale(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """CSR ``x`` with each stored value multiplied by ``factor`` (one per stored entry); zeros
    stay stored, so the pattern (and every later gather) is unchanged."""
    return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), x.values() * factor,
                                   size=x.shape)
