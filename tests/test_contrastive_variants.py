"""DebiasedInfoNCE (Chuang et al. 2020 / Robinson et al. 2021) and NCE (Gutmann & Hyvarinen)."""
import math

import pytest
import torch
import torch.nn.functional as F

from graphssl.objectives import NCE, DebiasedInfoNCE, InfoNCE


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def softplus(x):
    return math.log1p(math.exp(x)) if x < 30 else x + math.log1p(math.exp(-x))


# ---------------------------------------------------------------------------------------------
# DebiasedInfoNCE


def debiased_reference(z1, z2, tau, tau_plus, beta, intra=True, symmetric=True):
    """Per anchor, in Python floats, as the authors' code writes it (exp, sums, clamp).

    Returns the loss and how many anchors hit the clamp ``M e^{-1/tau}``."""
    z1, z2 = F.normalize(z1.double()).tolist(), F.normalize(z2.double()).tolist()
    n = len(z1)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    clamped = 0

    def one_side(a, b):
        nonlocal clamped
        total = 0.0
        for i in range(n):
            pos = math.exp(dot(a[i], b[i]) / tau)
            neg = [math.exp(dot(a[i], b[j]) / tau) for j in range(n) if j != i]
            if intra:
                neg += [math.exp(dot(a[i], a[j]) / tau) for j in range(n) if j != i]
            m = len(neg)
            imp = [e ** beta for e in neg]  # exp(beta * s / tau)
            reweight = sum(w * e for w, e in zip(imp, neg)) / (sum(imp) / m)
            ng = (reweight - tau_plus * m * pos) / (1 - tau_plus)
            if ng < m * math.exp(-1 / tau):
                ng, clamped = m * math.exp(-1 / tau), clamped + 1
            total += -math.log(pos / (pos + ng))
        return total / n

    loss = one_side(z1, z2)
    if symmetric:
        loss = 0.5 * (loss + one_side(z2, z1))
    return loss, clamped


@pytest.mark.parametrize("tau,tau_plus,beta,intra,symmetric", [
    (0.5, 0.1, 0.0, True, True),
    (0.5, 0.1, 1.0, True, True),
    (0.2, 0.3, 0.5, True, False),
    (1.0, 0.05, 2.0, False, True),
    (0.3, 0.0, 1.5, False, False),
    (0.5, 0.0, 0.0, True, True),
])
def test_debiased_matches_brute_force_reference(tau, tau_plus, beta, intra, symmetric):
    z1 = randn(5, 3, seed=1, dtype=torch.float64)
    z2 = z1 + 0.5 * randn(5, 3, seed=2, dtype=torch.float64)
    loss = DebiasedInfoNCE(tau, tau_plus, beta, intra_view_negatives=intra,
                           symmetric=symmetric)(z1, z2)
    expected, _ = debiased_reference(z1, z2, tau, tau_plus, beta, intra, symmetric)
    assert loss.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_debiased_reference_with_some_anchors_clamped():
    # strongly aligned views + large tau_plus: the debiased sum goes negative for some anchors
    # (clamped) and not for others; both branches must agree with the reference
    z1 = randn(5, 3, seed=3, dtype=torch.float64)
    z2 = z1 + 0.3 * randn(5, 3, seed=4, dtype=torch.float64)
    expected, clamped = debiased_reference(z1, z2, 0.25, 0.2, 1.0)
    assert 0 < clamped < 10  # of 2 * 5 anchors
    loss = DebiasedInfoNCE(0.25, tau_plus=0.2, beta=1.0)(z1, z2)
    assert loss.item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("intra", [True, False])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("tau", [0.5, 0.05, 0.02])  # 0.02: InfoNCE's logsumexp path
def test_debiased_without_debiasing_or_hardness_is_infonce(intra, symmetric, tau):
    # With tau_plus = 0 and beta = 0, N_g = max(sum_neg, M e^{-1/tau}) = sum_neg (each of the M
    # cosine terms is >= e^{-1/tau}) and the loss is -log(e^p / (e^p + sum_neg)): the positive
    # stays in the denominator, which is InfoNCE's default (decoupled=False) form, whose
    # denominator sum_j e^{s(z1_i, z2_j)} includes j = i. decoupled=True drops e^p from the
    # denominator and is a different loss.
    z1, z2 = randn(32, 8, seed=5), randn(32, 8, seed=6)
    ours = DebiasedInfoNCE(tau, tau_plus=0.0, beta=0.0, intra_view_negatives=intra,
                           symmetric=symmetric)(z1, z2)
    plain = InfoNCE(tau, intra_view_negatives=intra, symmetric=symmetric)(z1, z2)
    decoupled = InfoNCE(tau, intra_view_negatives=intra, symmetric=symmetric,
                        decoupled=True)(z1, z2)
    assert torch.allclose(ours, plain, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ours, decoupled, rtol=1e-3, atol=1e-4)


def test_debiased_gradient_matches_infonce_without_debiasing():
    a, b = randn(16, 4, seed=7).requires_grad_(), randn(16, 4, seed=8).requires_grad_()
    DebiasedInfoNCE(0.5, tau_plus=0.0)(a, b).backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    InfoNCE(0.5)(a, b).backward()
    assert torch.allclose(ga, a.grad, atol=1e-6) and torch.allclose(gb, b.grad, atol=1e-6)


@pytest.mark.parametrize("beta", [0.0, 3.0])  # all negatives equal: the weights cancel
def test_debiased_identical_well_separated_views(beta):
    z = torch.eye(8) * 3.0  # positives cos 1, the M = 14 negatives cos 0
    m = 14
    # tau_plus e^{1/tau} > 1: the debiased sum is negative and clamped to M e^{-1/tau}, so the
    # loss is log(1 + M e^{-2/tau}), its lower bound, ~3e-8 here
    loss = DebiasedInfoNCE(0.1, tau_plus=0.1, beta=beta)(z, z).item()
    assert loss == pytest.approx(math.log1p(m * math.exp(-20)), rel=1e-4)
    assert loss < 1e-7
    # tau = 0.5, tau_plus = 0.1: 1 - 0.1 e^2 > 0, no clamp: N_g = M (1 - 0.1 e^2) / 0.9
    ng = m * (1 - 0.1 * math.exp(2)) / 0.9
    expected = math.log1p(ng * math.exp(-2))
    assert DebiasedInfoNCE(0.5, tau_plus=0.1, beta=beta)(z, z).item() == pytest.approx(
        expected, rel=1e-5)
    # no debiasing: InfoNCE's bound log(1 + M e^{-1/tau})
    assert DebiasedInfoNCE(0.5, tau_plus=0.0, beta=beta)(z, z).item() == pytest.approx(
        math.log1p(m * math.exp(-2)), rel=1e-5)


def test_hard_negatives_increase_the_loss_and_keep_gradients():
    z1 = randn(24, 6, seed=9)
    z2 = z1 + 0.7 * randn(24, 6, seed=10)
    losses = []
    for beta in (0.0, 0.5, 1.0, 2.0, 5.0):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss = DebiasedInfoNCE(0.5, tau_plus=0.1, beta=beta)(a, b)
        loss.backward()
        for g in (a.grad, b.grad):
            assert torch.isfinite(g).all() and g.abs().sum() > 0
        losses.append(loss.item())
    # exponential tilting towards the most similar negatives raises their weighted mean
    assert all(lo < hi for lo, hi in zip(losses, losses[1:])), losses


def test_debiasing_lowers_the_loss_of_aligned_views():
    # d N_g / d tau_plus has the sign of (R/M - e^p): negative when each positive beats the
    # mean negative, so debiasing (until the clamp) lowers the loss
    z1 = randn(16, 8, seed=11)
    z2 = z1 + 0.2 * randn(16, 8, seed=12)
    losses = [DebiasedInfoNCE(1.0, tau_plus=t)(z1, z2).item() for t in (0.0, 0.05, 0.1, 0.2)]
    assert all(hi > lo for hi, lo in zip(losses, losses[1:])), losses


def test_debiased_gradcheck():
    a = randn(4, 3, seed=13, dtype=torch.float64).requires_grad_()
    b = (a.detach() + 0.5 * randn(4, 3, seed=14, dtype=torch.float64)).requires_grad_()
    loss_fn = DebiasedInfoNCE(0.5, tau_plus=0.1, beta=1.0)
    assert torch.autograd.gradcheck(loss_fn, (a, b))


@pytest.mark.parametrize("tau", [0.05, 0.01])
def test_debiased_small_temperature_is_finite(tau):
    for z2_sign, seed in ((1.0, 15), (-1.0, 16)):  # aligned (clamped) and opposite views
        z1 = randn(40, 8, seed=seed).requires_grad_()
        z2 = (z2_sign * z1.detach() + 0.1 * randn(40, 8, seed=seed + 100)).requires_grad_()
        loss = DebiasedInfoNCE(tau, tau_plus=0.1, beta=1.0)(z1, z2)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()
        # float32 agrees with float64
        ref = DebiasedInfoNCE(tau, tau_plus=0.1, beta=1.0)(z1.double(), z2.double())
        assert loss.item() == pytest.approx(ref.item(), rel=1e-4, abs=1e-5)


def test_debiased_gradients_finite_when_clamped():
    z1 = (torch.eye(6) * 2.0).requires_grad_()
    z2 = (torch.eye(6) * 2.0).requires_grad_()
    DebiasedInfoNCE(0.1, tau_plus=0.1, beta=2.0)(z1, z2).backward()
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_debiased_dtypes(dtype):
    z1, z2 = randn(10, 4, seed=17, dtype=dtype), randn(10, 4, seed=18, dtype=dtype)
    loss = DebiasedInfoNCE(0.5, tau_plus=0.1, beta=1.0)(z1, z2)
    assert loss.dtype == dtype and loss.dim() == 0
    expected, _ = debiased_reference(z1, z2, 0.5, 0.1, 1.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("kwargs,name", [
    (dict(temperature=0), "temperature"), (dict(temperature=-1.0), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(tau_plus=-0.1), "tau_plus"), (dict(tau_plus=1.0), "tau_plus"),
    (dict(tau_plus=1.5), "tau_plus"), (dict(tau_plus=float("nan")), "tau_plus"),
    (dict(tau_plus=True), "tau_plus"), (dict(tau_plus="0.1"), "tau_plus"),
    (dict(beta=-0.5), "beta"), (dict(beta=float("nan")), "beta"),
    (dict(beta=float("inf")), "beta"), (dict(beta=None), "beta"),
])
def test_debiased_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DebiasedInfoNCE(**kwargs)


def test_debiased_rejects_bad_inputs():
    loss_fn = DebiasedInfoNCE()
    with pytest.raises(ValueError, match="same shape"):
        loss_fn(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="at least 2"):
        loss_fn(torch.randn(1, 3), torch.randn(1, 3))


def test_debiased_repr():
    assert repr(DebiasedInfoNCE(0.2, 0.05, 1.0, False, False)) == (
        "DebiasedInfoNCE(temperature=0.2, tau_plus=0.05, beta=1.0, "
        "intra_view_negatives=False, symmetric=False)")


# ---------------------------------------------------------------------------------------------
# NCE


def nce_reference(z1, z2, idx, tau, weights=None, normalize=True):
    """Per anchor and per noise draw, in Python floats, given the drawn indices."""
    if normalize:
        z1, z2 = F.normalize(z1.double()), F.normalize(z2.double())
    z1, z2, idx = z1.double().tolist(), z2.double().tolist(), idx.tolist()
    n, k = len(z1), len(idx[0])
    q = [1.0 / n] * n if weights is None else [w / sum(weights) for w in weights]
    score = lambda i, j: sum(x * y for x, y in zip(z1[i], z2[j])) / tau  # noqa: E731
    total = 0.0
    for i in range(n):
        if q[i] > 0:  # q_i = 0: logit +inf, -log sigma(+inf) = 0
            total += softplus(-(score(i, i) - math.log(k * q[i])))  # -log sigma(u)
        for j in idx[i]:
            total += softplus(score(i, j) - math.log(k * q[j]))     # -log sigma(-u)
    return total / n


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5, 3.0, 1.0], [0.0, 1.0, 4.0, 0.0, 2.0]])
@pytest.mark.parametrize("tau,normalize", [(0.5, True), (0.2, True), (2.0, False)])
def test_nce_matches_brute_force_reference(weights, tau, normalize):
    z1 = randn(5, 3, seed=20, dtype=torch.float64)
    z2 = z1 + 0.5 * randn(5, 3, seed=21, dtype=torch.float64)
    w = None if weights is None else torch.tensor(weights)
    loss_fn = NCE(tau, num_noise=4, normalize=normalize)
    idx = loss_fn.sample_noise(5, w, generator=torch.Generator().manual_seed(3))
    loss = loss_fn(z1, z2, noise_weights=w, generator=torch.Generator().manual_seed(3))
    assert loss.item() == pytest.approx(nce_reference(z1, z2, idx, tau, weights, normalize),
                                        rel=1e-10)


def test_nce_concentrated_noise_samples_only_that_node():
    w = torch.tensor([0.0, 0.0, 1.0, 0.0])
    loss_fn = NCE(0.5, num_noise=3)
    for seed in range(5):
        idx = loss_fn.sample_noise(4, w, generator=torch.Generator().manual_seed(seed))
        assert idx.shape == (4, 3) and (idx == 2).all()
    # identical orthogonal views, all noise on node 2 (q_2 = 1), c = 1/tau = 2, k = 3:
    # anchors i != 2: data term 0 (q_i = 0), noise logit 0 - log 3 -> 3 softplus(-log 3);
    # anchor 2: data and noise logits 2 - log 3
    z = torch.eye(4, dtype=torch.float64).requires_grad_()
    expected = (3 * 3 * softplus(-math.log(3)) + softplus(math.log(3) - 2)
                + 3 * softplus(2 - math.log(3))) / 4
    loss = loss_fn(z, z, noise_weights=w)  # global RNG: the answer does not depend on it
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    loss.backward()
    assert torch.isfinite(z.grad).all()  # +inf data logits of the zero-weight nodes


def test_nce_collapsed_views_known_answer():
    # all rows equal: every score is 1/tau whatever is drawn, every logit x = 1/tau - log(k/N),
    # loss = softplus(-x) + k softplus(x)
    z = torch.ones(6, 4)
    for tau, k in ((1.0, 6), (0.5, 2), (0.05, 10)):
        x = 1 / tau - math.log(k / 6)
        expected = softplus(-x) + k * softplus(x)
        assert NCE(tau, num_noise=k)(z, z).item() == pytest.approx(expected, rel=1e-5)


def test_nce_uniform_noise_averages_to_its_expectation():
    # identical orthogonal views, uniform noise: a draw is the anchor itself with probability
    # 1/N (logit c - b, b = log(k/N)), else score 0 (logit -b)
    n, k, tau = 16, 8, 0.5
    c, b = 1 / tau, math.log(k / n)
    expected = softplus(-(c - b)) + k * (softplus(c - b) / n + (1 - 1 / n) * softplus(-b))
    z = torch.eye(n, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    loss_fn = NCE(tau, num_noise=k)
    mean = sum(loss_fn(z, z, generator=gen).item() for _ in range(200)) / 200
    assert mean == pytest.approx(expected, rel=0.02)  # sd of the mean is ~0.5% here
    # noise drawn among the other rows only (no collisions) would be outside the tolerance
    no_collision = softplus(-(c - b)) + k * softplus(-b)
    assert abs(no_collision - expected) > 0.05 * expected


def test_nce_weighted_sampling_frequencies():
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    idx = NCE(num_noise=2000).sample_noise(4, w, generator=torch.Generator().manual_seed(1))
    freq = torch.bincount(idx.flatten(), minlength=4).double() / idx.numel()
    assert torch.allclose(freq, w.double() / 10, atol=0.01)
    uniform = NCE(num_noise=2000).sample_noise(4, generator=torch.Generator().manual_seed(1))
    freq = torch.bincount(uniform.flatten(), minlength=4).double() / uniform.numel()
    assert torch.allclose(freq, torch.full((4,), 0.25, dtype=torch.float64), atol=0.01)


def test_nce_generator_and_global_rng_are_reproducible():
    z1, z2 = randn(12, 5, seed=22), randn(12, 5, seed=23)
    loss_fn = NCE(0.5, num_noise=4)
    first = loss_fn(z1, z2, generator=torch.Generator().manual_seed(7))
    again = loss_fn(z1, z2, generator=torch.Generator().manual_seed(7))
    other = loss_fn(z1, z2, generator=torch.Generator().manual_seed(8))
    assert first.item() == again.item() and first.item() != other.item()
    torch.manual_seed(5)
    a = loss_fn(z1, z2)
    torch.manual_seed(5)
    assert loss_fn(z1, z2).item() == a.item()


@pytest.mark.parametrize("weights", [None, torch.arange(1, 13) ** 0.75])
def test_nce_dtypes_agree(weights):
    z1, z2 = randn(12, 5, seed=24, dtype=torch.float64), randn(12, 5, seed=25, dtype=torch.float64)
    loss_fn = NCE(0.5, num_noise=6)
    out = {}
    for dtype in (torch.float32, torch.float64):
        out[dtype] = loss_fn(z1.to(dtype), z2.to(dtype), noise_weights=weights,
                             generator=torch.Generator().manual_seed(2))
        assert out[dtype].dtype == dtype and out[dtype].dim() == 0
    # the draw does not depend on the dtype (float64 noise distribution in both cases)
    assert out[torch.float32].item() == pytest.approx(out[torch.float64].item(), rel=1e-5)


@pytest.mark.parametrize("tau", [0.05, 0.01])
def test_nce_small_temperature_is_finite_and_gradients_flow(tau):
    z1 = randn(30, 8, seed=26).requires_grad_()
    z2 = (z1.detach() + 0.1 * randn(30, 8, seed=27)).requires_grad_()
    deg = torch.randint(0, 5, (30,), generator=torch.Generator().manual_seed(0)).float()
    deg[0] = 0.0  # a zero-weight node: never noise, +inf data logit
    for weights in (None, deg ** 0.75):
        z1.grad = z2.grad = None
        loss = NCE(tau, num_noise=8)(z1, z2, noise_weights=weights,
                                    generator=torch.Generator().manual_seed(1))
        loss.backward()
        assert torch.isfinite(loss)
        for g in (z1.grad, z2.grad):
            assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_nce_gradcheck():
    a = randn(5, 3, seed=28, dtype=torch.float64).requires_grad_()
    b = randn(5, 3, seed=29, dtype=torch.float64).requires_grad_()
    w = torch.tensor([1.0, 0.0, 2.0, 3.0, 1.0])
    loss_fn = NCE(0.5, num_noise=3)
    # same draw at every evaluation: a fresh generator with a fixed seed
    f = lambda x, y: loss_fn(x, y, noise_weights=w,  # noqa: E731
                             generator=torch.Generator().manual_seed(0))
    assert torch.autograd.gradcheck(f, (a, b))


@pytest.mark.parametrize("kwargs,name", [
    (dict(temperature=0), "temperature"), (dict(temperature=-0.5), "temperature"),
    (dict(num_noise=0), "num_noise"), (dict(num_noise=-3), "num_noise"),
    (dict(num_noise=2.5), "num_noise"), (dict(num_noise=True), "num_noise"),
    (dict(num_noise="4"), "num_noise"),
])
def test_nce_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NCE(**kwargs)


@pytest.mark.parametrize("weights", [
    torch.ones(5), torch.ones(4, 1), [1.0, 1.0, 1.0, 1.0],
    torch.tensor([1.0, -1.0, 1.0, 1.0]), torch.tensor([1.0, float("inf"), 1.0, 1.0]),
    torch.tensor([1.0, float("nan"), 1.0, 1.0]), torch.zeros(4),
])
def test_nce_rejects_bad_noise_weights(weights):
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="noise_weights"):
        NCE(num_noise=2)(z, z, noise_weights=weights)
    with pytest.raises(ValueError, match="noise_weights"):
        NCE(num_noise=2).sample_noise(4, weights)


def test_nce_repr():
    assert repr(NCE(0.2, 8, normalize=False)) == (
        "NCE(temperature=0.2, num_noise=8, normalize=False)")
