"""Fourier mean frequency against closed forms (sinusoids on periodic grids, constants, white noise) and numpy."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb

M = jb.measures
R = 32


def periodic_wave(a, b, r=R):
    """cos(2 pi (a i + b j) / r) on an r x r periodic grid: all energy at frequency +-(a, b) / r."""
    i, j = np.meshgrid(np.arange(r), np.arange(r), indexing="ij")
    return np.cos(2 * np.pi * (a * i + b * j) / r).astype(np.float32)


def numpy_mean_frequency(v):
    """The slow obvious definition, in float64 numpy: every frequency visited in a Python loop."""
    mag = np.abs(np.fft.fftn(np.asarray(v, np.float64)))
    num = den = 0.0
    kmax = 0.0
    for idx in np.ndindex(*v.shape):
        k = np.sqrt(sum((f if f < r / 2 else f - r) ** 2 / r**2 for f, r in zip(idx, v.shape)))
        kmax = max(kmax, k)
        if k > 0:
            num += mag[idx] * k
            den += mag[idx]
    return num / den / kmax


@pytest.mark.parametrize("a, b", [(1, 0), (0, 3), (4, 4), (5, -2), (16, 16), (7, 11)])
def test_single_sinusoid_scores_its_radius(a, b):
    expected = np.hypot(a, b) / R / (np.sqrt(2) / 2)  # |k| / max|k|, max|k| = |(1/2, 1/2)|
    assert float(M.mean_frequency(periodic_wave(a, b))) == pytest.approx(expected, abs=1e-5)


def test_orientation_does_not_matter_but_does_in_the_redshift_code_variant():
    plus, minus = periodic_wave(3, 3), periodic_wave(3, -3)
    assert float(M.mean_frequency(plus)) == pytest.approx(float(M.mean_frequency(minus)), abs=1e-6)
    # The public prototype keeps rows 0..r/2 of rfft2: the x - y wave loses its energy there.
    nr_plus, nr_minus = float(M.mean_frequency_redshift_code(plus)), float(M.mean_frequency_redshift_code(minus))
    assert nr_plus == pytest.approx(round(np.hypot(3, 3)) / round(np.hypot(16, 16)), abs=1e-5)
    assert abs(nr_plus - nr_minus) > 0.1


def test_constant_scores_zero_and_ramp_matches_numpy():
    assert float(M.mean_frequency(jnp.full((R, R), 3.0))) == 0.0
    x = np.linspace(-1, 1, R, dtype=np.float32)
    ramp = np.broadcast_to(x[:, None], (R, R))
    assert float(M.mean_frequency(ramp)) == pytest.approx(numpy_mean_frequency(ramp), rel=1e-5)
    f = np.sin(3 * x)[:, None] * np.cos(2 * x)[None, :] + 0.3 * x[None, :] ** 3
    assert float(M.mean_frequency(f)) == pytest.approx(numpy_mean_frequency(f), rel=1e-5)
    cube = np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32)  # 3-D grid
    assert float(M.mean_frequency(cube)) == pytest.approx(numpy_mean_frequency(cube), rel=1e-5)


def test_white_noise_scores_the_mean_radius():
    noise = jax.random.normal(jax.random.key(0), (64, R, R))
    scores = np.asarray(jax.vmap(M.mean_frequency)(noise))
    k = M.radial_frequencies((R, R))
    expected = k[k > 0].mean()  # iid magnitudes: the weighted mean concentrates on the plain mean
    assert abs(scores.mean() - expected) < 5 * scores.std() / np.sqrt(len(scores)) + 0.005


def test_window_puts_the_ramp_below_a_low_sinusoid():
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    ramp = np.broadcast_to(x[:, None], (64, 64))
    low = np.broadcast_to(np.sin(2 * np.pi * x)[:, None], (64, 64))  # two periods over the grid
    # No window: the jump of the periodic extension dominates; the smooth sinusoid scores lower.
    assert float(M.mean_frequency(low)) < float(M.mean_frequency(ramp))
    assert float(M.mean_frequency(ramp, window="hann")) < float(M.mean_frequency(low, window="hann"))


def test_radial_spectrum_sums_the_magnitudes_and_agrees_with_the_mean():
    f = np.random.default_rng(1).normal(size=(R, R)).astype(np.float32) + periodic_wave(2, 1)
    spec = np.asarray(M.radial_spectrum(f, bins=16))
    mag = np.abs(np.fft.fft2(f.astype(np.float64)))
    assert spec.sum() == pytest.approx(mag.sum() - mag[0, 0], rel=1e-5)
    centres = (np.arange(16) + 0.5) / 16
    assert (spec * centres).sum() / spec.sum() == pytest.approx(float(M.mean_frequency(f)), abs=0.5 / 16)


@pytest.mark.parametrize("shape", [(7,), (8,), (5, 6), (6, 5), (9, 9), (4, 5, 3), (3, 4, 6)])
def test_half_spectrum_equals_the_full_one_on_odd_even_and_unequal_grids(shape):
    """mean_frequency and radial_spectrum read half of the real-input DFT; check them against
    the full spectrum in float64 numpy on grids whose last side is odd or even (with a Nyquist
    column), unequal sides, and 1 to 3 dimensions."""
    f = np.random.default_rng(len(shape) * 10 + shape[-1]).normal(size=shape).astype(np.float32)
    assert float(M.mean_frequency(f, guard=False)) == pytest.approx(numpy_mean_frequency(f), rel=1e-5)
    mag = np.abs(np.fft.fftn(f.astype(np.float64)))
    k = np.sqrt(sum(np.square(g) for g in np.meshgrid(*[np.fft.fftfreq(r) for r in shape], indexing="ij")))
    k = k / k.max()
    bins = 4
    expected = np.array([mag[(k > j / bins) & (k <= (j + 1) / bins)].sum() for j in range(bins)])
    chex.assert_trees_all_close(np.asarray(M.radial_spectrum(f, bins=bins)), expected, rtol=1e-5)
    windowed = np.asarray(M.radial_spectrum(f, bins=bins, window="hann")).sum()
    w = f.astype(np.float64) - f.mean()
    for axis, r in enumerate(shape):
        w = w * np.hanning(r).reshape([r if a == axis else 1 for a in range(len(shape))])
    full = np.abs(np.fft.fftn(w))
    assert windowed == pytest.approx(full.sum() - full.flat[0], rel=1e-4)


def test_jit_vmap_and_bad_input():
    chex.clear_trace_counter()
    score = jax.jit(jax.vmap(chex.assert_max_traces(M.mean_frequency, n=1)))
    batch = jnp.stack([periodic_wave(1, 0), periodic_wave(0, 2)])
    expected = np.array([1 / R / (np.sqrt(2) / 2), 2 / R / (np.sqrt(2) / 2)])
    chex.assert_trees_all_close(score(batch), expected, rtol=1e-7, atol=1e-6)
    swapped = jnp.stack([periodic_wave(0, 2), periodic_wave(1, 0)])  # same shape: no second trace
    chex.assert_trees_all_close(score(swapped), expected[::-1], rtol=1e-7, atol=1e-6)
    with pytest.raises(ValueError, match=r"values with shape \(1, 4\)"):
        M.mean_frequency(jnp.ones((1, 4)))
    with pytest.raises(ValueError, match="window='hamming'"):
        M.mean_frequency(jnp.ones((4, 4)), window="hamming")
    with pytest.raises(ValueError, match="square grid"):
        M.mean_frequency_redshift_code(jnp.ones((4, 6)))
