"""Dink-Net: the dilation + shrink objective and the two-phase method."""
import io

import pytest
import torch

from conftest import small_graph
from graphssl.encoders import encode
from graphssl.methods import DinkNet, build_method
from graphssl.objectives.dinknet import DinkNetLoss, squared_distances
from graphssl.train import Trainer
from test_dec_cpc_methods import manual_steps  # the Trainer loop by hand, shared


def dink(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(encoder={"hidden_channels": 16}, num_clusters=3, pretrain_epochs=3, n_init=2,
               center_lr_scale=1.0)
    cfg.update(kw)
    return DinkNet.from_config(8, **cfg)


@pytest.fixture
def graph():
    return small_graph(30, 60, num_features=8, seed=0)


# --- objective ------------------------------------------------------------------------------

def test_dilation_is_lower_for_separated_centres_than_collapsed_ones():
    loss = DinkNetLoss()
    apart = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    collapsed = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1]])
    assert loss.dilation(apart) < loss.dilation(collapsed) < 0
    assert loss.dilation(torch.ones(3, 2)) == 0  # all on one point: no dilation


def test_dilation_values_all_pairs_and_distinct_pairs():
    c = torch.tensor([[0.0, 0.0], [3.0, 4.0]])  # squared distance 25
    # K*K = 4 ordered pairs, two of them distance 25 (the authors' code: self-pairs included)
    assert torch.isclose(DinkNetLoss().dilation(c), torch.tensor(-12.5))
    assert torch.isclose(DinkNetLoss(exclude_self_pairs=True).dilation(c), torch.tensor(-25.0))


def test_shrink_is_mean_distance_to_every_centre_and_minimal_at_their_mean():
    loss = DinkNetLoss()
    c = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    h = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    expected = torch.cdist(h, c).pow(2).mean()
    assert torch.isclose(loss.shrink(h, c), expected)
    # the minimiser over the samples is the centres' mean (every sample to every centre)
    at_mean = c.mean(0, keepdim=True).repeat(4, 1)
    assert torch.isclose(loss.shrink(at_mean, c), c.var(0, unbiased=False).sum())
    assert loss.shrink(at_mean, c) < loss.shrink(c, c)  # samples on their own centres
    # one centre: samples on it give the minimum, 0
    assert loss.shrink(torch.ones(5, 2), torch.ones(1, 2)) == 0


def test_total_equals_variance_plus_mean_gap_minus_centre_spread():
    torch.manual_seed(0)
    h, c = torch.randn(50, 4), torch.randn(5, 4)
    spread = (c - c.mean(0)).pow(2).sum(1).mean()
    closed = (h - h.mean(0)).pow(2).sum(1).mean() + (h.mean(0) - c.mean(0)).pow(2).sum() - spread
    assert torch.isclose(DinkNetLoss()(h, c), closed, atol=1e-5)
    assert torch.allclose(squared_distances(h, c), torch.cdist(h, c).pow(2), atol=1e-4)


def test_objective_gradients_reach_samples_and_centres():
    h = torch.randn(6, 3, requires_grad=True)
    c = torch.randn(3, 3, requires_grad=True)
    DinkNetLoss()(h, c).backward()
    assert h.grad.abs().sum() > 0 and c.grad.abs().sum() > 0


@pytest.mark.parametrize("call, match", [
    (lambda l: l(torch.randn(5, 3), torch.randn(2, 4)), "h must have 4 columns"),
    (lambda l: l(torch.randn(5), torch.randn(2, 5)), "h must be a 2-D"),
    (lambda l: l.dilation(torch.randn(1, 3)), "centers must have at least 2"),
    (lambda l: l(torch.randn(0, 3), torch.randn(2, 3)), "h must have at least 1"),
])
def test_objective_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call(DinkNetLoss())


def test_objective_bad_argument():
    with pytest.raises(ValueError, match="exclude_self_pairs"):
        DinkNetLoss(exclude_self_pairs="yes")


# --- method ---------------------------------------------------------------------------------

def test_registered_and_defaults_follow_the_authors_cora_setup():
    method = build_method("dinknet", 1433)
    assert isinstance(method, DinkNet)
    assert method.encoder.out_channels == 512 and method.encoder.num_layers == 1
    assert (method.pretrain_epochs, method.power, method.tradeoff) == (200, 5, 1e-10)


def test_phase_switch_and_kmeans_centres_exactly_after_pretraining(graph):
    method = dink(pretrain_epochs=3)
    calls, seen = [], []
    original = method._init_centers

    def spy(h, generator):
        calls.append(int(method.steps_done))
        return original(h, generator)

    method._init_centers = spy
    manual_steps(method, graph, 6, on_loss=lambda step, m: seen.append(
        (step, m.in_clustering_phase, bool(m.centers_initialized),
         m.centers.detach().clone())))
    assert [s[1] for s in seen] == [False, False, False, True, True, True]
    assert [s[2] for s in seen] == [False, False, False, True, True, True]
    assert calls == [3]  # once, on the 4th loss call
    assert all(torch.equal(s[3], torch.zeros(3, 16)) for s in seen[:3])  # untouched before
    assert not torch.equal(seen[4][3], seen[3][3])  # then the centres train


def test_centres_are_the_kmeans_centroids_and_deterministic(graph):
    from sklearn.cluster import KMeans

    a, b = dink(pretrain_epochs=0), dink(pretrain_epochs=0)
    a.loss(graph, torch.Generator().manual_seed(5))
    b.loss(graph, torch.Generator().manual_seed(5))
    assert torch.equal(a.centers, b.centers)
    # the centroids of the clustering embeddings: each is the mean of its k-means cluster
    h = a.clustering_embeddings(graph)
    labels = squared_distances(h, a.centers).argmin(1)
    for k in range(3):
        if (labels == k).any():
            assert torch.allclose(a.centers[k], h[labels == k].mean(0), atol=1e-4)
    assert KMeans  # scikit-learn is what the method uses


def test_pretraining_loss_is_discrimination_only_and_leaves_centres_without_grad(graph):
    method = dink(pretrain_epochs=5)
    loss = method.loss(graph, torch.Generator().manual_seed(0))
    loss.backward()
    assert method.center_param.grad is None
    assert method.head.weight.grad is not None
    assert 0 < loss.item() < 10


def test_detached_clustering_loss_moves_only_centres_and_tradeoff_reaches_encoder(graph):
    method = dink(pretrain_epochs=0, tradeoff=0.0)
    method.loss(graph, torch.Generator().manual_seed(0)).backward()
    assert method.center_param.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in method.encoder.parameters())
    method = dink(pretrain_epochs=0, detach_embeddings=False, tradeoff=0.0)
    method.loss(graph, torch.Generator().manual_seed(0)).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in method.encoder.parameters())


def test_center_lr_scale_scales_the_centres_adam_step(graph):
    moves = []
    for scale in (1.0, 10.0):
        method = dink(pretrain_epochs=0, center_lr_scale=scale)
        method.loss(graph, torch.Generator().manual_seed(0))  # initialise the centres
        before = method.centers.detach().clone()
        opt = torch.optim.Adam([method.center_param], lr=1e-3)
        method.loss(graph, torch.Generator().manual_seed(1)).backward()
        opt.step()
        moves.append((method.centers.detach() - before).abs().max())
    assert torch.isclose(moves[1] / moves[0], torch.tensor(10.0), rtol=1e-3)


def test_predict_clusters_nearest_centre_and_restores_mode(graph):
    method = dink(pretrain_epochs=2)
    manual_steps(method, graph, 5)
    method.train()
    clusters = method.predict_clusters(graph)
    assert method.training
    assert clusters.shape == (30,) and clusters.dtype == torch.long
    h = method.clustering_embeddings(graph)
    assert torch.equal(clusters, torch.cdist(h, method.centers.detach()).argmin(1))
    assert torch.allclose(h.norm(dim=1), torch.ones(30), atol=1e-5)


def test_predict_clusters_before_centres_warns_and_initialises(graph):
    method = dink(pretrain_epochs=100)
    with pytest.warns(UserWarning, match="pretrain_epochs=100"):
        clusters = method.predict_clusters(graph)
    assert bool(method.centers_initialized) and clusters.unique().numel() <= 3


def test_embed_is_the_encoder_output(graph):
    method = dink()
    z = method.embed(graph)
    method.eval()
    assert torch.allclose(z, encode(method.encoder, graph))


def test_state_dict_round_trip_continues_identically(graph):
    method = dink(pretrain_epochs=2)
    manual_steps(method, graph, 4)
    state = method.state_dict()
    assert int(state["steps_done"]) == 4 and bool(state["centers_initialized"])
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    clone = dink(seed=1, pretrain_epochs=2)
    clone.load_state_dict(torch.load(buffer))
    assert clone.in_clustering_phase and bool(clone.centers_initialized)
    assert torch.equal(clone.centers, method.centers)
    # the next loss is the same clustering loss (no k-means again)
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(method.loss(graph, gen_a), clone.loss(graph, gen_b))
    assert torch.equal(clone.predict_clusters(graph), method.predict_clusters(graph))


@pytest.mark.parametrize("kw, name", [
    (dict(num_clusters=1), "num_clusters"), (dict(pretrain_epochs=-1), "pretrain_epochs"),
    (dict(pretrain_epochs=2.5), "pretrain_epochs"), (dict(tradeoff=-1.0), "tradeoff"),
    (dict(tradeoff=float("nan")), "tradeoff"), (dict(power=-1), "power"),
    (dict(feature_drop=1.0), "feature_drop"), (dict(feature_drop=True), "feature_drop"),
    (dict(center_lr_scale=0.0), "center_lr_scale"), (dict(n_init=0), "n_init"),
    (dict(detach_embeddings=1), "detach_embeddings"),
    (dict(exclude_self_pairs=None), "exclude_self_pairs"),
])
def test_bad_arguments_name_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        dink(**kw)


def test_too_few_nodes_for_the_clusters(graph):
    method = dink(num_clusters=40, pretrain_epochs=0)
    with pytest.raises(ValueError, match="num_clusters=40"):
        method.loss(graph, torch.Generator().manual_seed(0))


def test_tiny_graph_trains_and_both_phases_lower_their_loss():
    torch.manual_seed(0)
    # two feature-separated communities
    graph = small_graph(40, 80, num_features=8, seed=2)
    method = dink(pretrain_epochs=30, num_clusters=2)
    trainer = Trainer(epochs=60, lr=0.01, progress=False)
    trainer.fit(method, graph)
    losses = [r["loss"] for r in trainer.history]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert min(losses[25:30]) < losses[0]  # discrimination fell
    assert losses[-1] < losses[30]  # dilation + shrink fell
    assert int(method.steps_done) == 60 and bool(method.centers_initialized)
    assert method.predict_clusters(graph).shape == (40,)
