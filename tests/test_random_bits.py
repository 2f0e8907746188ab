"""The fast random words are jax.random.bits, bit for bit, for every key form and size."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbias.random_bits import random_bits, threefry2x32

SIZES = (0, 1, 2, 3, 2001, 16_383, 16_384, 16_385, 65_537)  # around the padding threshold


@pytest.mark.parametrize("size", SIZES)
def test_same_words_as_jax_random_bits(size):
    keys = [jax.random.key(0), jax.random.fold_in(jax.random.key(5), 123), jax.random.PRNGKey(7)]
    for key in keys:
        expected = np.asarray(jax.random.bits(key, (size,), jnp.uint32))
        chex.assert_trees_all_equal(random_bits(key, size), expected, strict=True)


def test_same_words_under_vmap_and_jit():
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(11), i))(jnp.arange(64))
    chex.clear_trace_counter()
    ours = jax.jit(jax.vmap(chex.assert_max_traces(lambda k: random_bits(k, 300), n=1)))
    theirs = jax.vmap(lambda k: jax.random.bits(k, (300,), jnp.uint32))
    chex.assert_trees_all_equal(ours(keys), theirs(keys), strict=True)
    other = jax.random.split(jax.random.key(12), 64)
    chex.assert_trees_all_equal(ours(other), theirs(other), strict=True)  # new keys: no second trace


def test_threefry_known_answer():
    # Known-answer vectors of the Random123 reference implementation (kat_vectors, threefry2x32_20).
    cases = [
        ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ]
    for (k1, k2), (x1, x2), (y1, y2) in cases:
        a, b = threefry2x32(jnp.uint32(k1), jnp.uint32(k2), jnp.asarray([x1], jnp.uint32), jnp.asarray([x2], jnp.uint32))
        assert (int(a[0]), int(b[0])) == (y1, y2)


def test_other_key_types_fall_back_to_jax():
    key = jax.random.key(3, impl="rbg")
    chex.assert_trees_all_equal(random_bits(key, 17), jax.random.bits(key, (17,), jnp.uint32), strict=True)


def test_bad_size():
    with pytest.raises(ValueError, match="size=-1"):
        random_bits(jax.random.key(0), -1)
    with pytest.raises(ValueError, match="size=4294967295"):
        random_bits(jax.random.key(0), 2**32 - 1)


def test_legacy_threefry_mode_falls_back_to_jax():
    # Non-partitionable threefry lays out its counters differently; random_bits defers to jax there.
    with jax.threefry_partitionable(False):
        key = jax.random.key(1)
        chex.assert_trees_all_equal(random_bits(key, 9), jax.random.bits(key, (9,), jnp.uint32), strict=True)
