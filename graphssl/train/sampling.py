r"""Mini-batch training on large graphs: samplers that cut one big graph into small subgraphs.

Three samplers, each a re-iterable with ``__len__`` (batches per epoch) that
:meth:`Trainer.fit <graphssl.train.Trainer.fit>` accepts in place of the graph:

* :class:`NeighborBatches`: GraphSAGE-style neighbour sampling (Hamilton et al., "Inductive
  Representation Learning on Large Graphs", NeurIPS 2017). The seed nodes of a batch, then for
  every hop ``h`` and every node reached at hop ``h - 1`` (and not before) ``min(k_h, degree)``
  of its in-neighbours drawn uniformly without replacement. The batch holds the sampled nodes
  and the sampled edges only (neighbour -> node, PyG's message direction).
* :class:`SubgraphBatches`: GraphSAINT's random-walk sampler (Zeng et al., "GraphSAINT:
  Graph Sampling Based Inductive Learning Method", ICLR 2020). ``num_roots`` uniform random
  roots each walk ``walk_length`` steps; the batch is the subgraph *induced* by every visited
  node (all edges of the graph between them).
* :class:`ClusterBatches`: Cluster-GCN-style batches (Chiang et al., "Cluster-GCN", KDD 2019):
  the nodes are split once into ``num_parts`` parts and each batch is the subgraph induced by
  ``parts_per_batch`` random parts (between-part edges among the chosen parts included, as the
  paper's stochastic multiple partitions). The parts come from :func:`cluster_partition`, a
  cheap partition of ours, **not METIS** (see below), or from any partition you pass.

What the self-supervised losses see
-----------------------------------
A sampled batch is an ordinary PyG ``Data`` graph, so **every method's loss runs on the whole
sampled subgraph**, exactly as it would on a small graph: its two views (edge dropping, feature
masking, ...), its corruption (DGI's feature shuffle), its masked nodes (GraphMAE) and its
negatives (GRACE/InfoNCE) are all made from, and drawn among, the nodes of that subgraph, and
the loss averages over all of them, not over the seed nodes only. Consequences:

* with :class:`NeighborBatches` most nodes of a batch are outer-hop nodes whose own
  neighbourhoods were not sampled (the last hop's nodes have no incoming edges in the batch), so
  their embeddings see fewer neighbours than in the full graph; ``batch_size`` and
  ``seed_mask`` tell the seeds apart should a method want to restrict itself to them;
* contrastive negatives are the other nodes of the batch: GRACE's full InfoNCE is then
  ``O(n_batch^2)`` in time and memory, so the large-graph configurations use sampled
  negatives (``num_negatives``, :class:`~graphssl.objectives.InfoNCE`);
* DGI's summary vector is the mean over the subgraph (the batch is one graph);
* BGRL's EMA schedule counts optimiser steps (``epochs * len(batches)``), as the Trainer
  passes them;
* GraphSAINT's loss normalisation (node/edge sampling-probability weights) is not applied:
  nodes on many walks (high degree) weigh more in the expected loss than under full-batch
  training.

Memory depends on the batch, not the graph
------------------------------------------
Each sampler builds a CSR of the graph once (``O(E)``, like the graph itself). Every tensor of
a batch then has ``O(batch)`` rows: at most ``batch_size * (1 + k_1 + k_1 k_2 + ...)`` nodes for
:class:`NeighborBatches`, ``num_roots * (walk_length + 1)`` nodes for :class:`SubgraphBatches`;
no per-batch buffer of ``N`` entries is allocated (relabelling uses ``unique``/``searchsorted``
on the batch's own ids). Evaluation (``method.embed(data)`` on the full graph) is not sampled.

Determinism
-----------
Each sampler owns its random stream: epoch ``e`` of a sampler with ``seed=s`` draws from a
generator seeded from ``(s, e)``, so the same seed gives the same batches, epochs differ from
each other, and the batches do not depend on (or consume) torch's global RNG or the Trainer's
augmentation generator. Drawing the first batch of an iteration advances the epoch counter
(a bare ``iter()`` does not); :meth:`set_epoch` sets it (e.g. after resuming from a
checkpoint).

Everything is vectorised torch (a Python loop runs over hops, walk steps, or the ``k`` draws
of Floyd's sampling, never over nodes or edges), on the device of ``data``.

Why not PyG's loaders
---------------------
PyG's ``NeighborLoader``, ``ClusterData``/``ClusterLoader`` (METIS) and ``GraphSAINT*Sampler``
need ``pyg-lib`` or ``torch-sparse`` (``torch_geometric.typing.WITH_PYG_LIB``,
``WITH_TORCH_SPARSE``, ``WITH_METIS``), compiled extensions that are often unavailable (CPU-only
wheels, new torch releases). These samplers need neither and always run the code here, even
where those extensions exist: their draws come from a seeded ``torch.Generator`` (``pyg-lib``
uses its own RNG), so batches are reproducible. To use METIS where it is installed, pass its
partition: ``ClusterBatches(data, num_parts, partition=metis_part_ids)``.

:func:`cluster_partition` is not METIS
--------------------------------------
METIS minimises the number of cut edges under a balance constraint (multilevel coarsening and
refinement). :func:`cluster_partition` instead runs a few rounds of synchronous label
propagation (each node takes the most frequent label among itself and its in-neighbours, ties
to the smallest of random initial labels), orders the nodes by their final label, then by their
labels of the earlier rounds, and cuts that order into ``num_parts`` contiguous, equally sized
parts. It is ``O(rounds * E log E)`` and exactly balanced in nodes (not in edges), but it has no
cut objective: on graphs with community structure (meshes, road networks, social circles) its
parts are local, with far fewer cut edges than a random split, while on expander-like graphs
(random graphs, CSBM) it is close to random. More cut edges than METIS means batches lose more
edges (each part's boundary edges are dropped unless both parts are in the batch), so
``parts_per_batch > 1`` matters more than with METIS.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch_geometric.data import Data

from ..checks import check_non_negative_int, check_positive_int
from ..sparse import csr_rows, is_csr

__all__ = ["NeighborBatches", "SubgraphBatches", "ClusterBatches", "cluster_partition",
           "build_sampler", "SAMPLERS"]


# ---- argument checks ------------------------------------------------------------------------

def _check_graph(data) -> int:
    edge_index = getattr(data, "edge_index", None)
    if edge_index is None or not isinstance(edge_index, torch.Tensor) or \
            edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"data must be a graph with edge_index of shape [2, num_edges], got "
                         f"{type(data).__name__} with edge_index "
                         f"{None if edge_index is None else tuple(edge_index.shape)}")
    if getattr(data, "batch", None) is not None:
        raise ValueError("data must be one graph, got a batch of graphs (it has a 'batch' "
                         "vector); sample from each graph, or use a DataLoader over graphs")
    n = data.num_nodes
    if not n:
        raise ValueError("data has no nodes: nothing to sample")
    return int(n)


# ---- random draws ----------------------------------------------------------------------------

def _rand(n: int, generator: torch.Generator, device, dtype=torch.float32) -> torch.Tensor:
    out = torch.rand(n, generator=generator, device=generator.device, dtype=dtype)
    return out.to(device)


def _randperm(n: int, generator: torch.Generator, device) -> torch.Tensor:
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


def _randint(high: int, n: int, generator: torch.Generator, device) -> torch.Tensor:
    return torch.randint(high, (n,), generator=generator, device=generator.device).to(device)


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, epoch)`` (distinct pairs, distinct streams)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919 + 1) % (2 ** 63))


# ---- graph structure -------------------------------------------------------------------------

class _CSR:
    """Compressed rows of ``edge_index`` grouped by ``edge_index[key]``: the neighbours of node
    ``v`` are ``col[rowptr[v]:rowptr[v + 1]]`` and ``eid`` their edge ids in ``edge_index``.
    ``key=1`` groups by target (in-neighbours, PyG's message direction), ``key=0`` by source."""

    def __init__(self, edge_index: torch.Tensor, num_nodes: int, key: int):
        group, other = edge_index[key], edge_index[1 - key]
        self.eid = torch.argsort(group, stable=True)
        self.col = other[self.eid]
        deg = torch.bincount(group, minlength=num_nodes)
        self.rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
        torch.cumsum(deg, 0, out=self.rowptr[1:])
        self.deg = deg
        self.num_nodes = num_nodes

    def segments(self, nodes: torch.Tensor):
        """``(positions, owner)``: the CSR positions of every neighbour of ``nodes`` and the index
        into ``nodes`` each comes from, in node order."""
        start = self.rowptr[nodes]
        counts = self.deg[nodes]
        total = int(counts.sum())
        owner = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), counts,
                                        output_size=total)
        first = torch.cumsum(counts, 0) - counts
        pos = start[owner] + torch.arange(total, device=nodes.device) - first[owner]
        return pos, owner


def _floyd(deg: torch.Tensor, k: int, generator, device) -> torch.Tensor:
    """``[M, k]`` offsets: for each row ``i`` a uniform random ``k``-subset of
    ``range(deg[i])`` (every ``deg[i] > k``), by Floyd's algorithm vectorised over rows
    (``k`` tensor steps, ``O(M k^2)``, independent of the degrees)."""
    m = deg.numel()
    chosen = torch.empty(m, k, dtype=torch.long, device=device)
    for i in range(k):
        j = deg - k + i  # draw t in [0, j]; if already chosen, take j (never chosen yet)
        t = (_rand(m, generator, device, torch.float64) * (j + 1).double()).long()
        t = torch.minimum(t, j)
        if i:
            taken = (chosen[:, :i] == t.unsqueeze(1)).any(1)
            t = torch.where(taken, j, t)
        chosen[:, i] = t
    return chosen


def _ordered_unique(values: torch.Tensor):
    """``(unique values in order of first appearance, index of each value in it)``."""
    uniq, inverse = torch.unique(values, return_inverse=True)
    first = torch.full((uniq.numel(),), values.numel(), dtype=torch.long, device=values.device)
    first.scatter_reduce_(0, inverse, torch.arange(values.numel(), device=values.device),
                          reduce="amin")
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    return uniq[order], rank[inverse]


def _induced_edges(csr: _CSR, nodes: torch.Tensor):
    """Edges of the graph between the sorted, unique ``nodes``: ``(local edge_index, edge
    ids)``, ``O(sum of the nodes' degrees)`` (no buffer of ``N`` entries)."""
    pos, owner = csr.segments(nodes)
    target = csr.col[pos]
    idx = torch.searchsorted(nodes, target).clamp_max_(nodes.numel() - 1)
    hit = nodes[idx] == target
    return torch.stack([owner[hit], idx[hit]]), csr.eid[pos[hit]]


# ---- batches ---------------------------------------------------------------------------------

class _Batches:
    """Shared machinery: node/edge attribute gathering, the epoch counter, ``__len__``."""

    def __init__(self, data, seed: int):
        self.num_nodes = _check_graph(data)
        self.seed = check_non_negative_int("seed", seed)
        self.epoch = 0
        self.data = data
        num_edges = data.edge_index.size(1)
        self._node_keys, self._edge_keys = [], []
        for key, value in data.items():
            if key == "edge_index" or not isinstance(value, torch.Tensor) or value.dim() == 0:
                continue
            if key == "x" or (data.is_node_attr(key) and value.size(0) == self.num_nodes):
                self._node_keys.append(key)
            elif data.is_edge_attr(key) and value.size(0) == num_edges:
                self._edge_keys.append(key)

    def set_epoch(self, epoch: int) -> None:
        """The next ``__iter__`` yields epoch ``epoch``'s batches."""
        self.epoch = check_non_negative_int("epoch", epoch)

    def __iter__(self):
        # a generator: the epoch is taken when the first batch is drawn, so a bare iter() (as
        # Trainer.fit's one-shot-iterator check) does not use one up
        generator = _epoch_generator(self.seed, self.epoch)
        self.epoch += 1
        yield from self._epoch(generator)

    def _epoch(self, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def _make(self, n_id: torch.Tensor, edge_index: torch.Tensor, e_id: torch.Tensor,
              **extra) -> Data:
        out = Data(edge_index=edge_index, n_id=n_id, e_id=e_id, num_nodes=n_id.numel(), **extra)
        for key in self._node_keys:
            value = self.data[key]
            # index_select: several times faster than value[n_id] for wide rows on CPU
            out[key] = csr_rows(value, n_id) if is_csr(value) else value.index_select(0, n_id)
        for key in self._edge_keys:
            out[key] = self.data[key].index_select(0, e_id)
        return out

    def __repr__(self):
        return f"{type(self).__name__}({self._args()}, {len(self)} batches per epoch)"


class NeighborBatches(_Batches):
    r"""GraphSAGE-style neighbour-sampled mini-batches of one graph.

    Every epoch splits the seed nodes (``input_nodes``, default all nodes; shuffled when
    ``shuffle``) into batches of ``batch_size``; for each batch, hop ``h`` keeps, for every node
    first reached at hop ``h - 1`` (the seeds for ``h = 1``), ``min(k_h, in-degree)`` of its
    in-neighbours drawn uniformly without replacement (all of them where ``k_h = -1``), as
    PyG's ``NeighborLoader``. Nodes reached again are not re-expanded.

    Each batch is a :class:`~torch_geometric.data.Data` with

    * ``edge_index``: the sampled edges (neighbour -> node), relabelled to batch ids;
    * ``x``, ``y`` and every other node attribute of the sampled nodes only; edge attributes of
      the sampled edges;
    * ``n_id`` (global node ids; the seeds first, then each hop's new nodes in order) and
      ``e_id`` (ids of the sampled edges in ``data.edge_index``);
    * ``batch_size`` (number of seeds, PyG's convention: they are nodes ``0..batch_size-1``),
      ``seed_mask`` (``[n] bool``, True for the seeds);
    * ``num_sampled_nodes`` / ``num_sampled_edges``: lists, per hop (nodes: seeds first).

    See the module documentation for what the SSL losses see and for memory.

    Args:
        data: one graph (``edge_index``, usually ``x``); it is not modified.
        num_neighbors: fan-out per hop, e.g. ``(10, 10)``; positive integers, or ``-1`` for all
            neighbours.
        batch_size: seed nodes per batch (the last batch may be smaller).
        shuffle: reshuffle the seeds every epoch.
        seed: the sampler's own random stream (see "Determinism" in the module documentation).
        input_nodes: the seed nodes (ids or a boolean mask); default all nodes.

    Example:
        >>> batches = NeighborBatches(data, num_neighbors=(10, 10), batch_size=1024, seed=0)
        >>> Trainer(epochs=5).fit(BGRL.from_config(data.num_features), batches)
        >>> z = method.embed(data)  # evaluation on the full graph
    """

    def __init__(self, data, num_neighbors=(10, 10), batch_size: int = 1024,
                 shuffle: bool = True, seed: int = 0, input_nodes=None):
        super().__init__(data, seed)
        if isinstance(num_neighbors, (str, bytes)) or not hasattr(num_neighbors, "__iter__"):
            raise ValueError(f"num_neighbors must be a sequence of fan-outs per hop (positive "
                             f"integers or -1), got {num_neighbors!r}")
        fanouts = list(num_neighbors)
        if not fanouts or any(isinstance(k, bool) or not isinstance(k, numbers.Integral)
                              or not (k >= 1 or k == -1) for k in fanouts):
            raise ValueError(f"num_neighbors must be a non-empty sequence of fan-outs per hop "
                             f"(positive integers, or -1 for all neighbours), got "
                             f"{num_neighbors!r}")
        self.num_neighbors = tuple(int(k) for k in fanouts)
        self.batch_size = check_positive_int("batch_size", batch_size)
        if not isinstance(shuffle, bool):
            raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = shuffle
        device = data.edge_index.device
        if input_nodes is None:
            self.input_nodes = torch.arange(self.num_nodes, device=device)
        else:
            nodes = torch.as_tensor(input_nodes, device=device)
            if nodes.dtype == torch.bool:
                if nodes.shape != (self.num_nodes,):
                    raise ValueError(f"input_nodes as a mask must have shape "
                                     f"({self.num_nodes},), got {tuple(nodes.shape)}")
                nodes = nodes.nonzero().view(-1)
            if nodes.dim() != 1 or nodes.is_floating_point() or nodes.numel() == 0 or \
                    int(nodes.min()) < 0 or int(nodes.max()) >= self.num_nodes:
                raise ValueError(f"input_nodes must be a non-empty 1-D set of node ids in "
                                 f"[0, {self.num_nodes}) or a boolean mask, got {input_nodes!r}")
            self.input_nodes = nodes.long()
        self.csr = _CSR(data.edge_index, self.num_nodes, key=1)  # in-neighbours

    def _args(self):
        return (f"num_neighbors={self.num_neighbors}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}")

    def __len__(self):
        return math.ceil(self.input_nodes.numel() / self.batch_size)

    def _epoch(self, generator):
        nodes = self.input_nodes
        if self.shuffle:
            nodes = nodes[_randperm(nodes.numel(), generator, nodes.device)]
        for start in range(0, nodes.numel(), self.batch_size):
            yield self.sample(nodes[start:start + self.batch_size], generator)

    def sample(self, seeds: torch.Tensor, generator: torch.Generator | None = None) -> Data:
        """The batch grown from ``seeds`` (distinct global ids), drawing from ``generator``
        (default: a fresh one seeded with the sampler's ``seed``)."""
        if generator is None:
            generator = _epoch_generator(self.seed, 0)
        device = self.csr.col.device
        n_id = torch.as_tensor(seeds, device=device).long().view(-1)
        if n_id.unique().numel() != n_id.numel():
            raise ValueError("seeds must be distinct node ids")
        num_seeds = n_id.numel()
        frontier_start, rows, cols, eids = 0, [], [], []
        num_nodes, num_edges = [num_seeds], []
        for k in self.num_neighbors:
            frontier = n_id[frontier_start:]
            pos, owner = self._sample_hop(frontier, k, generator)
            n_before = n_id.numel()
            n_id, local = _ordered_unique(torch.cat([n_id, self.csr.col[pos]]))
            rows.append(local[n_before:])
            cols.append(owner + frontier_start)
            eids.append(self.csr.eid[pos])
            num_nodes.append(n_id.numel() - n_before)
            num_edges.append(pos.numel())
            frontier_start = n_before
        seed_mask = torch.zeros(n_id.numel(), dtype=torch.bool, device=device)
        seed_mask[:num_seeds] = True
        return self._make(n_id, torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(eids),
                          batch_size=num_seeds, seed_mask=seed_mask,
                          num_sampled_nodes=num_nodes, num_sampled_edges=num_edges)

    def _sample_hop(self, frontier: torch.Tensor, k: int, generator):
        """``(CSR positions, index into frontier)`` of the sampled in-edges of ``frontier``."""
        deg = self.csr.deg[frontier]
        if k < 0:
            return self.csr.segments(frontier)
        small = deg <= k
        pos_all, owner_all = self.csr.segments(frontier[small])
        owner_all = small.nonzero().view(-1)[owner_all]
        big = (~small).nonzero().view(-1)
        if big.numel() == 0:
            return pos_all, owner_all
        offsets = _floyd(deg[big], k, generator, frontier.device)
        pos_big = (self.csr.rowptr[frontier[big]].unsqueeze(1) + offsets).view(-1)
        owner_big = big.repeat_interleave(k)
        return torch.cat([pos_all, pos_big]), torch.cat([owner_all, owner_big])


def _random_walk_visits(csr: _CSR, roots: torch.Tensor, walk_length: int, generator):
    """Every node visited by uniform random walks of ``walk_length`` steps from ``roots`` (the
    roots included), one tensor step per hop for all walks together; a walk at a node without
    out-edges stays there. The same walk as :class:`~graphssl.augment.Subgraph`'s
    ``random_walk``, on a CSR built once instead of per call."""
    current, visited = roots, [roots]
    for _ in range(walk_length):
        d = csr.deg[current]
        step = (_rand(current.numel(), generator, current.device, torch.float64)
                * d.double()).long()
        moved = d > 0  # a walk at a node without out-edges stays there
        if not csr.col.numel():
            break
        pos = torch.where(moved, csr.rowptr[current] + torch.minimum(step, d - 1), 0)
        current = torch.where(moved, csr.col[pos], current)
        visited.append(current)
    return torch.unique(torch.cat(visited))


class SubgraphBatches(_Batches):
    r"""GraphSAINT-style random-walk subgraph batches.

    Each batch draws ``num_roots`` roots uniformly at random (with replacement, as GraphSAINT),
    walks ``walk_length`` uniform steps along out-edges from each (all walks advance together;
    a walk at a node without out-edges stays there), and returns the subgraph **induced** by all
    visited nodes: every edge of ``data`` between two of them, with its attributes.

    A batch has ``x``/``y``/node attributes of its nodes, ``edge_index`` (relabelled),
    ``n_id`` (global ids, sorted) and ``e_id``. It has no seeds (no ``batch_size``).
    GraphSAINT's normalisation coefficients are not computed (see the module documentation).

    Args:
        data: one graph.
        num_roots: walks (roots) per batch.
        walk_length: steps per walk (0: the batch is the roots' induced subgraph).
        num_steps: batches per epoch; default ``ceil(N / (num_roots * (walk_length + 1)))``,
            so that an epoch visits about as many nodes as the graph has.
        seed: the sampler's own random stream.

    Example:
        >>> batches = SubgraphBatches(data, num_roots=2000, walk_length=2)
        >>> Trainer(epochs=5).fit(GRACE.from_config(data.num_features, num_negatives=1024),
        ...                       batches)
    """

    def __init__(self, data, num_roots: int = 1000, walk_length: int = 2,
                 num_steps: int | None = None, seed: int = 0):
        super().__init__(data, seed)
        self.num_roots = check_positive_int("num_roots", num_roots)
        self.walk_length = check_non_negative_int("walk_length", walk_length)
        self.num_steps = (math.ceil(self.num_nodes / (self.num_roots * (self.walk_length + 1)))
                          if num_steps is None else check_positive_int("num_steps", num_steps))
        self.csr = _CSR(data.edge_index, self.num_nodes, key=0)  # out-edges

    def _args(self):
        return (f"num_roots={self.num_roots}, walk_length={self.walk_length}, "
                f"num_steps={self.num_steps}, seed={self.seed}")

    def __len__(self):
        return self.num_steps

    def _epoch(self, generator):
        for _ in range(self.num_steps):
            yield self.sample(generator)

    def sample(self, generator: torch.Generator | None = None) -> Data:
        if generator is None:
            generator = _epoch_generator(self.seed, 0)
        device = self.csr.col.device
        roots = _randint(self.num_nodes, self.num_roots, generator, device)
        nodes = _random_walk_visits(self.csr, roots, self.walk_length, generator)
        edge_index, e_id = _induced_edges(self.csr, nodes)
        return self._make(nodes, edge_index, e_id)


def cluster_partition(edge_index: torch.Tensor, num_nodes: int, num_parts: int,
                      rounds: int = 5, seed: int = 0) -> torch.Tensor:
    """Part id (``[num_nodes]``, in ``[0, num_parts)``) of every node: label propagation, then
    the nodes ordered by label and cut into ``num_parts`` contiguous, equally sized parts
    (sizes differ by at most one). Not METIS: see the module documentation.

    Each of the ``rounds`` synchronous rounds gives every node the label most frequent among
    itself and its in-neighbours (ties: the smallest label; the initial labels are a random
    permutation drawn from ``seed``, so ties break at random). Nodes are ordered by their last
    label, then by their labels of the earlier rounds (later rounds first), so that a large
    final community is cut along the finer communities of earlier rounds.
    """
    num_nodes = check_positive_int("num_nodes", num_nodes)
    num_parts = check_positive_int("num_parts", num_parts)
    if num_parts > num_nodes:
        raise ValueError(f"num_parts must be at most the number of nodes ({num_nodes}), got "
                         f"{num_parts}")
    check_non_negative_int("rounds", rounds)
    device = edge_index.device
    generator = torch.Generator().manual_seed(check_non_negative_int("seed", seed))
    labels = _randperm(num_nodes, generator, device)
    history = [labels]
    loops = torch.arange(num_nodes, device=device)
    src = torch.cat([edge_index[0], loops])
    dst = torch.cat([edge_index[1], loops])
    for _ in range(rounds):
        keys, counts = torch.unique(dst * num_nodes + labels[src], return_counts=True)
        node, label = keys // num_nodes, keys % num_nodes
        best = torch.zeros(num_nodes, dtype=counts.dtype, device=device)
        best.scatter_reduce_(0, node, counts, reduce="amax")
        top = counts == best[node]
        new = torch.full((num_nodes,), num_nodes, dtype=torch.long, device=device)
        new.scatter_reduce_(0, node[top], label[top], reduce="amin")
        labels = new
        history.append(labels)
    order = torch.arange(num_nodes, device=device)
    for level in history:  # least significant first; the last (final) label is the primary key
        order = order[torch.argsort(level[order], stable=True)]
    part = torch.empty(num_nodes, dtype=torch.long, device=device)
    part[order] = torch.arange(num_nodes, device=device) * num_parts // num_nodes
    return part


class ClusterBatches(_Batches):
    r"""Cluster-GCN-style batches: the subgraph induced by ``parts_per_batch`` random parts.

    The nodes are partitioned once into ``num_parts`` parts (:func:`cluster_partition`, or
    ``partition``); every epoch shuffles the parts (when ``shuffle``) and groups them
    ``parts_per_batch`` at a time; a batch is the subgraph induced by the union of its parts
    (edges between two chosen parts included). A batch has ``x``/``y``/node attributes,
    ``edge_index``, ``n_id`` (sorted global ids) and ``e_id``.

    Args:
        data: one graph.
        num_parts: number of parts.
        parts_per_batch: parts per batch (the last batch may have fewer).
        shuffle: reshuffle the parts every epoch.
        seed: the sampler's own random stream (the partition uses it too).
        partition: a ``[N]`` tensor of part ids in ``[0, num_parts)`` (e.g. from METIS where it
            is installed) instead of :func:`cluster_partition`.
        rounds: label-propagation rounds of :func:`cluster_partition`.

    Attributes:
        partition: the ``[N]`` part ids used.
    """

    def __init__(self, data, num_parts: int, parts_per_batch: int = 1, shuffle: bool = True,
                 seed: int = 0, partition: torch.Tensor | None = None, rounds: int = 5):
        super().__init__(data, seed)
        self.num_parts = check_positive_int("num_parts", num_parts)
        self.parts_per_batch = check_positive_int("parts_per_batch", parts_per_batch)
        if self.parts_per_batch > self.num_parts:
            raise ValueError(f"parts_per_batch must be at most num_parts ({self.num_parts}), "
                             f"got {parts_per_batch!r}")
        if not isinstance(shuffle, bool):
            raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = shuffle
        device = data.edge_index.device
        if partition is None:
            partition = cluster_partition(data.edge_index, self.num_nodes, self.num_parts,
                                          rounds=rounds, seed=self.seed)
        else:
            partition = torch.as_tensor(partition, device=device)
            if partition.shape != (self.num_nodes,) or partition.is_floating_point() or \
                    partition.dtype == torch.bool or int(partition.min()) < 0 or \
                    int(partition.max()) >= self.num_parts:
                raise ValueError(f"partition must be a [{self.num_nodes}] integer tensor of part "
                                 f"ids in [0, {self.num_parts}), got {partition!r}")
            partition = partition.long()
        self.partition = partition
        self._order = torch.argsort(partition, stable=True)  # node ids grouped by part
        sizes = torch.bincount(partition, minlength=self.num_parts)
        self._ptr = torch.zeros(self.num_parts + 1, dtype=torch.long, device=device)
        torch.cumsum(sizes, 0, out=self._ptr[1:])
        self.csr = _CSR(data.edge_index, self.num_nodes, key=0)

    def _args(self):
        return (f"num_parts={self.num_parts}, parts_per_batch={self.parts_per_batch}, "
                f"shuffle={self.shuffle}, seed={self.seed}")

    def __len__(self):
        return math.ceil(self.num_parts / self.parts_per_batch)

    def _epoch(self, generator):
        parts = (_randperm(self.num_parts, generator, self._ptr.device) if self.shuffle
                 else torch.arange(self.num_parts, device=self._ptr.device))
        for start in range(0, self.num_parts, self.parts_per_batch):
            yield self.batch_of(parts[start:start + self.parts_per_batch])

    def batch_of(self, parts: torch.Tensor) -> Data:
        """The subgraph induced by the nodes of ``parts`` (part ids)."""
        parts = torch.as_tensor(parts, device=self._ptr.device).long().view(-1)
        begin, end = self._ptr[parts], self._ptr[parts + 1]
        counts = end - begin
        total = int(counts.sum())
        owner = torch.repeat_interleave(torch.arange(parts.numel(), device=parts.device), counts,
                                        output_size=total)
        first = torch.cumsum(counts, 0) - counts
        idx = begin[owner] + torch.arange(total, device=parts.device) - first[owner]
        nodes = torch.sort(self._order[idx]).values
        edge_index, e_id = _induced_edges(self.csr, nodes)
        return self._make(nodes, edge_index, e_id)


SAMPLERS = {"neighbor": NeighborBatches, "saint": SubgraphBatches, "cluster": ClusterBatches}
_ALIASES = {"neighbour": "neighbor", "graphsage": "neighbor", "sage": "neighbor",
            "graphsaint": "saint", "random_walk": "saint", "subgraph": "saint",
            "cluster_gcn": "cluster", "cluster-gcn": "cluster"}


def build_sampler(data, spec, seed: int = 0):
    """A sampler from configuration: a name (``'neighbor'``, ``'saint'``, ``'cluster'``) or a
    dict ``{'type': name, **options}``, e.g. ``{'type': 'neighbor', 'num_neighbors': [10, 10],
    'batch_size': 1024}``; ``seed`` is used unless the dict sets one. ``'cluster'`` needs
    ``num_parts`` (default: one part per 1,000 nodes, at least 2, with 1 part per batch)."""
    if isinstance(spec, str):
        options, kind = {}, spec
    elif isinstance(spec, dict):
        options = dict(spec)
        kind = options.pop("type", None)
        if kind is None:
            raise ValueError(f"a sampler dict needs a 'type' ({', '.join(SAMPLERS)}), got {spec!r}")
    else:
        raise ValueError(f"sampler must be a name ({', '.join(SAMPLERS)}) or a dict with a "
                         f"'type', got {spec!r}")
    name = _ALIASES.get(str(kind).lower(), str(kind).lower())
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {kind!r}; choose one of {', '.join(SAMPLERS)}")
    options.setdefault("seed", seed)
    if name == "cluster" and "num_parts" not in options:
        options["num_parts"] = max(2, min(data.num_nodes, round(data.num_nodes / 1000)))
    try:
        return SAMPLERS[name](data, **options)
    except TypeError as err:  # an unknown option
        raise ValueError(f"sampler {name!r}: {err}") from err
