import pytest
import torch
from torch_geometric.data import Batch

from graphssl.augment import (Compose, EdgeAdd, EdgeDrop, FeatureMask, FeatureShuffle, Identity,
                              NodeDrop, PPRDiffusion, RandomChoice, Subgraph)

from conftest import small_graph

ALL = [EdgeDrop(0.3), EdgeDrop(0.3, undirected=True), FeatureMask(0.3),
       FeatureMask(0.3, mode="node"), FeatureMask(0.3, mode="entry"), NodeDrop(0.3),
       Subgraph("random_walk", 0.1, walk_length=4), Subgraph("khop", 0.1, num_hops=1),
       EdgeAdd(0.2), PPRDiffusion(0.2, eps=1e-3), FeatureShuffle(),
       Compose([EdgeDrop(0.2), FeatureMask(0.2)]),
       RandomChoice([EdgeDrop(0.2), NodeDrop(0.2), FeatureMask(0.2)], num_choices=2)]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def snapshot(data):
    return {k: v.clone() for k, v in data.items() if isinstance(v, torch.Tensor)}


def same(a, b):
    ka = {k for k, v in a.items() if isinstance(v, torch.Tensor)}
    kb = {k for k, v in b.items() if isinstance(v, torch.Tensor)}
    return ka == kb and all(torch.equal(a[k], b[k]) for k in ka)


@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_never_in_place_and_deterministic(aug, graph):
    before = snapshot(graph)
    v1, v2 = aug(graph, gen(1)), aug(graph, gen(1))
    assert all(torch.equal(graph[k], t) for k, t in before.items()), "input was modified"
    assert v1 is not graph or isinstance(aug, Identity)
    assert same(v1, v2), "same seed must give the same view"


@pytest.mark.parametrize("aug", [a for a in ALL if not isinstance(a, PPRDiffusion)], ids=repr)
def test_different_seeds_differ(aug):
    g = small_graph(200, 800)
    assert not same(aug(g, gen(1)), aug(g, gen(2)))


@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_batched_graphs_stay_consistent(aug, batch):
    out = aug(batch, gen(3))
    assert out.batch.numel() == out.num_nodes == out.x.size(0)
    assert int(out.batch.max()) + 1 == batch.num_graphs  # no graph vanishes
    row, col = out.edge_index
    assert torch.equal(out.batch[row], out.batch[col]), "an edge crosses two graphs"
    if out.edge_index.numel():
        assert int(out.edge_index.max()) < out.num_nodes


@pytest.mark.parametrize("cls", [EdgeDrop, FeatureMask, NodeDrop, EdgeAdd])
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.2"])
def test_probability_outside_unit_interval_is_refused(cls, p):
    with pytest.raises(ValueError, match="p must be a probability in \\[0, 1\\]"):
        cls(p)


def test_repr_shows_arguments():
    assert repr(EdgeDrop(0.2)) == "EdgeDrop(p=0.2, undirected=False)"
    assert repr(FeatureMask(0.3)) == "FeatureMask(p=0.3, mode='column')"
    assert repr(Compose([EdgeDrop(0.1)])) == "Compose([EdgeDrop(p=0.1, undirected=False)])"


def test_edge_drop_rate_and_extremes():
    g = small_graph(500, 20000)
    e = g.edge_index.size(1)
    assert EdgeDrop(0.0)(g, gen()).edge_index.size(1) == e
    assert EdgeDrop(1.0)(g, gen()).edge_index.size(1) == 0
    kept = EdgeDrop(0.3)(g, gen()).edge_index.size(1) / e
    assert abs(kept - 0.7) < 0.02
    out = EdgeDrop(0.3)(g, gen())
    assert out.edge_weight.numel() == out.edge_index.size(1)  # edge attributes follow


def test_edge_drop_undirected_keeps_both_directions():
    g = small_graph(100, 400)
    out = EdgeDrop(0.5, undirected=True)(g, gen())
    pairs = set(map(tuple, out.edge_index.t().tolist()))
    assert all((j, i) in pairs for i, j in pairs)


def test_feature_mask_columns_per_graph(batch):
    out = FeatureMask(0.5)(batch, gen())
    zero_cols = [(out.x[out.batch == b] == 0).all(0) for b in range(batch.num_graphs)]
    for b in range(batch.num_graphs):  # a masked column is zero for every node of its graph
        xb = out.x[out.batch == b]
        orig = batch.x[batch.batch == b]
        assert torch.equal(xb[:, ~zero_cols[b]], orig[:, ~zero_cols[b]])
    assert len({tuple(z.tolist()) for z in zero_cols}) > 1  # independent draws per graph


def test_feature_mask_rate():
    g = small_graph(2000, 10, num_features=400)
    frac = (FeatureMask(0.25, mode="entry")(g, gen()).x == 0).float().mean().item()
    assert abs(frac - 0.25) < 0.01


def test_node_drop_keeps_a_node_per_graph(batch):
    out = NodeDrop(1.0)(batch, gen())
    assert out.num_nodes == batch.num_graphs
    assert torch.equal(out.batch, torch.arange(batch.num_graphs))
    assert torch.equal(out.ptr, torch.arange(batch.num_graphs + 1))


def test_node_drop_relabels_edges():
    g = small_graph(300, 1000)
    out = NodeDrop(0.5)(g, gen())
    assert 100 < out.num_nodes < 200 and int(out.edge_index.max()) < out.num_nodes


def test_edge_add_count_and_attributes(graph):
    out = EdgeAdd(0.5)(graph, gen())
    assert out.edge_index.size(1) == graph.edge_index.size(1) + round(0.5 * graph.edge_index.size(1))
    assert out.edge_weight.numel() == out.edge_index.size(1)


def test_subgraph_random_walk_is_connected_to_roots():
    g = small_graph(200, 300)
    out = Subgraph("random_walk", root_ratio=0.02, walk_length=3)(g, gen())
    assert 0 < out.num_nodes < g.num_nodes


def test_isolated_nodes_and_no_edges_are_handled():
    g = small_graph(20, 0)
    for aug in ALL:
        out = aug(g, gen())
        assert out.x.size(0) == out.num_nodes


def test_ppr_matches_closed_form_and_is_batched(batch):
    aug = PPRDiffusion(alpha=0.15, eps=0.0)
    first = batch.get_example(0)
    single = aug(first)
    n = first.num_nodes
    a = torch.zeros(n, n)
    a.index_put_((first.edge_index[0], first.edge_index[1]), first.edge_weight, accumulate=True)
    a = a + torch.eye(n)
    d = a.sum(1).pow(-0.5)
    s = 0.15 * torch.linalg.inv(torch.eye(n) - 0.85 * d[:, None] * a * d[None, :])
    dense = torch.zeros(n, n)
    dense[single.edge_index[0], single.edge_index[1]] = single.edge_weight
    assert torch.allclose(dense, s, atol=1e-5)
    batched = aug(batch)
    m = batched.batch[batched.edge_index[0]] == 0
    assert torch.allclose(batched.edge_weight[m].sum(), single.edge_weight.sum(), atol=1e-4)


@pytest.mark.parametrize("minmax", [False, True])
def test_ppr_solves_an_oversized_batch_in_chunks_with_the_same_result(minmax):
    graphs = [small_graph(n, 3 * n, seed=n) for n in (30, 5, 12, 8, 30, 6)]
    for g in graphs:
        g.edge_weight = None
    batch = Batch.from_data_list(graphs)
    whole = PPRDiffusion(alpha=0.2, eps=1e-3, minmax_columns=minmax)(batch)
    chunked = PPRDiffusion(alpha=0.2, eps=1e-3, minmax_columns=minmax)
    chunked.MAX_DENSE_ENTRIES = 2 * 30 * 30  # 6 x 30^2 padded entries do not fit in one solve
    out = chunked(batch)
    assert torch.equal(out.edge_index, whole.edge_index)  # same edges, same order
    assert torch.allclose(out.edge_weight, whole.edge_weight, atol=1e-6)
    too_small = PPRDiffusion(alpha=0.2)
    too_small.MAX_DENSE_ENTRIES = 29 * 29  # the 30-node graphs alone do not fit
    with pytest.raises(ValueError, match="a graph of 30 nodes needs 30\\^2 entries.*GDC"):
        too_small(batch)


def test_ppr_bad_alpha():
    with pytest.raises(ValueError, match="alpha must be in \\(0, 1\\)"):
        PPRDiffusion(alpha=1.0)


@pytest.mark.parametrize("eps", [float("nan"), float("inf"), True, -1e-6])
def test_ppr_bad_eps(eps):
    # nan and inf used to pass (nan < 0 and inf < 0 are False), and True counted as 1
    with pytest.raises(ValueError, match=r"eps must be .*>= 0, got"):
        PPRDiffusion(eps=eps)


@pytest.mark.parametrize("name", ["walk_length", "num_hops"])
def test_subgraph_rejects_bool_lengths(name):
    with pytest.raises(ValueError, match=f"{name} must be a non-negative integer, got True"):
        Subgraph(**{name: True})


def test_random_choice_draws_from_generator():
    rc = RandomChoice([EdgeDrop(0.5), FeatureMask(0.5)], num_choices=1)
    g = small_graph(100, 300)
    views = [rc(g, gen(s)) for s in range(10)]
    kinds = {(v.edge_index.size(1) == g.edge_index.size(1)) for v in views}
    assert kinds == {True, False}
    with pytest.raises(ValueError, match="num_choices"):
        RandomChoice([EdgeDrop(0.1)], num_choices=2)


def test_compose_accepts_plain_transforms(graph):
    from torch_geometric.transforms import NormalizeFeatures
    out = Compose([NormalizeFeatures(), EdgeDrop(0.1)])(graph.clone().apply(torch.abs, "x"), gen())
    assert torch.allclose(out.x.sum(1), torch.ones(out.num_nodes), atol=1e-5)


def test_generator_type_checked(graph):
    with pytest.raises(TypeError, match="torch.Generator"):
        EdgeDrop(0.1)(graph, generator=0)


SAME_ON_SPARSE = [FeatureMask(0.4), FeatureMask(0.4, mode="node"), FeatureShuffle(), NodeDrop(0.3),
                  Subgraph("random_walk", 0.1, walk_length=3), Subgraph("khop", 0.1, 1),
                  EdgeDrop(0.3), EdgeAdd(0.2), PPRDiffusion(0.2, eps=1e-3),
                  Compose([EdgeDrop(0.2), FeatureMask(0.2)])]


def sparse_version(data):
    from graphssl.sparse import to_sparse_features
    data = data.clone()
    data.x = data.x * (torch.rand(data.x.shape, generator=gen(5)) < 0.05)
    out = to_sparse_features(data)
    assert out.x.layout == torch.sparse_csr and data.x.layout == torch.strided
    return data, out


@pytest.mark.parametrize("aug", SAME_ON_SPARSE, ids=repr)
@pytest.mark.parametrize("batched", [False, True])
def test_sparse_features_give_the_same_views(aug, batched):
    g = (Batch.from_data_list([small_graph(30 + 10 * i, 60, num_features=40, seed=i)
                               for i in range(3)]) if batched else small_graph(80, 200, 40))
    dense, sparse = sparse_version(g)
    a, b = aug(dense, gen(2)), aug(sparse, gen(2))
    assert b.x.layout == torch.sparse_csr
    assert torch.equal(a.x, b.x.to_dense())
    assert torch.equal(a.edge_index, b.edge_index)
    if batched:
        assert torch.equal(a.batch, b.batch)


def test_sparse_entry_mask_rate():
    _, sparse = sparse_version(small_graph(2000, 10, num_features=400))
    before = sparse.x.values() != 0
    after = FeatureMask(0.25, mode="entry")(sparse, gen()).x.values() != 0
    assert abs(1 - after.sum() / before.sum() - 0.25) < 0.02


def test_csr_row_gather_matches_dense():
    from graphssl.sparse import csr_rows
    x = torch.rand(40, 7) * (torch.rand(40, 7) < 0.3)
    idx = torch.tensor([5, 5, 0, 39, 12])
    assert torch.equal(csr_rows(x.to_sparse_csr(), idx).to_dense(), x[idx])
    empty = torch.zeros(4, 3).to_sparse_csr()
    assert csr_rows(empty, torch.tensor([1, 2])).to_dense().abs().sum() == 0


def test_ppr_minmax_columns_matches_minmaxscaler_and_is_per_graph():
    from sklearn.preprocessing import MinMaxScaler
    g = small_graph(30, 60)
    g.edge_weight = None
    plain = PPRDiffusion(alpha=0.2, eps=0.01)(g)
    scaled = PPRDiffusion(alpha=0.2, eps=0.01, minmax_columns=True)(g)
    n = g.num_nodes
    # the authors' orientation: out = S @ X, S[target, source]; MinMaxScaler scales columns
    s = torch.zeros(n, n)
    s[plain.edge_index[1], plain.edge_index[0]] = plain.edge_weight
    expected = torch.as_tensor(MinMaxScaler().fit_transform(s.numpy()))
    ours = torch.zeros(n, n)
    ours[scaled.edge_index[1], scaled.edge_index[0]] = scaled.edge_weight
    assert torch.allclose(ours, expected, atol=1e-6)
    assert float(scaled.edge_weight.max()) == pytest.approx(1.0)
    # batched: each graph scaled on its own, as if alone
    other = small_graph(12, 20, seed=3)
    other.edge_weight = None
    batched = PPRDiffusion(alpha=0.2, eps=0.01, minmax_columns=True)(
        Batch.from_data_list([g, other]))
    first = batched.edge_index[0] < n
    assert torch.allclose(batched.edge_weight[first].sort().values,
                          scaled.edge_weight.sort().values, atol=1e-6)
    assert "minmax_columns=True" in repr(PPRDiffusion(minmax_columns=True))
    with pytest.raises(ValueError, match="minmax_columns"):
        PPRDiffusion(minmax_columns="yes")
