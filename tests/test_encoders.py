import pytest
import torch
from torch_geometric.nn.models import GCN

from graphssl.encoders import (GATEncoder, GCNEncoder, GINEncoder, Readout, SAGEEncoder,
                               build_encoder, encode)

from conftest import small_graph


@pytest.mark.parametrize("cls", [GCNEncoder, GATEncoder, SAGEEncoder, GINEncoder])
def test_shapes_and_gradients(cls, graph):
    enc = cls(8, 16, num_layers=2, out_channels=4)
    z = enc(graph.x, graph.edge_index)
    assert z.shape == (graph.num_nodes, 4)
    z.sum().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad)


def test_sparse_input_equals_dense():
    torch.manual_seed(0)
    g = small_graph(100, 300, num_features=200)
    g.x = g.x * (torch.rand_like(g.x) < 0.02)  # bag-of-words-like: 98% zeros
    sparse = GCNEncoder(200, 32, sparse_input=True)
    dense = GCNEncoder(200, 32, sparse_input=False)
    dense.load_state_dict(sparse.state_dict())
    zs, zd = sparse(g.x, g.edge_index), dense(g.x, g.edge_index)
    assert torch.allclose(zs, zd, atol=1e-5)
    zs.sum().backward()
    zd.sum().backward()
    assert torch.allclose(sparse.convs[0].lin.weight.grad, dense.convs[0].lin.weight.grad,
                          atol=1e-4)


def test_edge_weight_reaches_gcn(graph):
    enc = GCNEncoder(8, 16)
    a = enc(graph.x, graph.edge_index, graph.edge_weight)
    b = enc(graph.x, graph.edge_index)
    assert not torch.allclose(a, b)


def test_wrong_feature_size_is_named(graph):
    with pytest.raises(ValueError, match=r"expects x of shape \[num_nodes, 9\]"):
        GCNEncoder(9, 16)(graph.x, graph.edge_index)


def test_bad_configuration():
    with pytest.raises(ValueError, match="activation"):
        GCNEncoder(4, 8, activation="swish")
    with pytest.raises(ValueError, match="num_layers"):
        GCNEncoder(4, 8, num_layers=0)
    # bools used to pass: True as 1 channel (isinstance(True, int)), False as dropout 0
    with pytest.raises(ValueError, match="hidden_channels must be a positive integer, got True"):
        GCNEncoder(4, True)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got False"):
        GCNEncoder(4, 8, dropout=False)
    with pytest.raises(ValueError, match="encoder type"):
        build_encoder("transformer", 4, hidden_channels=8)


def test_any_pyg_model_plugs_in(graph):
    model = GCN(8, 16, num_layers=2)
    z = encode(model, graph)  # edge_weight is passed: PyG's GCN accepts it
    assert torch.allclose(z, model(graph.x, graph.edge_index, edge_weight=graph.edge_weight))

    class Custom(torch.nn.Module):
        def forward(self, x, edge_index):
            return x * 2

    assert torch.equal(encode(Custom(), graph), graph.x * 2)


def test_readout_batched(batch):
    z = torch.ones(batch.num_nodes, 3)
    assert torch.equal(Readout("sum")(z, batch.batch)[:, 0],
                       torch.bincount(batch.batch).float())
    assert Readout("mean")(z).shape == (1, 3)


def test_sparse_cache_reuses_and_invalidates(graph):
    enc = GCNEncoder(8, 16)
    a = enc(graph.x, graph.edge_index)
    assert torch.equal(a, enc(graph.x, graph.edge_index))
    ei = graph.edge_index.clone()
    b = enc(graph.x, ei)
    ei[1, :] = ei[0, :]  # in-place edit of a cached graph: must not be served stale
    c = enc(graph.x, ei)
    assert torch.allclose(a, b) and not torch.allclose(b, c)
    fresh = GCNEncoder(8, 16)
    fresh.load_state_dict(enc.state_dict())
    assert torch.allclose(fresh(graph.x, ei), c)


def test_gat_dgl_initialisation():
    torch.manual_seed(0)
    pyg = GATEncoder(300, 256, num_layers=2, heads=4)
    dgl = GATEncoder(300, 256, num_layers=2, heads=4, init="dgl")
    gain = 2 ** 0.5  # xavier normal with the ReLU gain: std = gain * sqrt(2 / (fan_in + fan_out))
    for p_conv, d_conv, fan_in in zip(pyg.convs, dgl.convs, (300, 256)):
        expected = gain * (2 / (fan_in + 256)) ** 0.5
        assert abs(float(d_conv.lin.weight.std()) / expected - 1) < 0.05
        assert float(d_conv.lin.weight.std()) > 1.3 * float(p_conv.lin.weight.std())
        assert torch.count_nonzero(d_conv.bias) == 0
    before = dgl.convs[0].lin.weight.std()
    dgl.reset_parameters()  # keeps the DGL scale
    assert abs(float(dgl.convs[0].lin.weight.std()) / float(before) - 1) < 0.05
    with pytest.raises(ValueError, match="init must be one of"):
        GATEncoder(8, 8, init="xavier")


def test_prelu_shared_has_one_slope():
    per_channel = GCNEncoder(8, 16, num_layers=2, activation="prelu")
    shared = GCNEncoder(8, 16, num_layers=2, activation="prelu_shared")
    assert [a.weight.numel() for a in per_channel.acts] == [16, 16]
    assert [a.weight.numel() for a in shared.acts] == [1, 1]
    with pytest.raises(ValueError, match="prelu_shared"):
        GCNEncoder(8, 16, activation="prelu-shared")


def test_act_first_orders_activation_and_batch_norm(graph):
    torch.manual_seed(0)
    default = GINEncoder(8, 16, num_layers=2, activation="relu", batch_norm=True)
    first = GINEncoder(8, 16, num_layers=2, activation="relu", batch_norm=True, act_first=True)
    first.load_state_dict(default.state_dict())
    a, b = default(graph.x, graph.edge_index), first(graph.x, graph.edge_index)
    assert float(a.min()) >= 0  # relu(bn(.)): non-negative
    assert float(b.min()) < 0  # bn(relu(.)): centred per channel over the batch
    assert torch.allclose(b.mean(0), torch.zeros(16), atol=1e-5)
    # by hand: the last layer's output is bn(relu(conv(h)))
    h = first.norms[0](torch.relu(first.convs[0](graph.x, graph.edge_index)))
    expected = first.norms[1](torch.relu(first.convs[1](h, graph.edge_index)))
    assert torch.allclose(b, expected, atol=1e-6)
    with pytest.raises(ValueError, match="act_first must be True or False"):
        GINEncoder(8, 16, act_first="yes")


def test_xavier_linears_reinitialises_every_linear_layer():
    from graphssl.encoders.init import check_init, xavier_linears_
    from graphssl.methods.infograph import InfoGraph

    torch.manual_seed(0)
    method = InfoGraph(GINEncoder(7, 32, num_layers=4, jk="cat"), init="xavier")
    linears = [m for m in method.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4 * 2 + 2 * 4  # two per GIN layer, four per head
    for layer in linears:
        fan_out, fan_in = layer.weight.shape
        bound = (6 / (fan_in + fan_out)) ** 0.5  # xavier uniform, gain 1
        assert float(layer.weight.abs().max()) <= bound
        assert float(layer.weight.abs().max()) > 0.9 * bound
        assert torch.count_nonzero(layer.bias) == 0
    default = InfoGraph(GINEncoder(7, 32, num_layers=4, jk="cat"))
    assert all(torch.count_nonzero(m.bias) > 0 for m in default.modules()
               if isinstance(m, torch.nn.Linear))
    assert xavier_linears_(default) is default
    with pytest.raises(ValueError, match="init must be one of"):
        check_init("kaiming")


def test_graphcl_xavier_init_and_bad_init():
    from graphssl.methods.graphcl import GraphCL

    method = GraphCL(GINEncoder(7, 32, num_layers=3, jk="cat"), init="xavier")
    assert all(torch.count_nonzero(m.bias) == 0 for m in method.modules()
               if isinstance(m, torch.nn.Linear))
    with pytest.raises(ValueError, match="init must be one of"):
        GraphCL(GINEncoder(7, 32, num_layers=3, jk="cat"), init="glorot")
