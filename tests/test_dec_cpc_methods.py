"""DECClustering (graph DEC, the DAEGC recipe) and GraphCPC (CPC over random walks)."""
import io
import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from conftest import small_graph
from graphssl.encoders import encode
from graphssl.methods import DECClustering, GraphCPC, build_method
from graphssl.methods.cpc import random_walks
from graphssl.objectives import DEC
from graphssl.train import Trainer

SMALL = {"hidden_channels": 16, "out_channels": 8}


def dec_method(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(encoder=SMALL, num_clusters=3, warmup_epochs=3, update_interval=2, n_init=2)
    cfg.update(kw)
    return DECClustering.from_config(8, **cfg)


def manual_steps(method, data, steps, seed=0, on_loss=None, lr=0.01):
    """The Trainer's loop by hand: loss, step, after_step; ``on_loss(step, method)`` sees the
    state right after each loss call (before the parameters move)."""
    opt = torch.optim.Adam(method.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(1, steps + 1):
        loss = method.loss(data, gen)
        if on_loss is not None:
            on_loss(step, method)
        opt.zero_grad()
        loss.backward()
        opt.step()
        method.after_step(step, steps)
        losses.append(loss.item())
    return losses


# --- DEC ------------------------------------------------------------------------------------

def test_dec_centres_initialised_by_kmeans_exactly_after_warmup(graph):
    method = dec_method(warmup_epochs=3)
    initial = method.centers.detach().clone()
    calls = []
    original = method.dec.init_centers

    def spy(z, generator=None, n_init=10):
        calls.append((int(method.steps_done), z.clone(), generator.get_state(), n_init))
        return original(z, generator=generator, n_init=n_init)

    method.dec.init_centers = spy
    seen = []
    manual_steps(method, graph, 6, on_loss=lambda step, m: seen.append(
        (step, bool(m.centers_initialized), m.centers.detach().clone())))
    # reconstruction only for 3 steps: centres untouched; initialised once, on the 4th call
    assert [s[1] for s in seen] == [False, False, False, True, True, True]
    for _, _, centres in seen[:3]:
        assert torch.equal(centres, initial)
    assert len(calls) == 1 and calls[0][0] == 3
    _, z, gen_state, n_init = calls[0]
    assert not z.requires_grad and z.shape == (graph.num_nodes, 8)
    # exactly DEC.init_centers on those embeddings with the generator at that point
    reference = DEC(3, 8)
    gen = torch.Generator()
    gen.set_state(gen_state)
    reference.init_centers(z, generator=gen, n_init=n_init)
    assert torch.equal(seen[3][2], reference.centers.detach())


def test_dec_target_refreshed_every_update_interval(graph):
    method = dec_method(warmup_epochs=2, update_interval=3)
    log = []

    def check(step, m):
        log.append((int(m.steps_done), int(m.target_step), m.target.clone()))
        if m.centers_initialized:
            with torch.no_grad():  # P is the target distribution of the current Q
                expected = m.dec.target_distribution(m.soft_assignment(graph))
            if int(m.target_step) == int(m.steps_done):
                assert torch.allclose(m.target, expected, atol=1e-6)

    manual_steps(method, graph, 10, on_loss=check)
    assert [t for _, t, _ in log] == [-1, -1, 2, 2, 2, 5, 5, 5, 8, 8]
    for (done, last, target), (_, prev_last, prev_target) in zip(log[1:], log[:-1]):
        if done >= 2:
            assert target.shape == (graph.num_nodes, 3)
            assert torch.allclose(target.sum(1), torch.ones(graph.num_nodes))
        if last == prev_last and last >= 0:
            assert torch.equal(target, prev_target)  # held fixed between refreshes
        elif last >= 0 and prev_last >= 0:
            assert not torch.equal(target, prev_target)


def test_dec_state_survives_state_dict_round_trip(graph):
    method = dec_method(warmup_epochs=2, update_interval=4)
    manual_steps(method, graph, 4)
    assert bool(method.centers_initialized) and int(method.target_step) == 2
    buffer = io.BytesIO()
    torch.save(method.state_dict(), buffer)
    buffer.seek(0)
    fresh = dec_method(seed=1, warmup_epochs=2, update_interval=4)  # other weights
    assert not bool(fresh.centers_initialized) and fresh.target.shape == (0, 3)
    fresh.load_state_dict(torch.load(buffer))
    for name in ("steps_done", "centers_initialized", "target", "target_step"):
        assert torch.equal(getattr(fresh, name), getattr(method, name)), name
    assert torch.equal(fresh.centers, method.centers)
    # the next step continues the schedule: no new k-means, the same held target, same loss
    fresh.dec.init_centers = lambda *a, **k: pytest.fail("centres initialised twice")
    losses = [m.loss(graph, torch.Generator().manual_seed(5)) for m in (method, fresh)]
    assert torch.equal(losses[0], losses[1])
    assert int(fresh.target_step) == 2
    assert torch.equal(fresh.predict_clusters(graph), method.predict_clusters(graph))


def test_dec_trainer_resume_matches_uninterrupted_run(graph, tmp_path):
    def trained(interrupt_at=None, resume=False):
        method = dec_method(warmup_epochs=2, update_interval=2)
        if interrupt_at is not None:
            def after_step(step, total):
                if step == interrupt_at:
                    raise KeyboardInterrupt
                DECClustering.after_step(method, step, total)
            method.after_step = after_step
        Trainer(epochs=7, lr=0.01, seed=3, progress=False,
                checkpoint_dir=tmp_path / "ckpt").fit(method, graph, resume=resume)
        return method

    full = trained()
    with pytest.raises(KeyboardInterrupt):
        trained(interrupt_at=5)  # checkpoint of epoch 4: centres and a target already set
    resumed = trained(resume=True)
    assert torch.equal(resumed.embed(graph), full.embed(graph))
    assert torch.equal(resumed.target, full.target)
    assert torch.equal(resumed.centers, full.centers)


def test_dec_is_deterministic_given_a_seed(graph):
    def run():
        method = dec_method(warmup_epochs=2)
        Trainer(epochs=6, lr=0.01, seed=7, progress=False).fit(method, graph)
        return method.embed(graph), method.predict_clusters(graph), method.centers.detach()

    first, second = run(), run()
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_dec_trains_and_predicts(graph):
    early = dec_method(warmup_epochs=5, update_interval=3, gamma=1.0)
    with pytest.warns(UserWarning, match="centres are initialised now"):
        assert early.predict_clusters(graph).shape == (graph.num_nodes,)
    assert bool(early.centers_initialized)
    method = dec_method(warmup_epochs=5, update_interval=3, gamma=1.0)
    losses = manual_steps(method, graph, 30)
    assert all(math.isfinite(v) for v in losses)
    assert min(losses[:5]) < losses[0]  # reconstruction falls during the warm-up
    assert min(losses[-5:]) < losses[5]  # and the joint loss falls once clustering starts
    method.train()
    clusters = method.predict_clusters(graph)
    assert method.training  # training mode restored
    assert clusters.shape == (graph.num_nodes,) and 0 <= clusters.min() <= clusters.max() < 3
    q = method.soft_assignment(graph)
    assert torch.allclose(q.sum(1), torch.ones(graph.num_nodes), atol=1e-6)
    # embed is the encoder's own output (not normalised)
    method.eval()
    assert torch.allclose(method.embed(graph), encode(method.encoder, graph))


def test_dec_init_centers_method_and_batches_of_graphs():
    graphs = [small_graph(12, 20, num_features=8, seed=i) for i in range(3)]
    graphs.append(small_graph(5, 0, num_features=8, seed=9))  # no edges at all
    batch = Batch.from_data_list(graphs)
    method = dec_method(warmup_epochs=0)
    loss = method.loss(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and bool(method.centers_initialized)
    loss.backward()
    assert method.dec.centers.grad is not None
    # a batch of graphs gets its own target each step: nothing is held for another batch
    assert method.target.shape == (0, 3) and int(method.target_step) == -1
    other = dec_method(warmup_epochs=10)
    other.init_centers(batch, torch.Generator().manual_seed(0))
    assert bool(other.centers_initialized)
    assert other.predict_clusters(batch).shape == (batch.num_nodes,)


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_clusters=1), "num_clusters"), (dict(num_clusters=2.5), "num_clusters"),
    (dict(num_clusters=True), "num_clusters"), (dict(gamma=-0.5), "gamma"),
    (dict(gamma=float("nan")), "gamma"), (dict(gamma="10"), "gamma"),
    (dict(warmup_epochs=-1), "warmup_epochs"), (dict(warmup_epochs=1.5), "warmup_epochs"),
    (dict(update_interval=0), "update_interval"), (dict(alpha=0.0), "alpha"),
    (dict(n_init=0), "n_init"), (dict(normalize="yes"), "normalize"),
    (dict(reconstruction="full"), "reconstruction"),
])
def test_dec_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError) as err:
        DECClustering(torch.nn.Linear(4, 4), embedding_dim=4, **kwargs)
    message = str(err.value)
    assert name in message and repr(kwargs[name]) in message, message


def test_dec_more_clusters_than_nodes_is_a_clear_error(graph):
    method = dec_method(num_clusters=50, warmup_epochs=0)
    with pytest.raises(ValueError, match=r"num_clusters=50 is larger than the number of nodes "
                                         r"\(30\)"):
        method.loss(graph, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="num_clusters=50"):
        method.init_centers(graph)


def test_dec_from_config_and_registry():
    method = build_method("dec", 8)
    assert isinstance(method, DECClustering) and method.num_clusters == 7
    assert method.encoder.out_channels == 16 and type(method.encoder).__name__ == "GATEncoder"
    assert (method.gamma, method.warmup_epochs, method.update_interval) == (10.0, 30, 1)


# --- random walks -----------------------------------------------------------------------------

def edge_set(edge_index):
    return {(int(a), int(b)) for a, b in edge_index.t()}


def assert_walks_follow_edges(walks, edge_index, num_nodes):
    edges = edge_set(edge_index)
    has_out = torch.bincount(edge_index[0], minlength=num_nodes) > 0
    assert walks.dtype == torch.long and walks.min() >= 0 and walks.max() < num_nodes
    for a, b in zip(walks[:, :-1].reshape(-1).tolist(), walks[:, 1:].reshape(-1).tolist()):
        assert (a, b) in edges or (a == b and not has_out[a]), (a, b)


def test_random_walks_follow_edges_and_stay_at_isolated_nodes():
    graphs = [small_graph(12, 15, num_features=4, seed=i) for i in range(3)]
    graphs.append(small_graph(5, 0, num_features=4, seed=9))  # a graph without edges
    batch = Batch.from_data_list(graphs)
    walks = random_walks(batch.edge_index, batch.num_nodes, 500, 8,
                         torch.Generator().manual_seed(0))
    assert walks.shape == (500, 8)
    assert_walks_follow_edges(walks, batch.edge_index, batch.num_nodes)
    graph_of = batch.batch[walks]
    assert (graph_of == graph_of[:, :1]).all()  # walks never leave their graph
    isolated = torch.bincount(batch.edge_index[0], minlength=batch.num_nodes) == 0
    assert isolated.any()
    stuck = isolated[walks[:, 0]]
    assert stuck.any() and (walks[stuck] == walks[stuck, :1]).all()
    assert (walks[:, 0].bincount(minlength=batch.num_nodes) > 0).float().mean() > 0.9


def test_random_walks_directed_sink_and_no_edges():
    edge_index = torch.tensor([[0, 0, 2], [1, 2, 0]])  # node 1 is a sink, node 3 isolated
    walks = random_walks(edge_index, 4, 200, 6, torch.Generator().manual_seed(1))
    assert_walks_follow_edges(walks, edge_index, 4)
    assert ((walks[:, 0] == 1).any() and (walks[walks[:, 0] == 1] == 1).all())
    empty = random_walks(torch.empty(2, 0, dtype=torch.long), 3, 10, 4,
                         torch.Generator().manual_seed(0))
    assert (empty == empty[:, :1]).all()


def test_random_walks_uniform_neighbours_and_generator():
    # a star: from the centre every leaf is equally likely
    edge_index = torch.tensor([[0, 0, 0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 0, 0, 0, 0]])
    walks = random_walks(edge_index, 5, 8000, 3, torch.Generator().manual_seed(0))
    after_centre = walks[:, 1:][walks[:, :-1] == 0]
    freq = torch.bincount(after_centre, minlength=5)[1:].float() / after_centre.numel()
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.03)
    a = random_walks(edge_index, 5, 50, 4, torch.Generator().manual_seed(3))
    b = random_walks(edge_index, 5, 50, 4, torch.Generator().manual_seed(3))
    c = random_walks(edge_index, 5, 50, 4, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    state = torch.get_rng_state()
    random_walks(edge_index, 5, 50, 4, torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone


# --- CPC ------------------------------------------------------------------------------------

def cpc_method(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(encoder=SMALL, num_walks=32, walk_length=6, num_steps=2)
    cfg.update(kw)
    return GraphCPC.from_config(8, **cfg)


def test_cpc_walks_of_a_step_follow_the_graph(graph):
    method = cpc_method()
    walks = method.walks(graph, torch.Generator().manual_seed(0))
    assert walks.shape == (32, 6)
    assert_walks_follow_edges(walks, graph.edge_index, graph.num_nodes)


def test_cpc_trains_and_loss_falls(graph):
    method = cpc_method(num_walks=64)
    trainer = Trainer(epochs=30, lr=0.01, seed=0, progress=False)
    trainer.fit(method, graph)
    losses = [r["loss"] for r in trainer.history]
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < losses[0]
    assert method.embed(graph).shape == (graph.num_nodes, 8)
    method.eval()
    assert torch.allclose(method.embed(graph), encode(method.encoder, graph))


def test_cpc_is_deterministic_given_a_seed(graph):
    def run():
        method = cpc_method()
        Trainer(epochs=4, lr=0.01, seed=2, progress=False).fit(method, graph)
        return method.embed(graph)

    assert torch.equal(run(), run())


def test_cpc_graph_without_edges_and_isolated_nodes():
    graph = Data(x=torch.randn(6, 8), edge_index=torch.empty(2, 0, dtype=torch.long))
    method = cpc_method()
    loss = method.loss(graph, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_walks=1), "num_walks"), (dict(num_walks=8.0), "num_walks"),
    (dict(walk_length=2, num_steps=2), "walk_length"), (dict(num_steps=0), "num_steps"),
    (dict(context_dim=0), "context_dim"), (dict(temperature=0.0), "temperature"),
    (dict(temperature=-1.0), "temperature"),
])
def test_cpc_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError) as err:
        GraphCPC(torch.nn.Linear(4, 4), embedding_dim=4, **kwargs)
    message = str(err.value)
    assert name in message and repr(kwargs[name]) in message, message
