"""FusedGATConv / attention_spmm: the same layer as PyG's GATConv, aggregated as a sparse
product."""
import pytest
import torch
from torch_geometric.nn import GATConv
from torch_geometric.utils import coalesce

from graphssl.encoders import AttentionGraph, FusedGATConv, GATEncoder, attention_spmm


def random_graph(num_nodes=40, num_edges=160, self_loops=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    edge_index = coalesce(edge_index, num_nodes=num_nodes)  # no repeated edges
    loops = torch.arange(self_loops).repeat(2, 1)          # some self loops already present
    # shuffled, so that PyG's edge order is not the sorted one
    edge_index = torch.cat([edge_index, loops], 1)
    return edge_index[:, torch.randperm(edge_index.size(1), generator=g)]


def pair(in_channels, out_channels, **kwargs):
    torch.manual_seed(0)
    ref = GATConv(in_channels, out_channels, **kwargs)
    fused = FusedGATConv(in_channels, out_channels, **kwargs)
    fused.load_state_dict(ref.state_dict())
    return ref, fused


def forward_backward(conv, x, edge_index, seed=1):
    torch.manual_seed(seed)  # attention dropout
    x = x.clone().requires_grad_()
    out = conv(x, edge_index)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = {name: p.grad.clone() for name, p in conv.named_parameters()}
    conv.zero_grad()
    return out.detach(), x.grad, grads


@pytest.mark.parametrize("kwargs", [
    dict(heads=4),
    dict(heads=1),
    dict(heads=3, concat=False),
    dict(heads=2, add_self_loops=False),
    dict(heads=2, residual=True),
    dict(heads=2, dropout=0.3),           # training mode: the same dropout mask
    dict(heads=2, negative_slope=0.1, separate=True),  # lin_src / lin_dst
])
def test_equals_pyg_gatconv_in_outputs_and_every_gradient(kwargs):
    torch.manual_seed(0)
    x = torch.randn(40, 12)
    edge_index = random_graph()
    separate = kwargs.pop("separate", False)
    ref, fused = pair((12, 12) if separate else 12, 5, **kwargs)
    assert (ref.lin is None) == separate
    out_ref, gx_ref, grads_ref = forward_backward(ref, x, edge_index)
    for arg in (edge_index, AttentionGraph(edge_index, 40)):
        out, gx, grads = forward_backward(fused, x, arg)
        torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-6)
        assert grads.keys() == grads_ref.keys()
        for name in grads:
            torch.testing.assert_close(grads[name], grads_ref[name], rtol=1e-5, atol=1e-5)


def test_eval_mode_and_isolated_nodes():
    # nodes 30-39 have no edges at all: with self loops they attend to themselves only
    edge_index = random_graph(num_nodes=30, num_edges=60)
    x = torch.randn(40, 6)
    ref, fused = pair(6, 4, heads=2, dropout=0.5)
    ref.eval(), fused.eval()
    torch.testing.assert_close(fused(x, edge_index), ref(x, edge_index), rtol=1e-5, atol=1e-6)


def test_attention_spmm_gradcheck():
    edge_index = random_graph(num_nodes=9, num_edges=25)
    pattern = AttentionGraph(edge_index, 9).pattern(self_loops=True)
    alpha = torch.rand(pattern.num_edges, 2, dtype=torch.float64, requires_grad=True)
    x = torch.randn(9, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, v: attention_spmm(a, v, pattern), (alpha, x))


def test_attention_spmm_is_the_weighted_sum_over_incoming_edges():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 1]])  # 0->1, 1->2, 2->1
    pattern = AttentionGraph(edge_index, 3).pattern(self_loops=False)
    alpha = torch.tensor([[1.0], [2.0], [3.0]])
    x = torch.tensor([[[10.0]], [[20.0]], [[30.0]]])
    out = attention_spmm(alpha, x, pattern)
    assert out.view(-1).tolist() == [0.0, 1 * 10 + 3 * 30, 2 * 20]
    with pytest.raises(ValueError, match=r"alpha must have shape \[3, 1\]"):
        attention_spmm(alpha[:2], x, pattern)


def test_falls_back_to_pyg_where_the_fast_path_does_not_apply():
    torch.manual_seed(0)
    x = torch.randn(40, 12)
    edge_index = random_graph()
    # repeated edges: GATConv sends two messages; a CSR position holds one value
    repeated = torch.cat([edge_index, edge_index[:, :5]], 1)
    ref, fused = pair(12, 5, heads=2)
    torch.testing.assert_close(fused(x, repeated), ref(x, repeated))
    assert AttentionGraph(repeated, 40).pattern(True).has_duplicates
    # edge features
    ref, fused = pair(12, 5, heads=2, edge_dim=3)
    edge_attr = torch.randn(edge_index.size(1), 3)
    torch.testing.assert_close(fused(x, edge_index, edge_attr), ref(x, edge_index, edge_attr))
    # attention weights asked for
    out, (ei, alpha) = fused(x, edge_index, return_attention_weights=True)
    assert alpha.shape == (ei.size(1), 2)


def test_a_graph_of_another_size_is_refused():
    fused = FusedGATConv(6, 4)
    with pytest.raises(ValueError, match="AttentionGraph has 10 nodes but x has 12 rows"):
        fused(torch.randn(12, 6), AttentionGraph(random_graph(num_nodes=10), 10))
    with pytest.raises(ValueError, match=r"edge_index must have shape \[2, num_edges\]"):
        AttentionGraph(torch.zeros(3, 4, dtype=torch.long), 4)


def test_gat_encoder_shares_one_attention_graph_per_edge_index():
    torch.manual_seed(0)
    enc = GATEncoder(12, 16, num_layers=2, heads=4)
    assert all(isinstance(conv, FusedGATConv) for conv in enc.convs)
    x, edge_index = torch.randn(40, 12), random_graph()
    enc(x, edge_index)
    first = enc._sparse_cache["adj"][0][1]
    assert isinstance(first, AttentionGraph) and first.edge_index is edge_index
    enc(x, edge_index)
    assert enc._sparse_cache["adj"][0][1] is first
    # same parameters as a stack of PyG layers: old checkpoints load
    ref = GATConv(12, 4, heads=4)
    assert enc.convs[0].state_dict().keys() == ref.state_dict().keys()
