"""FusedGCNConv / GCNGraph: PyG's GCNConv over an adjacency prepared once per graph."""
import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_torch_csr_tensor

from graphssl.encoders import FusedGCNConv, GCNEncoder, GCNGraph
from test_gat_conv import random_graph


def forward_backward(conv, x, *args):
    x = x.clone().requires_grad_()
    out = conv(x, *args)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = {name: p.grad.clone() for name, p in conv.named_parameters()}
    conv.zero_grad()
    return out.detach(), x.grad, grads


@pytest.mark.parametrize("kwargs", [dict(), dict(improved=True), dict(add_self_loops=False),
                                    dict(normalize=False), dict(bias=False)])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_pyg_gcnconv_on_its_sparse_path_in_outputs_and_gradients(kwargs, weighted):
    torch.manual_seed(0)
    x, edge_index = torch.randn(40, 12), random_graph()
    weight = torch.rand(edge_index.size(1)) if weighted else None
    ref = GCNConv(12, 5, **kwargs)
    fused = FusedGCNConv(12, 5, **kwargs)
    fused.load_state_dict(ref.state_dict())
    adj_t = to_torch_csr_tensor(edge_index.flip(0), edge_attr=weight, size=(40, 40))
    out_ref, gx_ref, grads_ref = forward_backward(ref, x, adj_t)
    graph = GCNGraph(edge_index, weight, 40)
    for _ in range(2):  # the second call reuses the graph's operators
        out, gx, grads = forward_backward(fused, x, graph)
        torch.testing.assert_close(out, out_ref)
        torch.testing.assert_close(gx, gx_ref)
        for name in grads_ref:
            torch.testing.assert_close(grads[name], grads_ref[name])
    assert len(graph._operators) == 1
    # and with an edge_index it is GCNConv, message passing included
    torch.testing.assert_close(fused(x, edge_index, weight), ref(x, edge_index, weight))


def test_learned_edge_weights_get_their_gradient():
    torch.manual_seed(0)
    edge_index = random_graph()
    weight = torch.rand(edge_index.size(1), requires_grad=True)
    conv = FusedGCNConv(12, 5, normalize=False)
    conv(torch.randn(40, 12), GCNGraph(edge_index, weight, 40)).sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_bad_graphs_are_refused_with_the_fix():
    edge_index = random_graph(num_nodes=10)
    conv = FusedGCNConv(6, 4)
    with pytest.raises(ValueError, match="GCNGraph has 10 nodes but x has 12 rows"):
        conv(torch.randn(12, 6), GCNGraph(edge_index, None, 10))
    with pytest.raises(ValueError, match="carries its own edge weights"):
        conv(torch.randn(10, 6), GCNGraph(edge_index, None, 10), torch.ones(edge_index.size(1)))
    with pytest.raises(ValueError, match=r"edge_weight must have shape \["):
        GCNGraph(edge_index, torch.ones(3), 10)


def test_gcn_encoder_builds_one_graph_and_normalises_it_once():
    torch.manual_seed(0)
    enc = GCNEncoder(12, 16, num_layers=3)
    assert all(isinstance(conv, FusedGCNConv) for conv in enc.convs)
    x, edge_index = torch.randn(40, 12), random_graph()
    enc(x, edge_index).sum().backward()
    enc(x, edge_index).sum().backward()
    graph = enc._sparse_cache["adj"][0][1]
    assert isinstance(graph, GCNGraph) and len(graph._operators) == 1
    assert enc.convs[0].state_dict().keys() == GCNConv(12, 16).state_dict().keys()
