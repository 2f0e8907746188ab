"""The near-constant guard: a deep sigmoid network at small weight scale, float32 against float64."""

import jax
import numpy as np
import pytest

import jaxbias as jb

M = jb.measures
R = 32


def deep_sigmoid(dtype, depth=16, width=32, seed=1):
    """A deep sigmoid MLP (weights N(0, 1/fan_in), biases N(0, 0.01)) on an R x R grid, in numpy ``dtype``.

    Each layer shrinks variations by ~1/4 (sigmoid'(0)): the output varies by ~1e-10 relative,
    far below float32 rounding, far above float64's.
    """
    rng = np.random.default_rng(seed)
    g = np.linspace(-1, 1, R)
    h = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2).astype(dtype)
    fan = 2
    for _ in range(depth):
        w = (rng.normal(size=(fan, width)) / np.sqrt(fan)).astype(dtype)
        b = (0.1 * rng.normal(size=width)).astype(dtype)
        h = (1 / (1 + np.exp(-(h @ w + b)))).astype(dtype)
        fan = width
    w = (rng.normal(size=(fan, 1)) / np.sqrt(fan)).astype(dtype)
    return (h @ w)[:, 0].reshape(R, R)


def test_float32_rounding_noise_is_flagged_and_scored_as_a_constant():
    f32, f64 = deep_sigmoid(np.float32), deep_sigmoid(np.float64)
    true = np.ptp(f64) / np.abs(f64).max()
    assert 1e-14 < true < 1e-8  # the true function is near-constant, but resolved in float64
    # The trap: scored naively in float32, rounding noise looks like high-frequency noise.
    naive = float(M.mean_frequency(f32, guard=False))
    with jax.enable_x64(True):
        exact = float(M.mean_frequency(f64))  # float64: a genuine, smooth function
        assert not bool(M.near_constant(f64))
        noise = float(M.mean_frequency(np.random.default_rng(0).normal(size=(R, R))))
    assert exact < 0.6 * naive and naive > 0.6 * noise
    # The guard: flagged, and given the constant's score.
    assert bool(M.near_constant(f32))
    assert float(M.mean_frequency(f32)) == 0.0
    assert float(M.polynomial_order(f32)) == 0.0
    assert float(M.lz_grid(f32)) == pytest.approx(np.log2(R * R))


def test_guard_leaves_ordinary_functions_alone():
    x = np.linspace(-1, 1, R, dtype=np.float32)
    ramp = 1000.0 + np.broadcast_to(x[:, None], (R, R))  # offset: relative spread 2e-3
    assert not bool(M.near_constant(ramp))
    assert float(M.mean_frequency(ramp)) > 0.1
    assert bool(M.near_constant(np.zeros((4, 4), np.float32)))
    with pytest.raises(ValueError, match="rtol=2"):
        M.near_constant(ramp, rtol=2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("measure", [
    lambda f: M.mean_frequency(f), lambda f: M.mean_frequency(f, window="hann"),
    lambda f: M.mean_frequency_redshift_code(f), lambda f: M.polynomial_order(f, 3), lambda f: M.lz_grid(f),
    lambda f: M.MeanFrequency((8, 8))(f.reshape(64, 1)),
])
def test_non_finite_functions_are_not_scored(measure, bad):
    """Issue 20: a NaN function scored 0.0, the score of a constant. A function with one NaN or
    infinite value has no score (NaN), whatever the guard, so it cannot pass for the simplest one."""
    full = np.full((8, 8), bad, np.float32)
    one = np.add.outer(np.arange(8.0), np.arange(8.0)).astype(np.float32)
    one[3, 5] = bad
    for f in (full, one):
        assert bool(M.non_finite(f))
        assert np.isnan(float(measure(f)))
    ok = np.add.outer(np.arange(8.0), np.arange(8.0)).astype(np.float32)
    assert not bool(M.non_finite(ok)) and np.isfinite(float(measure(ok)))
    assert float(M.mean_frequency(np.zeros((8, 8), np.float32))) == 0.0  # a true constant still scores 0
