"""Network-mode inductive bias: tail estimates against known laws, errors against the training engine, and the
Boolean prior's exact counts against a brute-force numpy enumeration of the same sampled networks."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import jaxbias as jb
from jaxbias import datasets
from jaxbias.experiments import inductive_bias_networks as ibn
from jaxbias.training import Optimizer

NET = jb.nets.MLP(16, 2, "relu", weight_var=2.0, bias_var=0.1)


def test_empirical_tail_is_the_fraction_with_a_clopper_pearson_interval():
    errors = np.arange(1, 101) / 100.0  # 100 errors: P(E <= 0.3) = 0.3 exactly
    t = ibn.tail_bits(errors, [0.3, 0.995], min_count=5)
    assert t.method.tolist() == ["empirical", "empirical"] and t.count.tolist() == [30, 99]
    assert t.bits[0] == pytest.approx(-math.log2(0.3))
    from scipy.stats import binomtest

    ci = binomtest(30, 100).proportion_ci(0.95, method="exact")
    assert (t.bits_lo[0], t.bits_hi[0]) == pytest.approx((-math.log2(ci.high), -math.log2(ci.low)))


def test_power_law_extrapolation_recovers_a_known_lower_tail():
    # P(E <= e) = e^alpha on [0, 1]: E = U^(1/alpha). 4000 errors, eps far below the smallest sample.
    alpha = 2.5
    errors = np.random.default_rng(0).uniform(size=4000) ** (1 / alpha)
    eps = np.array([1e-2, 1e-3])
    t = ibn.tail_bits(errors, eps, min_count=10)
    truth = -alpha * np.log2(eps)
    assert t.method.tolist() == ["extrapolation", "extrapolation"]
    assert np.all(t.bits_lo <= truth) and np.all(truth <= t.bits_hi)
    assert t.alpha_interval[0] <= alpha <= t.alpha_interval[1]
    assert np.all(np.abs(t.bits - truth) < 0.15 * truth)


def test_without_extrapolation_an_unreached_tail_is_only_a_bound():
    t = ibn.tail_bits(np.full(50, 0.5), [0.1], extrapolate=False)
    assert t.method.tolist() == ["bound"] and np.isnan(t.bits[0]) and np.isinf(t.bits_hi[0])
    assert t.bits_lo[0] == pytest.approx(-math.log2(1 - 0.025 ** (1 / 50)))  # Clopper-Pearson with k = 0


@pytest.mark.parametrize("epsilon", [0.0, -1.0, [0.1, 0.0], float("nan")])
def test_epsilon_must_be_positive(epsilon):
    with pytest.raises(ValueError, match="epsilon="):
        ibn.tail_bits(np.ones(20), epsilon)


def test_too_few_networks_for_the_requested_tail_names_the_count():
    with pytest.raises(ValueError, match=r"n=12 networks: too few for the requested tail eps=0\.001"):
        ibn.tail_bits(np.linspace(0.1, 1, 12), [0.5, 1e-3])


def test_errors_must_be_finite_and_non_negative():
    with pytest.raises(ValueError, match="negative or not finite"):
        ibn.tail_bits(np.array([0.1, np.nan, 0.3]), 0.2)


def test_labels_that_do_not_match_the_outputs_are_named():
    data = datasets.gaussian_mixture(n_classes=3, dim=2, n_train=8, n_test=8, key=0)
    with pytest.raises(ValueError, match="net with 1 outputs: the data's targets have 3 columns"):
        ibn.network_errors(NET, data, Optimizer("sgd", learning_rate=0.1), n=2, steps=1)


def test_network_errors_are_kernel_mode_mse_and_the_engine_loss():
    data = datasets.gaussian_mixture(n_classes=2, dim=2, n_train=16, n_test=24, key=1)
    net = jb.nets.MLP(8, 1, "tanh", out=2)
    ds = ibn.inductive_bias_networks(net, data, Optimizer("sgd", learning_rate=0.2), [0.3, 1e-4], n=24, steps=30,
                                     key=2, min_count=3, n_tail=5, progress=False)
    # jb.train's MSE loss is half the mean over points x outputs: the test MSE is twice it.
    np.testing.assert_allclose(ds["test_mse"].values, 2 * ds["test_loss"].values, rtol=1e-5)
    assert ds["test_zero_one"].dims == ("net",) and np.all((ds["test_zero_one"] >= 0) & (ds["test_zero_one"] <= 1))
    assert ds["estimate"].values[1] == "extrapolation" and ds.attrs["tail_alpha"] > 0
    count = int(np.sum(ds["test_mse"].values <= 0.3))
    assert int(ds["count"].values[0]) == count
    assert jb.io.config_of(ds)["error"] == "mse"


def _numpy_forward(params, x):
    h = np.asarray(x, np.float64)
    layers = params["layers"]
    for i, layer in enumerate(layers):
        h = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def test_prior_counts_equal_a_brute_force_numpy_enumeration():
    data = datasets.boolean("majority", n_bits=3, test_fraction=0.5, key=0, values="pm1")
    n, key = 600, 5
    eps = (np.arange(data.n_test) + 0.5) / data.n_test
    ds = ibn.prior_counts(NET, data, eps, n=n, key=key, progress=False)
    x = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test]).astype(bool)
    base = jax.random.key(key)
    params = jax.jit(jax.vmap(lambda i: NET.init(jax.random.fold_in(base, i), x)))(np.arange(n))
    params = jax.tree_util.tree_map(np.asarray, params)
    fits, wrong = [], []
    for i in range(n):  # network i from its own key, evaluated in float64 numpy
        out = _numpy_forward(jax.tree_util.tree_map(lambda a: a[i], params), x)[:, 0]
        table = out > 0
        fits.append(np.all(table[:data.n_train] == labels[:data.n_train]))
        wrong.append(np.sum(table[data.n_train:] != labels[data.n_train:]))
    fits, wrong = np.array(fits), np.array(wrong)
    expected = np.bincount(wrong[fits], minlength=data.n_test + 1)
    np.testing.assert_array_equal(ds["error_counts"].values, expected)
    assert int(ds["n_fit"]) == fits.sum() > 0
    p = np.cumsum(expected)[:data.n_test] / fits.sum()
    np.testing.assert_allclose(ds["bits"].values, -np.log2(p))
    assert float(ds["bits_fit"]) == pytest.approx(-math.log2(fits.mean()))


def test_boolean_comparison_one_dataset_three_sources():
    data = datasets.boolean("majority", n_bits=3, test_fraction=0.5, key=0, values="pm1")
    eps = np.append((np.arange(data.n_test) + 0.5) / data.n_test, 1.0)
    ds = ibn.boolean_comparison(NET, data, Optimizer("sgd", learning_rate=0.1), eps, n_prior=4096, n_trained=16,
                                steps=100, n_samples=4000, key=0, progress=False)
    assert ds["bits"].dims == ("source", "epsilon")
    assert ds["source"].values.tolist() == ["prior_count", "kernel_nngp", "trained"]
    assert ds["n_hypotheses"].values.tolist()[1:] == [4000, 16]
    bits = ds["bits"].values
    assert np.all(np.diff(np.where(np.isfinite(bits), bits, 1e9), axis=1) <= 1e-12)  # more eps, fewer bits
    assert np.all(bits[:, -1] == 0.0)  # eps = 1: every hypothesis
    assert np.all((ds["bits_lo"] <= ds["bits"] + 1e-12) | ~np.isfinite(ds["bits"]))
    assert ds["bits_mse"].dims == ("source_mse", "epsilon_mse")
    with pytest.raises(ValueError, match="n_classes=3"):
        ibn.boolean_comparison(NET, datasets.gaussian_mixture(n_classes=3, dim=3, n_train=4, n_test=4), None)


@pytest.mark.slow
def test_wide_prior_counts_agree_with_nngp_prior_conditioned_on_signs():
    """A wide ReLU net's prior over sign tables is its NNGP's (a Gaussian vector): conditioning both on the training
    signs by rejection gives the same P(test error <= eps) within Monte Carlo error."""
    data = datasets.boolean("majority", n_bits=3, test_fraction=0.5, key=0, values="pm1")
    net = jb.nets.MLP(512, 2, "relu", weight_var=2.0, bias_var=0.1)
    eps = (np.arange(data.n_test) + 0.5) / data.n_test
    ds = ibn.prior_counts(net, data, eps, n=40_000, key=1, progress=False)
    from jaxbias.experiments.inductive_bias import Infinite, kernel_matrix

    x = np.concatenate([data.x_train, data.x_test])
    k = kernel_matrix(Infinite(net, "nngp"), x)
    lam, v = np.linalg.eigh(k)
    f = np.random.default_rng(0).standard_normal((400_000, lam.size)) @ (v * np.sqrt(np.clip(lam, 0, None))).T
    labels = np.concatenate([data.y_train, data.y_test]).astype(bool)
    fits = np.all((f[:, :data.n_train] > 0) == labels[:data.n_train], axis=1)
    wrong = np.sum((f[fits, data.n_train:] > 0) != labels[data.n_train:], axis=1)
    p_gp = np.cumsum(np.bincount(wrong, minlength=data.n_test + 1))[:data.n_test] / fits.sum()
    p_net = 2.0 ** -ds["bits"].values
    se = np.sqrt(p_net * (1 - p_net) / int(ds["n_fit"])) + np.sqrt(p_gp * (1 - p_gp) / fits.sum())
    assert np.all(np.abs(p_net - p_gp) <= 4 * se + 0.01)
