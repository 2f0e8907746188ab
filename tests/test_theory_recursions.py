"""Recursions and order/chaos against closed forms (SCIENCE.md section 4) and scipy quadrature written here."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize

import importlib

import jaxbias as jb

oc = importlib.import_module("jaxbias.theory.order_chaos")
rec = importlib.import_module("jaxbias.theory.recursions")


def _e(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by scipy quad."""
    return integrate.quad(lambda z: f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi), -12, 12,
                          epsabs=1e-12)[0]


def _tanh_ref(cw, cb):
    """(q*, chi_1) for tanh by scipy: root of the length map and E[sech^4]."""
    q = optimize.brentq(lambda q: cb + cw * _e(lambda u: math.tanh(u) ** 2, q) - q, 1e-9, 50.0)
    return q, cw * _e(lambda u: 1 / math.cosh(u) ** 4, q)


def test_relu_closed_forms():
    np.testing.assert_allclose(rec.fixed_point("relu", [1.0, 1.5], 0.5), [1.0, 2.0], rtol=1e-5)  # C_b/(1-C_W/2)
    assert np.isinf(rec.fixed_point("relu", 3.0, 0.1))
    assert float(rec.fixed_point("relu", 2.0, 0.0, q0=1.7)) == pytest.approx(1.7, rel=1e-5)  # every q is fixed
    np.testing.assert_allclose(rec.chi_parallel("relu", 1.5, 0.1, [0.5, 2.0]), [0.75, 0.75], rtol=1e-5)
    np.testing.assert_allclose(rec.chi_perp("relu", 1.5, 0.1, 2.0), 0.75, rtol=1e-5)
    assert float(rec.critical_weight_var("relu")) == 2.0
    assert float(rec.critical_weight_var("leaky_relu(0.2)")) == pytest.approx(2 / 1.04)
    assert float(rec.critical_weight_var("abs")) == pytest.approx(1.0)
    assert float(rec.critical_weight_var("tanh", 0.0)) == 1.0
    assert float(rec.critical_weight_var("erf", 0.0)) == pytest.approx(math.pi / 4)


def test_tanh_fixed_point_and_critical_line_against_scipy():
    for cw, cb in [(1.5, 0.1), (2.5, 0.3)]:
        q_ref, chi_ref = _tanh_ref(cw, cb)
        r = oc.order_chaos("tanh", cw, cb)
        assert float(r.q_star) == pytest.approx(q_ref, rel=1e-4)
        assert float(r.chi_1) == pytest.approx(chi_ref, rel=1e-4)
    cbs = np.array([0.05, 0.3])
    line = oc.critical_line("tanh", cbs)
    for cb, cw in zip(cbs, line):
        ref = optimize.brentq(lambda w: _tanh_ref(w, cb)[1] - 1.0, 1.01, 4.0, xtol=1e-8)
        assert cw == pytest.approx(ref, rel=1e-3)
    # the line starts at C_W = 1 (C_b -> 0) and rises with C_b (Schoenholz et al. 2017, Fig. 1)
    assert 1.0 < line[0] < line[1]


def test_tanh_kernel_decays_like_one_over_minus_a1_l():
    # tanh: s1 = 1, s2 = 0, s3 = -2, so a1 = -2 and K(l) ~ 1 / (2 l) at C_W = 1, C_b = 0.
    step = jax.jit(lambda q: rec.length_map("tanh", 1.0, 0.0, q))
    q, ls = jnp.float32(1.0), []
    for layer in range(1, 3001):
        q = step(q)
        if layer in (300, 3000):
            ls.append(float(q) * 2 * layer)
    # corrections are O(log l / l): the product approaches 1 from below
    assert ls[0] == pytest.approx(1.0, abs=0.05) and abs(ls[1] - 1.0) < abs(ls[0] - 1.0) and abs(ls[1] - 1) < 0.01


@pytest.mark.slow
def test_order_and_chaos_phases():
    ordered = oc.order_chaos("tanh", 1.2, 0.3)
    assert float(ordered.c_star) == 1.0 and float(ordered.chi_1) < 1
    assert float(ordered.xi_c) == pytest.approx(-1 / math.log(float(ordered.chi_1)))
    chaotic = oc.order_chaos("tanh", 3.0, 0.05)
    q, c = float(chaotic.q_star), float(chaotic.c_star)
    assert float(chaotic.chi_1) > 1 and 0 < c < 1

    def cmap(c):  # c-map by scipy 2-D quadrature
        f = lambda z2, z1: (math.tanh(math.sqrt(q) * z1) * math.tanh(math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2))  # noqa: E731
                            * math.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * math.pi))
        return (0.05 + 3.0 * integrate.dblquad(f, -8, 8, -8, 8, epsabs=1e-10)[0]) / q

    assert cmap(c) == pytest.approx(c, abs=2e-4)
    critical = oc.order_chaos("relu", 2.0, 0.0)
    assert float(critical.chi_1) == 1.0 and np.isinf(critical.xi_c)


@pytest.mark.slow
def test_phase_diagram_sides_of_the_critical_line():
    pd = jb.theory.phase_diagram("tanh", [0.8, 1.5, 3.0], [0.05, 0.3])
    assert pd.chi_1.shape == (3, 2) and pd.critical_weight_var.shape == (2,)
    below = pd.weight_var[:, None] < pd.critical_weight_var[None, :]
    assert np.all((pd.chi_1 < 1) == below)


def test_bad_input():
    with pytest.raises(ValueError, match="weight_var=-1"):
        rec.fixed_point("tanh", -1, 0.0)
    with pytest.raises(ValueError, match="activation='nope'"):
        jb.theory.order_chaos("nope", 1.0, 0.0)


def test_gelu_critical_line_against_scipy():
    # gelu(x) = x Phi(x), gelu'(x) = Phi(x) + x phi(x): at the returned C_W the attracting fixed point
    # q* of the length map has chi_1 = C_W E[gelu'(sqrt(q*) z)^2] = 1
    from scipy import stats as st

    gelu = lambda u: u * st.norm.cdf(u)  # noqa: E731
    dgelu = lambda u: st.norm.cdf(u) + u * st.norm.pdf(u)  # noqa: E731
    cb = 0.3
    cw = float(rec.critical_weight_var("gelu", cb))
    gap = lambda q: cb + cw * _e(lambda u: gelu(u) ** 2, q) - q  # noqa: E731
    q = optimize.brentq(gap, 1.0, 30.0)  # the attracting fixed point: F(q) - q goes from + to -
    assert gap(0.5) > 0 > gap(60.0)
    assert cw * _e(lambda u: dgelu(u) ** 2, q) == pytest.approx(1.0, abs=2e-3)
    # C_b = 0.05: the q* with chi_1 = 1 (C_W = 2.30, q* = 0.73) repels (F(q) - q goes from - to +);
    # networks settle at q = 0.17 with chi_1 = 0.77: no critical initialization, nan
    assert np.isnan(rec.critical_weight_var("gelu", 0.05))
    g = lambda q: 0.05 + 2.30 * _e(lambda u: gelu(u) ** 2, q) - q  # noqa: E731
    assert g(0.4) < 0 < g(1.0)
    assert np.isnan(rec.critical_weight_var("softplus", 0.1))  # chi_1 never reaches 1 on a fixed point
    with pytest.raises(ValueError, match="no critical weight variance"):
        jb.experiments.catalogue.check_options("criticality", activation="softplus", bias_var=0.1)
