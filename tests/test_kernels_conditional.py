"""The conditional Monte Carlo NNGP (``nngp_monte_carlo(..., estimator="conditional")``).

References, none computed by the code under test: the arc-cosine and arcsine kernels written out
here (Cho & Saul 2009; Williams 1997) for the exact depth-0/1 cases, and a float64 NumPy Monte
Carlo over explicit finite-width networks (forward pass and readout drawn, nothing integrated)
for depths 2 and 3, where the finite-width NNGP differs from the infinite-width one by O(1/width).
Statistical comparisons use fixed keys and a 5-standard-error band.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

import jaxbias as jb
from jaxbias.kernels.gaussian import _arccos

X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)


def _relu_map(k):
    """E[relu(u) relu(v)] for (u, v) ~ N(0, k): Cho & Saul's arc-cosine kernel of degree 1, float64."""
    d = np.sqrt(np.diag(k))
    rho = np.clip(k / np.outer(d, d), -1, 1)
    return np.outer(d, d) * (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi)


def _erf_map(k):
    """E[erf(u) erf(v)]: Williams 1997, (2/pi) arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22)))."""
    d = 1 + 2 * np.diag(k)
    return 2 / np.pi * np.arcsin(2 * k / np.sqrt(np.outer(d, d)))


def _numpy_networks(x, width, depth, act, cw, cb, n, seed):
    """Mean and standard error of f(x) f(x')^T over n explicit networks (standard parameterization)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float64)
    total = np.zeros((x.shape[0], x.shape[0]))
    total_sq = np.zeros_like(total)
    done = 0
    while done < n:
        m = min(20000, n - done)
        h = np.broadcast_to(x, (m,) + x.shape)
        fan_in = x.shape[1]
        for _ in range(depth):
            w = rng.normal(0, math.sqrt(cw / fan_in), (m, fan_in, width))
            b = rng.normal(0, math.sqrt(cb), (m, 1, width))
            h = act(np.einsum("mpi,mio->mpo", h, w) + b)
            fan_in = width
        w = rng.normal(0, math.sqrt(cw / fan_in), (m, fan_in, 1))
        b = rng.normal(0, math.sqrt(cb), (m, 1, 1))
        f = (np.einsum("mpi,mio->mpo", h, w) + b)[..., 0]
        outer = np.einsum("mp,mq->mpq", f, f)
        total += outer.sum(0)
        total_sq += (outer**2).sum(0)
        done += m
    mean = total / n
    return mean, np.sqrt(np.maximum(total_sq / n - mean**2, 0) / (n - 1))


def test_arccos_float32_matches_float64_reference():
    x = np.concatenate([np.linspace(-1, 1, 200001), 1 - np.logspace(-8, 0, 2000), -1 + np.logspace(-8, 0, 2000)])
    x = x.astype(np.float32)
    ours = np.asarray(_arccos(jnp.asarray(x)), np.float64)
    exact = np.arccos(x.astype(np.float64))
    # 2 ulp of pi in float32 (the polynomial's own error is 2e-8, Abramowitz & Stegun 4.4.46)
    assert np.max(np.abs(ours - exact)) < 5e-7
    assert ours[np.argmax(x)] == 0.0 and abs(ours[np.argmin(x)] - np.pi) < 3e-7


@pytest.mark.parametrize("depth", [0, 1])
@pytest.mark.parametrize("act", ["relu", "erf"])
def test_depth_0_and_1_are_exact(depth, act):
    cw, cb = 1.7, 0.2
    net = jb.nets.mlp(16, depth, act, weight_var=cw, bias_var=cb)
    k = jb.kernels.nngp_monte_carlo(net, X, n=3, estimator="conditional", progress=False)
    x = X.astype(np.float64)
    exact = cb + cw * x @ x.T / x.shape[1]
    if depth == 1:
        exact = cb + cw * (_relu_map(exact) if act == "relu" else _erf_map(exact))
    np.testing.assert_allclose(k.mean, exact, rtol=2e-6, atol=1e-6)
    assert k.n == 3 and not np.any(k.std) and not np.any(k.sem)


# tanh has no closed form: 2-D quadrature per entry and draw, so fewer draws
@pytest.mark.parametrize("act, fn, n", [("relu", lambda z: np.maximum(z, 0), 20000), ("erf", special.erf, 20000),
                                        ("tanh", np.tanh, 1000)])
@pytest.mark.parametrize("depth", [2, 3])
def test_matches_explicit_networks_at_finite_width(act, fn, n, depth):
    width, cw, cb = 4, 1.7, 0.2
    net = jb.nets.mlp(width, depth, act, weight_var=cw, bias_var=cb)
    k = jb.kernels.nngp_monte_carlo(net, X, n=n, key=1, estimator="conditional", progress=False)
    ref, ref_sem = _numpy_networks(X, width, depth, fn, cw, cb, n=200000, seed=depth)
    z = np.abs(k.mean - ref) / np.sqrt(k.sem**2 + ref_sem**2)
    assert z.max() < 5.0, z.max()
    # the finite-width kernel is not the infinite-width one: at width 4 the gap is many standard errors
    if act == "relu":
        gap = np.abs(ref - jb.kernels.infinite(net, X).nngp) / ref_sem
        assert gap.max() > 10


def test_mean_shift_matches_the_one_over_width_theory():
    # An independent prediction: Roberts, Yaida & Hanin's 1/n shift of E[K(x, x)] at the output
    # (jb.theory.mlp_finite_width, a layer recursion that shares no code with the estimator).
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    net = jb.nets.mlp(64, 3, "erf", weight_var=1.2, bias_var=0.1)
    k = jb.kernels.nngp_monte_carlo(net, x, n=20000, key=7, estimator="conditional", progress=False)
    shift = np.diag(k.mean) - np.diag(np.asarray(jb.kernels.infinite(net, x.astype(np.float64)).nngp))
    predicted = jb.theory.mlp_finite_width(net, x).mean_shift[:, -1, 0]
    sem = np.diag(k.sem)
    assert np.all(np.abs(shift - predicted) < 4 * sem + 0.1 * np.abs(predicted))  # + O(1/n^2)
    assert abs(shift.mean()) > 6 * np.sqrt(np.mean(sem**2))  # the finite-width shift is resolved


def test_variance_is_smaller_than_over_networks():
    net = jb.nets.mlp(32, 2, "relu", weight_var=2.0, bias_var=0.1)
    a = jb.kernels.nngp_monte_carlo(net, X, n=2000, key=0, progress=False)
    b = jb.kernels.nngp_monte_carlo(net, X, n=2000, key=0, estimator="conditional", progress=False)
    assert np.all(b.sem < a.sem / 3)
    z = np.abs(a.mean - b.mean) / np.sqrt(a.sem**2 + b.sem**2)
    assert z.max() < 5.0


def test_blocks_outputs_and_parameterization():
    net = jb.nets.mlp(8, 2, "erf", out=3, weight_var=1.5, bias_var=0.1)
    full = jb.kernels.nngp_monte_carlo(net, X, n=64, key=2, estimator="conditional", progress=False)
    block = jb.kernels.nngp_monte_carlo(net, X[:2], X[2:], n=64, key=2, estimator="conditional", progress=False)
    np.testing.assert_allclose(block.mean, full.mean[:2, 2:], rtol=1e-5, atol=1e-6)
    kept = jb.kernels.nngp_monte_carlo(net, X, n=64, key=2, estimator="conditional", trace=False, progress=False)
    assert kept.mean.shape == (5, 5, 3, 3)
    np.testing.assert_allclose(kept.mean, np.einsum("ab,op->abop", full.mean, np.eye(3)), rtol=1e-5, atol=1e-6)
    ntk_param = jb.nets.mlp(8, 2, "erf", out=3, weight_var=1.5, bias_var=0.1, parameterization="ntk")
    same = jb.kernels.nngp_monte_carlo(ntk_param, X, n=64, key=2, estimator="conditional", progress=False)
    np.testing.assert_allclose(same.mean, full.mean, rtol=1e-5, atol=1e-6)  # same function distribution


@pytest.mark.parametrize("net, needle", [
    (jb.nets.mlp(8, 2, "relu", residual=True), "residual=True"),
    (jb.nets.mlp(8, 2, "relu", norm="layer_pre"), "norm='layer_pre'"),
    (jb.nets.mlp(8, 2, "relu", weight_law="uniform"), "weight_law='uniform'"),
    (jb.nets.mlp(8, 2, lambda z: z * z), "not a known name"),
    (jb.nets.cnn([4], kernel_size=3), "jaxbias.nets.MLP networks only"),
])
def test_unsupported_nets_are_refused(net, needle):
    x = np.zeros((4, 6, 6, 1), np.float32) if isinstance(net, jb.nets.CNN) else X
    with pytest.raises(ValueError, match="estimator='conditional'") as info:
        jb.kernels.nngp_monte_carlo(net, x, n=4, estimator="conditional", progress=False)
    assert needle in str(info.value)


def test_unknown_estimator_and_bad_n():
    net = jb.nets.mlp(8, 1, "relu")
    with pytest.raises(ValueError, match="estimator='bootstrap'"):
        jb.kernels.nngp_monte_carlo(net, X, n=4, estimator="bootstrap")
    with pytest.raises(ValueError, match="n=0"):
        jb.kernels.nngp_monte_carlo(net, X, n=0, estimator="conditional")
