"""Mini-batch samplers (graphssl.train.sampling) and the large synthetic graph generator."""
import json

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, is_undirected

from graphssl.cli import main
from graphssl.data.synthetic import csbm_graph, random_graph
from graphssl.methods import BGRL, DGI, GRACE, GraphMAE
from graphssl.train import (ClusterBatches, NeighborBatches, SubgraphBatches, Trainer,
                            build_sampler, cluster_partition)


@pytest.fixture(scope="module")
def graph():
    # directed edges too (not only CSBM's undirected ones): in- and out-degrees differ
    data = csbm_graph(400, num_classes=4, num_features=16, avg_degree=8, seed=1)
    extra = torch.randint(400, (2, 300), generator=torch.Generator().manual_seed(3))
    edge_index = coalesce(torch.cat([data.edge_index, extra], 1), num_nodes=400)
    data.edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    data.edge_weight = torch.rand(data.edge_index.size(1))
    return data


def edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def in_degree(data):
    return torch.bincount(data.edge_index[1], minlength=data.num_nodes)


def global_edges(batch):
    return batch.n_id[batch.edge_index]


def same_batches(a, b):
    return all(torch.equal(x.n_id, y.n_id) and torch.equal(x.edge_index, y.edge_index)
               for x, y in zip(a, b))


# ---- NeighborBatches ----------------------------------------------------------------------

def test_neighbor_batches_edges_exist_and_attributes_follow(graph):
    batches = NeighborBatches(graph, num_neighbors=(4, 3), batch_size=50, seed=0)
    original = edge_set(graph.edge_index)
    for batch in batches:
        edges = global_edges(batch)
        assert edge_set(edges) <= original
        assert torch.equal(graph.edge_index[:, batch.e_id], edges)  # e_id names them
        assert batch.e_id.unique().numel() == batch.e_id.numel()  # no edge drawn twice
        assert torch.equal(batch.x, graph.x[batch.n_id]) and torch.equal(batch.y,
                                                                         graph.y[batch.n_id])
        assert torch.equal(batch.edge_weight, graph.edge_weight[batch.e_id])
        assert batch.n_id.unique().numel() == batch.num_nodes == batch.x.size(0)


def test_neighbor_batches_respect_hops_and_fanout(graph):
    fanouts = (4, 3, 2)
    batches = NeighborBatches(graph, num_neighbors=fanouts, batch_size=30, seed=5)
    deg = in_degree(graph)
    src, dst = graph.edge_index
    for batch in batches:
        # the nodes new at hop h are within (in-edge) distance h of the seeds, and each is the
        # source of one of hop h's edges
        seeds = batch.n_id[:batch.batch_size]
        reach = torch.zeros(graph.num_nodes, dtype=torch.bool)
        reach[seeds] = True
        bounds = torch.tensor(batch.num_sampled_nodes).cumsum(0)
        assert bounds[-1] == batch.num_nodes
        edge_bounds = [0] + torch.tensor(batch.num_sampled_edges).cumsum(0).tolist()
        for hop in range(len(fanouts)):
            new = torch.arange(bounds[hop], bounds[hop + 1])
            reach[src[reach[dst]]] = True
            assert reach[batch.n_id[new]].all()
            sources = batch.edge_index[0, edge_bounds[hop]:edge_bounds[hop + 1]]
            assert torch.isin(new, sources).all()
        # hop h: every node first reached at hop h - 1 keeps exactly min(k_h, in-degree) edges
        node_bounds = [0] + bounds.tolist()
        for hop, k in enumerate(fanouts):
            targets = batch.edge_index[1, edge_bounds[hop]:edge_bounds[hop + 1]]
            frontier = torch.arange(node_bounds[hop], node_bounds[hop + 1])
            counts = torch.bincount(targets, minlength=batch.num_nodes)
            expected = deg[batch.n_id[frontier]].clamp(max=k)
            assert torch.equal(counts[frontier], expected)
            assert counts.sum() == expected.sum()  # and no other node was expanded


def test_neighbor_batches_all_neighbours_with_minus_one(graph):
    batch = NeighborBatches(graph, num_neighbors=(-1,), batch_size=20, seed=0).sample(
        torch.arange(20))
    deg = in_degree(graph)
    assert batch.num_edges == int(deg[:20].sum())


def test_neighbor_batches_seeds_first_and_cover_every_node_once(graph):
    batches = NeighborBatches(graph, num_neighbors=(3,), batch_size=64, seed=0)
    assert len(batches) == 7  # ceil(400 / 64)
    seeds = []
    for batch in batches:
        assert batch.seed_mask.sum() == batch.batch_size == batch.num_sampled_nodes[0]
        assert batch.seed_mask[:batch.batch_size].all()
        seeds.append(batch.n_id[:batch.batch_size])
    seeds = torch.cat(seeds)
    assert [len(s) for s in [seeds]] == [400] and torch.equal(seeds.sort().values,
                                                             torch.arange(400))
    assert not torch.equal(seeds, torch.arange(400))  # shuffled
    fixed = NeighborBatches(graph, num_neighbors=(3,), batch_size=64, shuffle=False)
    assert torch.equal(next(iter(fixed)).n_id[:64], torch.arange(64))
    subset = NeighborBatches(graph, num_neighbors=(3,), batch_size=10,
                             input_nodes=torch.arange(400) < 25)
    assert len(subset) == 3 and sorted(torch.cat([b.n_id[:b.batch_size] for b in subset])
                                       .tolist()) == list(range(25))


def test_neighbor_batches_are_reproducible_and_epochs_differ(graph):
    a = NeighborBatches(graph, num_neighbors=(5, 5), batch_size=100, seed=7)
    b = NeighborBatches(graph, num_neighbors=(5, 5), batch_size=100, seed=7)
    first_a, first_b = list(a), list(b)
    assert same_batches(first_a, first_b)
    second_a = list(a)
    assert not same_batches(first_a, second_a)  # epoch 2 reshuffles and redraws
    a.set_epoch(0)
    assert same_batches(list(a), first_a)
    a.set_epoch(0)
    iter(a)  # an iteration that draws nothing (Trainer.fit's check) uses no epoch up
    assert a.epoch == 0
    other = list(NeighborBatches(graph, num_neighbors=(5, 5), batch_size=100, seed=8))
    assert not same_batches(first_a, other)
    # the sampler has its own stream: torch's global RNG neither drives nor is consumed by it
    state = torch.get_rng_state()
    a.set_epoch(0)
    torch.manual_seed(123)
    assert same_batches(list(a), first_a)
    torch.set_rng_state(state)


def test_neighbor_sampling_is_uniform_without_replacement():
    # a star: node 0 receives edges from 1..10; draw 3 of them many times
    edge_index = torch.stack([torch.arange(1, 11), torch.zeros(10, dtype=torch.long)])
    data = Data(x=torch.randn(11, 2), edge_index=edge_index)
    batches = NeighborBatches(data, num_neighbors=(3,), batch_size=1,
                              input_nodes=torch.tensor([0]))
    counts = torch.zeros(11)
    for epoch in range(2000):
        batch = next(iter(batches))
        picked = batch.n_id[1:]
        assert picked.numel() == 3 and picked.unique().numel() == 3
        counts[picked] += 1
    share = counts[1:] / 2000  # each neighbour: 3/10
    assert (share - 0.3).abs().max() < 0.05


def test_neighbor_batches_gather_sparse_csr_features(graph):
    data = graph.clone()
    data.x = (data.x > 1.5).float().to_sparse_csr()
    batch = next(iter(NeighborBatches(data, num_neighbors=(3,), batch_size=40)))
    assert batch.x.layout == torch.sparse_csr
    assert torch.equal(batch.x.to_dense(), data.x.to_dense()[batch.n_id])


# ---- SubgraphBatches (GraphSAINT) and ClusterBatches (Cluster-GCN) ------------------------

def test_saint_batches_are_induced_subgraphs(graph):
    batches = SubgraphBatches(graph, num_roots=20, walk_length=3, seed=0)
    assert len(batches) == 5  # ceil(400 / (20 * 4))
    for batch in batches:
        assert batch.num_nodes <= 20 * 4 and torch.equal(batch.n_id, batch.n_id.unique())
        keep = torch.zeros(graph.num_nodes, dtype=torch.bool)
        keep[batch.n_id] = True
        induced = graph.edge_index[:, keep[graph.edge_index[0]] & keep[graph.edge_index[1]]]
        assert edge_set(global_edges(batch)) == edge_set(induced)
        assert batch.num_edges == induced.size(1)
        assert torch.equal(graph.edge_index[:, batch.e_id], global_edges(batch))
        assert torch.equal(batch.x, graph.x[batch.n_id])
    assert same_batches(list(SubgraphBatches(graph, num_roots=20, walk_length=3, seed=0)),
                        list(SubgraphBatches(graph, num_roots=20, walk_length=3, seed=0)))


def test_saint_walks_follow_edges():
    # a directed path 0 -> 1 -> ... -> 9: a walk of 3 steps from root r visits r..r+3 (capped)
    edge_index = torch.stack([torch.arange(9), torch.arange(1, 10)])
    data = Data(x=torch.randn(10, 2), edge_index=edge_index)
    batch = SubgraphBatches(data, num_roots=1, walk_length=3, seed=4).sample()
    root = int(batch.n_id[0])
    assert batch.n_id.tolist() == list(range(root, min(root + 3, 9) + 1))


def test_cluster_partition_covers_every_node_once(graph):
    batches = ClusterBatches(graph, num_parts=8, parts_per_batch=3, seed=0)
    assert len(batches) == 3
    sizes = torch.bincount(batches.partition, minlength=8)
    assert sizes.sum() == 400 and sizes.max() - sizes.min() <= 1
    nodes = torch.cat([b.n_id for b in batches])
    assert torch.equal(nodes.sort().values, torch.arange(400))  # each node in one batch
    for batch in batches:
        keep = torch.zeros(400, dtype=torch.bool)
        keep[batch.n_id] = True
        induced = graph.edge_index[:, keep[graph.edge_index[0]] & keep[graph.edge_index[1]]]
        assert edge_set(global_edges(batch)) == edge_set(induced)
    given = ClusterBatches(graph, num_parts=2, partition=torch.arange(400) % 2)
    assert {tuple((b.n_id % 2).unique().tolist()) for b in given} == {(0,), (1,)}


def test_cluster_partition_keeps_local_structure():
    # a 30 x 30 grid: label propagation + ordering gives local parts (random: 75% cut)
    side = 30
    idx = torch.arange(side * side).view(side, side)
    right = torch.stack([idx[:, :-1].reshape(-1), idx[:, 1:].reshape(-1)])
    down = torch.stack([idx[:-1].reshape(-1), idx[1:].reshape(-1)])
    edge_index = torch.cat([right, down, right.flip(0), down.flip(0)], 1)
    part = cluster_partition(edge_index, side * side, num_parts=4, seed=0)
    cut = (part[edge_index[0]] != part[edge_index[1]]).float().mean()
    assert cut < 0.4
    assert torch.equal(part, cluster_partition(edge_index, side * side, num_parts=4, seed=0))


# ---- memory: batches are O(batch), whatever the graph size --------------------------------

def test_batch_memory_does_not_grow_with_the_graph():
    largest = {}
    for n in (2_000, 20_000):
        data = random_graph(n, avg_degree=10, num_features=8, num_classes=4, seed=0)
        rows = []
        for sampler in (NeighborBatches(data, num_neighbors=(5, 5), batch_size=16, seed=0),
                        SubgraphBatches(data, num_roots=50, walk_length=2, num_steps=4)):
            for step, batch in enumerate(sampler):
                rows.append(max(v.size(0) if v.dim() == 1 else v.size(1) if k == "edge_index"
                                else v.size(0) for k, v in batch.items()
                                if isinstance(v, torch.Tensor)))
                if step == 3:
                    break
        largest[n] = max(rows)
        # edges: 16 * (5 + 25) sampled; GraphSAINT: at most 150 nodes, degree ~ 10 each
        assert largest[n] <= 16 * (5 + 25) + 16 + 150 * 30
    assert largest[20_000] < 2 * largest[2_000]  # 10x the nodes, about the same batches


# ---- training: every method's loss runs on the sampled subgraph ---------------------------

SMALL = {"type": "gcn", "hidden_channels": 16, "out_channels": 8, "num_layers": 2}


@pytest.mark.parametrize("name", ["bgrl", "graphmae", "dgi", "grace"])
def test_methods_train_on_neighbor_batches(name):
    data = csbm_graph(300, num_classes=3, num_features=12, seed=0)
    if name == "bgrl":
        method = BGRL.from_config(12, encoder=SMALL, predictor_hidden=16)
    elif name == "graphmae":
        method = GraphMAE.from_config(12, encoder={"hidden_channels": 16, "heads": 2},
                                      decoder={"heads": 1})
    elif name == "dgi":
        method = DGI.from_config(12, encoder={"hidden_channels": 16})
    else:
        method = GRACE.from_config(12, encoder=SMALL, projection_dim=8, num_negatives=32)
    seen = []
    method.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].size(0)))
    batches = NeighborBatches(data, num_neighbors=(5, 5), batch_size=64, seed=0)
    sizes = {b.num_nodes for epoch in range(2) for b in batches}
    batches.set_epoch(0)
    trainer = Trainer(epochs=2, lr=1e-3, progress=False, seed=0)
    trainer.fit(method, batches)
    assert len(trainer.history) == 2
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in trainer.history)
    # the encoder ran on whole subgraphs (seeds and sampled neighbours), never on seeds only
    assert set(seen) == sizes and min(seen) > 64
    assert method.embed(data).shape[0] == 300  # evaluation: the full graph


def test_grace_on_saint_and_cluster_batches():
    data = csbm_graph(300, num_classes=3, num_features=12, seed=0)
    for batches in (SubgraphBatches(data, num_roots=40, walk_length=2),
                    ClusterBatches(data, num_parts=4, parts_per_batch=2)):
        method = GRACE.from_config(12, encoder=SMALL, projection_dim=8, num_negatives=32)
        trainer = Trainer(epochs=2, progress=False).fit(method, batches)
        assert trainer is method


def test_pretrain_cli_with_a_sampler(tmp_path):
    out = tmp_path / "grace.json"
    code = main(["pretrain", "--method", "grace", "--dataset", "csbm", "--runs", "1",
                 "--epochs", "2", "--quiet", "--out", str(out),
                 "--set", "data.sampler={type: neighbor, num_neighbors: [5, 5], batch_size: 500}",
                 "--set", "model.num_negatives=256",
                 "--set", "model.encoder.hidden_channels=32"])
    assert code == 0
    record = json.loads(out.read_text())
    assert record["config"]["data"]["sampler"]["type"] == "neighbor"
    assert record["per_run"][0]["epochs"] == 2 and 0.0 < record["test_acc_mean"] <= 1.0
    out2 = tmp_path / "bgrl.json"
    assert main(["pretrain", "--method", "bgrl", "--dataset", "csbm", "--runs", "1",
                 "--epochs", "1", "--quiet", "--out", str(out2), "--set", "data.sampler=cluster",
                 "--set", "model.encoder.hidden_channels=32",
                 "--set", "model.predictor_hidden=32"]) == 0


# ---- arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"num_neighbors": (0, 5)}, "num_neighbors"),
    ({"num_neighbors": ()}, "num_neighbors"),
    ({"num_neighbors": 10}, "num_neighbors"),
    ({"num_neighbors": "10"}, "num_neighbors"),
    ({"num_neighbors": (2.5,)}, "num_neighbors"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"batch_size": True}, "batch_size"),
    ({"seed": -1}, "seed must be a non-negative integer, got -1"),
    ({"shuffle": "yes"}, "shuffle"),
    ({"input_nodes": torch.tensor([0, 400])}, "input_nodes"),
])
def test_neighbor_batches_reject_bad_arguments(graph, kwargs, match):
    with pytest.raises(ValueError, match=match):
        NeighborBatches(graph, **kwargs)


def test_other_samplers_reject_bad_arguments(graph):
    with pytest.raises(ValueError, match="num_roots must be a positive integer, got 0"):
        SubgraphBatches(graph, num_roots=0)
    with pytest.raises(ValueError, match="walk_length must be a non-negative integer, got -1"):
        SubgraphBatches(graph, walk_length=-1)
    with pytest.raises(ValueError, match="num_steps"):
        SubgraphBatches(graph, num_steps=0)
    with pytest.raises(ValueError, match="num_parts must be at most"):
        ClusterBatches(graph, num_parts=401)
    with pytest.raises(ValueError, match="parts_per_batch must be at most num_parts"):
        ClusterBatches(graph, num_parts=4, parts_per_batch=5)
    with pytest.raises(ValueError, match="partition must be"):
        ClusterBatches(graph, num_parts=2, partition=torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="edge_index"):
        NeighborBatches(Data(x=torch.randn(3, 2)))
    with pytest.raises(ValueError, match="unknown sampler 'metis'"):
        build_sampler(graph, "metis")
    with pytest.raises(ValueError, match="sampler 'neighbor'.*fanout"):
        build_sampler(graph, {"type": "neighbor", "fanout": 3})
    with pytest.raises(ValueError, match="seeds must be distinct"):
        NeighborBatches(graph).sample(torch.tensor([1, 1]))
    assert isinstance(build_sampler(graph, "graphsaint"), SubgraphBatches)
    assert build_sampler(graph, {"type": "neighbor", "batch_size": 8}, seed=3).seed == 3


# ---- the generator ------------------------------------------------------------------------

def test_random_graph_is_undirected_coalesced_and_seeded():
    data = random_graph(3_000, avg_degree=10, num_features=16, num_classes=5, seed=2)
    assert data.x.shape == (3_000, 16) and data.x.dtype == torch.float32
    assert data.y.max() == 4 and torch.bincount(data.y).min() == 600
    assert is_undirected(data.edge_index) and (data.edge_index[0] != data.edge_index[1]).all()
    assert torch.equal(coalesce(data.edge_index, num_nodes=3_000), data.edge_index)
    assert 9.5 < data.edge_index.size(1) / 3_000 <= 10
    same = (data.y[data.edge_index[0]] == data.y[data.edge_index[1]]).float().mean()
    assert 0.75 < same < 0.85  # homophily 0.8
    again = random_graph(3_000, avg_degree=10, num_features=16, num_classes=5, seed=2)
    assert torch.equal(again.edge_index, data.edge_index) and torch.equal(again.x, data.x)
    with pytest.raises(ValueError, match="num_nodes"):
        random_graph(0)
