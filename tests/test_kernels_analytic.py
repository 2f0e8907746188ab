"""Infinite-width kernels against independent references.

References: closed forms written out here (arc-cosine kernels of Cho & Saul 2009, the arcsine
kernel of Williams 1997, the absolute-moment kernel, Gaussian/sine/cosine integrals), NumPy Monte
Carlo over bivariate normals (tolerance 5 standard errors), NumPy 1-D Gauss-Hermite for singular
covariances, finite differences for derivatives, and Monte Carlo over finite-width networks drawn
by ``jb.sample`` (NNGP = output covariance over networks) and their empirical NTK by ``jax.jacobian``.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

import jaxbias as jb
from jaxbias.kernels import dphi_dphi, gauss_expect, nngp_step, ntk_step, phi_mean, phi_phi

# Covariances (k11, k12, k22): generic, negative correlation, near-singular, large variance.
COVS = [(1.3, 0.7, 0.9), (0.5, -0.3, 2.0), (1.0, 0.999, 1.0), (4.0, 1.0, 3.0)]


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _corr(k11, k12, k22):
    s = math.sqrt(k11 * k22)
    return s, min(max(k12 / s, -1.0), 1.0)


# Independent closed forms ------------------------------------------------------------------


def ref_relu(k11, k12, k22):
    s, rho = _corr(k11, k12, k22)
    t = math.acos(rho)
    return s / (2 * math.pi) * (math.sin(t) + (math.pi - t) * math.cos(t))


def ref_step(k11, k12, k22):
    return (math.pi - math.acos(_corr(k11, k12, k22)[1])) / (2 * math.pi)


def ref_abs(k11, k12, k22):
    # E|u||v| = (2/pi) sqrt(k11 k22) (sqrt(1 - rho^2) + rho arcsin(rho)).
    s, rho = _corr(k11, k12, k22)
    return 2 / math.pi * s * (math.sqrt(1 - rho * rho) + rho * math.asin(rho))


def ref_erf(k11, k12, k22):
    return 2 / math.pi * math.asin(2 * k12 / math.sqrt((1 + 2 * k11) * (1 + 2 * k22)))


def ref_gaussian(k11, k12, k22):  # E[exp(-u^2 - v^2)]
    return 1 / math.sqrt((1 + 2 * k11) * (1 + 2 * k22) - 4 * k12 * k12)


def ref_sin(k11, k12, k22):
    return math.exp(-(k11 + k22) / 2) * math.sinh(k12)


def ref_cos(k11, k12, k22):
    return math.exp(-(k11 + k22) / 2) * math.cosh(k12)


CLOSED_REFS = {
    "relu": (ref_relu, ref_step),
    "step": (ref_step, lambda *k: 0.0),
    "abs": (ref_abs, lambda *k: 2 * (2 * ref_step(*k)) - 1),  # sign(u) sign(v): 2 P(same sign) - 1
    "erf": (ref_erf, lambda *k: 4 / math.pi * ref_gaussian(*k)),
    "identity": (lambda k11, k12, k22: k12, lambda *k: 1.0),
}


@pytest.mark.parametrize("cov", COVS)
@pytest.mark.parametrize("name", sorted(CLOSED_REFS))
def test_closed_forms_match_independent_formulas(x64, name, cov):
    ref_pp, ref_dd = CLOSED_REFS[name]
    np.testing.assert_allclose(float(phi_phi(name, *cov)), ref_pp(*cov), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(dphi_dphi(name, *cov)), ref_dd(*cov), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("a", [0.0, 0.1, -0.5, 1.0])
def test_leaky_relu_against_monte_carlo(a):
    rng = np.random.default_rng(0)
    k11, k12, k22 = COVS[0]
    u, v = rng.multivariate_normal([0, 0], [[k11, k12], [k12, k22]], size=400_000).T
    phi = lambda x: np.where(x >= 0, x, a * x)  # noqa: E731
    dphi = lambda x: np.where(x >= 0, 1.0, a)  # noqa: E731
    for got, samples in ((phi_phi(f"leaky_relu({a})", k11, k12, k22), phi(u) * phi(v)),
                         (dphi_dphi(f"leaky_relu({a})", k11, k12, k22), dphi(u) * dphi(v))):
        se = samples.std() / math.sqrt(len(samples))
        assert abs(float(got) - samples.mean()) < 5 * se + 1e-6


@pytest.mark.parametrize("cov", COVS[:2])
@pytest.mark.parametrize("name", ["relu", "abs", "erf", "identity", "leaky_relu(0.2)", "centred_relu", "step"])
def test_quadrature_matches_closed_forms(x64, name, cov):
    # A bare callable takes the quadrature path (default order), whose pieces break at the kinks.
    phi = jb.nets.activations.get_activation(name).fn
    as_callable = lambda x: phi(x)  # noqa: E731
    np.testing.assert_allclose(float(phi_phi(as_callable, *cov)), float(phi_phi(name, *cov)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(dphi_dphi(as_callable, *cov)), float(dphi_dphi(name, *cov)), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("cov", COVS)
def test_smooth_closed_forms_and_quadrature(x64, cov):
    # gaussian, sin and cos: the closed forms (by name) and the quadrature (bare callables) both
    # against the Gaussian integrals written out in this file.
    for name in ("gaussian", "sin", "cos"):
        phi = jb.nets.activations.get_activation(name).fn
        bare = lambda x, phi=phi: phi(x)  # noqa: E731
        for act in (name, bare):
            np.testing.assert_allclose(float(phi_phi(act, *cov)), {"gaussian": ref_gaussian, "sin": ref_sin,
                                                                   "cos": ref_cos}[name](*cov), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(float(dphi_dphi("sin", *cov)), ref_cos(*cov), rtol=1e-12)  # sin' = cos
    np.testing.assert_allclose(float(dphi_dphi(jnp.sin, *cov)), ref_cos(*cov), rtol=1e-9)


def _np_act(name):
    """NumPy activation and derivative written independently of jaxbias."""
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    pdf = lambda x: np.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    lam, alp = 1.0507009873554805, 1.6732632423543772
    return {
        "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
        "gelu": (lambda x: x * special.ndtr(x), lambda x: special.ndtr(x) + x * pdf(x)),
        "silu": (lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x)))),
        "sigmoid": (sig, lambda x: sig(x) * (1 - sig(x))),
        "softplus": (lambda x: np.logaddexp(0, x), sig),
        "elu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x: np.where(x > 0, 1, np.exp(np.minimum(x, 0)))),
        "selu": (lambda x: lam * np.where(x > 0, x, alp * np.expm1(np.minimum(x, 0))),
                 lambda x: lam * np.where(x > 0, 1, alp * np.exp(np.minimum(x, 0)))),
        "gaussian": (lambda x: np.exp(-x * x), lambda x: -2 * x * np.exp(-x * x)),
        "snake(2)": (lambda x: x + np.sin(2 * x) ** 2 / 2, lambda x: 1 + np.sin(4 * x)),
        "cos": (np.cos, lambda x: -np.sin(x)),
    }[name]


@pytest.mark.parametrize("name", ["tanh", "gelu", "silu", "sigmoid", "softplus", "elu", "selu", "gaussian", "snake(2)", "cos"])
def test_quadrature_activations_against_monte_carlo(x64, name):
    phi, dphi = _np_act(name)
    rng = np.random.default_rng(1)
    got_pp = phi_phi(name, jnp.asarray([c[0] for c in COVS]), jnp.asarray([c[1] for c in COVS]),
                     jnp.asarray([c[2] for c in COVS]))
    got_dd = dphi_dphi(name, *(jnp.asarray([c[i] for c in COVS]) for i in range(3)))
    got_m = phi_mean(name, jnp.asarray([c[0] for c in COVS]))
    for i, (k11, k12, k22) in enumerate(COVS):
        u, v = rng.multivariate_normal([0, 0], [[k11, k12], [k12, k22]], size=200_000).T
        for got, s in ((got_pp[i], phi(u) * phi(v)), (got_dd[i], dphi(u) * dphi(v)), (got_m[i], phi(u))):
            se = s.std() / math.sqrt(len(s))
            assert abs(float(got) - s.mean()) < 5 * se + 1e-9, (name, i, float(got), s.mean(), se)


def test_gauss_expect_polynomials_exact(x64):
    # Isserlis: E[u^2 v^2] = k11 k22 + 2 k12^2; E[u^3 v] = 3 k11 k12 (to RTOL: the sinh-mapped rule is not exact on polynomials).
    k11, k12, k22 = jnp.asarray([2.0, 1.0]), jnp.asarray([1.0, 1.0]), jnp.asarray([3.0, 1.0])
    np.testing.assert_allclose(gauss_expect(lambda u, v: u**2 * v**2, k11, k12, k22), [8.0, 3.0], rtol=1e-10)
    np.testing.assert_allclose(gauss_expect(lambda u, v: u**3 * v, k11, k12, k22), [6.0, 3.0], rtol=1e-10)


def _np_singular(phi_np, k11, c):
    """E[phi(u) phi(c u)] for u ~ N(0, k11) by scipy's adaptive quad (v = c u: k12 = c k11, k22 = c^2 k11)."""
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    g = lambda z: float(phi_np(math.sqrt(k11) * z) * phi_np(c * math.sqrt(k11) * z)) * pdf(z)  # noqa: E731
    return integrate.quad(g, -12, 0, epsabs=1e-14, epsrel=1e-13)[0] + integrate.quad(g, 0, 12, epsabs=1e-14, epsrel=1e-13)[0]


@pytest.mark.parametrize("c", [1.0, -2.0, 0.5])
@pytest.mark.parametrize("name", ["tanh", "gelu", "relu", "erf"])
def test_singular_covariances(x64, name, c):
    phi_np = {"tanh": np.tanh, "gelu": _np_act("gelu")[0], "relu": lambda x: np.maximum(x, 0),
              "erf": special.erf}[name]
    k11 = 1.7
    got = float(phi_phi(name, k11, c * k11, c * c * k11))
    np.testing.assert_allclose(got, _np_singular(phi_np, k11, c), rtol=1e-8, atol=1e-13)


@pytest.mark.slow
def test_zero_variance(x64):
    # u = 0: E[phi(0) phi(v)].
    assert float(phi_phi("tanh", 0.0, 0.0, 1.3)) == 0.0
    np.testing.assert_allclose(float(phi_phi("gaussian", 0.0, 0.0, 1.3)), 1 / math.sqrt(1 + 2 * 1.3), rtol=1e-9)
    np.testing.assert_allclose(float(phi_phi("gaussian", 0.0, 0.0, 0.0)), 1.0, rtol=1e-12)
    assert float(phi_phi("relu", 0.0, 0.0, 2.0)) == 0.0
    assert float(phi_phi("step", 0.0, 0.0, 2.0)) == 0.0  # jaxbias' step has H(0) = 0
    for name in ("tanh", "relu", "gelu", "sin"):
        assert np.isfinite(float(jax.grad(phi_phi, argnums=2)(name, 0.0, 0.0, 1.0)))


def _fd_grad(f, k, h=1e-5):
    k = np.asarray(k, np.float64)
    out = []
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        out.append((f(*(k + e)) - f(*(k - e))) / (2 * h))
    return np.array(out)


@pytest.mark.parametrize("name", ["relu", "erf", "abs", "leaky_relu(0.3)", pytest.param("tanh", marks=pytest.mark.slow),
                                  pytest.param("gelu", marks=pytest.mark.slow), "gaussian", "selu"])
def test_gradients_against_finite_differences(x64, name):
    k = np.array(COVS[0])
    f = lambda *kk: float(phi_phi(name, *kk))  # noqa: E731
    grad = np.array(jax.grad(lambda kk: phi_phi(name, kk[0], kk[1], kk[2]))(jnp.asarray(k)))
    np.testing.assert_allclose(grad, _fd_grad(f, k), rtol=1e-5, atol=1e-8)
    if name == "selu":  # its phi'' has a delta that the quadrature misses, and no closed form: nothing to compare
        return
    # relu, abs and leaky_relu have a delta in phi'' too, but closed forms, which are exact
    gd = np.array(jax.grad(lambda kk: dphi_dphi(name, kk[0], kk[1], kk[2]))(jnp.asarray(k)))
    np.testing.assert_allclose(gd, _fd_grad(lambda *kk: float(dphi_dphi(name, *kk)), k), rtol=1e-5, atol=1e-8)


@pytest.mark.slow
def test_derivatives_at_singular_covariance(x64):
    # sin: E = exp(-(k11 + k22)/2) sinh(k12) is smooth through k12 = k11 = k22, where the quadrature's
    # Cholesky factor is singular; gradient and Hessian must match the closed form's.
    def ref(kk):
        return jnp.exp(-(kk[0] + kk[2]) / 2) * jnp.sinh(kk[1])

    k = jnp.asarray([0.8, 0.8, 0.8])
    got = jax.hessian(lambda kk: phi_phi("sin", kk[0], kk[1], kk[2]))(k)
    np.testing.assert_allclose(got, jax.hessian(ref)(k), rtol=1e-8, atol=1e-12)
    got = jax.grad(lambda kk: phi_phi("sin", kk[0], kk[1], kk[2]))(k)
    np.testing.assert_allclose(got, jax.grad(ref)(k), rtol=1e-10)
    # relu at rho = 1: d/dk12 = P(u > 0, v > 0) = 1/2; d/dk11 = sqrt(k22 / k11) / 4 - k12 / (4 k11).
    g = jax.grad(lambda kk: phi_phi("relu", kk[0], kk[1], kk[2]))(jnp.asarray([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(g, [0.5 - 0.5, 0.5, 0.125 - 0.125 / 1], atol=1e-12)


def test_jit_vmap_and_float32():
    k = jnp.asarray(COVS, jnp.float32)
    f = jax.jit(lambda kk: phi_phi("tanh", kk[:, 0], kk[:, 1], kk[:, 2]))
    out = f(k)
    assert out.dtype == jnp.float32 and out.shape == (len(COVS),)
    v = jax.vmap(lambda kk: phi_phi("tanh", kk[0], kk[1], kk[2]))(k)
    np.testing.assert_allclose(out, v, rtol=1e-6)


# Steps --------------------------------------------------------------------------------------


def test_nngp_and_ntk_steps_relu(x64):
    # He init (C_W = 2, C_b = 0): the diagonal is a fixed point; one step of the standard arc-cosine map.
    k11, k12, k22 = 1.5, 0.4, 0.9
    n11, n12, n22 = nngp_step(k11, k12, k22, "relu", 2.0, 0.1)
    np.testing.assert_allclose([n11, n12, n22], [1.6, 0.1 + 2 * ref_relu(k11, k12, k22), 1.0], rtol=1e-12)
    *_, t = ntk_step(k11, k12, k22, 0.7, "relu", 2.0, 0.1)
    np.testing.assert_allclose(t, n12 + 2 * ref_step(k11, k12, k22) * 0.7, rtol=1e-12)
    *_, t = ntk_step(k11, k12, k22, 0.7, "relu", 2.0, 0.1, "standard", fan_in=64)
    np.testing.assert_allclose(t, 64 * ref_relu(k11, k12, k22) + 1 + 2 * ref_step(k11, k12, k22) * 0.7, rtol=1e-12)
    *_, t = ntk_step(k11, k12, k22, 0.7, "relu", 2.0, 0.1, "standard", fan_in=64, bias=False)
    np.testing.assert_allclose(t, 64 * ref_relu(k11, k12, k22) + 2 * ref_step(k11, k12, k22) * 0.7, rtol=1e-12)


def test_steps_differentiable_in_weight_var(x64):
    # chi_perp = C_W E[phi'^2]: d/dC_W of the step's k12' is E[phi phi].
    g = jax.grad(lambda cw: nngp_step(1.0, 0.5, 1.0, "erf", cw, 0.0)[1])(1.3)
    np.testing.assert_allclose(g, ref_erf(1.0, 0.5, 1.0), rtol=1e-12)


# Whole networks -------------------------------------------------------------------------------

X = np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32)


def _ref_mlp_nngp(x, act_pp, depth, cw, cb):
    """Slow obvious recursion on the full Gram matrix with a numpy closed-form layer map."""
    k = cb + cw * x @ x.T / x.shape[1]
    for _ in range(depth):
        d = np.diag(k)
        k = cb + cw * np.array([[act_pp(d[i], k[i, j], d[j]) for j in range(len(d))] for i in range(len(d))])
    return k


def test_infinite_relu_matches_slow_recursion(x64):
    x = X.astype(np.float64)
    got = jb.kernels.infinite(jb.nets.mlp(64, 4, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk"), x)
    std = jb.kernels.infinite(jb.nets.mlp(64, 4, "relu", weight_var=2.0, bias_var=0.1), x)
    np.testing.assert_allclose(got.nngp, _ref_mlp_nngp(x, ref_relu, 4, 2.0, 0.1), rtol=1e-10)
    np.testing.assert_allclose(std.nngp, got.nngp, rtol=1e-12)
    # NTK by the same slow recursion, both parameterizations (module docstring of analytic.py).
    k = 0.1 + 2.0 * x @ x.T / 3
    t, t_std = k.copy(), x @ x.T + 1
    for _ in range(4):
        d = np.diag(k)
        dd = np.array([[ref_step(d[i], k[i, j], d[j]) for j in range(5)] for i in range(5)])
        pp = np.array([[ref_relu(d[i], k[i, j], d[j]) for j in range(5)] for i in range(5)])
        k = 0.1 + 2.0 * pp
        t = k + 2.0 * dd * t
        t_std = 64 * pp + 1 + 2.0 * dd * t_std
    np.testing.assert_allclose(got.ntk, t, rtol=1e-10)
    np.testing.assert_allclose(std.ntk, t_std, rtol=1e-10)
    layers = jb.kernels.infinite(jb.nets.mlp(64, 4, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk"),
                                 x, x[:2], per_layer=True)
    assert layers.nngp.shape == (5, 5, 2)
    np.testing.assert_allclose(layers.nngp[-1], got.nngp[:, :2], rtol=1e-12)


def test_infinite_relu_float32_diagonal_exact_correlation():
    """x2=None: a point's correlation with itself is exactly 1, so the float32 relu NTK diagonal
    follows the exact rho = 1 recursion K <- C_b + C_W K / 2, T <- K + C_W T / 2 (float64 here)
    to float32 rounding, over 10 layers (arccos of a rounded correlation drifted ~1e-3)."""
    x = np.asarray(jax.random.normal(jax.random.key(3), (64, 16)), np.float32)
    got = jb.kernels.infinite(jb.nets.mlp(64, 10, "relu", weight_var=2.0, bias_var=0.01, parameterization="ntk"), x)
    assert got.ntk.dtype == np.float32
    k = 0.01 + 2.0 * np.sum(x.astype(np.float64) ** 2, axis=1) / 16
    t = k.copy()
    for _ in range(10):
        k = 0.01 + 2.0 * k / 2
        t = k + 2.0 * t / 2
    np.testing.assert_allclose(np.diag(got.nngp), k, rtol=2e-6)
    np.testing.assert_allclose(np.diag(got.ntk), t, rtol=2e-6)


def _mc_nngp(net, x, n, key):
    """Output covariance over n networks, averaged over output units: mean and standard error."""
    y = jb.sample(net, x, n=n, key=key, progress=False).astype(np.float64)  # (n, P, O)
    per_net = np.einsum("npo,nqo->npq", y, y) / y.shape[2]
    return per_net.mean(0), per_net.std(0) / math.sqrt(n)


@pytest.mark.parametrize(
    "activation, parameterization, bias_var",
    [("relu", "standard", 0.1), ("tanh", "ntk", 0.2), ("gelu", "standard", 0.0), ("step", "ntk", 0.3)],
)
def test_one_hidden_layer_output_covariance_exact(activation, parameterization, bias_var):
    # With one hidden layer the first pre-activation is exactly Gaussian, so the output covariance
    # over networks equals the NNGP at any width: only sampling error.
    net = jb.nets.mlp(64, 1, activation, out=8, weight_var=1.7, bias_var=bias_var, parameterization=parameterization)
    mean, se = _mc_nngp(net, X, 512, key=4)
    got = np.asarray(jb.kernels.infinite(net, X).nngp)
    assert np.all(np.abs(got - mean) < 5 * se + 1e-5), np.max(np.abs(got - mean) / se)


DEEP_CASES = {
    "plain": dict(activation="tanh", weight_var=1.5, bias_var=0.05),
    "residual": dict(activation="relu", weight_var=1.0, bias_var=0.1, residual=True, residual_scale=0.7),
    "ln_pre": dict(activation="relu", weight_var=2.0, bias_var=0.1, norm="layer_pre"),
    "ln_post": dict(activation="gelu", weight_var=1.0, bias_var=0.1, norm="layer_post"),
    "avg_pool": dict(activation="relu", weight_var=2.0, bias_var=0.1, pool="avg(2)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(DEEP_CASES))
def test_deep_output_covariance_converges(case):
    # Depth 3 at width 512: the finite-width bias is O(depth / width) relative to K (Roberts, Yaida
    # & Hanin 2022), allowed as 3 * depth / width * |K|_max on top of 5 standard errors.
    width, depth = 512, 3
    net = jb.nets.mlp(width, depth, out=4, **DEEP_CASES[case])
    mean, se = _mc_nngp(net, X, 256, key=5)
    got = np.asarray(jb.kernels.infinite(net, X).nngp)
    allowance = 3 * depth / width * np.abs(got).max()
    assert np.all(np.abs(got - mean) < 5 * se + allowance), (np.abs(got - mean) / (5 * se + allowance)).max()


def _mean_empirical_ntk(net, x, n, key):
    """Mean over n networks of J(x) J(x)^T for output 0 (jax.jacobian over the parameter pytree)."""
    def ntk(k):
        params = net.init(k, x)
        jac = jax.jacobian(lambda p: net.apply(p, x)[:, 0])(params)
        flat = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)], axis=1)
        return flat @ flat.T

    keys = jax.random.split(jax.random.key(key), n)
    t = np.stack([np.asarray(jax.jit(ntk)(k), np.float64) for k in keys])
    return t.mean(0), t.std(0) / math.sqrt(n)


@pytest.mark.slow
@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("case", ["plain", "residual"])
def test_ntk_matches_mean_empirical_ntk(case, parameterization):
    width, depth = 512, 2
    net = jb.nets.mlp(width, depth, out=1, parameterization=parameterization, **DEEP_CASES[case])
    mean, se = _mean_empirical_ntk(net, X, 8, key=6)
    got = np.asarray(jb.kernels.infinite(net, X).ntk)
    allowance = 3 * depth / width * np.abs(got).max()
    assert np.all(np.abs(got - mean) < 5 * se + allowance), (np.abs(got - mean) / (5 * se + allowance)).max()


# Errors ------------------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="activation='nope'"):
        phi_phi("nope", 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="k11 contains"):
        phi_phi("tanh", -1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="k12"):
        phi_phi("relu", 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="not finite"):
        phi_phi(lambda x: jnp.sin(x), 1e4, 3e3, 1e4)  # 30 periods per standard deviation: unresolvable
    with pytest.raises(ValueError, match="not finite"):
        phi_phi(lambda x: jnp.exp(x), 400.0, 0.0, 400.0)  # mass beyond 8 standard deviations: truncated
    with pytest.raises(ValueError, match="weight_var"):
        nngp_step(1.0, 0.0, 1.0, "relu", -1.0, 0.0)
    with pytest.raises(ValueError, match="bias_var"):
        ntk_step(1.0, 0.0, 1.0, 1.0, "relu", 1.0, -0.1)
    with pytest.raises(ValueError, match="fan_in"):
        ntk_step(1.0, 0.0, 1.0, 1.0, "relu", 1.0, 0.0, "standard")
    with pytest.raises(ValueError, match="parameterization"):
        ntk_step(1.0, 0.0, 1.0, 1.0, "relu", 1.0, 0.0, "mup")
    with pytest.raises(ValueError, match="pool='max\\(2\\)'"):
        jb.kernels.infinite(jb.nets.mlp(8, 2, pool="max"), X)
    with pytest.raises(ValueError, match="weight_law='absolute"):
        jb.kernels.infinite(jb.nets.mlp(8, 2, weight_law="absolute(1)"), X)
    with pytest.raises(ValueError, match="weight_law='low_rank"):
        jb.kernels.infinite(jb.nets.mlp(8, 2, weight_law="low_rank(2)"), X)
    with pytest.raises(ValueError, match="CNN: no infinite-width|MLP networks only"):
        jb.kernels.infinite(jb.nets.CNN((4,)), X)
    with pytest.raises(ValueError, match="x2 with shape"):
        jb.kernels.infinite(jb.nets.mlp(8, 2), X, X[:, :2])
    with pytest.raises(ValueError, match="pass activation="):
        jb.kernels.infinite(jb.nets.mlp(8, 2, activation=lambda x: x), X)
    with pytest.raises(TypeError, match="net="):
        jb.kernels.infinite("mlp", X)
