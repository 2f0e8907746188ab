"""The near-constant guard: functions whose spread is at the level of floating-point rounding.

A deep sigmoid network at a small weight scale computes a function whose relative spread over
its inputs is ~1e-7 (the float32 trap of Fourier complexity scores). In float32 what is left
of it is rounding noise, whose Fourier spectrum is flat: scored naively it looks like white
noise, the *most* complex function, when it is in fact the simplest. The spectral, polynomial
and LZ measures of :mod:`jaxbias.measures` therefore give such functions the constant's score,
and experiments count them (a ``near_constant`` variable next to every score).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["near_constant", "DEFAULT_ULPS"]

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
