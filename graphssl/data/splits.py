"""Node splits: the public Planetoid split, seeded random splits, OGB's official splits."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """Index tensors of one train/validation/test split."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor

    def __post_init__(self):
        for part in ("train", "val", "test"):
            idx = getattr(self, part)
            if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long or idx.dim() != 1:
                raise ValueError(f"Split.{part} must be a 1-D LongTensor of indices")
        if len(self.train) == 0 or len(self.test) == 0:
            raise ValueError("a split needs at least one training and one test index")

    def __repr__(self):
        return f"Split(train={len(self.train)}, val={len(self.val)}, test={len(self.test)})"


def _indices(mask):
    return mask.nonzero(as_tuple=False).view(-1)


def public_split(data) -> Split:
    """The split stored with the data as ``train_mask``/``val_mask``/``test_mask``
    (Planetoid's public 20-per-class split)."""
    if not all(hasattr(data, m) and getattr(data, m) is not None
               for m in ("train_mask", "val_mask", "test_mask")):
        raise ValueError("this dataset has no public split (no train_mask/val_mask/test_mask); "
                         "use split='random'")
    masks = [getattr(data, m) for m in ("train_mask", "val_mask", "test_mask")]
    if masks[0].dim() == 2:  # several stored splits (WikiCS): take the first
        masks = [m[:, 0] if m.dim() == 2 else m for m in masks]
    return Split(*[_indices(m) for m in masks])


def random_split(num_nodes: int, seed: int, train_ratio: float = 0.1,
                 val_ratio: float = 0.1) -> Split:
    """A seeded random split: ``train_ratio`` / ``val_ratio`` / the rest for test
    (the 10/10/80 protocol of GRACE, GCA, BGRL)."""
    if not (0 < train_ratio < 1 and 0 <= val_ratio < 1 and train_ratio + val_ratio < 1):
        raise ValueError(f"need 0 < train_ratio, 0 <= val_ratio, train_ratio + val_ratio < 1; "
                         f"got train_ratio={train_ratio}, val_ratio={val_ratio}")
    perm = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed))
    n_train, n_val = int(round(train_ratio * num_nodes)), int(round(val_ratio * num_nodes))
    return Split(perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:])


def ogb_split(dataset) -> Split:
    """OGB's official split (``dataset.get_idx_split()``)."""
    idx = dataset.get_idx_split()
    return Split(idx["train"].view(-1).long(), idx["valid"].view(-1).long(),
                 idx["test"].view(-1).long())


def get_split(dataset, family: str, index: int = 0) -> Split:
    """Split number ``index`` of ``family`` for a node-level dataset.

    ``'public'`` is the same split for every index; ``'random'`` is seeded by ``index`` (so 20
    runs use splits 0..19); ``'ogb'`` is OGB's official split.
    """
    data = dataset[0]
    if family == "public":
        return public_split(data)
    if family == "random":
        return random_split(data.num_nodes, seed=index)
    if family == "ogb":
        return ogb_split(dataset)
    if family == "wikics":  # WikiCS ships 20 train/val splits and one test set
        k = index % data.train_mask.size(1)
        return Split(_indices(data.train_mask[:, k]), _indices(data.val_mask[:, k]),
                     _indices(data.test_mask))
    raise ValueError(f"split must be 'public', 'random', 'ogb' or 'wikics', got {family!r}")
