import math

import pytest
import torch
import torch.nn.functional as F

from graphssl.objectives import JSD, InfoNCE


def grace_reference(z1, z2, tau):
    """The loss exactly as GRACE's authors wrote it (N x N matrices, masks)."""
    z1, z2 = F.normalize(z1), F.normalize(z2)

    def semi(a, b):
        refl = torch.exp(a @ a.t() / tau)
        between = torch.exp(a @ b.t() / tau)
        return -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag()))

    return 0.5 * (semi(z1, z2) + semi(z2, z1)).mean()


@pytest.mark.parametrize("tau", [0.02, 0.2, 0.5, 1.0])  # 0.02: logsumexp path
def test_infonce_equals_grace_reference(tau):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g)
    # float64 reference: GRACE's own float32 formula overflows at small temperatures (it
    # subtracts exp(1/tau) from a sum holding it), ours stays exact in float32
    expected = grace_reference(z1.double(), z2.double(), tau).float()
    assert torch.allclose(InfoNCE(tau)(z1, z2), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [32, 600])  # 600: backward scales the N x N blocks in 2 bands
def test_infonce_gradients_match_reference(n):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, 8, generator=g, requires_grad=True)
    b = torch.randn(n, 8, generator=g, requires_grad=True)
    InfoNCE(0.5)(a, b).backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    grace_reference(a, b, 0.5).backward()
    assert torch.allclose(ga, a.grad, atol=1e-5) and torch.allclose(gb, b.grad, atol=1e-5)


def test_infonce_unnormalised_matches_logsumexp():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(20, 4, generator=g), torch.randn(20, 4, generator=g)
    loss = InfoNCE(0.7, normalize=False, intra_view_negatives=False, symmetric=False)(z1, z2)
    expected = F.cross_entropy(z1 @ z2.t() / 0.7, torch.arange(20))
    assert torch.allclose(loss, expected, atol=1e-5)
    # same class with normalisation and only inter-view negatives = CLIP/MoCo-style CE
    n1, n2 = F.normalize(z1), F.normalize(z2)
    loss = InfoNCE(0.7, intra_view_negatives=False, symmetric=False)(z1, z2)
    assert torch.allclose(loss, F.cross_entropy(n1 @ n2.t() / 0.7, torch.arange(20)), atol=1e-5)


def test_identical_well_separated_views_reach_the_lower_bound():
    z = torch.eye(8) * 3.0  # orthogonal: positives cos 1, negatives cos 0
    for tau in (0.5, 0.1, 0.05):
        expected = math.log(1 + 14 * math.exp(-1 / tau))  # 2N - 2 negatives at cos 0
        assert InfoNCE(tau)(z, z).item() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert InfoNCE(0.02)(z, z).item() < 1e-6


def test_infonce_random_views_near_log_of_negatives():
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(512, 256, generator=g), torch.randn(512, 256, generator=g)
    # unrelated views at high temperature: about log(2N - 1)
    assert InfoNCE(100.0)(z1, z2).item() == pytest.approx(math.log(1023), rel=1e-3)


def test_infonce_small_temperature_is_finite():
    g = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(50, 8, generator=g), -torch.randn(50, 8, generator=g)
    loss = InfoNCE(0.01)(z1, z2)
    assert torch.isfinite(loss)


@pytest.mark.parametrize("t", [0, -1, float("nan")])
def test_infonce_rejects_bad_temperature(t):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        InfoNCE(t)


def test_infonce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        InfoNCE()(torch.randn(5, 4), torch.randn(6, 4))
    with pytest.raises(ValueError, match="2-D"):
        InfoNCE()(torch.randn(5), torch.randn(5))
    with pytest.raises(ValueError, match="at least 2 samples"):
        InfoNCE()(torch.randn(1, 4), torch.randn(1, 4))


def test_jsd_known_values():
    jsd = JSD(4, discriminator="dot")
    zero = torch.zeros(10, 4)
    assert jsd(zero, zero, torch.zeros(4)).item() == pytest.approx(math.log(2))
    s = torch.ones(4) * 5
    pos, neg = torch.ones(10, 4), -torch.ones(10, 4)
    assert jsd(pos, neg, s).item() < 1e-8  # perfectly separated: loss -> 0
    assert jsd(neg, pos, s).item() > 19  # and the reverse is heavily penalised


def test_jsd_equals_dgi_bce():
    torch.manual_seed(0)
    jsd = JSD(8)
    h, hc, s = torch.randn(30, 8), torch.randn(30, 8), torch.sigmoid(torch.randn(8))
    bil = torch.nn.Bilinear(8, 8, 1)
    bil.weight.data = jsd.weight.data.unsqueeze(0).clone()
    bil.bias.data = jsd.bias.data.clone()
    logits = torch.cat([bil(h, s.expand_as(h)), bil(hc, s.expand_as(hc))]).view(-1)
    labels = torch.cat([torch.ones(30), torch.zeros(30)])
    assert torch.allclose(jsd(h, hc, s), F.binary_cross_entropy_with_logits(logits, labels),
                          atol=1e-6)


def test_jsd_per_graph_summaries():
    jsd = JSD(2, discriminator="dot")
    summary = torch.tensor([[10.0, 0.0], [0.0, 10.0]])
    index = torch.tensor([0, 0, 1, 1])
    pos = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert jsd(pos, -pos, summary, index, index).item() < 1e-4
    assert jsd(pos.flip(1), -pos.flip(1), summary, index, index).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="pos_index"):
        jsd(pos, pos, summary)


def test_jsd_shape_and_argument_errors():
    with pytest.raises(ValueError, match="discriminator"):
        JSD(4, discriminator="mlp")
    with pytest.raises(ValueError, match="pos must have shape"):
        JSD(4)(torch.randn(3, 5), torch.randn(3, 4), torch.randn(4))
    with pytest.raises(ValueError, match="summary"):
        JSD(4)(torch.randn(3, 4), torch.randn(3, 4), torch.randn(5))


@pytest.mark.parametrize("tau", [0.01, 0.3])  # both computation paths
@pytest.mark.parametrize("intra", [False, True])
def test_decoupled_infonce_matches_reference(tau, intra):
    g = torch.Generator().manual_seed(5)
    z1, z2 = torch.randn(40, 8, generator=g), torch.randn(40, 8, generator=g)
    a, b = F.normalize(z1.double()), F.normalize(z2.double())
    eye = torch.eye(40, dtype=torch.bool)

    def side(x, y):
        logits = [(x @ y.t() / tau).masked_fill(eye, float("-inf"))]
        if intra:
            logits.append((x @ x.t() / tau).masked_fill(eye, float("-inf")))
        return torch.logsumexp(torch.cat(logits, 1), 1) - (x * y).sum(1) / tau

    expected = 0.5 * (side(a, b).mean() + side(b, a).mean())
    loss = InfoNCE(tau, intra_view_negatives=intra, decoupled=True)(z1, z2)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_jsd_pairwise_known_values():
    jsd = JSD(2, discriminator="dot")
    summary = torch.tensor([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]])
    local = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [-1.0, 0.0]])
    index = torch.tensor([0, 1, 2, 2])
    # every positive scores +10, every negative scores 0 or -10
    expected = 0.5 * (F.softplus(torch.tensor(-10.0)) +
                      F.softplus(torch.tensor([0.0, -10, 0, -10, 0, 0, -10, 0])).mean())
    assert jsd.pairwise(local, summary, index).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 graphs"):
        jsd.pairwise(local, summary[:1], torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("intra,symmetric,decoupled,normalize,tau", [
    (True, True, False, True, 0.5), (True, True, False, True, 0.02),
    (False, True, True, True, 0.2), (True, False, False, False, 0.7),
    (False, False, True, False, 1.0)])
def test_chunked_infonce_is_exact(intra, symmetric, decoupled, normalize, tau):
    g = torch.Generator().manual_seed(5)
    a = torch.randn(37, 8, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(37, 8, generator=g, dtype=torch.float64, requires_grad=True)
    kw = dict(temperature=tau, intra_view_negatives=intra, symmetric=symmetric,
              decoupled=decoupled, normalize=normalize)
    dense = InfoNCE(**kw)(a, b)
    grads = torch.autograd.grad(dense, (a, b))
    chunked = InfoNCE(chunk_size=10, **kw)(a, b)  # blocks of 10, 10, 10, 7
    assert torch.allclose(dense, chunked)
    for g_dense, g_chunk in zip(grads, torch.autograd.grad(chunked, (a, b))):
        assert torch.allclose(g_dense, g_chunk)


def test_sampled_infonce_with_every_row_sampled_is_exact():
    g = torch.Generator().manual_seed(6)
    z1, z2 = torch.randn(30, 8, generator=g), torch.randn(30, 8, generator=g)
    for kw in (dict(), dict(decoupled=True, intra_view_negatives=False, symmetric=False)):
        exact = InfoNCE(0.5, **kw)(z1, z2)
        assert torch.allclose(InfoNCE(0.5, num_negatives=30, **kw)(z1, z2), exact, atol=1e-6)
        assert torch.allclose(InfoNCE(0.5, num_negatives=500, **kw)(z1, z2), exact, atol=1e-6)


def test_sampled_infonce_uses_k_negatives_and_the_global_rng():
    z = torch.eye(40)  # orthogonal rows: every negative logit is 0, the positive 1/tau
    torch.manual_seed(0)
    loss = InfoNCE(0.5, num_negatives=5, intra_view_negatives=False)(z, z)
    # 5 sampled rows; an anchor among them has 4 negatives (its own row is left out)
    per_anchor_5, per_anchor_4 = math.log(1 + 5 * math.exp(-2)), math.log(1 + 4 * math.exp(-2))
    assert per_anchor_4 < loss.item() < per_anchor_5
    expected = (35 * per_anchor_5 + 5 * per_anchor_4) / 40
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    g = torch.Generator().manual_seed(7)
    z1, z2 = torch.randn(40, 8, generator=g), torch.randn(40, 8, generator=g)
    sampled = InfoNCE(0.5, num_negatives=8)
    torch.manual_seed(1)
    first = sampled(z1, z2)
    torch.manual_seed(1)
    assert sampled(z1, z2).item() == first.item()
    assert sampled(z1, z2).item() != first.item()  # a new draw


def test_infonce_memory_options_are_validated():
    for name in ("chunk_size", "num_negatives"):
        for bad in (0, -3, 2.5, True):
            with pytest.raises(ValueError, match=f"{name} must be a positive int"):
                InfoNCE(**{name: bad})
    with pytest.raises(ValueError, match="set one of them"):
        InfoNCE(chunk_size=64, num_negatives=64)
    assert "chunk_size=64" in repr(InfoNCE(chunk_size=64))
