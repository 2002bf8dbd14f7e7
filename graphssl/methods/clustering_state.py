"""What DEC and Dink-Net share: a step counter that drives their phase schedule, the check
that a graph has at least as many nodes as clusters, and the late initialisation of their
centres."""
from __future__ import annotations

import warnings

import torch


class StepCountedClustering:
    """Mixin for clustering methods with ``steps_done`` and ``centers_initialized`` buffers,
    ``num_clusters`` and ``init_centers(data, generator)``."""

    def after_step(self, step: int, total_steps: int) -> None:
        """Record that ``step`` optimiser steps are done (the warm-up / phase schedule)."""
        self.steps_done.fill_(int(step))

    def _check_num_nodes(self, num_nodes: int) -> None:
        if num_nodes < self.num_clusters:
            raise ValueError(f"num_clusters={self.num_clusters} is larger than the number of "
                             f"nodes ({num_nodes}): lower num_clusters")

    def _ensure_centers(self, data, phase: str, length: int) -> None:
        """If training stopped before the first clustering step (the end of ``phase``, ``length``
        steps), initialise the centres now by k-means on ``data`` (seed 0), with a warning."""
        if not bool(self.centers_initialized):
            warnings.warn(f"{type(self).__name__} stopped before its first clustering step "
                          f"(after {int(self.steps_done)} steps, {phase}={length}): its centres "
                          f"are initialised now by k-means on these embeddings", stacklevel=3)
            self.init_centers(data, torch.Generator().manual_seed(0))
