"""Checks API: right predictions accepted, wrong ones rejected, at the stated confidence, with fixed keys."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jaxbias as jb
from jaxbias.experiments import Estimator, check, check_distribution, compare, critical_z, merge


def _normal(n=20000, seed=0):
    return np.random.default_rng(seed).normal(0.0, 1.5, size=(n, 1))


def test_mean_check_accepts_truth_rejects_wrong():
    v = _normal()
    right = compare(np.array([0.0]), v, confidence=0.99)
    wrong = compare(np.array([0.1]), v, confidence=0.99)  # 0.1 = 9.4 standard errors away
    assert right.passed and not wrong.passed and right.n == 20000
    np.testing.assert_allclose(right.stderr, 1.5 / np.sqrt(20000), rtol=0.02)  # sigma / sqrt(n)
    assert right.ci_low[0] < 0 < right.ci_high[0] and right.critical_z == pytest.approx(stats.norm.isf(0.005))


def test_delta_method_kurtosis_of_gaussian():
    z = _normal()[:, 0]
    values = np.stack([z ** 2, z ** 4], 1)
    kurt = lambda m: m[1] / m[0] ** 2 - 3.0  # noqa: E731
    right, wrong = compare(0.0, values, kurt), compare(0.3, values, kurt)
    assert right.passed and not wrong.passed
    # delta-method variance of the sample kurtosis of a Gaussian is 24 / n (Fisher)
    np.testing.assert_allclose(right.stderr, np.sqrt(24 / 20000), rtol=0.1)


def test_tolerance_admits_systematic_error_and_bonferroni():
    v = _normal()
    assert compare(np.array([0.1]), v, tolerance=0.1).passed
    assert critical_z(0.99, 10) == pytest.approx(stats.norm.isf(0.01 / 20))
    parts = [compare(np.array([0.0]), _normal(seed=s)) for s in range(3)]
    joined = merge(parts, "joined")
    assert joined.prediction.shape == (3,) and joined.critical_z == pytest.approx(critical_z(0.99, 3))
    assert joined.passed and not merge(parts + [compare(np.array([0.2]), _normal(seed=9))]).passed


def test_engine_check_relu_output_variance():
    # One relu layer, C_W = 2, |x|^2 = d0: K1 = 2, output variance C_W K1 / 2 = 2 exactly at any width.
    net = jb.nets.mlp(width=16, depth=1, activation="relu", weight_var=2.0)
    x = np.ones((1, 4), np.float32)
    est = Estimator(lambda y: jnp.mean(y ** 2))
    assert check(net, x, est, 2.0, n=4000, key=1, progress=False).passed
    assert not check(net, x, est, 2.4, n=4000, key=1, progress=False).passed


@pytest.mark.parametrize("method", ["ks", "wasserstein"])
def test_distribution_checks(method):
    v = np.random.default_rng(3).normal(0.0, 1.0, size=2000)
    assert check_distribution(v, stats.norm(0, 1), method=method).passed
    assert not check_distribution(v, stats.norm(0, 1.15), method=method).passed
    ref_same = np.random.default_rng(4).normal(0.0, 1.0, size=2000)
    ref_other = np.random.default_rng(4).normal(0.2, 1.0, size=2000)
    assert check_distribution(v, ref_same, method=method, n_null=100).passed
    assert not check_distribution(v, ref_other, method=method, n_null=100).passed


@pytest.mark.parametrize("call, message", [
    (lambda: compare(0.0, np.ones((1, 1))), "n >= 2"),
    (lambda: compare(np.zeros(2), np.ones((5, 1))), "prediction with shape (2,)"),
    (lambda: compare(0.0, np.full((5,), np.nan)), "non-finite"),
    (lambda: compare(0.0, np.ones((5,)), confidence=1.5), "confidence=1.5"),
    (lambda: compare(0.0, np.ones((5,)), tolerance=-1.0), "tolerance"),
    (lambda: check_distribution(np.ones(5), stats.norm(), method="chi2"), "method='chi2'"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_p_values_are_those_of_the_printed_z_and_the_tolerance_is_visible():
    """Issue 20: p_value was 1.0 in every row that passed by its tolerance. Now each component's p is the
    two-sided normal p of its z against the prediction, times the number of components (Bonferroni)."""
    import math

    v = np.random.default_rng(3).normal(0.0, 1.0, size=(400, 2))
    mean, se = v.mean(0), v.std(0, ddof=1) / math.sqrt(400)  # independent reference, by hand
    pred = np.array([mean[0] + 4 * se[0], mean[1] - 0.5 * se[1]])  # z = -4 and +0.5
    r = compare(pred, v, confidence=0.99, tolerance=np.array([5 * se[0], 0.0]), tolerance_reason="a test")
    np.testing.assert_allclose(r.z, [-4.0, 0.5], rtol=1e-9)
    expect = [min(1.0, 2 * math.erfc(4 / math.sqrt(2))), min(1.0, 2 * math.erfc(0.5 / math.sqrt(2)))]
    np.testing.assert_allclose(r.p_values, expect, rtol=1e-9)  # 2 * (2 Phi(-|z|)), erfc(x/sqrt2) = 2 Phi(-x)
    assert r.p_value == pytest.approx(expect[0]) and r.p_value < 0.01
    # 4 stderr off, but within the stated tolerance of 5 stderr: passes, and says so
    assert r.passed and r.within_tolerance.tolist() == [True, False] and r.tolerance_reason == "a test"
    assert not compare(pred, v, confidence=0.99).passed  # without the tolerance: rejected


def test_power_against_the_alternative_closed_form():
    from math import erf, sqrt

    from jaxbias.experiments.checks import power

    phi = lambda t: 0.5 * (1 + erf(t / sqrt(2)))  # noqa: E731
    # band = 2 * 0.1 + 0.05 = 0.25 around 0; alternative at 0.5: Phi((0.5 - 0.25)/0.1) + Phi((-0.25 - 0.5)/0.1)
    assert float(power(0.0, 0.5, 0.1, 0.05, 2.0)) == pytest.approx(phi(2.5) + phi(-7.5), rel=1e-12)
    assert float(power(1.0, 1.0, 0.1, 0.0, 2.0)) == pytest.approx(2 * phi(-2.0), rel=1e-12)  # the size of the test
    assert float(power(0.0, 0.3, 0.0, 0.2, 2.0)) == 1.0 and float(power(0.0, 0.1, 0.0, 0.2, 2.0)) == 0.0
    assert np.isnan(power(0.0, np.nan, 0.1, 0.0, 2.0))
    v = np.random.default_rng(0).normal(1.0, 1.0, size=(10, 1))
    r = compare(np.array([1.0]), v, alternative=0.5)  # 10 draws cannot tell a mean of 1 from 0.5 at 99 %
    assert r.passed and r.power[0] < 0.8


def test_distribution_power_is_simulated_against_the_alternative_law():
    v = np.random.default_rng(1).normal(0.0, 1.0, size=50)
    weak = check_distribution(v, stats.norm(0, 1), alternative=stats.norm(0, 1.05), alternative_label="5% wider")
    strong = check_distribution(np.random.default_rng(1).normal(0.0, 1.0, size=5000), stats.norm(0, 1),
                                alternative=stats.norm(0, 1.3))
    assert weak.passed and weak.power < 0.2 and weak.alternative == "5% wider"
    assert strong.passed and strong.power > 0.95
