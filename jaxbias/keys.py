"""PRNG keys: every entry point accepts an int seed, a typed key or a legacy uint32 key."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_key"]


def as_key(key: Any) -> jax.Array:
    """Returns a typed PRNG key from an int seed, a typed key or a legacy ``uint32`` key.

    Args:
      key: a Python or numpy integer seed, a typed key from ``jax.random.key`` (shape ``()``),
        or a legacy raw key from ``jax.random.PRNGKey`` (``uint32``, shape ``(2,)``).

    Returns:
      A typed key of shape ``()``. Legacy keys are wrapped, not rehashed, so
      ``as_key(jax.random.PRNGKey(s))`` and ``as_key(s)`` give the same random numbers.
    """
    if isinstance(key, (bool, np.bool_)):
        raise ValueError(f"key={key!r}: expected an integer seed or a single jax PRNG key")
    if isinstance(key, (int, np.integer)):
        if not 0 <= int(key) < 2**63:
            raise ValueError(f"key={key!r}: expected a non-negative integer seed below 2**63 or a jax PRNG key")
        return jax.random.key(int(key))
    dtype = getattr(key, "dtype", None)
    shape = tuple(getattr(key, "shape", ()))
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(f"key with shape {shape}: expected a single key of shape ()")
        return key
    if dtype is not None and np.dtype(dtype) == np.uint32 and len(shape) == 1:
        try:
            return jax.random.wrap_key_data(jnp.asarray(key))
        except (TypeError, ValueError) as err:
            raise ValueError(f"key with shape {shape}: not a legacy PRNG key ({err})") from None
    raise ValueError(
        f"key={key!r}: expected an integer seed, a key from jax.random.key, "
        "or a legacy uint32 key from jax.random.PRNGKey"
    )
