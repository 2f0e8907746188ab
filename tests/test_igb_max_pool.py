"""Max pooling in the IGB recursion (``predict_gamma``) up to correlation 1, against independent references.

The references are computed here, not by jaxbias: the gap ``E[h_a^2] - E[h_a h_b]`` by Hoeffding's
identity, ``Var X - Cov(X, Y) = int int psi'(s) psi'(t) [F(min(s, t)) - F(s, t)] ds dt`` with
``F(s, t) = Phi2(s, t; rho)^p`` the joint cdf of the two maxima, ``Phi2`` from Owen's (1956) T function
(``scipy.special.owens_t``) and adaptive ``scipy.integrate.quad``; closed forms (the step activation,
the slope at ``rho = 1``); and the exact values reported in the issue (ReLU, window 4, ``C_W = 2``, no
bias, input moments ``(1, 0)``).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

import jaxbias as jb
from jaxbias.nets.activations import get_activation
from jaxbias.theory import guessing as th

EXACT_GAMMA = {7: 173.6863, 8: 299.2843, 9: 509.8958, 10: 861.5729}
RELU_SQ_4 = 1.5437850  # E[relu(max of 4 unit normals)^2]
EXACT_PAIR = {0.999: 1.5428641, 0.9999: 1.5436918}  # E[h_a h_b], p = 4, unit variance
EPS = dict(epsabs=1e-14, epsrel=1e-10, limit=200)


def _pool_net(depth, activation="relu", pool_size=4, **kwargs):
    return jb.nets.mlp(1024, depth, activation, bias=False, pool=f"max({pool_size})", weight_var=2.0,
                       **kwargs)


def _owen_phi2(h, k, rho):
    """``P(X <= h, Y <= k)`` for a standard normal pair with correlation ``|rho| < 1`` (Owen 1956)."""
    if h == 0 and k == 0:
        return 0.25 + math.asin(rho) / (2 * math.pi)
    r = math.sqrt((1 - rho) * (1 + rho))

    def owen_t(x, y):
        if x == 0:
            return math.copysign(0.25, y)
        return special.owens_t(x, (y - rho * x) / (x * r))

    beta = 0.5 if (h * k < 0 or (h * k == 0 and h + k < 0)) else 0.0
    return 0.5 * (special.ndtr(h) + special.ndtr(k)) - owen_t(h, k) - owen_t(k, h) - beta


def _ref_sq(psi, p, lo=-10.0):
    """``E[psi(M)^2] = p int psi(s)^2 Phi(s)^(p-1) phi(s) ds``, ``M`` the max of ``p`` unit normals."""
    f = lambda s: p * psi(s) ** 2 * special.ndtr(s) ** (p - 1) * math.exp(-s * s / 2) / math.sqrt(2 * math.pi)
    return integrate.quad(f, lo, 10.0, points=[0.0] if lo < 0 else None, **EPS)[0]


def _ref_gap(dpsi, p, rho, lo=-10.0):
    """Hoeffding: ``E[psi(M_a)^2] - E[psi(M_a) psi(M_b)] = 2 int_s int_(t < s) psi'(s) psi'(t) [Phi(t)^p -
    Phi2(s, t; rho)^p] dt ds`` (standardized maxima; ``psi'`` vanishes below ``lo``)."""
    r = math.sqrt((1 - rho) * (1 + rho))

    def inner(s):
        f = lambda t: dpsi(t) * (special.ndtr(t) ** p - _owen_phi2(s, t, rho) ** p)
        cut = max(lo, s - 12 * r)  # the layer of width r below the diagonal gets its own interval
        total = 0.0
        for a, b in ((lo, cut), (cut, s)):  # break at psi''s kink t = 0
            for a2, b2 in ((a, min(b, 0.0)), (max(a, 0.0), b)):
                total += integrate.quad(f, a2, b2, **EPS)[0] if b2 > a2 else 0.0
        return dpsi(s) * total

    points = sorted({x for x in (0.0, r, 12 * r) if lo < x < 10.0})
    return 2 * integrate.quad(inner, lo, 10.0, points=points, **EPS)[0]


def _moments(activation, k_aa, k_ab, p, shift=0.0, scale=1.0):
    fn = get_activation(activation).fn
    with jax.enable_x64(True):
        p_aa, p_ab = th._max_pool_moments(fn, jnp.float64(shift), jnp.float64(scale), jnp.float64(k_aa),
                                          jnp.float64(k_ab), p, 64)
        return float(p_aa), float(p_ab)


def _relu(s):
    return max(s, 0.0)


def _relu_d(s):
    return 1.0 if s > 0 else 0.0


def test_bvn_cdf_near_singular_matches_owens_t():
    rng = np.random.default_rng(0)
    h = rng.normal(size=40) * 2
    k = np.where(np.arange(40) < 20, h + rng.normal(size=40) * 1e-3, rng.normal(size=40) * 2)
    rho = np.tile(np.concatenate([1 - np.logspace(-12, -1, 5), -1 + np.logspace(-12, -1, 5)]), 4)
    want = [_owen_phi2(a, b, c) for a, b, c in zip(h, k, rho)]
    with jax.enable_x64(True):
        cdf = jax.jit(th._bvn_cdf)
        got = np.asarray(cdf(h, k, rho))
        ends = np.asarray(cdf(h[:4], k[:4], np.array([1.0, -1.0, 1.0, -1.0])))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    lim = [special.ndtr(min(h[0], k[0])), max(0.0, special.ndtr(h[1]) - special.ndtr(-k[1]))]
    np.testing.assert_allclose(ends[:2], lim, rtol=0, atol=1e-15)


def test_published_gamma_depths_7_to_10():
    gammas = th.predict_gamma(_pool_net(10), moments=(1.0, 0.0)).gammas
    for depth, want in EXACT_GAMMA.items():
        np.testing.assert_allclose(gammas[depth], want, rtol=1e-6, err_msg=f"depth {depth}")


@pytest.mark.parametrize("rho", sorted(EXACT_PAIR))
def test_published_pair_moments(rho):
    p_aa, p_ab = _moments("relu", 1.0, rho, 4)
    np.testing.assert_allclose([p_aa, p_ab], [RELU_SQ_4, EXACT_PAIR[rho]], rtol=0, atol=2e-7)


@pytest.mark.parametrize("activation, p, k_aa, rho", [
    ("relu", 4, 1.0, 0.3),
    ("relu", 4, 1.0, 0.999),
    ("relu", 4, 1.0, 0.9999),
    ("relu", 4, 1.0, 1 - 1e-6),
    ("tanh", 3, 2.0, -0.6),
    ("tanh", 3, 2.0, 0.99999),
    ("leaky_relu(0.1)", 2, 0.7, -0.95),
    ("leaky_relu(0.1)", 2, 0.7, 0.9995),
])
def test_gap_matches_hoeffding(activation, p, k_aa, rho):
    sd = math.sqrt(k_aa)
    if activation == "relu":
        psi, dpsi, lo = (lambda s: sd * _relu(s)), (lambda s: sd * _relu_d(s)), 0.0
    elif activation == "tanh":
        psi, dpsi, lo = (lambda s: math.tanh(sd * s)), (lambda s: sd / math.cosh(sd * s) ** 2), -10.0
    else:
        psi, dpsi, lo = (lambda s: sd * s * (1.0 if s > 0 else 0.1)), (lambda s: sd * (1.0 if s > 0 else 0.1)), -10.0
    want_sq, want_gap = _ref_sq(psi, p, lo=min(lo, -10.0)), _ref_gap(dpsi, p, rho, lo=lo)
    p_aa, p_ab = _moments(activation, k_aa, k_aa * rho, p)
    np.testing.assert_allclose(p_aa, want_sq, rtol=1e-10)
    np.testing.assert_allclose(p_aa - p_ab, want_gap, rtol=1e-7)


@pytest.mark.parametrize("rho", [-0.9, 0.2, 0.999, 1 - 1e-9])
def test_step_with_layer_norm_shift_scale_closed_form(rho):
    """psi = (step - m) / s: the gap is P(the two maxima have different signs) / (2 s^2)."""
    p, m, s = 3, 0.3, 0.7
    p_aa, p_ab = _moments("step", 2.0, 2.0 * rho, p, shift=m, scale=s)
    off = 2.0**-p
    np.testing.assert_allclose(p_aa, ((1 - off) * (1 - m) ** 2 + off * m * m) / s**2, rtol=1e-12)
    both_neg = (0.25 + math.asin(rho) / (2 * math.pi)) ** p
    np.testing.assert_allclose(p_aa - p_ab, (off - both_neg) / s**2, rtol=1e-9)


def test_layer_norm_post_max_pool_first_layer():
    # One layer, C_W = 1, no bias, moments (1, 0.3): the pooled units are psi = (relu - m) / s, m and s^2
    # the mean and variance of relu(u), u ~ N(0, 1).
    net = jb.nets.mlp(63, 1, "relu", bias=False, pool="max(3)", norm="layer_post")
    pred = th.predict_gamma(net, moments=(1.0, 0.3))
    m = 1 / math.sqrt(2 * math.pi)
    s2 = 0.5 - m * m
    e1 = 3 * integrate.quad(lambda t: t * special.ndtr(t) ** 2 * math.exp(-t * t / 2) / math.sqrt(2 * math.pi),
                            0, 10, **EPS)[0]
    sq = (_ref_sq(_relu, 3) - 2 * m * e1 + m * m) / s2
    np.testing.assert_allclose(pred.q_aa, sq, rtol=1e-10)
    np.testing.assert_allclose(pred.q_aa - pred.q_ab, _ref_gap(_relu_d, 3, 0.3, lo=0.0) / s2, rtol=1e-8)


def test_rho_to_one_limit_is_continuous():
    # Gap ~ (1 - rho) k E[psi'(M)^2] = (1 - rho) (1 - 2^-p) for relu (the argmax unit moves by ~r, a switch of
    # argmax adds O((1 - rho)^(3/2))); at rho = 1 (and rounding above it) E[h_a h_b] = E[h_a^2] exactly.
    p_sq = _moments("relu", 1.0, 1.0, 4)[0]
    slopes = []
    for e in 10.0 ** -np.arange(2, 15):
        k_ab = 1.0 - e
        p_aa, p_ab = _moments("relu", 1.0, k_ab, 4)
        assert p_aa == pytest.approx(p_sq, rel=1e-13) and p_ab < p_aa
        slopes.append((p_aa - p_ab) / (1.0 - k_ab))
    slopes = np.array(slopes)
    e = 10.0 ** -np.arange(2, 15)
    assert np.all(np.diff(slopes[:8]) > 0)  # approaches the limit from below while rounding is negligible
    np.testing.assert_array_less(np.abs(slopes - (1 - 2.0**-4)), 0.6 * np.sqrt(e) + 1e-15 / e * 4)
    for k_ab in (1.0, 1.0 + 1e-15):
        p_aa, p_ab = _moments("relu", 1.0, k_ab, 4)
        assert p_aa == p_ab == pytest.approx(p_sq, rel=1e-13)


def test_depths_11_to_14_continue_the_published_recursion():
    # ReLU is homogeneous: the correlation alone is iterated, 1 - rho' = gap(rho) / E[h^2] (C_W cancels).
    gammas = th.predict_gamma(_pool_net(14), moments=(1.0, 0.0)).gammas
    assert all(math.isfinite(g) for g in gammas)
    sq = _ref_sq(_relu, 4, lo=0.0)
    gamma = EXACT_GAMMA[10]
    for depth in range(11, 15):
        rho = gamma / (1 + gamma)
        one_minus = _ref_gap(_relu_d, 4, rho, lo=0.0) / sq
        gamma = (1 - one_minus) / one_minus
        np.testing.assert_allclose(gammas[depth], gamma, rtol=2e-6, err_msg=f"depth {depth}")


def test_correlation_lost_to_rounding_is_a_clear_error():
    net = _pool_net(12)
    # Inputs 1e-9 from identical: gamma grows ~1.65x per layer and passes 1e11 (q_aa - q_ab < 1e-11 q_aa).
    shallow = th.predict_gamma(_pool_net(3), moments=(1.0, 1.0 - 1e-9))
    assert 1e9 < shallow.gamma < 1e11
    with pytest.raises(ValueError, match="float64 rounding"):
        th.predict_gamma(net, moments=(1.0, 1.0 - 1e-9))
    # Identical inputs: the same output law on every input, gamma = inf exactly.
    assert th.predict_gamma(net, moments=(1.0, 1.0)).gamma == math.inf
