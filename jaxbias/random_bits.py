"""A network's random words: the bits of ``jax.random.bits``, computed faster on CPU.

Every network draws all its parameters from ONE call ``random_bits(key, size)`` (see
:func:`jaxbias.nets.layers.init_params`). For the default key type (threefry2x32 with
``jax_threefry_partitionable``, the default since jax 0.5) this returns exactly the words of
``jax.random.bits(key, (size,), jnp.uint32)``, bit for bit, so a network stays the same
function of its key; it only computes them differently:

* jax lowers the threefry2x32 hash (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
  SC 2011; 20 rounds of add, rotate, xor) as a loop over five groups of four rounds, which on
  CPU writes both 32-bit state arrays to memory and reads them back every four rounds. Written
  out round by round here, the 20 rounds fuse into one elementwise loop, 2-4x faster on CPU
  (``benchmarks/sampling.py`` measures it).
* Unrolled, XLA would fuse the hash into every consumer of the words, including broadcasts
  (a bias added at every input point), and compute it again for each point. A ``while_loop``
  of one trip that XLA cannot see through keeps the words materialized once.

Partitionable threefry draws word ``j`` of ``bits(key, (size,))`` as ``a ^ b`` where
``(a, b) = threefry2x32(key, (0, j))``. Other key types (rbg, unsafe_rbg, a custom impl) and
the legacy non-partitionable mode go through ``jax.random.bits`` unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["random_bits", "threefry2x32"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = np.uint32(0x1BD11BDA)
_PAD = 128
_PAD_FROM = 2**14


def _rotate_left(x: jax.Array, r: int) -> jax.Array:
    return jax.lax.shift_left(x, np.uint32(r)) | jax.lax.shift_right_logical(x, np.uint32(32 - r))


def threefry2x32(k1: jax.Array, k2: jax.Array, x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block cipher with 20 rounds, unrolled (Salmon et al. 2011).

    Args:
      k1, k2: the two key words, uint32 scalars.
      x1, x2: the counter words, uint32 arrays of one shape.

    Returns:
      The two hashed words, uint32 arrays of the counters' shape; the same as jax's
      ``threefry2x32_p``.
    """
    ks = (k1, k2, k1 ^ k2 ^ _KS_PARITY)
    x1 = x1 + ks[0]
    x2 = x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = x1 ^ _rotate_left(x2, r)
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _fast_path(key: jax.Array) -> bool:
    if not jax.config.jax_threefry_partitionable:
        return False
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return str(jax.random.key_impl(key)) == "threefry2x32"
    return str(jax.config.jax_default_prng_impl) == "threefry2x32"  # a raw uint32 (2,) key


def random_bits(key: jax.Array, size: int) -> jax.Array:
    """``size`` random uint32 words from ``key``: ``jax.random.bits(key, (size,), jnp.uint32)``.

    Args:
      key: one PRNG key (a typed key, or a raw ``uint32[2]`` threefry key).
      size: how many words, ``0 <= size <= 2**32 - 128``.

    Returns:
      uint32 array ``(size,)``, bit-identical to ``jax.random.bits`` for every key type.
    """
    size = int(size)
    if not 0 <= size <= 2**32 - _PAD:
        raise ValueError(f"size={size}: expected 0 <= size <= 2**32 - {_PAD} words from one key")
    if not _fast_path(key):
        return jax.random.bits(key, (size,), jnp.uint32)
    data = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    k1, k2 = data[0], data[1]

    # XLA's CPU loop over one network's words ran 7x slower at an odd length (197,377 words:
    # 3.6 ms against 0.5 ms). Word j depends on j alone, so large draws take a multiple of 128
    # words and keep the first ``size``. Small ones are left as they are: under vmap (the
    # engine's batches) they were fast already, and the extra slice cost 30 % there.
    padded = -(-size // _PAD) * _PAD if size >= _PAD_FROM else size

    def draw() -> jax.Array:
        a, b = threefry2x32(k1, k2, jnp.zeros((padded,), jnp.uint32), jax.lax.iota(jnp.uint32, padded))
        return a ^ b

    # Always one trip, but the trip count depends on the key so XLA cannot unroll the loop and
    # fuse the hash into (and recompute it in) every consumer of the words.
    trips = (k1 | np.uint32(1)) & np.uint32(1)
    _, words = jax.lax.while_loop(
        lambda c: c[0] < trips, lambda c: (c[0] + np.uint32(1), draw()),
        (np.uint32(0), jnp.zeros((padded,), jnp.uint32)))
    return words[:size]
