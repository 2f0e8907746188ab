"""Laws for random weights, each drawn with unit variance and scaled by the layer.

All randomness of a network comes from ONE call of :func:`jaxbias.random_bits.random_bits` (the
words of ``jax.random.bits``) per network (see :func:`jaxbias.nets.layers.init_params`), sliced
layer by layer and turned into each law's numbers here: on CPU every extra random call adds
about a second of XLA compile time.

A layer's weight is ``std * eps`` where ``eps`` has entries of mean 0 and variance 1 under the
chosen law and ``std`` is ``sqrt(C_W / fan_in)`` (fan-in laws) or ``a / sqrt(3)`` for the absolute
law ``U(-a, a)`` of the Neural Redshift code (Teney et al., CVPR 2024), which ignores fan-in and
applies to biases too. Keeping ``eps`` at unit variance is what makes the "standard" and "ntk"
parameterizations compute the same function for the same key: the first stores ``std * eps``,
the second stores ``eps`` and multiplies by ``std`` in the forward pass.

Laws (names accepted by :func:`get_weight_law`):

* ``normal``: N(0, 1).
* ``truncated_normal``: N(0, 1) truncated to [-2, 2], rescaled to unit variance.
* ``uniform``: U(-sqrt(3), sqrt(3)).
* ``orthogonal``: a (semi-)orthogonal matrix scaled by ``sqrt(max(fan_in, fan_out))`` so entries have
  unit variance (Saxe et al. 2014). Conv kernels are flattened to (fan_in, fan_out).
* ``sparse(p)``: Bernoulli(p) mask times N(0, 1/p): a fraction ``p`` of entries is non-zero.
* ``low_rank(r)``: ``A @ B / sqrt(r)`` with A (fan_in, r), B (r, fan_out) standard normal.
* ``absolute(a)``: weights and biases U(-a, a) whatever the fan-in.

Biases use N(0, 1) noise, except under ``truncated_normal`` (truncated), ``uniform`` and
``absolute`` (uniform).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "WeightLaw", "get_weight_law", "weight_noise_size", "unit_weight_noise", "unit_bias_noise", "WEIGHT_LAWS",
]

WEIGHT_LAWS = ("normal", "truncated_normal", "uniform", "orthogonal", "sparse", "low_rank", "absolute")
"""Names accepted by :func:`get_weight_law`; sparse, low_rank and absolute take a parameter."""

# Standard deviation of N(0, 1) truncated to [-2, 2].
_TRUNC2_STD = 0.87962566103423978
_SQRT3 = math.sqrt(3.0)
_NEEDS_PARAM = {"sparse": "density p in (0, 1]", "low_rank": "rank r >= 1", "absolute": "half-width a > 0"}
_CALL = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^()]*?)\s*\))?\s*$")


class WeightLaw(NamedTuple):
    """A weight law: its name and parameter (None for laws without one)."""

    name: str
    param: float | None = None

    @property
    def label(self) -> str:
        """Canonical string, e.g. ``"sparse(0.1)"``; round-trips through :func:`get_weight_law`."""
        return self.name if self.param is None else f"{self.name}({self.param:g})"

    @property
    def absolute(self) -> bool:
        """True for the absolute law U(-a, a), whose scale ignores fan-in and C_W, C_b."""
        return self.name == "absolute"


def get_weight_law(law: str | WeightLaw) -> WeightLaw:
    """Parses ``"normal"``, ``"sparse(0.1)"``, ``"low_rank(4)"``, ``"absolute(2)"``, ... .

    Raises:
      ValueError: unknown name, missing or invalid parameter.
    """
    if isinstance(law, WeightLaw):
        name, param = law.name, law.param
        raw = law.label
    elif isinstance(law, str):
        raw = law
        m = _CALL.match(law.lower())
        if m is None:
            raise ValueError(f"weight_law={law!r}: expected 'name' or 'name(value)'")
        name, arg = m.group(1), m.group(2)
        param = None
        if arg:
            try:
                param = float(arg)
            except ValueError:
                raise ValueError(f"weight_law={law!r}: parameter {arg!r} is not a number") from None
    else:
        raise TypeError(f"weight_law={law!r}: expected a name, one of {', '.join(WEIGHT_LAWS)}")
    if name not in WEIGHT_LAWS:
        raise ValueError(f"weight_law={raw!r}: unknown weight law; expected one of {', '.join(WEIGHT_LAWS)}")
    if name in _NEEDS_PARAM:
        if param is None:
            raise ValueError(f"weight_law={raw!r}: {name} needs a parameter, {_NEEDS_PARAM[name]}, e.g. '{name}(2)'")
        ok = {
            "sparse": 0 < param <= 1,
            "low_rank": param >= 1 and float(param).is_integer(),
            "absolute": param > 0 and math.isfinite(param),
        }[name]
        if not ok:
            raise ValueError(f"weight_law={raw!r}: expected {_NEEDS_PARAM[name]}, got {param:g}")
    elif param is not None:
        raise ValueError(f"weight_law={raw!r}: {name} takes no parameter")
    return WeightLaw(name, param)


def _flat(shape: tuple[int, ...]) -> tuple[int, int]:
    fan_out = shape[-1]
    return math.prod(shape[:-1]), fan_out


def weight_noise_size(law: WeightLaw, shape: tuple[int, ...]) -> int:
    """How many uint32 random words :func:`unit_weight_noise` consumes for a weight of ``shape``."""
    size = math.prod(shape)
    if law.name == "sparse":
        return 2 * size
    if law.name == "low_rank":
        fan_in, fan_out = _flat(shape)
        return int(law.param) * (fan_in + fan_out)
    return size


def _unit_open(bits: jax.Array, dtype) -> jax.Array:
    """uint32 words -> floats uniform in [0, 1) (23 random mantissa bits, as jax.random.uniform)."""
    one = jax.lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    return (one - 1.0).astype(dtype)


_ABOVE_MINUS_ONE = float(np.nextafter(np.float32(-1.0), np.float32(0.0)))


def _normal(bits: jax.Array, dtype) -> jax.Array:
    """Standard normals by inverse CDF, as jax.random.normal: sqrt(2) erfinv(u), u uniform in (-1, 1)."""
    u = jnp.maximum(_unit_open(bits, jnp.float32) * 2.0 - 1.0, _ABOVE_MINUS_ONE)
    return (math.sqrt(2.0) * jax.lax.erf_inv(u)).astype(dtype)


_ERF_2 = math.erf(2.0 / math.sqrt(2.0))


def _truncated_normal(bits: jax.Array, dtype) -> jax.Array:
    """N(0, 1) truncated to [-2, 2], rescaled to unit variance: inverse CDF of a uniform on (-erf(sqrt 2), erf(sqrt 2))."""
    u = (_unit_open(bits, jnp.float32) * 2.0 - 1.0) * _ERF_2
    return (math.sqrt(2.0) * jax.lax.erf_inv(u) / _TRUNC2_STD).astype(dtype)


def _uniform(bits: jax.Array, dtype) -> jax.Array:
    return ((_unit_open(bits, jnp.float32) * 2.0 - 1.0) * _SQRT3).astype(dtype)


def _orthonormal_columns(a: jax.Array) -> jax.Array:
    """The Q of ``a = Q R`` (``a (m, k)``, ``m >= k``) with ``diag(R) > 0``, by Gram-Schmidt applied twice.

    That Q is unique, so this equals ``jnp.linalg.qr`` with its signs fixed (up to rounding); for a
    Gaussian ``a`` it is Haar-distributed on the Stiefel manifold (Mezzadri 2007). Written with plain
    matmuls in a ``fori_loop`` rather than ``jnp.linalg.qr``: on multi-core CPUs the batched LAPACK
    QR calls of a vmapped network init (one per layer, >= ~128 networks) stall XLA's thread pool
    (measured with jax 0.10.2 on a 2-core machine: 64 networks in 3.7 s, 128 never finish; pinned to
    one core they finish in 2.5 s). Two passes ("CGS2") keep ``Q^T Q = I`` to float32 rounding.
    """

    def column(j, q):
        v = a[:, j]
        v = v - q @ (q.T @ v)  # columns j.. of q are still zero: projects on the first j columns
        v = v - q @ (q.T @ v)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, a.shape[1], column, jnp.zeros_like(a))


def unit_weight_noise(bits: jax.Array, law: WeightLaw, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Turns random words into a weight tensor with unit-variance entries under ``law``.

    Args:
      bits: ``(weight_noise_size(law, shape),)`` uint32 random words.
      law: the law (see module docstring).
      shape: ``(fan_in, fan_out)`` for dense layers, ``(*kernel, c_in, c_out)`` for convolutions;
        the last axis is fan-out, the product of the others fan-in.

    Returns:
      Array of ``shape`` whose entries have mean 0 and variance 1.
    """
    name = law.name
    size = math.prod(shape)
    if name == "normal":
        return _normal(bits, dtype).reshape(shape)
    if name == "truncated_normal":
        return _truncated_normal(bits, dtype).reshape(shape)
    if name in ("uniform", "absolute"):
        return _uniform(bits, dtype).reshape(shape)
    fan_in, fan_out = _flat(shape)
    if name == "orthogonal":
        big, small = max(fan_in, fan_out), min(fan_in, fan_out)
        q = _orthonormal_columns(_normal(bits, jnp.float32).reshape(big, small))
        if fan_in < fan_out:
            q = q.T
        return (q * math.sqrt(big)).reshape(shape).astype(dtype)
    if name == "sparse":
        p = law.param
        keep = _unit_open(bits[:size], jnp.float32) < p
        values = _normal(bits[size:], dtype) / math.sqrt(p)
        return jnp.where(keep, values, jnp.zeros_like(values)).reshape(shape)
    if name == "low_rank":
        r = int(law.param)
        a = _normal(bits[: fan_in * r], dtype).reshape(fan_in, r)
        b = _normal(bits[fan_in * r :], dtype).reshape(r, fan_out)
        return ((a @ b) / math.sqrt(r)).reshape(shape)
    raise ValueError(f"weight_law={law.label!r}: unknown weight law")  # unreachable after get_weight_law


def unit_bias_noise(bits: jax.Array, law: WeightLaw, dtype=jnp.float32) -> jax.Array:
    """Turns ``(fan_out,)`` random words into a bias with unit-variance entries (law: module docstring)."""
    if law.name == "truncated_normal":
        return _truncated_normal(bits, dtype)
    if law.name in ("uniform", "absolute"):
        return _uniform(bits, dtype)
    return _normal(bits, dtype)
