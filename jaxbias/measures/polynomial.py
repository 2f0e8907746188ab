"""Polynomial order of a function on a grid: least squares in a tensor-product Legendre basis.

The function on a grid over ``[-1, 1]^d`` (endpoints included, as ``jb.inputs.grid`` builds it)
is fitted by least squares with the products ``P_a1(x_1) ... P_ad(x_d)`` of Legendre polynomials,
each ``a_i <= degree``. The score is the mean total degree ``|a| = a_1 + ... + a_d`` weighted by
the coefficient magnitudes ``|c_a|``, the constant term excluded (Teney et al., CVPR 2024;
the "polynomial order" complexity of Teney et al., CVPR 2024, sec. 3). The tensor-product design
matrix is a Kronecker product, so its pseudo-inverse is the Kronecker product of the 1-D ones:
the fit is ``d`` small matrix products, one per axis.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxbias.caches import bounded_cache
from jaxbias.measures.constant import near_constant, non_finite
from jaxbias.measures.spectral import check_grid_values

__all__ = ["legendre_coefficients", "polynomial_order"]


@bounded_cache(maxsize=64)
def _pinv_1d(r: int, degree: int) -> np.ndarray:
    """``(degree + 1, r)`` pseudo-inverse of the Legendre Vandermonde matrix on ``linspace(-1, 1, r)``."""
    x = np.linspace(-1.0, 1.0, r)
    return np.linalg.pinv(np.polynomial.legendre.legvander(x, degree))


def _check_degree(degree, shape):
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree={degree!r}: expected an integer >= 1")
    if degree >= min(shape):
        raise ValueError(f"degree={degree}: a grid of shape {shape} determines polynomials up to degree "
                         f"{min(shape) - 1} per axis; expected degree < {min(shape)}")
    return degree


def legendre_coefficients(values, degree: int = 8):
    """Least-squares coefficients ``c[a_1, ..., a_d]`` of ``values`` in the tensor Legendre basis.

    Args:
      values: function on a grid over ``[-1, 1]^d``, shape ``(r_1, ..., r_d)``.
      degree: highest degree per axis (< every ``r_i``).

    Returns:
      ``(degree + 1,) * d`` coefficients.
    """
    v = check_grid_values(values)
    degree = _check_degree(degree, tuple(v.shape))
    c = v
    for axis, r in enumerate(v.shape):
        p = jnp.asarray(_pinv_1d(r, degree), v.dtype)
        c = jnp.moveaxis(jnp.tensordot(p, c, axes=([1], [axis])), 0, axis)
    return c


def polynomial_order(values, degree: int = 8, *, guard: bool = True, rtol: float | None = None):
    """Coefficient-magnitude-weighted mean total degree of the Legendre fit (constant excluded).

    Args:
      values: function on a grid over ``[-1, 1]^d``, shape ``(r_1, ..., r_d)``.
      degree: highest degree per axis; scores lie in ``[1, d * degree]``.
      guard: near-constant functions (see :func:`~jaxbias.measures.near_constant`) score 0,
        the constant's score; a function with no non-constant coefficient scores 0 too.
      rtol: the guard's threshold.

    Returns:
      A scalar, jit- and vmap-able; NaN when ``values`` has a NaN or infinite entry (no score,
      :func:`~jaxbias.measures.non_finite`).

    Example:
      >>> import jax.numpy as jnp, jaxbias as jb
      >>> x = jnp.linspace(-1, 1, 16)
      >>> f = x[:, None] ** 2 * x[None, :]          # x^2 y: Legendre degrees (2, 1) and (0, 1)
      >>> round(float(jb.measures.polynomial_order(f, degree=4)), 4)  # (1/3 * 1 + 2/3 * 3) / (1/3 + 2/3)
      2.3333
    """
    v = check_grid_values(values)
    c = jnp.abs(legendre_coefficients(v, degree))
    grids = np.meshgrid(*[np.arange(degree + 1)] * v.ndim, indexing="ij")
    total_degree = jnp.asarray(sum(grids), c.dtype)
    c = jnp.where(total_degree > 0, c, 0)
    total = jnp.sum(c)
    score = jnp.where(total > 0, jnp.sum(c * total_degree) / jnp.where(total > 0, total, 1), 0)
    if guard:
        score = jnp.where(near_constant(v, rtol=rtol), 0, score)
    return jnp.where(non_finite(v), jnp.nan, score)
