"""IGB with batch norm after the activation: the measured gamma is that of the finite input set.

Batch norm standardizes every hidden unit over the ``n`` points of the input set, so per unit
``sum_a h(a) = 0`` and ``sum_a h(a)^2 = n`` (up to its epsilon). Averaged over the distinct pairs of
the set, ``h(a) h(b)`` is then exactly ``-1/(n - 1)``, not the ``0`` of the ``n -> inf`` theory, and the
output kernel over the set is ``q_aa = C_b + C_W``, ``q_ab = C_b - C_W / (n - 1)`` (readout ``C_W``,
``C_b``): ``gamma_n = q_ab / (q_aa - q_ab) = (C_b (n - 1) / C_W - 1) / n``, which the estimator
``gamma_hat`` measures (Francazi, Lucchi & Baity-Jesi, ICML 2024; Bassi, Francazi et al. 2025,
arXiv:2505.12096, for the mean-field link). At ``n = 200``, ``C_b / C_W = 0.5`` it is 1.5 % below ``C_b / C_W``.

References here are independent of the package's theory: a plain numpy forward pass, the kernel
formula above, and networks sampled through the engine (fixed keys, tolerances from the sample size).
"""

import math

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.experiments import igb
from jaxbias.theory import guessing as th

EPS = 1e-6  # batch-norm epsilon of jaxbias.nets.core.batch_norm


def _gamma_n(cw: float, cb: float, n: int, p: float = 1.0) -> float:
    """gamma of the readout kernel averaged over a set of n points after batch norm (hidden diagonal p)."""
    q_aa, q_ab = cb + cw * p, cb - cw * p / (n - 1)
    return q_ab / (q_aa - q_ab)


def _numpy_forward(params, x, act):
    """Slow, obvious float64 forward pass of a batch-norm-after-activation MLP (standard parameterization)."""
    h = np.asarray(x, np.float64)
    hidden = []
    for p in params["layers"][:-1]:
        a = act(h @ np.asarray(p["w"], np.float64) + np.asarray(p["b"], np.float64))
        mu = a.mean(axis=0)
        var = np.square(a - mu).mean(axis=0)  # biased: the batch statistics
        h = (a - mu) / np.sqrt(var + EPS)
        hidden.append((h, var))
    last = params["layers"][-1]
    return h @ np.asarray(last["w"], np.float64) + np.asarray(last["b"], np.float64), hidden


@pytest.mark.parametrize("activation, act", [("relu", lambda z: np.maximum(z, 0.0)), ("tanh", np.tanh)])
def test_numpy_reference_and_the_sum_to_zero_identities(activation, act):
    import jax

    n = 40
    x = igb.igb_inputs("blobs", n, 16, 0.3, key=3)
    net = jb.nets.mlp(32, 2, activation, weight_var=1.5, bias_var=0.4, norm="batch_post")
    for i in range(3):
        params = net.init(jax.random.fold_in(jax.random.key(7), i), x)
        y, hidden = _numpy_forward(params, x, act)
        np.testing.assert_allclose(np.asarray(net.apply(params, x), np.float64), y, rtol=1e-4, atol=1e-4)
        # the output mean over the set is the readout bias: no sampling noise sigma^2 / n in it
        np.testing.assert_allclose(y.mean(axis=0), np.asarray(params["layers"][-1]["b"], np.float64), atol=1e-9)
        for h, var in hidden:
            diag = np.square(h).mean(axis=0)  # per unit, over the points
            pair = (np.square(h.sum(axis=0)) - np.square(h).sum(axis=0)) / (n * (n - 1))  # over distinct pairs
            np.testing.assert_allclose(diag, var / (var + EPS), rtol=1e-12)
            np.testing.assert_allclose(pair, -diag / (n - 1), rtol=1e-9, atol=1e-12)
            assert np.all(np.abs(diag - 1) < 1e-3)  # epsilon: relative 1e-6 / Var_x[phi]


def test_bias_free_readout_gives_exactly_minus_one_over_n():
    # No bias: every network's output mean over the set is 0, so gamma_hat = -1/n with no sampling noise.
    n = 200
    x = igb.igb_inputs("blobs", n, 64, 0.0, key=1)
    net = jb.nets.mlp(64, 1, "relu", bias=False, norm="batch_post")
    stats = jb.reduce(net, x, n=300, key=2, stat=jb.measures.guessing_stats, progress=False)
    within = float(np.mean(stats.var))
    assert np.max(np.abs(stats.mean)) < 1e-5 * math.sqrt(within)
    assert within == pytest.approx(n / (n - 1), rel=0.05)  # C_W n / (n - 1) with ddof=1
    est = th.estimate_gamma(stats.mean, stats.var, n, n_boot=0)
    assert est.value == pytest.approx(-1 / n, abs=1e-8)
    assert th.predict_gamma(net, x).gamma == 0.0
    assert th.predict_gamma(net, x, n_points=n).gamma == pytest.approx(-1 / n, rel=1e-12)


def _varying_fraction(x, cw: float, cb: float, units: int = 200_000) -> tuple[float, float]:
    """Fraction of first-layer ReLU units not constant (all 0) over the set, and its standard error.

    Batch norm leaves such a unit at 0 (``Var = 0 << eps``), so the readout diagonal is this fraction,
    not 1: a visible effect on a set of 10 points with a bias, ``2^-n``-small on large sets.
    """
    rng = np.random.default_rng(11)
    x = np.asarray(x, np.float64)
    z = x @ (rng.standard_normal((x.shape[1], units)) * math.sqrt(cw / x.shape[1]))
    z = z + rng.standard_normal(units) * math.sqrt(cb)
    dead = float(np.mean(np.all(z <= 0, axis=0)))
    return 1 - dead, math.sqrt(dead * (1 - dead) / units)


@pytest.mark.parametrize("activation, depth, cw, cb", [("relu", 1, 1.0, 0.5), ("tanh", 2, 2.0, 0.5)])
def test_sampled_networks_measure_the_finite_set_gamma(activation, depth, cw, cb):
    # A small set (n = 10) makes the finite-set shift large against the sampling error of gamma_hat.
    n, nets = 10, 4000
    x = igb.igb_inputs("blobs", n, 64, 0.0, key=1)
    r, se_r = _varying_fraction(x, cw, cb) if activation == "relu" else (1.0, 0.0)  # tanh is never constant
    net = jb.nets.mlp(64, depth, activation, weight_var=cw, bias_var=cb, norm="batch_post")
    stats = jb.reduce(net, x, n=nets, key=5, stat=jb.measures.guessing_stats, progress=False)
    m, v = np.asarray(stats.mean, np.float64)[:, 0], np.asarray(stats.var, np.float64)[:, 0]
    hat = th.estimate_gamma(m, v, n, n_boot=0).value
    # Standard error by the delta method: the means are the readout biases, N(0, C_b) (sample variance:
    # relative sd sqrt(2 / (nets - 1))); the mean within-network variance W carries its own sample error.
    w, sd_w = v.mean(), v.std(ddof=1) / math.sqrt(nets)
    expected, limit = _gamma_n(cw, cb, n, r), cb / cw
    se = math.hypot(cb * math.sqrt(2 / (nets - 1)) / w, cb / w**2 * sd_w,
                    (_gamma_n(cw, cb, n, r + se_r) - expected))
    print(f"{activation} depth {depth}: gamma_hat {hat:.4f} +- {se:.4f}, finite set {expected:.4f} "
          f"(varying units {r:.4f}), limit {limit:.4f}")
    assert abs(hat - expected) < 5 * se, (hat, expected, se)
    assert abs(hat - limit) > 10 * se, (hat, limit, se)  # the n -> inf value is ruled out
    assert th.predict_gamma(net, x, n_points=n).gamma == pytest.approx(_gamma_n(cw, cb, n), rel=1e-12)
    assert th.predict_gamma(net, x).gamma == pytest.approx(limit, rel=1e-12)


def test_predict_gamma_n_points_against_the_kernel_formula():
    n = 200
    x = igb.igb_inputs("blobs", n, 64, 0.5, key=1)
    cases = [
        (jb.nets.mlp(64, 1, "relu", weight_var=1.0, bias_var=0.5, norm="batch_post"), 1.0, 0.5, 1.0),
        (jb.nets.mlp(64, 3, "tanh", weight_var=[1.5, 2.0, 1.0, 3.0], bias_var=[0.1, 0.2, 0.3, 0.4],
                     norm="batch_post"), 3.0, 0.4, 1.0),
        (jb.nets.mlp(64, 2, "gelu", weight_var=2.0, bias_var=0.3, norm="batch_post", pool="avg(4)"), 2.0, 0.3, 0.25),
    ]
    for net, cw, cb, p in cases:
        pred = th.predict_gamma(net, x, n_points=n)
        assert pred.gamma == pytest.approx(_gamma_n(cw, cb, n, p), rel=1e-10)
        assert pred.q_aa == pytest.approx(cb + cw * p) and pred.q_ab == pytest.approx(cb - cw * p / (n - 1))
        limit = th.predict_gamma(net, x).gamma
        assert limit == pytest.approx(cb / (cw * p), rel=1e-10)
        assert pred.gamma / limit - 1 == pytest.approx(-(1 + 1 / limit) / n, rel=1e-10)
    # the configuration: n = 200, C_b / C_W = 0.5 -> 1.5 % below
    assert _gamma_n(1.0, 0.5, 200) / 0.5 - 1 == pytest.approx(-0.015)
    # networks without batch norm do not depend on n_points
    for options in ({}, {"norm": "layer_post"}, {"pool": "avg(2)"}):
        net = jb.nets.mlp(64, 2, "relu", bias_var=0.2, **options)
        assert th.predict_gamma(net, x, n_points=n) == th.predict_gamma(net, x)
    with pytest.raises(NotImplementedError, match="norm='batch_pre'"):
        th.predict_gamma(jb.nets.mlp(64, 1, "relu", norm="batch_pre"), x, n_points=n)
    with pytest.raises(ValueError, match="n_points=1"):
        th.predict_gamma(cases[0][0], x, n_points=1)


def test_igb_cell_reports_the_finite_set_theory():
    n = 12
    x = igb.igb_inputs("blobs", n, 32, 0.0, key=1)
    common = {"activation": "relu", "depth": 1, "width": 32, "weight_var": 1.0, "bias_var": 0.5}
    post = igb.igb_cell(igb.igb_net(norm="batch_post", **common), x, n=50, key=2, n_boot=20)
    assert float(post["gamma_theory"]) == pytest.approx(0.5)
    assert float(post["gamma_theory_n"]) == pytest.approx(_gamma_n(1.0, 0.5, n))
    pre = igb.igb_cell(igb.igb_net(norm="batch_pre", **common), x, n=50, key=2, n_boot=20)
    assert math.isfinite(float(pre["gamma_theory"])) and math.isnan(float(pre["gamma_theory_n"]))
