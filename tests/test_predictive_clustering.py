import math

import pytest
import torch
from torch_geometric.utils import to_dense_adj

from conftest import blobs, small_graph
from graphssl.objectives import CPC, DEC, DMoN


def rand(*shape, seed=0, **kw):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), **kw)


# --- CPC -------------------------------------------------------------------------------------

def cpc_reference(cpc, z, c, mask=None):
    """Literal loops over (k, t, b): the paper's InfoNCE over the batch."""
    b_size, t_len, _ = z.shape
    mask = torch.ones(b_size, t_len, dtype=torch.bool) if mask is None else mask
    terms = []
    for k in range(1, cpc.num_steps + 1):
        w = cpc.heads[k - 1].weight
        for t in range(t_len - k):
            cand = [j for j in range(b_size) if mask[j, t + k]]
            for b in range(b_size):
                if not (mask[b, t] and mask[b, t + k]) or len(cand) < 2:
                    continue
                pred = w @ c[b, t]
                logits = torch.stack([z[j, t + k] @ pred for j in cand]) / cpc.temperature
                terms.append(torch.logsumexp(logits, 0) - logits[cand.index(b)])
    return torch.stack(terms).mean() if terms else torch.zeros(())


def test_cpc_matches_loop_reference():
    torch.manual_seed(0)
    cpc = CPC(latent_dim=5, context_dim=3, num_steps=3, temperature=0.7)
    z, c = rand(6, 7, 5, seed=1), rand(6, 7, 3, seed=2)
    assert torch.allclose(cpc(z, c), cpc_reference(cpc, z, c), atol=1e-5)


def test_cpc_perfect_prediction_low_temperature_is_near_zero():
    b, d = 6, 8
    cpc = CPC(latent_dim=d, context_dim=d, num_steps=2, temperature=0.01)
    with torch.no_grad():
        for head in cpc.heads:
            head.weight.copy_(torch.eye(d))
    z = torch.eye(d)[:b].unsqueeze(1).expand(b, 5, d)  # sequence b: e_b at every step
    c = z.clone()  # W_k c_t = e_b = z_{t+k}: positive score 1, negatives 0
    loss = cpc(z, c)
    expected = math.log1p((b - 1) * math.exp(-1 / 0.01))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert loss.item() < 1e-6
    # at temperature 1 the same inputs give exactly log(1 + (B-1)/e)
    cpc.temperature = 1.0
    assert cpc(z, c).item() == pytest.approx(math.log1p((b - 1) / math.e), rel=1e-5)


def test_cpc_random_inputs_high_temperature_is_log_batch():
    b = 16
    cpc = CPC(latent_dim=8, context_dim=4, num_steps=3, temperature=1e4)
    loss = cpc(rand(b, 10, 8, seed=3), rand(b, 10, 4, seed=4))
    assert loss.item() == pytest.approx(math.log(b), abs=1e-3)


def test_cpc_gradients_reach_heads_and_inputs():
    cpc = CPC(latent_dim=4, context_dim=6, num_steps=3)
    z = rand(5, 6, 4, seed=5, requires_grad=True)
    c = rand(5, 6, 6, seed=6, requires_grad=True)
    cpc(z, c).backward()
    for head in cpc.heads:
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    assert z.grad.abs().sum() > 0 and c.grad.abs().sum() > 0
    # the last context step predicts nothing (t + k >= T for every k)
    assert c.grad[:, -1].abs().sum() == 0
    # the first latent step is never a target
    assert z.grad[:, 0].abs().sum() == 0


def test_cpc_mask_matches_reference_and_padding_is_ignored():
    torch.manual_seed(0)
    cpc = CPC(latent_dim=4, context_dim=3, num_steps=3, temperature=0.5)
    z, c = rand(5, 8, 4, seed=7), rand(5, 8, 3, seed=8)
    lengths = torch.tensor([8, 6, 4, 2, 8])
    mask = torch.arange(8).unsqueeze(0) < lengths.unsqueeze(1)
    mask[4, 3] = False  # a hole, not only trailing padding
    loss = cpc(z, c, mask)
    assert torch.allclose(loss, cpc_reference(cpc, z, c, mask), atol=1e-5)
    # values at padded steps do not matter, and get no gradient
    z2, c2 = z.clone(), c.clone()
    z2[~mask] = 1e6
    c2[~mask] = float("nan")
    z2.requires_grad_()
    c2.requires_grad_()
    loss2 = cpc(z2, c2, mask)
    assert torch.allclose(loss2, loss, atol=1e-5)
    loss2.backward()
    assert torch.isfinite(z2.grad).all() and torch.isfinite(c2.grad).all()
    assert z2.grad[~mask].abs().sum() == 0 and c2.grad[~mask].abs().sum() == 0
    # an all-True mask is the unmasked loss
    assert torch.allclose(cpc(z, c, torch.ones(5, 8, dtype=torch.bool)), cpc(z, c), atol=1e-6)


def test_cpc_fully_masked_pairs_are_finite():
    cpc = CPC(latent_dim=3, context_dim=3, num_steps=2)
    z = rand(3, 5, 3, seed=9, requires_grad=True)
    c = rand(3, 5, 3, seed=10)
    # only one sequence reaches t + k >= 3: (t, k) pairs with one candidate have no negative
    lengths = torch.tensor([5, 3, 2])
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    loss = cpc(z, c, mask)
    assert torch.isfinite(loss)
    assert torch.allclose(loss, cpc_reference(cpc, z, c, mask), atol=1e-5)
    # nothing valid at all: 0, differentiable, finite gradient
    empty = cpc(z, c, torch.zeros(3, 5, dtype=torch.bool))
    assert empty.item() == 0.0
    empty.backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() == 0


def test_cpc_random_walk_example():
    """The docstring's random-walk recipe, on a small graph."""
    torch.manual_seed(0)
    data = small_graph()
    n = data.num_nodes
    loops = torch.arange(n).repeat(2, 1)  # no isolated node
    src, dst = torch.cat([data.edge_index, loops], dim=1)
    order = torch.argsort(src, stable=True)
    src, dst = src[order], dst[order]
    b, t_len = 16, 6
    walks = torch.empty(b, t_len, dtype=torch.long)
    walks[:, 0] = torch.randint(n, (b,))
    deg = torch.bincount(src, minlength=n)
    ptr = torch.cat([deg.new_zeros(1), deg.cumsum(0)])
    for t in range(1, t_len):
        cur = walks[:, t - 1]
        walks[:, t] = dst[ptr[cur] + (torch.rand(b) * deg[cur]).long()]
        assert (src[ptr[cur] + 0] == cur).all()
    node_emb = torch.nn.Linear(8, 12)(data.x)
    z = node_emb[walks]
    gru = torch.nn.GRU(12, 10, batch_first=True)
    c, _ = gru(z)
    cpc = CPC(latent_dim=12, context_dim=10, num_steps=3)
    loss = cpc(z, c)
    loss.backward()
    assert torch.isfinite(loss) and gru.weight_ih_l0.grad.abs().sum() > 0


def test_cpc_argument_errors():
    with pytest.raises(ValueError, match="num_steps must be >= 1, got 0"):
        CPC(4, 4, num_steps=0)
    with pytest.raises(ValueError, match="temperature must be > 0, got -1"):
        CPC(4, 4, temperature=-1)
    with pytest.raises(ValueError, match="latent_dim must be an integer"):
        CPC(4.0, 4)
    cpc = CPC(4, 3, num_steps=3)
    with pytest.raises(ValueError, match=r"T=3 must be > num_steps=3"):
        cpc(rand(2, 3, 4), rand(2, 3, 3))
    with pytest.raises(ValueError, match="B >= 2 sequences, got B=1"):
        cpc(rand(1, 5, 4), rand(1, 5, 3))
    with pytest.raises(ValueError, match=r"z must be a 3-D tensor \[batch, time, latent_dim=4\]"):
        cpc(rand(2, 5, 3), rand(2, 5, 3))
    with pytest.raises(ValueError, match=r"c must be a 3-D tensor"):
        cpc(rand(2, 5, 4), rand(2, 5))
    with pytest.raises(ValueError, match="same batch and time sizes"):
        cpc(rand(2, 5, 4), rand(2, 6, 3))
    with pytest.raises(ValueError, match=r"mask must have shape \[batch, time\] = \[2, 5\]"):
        cpc(rand(2, 5, 4), rand(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))
    assert "num_steps=3" in repr(cpc) and len(cpc.heads) == 3
    assert cpc.heads[0].weight.shape == (4, 3) and cpc.heads[0].bias is None


# --- DEC -------------------------------------------------------------------------------------

def dec_reference(z, mu, alpha):
    dist = ((z.unsqueeze(1) - mu.unsqueeze(0)) ** 2).sum(-1)
    q = (1 + dist / alpha) ** (-(alpha + 1) / 2)
    q = q / q.sum(1, keepdim=True)
    f = q.sum(0)
    p = q ** 2 / f
    p = p / p.sum(1, keepdim=True)
    return q, p, (p * (p / q).log()).sum() / z.size(0)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 3.0])
def test_dec_matches_formula(alpha):
    torch.manual_seed(0)
    dec = DEC(num_clusters=4, embedding_dim=3, alpha=alpha)
    z = rand(20, 3, seed=1, dtype=torch.float64)
    dec.double()
    q_ref, p_ref, loss_ref = dec_reference(z, dec.centers, alpha)
    q = dec.soft_assignment(z)
    p = dec.target_distribution(q)
    assert torch.allclose(q, q_ref) and torch.allclose(p, p_ref)
    assert torch.allclose(dec(z), loss_ref)
    assert torch.allclose(q.sum(1), torch.ones(20, dtype=torch.float64))
    assert torch.allclose(p.sum(1), torch.ones(20, dtype=torch.float64))
    assert (q > 0).all() and (p > 0).all()


def test_dec_highest_assignment_is_nearest_centre():
    torch.manual_seed(0)
    dec = DEC(num_clusters=5, embedding_dim=4)
    z = rand(50, 4, seed=2) * 2
    q = dec.soft_assignment(z)
    assert torch.equal(q.argmax(1), torch.cdist(z, dec.centers).argmin(1))
    # with equal cluster frequencies f_j the target is q^2, renormalised per row
    q = torch.tensor([[0.7, 0.3], [0.3, 0.7]])
    p = DEC.target_distribution(q)
    assert torch.allclose(p, torch.tensor([[0.49, 0.09], [0.09, 0.49]]) / 0.58)
    # frequent clusters are down-weighted: f = [1.6, 0.4]
    q = torch.tensor([[0.8, 0.2], [0.8, 0.2]])
    p = DEC.target_distribution(q)
    w = torch.tensor([0.64 / 1.6, 0.04 / 0.4])
    assert torch.allclose(p, (w / w.sum()).expand(2, 2))


def test_dec_kl_is_zero_when_target_equals_assignment():
    dec = DEC(num_clusters=2, embedding_dim=3)
    with torch.no_grad():
        dec.centers.copy_(torch.tensor([[1.0, 0, 0], [-1.0, 0, 0]]))
    z = rand(10, 3, seed=3)
    z[:, 0] = 0  # every point equidistant from both centres: q = p = [1/2, 1/2]
    q = dec.soft_assignment(z)
    assert torch.allclose(q, torch.full((10, 2), 0.5))
    assert torch.allclose(dec.target_distribution(q), q)
    assert dec(z).item() == pytest.approx(0.0, abs=1e-7)
    # a given target equal to q: 0 for any z
    z = rand(10, 3, seed=4)
    assert dec(z, target=dec.soft_assignment(z)).item() == pytest.approx(0.0, abs=1e-6)
    assert dec(rand(10, 3, seed=4)).item() > 0


def test_dec_target_is_constant_and_far_points_are_finite():
    dec = DEC(num_clusters=3, embedding_dim=2)
    z = (rand(8, 2, seed=5) * 1e4).requires_grad_()
    loss = dec(z)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    assert torch.isfinite(dec.centers.grad).all()
    # gradient w.r.t. q only: same as KL with a pre-computed (detached) target
    z = rand(8, 2, seed=6, requires_grad=True)
    p = dec.target_distribution(dec.soft_assignment(z))
    assert not p.requires_grad
    g1 = torch.autograd.grad(dec(z), z)[0]
    g2 = torch.autograd.grad(dec(z, target=p), z)[0]
    assert torch.allclose(g1, g2)
    # points exactly on a centre: finite gradients
    z = dec.centers.detach().clone().requires_grad_()
    dec(z).backward()
    assert torch.isfinite(z.grad).all()


def test_dec_init_centers_recovers_blobs_and_loss_decreases():
    torch.manual_seed(0)
    z, y = blobs(n=300, k=3, d=4, spread=0.3)
    true = torch.stack([z[y == j].mean(0) for j in range(3)])
    dec = DEC(num_clusters=3, embedding_dim=4)
    centers = dec.init_centers(z, generator=torch.Generator().manual_seed(0))
    assert centers.shape == (3, 4) and centers.data_ptr() == dec.centers.data_ptr()
    # each true centre has a learned centre close by (blobs are ~3 apart, spread 0.3)
    assert torch.cdist(true, dec.centers.detach()).min(1).values.max() < 0.1
    assert dec.soft_assignment(z).argmax(1).unique().numel() == 3
    # reproducible from the generator
    other = DEC(3, 4)
    other.init_centers(z, generator=torch.Generator().manual_seed(0))
    assert torch.equal(other.centers, dec.centers)
    # from perturbed centres, a few Adam steps on the centres lower the loss (fixed target, as
    # in the paper's schedule, and target recomputed every step)
    for fixed_target in (True, False):
        with torch.no_grad():
            dec.centers.copy_(true + 0.8 * rand(3, 4, seed=11))
        target = dec.target_distribution(dec.soft_assignment(z)) if fixed_target else None
        opt = torch.optim.Adam(dec.parameters(), lr=0.05)
        losses = []
        for _ in range(15):
            loss = dec(z, target=target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.9 * losses[0]
        if fixed_target:
            assert all(b <= a + 1e-7 for a, b in zip(losses, losses[1:]))


def test_dec_argument_errors():
    with pytest.raises(ValueError, match="num_clusters must be >= 2, got 1"):
        DEC(1, 4)
    with pytest.raises(ValueError, match="alpha must be > 0, got 0"):
        DEC(3, 4, alpha=0)
    with pytest.raises(ValueError, match="embedding_dim must be >= 1, got 0"):
        DEC(3, 0)
    dec = DEC(3, 4)
    assert repr(dec) == "DEC(num_clusters=3, embedding_dim=4, alpha=1.0)"
    with pytest.raises(ValueError, match=r"z must have shape \[num_samples, 4\]"):
        dec(rand(5, 3))
    with pytest.raises(ValueError, match=r"target must have shape \[5, 3\]"):
        dec(rand(5, 4), target=torch.ones(5, 2))
    with pytest.raises(ValueError, match="at least 3 rows, got 2"):
        dec.init_centers(rand(2, 4))
    with pytest.raises(ValueError, match="q must be a non-empty 2-D tensor"):
        DEC.target_distribution(torch.ones(3))
    # fewer rows than clusters is fine in forward (a small mini-batch)
    assert torch.isfinite(dec(rand(2, 4)))


# --- DMoN ------------------------------------------------------------------------------------

def dmon_dense(s, edge_index, edge_weight=None, lam=1.0):
    n, k = s.shape
    a = to_dense_adj(edge_index, edge_attr=edge_weight, max_num_nodes=n)[0].to(s.dtype)
    d = a.sum(1)
    two_m = d.sum()
    b = a - torch.outer(d, d) / two_m
    spectral = -torch.trace(s.t() @ b @ s) / two_m
    collapse = math.sqrt(k) / n * s.sum(0).norm() - 1
    return spectral, collapse, spectral + lam * collapse


def two_cliques(size=4):
    blocks = []
    for offset in (0, size):
        idx = torch.arange(size) + offset
        row, col = torch.meshgrid(idx, idx, indexing="ij")
        keep = row != col
        blocks.append(torch.stack([row[keep], col[keep]]))
    return torch.cat(blocks, dim=1)


def test_dmon_two_cliques_known_modularity():
    edge_index = two_cliques(4)
    s = torch.zeros(8, 2)
    s[:4, 0] = 1
    s[4:, 1] = 1
    loss = DMoN()
    # two equal disconnected cliques: Q = 2 * (1/2 - (1/2)^2) = 1/2
    assert loss.spectral_loss(s, edge_index).item() == pytest.approx(-0.5, abs=1e-6)
    assert loss.collapse_loss(s).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(s, edge_index).item() == pytest.approx(-0.5, abs=1e-6)
    # all in one cluster: modularity 0, collapse sqrt(K) - 1
    one = torch.zeros(8, 2)
    one[:, 0] = 1
    assert loss.spectral_loss(one, edge_index).item() == pytest.approx(0.0, abs=1e-6)
    assert loss.collapse_loss(one).item() == pytest.approx(math.sqrt(2) - 1, abs=1e-6)
    k4 = torch.zeros(8, 4)
    k4[:, 2] = 1
    assert DMoN.collapse_loss(k4).item() == pytest.approx(1.0, abs=1e-6)
    assert DMoN(collapse_regularization=0.5)(one, edge_index).item() == \
        pytest.approx(0.5 * (math.sqrt(2) - 1), abs=1e-6)
    # uniform soft assignment: no modularity, no collapse
    uniform = torch.full((8, 2), 0.5)
    assert loss(uniform, edge_index).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_dmon_sparse_matches_dense_reference(weighted):
    data = small_graph(num_nodes=30, num_edges=80)
    edge_index = torch.cat([data.edge_index, torch.tensor([[3, 3], [3, 3]])], dim=1)  # loops
    weight = None
    if weighted:
        weight = torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(1),
                            dtype=torch.float64)
    s = rand(30, 5, seed=2, dtype=torch.float64).softmax(1)
    spectral, collapse, total = dmon_dense(s, edge_index, weight, lam=0.7)
    loss = DMoN(collapse_regularization=0.7)
    assert torch.allclose(loss.spectral_loss(s, edge_index, weight), spectral)
    assert torch.allclose(loss.collapse_loss(s), collapse)
    assert torch.allclose(loss(s, edge_index, weight, num_nodes=30), total)
    # directed edges follow A[u, v] = w(u -> v), d = row sums
    directed = edge_index[:, ::3]
    assert torch.allclose(loss.spectral_loss(s, directed), dmon_dense(s, directed)[0])
    # gradients agree too
    s1 = s.clone().requires_grad_()
    s2 = s.clone().requires_grad_()
    loss(s1, edge_index, weight).backward()
    dmon_dense(s2, edge_index, weight, lam=0.7)[2].backward()
    assert torch.allclose(s1.grad, s2.grad)


def test_dmon_matches_pyg_dmon_pooling():
    from torch_geometric.nn import DMoNPooling

    data = small_graph(num_nodes=20, num_edges=50)
    k = 4
    logits = rand(20, k, seed=3)
    pool = DMoNPooling(k, k)
    lin = pool.mlp.lins[0]
    with torch.no_grad():  # the pooling layer's MLP becomes the identity: s = softmax(logits)
        lin.weight.copy_(torch.eye(k))
        lin.bias.zero_()
    adj = to_dense_adj(data.edge_index, max_num_nodes=20)
    s_pyg, _, _, spectral, _, cluster = pool(logits.unsqueeze(0), adj)
    s = logits.softmax(1)
    assert torch.allclose(s_pyg[0], s, atol=1e-6)
    assert torch.allclose(DMoN.spectral_loss(s, data.edge_index), spectral, atol=1e-5)
    assert torch.allclose(DMoN.collapse_loss(s), cluster, atol=1e-5)


def test_dmon_argument_errors():
    edge_index = two_cliques(3)
    s = torch.full((6, 2), 0.5)
    with pytest.raises(ValueError, match="collapse_regularization must be >= 0, got -1"):
        DMoN(collapse_regularization=-1)
    loss = DMoN()
    assert repr(loss) == "DMoN(collapse_regularization=1.0)"
    with pytest.raises(ValueError, match="at least 2 clusters, got K=1"):
        loss(torch.ones(6, 1), edge_index)
    with pytest.raises(ValueError, match="K=7 must be <= the number of nodes N=6"):
        loss(torch.full((6, 7), 1 / 7), edge_index)
    with pytest.raises(ValueError, match=r"edge_index values must be in \[0, N\) with N=6"):
        loss(s, torch.tensor([[0, 6], [1, 0]]))
    with pytest.raises(ValueError, match=r"got values in \[-1, 1\]"):
        loss(s, torch.tensor([[0, -1], [1, 0]]))
    with pytest.raises(ValueError, match=r"edge_index must be an integer tensor of shape"):
        loss(s, edge_index.float())
    with pytest.raises(ValueError, match="no edge"):
        loss(s, torch.empty(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"edge_weight must have shape \[num_edges\] = \[12\]"):
        loss(s, edge_index, torch.ones(11))
    with pytest.raises(ValueError, match="positive total edge weight"):
        loss(s, edge_index, torch.zeros(12))
    with pytest.raises(ValueError, match="num_nodes=7 does not match the N=6 rows of s"):
        loss(s, edge_index, num_nodes=7)
    with pytest.raises(ValueError, match="s must be a floating-point 2-D tensor"):
        loss(torch.ones(6, 2, dtype=torch.long), edge_index)


def test_dmon_method_learns_the_communities_of_two_cliques():
    from graphssl.methods import DMoNClustering
    from graphssl.train import Trainer
    from torch_geometric.data import Data
    # two 6-cliques joined by one edge; features carry no community information
    n = 12
    block = torch.arange(n) // 6
    src, dst = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = (block[src] == block[dst]) & (src != dst)
    edge_index = torch.cat([torch.stack([src[keep], dst[keep]]),
                            torch.tensor([[5, 6], [6, 5]])], dim=1)
    data = Data(x=torch.eye(n), edge_index=edge_index)
    torch.manual_seed(0)
    method = DMoNClustering.from_config(n, encoder={"hidden_channels": 16}, num_clusters=2,
                                        dropout=0.0)
    Trainer(epochs=200, lr=0.01, progress=False).fit(method, data)
    clusters = method.predict_clusters(data)
    assert clusters[:6].unique().numel() == 1 and clusters[6:].unique().numel() == 1
    assert clusters[0] != clusters[6]
    with pytest.raises(ValueError, match="num_clusters=16 is larger than the number of nodes"):
        DMoNClustering.from_config(n, num_clusters=16).loss(data)
    with pytest.raises(ValueError, match="num_clusters must be"):
        DMoNClustering.from_config(n, num_clusters=1)
