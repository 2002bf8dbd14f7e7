import math

import pytest
import torch
import torch.nn.functional as F

from graphssl.objectives import BootstrapLoss, SwAV
from graphssl.objectives.swav import sinkhorn_knopp


def rand(*shape, seed=0, **kw):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), **kw)


# --- BootstrapLoss ---------------------------------------------------------------------------

def test_bootstrap_known_values():
    t = rand(16, 8)
    orth_p, orth_t = torch.eye(8)[:4], torch.eye(8)[4:]
    for symmetric in (False, True):
        loss = BootstrapLoss(symmetric=symmetric)
        args = (lambda p, t: (p, t, p, t)) if symmetric else (lambda p, t: (p, t))
        # same direction, any (positive) per-row scale: 0
        scale = torch.rand(16, 1, generator=torch.Generator().manual_seed(1)) * 100 + 1e-3
        assert loss(*args(t * scale, t)).item() == pytest.approx(0.0, abs=1e-6)
        assert loss(*args(-t, t)).item() == pytest.approx(4.0, abs=1e-6)
        assert loss(*args(orth_p, orth_t)).item() == pytest.approx(2.0, abs=1e-6)


def test_bootstrap_symmetric_averages_the_two_directions():
    p1, t2, p2, t1 = (rand(10, 5, seed=s) for s in range(4))
    one_way = BootstrapLoss(symmetric=False)
    expected = 0.5 * (one_way(p1, t2) + one_way(p2, t1))
    assert torch.allclose(BootstrapLoss()(p1, t2, p2, t1), expected)
    # 2 - 2 cos, row mean
    assert torch.allclose(one_way(p1, t2), (2 - 2 * F.cosine_similarity(p1, t2)).mean(),
                          atol=1e-6)


def test_bootstrap_no_gradient_to_targets():
    p1, p2 = rand(12, 6, seed=0, requires_grad=True), rand(12, 6, seed=1, requires_grad=True)
    t1, t2 = rand(12, 6, seed=2, requires_grad=True), rand(12, 6, seed=3, requires_grad=True)
    BootstrapLoss()(p1, t2, p2, t1).backward()
    assert t1.grad is None and t2.grad is None
    assert p1.grad is not None and p2.grad is not None and p1.grad.abs().sum() > 0


def test_bootstrap_argument_errors():
    p, t = rand(4, 3), rand(4, 3)
    with pytest.raises(ValueError, match="missing p2, t1"):
        BootstrapLoss()(p, t)
    with pytest.raises(ValueError, match="missing t1"):
        BootstrapLoss()(p, t, p2=p)
    with pytest.raises(ValueError, match="symmetric=False"):
        BootstrapLoss(symmetric=False)(p, t, p, t)
    with pytest.raises(ValueError, match="p1 and t2 must have the same shape"):
        BootstrapLoss(symmetric=False)(p, rand(4, 5))
    with pytest.raises(ValueError, match="p2 must be a 2-D"):
        BootstrapLoss()(p, t, rand(4), t)
    with pytest.raises(ValueError, match="symmetric must be a bool, got 'yes'"):
        BootstrapLoss(symmetric="yes")


# --- Sinkhorn --------------------------------------------------------------------------------

def paper_sinkhorn(out, epsilon, iterations):
    """SwAV's own code (distributed_sinkhorn, one process), literal exp form."""
    Q = torch.exp(out / epsilon).t()
    B, K = Q.shape[1], Q.shape[0]
    Q /= Q.sum()
    for _ in range(iterations):
        Q /= Q.sum(dim=1, keepdim=True)
        Q /= K
        Q /= Q.sum(dim=0, keepdim=True)
        Q /= B
    return (Q * B).t()


def unit_scores(n=64, k=8, d=16, seed=0):
    return F.normalize(rand(n, d, seed=seed), dim=1) @ F.normalize(rand(k, d, seed=seed + 100),
                                                                   dim=1).t()


@pytest.mark.parametrize("iterations", [1, 3, 10])
def test_sinkhorn_matches_the_papers_code(iterations):
    s = unit_scores()
    expected = paper_sinkhorn(s.double(), 0.05, iterations).float()
    assert torch.allclose(sinkhorn_knopp(s, 0.05, iterations), expected, atol=1e-6)


def test_sinkhorn_marginals():
    n, k = 64, 8
    s = unit_scores(n, k)
    errors = []
    for iterations in (1, 3, 10, 30, 50):
        q = sinkhorn_knopp(s, 0.05, iterations)
        assert (q >= 0).all()
        # exact marginal (fixed by the last step): each sample's code sums to 1
        assert torch.allclose(q.sum(1), torch.ones(n), atol=1e-5)
        errors.append(((q.sum(0) - n / k).abs() / (n / k)).max().item())
    # approximate marginal: prototype columns -> N/K, error shrinks with the iterations; the
    # documented tolerance (< 1e-3 relative after 50 iterations at epsilon=0.05)
    assert errors == sorted(errors, reverse=True)
    assert 0.1 < errors[1] < 0.6  # the default 3 iterations: loose, as documented
    assert errors[-1] < 1e-3


def test_sinkhorn_codes_carry_no_gradient():
    s = unit_scores().requires_grad_(True)
    q = sinkhorn_knopp(s)
    assert not q.requires_grad and q.grad_fn is None
    swav = SwAV(8, 16)
    q = swav.sinkhorn(swav.scores(rand(10, 16)))
    assert not q.requires_grad


def test_sinkhorn_stable_for_tiny_epsilon():
    s = unit_scores()
    assert torch.isinf(torch.exp(s / 1e-3)).any()  # the literal form would overflow
    q = sinkhorn_knopp(s, 1e-3, 3)
    assert torch.isfinite(q).all()
    assert torch.allclose(q.sum(1), torch.ones(64), atol=1e-5)


def test_sinkhorn_argument_errors():
    with pytest.raises(ValueError, match="epsilon must be > 0, got -1"):
        sinkhorn_knopp(unit_scores(), epsilon=-1)
    with pytest.raises(ValueError, match="iterations must be >= 1, got 0"):
        sinkhorn_knopp(unit_scores(), iterations=0)
    with pytest.raises(ValueError, match="scores must be a 2-D"):
        sinkhorn_knopp(torch.ones(5))
    with pytest.raises(ValueError, match="scores must have 8 columns"):
        SwAV(8, 16).sinkhorn(torch.ones(5, 3))


# --- SwAV loss -------------------------------------------------------------------------------

def clustered(k=4, d=8, per_cluster=8, noise=0.0, seed=0):
    """Orthonormal prototypes and z on them (balanced: N = per_cluster * K)."""
    protos = torch.eye(d)[:k]
    labels = torch.arange(k).repeat_interleave(per_cluster)
    z = protos[labels] + noise * rand(k * per_cluster, d, seed=seed)
    return protos, z, labels


def test_swav_well_separated_clusters():
    torch.manual_seed(0)
    swav = SwAV(4, 8)
    protos, z, labels = clustered(noise=0.05)
    with torch.no_grad():
        swav.prototypes.weight.copy_(protos)
    codes = swav.sinkhorn(swav.scores(z))
    assert torch.equal(codes.argmax(1), labels)
    assert (codes.max(1).values > 0.99).all()
    low = swav(z, clustered(noise=0.05, seed=1)[1])  # two noisy views of the same clusters
    # s = 1 on the own prototype, 0 elsewhere: -log softmax = log(1 + 3 e^{-1/tau}) (q one-hot)
    assert swav(protos[labels], protos[labels]).item() == pytest.approx(
        math.log(1 + 3 * math.exp(-10)), rel=1e-2)
    high = swav(rand(32, 8, seed=1), rand(32, 8, seed=2))
    assert low.item() < 1e-3 < 1.0 < high.item()


def test_swav_matches_reference_formula():
    torch.manual_seed(0)
    swav = SwAV(6, 5, temperature=0.2, epsilon=0.1, sinkhorn_iterations=4)
    z1, z2 = rand(20, 5, seed=1), rand(20, 5, seed=2)
    loss = swav(z1, z2)
    c = swav.prototypes.weight.detach()
    s1, s2 = F.normalize(z1) @ c.t(), F.normalize(z2) @ c.t()
    q1, q2 = (paper_sinkhorn(s.double(), 0.1, 4).float() for s in (s1, s2))
    expected = -0.5 * ((q2 * F.log_softmax(s1 / 0.2, 1)).sum(1).mean()
                       + (q1 * F.log_softmax(s2 / 0.2, 1)).sum(1).mean())
    assert torch.allclose(loss, expected, atol=1e-5)


def test_swav_tiny_epsilon_loss_is_finite():
    torch.manual_seed(0)
    swav = SwAV(8, 16, epsilon=1e-3)
    z1, z2 = rand(32, 16, seed=1, requires_grad=True), rand(32, 16, seed=2)
    loss = swav(z1, z2)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()


def test_swav_prototypes_get_gradients_and_are_renormalised():
    torch.manual_seed(0)
    swav = SwAV(8, 16)
    assert torch.allclose(swav.prototypes.weight.norm(dim=1), torch.ones(8), atol=1e-6)
    with torch.no_grad():
        swav.prototypes.weight.mul_(torch.arange(1.0, 9.0).unsqueeze(1))  # as after a step
    direction = F.normalize(swav.prototypes.weight.detach().clone(), dim=1)
    z1 = rand(32, 16, seed=1, requires_grad=True)
    loss = swav(z1, rand(32, 16, seed=2))
    w = swav.prototypes.weight
    assert torch.allclose(w.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.allclose(w, direction, atol=1e-6)  # rescaled, not moved
    loss.backward()
    assert w.grad is not None and w.grad.abs().sum() > 0 and z1.grad.abs().sum() > 0


def test_swav_two_forwards_before_one_backward():
    torch.manual_seed(0)
    swav = SwAV(8, 16)
    # inputs require grad, so the first graph saves the prototype weight for their gradient
    a, b, c = (rand(16, 16, seed=s, requires_grad=True) for s in range(3))
    (swav(a, b) + swav(b, c)).backward()  # the second forward must not break the first graph
    assert swav.prototypes.weight.grad is not None and a.grad is not None


def test_swav_argument_errors():
    with pytest.raises(ValueError, match="num_prototypes must be >= 2, got 1"):
        SwAV(1, 16)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        SwAV(8, 16, temperature=0)
    with pytest.raises(ValueError, match="epsilon must be > 0, got -1"):
        SwAV(8, 16, epsilon=-1)
    with pytest.raises(ValueError, match="sinkhorn_iterations must be >= 1, got 0"):
        SwAV(8, 16, sinkhorn_iterations=0)
    with pytest.raises(ValueError, match="dim must be >= 1, got 0"):
        SwAV(8, 0)
    with pytest.raises(ValueError, match="num_prototypes must be an integer"):
        SwAV(8.0, 16)


def test_swav_shape_errors():
    swav = SwAV(8, 16)
    with pytest.raises(ValueError, match="must have the same shape"):
        swav(rand(10, 16), rand(9, 16))
    with pytest.raises(ValueError, match="must have 16 columns"):
        swav(rand(10, 4), rand(10, 4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        swav(rand(1, 16), rand(1, 16))
    with pytest.raises(ValueError, match="z1 must be a 2-D"):
        swav(rand(16), rand(16))


def test_bgrl_architecture_follows_the_authors_code():
    from torch import nn

    from graphssl.methods import BGRL
    method = BGRL.from_config(12, encoder={"hidden_channels": 16, "out_channels": 8},
                              predictor_hidden=32)
    kinds = [type(m) for m in method.predictor]
    assert kinds == [nn.Linear, nn.PReLU, nn.Linear]  # no batch norm: their MLP_Predictor
    assert method.predictor[1].weight.numel() == 1  # one slope, nn.PReLU()
    assert all(act.weight.numel() == 1 for act in method.encoder.acts)  # encoder: one per layer
    assert any(isinstance(m, nn.BatchNorm1d) for m in method.encoder.modules())
    with_bn = BGRL.from_config(12, encoder={"hidden_channels": 16}, predictor_batch_norm=True)
    assert isinstance(with_bn.predictor[1], nn.BatchNorm1d)  # BYOL's image predictor
    with pytest.raises(ValueError, match="predictor_batch_norm must be True or False, got 1"):
        BGRL.from_config(12, encoder={"hidden_channels": 16}, predictor_batch_norm=1)
