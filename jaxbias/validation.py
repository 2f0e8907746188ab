"""Argument checks shared by every module: Python exceptions that name the argument, the value and what was expected."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["MAX_NETWORKS", "check_n", "check_points", "check_int", "check_float", "check_confidence", "check_variance",
           "check_kernel"]

MAX_NETWORKS = 2**32
"""Most networks one run samples: network indices ``i`` in ``fold_in(key, i)`` are uint32."""


def check_n(n: Any) -> int:
    """Returns ``n``, a number of networks, as an int in ``[1, 2**32]``, or raises ValueError naming ``n``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n={n!r}: expected a positive integer number of networks")
    if n <= 0:
        raise ValueError(f"n={n!r}: expected a positive integer number of networks")
    if n > MAX_NETWORKS:
        raise ValueError(f"n={n!r}: at most 2**32 networks per run (network indices are uint32)")
    return int(n)


def check_points(name: str, x: Any) -> jax.Array:
    """Returns inputs ``x (n_points, *input_shape)`` as a jax array with ``n_points >= 1`` and finite floats.

    Raises:
      ValueError: naming ``name``, for a scalar, an empty point axis or NaN/inf entries.
    """
    x = jnp.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{name} with shape {tuple(x.shape)}: expected points (n_points, *input_shape), n_points >= 1")
    if jnp.issubdtype(x.dtype, jnp.floating) and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"{name} contains non-finite values (NaN or inf): expected finite inputs")
    return x


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """Returns ``value`` as an int, or raises ValueError naming ``name`` and the accepted range."""
    expected = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise ValueError(f"{name}={value!r}: expected {expected}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name}={value!r}: expected {expected}")
    return value


def check_float(name: str, value: Any, minimum: float | None = None, *, strict: bool = False) -> float:
    """Returns ``value`` as a finite float (``> minimum`` if ``strict``, else ``>= minimum``), or raises ValueError."""
    bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r}: expected a finite number{bound}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected a finite number{bound}") from None
    if not np.isfinite(out) or (minimum is not None and (out <= minimum if strict else out < minimum)):
        raise ValueError(f"{name}={value!r}: expected a finite number{bound}")
    return out


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """Returns a confidence level (two-sided, e.g. 0.99) as a float in ``(0, 1)``, or raises ValueError naming it."""
    if isinstance(confidence, (bool, np.bool_)) or not isinstance(confidence, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"{name}={confidence!r}: expected a number in (0, 1), e.g. 0.99")
    return float(confidence)


def check_variance(name: str, value: Any) -> np.ndarray:
    """Returns ``value`` as a float64 array of finite numbers ``>= 0`` (variances such as ``C_W``, ``C_b``, ``q``).

    Raises:
      ValueError: naming ``name`` and the value, when an entry is negative, not finite or not a number.
    """
    v = np.asarray(value, np.float64)
    if v.dtype.kind not in "fiu" or not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError(f"{name}={value!r}: expected finite numbers >= 0")
    return v


KERNEL_ROUNDING = 64
"""Slack of :func:`check_kernel` in units of the kernel dtype's epsilon, relative to ``sqrt(k11 k22)``."""


def check_kernel(k11: Any, k12: Any, k22: Any, names: tuple[str, str, str] = ("k11", "k12", "k22"),
                 dtype: Any = None) -> None:
    """Raises ValueError unless ``[[k11, k12], [k12, k22]]`` is a covariance matrix (elementwise).

    The one check of a kernel triple for every public function that takes one (Gaussian
    expectations, layer maps, IGB and finite-width theory): variances finite and ``>= 0``, ``k12``
    finite and ``k12^2 <= k11 k22`` up to rounding, i.e. ``|k12| <= sqrt(k11 k22) (1 + 64 eps)``
    with ``eps`` the machine epsilon of ``dtype`` (default: the inputs' widest float dtype). The
    message names the argument, the first offending value and what was expected.

    Args:
      k11, k12, k22: array-likes that broadcast together.
      names: the arguments' names as the caller's signature spells them.
      dtype: the dtype whose rounding is allowed for (float64 when the inputs are Python numbers).
    """
    arrays = [np.asarray(k) for k in (k11, k12, k22)]
    if dtype is None:
        floats = [a.dtype for a in arrays if np.issubdtype(a.dtype, np.floating)]
        dtype = max(floats, key=lambda d: d.itemsize) if floats else np.float64
    eps = float(np.finfo(dtype).eps)
    v11, v12, v22 = (a.astype(np.float64) for a in arrays)
    for v, name in ((v11, names[0]), (v22, names[2])):
        bad = (v < 0) | ~np.isfinite(v)
        if np.any(bad):
            raise ValueError(f"{name} contains {float(v[bad].ravel()[0])!r}: a variance must be finite and >= 0")
    if np.any(~np.isfinite(v12)):
        raise ValueError(f"{names[1]} contains {float(v12[~np.isfinite(v12)].ravel()[0])!r}: expected a finite covariance")
    try:
        v11, v12, v22 = np.broadcast_arrays(v11, v12, v22)
    except ValueError:
        raise ValueError(f"{', '.join(names)} with shapes {[a.shape for a in arrays]}: expected shapes that "
                         "broadcast together") from None
    bound = np.sqrt(v11 * v22)
    bad = np.abs(v12) > bound * (1 + KERNEL_ROUNDING * eps) + np.finfo(np.float64).tiny
    if np.any(bad):
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise ValueError(
            f"{names[1]}={float(v12[i])!r} with {names[0]}={float(v11[i])!r}, {names[2]}={float(v22[i])!r}: not a "
            f"covariance ({names[1]}^2 > {names[0]} {names[2]}: |{names[1]}| exceeds sqrt({names[0]} {names[2]}) = "
            f"{float(bound[i])!r} by more than rounding); a kernel must be positive semi-definite")
