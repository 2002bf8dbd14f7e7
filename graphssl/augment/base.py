"""The augmentation contract: a small callable, graph in, new graph out.

* the input is never modified (tensors are replaced, not written into);
* randomness comes only from the ``generator`` argument (or torch's global RNG when it is
  ``None``), so a seeded generator gives the same view every time;
* batched graphs (a PyG ``Batch`` with a ``batch`` vector) are handled in one vectorised pass,
  each graph getting its own random draw where that matters.
"""
from __future__ import annotations

import copy
import inspect

import torch

from ..sparse import csr_rows, is_csr


class Augmentation:
    """Base class: subclasses implement ``forward(data, generator)`` returning a new graph.

    ``__repr__`` shows the constructor arguments, read back from attributes of the same name.
    """

    def __call__(self, data, generator: torch.Generator | None = None):
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got "
                            f"{type(generator).__name__}")
        return self.forward(data, generator)

    def forward(self, data, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def check_graph_size(self, num_nodes: int) -> None:
        """Raise a ``ValueError`` naming the limit and the alternative if a graph of
        ``num_nodes`` nodes is beyond what this augmentation can build a view of, so that a
        runner can refuse a dataset before training on it. Any size is fine by default."""

    def __repr__(self):
        params = inspect.signature(type(self).__init__).parameters
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in params
                         if n != "self" and hasattr(self, n))
        return f"{type(self).__name__}({args})"


# ---- helpers shared by the graph augmentations -------------------------------------------

def rand(n, generator, device) -> torch.Tensor:
    """Uniform [0, 1) numbers of shape ``n`` on ``device``, drawn from ``generator`` (which may
    live on another device: a CPU generator can drive a CUDA graph)."""
    if generator is not None and generator.device != torch.device(device):
        return torch.rand(n, generator=generator, device=generator.device).to(device)
    return torch.rand(n, generator=generator, device=device)


def randperm(n: int, generator, device) -> torch.Tensor:
    if generator is not None and generator.device != torch.device(device):
        return torch.randperm(n, generator=generator, device=generator.device).to(device)
    return torch.randperm(n, generator=generator, device=device)


def shallow_copy(data):
    """A new ``Data``/``Batch`` sharing tensors with ``data``: assigning to it never touches the
    input."""
    return copy.copy(data)


def graph_index(data) -> tuple[torch.Tensor | None, int]:
    """``(batch vector or None, number of graphs)``."""
    batch = getattr(data, "batch", None)
    if batch is None:
        return None, 1
    num_graphs = getattr(data, "num_graphs", None) or (int(batch.max()) + 1 if batch.numel() else 1)
    return batch, int(num_graphs)


def one_per_graph(scores: torch.Tensor, batch, num_graphs: int) -> torch.Tensor:
    """Boolean mask selecting, in each graph, the node with the highest score."""
    if batch is None:
        mask = torch.zeros_like(scores, dtype=torch.bool)
        if scores.numel():
            mask[scores.argmax()] = True
        return mask
    best = torch.full((num_graphs,), -1.0, device=scores.device)
    best = best.scatter_reduce(0, batch, scores, reduce="amax")
    return scores == best[batch]


def keep_nodes(data, keep: torch.Tensor):
    """The subgraph induced by the boolean node mask ``keep`` (node ids relabelled, node- and
    edge-level attributes subset, ``ptr`` recomputed for batches)."""
    x = getattr(data, "x", None)
    if is_csr(x):  # PyG's subgraph cannot index CSR rows: gather them here
        data = shallow_copy(data)
        data.num_nodes = x.size(0)
        del data.x
        out = data.subgraph(keep)
        out.x = csr_rows(x, keep)
    else:
        out = data.subgraph(keep)
    if getattr(data, "ptr", None) is not None and getattr(out, "batch", None) is not None:
        _, num_graphs = graph_index(data)
        counts = torch.bincount(out.batch, minlength=num_graphs)
        out.ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return out


def keep_edges(data, keep: torch.Tensor):
    """A copy of ``data`` with only the edges where ``keep`` is True (edge attributes too)."""
    out = shallow_copy(data)
    num_edges = data.edge_index.size(1)
    for key, value in data.items():
        if key == "edge_index":
            out.edge_index = value[:, keep]
        elif isinstance(value, torch.Tensor) and value.dim() > 0 and data.is_edge_attr(key) \
                and value.size(0) == num_edges:
            out[key] = value[keep]
    return out
