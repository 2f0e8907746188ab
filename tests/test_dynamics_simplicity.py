"""Distributional simplicity bias (Refinetti, Ingrosso & Goldt, ICML 2023; issue 18): clones, the separation step,
and the exact check that a linear model trained by full-batch gradient descent on MSE cannot tell a data set from a
clone with the same per-class counts, means and covariances (derivation in the module docstring of
``jaxbias.experiments.dynamics.simplicity``), while a hidden layer or the cross-entropy loss can."""

from __future__ import annotations

import numpy as np
import pytest

import jaxbias as jb
from jaxbias import datasets
from jaxbias.cli import main
from jaxbias.experiments.dynamics.simplicity import bonferroni_k, clone, cumulant_task, separation, simplicity
from jaxbias.training import Optimizer, train


@pytest.fixture(scope="module")
def digits():
    return datasets.digits(key=0)


def _class_moments(x, y, c):
    xc = x[y == c].reshape((y == c).sum(), -1).astype(np.float64)
    return xc.mean(0), np.cov(xc, rowvar=False, ddof=1)


def test_exact_clone_matches_class_counts_means_and_covariances(digits):
    fake = clone(digits, "gaussian", ridge=0.0, clamp="none", exact=True, key=1)
    assert fake.x_test is digits.x_test and fake.y_test is digits.y_test
    np.testing.assert_array_equal(fake.y_train, digits.y_train)
    for c in range(10):
        m0, s0 = _class_moments(digits.x_train, digits.y_train, c)
        m1, s1 = _class_moments(fake.x_train, fake.y_train, c)
        np.testing.assert_allclose(m1, m0, atol=2e-6)
        np.testing.assert_allclose(s1, s0, atol=2e-5 * np.abs(s0).max())
    assert not np.allclose(fake.x_train, digits.x_train)  # new draws, not the data


def test_mean_clone_is_isotropic_and_clamping_keeps_the_range(digits):
    fake = clone(digits, "mean", key=0)
    lo, hi = digits.x_train.min(), digits.x_train.max()
    assert fake.x_train.min() >= lo and fake.x_train.max() <= hi
    m0, s0 = _class_moments(digits.x_train, digits.y_train, 3)
    m1, s1 = _class_moments(fake.x_train, fake.y_train, 3)
    off = s1 - np.diag(np.diag(s1))
    assert np.abs(off).max() < 0.5 * np.abs(s0 - np.diag(np.diag(s0))).max()  # the real class is correlated
    assert np.abs(m1 - m0).max() < 0.5
    feature = clone(digits, "gaussian", clamp="feature", key=0)
    assert np.all(feature.x_train >= digits.x_train.min(0)) and np.all(feature.x_train <= digits.x_train.max(0))


def test_per_channel_clone_has_no_cross_channel_covariance():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(400, 4, 4, 1))
    x = np.concatenate([base, base + 0.1 * rng.normal(size=base.shape)], axis=-1)  # channels strongly correlated
    y = np.arange(400) % 2
    data = datasets.from_arrays(x, y, x[:10], y[:10], standardize=False)
    fake = clone(data, "gaussian", channels=2, clamp="none", key=0)
    flat = fake.x_train.reshape(400, -1).astype(np.float64)
    real_cross = np.corrcoef(x.reshape(400, -1)[:, 0], x.reshape(400, -1)[:, 1])[0, 1]
    fake_cross = np.corrcoef(flat[:, 0], flat[:, 1])[0, 1]  # pixel 0, channels 0 and 1
    assert real_cross > 0.9 and abs(fake_cross) < 0.2
    assert clone(data, "gaussian", channels=2).attrs["covariance"].startswith("per channel")


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="median"), "kind="), (dict(clamp="yes"), "clamp="), (dict(ridge=-1.0), "ridge="),
    (dict(exact=True), "exact=True"), (dict(channels=5), "channels="),
])
def test_clone_rejects_bad_arguments(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        clone(digits, **kwargs)


def test_clone_rejects_regression_and_singleton_classes():
    with pytest.raises(ValueError, match="classification"):
        clone(datasets.sinusoids(n_train=8, n_test=4), "gaussian")
    x = np.arange(10.0).reshape(5, 2)
    with pytest.raises(ValueError, match="class 1 has 1"):
        clone(datasets.from_arrays(x, np.array([0, 0, 0, 0, 1]), x, np.array([0, 0, 0, 0, 1])), "gaussian")


def _final_outputs(net, data, loss, steps=40):
    ds = train(net, data, Optimizer("sgd", learning_rate=0.05), n=2, key=3, loss=loss, steps=steps, record=[0, steps],
               probe=data.x_test, progress=False)
    return ds["outputs"].values[:, -1].astype(np.float64)


def test_linear_mse_gradient_descent_cannot_tell_an_exact_clone_from_the_data(digits):
    """The MSE gradient of W x + b depends on the data only through class counts, means and covariances."""
    fake = clone(digits, "gaussian", ridge=0.0, clamp="none", exact=True, key=2)
    linear = jb.nets.MLP(1, 0, out=10)
    real, cloned = _final_outputs(linear, digits, "mse"), _final_outputs(linear, fake, "mse")
    scale = np.abs(real).max()
    assert np.abs(real - cloned).max() < 2e-5 * scale  # float32 rounding of different sums
    # A hidden layer, or the cross-entropy loss, sees more than two moments: the trajectories part.
    hidden = jb.nets.MLP(32, 1, "tanh", out=10)
    assert np.abs(_final_outputs(hidden, digits, "mse") - _final_outputs(hidden, fake, "mse")).max() > 1e-3
    ce_real, ce_clone = _final_outputs(linear, digits, "cross_entropy"), _final_outputs(linear, fake, "cross_entropy")
    assert np.abs(ce_real - ce_clone).max() > 1e-3 * np.abs(ce_real).max()


def test_cumulant_task_shares_two_moments_and_differs_in_kurtosis():
    data = cumulant_task(n_train=40000, n_test=4, dim=3, noise=0.1, key=0)
    x, y = data.x_train.astype(np.float64), data.y_train
    u = np.asarray(data.attrs["direction"])
    for c in (0, 1):
        m, s = _class_moments(x, y, c)
        assert np.abs(m).max() < 0.03 and np.abs(s - np.eye(3)).max() < 0.04
    proj = x @ u
    kurt = [np.mean(proj[y == c] ** 4) - 3 for c in (0, 1)]
    assert abs(kurt[0]) < 0.15 and abs(kurt[1] - data.attrs["excess_kurtosis_class_1"]) < 0.1
    assert data.attrs["bayes_accuracy"] == pytest.approx(0.881, abs=0.002)


def test_separation_step_and_bootstrap_interval():
    steps = np.array([0, 1, 3, 10, 30, 100])
    rng = np.random.default_rng(0)
    base = np.tile([0.1, 0.2, 0.3, 0.5, 0.7, 0.8], (32, 1))
    b = base + 0.01 * rng.normal(size=base.shape)
    a = b.copy()
    a[:, 3:] += 0.1 + 0.01 * rng.normal(size=(32, 3))  # separate from step 10 on
    out = separation(a, b, steps, n_boot=300)
    assert out["step"] == 10 and out["low"] == 10 and out["high"] == 10 and out["fraction"] == 1.0
    assert out["k"] == pytest.approx(bonferroni_k(6, n_nets=32))
    same = separation(b, b, steps, n_boot=50)
    assert same["step"] == np.inf and same["fraction"] == 0.0
    tiny = separation(b + 0.001, b, steps, n_boot=0)  # significant but below min_difference
    assert tiny["step"] == np.inf and np.isnan(tiny["low"])
    assert bonferroni_k(100) == pytest.approx(3.4808, abs=1e-3)
    assert bonferroni_k(100, n_nets=16) == pytest.approx(4.4166, abs=1e-3)  # t with 15 degrees of freedom
    with pytest.raises(ValueError, match="n_nets >= 2"):
        separation(a[:1], b[:1], steps)


def test_simplicity_result_figure_and_attrs(tmp_path):
    from jaxbias.plot_dynamics.simplicity import plot_simplicity
    from jaxbias.results import config_of

    data = datasets.digits(classes=(0, 1, 2), key=0)
    net = jb.nets.MLP(16, 1, "relu", weight_var=2.0, out=3)
    ds = simplicity(data, net, Optimizer("sgd", learning_rate=0.05), n=3, steps=30, batch_size=16, record=6,
                    n_boot=50, progress=False)
    assert ds["test_accuracy"].dims == ("distribution", "net", "step")
    assert list(ds["distribution"].values) == ["data", "mean", "gaussian"]
    # The same initial networks on every distribution: identical at step 0.
    acc0 = ds["test_accuracy"].isel(step=0).values
    assert np.all(acc0 == acc0[0])
    config = config_of(ds)
    for key in ("data", "preprocessing", "clones", "net", "optimizer", "record", "separation"):
        assert key in config
    assert config["record"] == [int(s) for s in ds["step"].values]
    path = plot_simplicity(ds, tmp_path / "simplicity.png")
    assert path.stat().st_size > 10_000
    jb.save(ds, tmp_path / "s.nc")


def test_cli_simplicity(tmp_path, capsys):
    out = tmp_path / "s.nc"
    rc = main(["simplicity", "--dataset", "cumulants:2:64:32", "--n", "2", "--steps", "10", "--record", "5",
               "--width", "8", "--depth", "1", "--n-boot", "20", "--out", str(out), "--figures", str(tmp_path)])
    assert rc == 0 and out.exists() and (tmp_path / "simplicity.png").exists()
    assert "separate" in capsys.readouterr().out
    assert main(["simplicity", "--dataset", "sinusoids", "--out", str(out)]) == 2
    assert main(["simplicity", "--dataset", "cumulants:x", "--out", str(out)]) == 2
    assert main(["simplicity", "--n", "1", "--out", str(out)]) == 2


@pytest.mark.slow
def test_gaussian_clone_cannot_learn_higher_cumulants():
    """On the cumulant task the clones hold no information: they stay at chance while the data is learned."""
    data = cumulant_task(n_train=2048, n_test=1024, dim=4, noise=0.1, key=0)
    net = jb.nets.MLP(64, 2, "relu", weight_var=2.0, out=2)
    ds = simplicity(data, net, Optimizer("sgd", learning_rate=0.1), n=8, steps=2000, batch_size=32, record=30,
                    loss="cross_entropy", n_boot=200, progress=False)
    final = ds["test_accuracy"].isel(step=-1).median("net")
    assert float(final.sel(distribution="data")) > 0.7
    for kind in ("mean", "gaussian"):
        assert abs(float(final.sel(distribution=kind)) - 0.5) < 0.06
        assert np.isfinite(float(ds["separation_step"].sel(clone=kind)))
