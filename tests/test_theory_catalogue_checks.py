"""Each catalogue check accepts the right prediction and rejects a deliberately wrong one (fixed keys, small n).

The measurements are taken once per test; the same per-network values are confronted with the
theory's prediction (must pass at the stated 0.99 confidence) and with a wrong one (must fail).
"""


import numpy as np
import pytest
from scipy import stats

from jaxbias.experiments.catalogue import CATALOGUE, check_options, confront


def _run(name, **options):
    o = check_options(name, **options)
    entry = CATALOGUE[name]
    return o, entry.predict(o), entry.measure(o)


def test_nngp_kernel_and_law():
    o, (kernel, law), measured = _run("nngp", width=128, depths=(2,), n=2000)
    assert confront("nngp", o, [kernel, law], measured).passed
    # the kernel of one layer less (a recursion off by one) and a 20% wrong output scale are rejected
    shallower = check_options("nngp", width=128, depths=(1,), n=2000)
    wrong_kernel = CATALOGUE["nngp"].predict(shallower)[0]
    assert np.all(np.abs(wrong_kernel / kernel - 1) > 0.1)
    assert not confront("nngp", o, [wrong_kernel, law], measured).passed
    assert not confront("nngp", o, [kernel, stats.norm(0.0, 1.2 * law.std())], measured).passed


def test_order_chaos_correlation_map():
    o, [c_map], measured = _run("order-chaos", width=64, depths=(3,), n=1000)
    report = confront("order-chaos", o, [c_map], measured)
    assert report.passed
    # in the chaotic phase (C_W = 4) the correlation falls from the input's 0.5 (to 0.38 at depth 3); the
    # ordered phase's answer (correlation -> 1) and a map that leaves it at 0.5 are both wrong
    ordered = CATALOGUE["order-chaos"].predict(check_options("order-chaos", weight_var=0.8, depths=(3,)))[0]
    assert not confront("order-chaos", o, [ordered], measured).passed
    assert not confront("order-chaos", o, [np.array([0.5])], measured).passed


@pytest.mark.slow
def test_order_chaos_defaults_over_depth():
    o, predictions, measured = _run("order-chaos", n=1000)
    assert confront("order-chaos", o, predictions, measured).passed
    assert not confront("order-chaos", o, [predictions[0] + 0.06], measured).passed


@pytest.mark.parametrize("law, wrong", [("orthogonal", 0.85), ("sparse(0.25)", 0.85), ("low_rank(4)", 0.7)])
def test_weight_laws_share_the_iid_kernel(law, wrong):
    # (low-rank weights make E z^2 heavy-tailed over networks: a wider interval, a coarser wrong answer)
    o, [iid], measured = _run("weight-laws", weight_law=law, width=32, depths=(2,), n=2000)
    np.testing.assert_allclose(iid, 2.0, rtol=1e-5)  # relu at C_W = 2, C_b = 0: K = C_W |x|^2 / d0 = 2
    assert confront("weight-laws", o, [iid], measured).passed
    assert not confront("weight-laws", o, [wrong * iid], measured).passed


def test_finite_width_kurtosis_and_square_covariance():
    o, (kurt, cov), measured = _run("finite-width", width=64, depths=(2,), n=4000)
    np.testing.assert_allclose(kurt, 15 * 2 / 64, rtol=1e-5)  # relu at criticality: 15 L / n
    assert confront("finite-width", o, [kurt, cov], measured).passed
    assert not confront("finite-width", o, [0 * kurt, cov], measured).passed  # the Gaussian answer
    assert not confront("finite-width", o, [2 * kurt, cov], measured).passed
    assert not confront("finite-width", o, [kurt, 0 * cov], measured).passed


def test_weight_law_vertex_iid_passes_orthogonal_differs():
    # iid Gaussian weights: the 1/n vertex prediction holds (depth 1: exact, no remainder)
    o, [kurt], measured = _run("weight-law-vertex", weight_law="normal", width=16, depths=(1,), n=4000)
    assert confront("weight-law-vertex", o, [kurt], measured).passed
    assert not confront("weight-law-vertex", o, [0 * kurt], measured).passed
    # orthogonal weights: same kernel, smaller vertex. With an iid first layer the output unit is
    # |h| u_1 (u uniform on the sphere of R^n) and its kurtosis is 3(n + 5)/(n + 2) - 3 = 9/(n + 2),
    # against the iid 15/n; with an orthogonal first layer |h| fluctuates less still.
    o2, [iid], orth = _run("weight-law-vertex", width=16, depths=(1,), n=4000)
    np.testing.assert_allclose(iid, kurt)
    report = confront("weight-law-vertex", o2, [iid], orth)
    assert not report.passed and report.rows[0].estimate[0] < 9 / 18 < iid[0]


def test_guessing_bias_gamma():
    # relu at C_W = 2, inputs at overlap 1/4: gamma from the NNGP recursion (jaxbias.theory.predict_gamma)
    o, [gamma], measured = _run("guessing-bias", width=64, depths=(2,), n=2000)
    assert 1.0 < gamma[0] < 2.0
    assert confront("guessing-bias", o, [gamma], measured).passed
    # no bias (a centred answer), a 20% error, and the answer for centred inputs (overlap 0) are rejected
    centred = CATALOGUE["guessing-bias"].predict(check_options("guessing-bias", depths=(2,), overlap=0.0))[0]
    assert centred[0] < 0.8 * gamma[0]
    for wrong in (0 * gamma, 0.8 * gamma, centred):
        assert not confront("guessing-bias", o, [wrong], measured).passed
