"""Fourier complexity of a function sampled on a regular grid (the "neural redshift" measure).

Teney, Nicolicioiu, Hartmann & Abbasnejad, "Neural Redshift: Random Networks are not Random
Functions", CVPR 2024, score a function by the mean frequency of its Fourier spectrum. The
definition here (Teney et al., CVPR 2024): evaluate ``f`` on a grid over ``[-1, 1]^d``,
take the magnitudes (not the power) of the full d-dimensional DFT with signed frequencies, drop
the DC term, and average the radial frequency ``|k|`` weighted by magnitude, divided by the
largest radius on the grid, so the score lies in ``[0, 1]``. Frequencies are in cycles per
sample, ``k_i = fftfreq(r_i)``, so grids with unequal sides are handled too.

Reference points on a 64 x 64 grid: a linear ramp scores 0.19 without window, 0.04 with the Hann
window (the floor every plot shows),
white noise ~0.54 (the ceiling, ``E|k| / max|k|`` for k uniform on the frequency grid).

:func:`mean_frequency_redshift_code` is the variant of the public Neural Redshift prototype,
kept so that its published heatmaps can be reproduced; it depends on orientation (see there).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxbias.caches import bounded_cache
from jaxbias.measures.constant import near_constant, non_finite

__all__ = ["mean_frequency", "radial_spectrum", "radial_frequencies", "mean_frequency_redshift_code", "WINDOWS",
           "check_grid_values"]

WINDOWS = (None, "hann")
"""Windows accepted by :func:`mean_frequency` and :func:`radial_spectrum`."""


def check_grid_values(values, name: str = "values", min_dim: int = 1, max_dim: int | None = None) -> jnp.ndarray:
    """One function on a grid, ``(r,) * d`` with ``r >= 2``, as a float array (ints become float32).

    The argument check of every measure that reads a function on a grid (spectral and polynomial).

    Args:
      values: the function's values, shape ``(r, ..., r)``.
      name: the argument's name in error messages.
      min_dim, max_dim: the accepted numbers of grid dimensions ``d`` (``max_dim`` None: no upper bound).

    Raises:
      ValueError: naming ``name``, when the shape is not a grid of ``min_dim..max_dim`` dimensions.
    """
    v = jnp.asarray(values)
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.float32)
    shape = tuple(v.shape)
    if len(shape) < min_dim or (max_dim is not None and len(shape) > max_dim) or any(s < 2 for s in shape):
        dims = f"{min_dim}" if max_dim == min_dim else f">= {min_dim}"
        raise ValueError(f"{name} with shape {shape}: expected a function on a {dims}-dimensional grid, "
                         "shape (r, ..., r) with r >= 2 (reshape flat outputs with .reshape((r,) * d))")
    return v


def _check_window(window):
    if window not in WINDOWS:
        raise ValueError(f"window={window!r}: expected one of {WINDOWS}")
    return window


@bounded_cache(maxsize=64)
def radial_frequencies(shape: tuple[int, ...]) -> np.ndarray:
    """``|k| / max|k|`` on the DFT grid of ``shape`` (float64, in [0, 1]; 0 at the DC term).

    ``k = (fftfreq(r_1), ..., fftfreq(r_d))``: signed frequencies in cycles per sample.
    """
    freqs = np.meshgrid(*[np.fft.fftfreq(r) for r in shape], indexing="ij")
    radius = np.sqrt(sum(np.square(f) for f in freqs))
    return radius / radius.max()


@bounded_cache(maxsize=64)
def _window(shape: tuple[int, ...]) -> np.ndarray:
    """Separable Hann window (numpy's symmetric ``hanning``) over the grid."""
    w = np.ones(shape)
    for axis, r in enumerate(shape):
        w = w * np.hanning(r).reshape([r if a == axis else 1 for a in range(len(shape))])
    return w


@bounded_cache(maxsize=64)
def _half_grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``|k| / max|k|`` on the half grid of ``rfftn`` (last axis ``0 .. r // 2``), and how many
    entries of the full grid each one stands for (1 for the last axis' 0 and, for even ``r``,
    Nyquist column; 2 for the others, whose mirror ``-k`` has the same magnitude and radius)."""
    r = shape[-1]
    half = r // 2 + 1
    counts = np.full(half, 2.0)
    counts[0] = 1.0
    if r % 2 == 0:
        counts[-1] = 1.0
    return radial_frequencies(shape)[..., :half], np.broadcast_to(counts, shape[:-1] + (half,))


def _half_magnitudes(v, window):
    """``|DFT|`` of real ``v`` on the half grid of :func:`_half_grid`.

    For real input ``|F(-k)| = |F(k)|``, so a sum over the full spectrum of ``|F(k)| g(|k|)`` is the
    sum over the half grid weighted by :func:`_half_grid`'s counts: the same number at half the
    FFT's cost (2-2.5x faster on a 128 x 128 grid on CPU).
    """
    if window == "hann":
        v = (v - jnp.mean(v)) * jnp.asarray(_window(tuple(v.shape)), v.dtype)
    return jnp.abs(jnp.fft.rfftn(v))


def mean_frequency(values, *, window: str | None = None, guard: bool = True, rtol: float | None = None):
    """Magnitude-weighted mean radial frequency of a function on a grid, in [0, 1].

    Args:
      values: one function on a d-dimensional grid, shape ``(r_1, ..., r_d)`` (e.g. outputs on
        ``jb.inputs.grid(d, r)`` reshaped to ``(r,) * d``).
      window: None (the definition of Teney et al.) or ``"hann"``: the mean is removed and a
        separable Hann window applied first, so the jump of the periodic extension at the grid
        edges no longer dominates (with it a low sinusoid scores above a linear ramp, as it should).
      guard: give near-constant functions (spread at the level of rounding,
        :func:`~jaxbias.measures.near_constant`) the constant's score, 0, instead of scoring their
        rounding noise.
      rtol: the guard's relative threshold (default 64 eps of the dtype).

    Returns:
      A scalar in [0, 1] (0 for a constant; NaN when ``values`` has a NaN or infinite entry: such a
      function has no score, see :func:`~jaxbias.measures.non_finite`), jit- and vmap-able.

    Example:
      >>> import jax.numpy as jnp, jaxbias as jb
      >>> i = jnp.arange(32.0)
      >>> wave = jnp.broadcast_to(jnp.cos(2 * jnp.pi * 4 * i / 32)[:, None], (32, 32))  # 4 cycles along axis 0
      >>> round(float(jb.measures.mean_frequency(wave)), 4)  # |k| = 4/32 of max sqrt(2)/2
      0.1768
    """
    v = check_grid_values(values)
    _check_window(window)
    k, counts = _half_grid(tuple(v.shape))
    mag = _half_magnitudes(v, window)
    mag = mag * jnp.asarray(counts, mag.dtype)
    k = jnp.asarray(k, mag.dtype)
    total = jnp.sum(jnp.where(k > 0, mag, 0))
    score = jnp.where(total > 0, jnp.sum(mag * k) / jnp.where(total > 0, total, 1), 0)
    if guard:
        score = jnp.where(near_constant(v, rtol=rtol), 0, score)
    return jnp.where(non_finite(v), jnp.nan, score)


def radial_spectrum(values, bins: int | None = None, *, window: str | None = None):
    """Fourier magnitudes summed over shells of radial frequency, DC term excluded.

    Bin ``j`` of ``bins`` holds the summed ``|FFT|`` of frequencies with ``|k| / max|k|`` in
    ``(j / bins, (j + 1) / bins]`` (the last bin includes 1). The magnitude-weighted mean of the
    bin centres approximates :func:`mean_frequency` to within half a bin.

    Args:
      values: function on a grid, shape ``(r_1, ..., r_d)``.
      bins: number of shells; default ``max(r) // 2``.
      window: as in :func:`mean_frequency`.

    Returns:
      ``(bins,)`` array of summed magnitudes; shell edges are ``linspace(0, 1, bins + 1)``.
    """
    v = check_grid_values(values)
    _check_window(window)
    bins = max(v.shape) // 2 if bins is None else bins
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins={bins!r}: expected a positive integer")
    k, counts = _half_grid(tuple(v.shape))
    idx = np.clip(np.ceil(k * bins).astype(np.int64) - 1, 0, bins - 1)
    idx = np.where(k > 0, idx, bins)  # DC goes to a dropped slot
    mag = _half_magnitudes(v, window)
    mag = mag * jnp.asarray(counts, mag.dtype)
    return jnp.zeros(bins + 1, mag.dtype).at[jnp.asarray(idx.reshape(-1))].add(mag.reshape(-1))[:bins]


def mean_frequency_redshift_code(values, *, guard: bool = False, rtol: float | None = None):
    """The mean frequency as computed by the public Neural Redshift prototype (2-D grids only).

    Reproduces the prototype's choices, as published with Teney et al. (CVPR 2024), so that
    its published heatmaps can be reproduced: ``|rfft2|``, keeping only rows ``0 .. r/2``
    (which drops one quadrant of frequencies: a sinusoid along ``x - y`` scores differently from
    one along ``x + y``, and loses all its energy when it lies exactly on the diagonal), radii
    binned by rounding ``sqrt(i^2 + j^2)`` to integers, DC bin dropped, no window, and the
    weighted mean bin divided by the largest bin index. Prefer :func:`mean_frequency`.

    Args:
      values: function on a square 2-D grid, shape ``(r, r)``.
      guard: apply the near-constant guard (the prototype does not).
      rtol: the guard's threshold.

    Returns:
      A scalar in [0, 1] (0 when no energy is left after dropping the DC bin; NaN for non-finite ``values``).
    """
    v = check_grid_values(values, min_dim=2, max_dim=2)
    r = v.shape[0]
    if v.shape[1] != r:
        raise ValueError(f"values with shape {tuple(v.shape)}: the Neural Redshift variant expects a square grid")
    mag = jnp.abs(jnp.fft.rfft2(v))[: r // 2 + 1]
    rows, cols = np.meshgrid(np.arange(mag.shape[0]), np.arange(mag.shape[1]), indexing="ij")
    radius = np.rint(np.sqrt(rows**2 + cols**2)).astype(np.int64)
    n_bins = int(radius.max()) + 1
    spectrum = jnp.zeros(n_bins, mag.dtype).at[jnp.asarray(radius.reshape(-1))].add(mag.reshape(-1))
    spectrum = spectrum.at[0].set(0)
    total = jnp.sum(spectrum)
    centres = jnp.arange(n_bins, dtype=mag.dtype)
    score = jnp.where(total > 0, jnp.sum(spectrum * centres) / jnp.where(total > 0, total, 1), 0) / (n_bins - 1)
    if guard:
        score = jnp.where(near_constant(v, rtol=rtol), 0, score)
    return jnp.where(non_finite(v), jnp.nan, score)
