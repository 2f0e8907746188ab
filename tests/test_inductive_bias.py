"""Kernel-mode inductive bias (Boopathy et al., IJCAI 2024) against closed forms and direct computations."""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

from jaxbias import datasets
from jaxbias.experiments import inductive_bias as ib
from jaxbias.results import config_of
from jaxbias.theory import gchisq as G


@pytest.fixture(autouse=True)
def _quiet_quadrature():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _regression(x_train, y_train, x_test, y_test):
    return datasets.from_arrays(np.asarray(x_train, np.float32), np.asarray(y_train, np.float32),
                                np.asarray(x_test, np.float32), np.asarray(y_test, np.float32), standardize=False)


def test_one_training_one_test_point_is_a_gaussian_interval():
    """RBF, x = 0 (y = 1) and x* = 0.8 (y* = -0.5): k = exp(-0.32), mu = k, Sigma = 1 - k^2,
    Q = (mu - y* + sqrt(Sigma) z)^2, P(Q <= eps) = Phi((sqrt(eps) - d)/s) - Phi((-sqrt(eps) - d)/s)."""
    data = _regression([[0.0]], [[1.0]], [[0.8]], [[-0.5]])
    x_star = float(np.float32(0.8))  # the data set stores float32
    k = math.exp(-x_star ** 2 / 2)
    d, s = k * 1.0 - (-0.5), math.sqrt(1 - k * k)
    eps = np.array([0.05, 0.5, 2.0, 4.0])
    exact = [-math.log2(float(mpmath.ncdf((math.sqrt(e) - d) / s) - mpmath.ncdf((-math.sqrt(e) - d) / s)))
             for e in eps]
    ds = ib.inductive_bias(data, ib.RBF(1.0), eps, methods=("inversion", "imhof", "saddlepoint", "chernoff"))
    np.testing.assert_allclose(ds["recommended_bits"].values, exact, rtol=1e-8)
    np.testing.assert_allclose(ds["bits"].sel(tail_method="inversion").values, exact, rtol=1e-8)
    assert np.all(ds["bits"].sel(tail_method="chernoff").values <= np.array(exact) + 1e-12)
    np.testing.assert_allclose(float(ds["weights"][0]), s * s)
    np.testing.assert_allclose(float(ds["mean_mse"]), d * d)


def _direct(k, y_train, y_test):
    """Posterior mean error and covariance by plain solves: (mu - y, Sigma)."""
    n = y_train.shape[0]
    kxx, kxs, kss = k[:n, :n], k[:n, n:], k[n:, n:]
    mu = kxs.T @ np.linalg.solve(kxx, y_train)
    return mu - y_test, kss - kxs.T @ np.linalg.solve(kxx, kxs)


def test_posterior_weights_and_offsets_against_a_direct_computation():
    """The law of Q equals that of (1/(m k)) sum_o |e_o + L z_o|^2: compare the cumulant generating functions
    K(s) = sum_o [-(1/2) log det(I - 2 s S) + s e_o^T (I - 2 s S)^-1 e_o] / ..., S = Sigma / (m k), at several s."""
    rng = np.random.default_rng(0)
    n, m, kout = 5, 4, 2
    f = rng.normal(size=(n + m, 12))
    k = f @ f.T / 12 + 0.05 * np.eye(n + m)
    y_train, y_test = rng.normal(size=(n, kout)), rng.normal(size=(m, kout))
    post = ib.posterior_gchisq(k, y_train, y_test)
    err, sigma = _direct(k, y_train, y_test)
    mk = m * kout
    np.testing.assert_allclose(np.sort(post.weights), np.sort(np.linalg.eigvalsh(sigma)) / mk, rtol=1e-9)
    np.testing.assert_allclose(post.mean_mse, np.sum(err ** 2) / mk, rtol=1e-10)
    q = G.gchisq(post.weights, post.offsets, post.c)
    for s in (-50.0, -3.0, -0.1, 0.2):
        a = np.eye(m) - 2 * s * sigma / mk
        direct = kout * (-0.5 * np.linalg.slogdet(a)[1]) + s / mk * np.sum(err * np.linalg.solve(a, err))
        np.testing.assert_allclose(float(G.cgf(q, s)), direct, rtol=1e-9)


def test_zero_posterior_variance_goes_into_c():
    """A test point equal to a training point has zero posterior variance: its error is deterministic."""
    rng = np.random.default_rng(1)
    x_train = rng.normal(size=(4, 2))
    x_test = np.concatenate([x_train[:1], rng.normal(size=(2, 2))])
    y_train, y_test = rng.normal(size=(4, 1)), rng.normal(size=(3, 1))
    data = _regression(x_train, y_train, x_test, y_test)
    ds = ib.inductive_bias(data, ib.RBF(1.0), [0.5], methods=("inversion",))
    assert ds.attrs["n_zero_weight"] == 1
    np.testing.assert_allclose(float(ds["c"]), (y_train[0, 0] - y_test[0, 0]) ** 2 / 3, rtol=1e-4)


def test_kernel_not_psd_names_how_far_off():
    rng = np.random.default_rng(2)
    v = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    lam = np.array([3.0, 2.0, 1.0, 0.5, 0.2, -0.1])
    k = v @ np.diag(lam) @ v.T
    with pytest.raises(ValueError, match=r"not positive semi-definite.*relative"):
        ib.posterior_gchisq(k, rng.normal(size=(3, 1)), rng.normal(size=(3, 1)))
    # within the tolerance: clipped, and stated
    lam_ok = np.array([3.0, 2.0, 1.0, 0.5, 0.2, -1e-9])
    post = ib.posterior_gchisq(v @ np.diag(lam_ok) @ v.T, rng.normal(size=(3, 1)), rng.normal(size=(3, 1)))
    assert post.min_eig_posterior > -1e-6 and np.all(post.weights >= 0)


def test_bad_input():
    data = datasets.gaussian_mixture(n_classes=3, dim=2, n_train=6, n_test=4, key=0)
    for eps in (0.0, -0.1, [0.2, -1.0]):
        with pytest.raises(ValueError, match="epsilon"):
            ib.inductive_bias(data, ib.RBF(1.0), eps)
    with pytest.raises(ValueError, match=r"\(10, 10\)"):  # a kernel that does not match the points
        ib.inductive_bias(data, np.eye(9), [0.1])
    with pytest.raises(ValueError, match="same k"):  # labels that do not match
        ib.posterior_gchisq(np.eye(10), np.zeros((6, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="bandwidth"):
        ib.RBF(0.0)
    with pytest.raises(ValueError, match="jitter"):
        ib.inductive_bias(data, ib.RBF(1.0), [0.1], jitter=-1.0)
    with pytest.raises(ValueError, match="methods"):
        ib.inductive_bias(data, ib.RBF(1.0), [0.1], methods=("exact",))


def test_classification_curve_and_config():
    data = datasets.gaussian_mixture(n_classes=3, dim=4, n_train=40, n_test=30, key=0)
    ds = ib.inductive_bias(data, ib.RBF(2.0), methods=("inversion", "saddlepoint", "chernoff", "monte_carlo"),
                           n_samples=2000, key=3)
    assert ds["bits"].dims == ("epsilon", "tail_method") and ds.sizes["epsilon"] == 16
    rec = ds["recommended_bits"].values
    assert np.all(np.diff(rec) < 0)  # a larger target error needs fewer bits
    assert np.all(ds["bits"].sel(tail_method="chernoff").values <= rec + 1e-9)
    assert not ds["disagree"].sel(tail_method=["saddlepoint", "chernoff"]).values.any()
    assert set(ds["recommended_method"].values) == {"inversion"}
    cfg = config_of(ds)
    assert cfg["kernel"] == "rbf" and cfg["targets"] == "one-hot" and cfg["data"]["n_classes"] == 3
    np.testing.assert_allclose(float(ds["expected_mse"]), float(ds["mean_mse"]) + float(ds["weights"].sum()) * 3,
                               rtol=1e-10)


def test_network_kernels_run():
    import jaxbias as jb

    data = datasets.gaussian_mixture(n_classes=2, dim=3, n_train=12, n_test=8, key=1)
    net = jb.nets.mlp(16, 1, "relu", weight_var=2.0)
    eps = [0.3]
    methods = ("inversion", "chernoff")
    a = ib.inductive_bias(data, ib.Infinite(net, "nngp"), eps, methods=methods)
    b = ib.inductive_bias(data, ib.Infinite(net, "ntk"), eps, methods=methods)
    c = ib.inductive_bias(data, ib.MonteCarloNNGP(net, n=64), eps, methods=methods, jitter=1e-6)
    d = ib.inductive_bias(data, ib.EmpiricalNTK(net), eps, methods=methods, jitter=1e-6)
    for ds in (a, b, c, d):
        assert np.isfinite(ds["recommended_bits"].values).all()
    assert config_of(a)["kernel"] == "infinite_nngp" and config_of(d)["kernel"] == "empirical_ntk"


def test_bits_vs_n_train_and_plots(tmp_path):
    from jaxbias.plot_inductive_bias import plot_bits_vs_epsilon, plot_bits_vs_n_train

    data = datasets.gaussian_mixture(n_classes=3, dim=4, n_train=40, n_test=20, key=2)
    eps = [0.15, 0.25]
    ds = ib.bits_vs_n_train(data, ib.RBF(2.0), [10, 20, 40], eps, key=0)
    assert ds["bits"].dims == ("n_train", "epsilon", "tail_method")
    full = ib.inductive_bias(data, ib.RBF(2.0), eps, methods=("inversion", "saddlepoint", "chernoff"))
    np.testing.assert_allclose(ds["recommended_bits"].sel(n_train=40).values, full["recommended_bits"].values,
                               rtol=1e-8)
    assert plot_bits_vs_n_train(ds, tmp_path / "n.png").stat().st_size > 0
    assert plot_bits_vs_epsilon(full, tmp_path / "e.png").stat().st_size > 0


def test_speed_smoke_moderate_size():
    """300 x 300 points, 10 classes, all exact methods (not timed: the 1000 x 1000 timing is reported separately)."""
    data = datasets.gaussian_mixture(n_classes=10, dim=16, n_train=300, n_test=300, key=4)
    ds = ib.inductive_bias(data, ib.RBF(4.0), methods=("inversion", "saddlepoint", "chernoff"))
    inv = ds["bits"].sel(tail_method="inversion").values
    assert inv[0] > 100
    np.testing.assert_allclose(ds["bits"].sel(tail_method="saddlepoint").values, inv, rtol=1e-3, atol=1e-3)
