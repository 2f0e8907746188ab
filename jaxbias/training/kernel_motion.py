"""How far a network's tangent kernel moves in training: distances between two kernel matrices.

All take ``(P, P)`` kernels on the same probe points (the NTK traced over outputs,
``K[a, b] = sum_o <d f_o(x_a)/d theta, d f_o(x_b)/d theta>``) and are pure jax functions, usable
inside ``jit`` and ``vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["kernel_distance", "relative_change", "centered_alignment"]


def _frobenius_inner(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.sum(a * b)


def kernel_distance(k0: jax.Array, k1: jax.Array) -> jax.Array:
    """``1 - <K0, K1>_F / (|K0|_F |K1|_F)`` (Fort et al. 2020, "Deep learning versus kernel learning"), in [0, 2].

    0 when the kernels are proportional; the kernel velocity is this distance between two recorded
    steps divided by the steps between them.
    """
    return 1.0 - _frobenius_inner(k0, k1) / (jnp.linalg.norm(k0) * jnp.linalg.norm(k1))


def relative_change(k0: jax.Array, k1: jax.Array) -> jax.Array:
    """``|K1 - K0|_F / |K0|_F``."""
    return jnp.linalg.norm(k1 - k0) / jnp.linalg.norm(k0)


def _center(k: jax.Array) -> jax.Array:
    """``H K H`` with ``H = I - 11^T / P``."""
    k = k - jnp.mean(k, axis=0, keepdims=True)
    return k - jnp.mean(k, axis=1, keepdims=True)


def centered_alignment(k: jax.Array, y: jax.Array) -> jax.Array:
    """Centred kernel-target alignment ``<Kc, Yc>_F / (|Kc|_F |Yc|_F)`` with ``Y = y y^T`` (Cortes et al. 2012).

    Args:
      k: kernel ``(P, P)``.
      y: targets ``(P, k)`` (one-hot labels or regression targets).
    """
    y = y.reshape(y.shape[0], -1)
    kc, yc = _center(k), _center(y @ y.T)
    return _frobenius_inner(kc, yc) / (jnp.linalg.norm(kc) * jnp.linalg.norm(yc))
