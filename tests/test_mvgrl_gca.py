"""MVGRL (node and graph level), GCA and GCA's adaptive augmentations."""
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import degree, to_undirected

from graphssl.augment import (AdaptiveEdgeDrop, AdaptiveFeatureMask, Compose, EdgeDrop,
                              FeatureMask, PPRDiffusion, RandomChoice)
from graphssl.augment import adaptive
from graphssl.data import csbm_graph, random_split
from graphssl.encoders import GCNEncoder
from graphssl.evaluate import linear_probe
from graphssl.methods import GCA, MVGRL, MVGRLGraph, build_method, build_view
from graphssl.train import Trainer

from conftest import small_graph

SMALL = {
    "mvgrl": dict(encoder={"hidden_channels": 32}),
    "gca": dict(encoder={"hidden_channels": 32, "out_channels": 16}, projection_dim=16),
    "mvgrl-graph": dict(encoder={"hidden_channels": 16, "num_layers": 2}),
}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def snapshot(data):
    return {k: v.clone() for k, v in data.items() if isinstance(v, torch.Tensor)}


def unchanged(data, before):
    return all(torch.equal(data[k], t) for k, t in before.items())


def small_batch():
    graphs = [small_graph(12, 20, num_features=8, seed=i) for i in range(3)]
    graphs.append(small_graph(5, 0, num_features=8, seed=9))  # no edges at all
    return Batch.from_data_list(graphs)


def star_graph():
    """Four hubs (nodes 0-3) with 5, 10, 20 and 40 leaves of their own, undirected."""
    sizes = torch.tensor([5, 10, 20, 40])
    hub = torch.arange(4).repeat_interleave(sizes)
    leaf = 4 + torch.arange(int(sizes.sum()))
    edge_index = torch.cat([torch.stack([leaf, hub]), torch.stack([hub, leaf])], dim=1)
    n = 4 + int(sizes.sum())
    x = torch.zeros(n, 4)
    x[3, 0] = 1.0      # feature 0: only on the biggest hub
    x[4, 1] = 1.0      # feature 1: only on one leaf
    x[:, 2] = 1.0      # feature 2: everywhere
    x[0, 3] = 1.0      # feature 3: the smallest hub and a few leaves
    x[4:8, 3] = 1.0
    return Data(x=x, edge_index=edge_index, num_nodes=n)


# ---- methods: loss, backprop, batches --------------------------------------------------------

@pytest.mark.parametrize("name", ["mvgrl", "gca"])
def test_node_methods_loss_is_finite_and_backpropagates(name):
    g = small_graph()
    method = build_method(name, 8, **SMALL[name])
    loss = method.loss(g, gen())
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in method.parameters() if p.requires_grad]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert any(gr.abs().sum() > 0 for gr in grads)


@pytest.mark.parametrize("name", ["mvgrl", "gca", "mvgrl-graph"])
def test_methods_on_a_batch_of_graphs(name):
    batch = small_batch()
    method = build_method(name, 8, **SMALL[name])
    loss = method.loss(batch, gen())
    assert torch.isfinite(loss)
    loss.backward()
    assert method.embed(batch).shape[0] == batch.num_nodes
    assert method.embed_graphs(batch).shape[0] == batch.num_graphs


@pytest.mark.parametrize("name", ["mvgrl", "gca"])
def test_few_epochs_reduce_the_loss_and_beat_chance(name):
    g = csbm_graph(num_nodes=300, num_classes=3, num_features=16, seed=0)
    torch.manual_seed(0)
    method = build_method(name, 16, **SMALL[name])
    trainer = Trainer(epochs=30, lr=0.01, progress=False)
    trainer.fit(method, g)
    losses = [r["loss"] for r in trainer.history]
    assert min(losses[-5:]) < losses[0]
    acc = linear_probe(method.embed(g), g.y, random_split(g.num_nodes, 0),
                       Cs=(0.1, 1.0, 10.0))["test_acc"]
    assert acc > 0.6  # chance is 1/3


# ---- MVGRL -------------------------------------------------------------------------------

def test_mvgrl_diffusion_is_computed_once_across_epochs(monkeypatch):
    calls = []
    original = PPRDiffusion.forward

    def counting(self, data, generator):
        calls.append(data.num_nodes)
        return original(self, data, generator)

    monkeypatch.setattr(PPRDiffusion, "forward", counting)
    g = csbm_graph(num_nodes=120, num_classes=3, num_features=16, seed=0)
    method = build_method("mvgrl", 16, **SMALL["mvgrl"])
    Trainer(epochs=4, progress=False).fit(method, g)
    method.embed(g)
    assert calls == [120]
    edited = g.clone()
    edited.edge_index = edited.edge_index[:, :-2]  # another graph: a new diffusion
    method.embed(edited)
    assert len(calls) == 2


def test_mvgrl_embed_is_sum_of_both_views_and_restores_mode():
    g = small_graph()
    method = MVGRL.from_config(8, encoder={"hidden_channels": 16})
    assert method.encoder.convs[0].normalize and not method.diffusion_encoder.convs[0].normalize
    method.train()
    z = method.embed(g)
    assert method.training and not z.requires_grad
    method.eval()
    diff = PPRDiffusion(0.2, 1e-4)(g, None)
    with torch.no_grad():
        expected = (method.encoder(g.x, g.edge_index, g.edge_weight) +
                    method.diffusion_encoder(g.x, diff.edge_index, diff.edge_weight))
    assert torch.allclose(z, expected, atol=1e-6)


def test_mvgrl_arguments_are_validated():
    with pytest.raises(ValueError, match="must output the same size"):
        MVGRL(GCNEncoder(8, 16, num_layers=1), GCNEncoder(8, 32, num_layers=1))
    with pytest.raises(ValueError, match="alpha"):
        MVGRL.from_config(8, encoder={"hidden_channels": 8}, alpha=1.5)
    with pytest.raises(ValueError, match="eps"):
        MVGRL.from_config(8, encoder={"hidden_channels": 8}, eps=-1.0)
    with pytest.raises(TypeError, match="diffusion_encoder"):
        MVGRL(GCNEncoder(8, 16, num_layers=1), "gcn")
    with pytest.raises(ValueError, match="local_dim"):
        MVGRLGraph(GCNEncoder(8, 8, jk="cat"), GCNEncoder(8, 8, jk="cat"), local_dim=100)


def test_mvgrl_graph_level():
    batch = small_batch()
    method = build_method("mvgrl-graph", 8, **SMALL["mvgrl-graph"])
    assert method.level == "graph" and method.graph_readout == "sum"
    assert method.local_dim == 16 and method.encoder.out_channels == 32  # jk='cat' of 2 layers
    z = method.embed(batch)
    graphs = method.embed_graphs(batch)  # the sum of both views' graph sums, before the heads
    assert graphs.shape == (4, 32)
    assert torch.allclose(graphs, torch.zeros(4, 32).index_add_(0, batch.batch, z), atol=1e-4)
    method.head_embeddings = True  # the authors' gv1 + gv2, after the graph head
    assert method.embed_graphs(batch).shape == (4, 16)
    with pytest.raises(ValueError, match="at least 2 graphs"):
        method.loss(small_graph(), gen())
    torch.manual_seed(0)
    trainer = Trainer(epochs=15, lr=0.01, progress=False)
    trainer.fit(method, [batch])
    losses = [r["loss"] for r in trainer.history]
    assert min(losses[-3:]) < losses[0]


# ---- GCA ---------------------------------------------------------------------------------

def test_gca_views_apply_feature_masks_first():
    method = GCA(GCNEncoder(8, 16), view1={"adaptive_edge_drop": 0.5,
                                            "adaptive_feature_mask": 0.3},
                 view2={"edge_drop": 0.2, "feature_mask": 0.1})
    assert [type(a) for a in method.view1.augmentations] == [AdaptiveFeatureMask,
                                                             AdaptiveEdgeDrop]
    assert [type(a) for a in method.view2.augmentations] == [FeatureMask, EdgeDrop]


def test_gca_centralities_are_computed_once_across_epochs(monkeypatch):
    calls = []
    original = adaptive.degree_centrality

    def counting(edge_index, num_nodes):
        calls.append(num_nodes)
        return original(edge_index, num_nodes)

    monkeypatch.setattr(adaptive, "degree_centrality", counting)
    g = csbm_graph(num_nodes=120, num_classes=3, num_features=16, seed=0)
    method = build_method("gca", 16, **SMALL["gca"],
                          view1={"adaptive_edge_drop": 0.3, "adaptive_feature_mask": 0.2},
                          view2={"adaptive_edge_drop": 0.4, "adaptive_feature_mask": 0.1})
    Trainer(epochs=4, progress=False).fit(method, g)
    assert len(calls) == 4  # one per adaptive augmentation, not per epoch


# ---- adaptive augmentations --------------------------------------------------------------

def reference_edge_weights(edge_index):
    """The authors' degree_drop_weights (pGRACE/functional.py)."""
    deg = degree(to_undirected(edge_index)[1])
    s = torch.log(deg[edge_index[1]] + 1)
    return (s.max() - s) / (s.max() - s.mean())


def reference_feature_weights(x, edge_index, binary):
    deg = degree(to_undirected(edge_index)[1], x.size(0))
    values = x.to(torch.bool).float() if binary else x.abs()
    w = torch.log(values.t() @ deg + 1)
    return (w.max() - w) / (w.max() - w.mean())


def test_probabilities_follow_the_authors_formula():
    g = small_graph(40, 120, num_features=10)
    g.x = torch.where(g.x > 0.5, g.x, torch.zeros_like(g.x))  # zeros, so 'nonzero' differs
    edge = AdaptiveEdgeDrop(p=0.3).drop_probability(g)
    expected = (reference_edge_weights(g.edge_index) * 0.3).clamp(max=0.7)
    assert torch.allclose(edge, expected, atol=1e-6)
    for values, binary in (("abs", False), ("nonzero", True)):
        feat = AdaptiveFeatureMask(p=0.4, feature_values=values).drop_probability(g)
        expected = (reference_feature_weights(g.x, g.edge_index, binary) * 0.4).clamp(max=0.7)
        assert feat.shape == (1, 10) and torch.allclose(feat[0], expected, atol=1e-6)


@pytest.mark.parametrize("aug", [AdaptiveEdgeDrop(p=0.9, p_tau=0.7),
                                 AdaptiveFeatureMask(p=0.9, p_tau=0.5)], ids=repr)
def test_probabilities_are_capped_at_p_tau(aug):
    prob = aug.drop_probability(star_graph())
    assert float(prob.max()) == pytest.approx(aug.p_tau)
    assert float(prob.min()) == 0.0  # the most important item is never dropped


def test_edges_into_hubs_are_dropped_less_often():
    g = star_graph()
    aug = AdaptiveEdgeDrop(p=0.3)
    target = g.edge_index[1]
    groups = [target == hub for hub in range(4)] + [target >= 4]  # hubs by size, then leaves
    dropped = torch.zeros(len(groups))
    for seed in range(40):
        view = aug(g, gen(seed))
        kept = torch.bincount(view.edge_index[1], minlength=g.num_nodes)
        for i, mask in enumerate(groups):
            total = int(mask.sum())
            in_group = kept[:4][i] if i < 4 else kept[4:].sum()
            dropped[i] += 1 - in_group / total
    rate = dropped / 40
    assert rate[3] == 0.0  # edges into the biggest hub: probability 0
    assert rate[4] > rate[0] > rate[1] > rate[2] > rate[3]
    assert abs(float(rate[4]) - float(aug.drop_probability(g)[target >= 4].mean())) < 0.05


def test_features_of_central_nodes_are_masked_less_often():
    prob = AdaptiveFeatureMask(p=0.3, feature_values="nonzero").drop_probability(star_graph())[0]
    assert prob[2] == 0.0  # on every node: the most important
    assert prob[1] > prob[0]  # one leaf vs the biggest hub
    assert prob[1] > prob[3]


@pytest.mark.parametrize("aug", [AdaptiveEdgeDrop(0.3), AdaptiveFeatureMask(0.3),
                                 AdaptiveFeatureMask(0.3, feature_values="nonzero")], ids=repr)
def test_deterministic_never_in_place_and_seed_dependent(aug):
    g = small_graph(200, 800)
    before = snapshot(g)
    v1, v2 = aug(g, gen(1)), aug(g, gen(1))
    assert unchanged(g, before), "input was modified"
    assert v1 is not g
    assert torch.equal(v1.x, v2.x) and torch.equal(v1.edge_index, v2.edge_index)
    v3 = aug(g, gen(2))
    assert not (torch.equal(v1.x, v3.x) and torch.equal(v1.edge_index, v3.edge_index))
    if isinstance(aug, AdaptiveEdgeDrop):
        assert v1.edge_weight.numel() == v1.edge_index.size(1)  # edge attributes follow


@pytest.mark.parametrize("aug", [AdaptiveEdgeDrop(0.5), AdaptiveFeatureMask(0.5)], ids=repr)
def test_batches_use_per_graph_weights_and_stay_consistent(aug):
    graphs = [small_graph(20, 40, seed=1), small_graph(30, 90, seed=2)]
    batch = Batch.from_data_list(graphs)
    prob = aug.drop_probability(batch)
    alone = [aug.drop_probability(g) for g in graphs]
    assert torch.allclose(prob, torch.cat(alone), atol=1e-6)  # edges: [E]; features: [G, F]
    out = aug(batch, gen(3))
    assert out.x.shape == batch.x.shape and out.batch.numel() == out.num_nodes
    row, col = out.edge_index
    assert torch.equal(out.batch[row], out.batch[col])
    if isinstance(aug, AdaptiveFeatureMask):  # column masks drawn per graph
        masked = out.x == 0
        for i in range(2):
            rows = masked[batch.batch == i]
            assert torch.equal(rows.all(0), rows.any(0))


def test_graph_without_edges_drops_uniformly():
    g = small_graph(10, 0)
    assert AdaptiveEdgeDrop(0.3)(g, gen()).edge_index.size(1) == 0
    prob = AdaptiveFeatureMask(0.3).drop_probability(g)
    assert torch.allclose(prob, torch.full_like(prob, 0.3))


def test_sparse_csr_features_give_the_same_view():
    g = small_graph(50, 150, num_features=12)
    g.x = torch.where(g.x > 0.8, g.x, torch.zeros_like(g.x))
    sparse = g.clone()
    sparse.x = g.x.to_sparse_csr()
    for values in ("abs", "nonzero"):
        aug = AdaptiveFeatureMask(0.4, feature_values=values)
        assert torch.allclose(aug.drop_probability(sparse), aug.drop_probability(g), atol=1e-6)
        dense_view, sparse_view = aug(g, gen(5)), aug(sparse, gen(5))
        assert sparse_view.x.layout == torch.sparse_csr
        assert torch.equal(sparse_view.x.to_dense(), dense_view.x)
    batch = Batch.from_data_list([g, g])
    sparse_batch = batch.clone()
    sparse_batch.x = batch.x.to_sparse_csr()
    aug = AdaptiveFeatureMask(0.4)
    assert torch.equal(aug(sparse_batch, gen(1)).x.to_dense(), aug(batch, gen(1)).x)


def test_weights_are_cached_on_tensor_identity():
    g = small_graph()
    aug = AdaptiveEdgeDrop(0.3)
    w = aug.weights(g)
    assert aug.weights(g) is w
    assert aug.weights(g.clone()) is not w  # new tensors: recomputed
    g.edge_index[0, 0] = g.edge_index[0, 1]  # edited in place: recomputed
    assert aug.weights(g) is not w


def test_bad_arguments_name_the_parameter():
    for cls in (AdaptiveEdgeDrop, AdaptiveFeatureMask):
        with pytest.raises(ValueError, match="p must be a probability"):
            cls(p=1.5)
        with pytest.raises(ValueError, match="p_tau must be a probability"):
            cls(p=0.2, p_tau=-0.1)
        with pytest.raises(ValueError, match="p_tau must be a probability"):
            cls(p=0.2, p_tau="0.7")
    with pytest.raises(ValueError, match="feature_values must be one of"):
        AdaptiveFeatureMask(0.2, feature_values="binary")
    with pytest.raises(ValueError, match="needs node features"):
        AdaptiveFeatureMask(0.2)(Data(edge_index=torch.zeros(2, 0, dtype=torch.long),
                                      num_nodes=3), gen())


def test_view_configs_and_repr():
    view = build_view({"adaptive_edge_drop": {"p": 0.3, "p_tau": 0.6},
                       "adaptive_feature_mask": 0.2})
    assert repr(view) == ("Compose([AdaptiveEdgeDrop(p=0.3, p_tau=0.6), "
                          "AdaptiveFeatureMask(p=0.2, p_tau=0.7, feature_values='abs')])")


def test_methods_check_graph_sizes_through_their_views(monkeypatch):
    """MVGRL's dense diffusion refuses a graph above its bound before any solve; methods and
    views without a size limit accept any size; composed views check every step."""
    monkeypatch.setattr(PPRDiffusion, "MAX_DENSE_ENTRIES", 100)  # graphs of at most 10 nodes
    for name in ("mvgrl", "mvgrl-graph"):
        model = build_method(name, 8)
        model.check_graph_size(10)
        with pytest.raises(ValueError, match="a graph of 11 nodes needs 11\\^2 entries, above "
                                             "MAX_DENSE_ENTRIES=100"):
            model.check_graph_size(11)
    build_method("grace", 8).check_graph_size(10 ** 6)
    for view in (Compose([EdgeDrop(0.2), PPRDiffusion()]),
                 RandomChoice([EdgeDrop(0.2), PPRDiffusion()])):
        view.check_graph_size(10)
        with pytest.raises(ValueError, match="MAX_DENSE_ENTRIES"):
            view.check_graph_size(11)
    with pytest.raises(ValueError, match="11 nodes"):  # a view config naming ppr
        build_method("grace", 8, view2={"ppr": 0.2}).check_graph_size(11)
