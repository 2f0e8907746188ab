"""Law of G_0, estimators and KS test against independent numerical integration (scipy) and simulation."""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import jaxbias as jb
from jaxbias.theory import guessing as th

GAMMAS = [0.1, 1.0, 7.0]


def _e_over_z(f, gamma):
    """E[f(Phi(z))], z ~ N(0, gamma), by adaptive quadrature (independent of the library's formulas)."""
    return integrate.quad(lambda s: f(special.ndtr(math.sqrt(gamma) * s)) * stats.norm.pdf(s), -np.inf, np.inf,
                          epsabs=1e-12)[0]


@pytest.mark.parametrize("gamma", GAMMAS)
def test_two_class_closed_forms_match_quadrature(gamma):
    assert th.g0_var(gamma) == pytest.approx(_e_over_z(lambda g: (g - 0.5) ** 2, gamma), abs=1e-9)
    assert th.expected_max_fraction(gamma) == pytest.approx(_e_over_z(lambda g: max(g, 1 - g), gamma), abs=1e-8)
    for g in (0.05, 0.3, 0.5, 0.8):
        # cdf: P(Phi(z) <= g) = P(z <= Phi^-1(g)) under N(0, gamma); pdf integrates to it.
        assert th.g0_cdf(g, gamma) == pytest.approx(stats.norm(0, math.sqrt(gamma)).cdf(stats.norm.ppf(g)), abs=1e-12)
        assert integrate.quad(lambda t: th.g0_pdf(t, gamma), 0, g, limit=200)[0] == pytest.approx(
            th.g0_cdf(g, gamma), abs=1e-6)


def test_law_shape_regimes_and_limits():
    assert th.g0_pdf(0.5, 0.5) > th.g0_pdf(0.1, 0.5)  # neutral: mode at 1/2
    np.testing.assert_allclose(th.g0_pdf(np.linspace(0.01, 0.99, 9), 1.0), 1.0)  # uniform
    assert th.g0_pdf(0.5, 3.0) < th.g0_pdf(0.1, 3.0)  # prejudiced: U-shaped
    assert th.g0_var(0.0) == 0.0 and th.g0_var(math.inf) == 0.25
    assert th.expected_max_fraction(0.0) == 0.5 and th.expected_max_fraction(math.inf) == 1.0
    np.testing.assert_allclose(th.gamma_from_kernel([2.0, 1.0], [1.0, 0.0]), [1.0, 0.0])
    assert th.gamma_from_kernel(1.0, 1.0) == math.inf


@pytest.mark.parametrize("mu", [[0.3, -1.0, 2.0], [4.0, -3.0, 0.0, 1.0]])
def test_multiclass_fractions_match_adaptive_quadrature(mu):
    mu = np.asarray(mu)
    want = [integrate.quad(lambda t: stats.norm.pdf(t - m) * np.prod(
        [stats.norm.cdf(t - o) for j, o in enumerate(mu) if j != k]), -np.inf, np.inf, epsabs=1e-12)[0]
        for k, m in enumerate(mu)]
    np.testing.assert_allclose(th.fractions_given_centres(mu), want, atol=1e-8)


def test_multiclass_integration_reduces_to_the_two_class_closed_form():
    # k = 2 through the numerical route: the pair (mu0 - mu1) / sqrt(2) ~ N(0, gamma).
    e_max, var = th._multiclass_moments(2.0, 2, 2**13, 0)
    assert e_max == pytest.approx(th.expected_max_fraction(2.0), abs=5e-4)
    assert var == pytest.approx(th.g0_var(2.0), abs=5e-4)


def test_multiclass_moments_match_simulated_argmax():
    # Independent reference: nets with iid N(0, gamma) centres, 2000 unit-Gaussian outputs per point.
    rng = np.random.default_rng(1)
    gamma, k, nets, pts = 1.5, 4, 3000, 2000
    mu = rng.normal(0, math.sqrt(gamma), (nets, 1, k))
    cls = np.argmax(mu + rng.normal(size=(nets, pts, k)), axis=2)
    frac = np.stack([(cls == j).mean(1) for j in range(k)], 1)
    e_max, sem = frac.max(1).mean(), frac.max(1).std() / math.sqrt(nets)
    assert abs(th.expected_max_fraction(gamma, k) - e_max) < 5 * sem + 1e-3
    var_g0 = np.var(frac[:, 0], ddof=1) - np.mean(frac[:, 0] * (1 - frac[:, 0])) / (pts - 1)
    assert th.g0_var(gamma, k) == pytest.approx(var_g0, rel=0.12)  # var's relative SE ~ sqrt(2 / nets)


def _simulated(gamma, nets, pts, seed):
    rng = np.random.default_rng(seed)
    f = rng.normal(0, math.sqrt(gamma), (nets, 1)) + rng.normal(size=(nets, pts))
    return f.mean(1), f.var(1, ddof=1), (f <= 0).mean(1)


@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
def test_estimators_recover_the_model(gamma):
    pts = 50
    m, v, g0 = _simulated(gamma, 4000, pts, seed=3)
    est = th.estimate_gamma(m, v, pts, n_boot=300)
    assert est.low <= est.value <= est.high
    assert abs(est.value - gamma) < 5 * est.stderr
    var = th.estimate_g0_var(g0, pts, n_boot=300)
    assert abs(var.value - th.g0_var(gamma)) < 5 * var.stderr
    mx = th.estimate_max_fraction(np.maximum(g0, 1 - g0), n_boot=300)
    # finite n: E[max] of binomial fractions; compare with the exact binomial-mixture expectation
    k = np.arange(pts + 1)
    pmf = np.diff(np.concatenate([[0.0], th._binomial_mixture_cdf(gamma, pts)]))
    assert abs(mx.value - np.sum(pmf * np.maximum(k, pts - k) / pts)) < 5 * mx.stderr


def test_binomial_mixture_matches_quadrature():
    gamma, n = 0.7, 6
    pmf = [_e_over_z(lambda p: stats.binom.pmf(j, n, p), gamma) for j in range(n + 1)]
    np.testing.assert_allclose(th._binomial_mixture_cdf(gamma, n), np.cumsum(pmf), atol=1e-8)


def test_ks_accepts_the_true_law_and_rejects_a_wrong_one():
    _, _, g0 = _simulated(1.5, 3000, 200, seed=5)
    assert th.ks_test(g0, 1.5, n_points=200).pvalue > 1e-3
    assert th.ks_test(g0, 0.5, n_points=200).pvalue < 1e-6
    g = special.ndtr(np.random.default_rng(6).normal(0, math.sqrt(0.4), 3000))
    assert th.ks_test(g, 0.4).pvalue > 1e-3 and th.ks_test(g, 1.0).pvalue < 1e-6


@pytest.mark.parametrize("call, match", [
    (lambda: th.g0_var(-1.0), "gamma=-1.0"),
    (lambda: th.g0_pdf(0.3, 0.0), "gamma=0.0"),
    (lambda: th.expected_max_fraction(1.0, n_classes=1), "n_classes=1"),
    (lambda: th.estimate_gamma(np.zeros(5), np.ones(4), 10), "equal shapes"),
    (lambda: th.estimate_gamma(np.zeros(5), np.ones(5), 0), "n_points=0"),
    (lambda: th.ks_test([0.5, np.nan], 1.0), "non-finite"),
    (lambda: th.gamma_from_kernel(1.0, 2.0), "q_ab"),
])
def test_bad_arguments_name_themselves(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_exported():
    assert jb.theory.g0_var is th.g0_var and jb.measures.class_fractions is not None


def test_finite_n_pmf_is_binomial_at_gamma_zero_and_normalized():
    np.testing.assert_allclose(th.g0_pmf(0.0, 9), stats.binom.pmf(np.arange(10), 9, 0.5), atol=1e-12)
    assert th.g0_pmf(2.0, 30).sum() == pytest.approx(1.0, abs=1e-8)
    # gamma = 1: Phi(z) is uniform, so the count is uniform on 0..n (beta-binomial with a = b = 1)
    np.testing.assert_allclose(th.g0_pmf(1.0, 5), np.full(6, 1 / 6), atol=1e-8)
