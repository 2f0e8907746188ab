"""Lower tail of a generalized chi-square against closed forms derived here (not by the code under test).

References, all computed in this file:
* one term ``w (z + b)^2``: ``P(Q <= eps) = Phi(sqrt(eps/w) - b) - Phi(-sqrt(eps/w) - b)``, a Gaussian interval;
* ``k`` equal weights: ``Q / w ~ chi2_k(sum b^2)``: scipy's ``ncx2.logcdf`` (moderate tail) and, deep in the
  tail, the Poisson mixture ``sum_j Pois(j; lam/2) P(Gamma(k/2 + j) <= eps/(2w))`` summed with mpmath;
* two weights ``w1 != w2`` of multiplicity 2, no offsets: ``w chi2_2`` is exponential with rate ``r = 1/(2w)``,
  and the sum of two exponentials has ``F(x) = 1 - (r2 e^{-r1 x} - r1 e^{-r2 x}) / (r2 - r1)`` (mpmath);
* Monte Carlo where ``P`` is about 1e-2, within a binomial standard error.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from scipy import stats

from jaxbias.theory import gchisq as G

LN2 = math.log(2)


def bits_of(log_p):
    return -np.asarray(log_p, dtype=np.float64) / LN2


def gaussian_interval_bits(w, b, eps):
    r = np.sqrt(np.asarray(eps) / w)
    return np.array([-math.log2(float(mpmath.ncdf(ri - b) - mpmath.ncdf(-ri - b))) for ri in np.atleast_1d(r)])


def ncx2_bits_mpmath(k, lam, x, terms=4000):
    """``-log2 P(chi2_k(lam) <= x)`` as a Poisson mixture of central chi-squares, at 60 digits."""
    with mpmath.workdps(60):
        k, lam, x = mpmath.mpf(k), mpmath.mpf(lam), mpmath.mpf(x)
        total, biggest = mpmath.mpf(0), mpmath.mpf(0)
        for j in range(terms):
            term = mpmath.exp(-lam / 2 + j * mpmath.log(lam / 2) - mpmath.loggamma(j + 1)) if lam > 0 else \
                mpmath.mpf(j == 0)
            term *= mpmath.gammainc(k / 2 + j, 0, x / 2, regularized=True)
            total += term
            biggest = max(biggest, term)
            if j > lam / 2 + 10 and term < biggest * mpmath.mpf(10) ** -40:
                break
        return float(-mpmath.log(total, 2))


def hypoexponential_bits(w1, w2, x):
    with mpmath.workdps(80):
        r1, r2, x = 1 / (2 * mpmath.mpf(w1)), 1 / (2 * mpmath.mpf(w2)), mpmath.mpf(x)
        f = 1 - (r2 * mpmath.exp(-r1 * x) - r1 * mpmath.exp(-r2 * x)) / (r2 - r1)
        return float(-mpmath.log(f, 2))


@pytest.fixture(autouse=True)
def _quiet_quadrature():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- one term: a Gaussian interval --------------------------------------------------------------------------------

@pytest.mark.parametrize("w,b", [(0.7, 0.4), (2.0, 0.0), (0.05, -1.5)])
def test_one_term_is_a_gaussian_interval(w, b):
    eps = np.array([1e-3, 0.1, 1.0]) * w * (1 + b * b)
    exact = gaussian_interval_bits(w, b, eps)
    q = G.gchisq([w], [b])
    inv, im = G.inversion(q, eps), G.imhof(q, eps)
    np.testing.assert_allclose(inv.bits, exact, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(im.bits, exact, rtol=1e-9, atol=1e-10)
    assert np.all(np.abs(inv.bits - exact) <= 10 * inv.error + 1e-12)
    assert np.all(G.chernoff(q, eps).bits <= exact + 1e-12)
    sp = G.saddlepoint(q, eps)  # one degree of freedom: the saddlepoint is rough, but not wild
    assert np.all(np.abs(sp.bits - exact) < 0.2 + 0.05 * exact)


# --- equal weights: a scaled non-central chi-square ---------------------------------------------------------------

def test_equal_weights_match_scipy_ncx2():
    k, w = 50, 0.02
    b = np.linspace(-0.5, 0.5, k)
    eps = np.array([0.05, 0.3, 1.0, 1.2])
    exact = bits_of(stats.ncx2.logcdf(eps / w, k, np.sum(b ** 2)))
    q = G.gchisq(np.full(k, w), b)
    assert q.w.size == 1 and q.h[0] == k
    inv = G.inversion(q, eps)
    np.testing.assert_allclose(inv.bits, exact, rtol=1e-9)
    sp = G.saddlepoint(q, eps)
    np.testing.assert_allclose(sp.bits, exact, rtol=1e-3)
    assert np.all(np.abs(sp.bits - exact) <= 5 * sp.error + 1e-6)  # its error estimate covers it
    moderate = exact < 30
    np.testing.assert_allclose(G.imhof(q, eps[moderate]).bits, exact[moderate], rtol=1e-8)
    assert np.all(G.chernoff(q, eps).bits <= exact)


@pytest.mark.parametrize("k,lam,frac", [(1000, 40.0, 0.02), (400, 100.0, 0.01), (10, 3.0, 1e-3)])
def test_deep_tail_against_mpmath_series(k, lam, frac):
    """Thousands of bits: an equal-weight sum against a 60-digit Poisson-mixture evaluation."""
    w = 1e-3
    x = frac * (k + lam)  # in units of w
    exact = ncx2_bits_mpmath(k, lam, x)
    offsets = np.zeros(k)
    offsets[0] = math.sqrt(lam)
    q = G.gchisq(np.full(k, w), offsets)
    inv = G.inversion(q, w * x)
    sp = G.saddlepoint(q, w * x)
    ch = G.chernoff(q, w * x)
    assert exact > 30
    np.testing.assert_allclose(inv.bits, exact, rtol=1e-9)
    np.testing.assert_allclose(sp.bits, exact, rtol=2e-3)
    assert ch.bits[0] <= exact
    if k >= 400:
        assert exact > 1000  # really deep
        assert abs(sp.bits[0] - exact) < 0.05


# --- two distinct weights of multiplicity 2: a difference of exponentials ----------------------------------------

@pytest.mark.parametrize("eps", [1e-4, 1e-2, 0.3, 2.0])
def test_two_weights_multiplicity_two_hypoexponential(eps):
    w1, w2 = 0.3, 0.05
    exact = hypoexponential_bits(w1, w2, eps)
    q = G.gchisq([w1, w1, w2, w2], None)
    assert q.h.tolist() == [2.0, 2.0]
    np.testing.assert_allclose(G.inversion(q, eps).bits, exact, rtol=1e-9, atol=1e-11)
    if exact < 35:
        np.testing.assert_allclose(G.imhof(q, eps).bits, exact, rtol=1e-8, atol=1e-10)
    assert G.chernoff(q, eps).bits[0] <= exact + 1e-12
    sp = G.saddlepoint(q, eps)
    assert abs(sp.bits[0] - exact) < 0.1 + 0.02 * exact


def test_outputs_sharing_a_weight_compress():
    """Offsets (n, k): weight i applies to k terms; the law depends only on (w, k, sum of squared offsets)."""
    rng = np.random.default_rng(1)
    w = rng.uniform(0.1, 1.0, 5)
    b = rng.normal(size=(5, 3))
    q = G.gchisq(w, b)
    q_flat = G.gchisq(np.repeat(w, 3), b.reshape(-1))
    for a, c in zip(q, q_flat):
        np.testing.assert_allclose(a, c)
    np.testing.assert_allclose(q.lam, np.sum(b ** 2, 1)[np.argsort(w)])


# --- the constant c and the support ------------------------------------------------------------------------------

def test_constant_shifts_epsilon_and_below_support_is_zero_probability():
    w, b = np.array([0.2, 0.5, 0.5]), np.array([0.3, 0.0, -1.0])
    base = G.inversion(G.gchisq(w, b), [0.1, 0.4]).bits
    shifted = G.gchisq(w, b, c=0.25)
    np.testing.assert_allclose(G.inversion(shifted, [0.35, 0.65]).bits, base, rtol=1e-10)
    report = G.lower_tail(w, b, [0.2, 0.25], c=0.25, methods=("inversion", "saddlepoint", "chernoff"))
    assert np.all(np.isinf(report.bits)) and np.all(np.isinf(report.recommended_bits))


def test_zero_weights_drop_out():
    q = G.gchisq([0.0, 0.4, 0.0], [5.0, 0.2, -3.0], c=0.1)
    assert q.w.tolist() == [0.4] and q.c == 0.1


# --- Monte Carlo where P is about 1e-2 ------------------------------------------------------------------------------

def test_monte_carlo_near_one_percent():
    k, w = 8, 0.1
    b = np.full(k, 0.5)
    nc = float(np.sum(b ** 2))
    eps = w * stats.ncx2.ppf(0.01, k, nc)  # exact P = 1e-2
    n = 40_000
    mc = G.monte_carlo(G.gchisq(np.full(k, w), b), eps, n=n, seed=3)
    se_bits = math.sqrt(0.99 / (n * 0.01)) / LN2
    assert abs(mc.bits[0] - math.log2(100)) < 4 * se_bits
    assert abs(mc.error[0] - se_bits) < 0.2 * se_bits
    lo, hi = mc.interval[0]
    assert lo < mc.bits[0] < hi


def test_monte_carlo_mixed_weights_agree_with_inversion():
    rng = np.random.default_rng(0)
    w = rng.uniform(0.01, 0.2, 30)
    b = rng.normal(size=30)
    q = G.gchisq(w, b)
    draws = G.sample(q, 40_000, seed=1)
    assert abs(draws.mean() - G.mean(q)) < 5 * draws.std() / math.sqrt(draws.size)
    eps = float(np.quantile(draws, 0.01))
    inv = G.inversion(q, eps)
    mc = G.monte_carlo(q, eps, samples=G.sample(q, 40_000, seed=2))  # fresh draws
    assert abs(mc.bits[0] - inv.bits[0]) < 4 * mc.error[0]


# --- the reference code's fit, and the combined report ------------------------------------------------------------

def test_lower_tail_recommends_inversion_and_flags_the_fit_in_the_deep_tail():
    rng = np.random.default_rng(2)
    w = np.concatenate([np.full(200, 1e-3), rng.uniform(1e-4, 1e-2, 50)])
    b = rng.normal(size=250) * 0.5
    q = G.gchisq(w, b)
    eps = G.mean(q) * np.array([0.15, 0.6, 1.0])
    r = G.lower_tail(q, None, eps, n_samples=4000, seed=0)
    assert r.methods == G.DEFAULT_METHODS
    assert r.recommended[0] == "inversion"
    j = {m: i for i, m in enumerate(r.methods)}
    assert not r.disagree[:, j["chernoff"]].any()
    assert not r.disagree[:, j["saddlepoint"]].any()
    assert not r.disagree[:, j["inversion"]].any()
    assert np.all(r.bits[:, j["chernoff"]] <= r.recommended_bits)
    assert r.bits[0, j["inversion"]] > 100
    assert r.disagree[0, j["ncx2_fit"]]  # one fitted ncx2 is far off deep in the tail
    assert np.isinf(r.bits[0, j["monte_carlo"]]) and np.isinf(r.error[0, j["monte_carlo"]])
    assert r.tails[j["ncx2_fit"]].kind == "reference" and np.isnan(r.error[:, j["ncx2_fit"]]).all()


def test_disagreement_is_reported():
    t = G.Tail("x", np.array([1.0]), np.array([5.0]), np.array([0.1]), np.zeros((1, 2)), "estimate", "")
    assert G._disagree(t, np.array([6.0]), np.array([0.1]), 3.0)[0]
    assert not G._disagree(t, np.array([5.2]), np.array([0.1]), 3.0)[0]
    bound = t._replace(kind="lower_bound", error=np.zeros(1))
    assert G._disagree(bound, np.array([4.0]), np.array([0.1]), 3.0)[0]  # the bound is violated
    assert not G._disagree(bound, np.array([6.0]), np.array([0.1]), 3.0)[0]


# --- bad input -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [0.0, -1.0, [0.1, -0.2], np.nan])
def test_epsilon_must_be_positive(eps):
    with pytest.raises(ValueError, match="epsilon"):
        G.lower_tail([1.0], [0.0], eps)


def test_bad_weights_offsets_methods():
    with pytest.raises(ValueError, match="weights"):
        G.gchisq([1.0, -0.1])
    with pytest.raises(ValueError, match="offsets"):
        G.gchisq([1.0, 2.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="methods"):
        G.lower_tail([1.0], [0.0], 0.5, methods=("imhoff",))
    with pytest.raises(ValueError, match="n="):
        G.sample(G.gchisq([1.0]), 0)
