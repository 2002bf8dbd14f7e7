"""Rows of a tensor gathered over the ranks of a process group, differentiably (cross-rank
negatives of :class:`~graphssl.objectives.InfoNCE`). Objectives depend on torch only."""
from __future__ import annotations

import warnings

import torch
import torch.distributed as dist


def world_size() -> int:
    """The process group's size, 1 without one."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_rows(z: torch.Tensor) -> tuple[torch.Tensor, int, list[int]]:
    """All ranks' rows of ``z`` concatenated in rank order, differentiably:
    ``torch.distributed.nn.functional.all_gather`` sends each rank's share of the gradient back
    to the rank that owns the rows (summed over ranks). Ranks may hold different numbers of rows
    (their sizes are gathered first and the rows padded to the largest). Returns ``(z_all,
    offset, sizes)``: this rank's rows are ``z_all[offset:offset + len(z)]``. Every rank must
    call it (it is a collective)."""
    import torch.distributed.nn.functional as dist_fn
    world = dist.get_world_size()
    n = torch.tensor([z.size(0)], device=z.device, dtype=torch.long)
    counts = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(counts, n)
    sizes = [int(c.item()) for c in counts]
    rows = max(sizes)
    padded = z.contiguous() if z.size(0) == rows else torch.cat(
        [z, z.new_zeros((rows - z.size(0), *z.shape[1:]))])
    with warnings.catch_warnings():
        # deprecated in favour of the private _functional_collectives; the public one is kept
        warnings.filterwarnings("ignore", message=".*all_gather is deprecated",
                                category=FutureWarning)
        parts = dist_fn.all_gather(padded)
    z_all = torch.cat([part[:size] for part, size in zip(parts, sizes)])
    return z_all, sum(sizes[:dist.get_rank()]), sizes
