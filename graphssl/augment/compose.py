from __future__ import annotations

import torch

from .base import Augmentation


class Identity(Augmentation):
    """Return the graph unchanged (a view that is the input)."""

    def forward(self, data, generator):
        return data


class Compose(Augmentation):
    """Apply augmentations in order, sharing one generator."""

    def __init__(self, augmentations):
        self.augmentations = _check_list("augmentations", augmentations)

    def forward(self, data, generator):
        for aug in self.augmentations:
            data = apply(aug, data, generator)
        return data

    def check_graph_size(self, num_nodes: int) -> None:
        check_graph_size(self.augmentations, num_nodes)

    def __repr__(self):
        inner = ", ".join(repr(a) for a in self.augmentations)
        return f"Compose([{inner}])"


class RandomChoice(Augmentation):
    """Apply ``num_choices`` augmentations drawn without replacement (GraphCL's random
    augmentation pool). One draw per call: every graph of a batch gets the same choice."""

    def __init__(self, augmentations, num_choices: int = 1):
        self.augmentations = _check_list("augmentations", augmentations)
        if not isinstance(num_choices, int) or not 1 <= num_choices <= len(self.augmentations):
            raise ValueError(f"num_choices must be an integer in [1, {len(self.augmentations)}], "
                             f"got {num_choices!r}")
        self.num_choices = num_choices

    def forward(self, data, generator):
        order = torch.randperm(len(self.augmentations), generator=generator)[:self.num_choices]
        for i in sorted(order.tolist()):
            data = apply(self.augmentations[i], data, generator)
        return data

    def check_graph_size(self, num_nodes: int) -> None:  # any of them may be drawn
        check_graph_size(self.augmentations, num_nodes)

    def __repr__(self):
        inner = ", ".join(repr(a) for a in self.augmentations)
        return f"RandomChoice([{inner}], num_choices={self.num_choices})"


def check_graph_size(augmentations, num_nodes: int) -> None:
    """:meth:`Augmentation.check_graph_size` of each of ``augmentations`` (plain callables
    have no limit to check)."""
    for aug in augmentations:
        if isinstance(aug, Augmentation):
            aug.check_graph_size(num_nodes)


def _check_list(name, augmentations):
    augmentations = list(augmentations)
    if not augmentations:
        raise ValueError(f"{name} must not be empty")
    for aug in augmentations:
        if not callable(aug):
            raise TypeError(f"{name} must hold callables (graph -> graph), got "
                            f"{type(aug).__name__}")
    return augmentations


def apply(aug, data, generator):
    """Call a graphssl augmentation with the generator, or any other transform (a PyG
    ``BaseTransform``, a function) with the graph alone."""
    return aug(data, generator) if isinstance(aug, Augmentation) else aug(data)
