"""Finite-width gamma (leading 1/n) against an independent float64 Monte Carlo of the init-averaged kernel."""

import math
import re

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.experiments import igb

X4 = igb.igb_inputs("blobs", 4, 256, 0.0, key=1).astype(np.float64)


def _gram_chain(x, width, depth, phi, cw, cb, n_nets, seed, chunk=10000):
    """Output Gram ``G(L+1)`` of ``n_nets`` random MLPs on the points ``x``: ``(n_nets, P, P)``, float64.

    Exact sampling of the network law: given layer ``l`` the pre-activations of layer ``l+1`` at the ``P``
    points are ``width`` iid rows ``N(0, G(l))`` with ``G(l) = C_b + C_W / width * phi(z) phi(z)^T`` (the
    first layer: ``C_b + C_W x x^T / d0``). ``E[f(a) f(b) | layer L] = G(L+1)_ab`` exactly (the readout
    integrated out), so ``mean G(L+1)`` estimates the init-averaged kernel with less noise than ``f f``.
    """
    rng = np.random.default_rng(seed)
    p, d0 = x.shape
    out = []
    for start in range(0, n_nets, chunk):
        m = min(chunk, n_nets - start)
        g = np.broadcast_to(cb + cw * x @ x.T / d0, (m, p, p))
        for _ in range(depth):
            z = np.linalg.cholesky(g + 1e-12 * np.eye(p)) @ rng.standard_normal((m, p, width))
            h = phi(z)
            g = cb + cw / width * h @ np.swapaxes(h, 1, 2)
        out.append(g)
    return np.concatenate(out)


def _mc_gamma(g):
    """``gamma = Qo / (Qd - Qo)`` from sampled Grams, with its delta-method standard error over networks."""
    p = g.shape[1]
    rows, cols = np.triu_indices(p, 1)
    d, o = np.mean(g[:, np.arange(p), np.arange(p)], axis=1), np.mean(g[:, rows, cols], axis=1)
    qd, qo = d.mean(), o.mean()
    grad = np.array([-qo, qd]) / (qd - qo) ** 2
    se = math.sqrt(grad @ np.cov(np.stack([d, o])) @ grad / g.shape[0])
    return qo / (qd - qo), se, qo, o.std() / math.sqrt(g.shape[0])


@pytest.mark.parametrize("activation, phi, cw, cb", [
    ("relu", lambda z: np.maximum(z, 0.0), 1.0, 0.0),  # gamma falls below the infinite-width value
    pytest.param("tanh", np.tanh, 1.5, 0.3, marks=pytest.mark.slow),  # it rises (the 1/n shift of q_aa enters)
])
def test_finite_width_gamma_matches_monte_carlo(activation, phi, cw, cb):
    width, depth = 64, 4
    net = jb.nets.mlp(width, depth, activation, weight_var=cw, bias_var=cb)
    pred = jb.theory.predict_gamma_finite_width(net, X4)
    assert pred.n_pairs == 6
    gamma, se, q_ab, q_se = _mc_gamma(_gram_chain(X4, width, depth, phi, cw, cb, 50000, seed=0))
    assert abs(pred.gamma - gamma) < 5 * se, (pred, gamma, se)
    assert abs(pred.q_ab - q_ab) < 5 * q_se
    assert abs(pred.gamma_inf - gamma) > 5 * se  # the correction is resolved: infinite width is rejected


def test_moments_average_and_the_pair_subset():
    # d0 = 256: the per-pair kernels concentrate on the averaged moments; a subset of pairs is an
    # unbiased stand-in for all of them
    x = igb.igb_inputs("blobs", 11, 256, 0.0, key=2)
    net = jb.nets.mlp(64, 4, "relu", bias=False)  # the programs of the Monte Carlo test above: no new compile
    full = jb.theory.predict_gamma_finite_width(net, x)
    sub = jb.theory.predict_gamma_finite_width(net, x, max_pairs=20, seed=3)
    mom = jb.theory.predict_gamma_finite_width(net, x, average="moments")
    assert full.n_pairs == 55 and sub.n_pairs == 20 and mom.n_pairs == 1
    assert full.correction < 0 and full.q_aa == pytest.approx(full.k_aa, rel=1e-5)  # relu: no shift of q_aa
    assert full.gamma == pytest.approx(full.gamma_inf + full.correction, abs=0.02)  # O(1/n^2) apart
    for other in (sub, mom):
        assert other.gamma == pytest.approx(full.gamma, rel=0.02)


@pytest.mark.parametrize("kwargs, message", [
    ({"average": "median"}, "average='median'"),
    ({"max_pairs": 0}, "max_pairs"),
    ({"x": np.ones((1, 4))}, "n_points >= 2"),
    ({"net": jb.nets.mlp(8, 2, "relu", norm="batch_post")}, "norm='batch_post'"),
    ({"net": jb.nets.mlp(8, 2, "relu", pool="max")}, "pool='max(2)'"),
])
def test_bad_input_names_the_argument(kwargs, message):
    args = {"net": jb.nets.mlp(8, 2, "relu"), "x": np.ones((3, 4)), **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        jb.theory.predict_gamma_finite_width(args.pop("net"), args.pop("x"), **args)
