"""Images, clips and sentences as one container: :class:`ModalityData`.

Non-graph datasets are small enough to live in memory as one tensor, so a dataset is the tensor
of inputs, the labels, fixed split masks and a few facts the encoder needs:

========  ==========================================  ==========================================
modality  ``x``                                       ``info``
========  ==========================================  ==========================================
image     float32 ``[N, C, H, W]`` in ``[0, 1]``       ``channels``, ``image_size``
video     float32 ``[N, T, C, H, W]`` in ``[0, 1]``    ``channels``, ``image_size``, ``frames``
text      int64 ``[N, L]`` token ids, right-padded     ``vocab_size``, ``pad_id``, ``max_length``,
          with ``info['pad_id']``                     ``texts`` (raw strings, for baselines),
                                                      ``tokenizer`` (a ``tokenizers.Tokenizer``)
========  ==========================================  ==========================================

``y`` is ``[N]`` int64 class ids, or ``[N, K]`` float multi-hot for multi-label targets (which
digits appear in a clip). ``split`` maps ``'train'``, ``'val'`` and ``'test'`` to boolean masks
``[N]``; where a source has no validation part, one is carved from its training part with a
fixed seed (:func:`stratified_masks`), so the test part never chooses anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..checks import check_number

MODALITIES = ("image", "video", "text")


@dataclass(eq=False)
class ModalityData:
    """A labelled set of images, clips or token sequences with fixed train/val/test masks."""

    name: str
    modality: str
    x: torch.Tensor
    y: torch.Tensor
    split: dict
    classes: tuple = ()
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        rank = {"image": 4, "video": 5, "text": 2}[self.modality]
        if self.x.dim() != rank:
            raise ValueError(f"{self.name}: {self.modality} inputs must have rank {rank}, got "
                             f"shape {tuple(self.x.shape)}")
        n = self.x.size(0)
        if self.y.size(0) != n:
            raise ValueError(f"{self.name}: {n} inputs but {self.y.size(0)} labels")
        for part in ("train", "val", "test"):
            mask = self.split.get(part)
            if mask is None or mask.dtype != torch.bool or mask.shape != (n,):
                raise ValueError(f"{self.name}: split[{part!r}] must be a bool mask of shape "
                                 f"({n},)")
        if (self.split["train"] & self.split["test"]).any() or \
                (self.split["val"] & self.split["test"]).any() or \
                (self.split["train"] & self.split["val"]).any():
            raise ValueError(f"{self.name}: the train, val and test masks overlap")

    def __len__(self) -> int:
        return self.x.size(0)

    @property
    def num_classes(self) -> int:
        return self.y.size(1) if self.y.dim() == 2 else int(self.y.max()) + 1

    @property
    def multilabel(self) -> bool:
        return self.y.dim() == 2

    def __repr__(self):
        parts = {k: int(v.sum()) for k, v in self.split.items()}
        return (f"ModalityData({self.name!r}, {self.modality}, x={tuple(self.x.shape)}, "
                f"classes={self.num_classes}, split={parts})")


def stratified_masks(y: torch.Tensor, val_fraction: float, seed: int = 0,
                     pool: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the items of ``pool`` (a bool mask; default all) into ``(rest, val)`` bool masks,
    ``val`` holding ``val_fraction`` of every class (at least one item per class that has two),
    drawn with ``seed``. Multi-label ``y`` is stratified by its first active label."""
    check_number("val_fraction", val_fraction, low=0, high=1, low_open=True, high_open=True)
    n = y.size(0)
    pool = torch.ones(n, dtype=torch.bool) if pool is None else pool
    labels = y.argmax(1) if y.dim() == 2 else y
    g = torch.Generator().manual_seed(seed)
    val = torch.zeros(n, dtype=torch.bool)
    for c in labels[pool].unique():
        idx = torch.nonzero(pool & (labels == c)).view(-1)
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        k = int(round(val_fraction * idx.numel()))
        k = max(k, 1) if idx.numel() > 1 else 0
        val[idx[:k]] = True
    return pool & ~val, val
