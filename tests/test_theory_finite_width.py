"""Finite-width vertex and mean shift: relu closed forms, a scipy + finite-difference reference, Monte Carlo."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import jaxbias as jb
from jaxbias.experiments import compare
from jaxbias.theory import excess_kurtosis, finite_width


def test_relu_closed_form_equal_and_unequal_widths():
    # relu, C_W = 2, C_b = 0: K constant, Var G(l+1) = 5 K^2 sum_l 1/n_l, no mean shift (F is linear)
    x = np.full((2, 4), 0.5)
    x[1] *= 2.0
    net = jb.nets.mlp(width=[20, 50, 100], depth=3, activation="relu", weight_var=2.0, out=3)
    np.testing.assert_allclose(excess_kurtosis(net, x), 15 * (1 / 20 + 1 / 50 + 1 / 100), rtol=1e-5)
    assert excess_kurtosis(net, x).shape == (2, 3)
    fw = finite_width("relu", [20, 50], [1.0], 2.0, 0.0)
    np.testing.assert_allclose(fw.covariance[:, 0, 0], [0, 5 / 20, 5 / 20 + 5 / 50], rtol=1e-5)
    np.testing.assert_allclose(fw.mean_shift, 0.0, atol=1e-7)


def _e(f, q):
    return integrate.quad(lambda z: f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi), -12, 12,
                          epsabs=1e-13)[0]


def test_tanh_against_scipy_and_finite_differences():
    cw, cb, widths, k = 1.5, 0.1, [30, 50], 0.8
    F = lambda q: cb + cw * _e(lambda u: math.tanh(u) ** 2, q)  # noqa: E731
    var, shift = 0.0, 0.0
    for n in widths:
        h = 1e-3
        jac = (F(k + h) - F(k - h)) / (2 * h)
        hess = (F(k + h) - 2 * F(k) + F(k - h)) / h ** 2
        m2, m4 = _e(lambda u: math.tanh(u) ** 2, k), _e(lambda u: math.tanh(u) ** 4, k)
        var, shift = cw ** 2 * (m4 - m2 ** 2) / n + jac ** 2 * var, jac * shift + 0.5 * hess * var
        k = F(k)
    fw = finite_width("tanh", widths, [0.8], cw, cb)
    assert fw.kernel[-1, 0] == pytest.approx(k, rel=1e-5)
    assert fw.covariance[-1, 0, 0] == pytest.approx(var, rel=1e-3)
    assert fw.mean_shift[-1, 0] == pytest.approx(shift, rel=1e-3)


def _kurtosis_values(net, x, n, key):
    def stat(y):
        z2 = y[0] ** 2
        return jnp.stack([jnp.mean(z2), jnp.mean(z2 ** 2)])

    return jb.reduce(net, x, n=n, key=key, stat=stat, progress=False)


def _kurt(m):
    return m[1] / m[0] ** 2 - 3.0


def test_one_hidden_layer_kurtosis_is_exact_monte_carlo():
    # depth 1: Var G = C_W^2 Var(tanh^2) / n exactly, so 3 V / (n K^2) has no remainder: tolerance 0.
    net = jb.nets.mlp(width=8, depth=1, activation="tanh", weight_var=1.5, bias_var=0.1, out=4)
    x = np.ones((1, 4), np.float32)
    pred = excess_kurtosis(net, x)[0, 0]
    k1 = 0.1 + 1.5
    m2, m4 = _e(lambda u: math.tanh(u) ** 2, k1), _e(lambda u: math.tanh(u) ** 4, k1)
    assert pred == pytest.approx(3 * 1.5 ** 2 * (m4 - m2 ** 2) / 8 / (0.1 + 1.5 * m2) ** 2, rel=1e-4)
    values = _kurtosis_values(net, x, 20000, 0)
    assert compare(pred, values, _kurt).passed
    assert not compare(0.0, values, _kurt).passed  # the Gaussian (infinite-width) answer is rejected
    assert not compare(2 * pred, values, _kurt).passed


@pytest.mark.slow
@pytest.mark.parametrize("activation, weight_var, bias_var, width", [("relu", 2.0, 0.0, 64), ("tanh", 1.5, 0.1, 8)])
def test_deep_kurtosis_monte_carlo(activation, weight_var, bias_var, width):
    # depth 3: the leading 1/n prediction holds up to O(1/n^2), admitted as tolerance kappa^2 / 2
    # (tanh's vertex is small: width 8 makes it resolvable with 40000 networks)
    net = jb.nets.mlp(width=width, depth=3, activation=activation, weight_var=weight_var, bias_var=bias_var, out=4)
    x = np.ones((1, 4), np.float32)
    pred = excess_kurtosis(net, x)[0, 0]
    values = _kurtosis_values(net, x, 40000, 1)
    assert compare(pred, values, _kurt, tolerance=pred ** 2 / 2).passed
    assert not compare(0.0, values, _kurt, tolerance=pred ** 2 / 2).passed
    assert not compare(1.6 * pred, values, _kurt, tolerance=pred ** 2 / 2).passed
    if activation == "relu":  # exact: 3((1 + 5/n)^L - 1), so the residual is the O(1/n^2) term
        assert compare(3 * ((1 + 5 / 64) ** 3 - 1), values, _kurt).passed


def test_unsupported_nets_are_named():
    x = np.ones((1, 4))
    with pytest.raises(ValueError, match="weight_law='orthogonal'"):
        excess_kurtosis(jb.nets.mlp(8, 2, "relu", weight_law="orthogonal"), x)
    with pytest.raises(ValueError, match="residual=True"):
        excess_kurtosis(jb.nets.mlp(8, 3, "relu", residual=True), x)


# -- activations whose derivative jumps: selu (issue 14, D2) ------------------------------------------
# Reference: E[selu(u) selu(v)] with the inner expectation over v given u in closed form (a Gaussian
# integral of x and e^x on each side of 0), the outer one by scipy's adaptive quad split at 0, and the
# layer map's Hessian by Richardson-extrapolated central differences of those values.

_LAM, _ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


def _selu(x):
    return _LAM * (x if x > 0 else _ALPHA * math.expm1(x))


def _selu_mean(m, r):
    """E[selu(m + r Z)], Z ~ N(0, 1), r > 0."""
    from scipy.special import log_ndtr, ndtr

    s = m / r
    positive = m * ndtr(s) + r * math.exp(-s * s / 2) / math.sqrt(2 * math.pi)
    negative = math.exp(m + r * r / 2 + log_ndtr(-(m + r * r) / r)) - ndtr(-s)
    return _LAM * (positive + _ALPHA * negative)


def _selu_pp(k11, k12, k22):
    a = math.sqrt(k11)
    c = k12 / a
    r = math.sqrt(k22 - c * c)
    f = lambda z: _selu(a * z) * _selu_mean(c * z, r) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    return sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0] for lo, hi in ((-12, 0), (0, 12)))


def _selu_sq(q):
    return _e(lambda u: _selu(u) ** 2, q)


def _richardson_hessian(f, k, h):
    """Hessian of a scalar f at k by central differences at h and h/2, Richardson-extrapolated."""
    k = np.asarray(k, np.float64)
    eye = np.eye(k.size)

    def hess(step):
        out = np.empty((k.size, k.size))
        for i in range(k.size):
            for j in range(k.size):
                if i == j:
                    out[i, i] = (f(*(k + step * eye[i])) - 2 * f(*k) + f(*(k - step * eye[i]))) / step ** 2
                else:
                    out[i, j] = sum(a * b * f(*(k + step * (a * eye[i] + b * eye[j]))) for a in (1, -1)
                                    for b in (1, -1)) / (4 * step ** 2)
        return out

    return (4 * hess(h / 2) - hess(h)) / 3


def test_selu_mean_shift_against_finite_differences_of_exact_values():
    # The case: jax.hessian through the quadrature missed the delta in selu'' at 0 and gave
    # 32 * shift_ab = +0.0417; the right value is -0.0434.
    fw = finite_width("selu", [32, 32], [1.0, 0.4, 1.3], 1.0, 0.0)
    k2, cov2 = fw.kernel[1], fw.covariance[1]
    h_ab = _richardson_hessian(_selu_pp, k2, 2e-3)
    h_aa = _richardson_hessian(_selu_sq, k2[:1], 2e-3)[0, 0]
    h_bb = _richardson_hessian(_selu_sq, k2[2:], 2e-3)[0, 0]
    expected = 0.5 * np.array([h_aa * cov2[0, 0], np.sum(h_ab * cov2), h_bb * cov2[2, 2]])
    np.testing.assert_allclose(fw.mean_shift[2], expected, rtol=1e-5)
    assert 32 * fw.mean_shift[2, 1] == pytest.approx(-0.0434, abs=5e-4)
    # the kernel itself (values, no derivatives) against the reference too
    np.testing.assert_allclose(fw.kernel[2, 1], _selu_pp(*k2), rtol=1e-9)


def test_callable_takes_the_finite_difference_path():
    # A callable's smoothness is unknown: it gets the same accurate path as the named selu.
    import jax

    named = finite_width("selu", [16, 16], [1.0, 0.4, 1.3], 1.0, 0.1)
    bare = finite_width(lambda x: jax.nn.selu(x), [16, 16], [1.0, 0.4, 1.3], 1.0, 0.1)
    for a, b in zip(named, bare):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)


def test_unresolvable_derivatives_raise():
    import jax.numpy as jnp

    with pytest.raises(ValueError, match="correlation above 0.99"):
        finite_width("selu", [32, 32], [1.0, 0.999, 1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="not accurate enough"):  # a kink away from 0: algebraic convergence
        finite_width(lambda x: jnp.maximum(x - 0.5, 0.0), [32, 32], [1.0, 0.4, 1.3], 1.0, 0.0)
