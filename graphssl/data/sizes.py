"""The size of a dataset's largest graph, read from its storage where it can be (an in-memory
dataset's slice offsets) rather than by reading every graph."""
from __future__ import annotations

from torch.utils.data import ConcatDataset
from torch_geometric.data import InMemoryDataset


def largest_graph(dataset) -> int:
    """The number of nodes of the largest graph in ``dataset``, as stored (before the
    dataset's ``transform``).

    An ``InMemoryDataset`` (or a view of one, ``dataset[idx]``) with node features is answered
    from its slice offsets without building a graph, so a collection of millions of molecules
    costs one vector operation; a ``ConcatDataset`` is the largest of its parts; any other
    sequence of graphs is read graph by graph.

    Example::

        >>> largest_graph(TUDataset(root, "MUTAG"))
        28
    """
    if isinstance(dataset, ConcatDataset):
        return max((largest_graph(part) for part in dataset.datasets), default=0)
    slices = getattr(dataset, "slices", None) if isinstance(dataset, InMemoryDataset) else None
    if slices is not None and "x" in slices:
        offsets = slices["x"]
        counts = offsets[1:] - offsets[:-1]
        return int(counts[list(dataset.indices())].max()) if len(dataset) else 0
    return max((int(graph.num_nodes) for graph in dataset), default=0)
