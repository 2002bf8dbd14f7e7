import pytest
import torch
from torch_geometric.data import Batch

from graphssl.data import csbm_graph, random_split
from graphssl.evaluate import linear_probe
from graphssl.methods import DGI, GRACE, METHODS, build_method, get_method
from graphssl.train import Trainer

from conftest import small_graph


@pytest.fixture(scope="module")
def csbm():
    return csbm_graph(num_nodes=400, num_classes=4, num_features=32, avg_degree=6,
                      homophily=0.9, feature_signal=0.5, seed=1)


SMALL = {"hidden_channels": 32, "out_channels": 16}
CONFIGS = {
    "dmon": dict(encoder={"hidden_channels": 16}, num_clusters=4, dropout=0.0),
    "grace": dict(encoder=SMALL, projection_dim=16),
    "dgi": dict(encoder={"hidden_channels": 32}),
    "bgrl": dict(encoder=SMALL, predictor_hidden=32),
    "cca-ssg": dict(encoder=SMALL),
    "g-bt": dict(encoder=SMALL),
    "vicreg": dict(encoder=SMALL, expander_dim=32),
    "swav": dict(encoder=SMALL, projection_dim=16, num_prototypes=8),
    "graphcl": dict(encoder={"hidden_channels": 16}),
    "infograph": dict(encoder={"hidden_channels": 16}),
    "mvgrl": dict(encoder={"hidden_channels": 64}),
    "gca": dict(encoder=SMALL, projection_dim=16),
    "mvgrl-graph": dict(encoder={"hidden_channels": 16}),
    "gae": dict(encoder=SMALL),
    "vgae": dict(encoder=SMALL),
    # one discriminator step per encoder step: with 5 the adversarial term dominates the
    # total loss at lr 0.01, which then need not fall within 40 epochs
    "arga": dict(encoder=SMALL, discriminator_hidden=[32, 32], discriminator_steps=1),
    "argva": dict(encoder=SMALL, discriminator_hidden=[32, 32], discriminator_steps=1),
    "graphmae": dict(encoder={"hidden_channels": 32, "heads": 2}, replace_rate=0.1),
    "graphmae-graph": dict(encoder={"hidden_channels": 16}, replace_rate=0.1),
    # clustering from the first step (warm-up 0) at a weight that lets the total loss fall
    "dec": dict(encoder=SMALL, num_clusters=4, warmup_epochs=0, update_interval=5, gamma=1.0,
                normalize=False, n_init=2),
    "cpc": dict(encoder=SMALL, num_walks=64, walk_length=6, num_steps=2),
    # 30 discrimination steps, then 10 of dilation + shrink (which lets the encoder alone)
    "dinknet": dict(encoder={"hidden_channels": 32}, num_clusters=4, pretrain_epochs=30,
                    center_lr_scale=1.0, n_init=2),
}
# methods for graphs; those for images, clips and text are tested in test_modality_methods.py
GRAPH_METHODS = {n: cls for n, cls in METHODS.items() if "graph" in cls.modalities}
NODE_LEVEL = sorted(n for n, cls in GRAPH_METHODS.items() if cls.level == "node")
GRAPH_LEVEL = sorted(n for n, cls in GRAPH_METHODS.items() if cls.level == "graph")


def config_for(name):
    return CONFIGS.get(name, {})


def test_every_registered_method_has_a_test_config():
    assert set(GRAPH_METHODS) <= set(CONFIGS), "add a small config for the new method to CONFIGS"


@pytest.mark.parametrize("name", NODE_LEVEL)
def test_registered_method_learns_useful_embeddings(name, csbm):
    torch.manual_seed(0)
    method = build_method(name, csbm.num_features, **config_for(name))
    split = random_split(csbm.num_nodes, 0)
    before = linear_probe(method.embed(csbm), csbm.y, split)["test_acc"]
    trainer = Trainer(epochs=40, lr=0.01, progress=False)
    trainer.fit(method, csbm)
    losses = [r["loss"] for r in trainer.history]
    assert min(losses[-5:]) < losses[0]
    after = linear_probe(method.embed(csbm), csbm.y, split)["test_acc"]
    assert after > max(before, 0.5)  # chance is 0.25


@pytest.mark.parametrize("name", sorted(GRAPH_METHODS))
def test_methods_on_a_batch_of_graphs_and_isolated_nodes(name):
    graphs = [small_graph(12, 20, num_features=8, seed=i) for i in range(3)]
    graphs.append(small_graph(5, 0, num_features=8, seed=9))  # no edges at all
    batch = Batch.from_data_list(graphs)
    method = build_method(name, 8, **config_for(name))
    loss = method.loss(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()
    assert method.embed(batch).shape[0] == batch.num_nodes


def test_same_seed_same_embeddings(csbm):
    def run():
        torch.manual_seed(0)
        m = GRACE.from_config(32, **config_for("grace"))
        Trainer(epochs=3, seed=7, progress=False).fit(m, csbm)
        return m.embed(csbm)

    assert torch.equal(run(), run())


def test_embed_restores_training_mode(csbm):
    m = DGI.from_config(32, **config_for("dgi"))
    m.train()
    m.embed(csbm)
    assert m.training


def test_unknown_method_suggests():
    with pytest.raises(KeyError, match="Did you mean: grace"):
        get_method("grase")


def test_user_encoder_plugs_into_grace(csbm):
    from torch_geometric.nn.models import GAT
    method = GRACE(GAT(32, 16, num_layers=2), embedding_dim=16,
                   view1={"edge_drop": 0.2}, view2={"feature_mask": 0.2})
    Trainer(epochs=2, progress=False).fit(method, csbm)
    assert method.embed(csbm).shape == (400, 16)
    with pytest.raises(ValueError, match="embedding_dim"):
        GRACE(torch.nn.Linear(32, 16), view1={}, view2={})  # no out_channels to read


def test_registry_names_and_reregistration():
    from graphssl.methods import Method, register_method

    @register_method("my_method")
    class MyMethod(Method):
        pass

    assert get_method("My-Method") is MyMethod and get_method("my_method") is MyMethod

    @register_method("my_method")  # the same class defined again (re-run notebook cell)
    class MyMethod(Method):  # noqa: F811
        pass

    assert get_method("my_method") is MyMethod
    with pytest.raises(ValueError, match="already registered"):
        register_method("grace")(type("Other", (Method,), {}))
    METHODS.pop("my-method")


def test_build_view_from_config():
    from graphssl.augment import FeatureShuffle, Identity
    from graphssl.methods import build_view
    assert isinstance(build_view({"feature_shuffle": True}).augmentations[0], FeatureShuffle)
    assert isinstance(build_view({"edge_drop": 0.0}), Identity)
    assert repr(build_view({"subgraph": {"method": "khop", "num_hops": 1}})).startswith(
        "Compose([Subgraph(method='khop'")
    with pytest.raises(ValueError, match="unknown augmentation 'edge_dropp'"):
        build_view({"edge_dropp": 0.1})


def test_trainer_refuses_one_shot_iterators(csbm):
    with pytest.raises(TypeError, match="one-shot iterator"):
        Trainer(epochs=2, progress=False).fit(DGI.from_config(32), iter([csbm]))


@pytest.mark.parametrize("name", GRAPH_LEVEL)
def test_graph_level_methods_train_on_batches(name):
    from torch_geometric.loader import DataLoader
    graphs = [small_graph(8 + i % 5, 16, num_features=8, seed=i) for i in range(24)]
    torch.manual_seed(0)
    method = build_method(name, 8, **config_for(name))
    trainer = Trainer(epochs=15, lr=0.01, progress=False)
    trainer.fit(method, DataLoader(graphs, batch_size=8, shuffle=True))
    losses = [r["loss"] for r in trainer.history]
    assert all(torch.isfinite(torch.tensor(losses))) and min(losses[-3:]) < losses[0]
    batch = Batch.from_data_list(graphs)
    assert method.embed_graphs(batch).shape == (24, method.encoder.out_channels)
    with pytest.raises(ValueError, match="at least 2 graphs"):
        method.loss(Batch.from_data_list(graphs[:1]))
