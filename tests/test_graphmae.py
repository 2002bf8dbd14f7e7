"""GraphMAE: the SCE objective, masking, re-masking, and the shipped configurations."""
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GATConv

from graphssl.bench.config import method_config
from graphssl.data.synthetic import csbm_graph
from graphssl.methods import GraphMAE, GraphMAEGraph, build_method, get_method
from graphssl.objectives import SCE
from graphssl.train import Trainer

from conftest import small_graph

F_IN = 8


def make(mask_rate=0.5, replace_rate=0.0, **kw):
    torch.manual_seed(0)
    return GraphMAE.from_config(F_IN, encoder={"hidden_channels": 16, "heads": 2},
                                mask_rate=mask_rate, replace_rate=replace_rate, **kw)


def with_isolated_nodes(num_connected=20, num_isolated=10, seed=0):
    g = small_graph(num_connected, 40, num_features=F_IN, seed=seed)
    n = num_connected + num_isolated
    extra = torch.randn(num_isolated, F_IN, generator=torch.Generator().manual_seed(1))
    x = torch.cat([g.x, extra])
    return Data(x=x, edge_index=g.edge_index, num_nodes=n)


# ---- SCE ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0])
def test_sce_of_identical_and_opposite_rows(alpha):
    x = torch.randn(10, 5)
    sce = SCE(alpha)
    assert sce(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert sce(x, 3.0 * x).item() == pytest.approx(0.0, abs=1e-6)  # scale does not matter
    assert sce(x, -x).item() == pytest.approx(2.0 ** alpha, rel=1e-5)


def test_sce_matches_the_formula_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 4, generator=g, requires_grad=True)
    y = torch.randn(7, 4, generator=g)
    loss = SCE(2.5)(x, y)
    cos = torch.nn.functional.cosine_similarity(x, y, dim=1)
    assert torch.allclose(loss, ((1 - cos) ** 2.5).mean(), atol=1e-6)
    loss.backward()
    assert torch.isfinite(x.grad).all()
    zero = torch.zeros(3, 4, requires_grad=True)  # zero rows: cosine 0, finite
    out = SCE()(zero, torch.ones(3, 4))
    out.backward()
    assert out.item() == pytest.approx(1.0) and torch.isfinite(zero.grad).all()


@pytest.mark.parametrize("alpha", [0.5, 0, -1, True, "2", float("nan"), float("inf")])
def test_sce_rejects_alpha_below_one(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number >= 1"):
        SCE(alpha)


def test_sce_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        SCE()(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="2-D"):
        SCE()(torch.randn(4), torch.randn(4))


# ---- masking -----------------------------------------------------------------------------

@pytest.mark.parametrize("n, rate", [(50, 0.3), (31, 0.5), (10, 0.75), (7, 0.1)])
def test_number_of_masked_nodes(n, rate):
    method = make(mask_rate=rate)
    x = torch.randn(n, F_IN)
    masked_x, masked = method.mask(x, torch.Generator().manual_seed(0))
    assert masked.numel() == max(1, int(rate * n))  # the authors' int(), at least one node
    assert masked.unique().numel() == masked.numel()
    keep = torch.ones(n, dtype=torch.bool)
    keep[masked] = False
    assert torch.equal(masked_x[keep], x[keep])  # unmasked rows untouched
    assert torch.equal(masked_x[masked], method.enc_mask_token.expand(masked.numel(), -1))


def test_masking_is_deterministic_under_a_generator():
    method = make()
    x = torch.randn(40, F_IN)
    a = method.mask(x, torch.Generator().manual_seed(3))[1]
    b = method.mask(x, torch.Generator().manual_seed(3))[1]
    c = method.mask(x, torch.Generator().manual_seed(4))[1]
    assert torch.equal(a, b) and not torch.equal(a.sort().values, c.sort().values)
    data = small_graph(40, 80, num_features=F_IN)
    method.eval()  # no dropout: the loss is a function of the generator state only
    l1 = method.loss(data, torch.Generator().manual_seed(3))
    l2 = method.loss(data, torch.Generator().manual_seed(3))
    assert torch.equal(l1, l2)


def test_random_replacement():
    method = make(mask_rate=0.5, replace_rate=0.25)
    x = torch.randn(80, F_IN)
    masked_x, masked = method.mask(x, torch.Generator().manual_seed(0))
    assert masked.numel() == 40
    rows = masked_x[masked]
    token = (rows == method.enc_mask_token).all(dim=1)
    assert int(token.sum()) == 40 - int(0.25 * 40)
    # every replaced row is some node's original feature vector
    others = rows[~token]
    assert others.size(0) == 10
    assert (torch.cdist(others, x) < 1e-6).any(dim=1).all()


def test_mask_token_is_a_learnable_parameter_with_gradient():
    method = make()
    assert isinstance(method.enc_mask_token, torch.nn.Parameter)
    assert method.enc_mask_token.shape == (1, F_IN)
    assert any(p is method.enc_mask_token for p in method.parameters())
    method.loss(small_graph(30, 60, num_features=F_IN), torch.Generator().manual_seed(0)).backward()
    assert method.enc_mask_token.grad is not None
    assert method.enc_mask_token.grad.abs().sum() > 0


def test_loss_depends_on_the_masked_rows_only():
    """Isolated nodes (GAT attends to the node itself only) influence nothing but their own
    rows. An unmasked isolated node's features feed its own input and target: changing them
    must leave the loss unchanged. A masked isolated node's input is the token whatever its
    features, so changing them changes its target only: the loss must change."""
    method = make(mask_rate=0.5)
    method.eval()  # no dropout
    # a re-masked isolated node is reconstructed as the decoder's bias (zeros at init: cosine 0
    # with every target); a non-zero bias makes its error depend on its target
    torch.nn.init.normal_(method.decoder.convs[0].bias, generator=torch.Generator().manual_seed(0))
    data = with_isolated_nodes()
    seed = 5
    _, masked = method.mask(data.x, torch.Generator().manual_seed(seed))
    is_masked = torch.zeros(data.num_nodes, dtype=torch.bool)
    is_masked[masked] = True
    isolated = torch.arange(20, 30)
    unmasked_iso, masked_iso = isolated[~is_masked[isolated]], isolated[is_masked[isolated]]
    assert len(unmasked_iso) and len(masked_iso)
    base = method.loss(data, torch.Generator().manual_seed(seed))

    changed = data.clone()
    changed.x[unmasked_iso] = torch.randn(len(unmasked_iso), F_IN) * 5
    assert torch.allclose(method.loss(changed, torch.Generator().manual_seed(seed)), base,
                          atol=1e-6)

    changed = data.clone()
    changed.x[masked_iso] = -changed.x[masked_iso]
    assert not torch.allclose(method.loss(changed, torch.Generator().manual_seed(seed)), base,
                              atol=1e-4)

    # and the loss is the SCE of the masked rows of the reconstruction
    recon, masked2 = method.reconstruct(data, torch.Generator().manual_seed(seed))
    assert torch.equal(masked, masked2)
    assert torch.allclose(base, method.objective(recon[masked], data.x[masked]))


def test_remask_zeroes_masked_hidden_rows_before_the_decoder():
    method = make(mask_rate=0.4)
    seen = {}
    method.decoder.register_forward_pre_hook(lambda m, args: seen.update(h=args[0]))
    data = small_graph(30, 80, num_features=F_IN)
    method.loss(data, torch.Generator().manual_seed(1))
    _, masked = method.mask(data.x, torch.Generator().manual_seed(1))
    h = seen["h"]
    assert h.shape == (30, method.encoder.out_channels)
    assert (h[masked] == 0).all()
    keep = torch.ones(30, dtype=torch.bool)
    keep[masked] = False
    assert (h[keep].abs().sum(dim=1) > 0).all()


@pytest.mark.parametrize("name, value", [("mask_rate", 0.0), ("mask_rate", 1.0),
                                         ("mask_rate", -0.2), ("mask_rate", 1.5),
                                         ("mask_rate", True), ("mask_rate", "0.5"),
                                         ("replace_rate", 1.0), ("replace_rate", -0.1),
                                         ("input_dropout", 1.0)])
def test_bad_rates_raise(name, value):
    with pytest.raises(ValueError, match=f"{name} must be in .*got {value!r}"):
        make(**{name: value})
    with pytest.raises(ValueError, match=name):
        build_method("graphmae", F_IN, encoder={"hidden_channels": 16}, **{name: value})


def test_decoder_must_reconstruct_the_input_features():
    from graphssl.encoders import GATEncoder
    with pytest.raises(ValueError, match="reconstruct the 8 target features"):
        GraphMAE(GATEncoder(F_IN, 16), GATEncoder(16, 5, num_layers=1))
    with pytest.raises(ValueError, match="remove decoder hidden_channels"):
        GraphMAE.from_config(F_IN, decoder={"hidden_channels": 4})


def test_from_config_structure():
    method = GraphMAE.from_config(F_IN, encoder={"hidden_channels": 16, "heads": 4},
                                  attention_dropout=0.1)
    assert method.encoder.sparse_input is False
    assert method.encoder_to_decoder.bias is None
    gats = [m for m in method.modules() if isinstance(m, GATConv)]
    assert len(gats) == 3 and all(m.dropout == 0.1 for m in gats)
    assert method.encoder.convs[0].heads == 4 and method.decoder.convs[0].heads == 1
    recon, _ = method.reconstruct(small_graph(20, 40, num_features=F_IN))
    assert recon.shape == (20, F_IN)
    assert get_method("graphmae") is GraphMAE and get_method("graphmae-graph") is GraphMAEGraph
    assert GraphMAE.level == "node" and GraphMAEGraph.level == "graph"


def test_sparse_csr_features_give_the_same_loss():
    method = make()
    method.eval()
    data = small_graph(30, 60, num_features=F_IN)
    data.x = data.x * (torch.rand(data.x.shape, generator=torch.Generator().manual_seed(0)) < 0.2)
    sparse = data.clone()
    sparse.x = data.x.to_sparse_csr()
    dense_loss = method.loss(data, torch.Generator().manual_seed(0))
    assert torch.allclose(method.loss(sparse, torch.Generator().manual_seed(0)), dense_loss,
                          atol=1e-6)
    assert torch.allclose(method.embed(sparse), method.embed(data), atol=1e-5)


def test_batched_graphs_are_masked_in_one_pass():
    graphs = [small_graph(10 + i, 20, num_features=F_IN, seed=i) for i in range(4)]
    batch = Batch.from_data_list(graphs)
    method = make(mask_rate=0.5, replace_rate=0.2)
    _, masked = method.mask(batch.x, torch.Generator().manual_seed(0))
    assert masked.numel() == int(0.5 * batch.num_nodes)
    loss = method.loss(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()
    assert method.embed(batch).shape == (batch.num_nodes, 16)


def test_graph_variant_readout_and_batches():
    graphs = [small_graph(8 + i, 16, num_features=F_IN, seed=i) for i in range(6)]
    batch = Batch.from_data_list(graphs)
    method = GraphMAEGraph.from_config(F_IN, encoder={"hidden_channels": 16, "num_layers": 3},
                                       graph_readout="max")
    assert method.graph_readout == "max"
    assert torch.isfinite(method.loss(batch, torch.Generator().manual_seed(0)))
    z = method.embed_graphs(batch)
    nodes = method.embed(batch)
    assert z.shape == (6, 16)
    assert torch.allclose(z[0], nodes[batch.batch == 0].max(dim=0).values)
    with pytest.raises(ValueError, match="at least 2 graphs"):
        method.loss(Batch.from_data_list(graphs[:1]))
    with pytest.raises(ValueError, match="readout mode"):
        GraphMAEGraph.from_config(F_IN, graph_readout="median")


def test_short_training_lowers_the_loss():
    data = csbm_graph(num_nodes=200, num_classes=3, num_features=16, avg_degree=5,
                      homophily=0.9, feature_signal=1.0, seed=0)
    torch.manual_seed(0)
    method = GraphMAE.from_config(16, encoder={"hidden_channels": 32, "heads": 2},
                                  replace_rate=0.1, alpha=2)
    trainer = Trainer(epochs=30, lr=0.01, progress=False)
    trainer.fit(method, data)
    losses = [r["loss"] for r in trainer.history]
    assert sum(losses[-5:]) / 5 < 0.9 * losses[0]


@pytest.mark.parametrize("name, datasets", [
    ("graphmae", ["cora", "citeseer", "amazon-photo"]),
    ("graphmae-graph", ["mutag", "proteins", "imdb-binary", "imdb-multi", "nci1"])])
def test_shipped_configs_build(name, datasets):
    for dataset in datasets:
        config = method_config(name, dataset)
        assert config["tuned"], dataset
        assert isinstance(config["train"]["lr"], float)
        assert isinstance(config["train"].get("weight_decay", 0.0), float)
        method = build_method(name, 12, **config["model"])
        assert method.encoder.sparse_input is False
    cora = method_config("graphmae", "cora")
    assert cora["model"]["alpha"] == 3 and cora["train"]["epochs"] == 1500
    mutag = method_config("graphmae-graph", "mutag")
    if name == "graphmae-graph":
        assert mutag["model"]["graph_readout"] == "sum" and mutag["model"]["mask_rate"] == 0.75
