"""gamma from the NNGP recursion against closed forms, scipy quadrature and numpy Monte Carlo."""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import jaxbias as jb
from jaxbias.theory import guessing as th

ACTS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: special.expit(z),
    "centred_relu": lambda z: np.maximum(z, 0.0) - 1 / math.sqrt(2 * math.pi),
    "gelu": lambda z: 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2))),
}


def _e1(f, k):
    """E[f(u)], u ~ N(0, k), by scipy quad."""
    return integrate.quad(lambda s: f(math.sqrt(k) * s) * stats.norm.pdf(s), -np.inf, np.inf, epsabs=1e-12)[0]


def _e2(f, k_aa, k_ab):
    """E[f(u) f(v)] for (u, v) with variances k_aa and covariance k_ab: numpy Gauss-Hermite of order 200
    (smooth f only; independent of the library's piecewise rule)."""
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / math.sqrt(2 * math.pi)
    rho = k_ab / k_aa
    u = math.sqrt(k_aa) * z[:, None]
    v = math.sqrt(k_aa) * (rho * z[:, None] + math.sqrt(1 - rho * rho) * z[None, :])
    return float(w @ (f(u) * f(v)) @ w)


def _relu2(k_aa, k_ab):
    """E[relu(u) relu(v)], arc-cosine kernel of degree 1 (Cho & Saul 2009)."""
    rho = k_ab / k_aa
    return k_aa * (math.sqrt(1 - rho * rho) + (math.pi - math.acos(rho)) * rho) / (2 * math.pi)


@pytest.mark.parametrize("name", list(ACTS))
def test_one_hidden_layer_is_mean_squared_over_variance(name):
    # Centred inputs, no bias: gamma = E[phi(z)]^2 / Var[phi(z)], z ~ N(0, C_W s_aa) (SCIENCE.md section 2).
    f, cw = ACTS[name], 1.7
    net = jb.nets.mlp(64, 1, name, weight_var=cw, bias=False)
    m, m2 = _e1(f, cw), _e1(lambda z: f(z) ** 2, cw)
    assert th.predict_gamma(net, moments=(1.0, 0.0)).gamma == pytest.approx(m * m / (m2 - m * m), rel=1e-5, abs=1e-9)


def test_odd_activations_and_centred_relu_give_zero():
    for name in ("tanh", "erf", "identity", "centred_relu"):
        assert abs(th.predict_gamma(jb.nets.mlp(64, 1, name, bias=False), moments=(1.0, 0.0)).gamma) < 1e-9


def test_input_mean_starts_gamma_at_mean_squared_over_trace():
    mean, cov = np.full(10, 0.4), np.diag(np.linspace(0.5, 1.5, 10))
    moments = th.gaussian_input_moments(mean, cov)
    assert th.predict_gamma(jb.nets.mlp(8, 0, bias=False), moments=moments).gamma == pytest.approx(1.6 / 10.0)
    cw, cb = 2.0, 0.3  # with bias: (C_b + C_W |m|^2 / d0) / (C_W tr S / d0)
    net = jb.nets.mlp(8, 0, weight_var=cw, bias_var=cb)
    assert th.predict_gamma(net, moments=moments).gamma == pytest.approx((cb + cw * 0.16) / (cw * 1.0))
    x = np.random.default_rng(0).normal(size=(300, 5)) + 1.0  # moments of a sample, by direct pair sums
    g = x @ x.T / 5
    want = (g.sum() - np.trace(g)) / (300 * 299)
    np.testing.assert_allclose(th.input_moments(x), (np.trace(g) / 300, want), rtol=1e-10)


def test_two_layers_with_bias_and_input_mean_match_quadrature():
    cw, cb, s = 1.3, 0.2, (1.5, 0.5)
    k_aa, k_ab = cb + cw * s[0], cb + cw * s[1]
    for _ in range(2):
        k_aa, k_ab = cb + cw * _e1(lambda z: np.tanh(z) ** 2, k_aa), cb + cw * _e2(np.tanh, k_aa, k_ab)
    pred = th.predict_gamma(jb.nets.mlp(64, 2, "tanh", weight_var=cw, bias_var=cb), moments=s)
    assert pred.q_aa == pytest.approx(k_aa, rel=1e-5)  # Gauss-Hermite order 64 on tanh: ~1e-6
    assert pred.q_ab == pytest.approx(k_ab, rel=1e-5)
    assert pred.gamma == pytest.approx(k_ab / (k_aa - k_ab), rel=1e-4)


def _mc_pooled(pool, kind, k_aa, k_ab, f, n=2_000_000, seed=0):
    """E[h(a)^2], E[h(a) h(b)] of pooled units by numpy Monte Carlo, with standard errors."""
    rng = np.random.default_rng(seed)
    rho = k_ab / k_aa
    z1 = rng.normal(size=(n, pool))
    z2 = rho * z1 + math.sqrt(1 - rho * rho) * rng.normal(size=(n, pool))
    z3 = rng.normal(size=(n, pool))  # independent units for the diagonal
    red = (lambda a: a.max(1)) if kind == "max" else (lambda a: a.mean(1))
    ha, hb = red(f(math.sqrt(k_aa) * z1)), red(f(math.sqrt(k_aa) * z2))
    hd = red(f(math.sqrt(k_aa) * z3))
    return (hd**2).mean(), (ha * hb).mean(), (ha * hb).std() / math.sqrt(n), (hd**2).std() / math.sqrt(n)


@pytest.mark.parametrize("kind, size", [("max", 2), ("max", 3), ("avg", 2)])
def test_pooling_matches_monte_carlo(kind, size):
    cw, s = 1.0, (1.0, 0.3)
    p_aa, p_ab, se_ab, se_aa = _mc_pooled(size, kind, cw * s[0], cw * s[1], np.tanh)
    pred = th.predict_gamma(jb.nets.mlp(60, 1, "tanh", bias=False, pool=f"{kind}({size})"), moments=s)
    assert abs(pred.q_ab - cw * p_ab) < 5 * cw * se_ab
    assert abs(pred.q_aa - cw * p_aa) < 5 * cw * se_aa


def test_max_pooling_raises_gamma():
    plain = th.predict_gamma(jb.nets.mlp(64, 1, "relu", bias=False), moments=(1.0, 0.0)).gamma
    pooled = th.predict_gamma(jb.nets.mlp(64, 1, "relu", bias=False, pool="max"), moments=(1.0, 0.0)).gamma
    odd = th.predict_gamma(jb.nets.mlp(64, 1, "tanh", bias=False, pool="max"), moments=(1.0, 0.0)).gamma
    assert pooled > plain and odd > 0.1  # max pooling makes even an odd activation biased


def test_normalization_placements_match_closed_forms():
    cw, cb, s = 1.0, 0.5, (1.0, 0.3)
    k_aa, k_ab = cb + cw * s[0], cb + cw * s[1]
    f = ACTS["relu"]
    # layer norm before: phi of the correlation kernel (1, rho)
    pre = th.predict_gamma(jb.nets.mlp(64, 1, "relu", weight_var=cw, bias_var=cb, norm="layer_pre"),
                           moments=s)
    assert pre.q_ab == pytest.approx(cb + cw * _relu2(1.0, k_ab / k_aa), rel=1e-9)
    # layer norm after: the unit-centred, unit-variance activation
    post = th.predict_gamma(jb.nets.mlp(64, 1, "relu", weight_var=cw, bias_var=cb, norm="layer_post"),
                            moments=s)
    m, m2 = _e1(f, k_aa), _e1(lambda z: f(z) ** 2, k_aa)
    assert post.q_ab == pytest.approx(cb + cw * (_relu2(k_aa, k_ab) - m * m) / (m2 - m * m), rel=1e-7)
    assert post.q_aa == pytest.approx(cb + cw, rel=1e-9)
    # batch norm over the inputs removes what all inputs share: only the readout bias is left
    for position in ("pre", "post"):
        net = jb.nets.mlp(64, 2, "relu", weight_var=cw, bias_var=cb, norm=f"batch_{position}")
        pred = th.predict_gamma(net, moments=s)
        if position == "post":
            assert pred.gamma == pytest.approx(cb / cw)


def test_absolute_law_uses_fan_in_times_a_squared_over_three():
    x = np.random.default_rng(1).normal(size=(50, 12))
    a = 0.3
    net = jb.nets.mlp(40, 2, "tanh", weight_law=f"absolute({a})")
    ref = jb.nets.mlp(40, 2, "tanh", weight_var=[12 * a * a / 3, 40 * a * a / 3, 40 * a * a / 3],
                      bias_var=a * a / 3)
    assert th.predict_gamma(net, x).gamma == pytest.approx(th.predict_gamma(ref, x).gamma, rel=1e-9)


def test_phase_diagram_regimes():
    pd = th.phase_diagram("tanh", [0.5, 3.0], [0.0, 0.05, 1.0], depth=3)
    # tanh, C_b = 0: odd, no IGB at any depth; ordered phase (C_W = 0.5, C_b > 0): deep prejudice;
    # chaotic with a small bias (C_W = 3, C_b = 0.05): finite gamma.
    assert pd["regime"][0, 0] == 0 and pd["regime"][1, 0] == 0
    assert pd["regime"][0, 1] == 2 and pd["regime"][0, 2] == 2
    assert pd["regime"][1, 1] == 1
    relu = th.phase_diagram("relu", [1.0, 2.0], [0.0, 0.5], depth=3)
    assert np.all(relu["regime"] == 2)  # ReLU correlations go to 1 with depth
    want = th.predict_gamma(jb.nets.mlp(64, 3, "tanh", weight_var=3.0, bias_var=1.0), moments=(1.0, 0.0)).gamma
    assert pd["gamma"][1, 2] == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("net, error", [
    (jb.nets.mlp(8, 2, residual=True), NotImplementedError),
    (jb.nets.cnn([4]), NotImplementedError),
    ({"nope": 1}, ValueError),
])
def test_uncovered_networks_raise(net, error):
    with pytest.raises(error):
        th.predict_gamma(net, moments=(1.0, 0.0))


def test_bivariate_normal_cdf_matches_scipy():
    import jax

    h, k, r = np.array([0.3, -1.0, 2.0, -2.5]), np.array([0.5, 0.2, -1.5, -2.0]), np.array([0.5, -0.7, 0.95, 0.0])
    want = [stats.multivariate_normal(cov=[[1, rr], [rr, 1]]).cdf([hh, kk]) for hh, kk, rr in zip(h, k, r)]
    with jax.enable_x64(True):
        got = np.asarray(th._bvn_cdf(h, k, r))
    np.testing.assert_allclose(got, want, atol=1e-7)
