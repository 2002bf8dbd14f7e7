from __future__ import annotations

from ..sparse import csr_rows, is_csr
from .base import Augmentation, randperm, shallow_copy


class FeatureShuffle(Augmentation):
    """Permute node feature rows, keeping the structure: DGI's corruption function (each node
    gets another node's features). One permutation over all nodes of a batch."""

    def forward(self, data, generator):
        if data.x is None:
            raise ValueError("FeatureShuffle needs node features (data.x is None)")
        perm = randperm(data.x.size(0), generator, data.x.device)
        out = shallow_copy(data)
        out.x = csr_rows(data.x, perm) if is_csr(data.x) else data.x[perm]
        return out
