"""Non-contrastive (decorrelation) objectives: Barlow Twins, VICReg, CCA-SSG.

Known answers throughout: whitened identical views reach the minimum, small hand-computed
examples match closed forms, collapsed batches are penalised by exactly the amount the formulas
give, and the losses agree with the authors' reference code.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphssl.objectives import CCA_SSG, BarlowTwins, VICReg

TINY = 1e-12  # eps for float64 known-answer checks: standardisation is then exact to ~1e-12

# zero-mean, orthogonal, +-1 columns: biased std exactly 1 and uncorrelated
A = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
B = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)


def cols(*columns):
    return torch.stack(columns, dim=1)


def whitened(n, d, seed):
    """[n, d] with zero-mean, uncorrelated columns of biased std 1 (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(x - x.mean(0))  # columns: orthonormal, still zero-mean
    return q * math.sqrt(n)


def hadamard(n):
    h = torch.ones(1, 1)
    while h.size(0) < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)])
    return h


def off_diag(m):
    return m[~torch.eye(m.size(0), dtype=torch.bool)]


# --- reference implementations, written as the authors wrote them -----------------------------

def barlow_twins_reference(z1, z2, lambd):
    """facebookresearch/barlowtwins: BatchNorm1d(affine=False), c / batch_size."""
    bn = nn.BatchNorm1d(z1.size(1), affine=False).to(z1.dtype)
    c = bn(z1).T @ bn(z2) / z1.size(0)
    return (torch.diagonal(c) - 1).pow(2).sum() + lambd * off_diag(c).pow(2).sum()


def vicreg_reference(x, y, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0):
    """facebookresearch/vicreg VICReg.forward after the projector (one device)."""
    batch_size, num_features = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (batch_size - 1)
    cov_y = (y.T @ y) / (batch_size - 1)
    cov_loss = (off_diag(cov_x).pow(2).sum() / num_features
                + off_diag(cov_y).pow(2).sum() / num_features)
    return sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss


def cca_ssg_paper(z1, z2, lam):
    """Eq. 5 of the paper, element by element (biased std, no eps)."""
    n, d = z1.shape
    t1 = (z1 - z1.mean(0)) / z1.std(0, unbiased=False) / math.sqrt(n)
    t2 = (z2 - z2.mean(0)) / z2.std(0, unbiased=False) / math.sqrt(n)
    eye = torch.eye(d, dtype=z1.dtype)
    return (((t1 - t2) ** 2).sum()
            + lam * (((t1.T @ t1 - eye) ** 2).sum() + ((t2.T @ t2 - eye) ** 2).sum()))


def cca_ssg_authors_code(h1, h2, lambd):
    """hengruizhang98/CCA-SSG main loop (std made biased so the relation below is exact)."""
    n = h1.size(0)
    z1 = (h1 - h1.mean(0)) / h1.std(0, unbiased=False)
    z2 = (h2 - h2.mean(0)) / h2.std(0, unbiased=False)
    c, c1, c2 = z1.T @ z2 / n, z1.T @ z1 / n, z2.T @ z2 / n
    iden = torch.eye(c.size(0), dtype=c.dtype)
    return -torch.diagonal(c).sum() + lambd * ((iden - c1).pow(2).sum() + (iden - c2).pow(2).sum())


def random_views(n=64, d=16, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.2, 2.0, d, dtype=dtype)  # some dimensions below gamma = 1
    z1 = torch.randn(n, d, generator=g, dtype=dtype) * scale + 3.0
    z2 = z1 + 0.5 * torch.randn(n, d, generator=g, dtype=dtype)
    return z1, z2


LOSSES = [BarlowTwins, VICReg, CCA_SSG]


# --- (a) identical whitened views reach the minimum ---------------------------------------------

def test_barlow_twins_zero_on_identical_whitened_views():
    z = whitened(32, 8, seed=0)
    assert BarlowTwins(eps=TINY)(z, z).item() == pytest.approx(0.0, abs=1e-10)
    # standardisation removes any per-dimension scale and shift
    z = z * torch.linspace(0.1, 10.0, 8, dtype=torch.float64) - 7.0
    assert BarlowTwins(eps=TINY)(z, z).item() == pytest.approx(0.0, abs=1e-10)
    # default eps, float32: off by (eps/(1+eps))^2 per dimension only
    assert BarlowTwins()(z.float(), z.float()).item() == pytest.approx(0.0, abs=1e-5)


def test_barlow_twins_without_batch_norm_uses_inputs_as_given():
    z = hadamard(8)[:, 1:]  # already zero-mean, unit std, uncorrelated
    assert BarlowTwins(batch_norm=False)(z, z).item() == 0.0
    # no standardisation: scaling the inputs scales C (diagonal 4) -> d * (1 - 4)^2
    assert BarlowTwins(batch_norm=False)(2 * z, 2 * z).item() == pytest.approx(7 * 9.0)
    # and one sample is enough
    assert BarlowTwins(batch_norm=False)(z[:1], z[:1]).isfinite()


def test_cca_ssg_zero_on_identical_whitened_views():
    z = whitened(32, 8, seed=1)
    assert CCA_SSG(eps=TINY)(z, z).item() == pytest.approx(0.0, abs=1e-10)
    z = z * torch.linspace(0.1, 10.0, 8, dtype=torch.float64) + 5.0
    assert CCA_SSG(eps=TINY)(z, z).item() == pytest.approx(0.0, abs=1e-10)
    assert CCA_SSG()(z.float(), z.float()).item() == pytest.approx(0.0, abs=1e-5)


def test_vicreg_zero_on_identical_spread_out_views():
    z = hadamard(8)[:, 1:]  # unbiased std sqrt(8/7) >= gamma = 1, covariance 0
    inv, var, cov = VICReg().terms(z, z)
    assert inv.item() == 0.0 and var.item() == 0.0 and cov.item() == 0.0
    assert VICReg()(z, z).item() == 0.0
    # same columns shrunk below gamma: only the variance term is left, relu(1 - std)
    inv, var, cov = VICReg(eps=TINY).terms(0.5 * z, 0.5 * z)
    expected = 1 - 0.5 * math.sqrt(8 / 7)
    assert inv.item() == 0.0 and cov.item() == 0.0
    assert var.item() == pytest.approx(expected, rel=1e-6)


def test_minimum_is_below_unrelated_views():
    z = whitened(32, 8, seed=2)
    other = whitened(32, 8, seed=3)
    for cls in LOSSES:
        loss = cls()
        assert loss(z, z).item() < loss(z, other).item(), cls.__name__


# --- (b) hand-computed small examples ------------------------------------------------------------

def test_barlow_twins_hand_computed():
    # standardised: z1 = [a, b], z2 = [(a+b)/sqrt2, (a-b)/sqrt2]; a.a = b.b = 4, a.b = 0
    # C = [[1, 1], [1, -1]] / sqrt2 -> (1 - 1/sqrt2)^2 + (1 + 1/sqrt2)^2 + lam (1/2 + 1/2)
    z1, z2 = cols(A, B), cols(A + B, A - B)
    for lam in (5e-3, 0.5, 2.0):
        assert BarlowTwins(lam, eps=TINY)(z1, z2).item() == pytest.approx(3 + lam, rel=1e-10)
    # per-dimension affine maps of either view change nothing
    z2 = z2 * torch.tensor([3.0, 0.25], dtype=torch.float64) + torch.tensor([10.0, -2.0],
                                                                            dtype=torch.float64)
    assert BarlowTwins(0.5, eps=TINY)(z1, z2).item() == pytest.approx(3.5, rel=1e-10)
    # swapped features: C = [[0, 1], [1, 0]] -> 2 + 2 lam
    assert BarlowTwins(0.5, eps=TINY)(cols(A, B), cols(B, A)).item() == pytest.approx(3.0)


def test_vicreg_hand_computed():
    # z1 = [a, b], z2 = [a, a+b]; unbiased variances: a, b: 4/3, a+b: 8/3; cov(a, a+b) = 4/3
    z1, z2 = cols(A, B), cols(A, A + B)
    inv, var, cov = VICReg(gamma=2.0, eps=TINY).terms(z1, z2)
    assert inv.item() == pytest.approx(4 / 8)  # (z1 - z2) = [0, -a]: 4 over 8 entries
    v1 = 2 - math.sqrt(4 / 3)
    v2 = ((2 - math.sqrt(4 / 3)) + (2 - math.sqrt(8 / 3))) / 2
    assert var.item() == pytest.approx((v1 + v2) / 2, rel=1e-10)
    assert cov.item() == pytest.approx(0 + 2 * (4 / 3) ** 2 / 2, rel=1e-10)
    loss = VICReg(sim_weight=3.0, var_weight=5.0, cov_weight=7.0, gamma=2.0, eps=TINY)(z1, z2)
    expected = 3 * 0.5 + 5 * (v1 + v2) / 2 + 7 * 16 / 9
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_cca_ssg_hand_computed():
    # standardised / sqrt(N): z1 = [a, b] / 2, z2 = [a, (a+b)/sqrt2] / 2
    # invariance ||b - (a+b)/sqrt2||^2 / 4 = (1 - 1/sqrt2)^2 + 1/2 = 2 - sqrt2
    # decorrelation: view 1 is whitened (0); view 2 has correlation 1/sqrt2 -> 2 * 1/2 = 1
    z1, z2 = cols(A, B), cols(A, A + B)
    for lam in (1e-3, 0.5, 3.0):
        expected = 2 - math.sqrt(2) + lam
        assert CCA_SSG(lam, eps=TINY)(z1, z2).item() == pytest.approx(expected, rel=1e-10)


# --- agreement with the authors' formulations on random inputs ---------------------------------

@pytest.mark.parametrize("lam", [5e-3, 0.1])
def test_barlow_twins_matches_reference(lam):
    z1, z2 = random_views(seed=1)
    assert torch.allclose(BarlowTwins(lam)(z1, z2), barlow_twins_reference(z1, z2, lam),
                          rtol=1e-5, atol=1e-5)


def test_vicreg_matches_reference():
    z1, z2 = random_views(seed=2)
    inv, var, _ = VICReg().terms(z1, z2)
    assert inv > 0 and var > 0  # every term is exercised
    assert torch.allclose(VICReg()(z1, z2), vicreg_reference(z1, z2), rtol=1e-5, atol=1e-5)


def test_cca_ssg_matches_paper_and_authors_code():
    z1, z2 = random_views(seed=3, dtype=torch.float64)
    for lam in (1e-3, 0.05):
        ours = CCA_SSG(lam, eps=TINY)(z1, z2)
        assert torch.allclose(ours, cca_ssg_paper(z1, z2, lam), rtol=1e-10)
        # documented relation: ours(2 lambd) = 2 * code(lambd) + 2 d
        ours = CCA_SSG(2 * lam, eps=TINY)(z1, z2)
        code = cca_ssg_authors_code(z1, z2, lam)
        assert torch.allclose(ours, 2 * code + 2 * z1.size(1), rtol=1e-10)


# --- (c) collapse is penalised, finitely --------------------------------------------------------

def collapsed(n=16, d=8, seed=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, d, generator=g).expand(n, d).contiguous()


def test_complete_collapse_gives_the_documented_finite_loss():
    z = collapsed()  # variance 0: eps keeps the standardisation finite (it maps z to ~0)
    d = z.size(1)
    assert BarlowTwins()(z, z).item() == pytest.approx(d, rel=1e-4)  # C = 0
    assert CCA_SSG(1e-3)(z, z).item() == pytest.approx(2e-3 * d, rel=1e-4)  # Z^T Z = 0
    # VICReg: only the variance term, relu(gamma - sqrt(eps)) in every dimension
    assert VICReg()(z, z).item() == pytest.approx(25 * (1 - math.sqrt(1e-4)), rel=1e-5)
    whitened_z = whitened(16, 8, seed=5).float()
    for cls in LOSSES:
        assert cls()(z, z).item() > cls()(whitened_z, whitened_z).item() + 1e-3, cls.__name__


def test_dimensional_collapse_is_penalised_exactly():
    # every dimension carries the same signal: all correlations are 1
    x = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    d = 5
    z = x.unsqueeze(1).expand(6, d).contiguous()
    assert BarlowTwins(0.1, eps=TINY)(z, z).item() == pytest.approx(0.1 * d * (d - 1))
    assert CCA_SSG(0.1, eps=TINY)(z, z).item() == pytest.approx(0.1 * 2 * d * (d - 1))
    # unbiased variance 6/5 >= 1: no variance penalty; covariance (d - 1) var^2 per view
    inv, var, cov = VICReg(eps=TINY).terms(z, z)
    assert inv.item() == 0.0 and var.item() == 0.0
    assert cov.item() == pytest.approx(2 * (d - 1) * (6 / 5) ** 2)


# --- (d) gradients -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", LOSSES, ids=lambda c: c.__name__)
def test_gradients_are_finite_and_correct(cls):
    z1, z2 = random_views(n=12, d=5, seed=6, dtype=torch.float64)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    assert torch.autograd.gradcheck(cls(), (z1, z2))
    # at complete collapse, too (std 0 in every dimension)
    c1 = collapsed().requires_grad_(True)
    c2 = collapsed(seed=7).requires_grad_(True)
    loss = cls()(c1, c2)
    loss.backward()
    assert loss.isfinite() and c1.grad.isfinite().all() and c2.grad.isfinite().all()


@pytest.mark.parametrize("cls", LOSSES, ids=lambda c: c.__name__)
def test_float32_training_step_is_finite(cls):
    z1, z2 = random_views(seed=8)
    z1.requires_grad_(True)
    loss = cls()(z1, z2)
    loss.backward()
    assert loss.dim() == 0 and loss.isfinite() and z1.grad.isfinite().all()


# --- (e) argument and input validation -----------------------------------------------------------

@pytest.mark.parametrize("cls, kwargs, message", [
    (BarlowTwins, {"lambda_": -1}, "lambda_ must be > 0, got -1"),
    (BarlowTwins, {"lambda_": 0}, "lambda_ must be > 0, got 0"),
    (BarlowTwins, {"lambda_": float("nan")}, "lambda_ must be > 0, got nan"),
    (BarlowTwins, {"eps": 0.0}, "eps must be > 0, got 0.0"),
    (BarlowTwins, {"lambda_": "0.1"}, "lambda_ must be > 0, got '0.1'"),
    (VICReg, {"sim_weight": -1}, "sim_weight must be >= 0, got -1"),
    (VICReg, {"var_weight": -0.5}, "var_weight must be >= 0, got -0.5"),
    (VICReg, {"cov_weight": float("nan")}, "cov_weight must be >= 0, got nan"),
    (VICReg, {"gamma": 0}, "gamma must be > 0, got 0"),
    (VICReg, {"eps": -1e-4}, "eps must be > 0, got -0.0001"),
    (VICReg, {"sim_weight": True}, "sim_weight must be >= 0, got True"),
    (CCA_SSG, {"lambda_": -1}, "lambda_ must be > 0, got -1"),
    (CCA_SSG, {"eps": 0}, "eps must be > 0, got 0"),
])
def test_bad_arguments_name_the_parameter(cls, kwargs, message):
    with pytest.raises(ValueError) as err:
        cls(**kwargs)
    assert str(err.value) == message


def test_zero_weights_are_allowed_for_vicreg_ablations():
    z1, z2 = random_views(seed=9)
    inv, var, cov = VICReg().terms(z1, z2)
    assert VICReg(sim_weight=1, var_weight=0, cov_weight=0)(z1, z2) == inv


@pytest.mark.parametrize("cls", LOSSES, ids=lambda c: c.__name__)
def test_bad_inputs_raise(cls):
    loss = cls()
    with pytest.raises(ValueError, match=r"same shape.*\[4, 3\] and \[4, 2\]"):
        loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"same shape"):
        loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"z1 must be a 2-D tensor"):
        loss(torch.randn(4), torch.randn(4))
    with pytest.raises(ValueError, match=r"z2 must be a 2-D tensor"):
        loss(torch.randn(4, 3), [[0.0] * 3] * 4)
    with pytest.raises(ValueError, match=r"at least 2 rows.*got \[1, 3\]"):
        loss(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"at least 2 rows.*got \[0, 3\]"):
        loss(torch.randn(0, 3), torch.randn(0, 3))
    with pytest.raises(ValueError, match=r"1 column.*got \[4, 0\]"):
        loss(torch.randn(4, 0), torch.randn(4, 0))


def test_repr_shows_hyperparameters():
    assert "lambda_=0.005, batch_norm=True, eps=1e-05" in repr(BarlowTwins())
    assert "sim_weight=25.0" in repr(VICReg()) and "gamma=1.0" in repr(VICReg())
    assert "lambda_=0.001" in repr(CCA_SSG())


def test_cca_ssg_is_scale_invariant_for_small_outputs():
    """Regression: an additive epsilon made small-scale encoder outputs (a GCN on row-normalised
    bag-of-words) look collapsed, and training collapsed to the 2*lambda*d minimum on Cora."""
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)
    loss = CCA_SSG(lambda_=1e-3)
    assert loss(z1 * 1e-4, z2 * 1e-4).item() == pytest.approx(loss(z1, z2).item(), rel=1e-4)
