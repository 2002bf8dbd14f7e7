"""GAE, VGAE, ARGA, ARGVA and the link-prediction evaluation."""
import copy
import random

import pytest
import torch
from torch_geometric.data import Batch, Data

from graphssl.data import csbm_graph
from graphssl.evaluate import link_prediction_scores, split_edges
from graphssl.methods import ARGA, ARGVA, GAE, VGAE, build_method
from graphssl.methods.gae import VariationalGCNEncoder, sample_negative_edges
from graphssl.train import Trainer, load_checkpoint, seed_everything

from conftest import small_graph
from conftest import Interrupt

SMALL = {"hidden_channels": 32, "out_channels": 16}


@pytest.fixture(scope="module")
def graph():
    return csbm_graph(num_nodes=300, num_classes=3, num_features=32, avg_degree=6,
                      homophily=0.9, feature_signal=1.0, seed=0)


def undirected_set(edge_index):
    return {(min(a, b), max(a, b)) for a, b in edge_index.t().tolist()}


# -- split_edges ------------------------------------------------------------------------------

def test_split_edges_sizes_and_disjointness(graph):
    num_edges = graph.edge_index.size(1) // 2
    train_data, val, test = split_edges(graph, val_ratio=0.05, test_ratio=0.1, seed=0)
    num_val, num_test = int(0.05 * num_edges), int(0.1 * num_edges)
    assert val.pos_edge_index.shape == val.neg_edge_index.shape == (2, num_val)
    assert test.pos_edge_index.shape == test.neg_edge_index.shape == (2, num_test)
    assert train_data.edge_index.size(1) == 2 * (num_edges - num_val - num_test)
    assert train_data.num_nodes == graph.num_nodes and torch.equal(train_data.x, graph.x)
    assert not hasattr(train_data, "pos_edge_label_index")

    train = undirected_set(train_data.edge_index)
    val_pos, test_pos = undirected_set(val.pos_edge_index), undirected_set(test.pos_edge_index)
    assert len(val_pos) == num_val and len(test_pos) == num_test  # each edge once
    assert not train & test_pos and not train & val_pos and not val_pos & test_pos
    assert train | val_pos | test_pos == undirected_set(graph.edge_index)
    # the training graph is undirected and keeps no held-out edge in either direction
    directed = set(map(tuple, train_data.edge_index.t().tolist()))
    assert all((b, a) in directed for a, b in directed)
    assert not any((a, b) in directed or (b, a) in directed for a, b in test_pos)
    full = undirected_set(graph.edge_index)
    for neg in (val.neg_edge_index, test.neg_edge_index):
        assert not undirected_set(neg) & full and bool((neg[0] != neg[1]).all())


def test_split_edges_is_seeded_and_leaves_global_rng_alone(graph):
    torch_state, python_state = torch.get_rng_state(), random.getstate()
    a, b = split_edges(graph, seed=3), split_edges(graph, seed=3)
    assert torch.equal(torch.get_rng_state(), torch_state) and random.getstate() == python_state
    assert torch.equal(a.test.pos_edge_index, b.test.pos_edge_index)
    assert torch.equal(a.test.neg_edge_index, b.test.neg_edge_index)
    assert torch.equal(a.train_data.edge_index, b.train_data.edge_index)
    c = split_edges(graph, seed=4)
    assert not torch.equal(a.test.pos_edge_index, c.test.pos_edge_index)


def test_split_edges_drops_self_loops(graph):
    loops = torch.arange(graph.num_nodes).repeat(2, 1)
    with_loops = Data(x=graph.x, edge_index=torch.cat([graph.edge_index, loops], 1))
    train_data, val, test = split_edges(with_loops, seed=0)
    for e in (train_data.edge_index, val.pos_edge_index, test.pos_edge_index):
        assert bool((e[0] != e[1]).all())


def test_split_edges_bad_inputs(graph):
    tiny = Data(x=torch.randn(6, 4), edge_index=torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4],
                                                              [1, 0, 2, 1, 3, 2, 4, 3]]))
    with pytest.raises(ValueError, match=r"too few edges.*4 undirected edges.*"
                                         r"val_ratio=0.05 gives 0 validation edges"):
        split_edges(tiny)
    with pytest.raises(ValueError, match=r"test_ratio=0.1 gives 0 test edges"):
        split_edges(tiny, val_ratio=0.3)
    edgeless = Data(x=torch.randn(6, 4), edge_index=torch.empty(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"0 undirected edges.*leave 0 training edges"):
        split_edges(edgeless, val_ratio=0.0, test_ratio=0.0)
    for bad in (-0.1, 1.0, 1.5, "0.1", True):
        with pytest.raises(ValueError, match=r"val_ratio must be in \[0, 1\), got"):
            split_edges(graph, val_ratio=bad)
    with pytest.raises(ValueError, match=r"test_ratio must be in \[0, 1\), got 1.0"):
        split_edges(graph, test_ratio=1.0)
    with pytest.raises(ValueError, match=r"val_ratio \+ test_ratio must be < 1.*0.5 \+ 0.5"):
        split_edges(graph, val_ratio=0.5, test_ratio=0.5)
    directed = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="undirected.*ToUndirected"):
        split_edges(directed)
    with pytest.raises(ValueError, match="seed"):
        split_edges(graph, seed=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got True"):
        split_edges(graph, seed=True)  # used to pass as seed 1


def test_seed_everything_rejects_bools_and_takes_numpy_integers():
    import numpy as np
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got False"):
        seed_everything(False)  # used to pass as seed 0
    a = torch.rand(3, generator=seed_everything(np.int64(7)))
    assert torch.equal(a, torch.rand(3, generator=seed_everything(7)))


def test_split_edges_without_validation_edges(graph):
    train_data, val, test = split_edges(graph, val_ratio=0.0, test_ratio=0.2)
    assert val.pos_edge_index.shape == val.neg_edge_index.shape == (2, 0)
    assert test.pos_edge_index.size(1) == int(0.2 * graph.edge_index.size(1) // 2)


# -- link_prediction_scores -------------------------------------------------------------------

def test_scores_of_perfect_and_reversed_embeddings():
    z = torch.eye(4).repeat_interleave(2, dim=0)  # nodes 2k, 2k+1 share a one-hot embedding
    within = torch.tensor([[0, 2, 4, 6], [1, 3, 5, 7]])
    across = torch.tensor([[0, 1, 2, 5, 6], [2, 4, 7, 0, 3]])
    perfect = link_prediction_scores(z, within, across)
    assert perfect == {"auc": 1.0, "ap": 1.0}
    assert link_prediction_scores(z, across, within)["auc"] == 0.0
    # huge inner products the sigmoid rounds to 1.0 still rank correctly (no ties)
    big = z * 100 + torch.arange(8.0).view(-1, 1) * 1e-2
    assert link_prediction_scores(big, within, across)["auc"] == 1.0


def test_scores_bad_inputs():
    z = torch.randn(5, 3)
    pos, neg = torch.tensor([[0, 1], [1, 2]]), torch.tensor([[0, 3], [4, 4]])
    with pytest.raises(ValueError, match=r"pos_edge_index must have shape \[2, num_edges\]"):
        link_prediction_scores(z, pos.t().reshape(4, 1), neg)
    with pytest.raises(ValueError, match="neg_edge_index refers to node 5.*5 embeddings"):
        link_prediction_scores(z, pos, torch.tensor([[0], [5]]))
    with pytest.raises(ValueError, match="pos_edge_index is empty"):
        link_prediction_scores(z, pos[:, :0], neg)
    with pytest.raises(ValueError, match="integer"):
        link_prediction_scores(z, pos.float(), neg)
    with pytest.raises(ValueError, match="2-D"):
        link_prediction_scores(z[0], pos, neg)
    bad = z.clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        link_prediction_scores(bad, pos, neg)


# -- GAE / VGAE -------------------------------------------------------------------------------

def test_vgae_learns_to_predict_held_out_links(graph):
    train_data, val, test = split_edges(graph, seed=0)
    torch.manual_seed(0)
    method = VGAE.from_config(graph.num_features, encoder=SMALL)
    before = link_prediction_scores(method.embed(train_data), *test)["auc"]
    trainer = Trainer(epochs=100, lr=0.01, seed=0, progress=False)
    trainer.fit(method, train_data)
    losses = [r["loss"] for r in trainer.history]
    assert losses[-1] < losses[0]
    scores = link_prediction_scores(method.embed(train_data), *test)
    # the best possible AUC on this 3-class CSBM is about 0.78 (edges are random within classes)
    assert scores["auc"] > 0.65 and scores["auc"] > before + 0.05 and scores["ap"] > 0.65


def test_kl_term_is_zero_for_the_prior():
    method = VGAE.from_config(8, encoder=SMALL)
    zeros = torch.zeros(10, 16)
    assert method.kl_loss(zeros, zeros).item() == 0.0
    assert method.kl_loss(torch.ones(10, 16), zeros).item() == pytest.approx(8.0)  # 16 * 1/2
    assert method.kl_loss(zeros, torch.full((10, 16), 0.5)).item() > 0


def test_vgae_embeds_mu_and_samples_only_in_training(graph):
    method = VGAE.from_config(graph.num_features, encoder=SMALL)
    mu, _ = method.encoder(graph.x, graph.edge_index)
    assert torch.allclose(method.embed(graph), mu) and method.embed(graph).shape == (300, 16)
    z, mu2, logstd = method.latent(graph, torch.Generator().manual_seed(0))
    assert not torch.allclose(z, mu2) and logstd is not None
    method.eval()
    z, mu3, _ = method.latent(graph, torch.Generator().manual_seed(0))
    assert torch.equal(z, mu3)


@pytest.mark.parametrize("name", ["gae", "vgae", "arga", "argva"])
def test_loss_is_a_function_of_the_generator(name, graph):
    torch.manual_seed(0)
    method = build_method(name, graph.num_features, encoder=SMALL)
    method.eval()  # no discriminator updates between the calls
    a = method.loss(graph, torch.Generator().manual_seed(1))
    b = method.loss(graph, torch.Generator().manual_seed(1))
    c = method.loss(graph, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", ["gae", "vgae", "arga", "argva"])
def test_graph_without_edges_is_refused(name):
    method = build_method(name, 8, encoder=SMALL)
    empty = small_graph(5, 0, num_features=8)
    with pytest.raises(ValueError, match=r"no edges \(5 nodes, 0 edges\)"):
        method.loss(empty)
    assert method.embed(empty).shape == (5, 16)  # embedding it is fine
    # nor does a batch of edgeless graphs have edges to reconstruct
    with pytest.raises(ValueError, match="no edges"):
        method.loss(Batch.from_data_list([empty, small_graph(3, 0, num_features=8)]))


def test_negative_edges_stay_within_their_graph():
    graphs = [small_graph(30, 20, num_features=4, seed=i) for i in range(3)]
    graphs.append(small_graph(1, 0, num_features=4))  # a single node: no possible non-edge
    batch = Batch.from_data_list(graphs)
    neg = sample_negative_edges(batch.edge_index, batch.num_nodes, batch.batch,
                                torch.Generator().manual_seed(0))
    assert neg.size(1) >= 0.95 * batch.edge_index.size(1)  # sparse graphs: ~one per edge
    assert torch.equal(batch.batch[neg[0]], batch.batch[neg[1]])
    assert bool((neg[0] != neg[1]).all())
    edges = set(map(tuple, batch.edge_index.t().tolist()))
    assert not edges & set(map(tuple, neg.t().tolist()))
    again = sample_negative_edges(batch.edge_index, batch.num_nodes, batch.batch,
                                  torch.Generator().manual_seed(0))
    assert torch.equal(neg, again)
    # a complete graph has no non-edge: nothing is returned, and the loss says why
    complete = torch.tensor([[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]])
    assert sample_negative_edges(complete, 3).shape == (2, 0)
    with pytest.raises(ValueError, match="complete"):
        GAE.from_config(4, encoder=SMALL).loss(Data(x=torch.randn(3, 4), edge_index=complete))


def test_bad_encoders_and_arguments():
    with pytest.raises(TypeError, match=r"\(mu, logstd\)"):
        VGAE(build_method("gae", 8, encoder=SMALL).encoder).loss(small_graph(10, 20))
    with pytest.raises(TypeError, match="one \\[N, d\\] tensor"):
        GAE(VariationalGCNEncoder(8)).loss(small_graph(10, 20))
    with pytest.raises(ValueError, match="num_layers=1"):
        VariationalGCNEncoder(8, num_layers=1, dropout=0.5)
    with pytest.raises(ValueError, match="discriminator_steps"):
        ARGA.from_config(8, discriminator_steps=0)
    with pytest.raises(ValueError, match="discriminator_lr"):
        ARGA.from_config(8, discriminator_lr=0.0)
    with pytest.raises(ValueError, match="discriminator_hidden"):
        ARGA.from_config(8, discriminator_hidden=[0])


def test_linear_vgae_reads_sparse_features():
    from graphssl.sparse import to_sparse_features
    data = small_graph(20, 40, num_features=30)
    data.x = (data.x > 1.5).float()  # mostly zeros, as bag-of-words
    method = VGAE.from_config(30, encoder={"num_layers": 1, "out_channels": 8})
    assert method.encoder.supports_sparse_input and method.encoder.sparse_input == "auto"
    dense = method.embed(data)
    assert torch.allclose(method.embed(to_sparse_features(data)), dense, atol=1e-5)


def test_each_parameter_is_stored_once():
    for name in ("gae", "vgae", "arga", "argva"):
        method = build_method(name, 8, encoder=SMALL)
        keys = set(method.state_dict()) - {"_extra_state"}
        assert keys == {n for n, _ in method.named_parameters()} | \
            {n for n, _ in method.named_buffers()}


# -- ARGA: the discriminator is trained by its own objective only ------------------------------

def discriminator_params(method):
    return [p.detach().clone() for p in method.discriminator.parameters()]


@pytest.mark.parametrize("cls", [ARGA, ARGVA])
def test_generator_loss_leaves_no_gradient_on_the_discriminator(cls, graph):
    torch.manual_seed(0)
    method = cls.from_config(graph.num_features, encoder=SMALL)
    before = discriminator_params(method)
    loss = method.loss(graph, torch.Generator().manual_seed(0))
    after_inner = discriminator_params(method)
    assert any(not torch.equal(a, b) for a, b in zip(before, after_inner))  # inner steps ran
    loss.backward()
    assert all(p.grad is None for p in method.discriminator.parameters())
    assert all(p.grad is not None for p in method.encoder.parameters())
    assert all(p.requires_grad for p in method.discriminator.parameters())  # flags restored
    # ... yet the adversarial term does reach the encoder, through the discriminator
    method.zero_grad()
    method.train(False)
    z, _, _ = method.latent(graph)
    torch.autograd.grad(method._pyg.reg_loss(z), z)  # would raise if disconnected


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_trainer_step_does_not_move_the_discriminator(optimizer, graph):
    """One Trainer epoch changes the discriminator exactly as its inner steps alone do: the
    Trainer's optimiser (weight decay included) leaves it alone."""
    torch.manual_seed(0)
    method = ARGA.from_config(graph.num_features, encoder=SMALL, discriminator_steps=3)
    replica = copy.deepcopy(method)
    Trainer(epochs=1, lr=0.01, weight_decay=0.1, optimizer=optimizer, seed=5,
            progress=False).fit(method, graph)
    replica.loss(graph, seed_everything(5))  # the same inner steps, same RNG draws
    for a, b in zip(method.discriminator.parameters(), replica.discriminator.parameters()):
        assert torch.equal(a, b)
    enc = zip(method.encoder.parameters(), replica.encoder.parameters())
    assert any(not torch.equal(a, b) for a, b in enc)  # the encoder did take its step


def test_no_discriminator_update_outside_training(graph):
    method = ARGA.from_config(graph.num_features, encoder=SMALL)
    before = discriminator_params(method)
    with torch.no_grad():
        method.loss(graph)
    method.eval()
    method.loss(graph)
    assert all(torch.equal(a, b) for a, b in zip(before, discriminator_params(method)))
    assert method._discriminator_optimizer is None


def test_argva_resume_replays_the_uninterrupted_run(tmp_path, graph):
    def make(seed):
        torch.manual_seed(seed)
        return ARGVA.from_config(graph.num_features, encoder=SMALL, discriminator_steps=2)

    def trainer():
        return Trainer(epochs=6, lr=0.01, seed=1, progress=False, checkpoint_dir=tmp_path,
                       checkpoint_every=2)

    full = make(0)
    Trainer(epochs=6, lr=0.01, seed=1, progress=False).fit(full, graph)
    first = make(0)
    Interrupt(first, at=4)
    with pytest.raises(KeyboardInterrupt):
        trainer().fit(first, graph)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")  # read back with weights_only=True
    assert ckpt["epoch"] == 2 and ckpt["model"]["_extra_state"]["discriminator_optimizer"]
    resumed = make(123)  # fresh weights and no discriminator optimiser yet
    trainer().fit(resumed, graph, resume=True)
    for (name, a), (_, b) in zip(full.named_parameters(), resumed.named_parameters()):
        assert torch.equal(a, b), name
    sa = full.discriminator_optimizer.state_dict()["state"]
    sb = resumed.discriminator_optimizer.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert all(torch.equal(sa[k][f], sb[k][f]) for f in ("step", "exp_avg", "exp_avg_sq"))


def test_dense_reconstruction_is_the_papers_weighted_loss():
    from graphssl.methods.gae import dense_recon_loss
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 3, generator=g)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    labels = torch.eye(5)
    labels[edge_index[0], edge_index[1]] = 1.0  # A + I: 11 of 25 entries
    pos_weight, norm = (25 - 11) / 11, 25 / (2 * (25 - 11))
    p = torch.sigmoid(z @ z.t())
    expected = -norm * (pos_weight * labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    assert torch.allclose(dense_recon_loss(z, edge_index), expected, atol=1e-6)


def test_dense_reconstruction_refuses_batches_and_bad_names():
    from torch_geometric.data import Batch, Data
    from graphssl.methods import VGAE
    graphs = [Data(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1], [1, 0]]))
              for _ in range(2)]
    method = VGAE.from_config(3, reconstruction="dense")
    with pytest.raises(ValueError, match="reconstruction='sampled'"):
        method.loss(Batch.from_data_list(graphs), torch.Generator().manual_seed(0))
    assert torch.isfinite(method.loss(graphs[0], torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="reconstruction must be"):
        VGAE.from_config(3, reconstruction="full")
