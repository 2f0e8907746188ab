"""NTK fluctuations over inits (Hanin & Nica 2020): engine samples against a per-network jacrev loop,
and the catalogue check accepting the right prediction and rejecting wrong ones."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbias.theory import hanin_nica_ratio, ntk_diagonal_samples, relu_ntk_net
from jaxbias.theory.catalogue import CATALOGUE, check_options, confront


def _reference_ntk_diag(net, params, x):
    """Slow obvious reference: T(x, x) = sum over all parameters of (d f_o / d theta)^2, averaged over outputs."""
    out = []
    for xi in x:
        jac = jax.jacrev(lambda p: net.apply(p, xi[None])[0])(params)  # leaves (O, *shape)
        sq = sum(jnp.sum(j.reshape(j.shape[0], -1) ** 2, axis=1) for j in jax.tree_util.tree_leaves(jac))
        out.append(float(jnp.mean(sq)))
    return np.array(out)


def test_samples_match_per_network_jacrev_loop():
    net = relu_ntk_net(5, 2, out=2)
    x = np.array([[1.0, -0.5, 2.0], [0.3, 0.8, -1.1]], np.float32)
    vals = ntk_diagonal_samples(net, x, n=3, key=7)
    assert vals.shape == (3, 2, 2)
    ref = np.stack([_reference_ntk_diag(net, net.init(jax.random.fold_in(jax.random.key(7), i), x), x)
                    for i in range(3)])
    np.testing.assert_allclose(vals[..., 0], ref, rtol=1e-4)
    np.testing.assert_allclose(vals[..., 1], ref ** 2, rtol=2e-4)
    # the relative variance estimate from the engine equals the one from the loop
    r = vals[..., 1].mean(0) / vals[..., 0].mean(0) ** 2
    np.testing.assert_allclose(r, (ref ** 2).mean(0) / ref.mean(0) ** 2, rtol=3e-4)


def test_hanin_nica_ratio_and_bad_input():
    assert math.isclose(hanin_nica_ratio([16, 32]), math.exp(5 * (1 / 16 + 1 / 32)))
    with pytest.raises(ValueError, match="widths"):
        hanin_nica_ratio([16, 0])
    with pytest.raises(ValueError, match="n="):
        ntk_diagonal_samples(relu_ntk_net(4, 1), np.ones((1, 3), np.float32), n=1)
    with pytest.raises(ValueError, match="depths"):
        CATALOGUE["ntk-fluctuations"].measure(check_options("ntk-fluctuations", depths=(3,)))
    with pytest.raises(ValueError, match="activation=.tanh"):
        CATALOGUE["ntk-fluctuations"].measure(check_options("ntk-fluctuations", activation="tanh"))


def test_check_accepts_right_and_rejects_wrong_predictions():
    o = check_options("ntk-fluctuations", n=1500, depths=(2, 8))
    entry = CATALOGUE["ntk-fluctuations"]
    meas = entry.measure(o)
    right = confront("ntk-fluctuations", o, entry.predict(o), meas)
    assert right.passed, right.rows
    no_growth = confront("ntk-fluctuations", o, [np.array([0.0]), np.full(2, 2.0)], meas)
    assert not no_growth.passed and not no_growth.rows[0].passed
    doubled = confront("ntk-fluctuations", o, [np.array([10.0]), np.full(2, 2.0)], meas)
    assert not doubled.rows[0].passed
    width_blind = confront("ntk-fluctuations", o, [np.array([5.0]), np.full(2, 1.0)], meas)
    assert not width_blind.rows[1].passed
