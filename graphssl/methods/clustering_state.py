"""What DEC and Dink-Net share: a step counter that drives their phase schedule, and the check
that a graph has at least as many nodes as clusters."""
from __future__ import annotations


class StepCountedClustering:
    """Mixin for clustering methods with a ``steps_done`` buffer and ``num_clusters``."""

    def after_step(self, step: int, total_steps: int) -> None:
        """Record that ``step`` optimiser steps are done (the warm-up / phase schedule)."""
        self.steps_done.fill_(int(step))

    def _check_num_nodes(self, num_nodes: int) -> None:
        if num_nodes < self.num_clusters:
            raise ValueError(f"num_clusters={self.num_clusters} is larger than the number of "
                             f"nodes ({num_nodes}): lower num_clusters")
