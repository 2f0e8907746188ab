"""Generalization difficulty (Boopathy et al., ICML 2023): the closed form, the data estimators and the experiment.

References are independent of the code under test: spherical-harmonic counts on ``S^m`` summed degree
by degree with exact integers (``math.comb``), the bound re-derived here with ``math``, brute-force
numpy distance matrices, data of known intrinsic dimension, and the task difficulties published by
the authors (their benchmark figure).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

from jaxbias import datasets
from jaxbias.experiments.task_difficulty import PAPER_PARAMETERS, paper_table, task_difficulty
from jaxbias.results import config_of
from jaxbias.theory.data_geometry import (
    class_separation, data_radius, intrinsic_dimension, nearest_distances, nearest_other_class,
)
from jaxbias.theory.task_difficulty import generalization_difficulty, log_eigenfunction_count, max_degree


# --- the closed form -------------------------------------------------------------------------------------------

def _harmonics_up_to(m: int, K: int) -> int:
    """Spherical harmonics of degree <= K on S^m (the sphere in R^(m+1)), degree by degree."""
    def degree(l):
        return math.comb(l + m, m) - (math.comb(l + m - 2, m) if l >= 2 else 0)
    return sum(degree(l) for l in range(K + 1))


def _bits_reference(eps, n, m, R, delta, d):
    """The bound written out with math (classification: D = d - 1, B = 1), for integer K."""
    D = d - 1
    M = 2 * math.pi * R / delta
    K = round((math.sqrt((m - 1) ** 2 + 4 * M * M) - (m - 1)) / 2)
    E = _harmonics_up_to(m, K)
    W = math.sqrt(m / 6) * (2 * math.pi ** ((m + 1) / 2) * d / math.gamma((m + 1) / 2)) ** (1 / m) * R * n ** (-1 / m)
    L_f = K * math.sqrt(D) / R
    dim = 2 * D * d * E
    return (dim - n * D) * (0.5 * math.log2(D) + 0.5 * math.log2(d) - math.log2(eps) + math.log2(L_f) + math.log2(W))


@pytest.mark.parametrize("m,K,n,d,R,eps", [(1, 7, 5, 2, 1.0, 0.1), (2, 12, 40, 3, 2.5, 0.01),
                                          (5, 9, 300, 10, 17.0, 1e-3), (14, 20, 1000, 10, 17.2, 1e-3)])
def test_closed_form_matches_harmonic_count_for_integer_degree(m, K, n, d, R, eps):
    # K(K + m - 1) = M^2 makes the degree an integer; then E is the harmonic count, exactly.
    delta = 2 * math.pi * R / math.sqrt(K * (K + m - 1))
    r = generalization_difficulty(eps, n=n, m=m, radius=R, delta=delta, n_classes=d)
    assert r.K == pytest.approx(K, rel=1e-12)
    assert math.exp(r.log_E) == pytest.approx(_harmonics_up_to(m, K), rel=1e-10)
    assert r.dim == pytest.approx(2 * (d - 1) * d * _harmonics_up_to(m, K), rel=1e-10)
    assert float(r.bits) == pytest.approx(_bits_reference(eps, n, m, R, delta, d), rel=1e-10)
    assert float(r.log10_bits) == pytest.approx(math.log10(float(r.bits)), rel=1e-12)


@pytest.mark.parametrize("m,M", [(1, 0.3), (3, 7.7), (14, 44.9), (48, 91.2), (27, 125.0)])
def test_real_degree_is_the_root_and_gamma_binomials_match_scipy(m, M):
    K = max_degree(m, M)
    assert K * (K + m - 1) == pytest.approx(M * M, rel=1e-12)
    E = scipy.special.binom(m + K, m) + scipy.special.binom(m + K - 1, m)  # the authors' expression
    assert log_eigenfunction_count(m, K) == pytest.approx(math.log(E), rel=1e-12)


def test_halving_eps_adds_dim_minus_n_D_bits():
    eps = np.array([1e-4, 2e-4, 4e-4, 0.3])
    r = generalization_difficulty(eps, n=500, m=6, radius=3.0, delta=0.4, n_classes=4)
    free = r.dim - 500 * 3
    np.testing.assert_allclose(r.bits[0] - r.bits[1], free, rtol=1e-10)
    np.testing.assert_allclose(r.bits[1] - r.bits[2], free, rtol=1e-10)
    np.testing.assert_allclose(np.diff(r.bits[2:]) / np.diff(np.log2(eps[2:])), -free, rtol=1e-10)
    assert r.log2_dim_free == pytest.approx(math.log2(free), rel=1e-12)


def test_invariant_to_the_scale_of_the_data():
    a = generalization_difficulty([1e-3, 0.1], n=1000, m=9.3, radius=4.0, delta=0.7, n_classes=5)
    b = generalization_difficulty([1e-3, 0.1], n=1000, m=9.3, radius=4.0 * 37, delta=0.7 * 37, n_classes=5)
    np.testing.assert_allclose(a.bits, b.bits, rtol=1e-12)


def test_void_bound_when_data_fix_the_hypothesis():
    r = generalization_difficulty(0.01, n=10**9, m=2, radius=1.0, delta=1.0, n_classes=2)
    assert r.dim < 10**9 and np.isnan(r.bits) and np.isnan(r.log10_bits) and np.isnan(r.log2_dim_free)
    big_eps = generalization_difficulty(1e6, n=10, m=2, radius=1.0, delta=1.0, n_classes=2)
    assert float(big_eps.bits) < 0 and np.isnan(big_eps.log10_bits)  # the formula's value, flagged by log10


def test_log10_bits_finite_where_dim_overflows():
    r = generalization_difficulty(0.01, n=1000, m=400, radius=100.0, delta=0.01, n_classes=10)
    assert r.dim == math.inf and np.isfinite(r.log10_bits) and r.log10_bits > 308


# Task difficulty of the image benchmarks published by the authors: Boopathy et al. 2023, the figure of
# benchmark task difficulties (log-scale bars; also docs/imgs/all_diffs_combined.png of the authors'
# repository). Bar tops read off against the 10^33 ... 10^129 ticks (0.46 decades per pixel), log10 bits.
PUBLISHED_LOG10_BITS = {"MNIST": 16.2, "SVHN": 31.2, "CIFAR10": 32.5, "ImageNet": 41.2}


def test_paper_table_reproduces_the_published_difficulties():
    t = paper_table()
    assert list(t["dataset"].values) == list(PUBLISHED_LOG10_BITS)
    for name, published in PUBLISHED_LOG10_BITS.items():
        assert float(t["log10_bits"].sel(dataset=name)) == pytest.approx(published, abs=0.5)  # one pixel
    # Ordering the paper reports: MNIST < SVHN < CIFAR10 < ImageNet.
    assert np.all(np.diff(t["log10_bits"].values) > 0)
    for name, (n, radius, m, d, delta, eps) in PAPER_PARAMETERS.items():
        ref = _bits_reference_real(eps, n, m, radius, delta, d)
        assert float(t["bits"].sel(dataset=name)) == pytest.approx(ref, rel=1e-9)


def _bits_reference_real(eps, n, m, R, delta, d):
    """The bound with real K and binomials through math.lgamma (the authors' recipe, written independently)."""
    D = d - 1
    M = 2 * math.pi * R / delta
    K = (math.sqrt((m - 1) ** 2 + 4 * M * M) - (m - 1)) / 2

    def binom(a, b):
        return math.exp(math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1))

    E = binom(m + K, m) + binom(m + K - 1, m)
    log2_W = (0.5 * math.log2(m / 6) + (1 + (m + 1) / 2 * math.log2(math.pi) + math.log2(d)
                                         - math.lgamma((m + 1) / 2) / math.log(2)) / m
              + math.log2(R) - math.log2(n) / m)
    return (2 * D * d * E - n * D) * (0.5 * math.log2(D * d) - math.log2(eps) + math.log2(K * math.sqrt(D) / R)
                                      + log2_W)


@pytest.mark.parametrize("kwargs,match", [
    (dict(eps=0.0), "eps"), (dict(eps=[0.1, -1.0]), "eps"), (dict(eps=float("nan")), "eps"),
    (dict(n=0), "n="), (dict(m=0.0), "m="), (dict(radius=-1.0), "radius"), (dict(delta=0.0), "delta"),
    (dict(n_classes=1), "n_classes"),
])
def test_closed_form_bad_input(kwargs, match):
    args = dict(eps=0.1, n=10, m=2.0, radius=1.0, delta=0.1, n_classes=2) | kwargs
    eps = args.pop("eps")
    with pytest.raises(ValueError, match=match):
        generalization_difficulty(eps, **args)


# --- intrinsic dimension ---------------------------------------------------------------------------------------

def _circle(n, rng):
    t = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(t), np.sin(t), np.zeros(n)], 1)


def _plane(n, rng):  # the unit square, rotated into R^3
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    return np.concatenate([rng.uniform(size=(n, 2)), np.zeros((n, 1))], 1) @ rot


def _gauss_5_in_20(n, rng):
    return rng.normal(size=(n, 5)) @ rng.normal(size=(5, 20))


@pytest.mark.parametrize("make,m,bias", [(_circle, 1, 0.0), (_plane, 2, 0.0), (_gauss_5_in_20, 5, 0.03)])
@pytest.mark.parametrize("k", [5, 10])
def test_intrinsic_dimension_on_known_manifolds(make, m, bias, k):
    x = make(2000, np.random.default_rng(1))
    est = intrinsic_dimension(x, k=k, n_boot=200, key=0)
    # Within 4 bootstrap errors; a Gaussian's density varies across a neighbourhood, which biases the
    # estimate down by a few percent at this n (Levina & Bickel 2004, Fig. 1): allowed for explicitly.
    assert est.m - m == pytest.approx(0.0, abs=4 * est.se + bias * m)
    assert est.low <= est.m <= est.high and 0 < est.se < 0.1 * m and est.n_used == 2000
    # The original Levina-Bickel average of per-point inverses is biased up by ~ (k-1)/(k-2).
    lb = intrinsic_dimension(x, k=k, n_boot=200, key=0, average="levina-bickel")
    assert lb.m == pytest.approx(m * (k - 1) / (k - 2), abs=4 * lb.se + 0.04 * m)


@pytest.mark.parametrize("p", [3, 20])  # k-d tree and chunked exact distances
def test_intrinsic_dimension_matches_brute_force(p):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 4)) @ rng.normal(size=(4, p))
    k = 6
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    t = np.sort(dist, axis=1)[:, 1:k + 1]
    s = np.log(t[:, -1:] / t[:, :-1]).mean(axis=1)
    est = intrinsic_dimension(x, k=k, n_boot=10)
    assert est.m == pytest.approx(1 / s.mean(), rel=1e-10)
    assert intrinsic_dimension(x, k=k, n_boot=10, average="levina-bickel").m == pytest.approx((1 / s).mean(), rel=1e-10)
    np.testing.assert_allclose(nearest_distances(x[:7], x, 4), np.sort(dist[:7], axis=1)[:, :4], rtol=1e-10,
                               atol=1e-12)


def test_intrinsic_dimension_bootstrap_is_seeded_and_drops_duplicates():
    x = _plane(400, np.random.default_rng(3))
    a, b = intrinsic_dimension(x, key=7), intrinsic_dimension(x, key=7)
    assert a == b and intrinsic_dimension(x, key=8).se != a.se
    dup = intrinsic_dimension(np.concatenate([x, x[:10]]), key=7)
    assert dup.n_used == 390  # the 20 points with an exact twin are left out
    sub = intrinsic_dimension(x, n_queries=100, key=7)
    assert sub.n_used == 100 and sub.m == pytest.approx(2, abs=4 * sub.se + 0.1)


@pytest.mark.parametrize("kwargs,match", [(dict(k=1), "k=1"), (dict(k=400), "at least k \\+ 1"),
                                          (dict(average="mean"), "average"), (dict(n_boot=1), "n_boot"),
                                          (dict(confidence=1.0), "confidence")])
def test_intrinsic_dimension_bad_input(kwargs, match):
    x = _plane(100, np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        intrinsic_dimension(x, **kwargs)
    with pytest.raises(ValueError, match="duplicate"):
        intrinsic_dimension(np.repeat(x[:10], 2, axis=0), k=2)


# --- class separation and radius -------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [2, 30])
def test_class_separation_and_radius_match_brute_force(p):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(250, p)) + 0.5
    y = rng.integers(0, 4, 250)
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    other = np.where(y[:, None] != y[None, :], dist, np.inf)
    np.testing.assert_allclose(nearest_other_class(x, y), other.min(axis=1), rtol=1e-10)
    assert class_separation(x, y) == pytest.approx(other.min(), rel=1e-10)
    assert class_separation(x, y, quantile=0.1) == pytest.approx(np.quantile(other.min(axis=1), 0.1), rel=1e-10)
    assert data_radius(x) == pytest.approx(np.linalg.norm(x, axis=1).max(), rel=1e-12)
    assert data_radius(x, center=True) == pytest.approx(np.linalg.norm(x - x.mean(0), axis=1).max(), rel=1e-12)
    # Images: the norm of the flattened array.
    assert data_radius(x.reshape(250, p, 1)) == pytest.approx(data_radius(x), rel=1e-12)


def test_class_separation_bad_input():
    x = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        class_separation(x, np.zeros(6, int))
    with pytest.raises(ValueError, match="one label per point"):
        class_separation(x, np.array([0, 1, 0, 1, 0]))
    with pytest.raises(ValueError, match="quantile"):
        class_separation(x, np.array([0, 1] * 3), quantile=1.5)
    with pytest.raises(ValueError, match="non-finite"):
        data_radius(np.array([[0.0, np.nan]]))


# --- the experiment --------------------------------------------------------------------------------------------

def test_task_difficulty_on_digits():
    data = datasets.digits(standardize=False, key=0)
    ds = task_difficulty(data, eps=(1e-3, 1e-2, 1e-1), k=5, n_boot=50, key=0)
    assert ds["bits"].dims == ("eps",) and int(ds["n"]) == data.n_train and int(ds["n_classes"]) == 10
    assert np.all(ds["bits_low"] <= ds["bits"]) and np.all(ds["bits"] <= ds["bits_high"])
    assert float(ds["m_low"]) <= float(ds["m"]) <= float(ds["m_high"])
    x, y = data.x_train, data.y_train
    assert float(ds["delta"]) == pytest.approx(class_separation(x, y), rel=1e-12)
    assert float(ds["radius"]) == pytest.approx(np.linalg.norm(x.astype(np.float64), axis=1).max(), rel=1e-12)
    direct = generalization_difficulty(ds["eps"].values, n=data.n_train, m=float(ds["m"]), radius=float(ds["radius"]),
                                       delta=float(ds["delta"]), n_classes=10)
    np.testing.assert_allclose(ds["bits"].values, direct.bits, rtol=1e-12)
    config = config_of(ds)
    assert config["k"] == 5 and config["data"]["sha256"] == data.fingerprint and config["split"] == "train"
    # Halving eps adds the same number of bits at every eps.
    steps = -np.diff(ds["bits"].values) / np.diff(np.log2(ds["eps"].values))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-10)


def test_task_difficulty_is_invariant_to_the_scale_of_the_inputs():
    data = datasets.gaussian_mixture(n_classes=3, dim=4, n_train=300, n_test=3, key=1)
    scaled = datasets.from_arrays(4.0 * data.x_train, data.y_train, data.x_test, data.y_test, standardize=False)
    a = task_difficulty(data, eps=0.01, k=8, n_boot=20)
    b = task_difficulty(scaled, eps=0.01, k=8, n_boot=20)
    np.testing.assert_allclose(a["bits"].values, b["bits"].values, rtol=1e-9)
    assert float(b["radius"]) == pytest.approx(4 * float(a["radius"]), rel=1e-12)


def test_task_difficulty_bad_input():
    data = datasets.gaussian_mixture(n_classes=2, dim=2, n_train=20, n_test=2, key=0)
    with pytest.raises(ValueError, match="eps"):
        task_difficulty(data, eps=(0.1, 0.0))
    with pytest.raises(ValueError, match="at least k \\+ 1"):
        task_difficulty(data, k=25)
    with pytest.raises(ValueError, match="k=1"):
        task_difficulty(data, k=1)
    with pytest.raises(ValueError, match="regression"):
        task_difficulty(datasets.sinusoids(n_train=20, n_test=2))
    with pytest.raises(ValueError, match="Dataset"):
        task_difficulty((data.x_train, data.y_train))
    x = np.concatenate([data.x_train, data.x_train[:1]])
    y = np.concatenate([data.y_train, 1 - data.y_train[:1]])
    clash = datasets.from_arrays(x, y, data.x_test, data.y_test, standardize=False)
    with pytest.raises(ValueError, match="delta=0"):
        task_difficulty(clash)
    assert float(task_difficulty(clash, delta_quantile=0.2, n_boot=5)["delta"]) > 0
