"""The near-constant guard: functions whose spread is at the level of floating-point rounding.

A deep sigmoid network at a small weight scale computes a function whose relative spread over
its inputs is ~1e-7 (the float32 trap of Fourier complexity scores). In float32 what is left
of it is rounding noise, whose Fourier spectrum is flat: scored naively it looks like white
noise, the *most* complex function, when it is in fact the simplest. The spectral, polynomial
and LZ measures of :mod:`jaxbias.measures` therefore give such functions the constant's score,
and experiments count them (a ``near_constant`` variable next to every score).

A function with a NaN or infinite output (an overflowed network) has no score at all: those
measures return NaN for it (:func:`non_finite` tells which), and experiments count such functions
and leave them out of their statistics, instead of scoring them (a NaN spectrum would otherwise
sum to a non-positive total and score 0, the constant's score).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["near_constant", "non_finite", "DEFAULT_ULPS"]

DEFAULT_ULPS = 64
"""Default threshold, in units of the dtype's machine epsilon: spreads below 64 eps of the
largest magnitude (7.6e-6 relative in float32) hold at most ~64 distinct representable levels."""


def near_constant(values, *, rtol: float | None = None):
    """Whether a function is constant up to floating-point rounding.

    ``max(values) - min(values) <= rtol * max(|values|)`` (an exact zero counts as constant too).

    Args:
      values: one function's outputs, any shape (float).
      rtol: relative threshold; default ``DEFAULT_ULPS * eps`` of ``values``' dtype (7.6e-6 in
        float32, 1.4e-14 in float64).

    Returns:
      A bool scalar (jit- and vmap-able).

    Example:
      >>> import jax.numpy as jnp
      >>> bool(near_constant(0.5 + 1e-8 * jnp.arange(10.0)))
      True
      >>> bool(near_constant(jnp.arange(10.0)))
      False
    """
    v = jnp.asarray(values)
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.float32)
    if rtol is None:
        rtol = DEFAULT_ULPS * float(np.finfo(v.dtype).eps)
    elif not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 <= rtol < 1):
        raise ValueError(f"rtol={rtol!r}: expected a relative threshold in [0, 1)")
    spread = jnp.max(v) - jnp.min(v)
    scale = jnp.max(jnp.abs(v))
    return spread <= jnp.asarray(rtol, v.dtype) * scale


def non_finite(values):
    """Whether a function has a NaN or infinite output (it cannot be scored; measures return NaN for it).

    Args:
      values: one function's outputs, any shape.

    Returns:
      A bool scalar (jit- and vmap-able); always False for integer or bool values.

    Example:
      >>> import jax.numpy as jnp
      >>> bool(non_finite(jnp.array([0.0, jnp.nan]))), bool(non_finite(jnp.arange(3.0)))
      (True, False)
    """
    v = jnp.asarray(values)
    if not jnp.issubdtype(v.dtype, jnp.inexact):
        return jnp.bool_(False)
    return ~jnp.all(jnp.isfinite(v))
