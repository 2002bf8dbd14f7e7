"""Graph-level readout: pool node embeddings per graph (batched, no loop over graphs)."""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

POOLS = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}


class Readout(nn.Module):
    """``Readout('mean')(z, batch) -> [num_graphs, d]``; with ``batch=None`` the whole input is
    one graph (``[1, d]``)."""

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in POOLS:
            raise ValueError(f"readout mode must be one of {sorted(POOLS)}, got {mode!r}")
        self.mode = mode

    def forward(self, z: torch.Tensor, batch: torch.Tensor | None = None,
                num_graphs: int | None = None) -> torch.Tensor:
        return POOLS[self.mode](z, batch, num_graphs)

    def extra_repr(self):
        return repr(self.mode)
