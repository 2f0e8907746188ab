"""Measures as hashable values: the ``stat=`` of the engine, compiled once per structure.

Each is a frozen dataclass whose fields are the measure's settings and whose ``__call__(y)`` takes
one network's outputs ``y`` of shape ``(n_points, n_out)`` (as :func:`jaxbias.reduce` passes them)
and returns a scalar. Equal settings make equal, equally hashed values, so
``jb.reduce(net, x, n=..., stat=jb.measures.MeanFrequency(shape=(64, 64)))`` compiles once however
often it is written, where an inline ``lambda`` compiles again on every call (it is a new function
each time). Settings are checked when the value is made, with errors that name the field.

They are dataclasses, not NamedTuples: ``jax.jit`` keeps weak references to the functions it caches
and copies a callable's attributes onto the jitted function, so no field is named ``trace`` or
``lower``.

>>> import jaxbias as jb
>>> jb.measures.MeanFrequency(shape=(64, 64)) == jb.measures.MeanFrequency((64, 64))
True
>>> net, x = jb.nets.MLP(16, 2, "tanh"), jb.inputs.grid(dim=2, resolution=8)
>>> jb.reduce(net, x, n=3, stat=jb.measures.PolynomialOrder(shape=(8, 8), degree=4), progress=False).shape
(3,)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxbias.measures.constant import near_constant
from jaxbias.measures.lz import lz_grid
from jaxbias.measures.polynomial import polynomial_order
from jaxbias.measures.spectral import WINDOWS, mean_frequency, mean_frequency_redshift_code

__all__ = ["MeanFrequency", "MeanFrequencyRedshiftCode", "PolynomialOrder", "LZComplexity", "NearConstant"]


def _check_shape(shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if not shape or any(isinstance(r, bool) or not isinstance(r, int) or r < 2 for r in shape):
        raise ValueError(f"shape={shape!r}: expected the grid's sides, a tuple of integers >= 2 such as (64, 64)")
    return shape


def _check_output(output: Any) -> int:
    if isinstance(output, bool) or not isinstance(output, int) or output < 0:
        raise ValueError(f"output={output!r}: expected the index of an output unit, an integer >= 0")
    return output


def _check_rtol(rtol: Any) -> float | None:
    if rtol is not None and not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 <= rtol < 1):
        raise ValueError(f"rtol={rtol!r}: expected a relative threshold in [0, 1), or None for the default")
    return rtol


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: expected True or False")
    return value


def _column(y: jax.Array, output: int, what: str) -> jax.Array:
    """Output unit ``output`` of one network's outputs ``y (n_points, n_out)``: ``(n_points,)``."""
    if jnp.ndim(y) != 2:
        raise ValueError(f"{what}: expected one network's outputs of shape (n_points, n_out), got {jnp.shape(y)}")
    if output >= y.shape[1]:
        raise ValueError(f"{what}: output={output}, but the network has {y.shape[1]} output(s)")
    return y[:, output]


def _on_grid(y: jax.Array, output: int, shape: tuple[int, ...], what: str) -> jax.Array:
    """Output unit ``output`` on the grid: ``(n_points,) -> shape`` (C order, as ``jb.inputs.grid`` lists points)."""
    column = _column(y, output, what)
    if column.shape[0] != math.prod(shape):
        raise ValueError(f"{what}: {column.shape[0]} points do not fill a grid of shape {shape} "
                         f"({math.prod(shape)} points); give the shape of the grid the inputs were made on")
    return column.reshape(shape)


@dataclasses.dataclass(frozen=True)
class MeanFrequency:
    """Fourier mean frequency of one output on a grid, in [0, 1] (:func:`~jaxbias.measures.mean_frequency`).

    Attributes:
      shape: the grid's sides ``(r_1, ..., r_d)``; the points are those of ``jb.inputs.grid(d, r)``
        (``n_points = prod(shape)``, C order).
      window: None (Teney et al.'s definition) or ``"hann"``.
      output: which output unit is scored.
      guard: near-constant functions score 0 (see :func:`~jaxbias.measures.near_constant`).
      rtol: the guard's threshold (None: 64 eps of the dtype).
    """

    shape: tuple[int, ...]
    window: str | None = None
    output: int = 0
    guard: bool = True
    rtol: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "shape", _check_shape(self.shape))
        if self.window not in WINDOWS:
            raise ValueError(f"window={self.window!r}: expected one of {WINDOWS}")
        _check_output(self.output)
        _check_bool("guard", self.guard)
        _check_rtol(self.rtol)

    def __call__(self, y: jax.Array) -> jax.Array:
        f = _on_grid(y, self.output, self.shape, "MeanFrequency")
        return mean_frequency(f, window=self.window, guard=self.guard, rtol=self.rtol)


@dataclasses.dataclass(frozen=True)
class MeanFrequencyRedshiftCode:
    """The Neural Redshift prototype's mean frequency of one output on a square 2-D grid
    (:func:`~jaxbias.measures.mean_frequency_redshift_code`; for reproducing its heatmaps).

    Attributes:
      shape: ``(r, r)``.
      output: which output unit is scored.
      guard: apply the near-constant guard (the prototype does not).
      rtol: the guard's threshold.
    """

    shape: tuple[int, int]
    output: int = 0
    guard: bool = False
    rtol: float | None = None

    def __post_init__(self):
        shape = _check_shape(self.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"shape={shape!r}: the Neural Redshift variant expects a square 2-D grid (r, r)")
        object.__setattr__(self, "shape", shape)
        _check_output(self.output)
        _check_bool("guard", self.guard)
        _check_rtol(self.rtol)

    def __call__(self, y: jax.Array) -> jax.Array:
        f = _on_grid(y, self.output, self.shape, "MeanFrequencyRedshiftCode")
        return mean_frequency_redshift_code(f, guard=self.guard, rtol=self.rtol)


@dataclasses.dataclass(frozen=True)
class PolynomialOrder:
    """Legendre polynomial order of one output on a grid (:func:`~jaxbias.measures.polynomial_order`).

    Attributes:
      shape: the grid's sides ``(r_1, ..., r_d)`` over ``[-1, 1]^d``, endpoints included.
      degree: highest Legendre degree per axis (``1 <= degree < min(shape)``).
      output: which output unit is scored.
      guard: near-constant functions score 0.
      rtol: the guard's threshold.
    """

    shape: tuple[int, ...]
    degree: int = 8
    output: int = 0
    guard: bool = True
    rtol: float | None = None

    def __post_init__(self):
        shape = _check_shape(self.shape)
        object.__setattr__(self, "shape", shape)
        if isinstance(self.degree, bool) or not isinstance(self.degree, int) or self.degree < 1:
            raise ValueError(f"degree={self.degree!r}: expected an integer >= 1")
        if self.degree >= min(shape):
            raise ValueError(f"degree={self.degree}: a grid of shape {shape} determines polynomials up to degree "
                             f"{min(shape) - 1} per axis; expected degree < {min(shape)}")
        _check_output(self.output)
        _check_bool("guard", self.guard)
        _check_rtol(self.rtol)

    def __call__(self, y: jax.Array) -> jax.Array:
        f = _on_grid(y, self.output, self.shape, "PolynomialOrder")
        return polynomial_order(f, self.degree, guard=self.guard, rtol=self.rtol)


@dataclasses.dataclass(frozen=True)
class LZComplexity:
    """LZ complexity of one output quantized to ``levels`` levels, in point order (:func:`~jaxbias.measures.lz_grid`).

    The symbols are read in the order of the points (for ``jb.inputs.grid``: C order over the grid),
    so no grid shape is needed; on ``jb.inputs.hypercube(n)`` with ``levels=2`` it is the LZ
    complexity of the truth table thresholded at the middle of the output's range.

    Attributes:
      levels: quantization levels (>= 2).
      output: which output unit is scored.
      guard: near-constant functions become the constant string.
      rtol: the guard's threshold.
    """

    levels: int = 2
    output: int = 0
    guard: bool = True
    rtol: float | None = None

    def __post_init__(self):
        if isinstance(self.levels, bool) or not isinstance(self.levels, int) or self.levels < 2:
            raise ValueError(f"levels={self.levels!r}: expected an integer >= 2")
        _check_output(self.output)
        _check_bool("guard", self.guard)
        _check_rtol(self.rtol)

    def __call__(self, y: jax.Array) -> jax.Array:
        return lz_grid(_column(y, self.output, "LZComplexity"), self.levels, guard=self.guard, rtol=self.rtol)


@dataclasses.dataclass(frozen=True)
class NearConstant:
    """Whether one output is constant up to float rounding (bool; :func:`~jaxbias.measures.near_constant`).

    Attributes:
      output: which output unit is tested.
      rtol: relative threshold (None: 64 eps of the dtype).
    """

    output: int = 0
    rtol: float | None = None

    def __post_init__(self):
        _check_output(self.output)
        _check_rtol(self.rtol)

    def __call__(self, y: jax.Array) -> jax.Array:
        return near_constant(_column(y, self.output, "NearConstant"), rtol=self.rtol)
