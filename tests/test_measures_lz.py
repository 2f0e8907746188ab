"""LZ76 against strings parsed by hand and a slow pure-Python Kaspar-Schuster parse."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb

M = jb.measures


def kaspar_schuster(s):
    """Kaspar & Schuster (1987), Phys. Rev. A 36, 842: the LZ76 phrase count, written out in Python."""
    n = len(s)
    if n == 1:
        return 1
    i, k, l, c, k_max = 0, 1, 1, 1, 1
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:
                return c + 1
        else:
            k_max = max(k, k_max)
            i += 1
            if i == l:
                c += 1
                l += k_max
                if l + 1 > n:
                    return c
                i, k, k_max = 0, 1, 1
            else:
                k = 1


def bits(text):
    return jnp.asarray([int(ch) for ch in text], jnp.int32)


@pytest.mark.parametrize("text, phrases", [
    ("0001101001000101", 6),  # 0.001.10.100.1000.101, Lempel & Ziv (1976)
    ("0101010101", 3),        # 0.1.01010101
    ("0000", 2),              # 0.000
    ("1", 1),
    ("01", 2),
    ("0110", 3),              # 0.1.10
    ("1001111011000010", 6),  # 1.0.01.1110.1100.0010
])
def test_strings_parsed_by_hand(text, phrases):
    assert kaspar_schuster(text) == phrases  # the reference agrees with the hand parse
    assert int(M.lz76(bits(text))) == phrases


@pytest.mark.parametrize("n", [2, 7, 64, 128])
def test_random_strings_match_python_kaspar_schuster(n):
    rng = np.random.default_rng(n)
    strings = rng.integers(0, 2, size=(300, n))
    strings[:5] = rng.integers(0, 2, size=(5, 1))  # some constant strings
    strings[5:10] = np.tile(rng.integers(0, 2, size=(5, 2)), (1, n))[:, :n]  # periodic ones
    got = np.asarray(jax.jit(jax.vmap(M.lz76))(jnp.asarray(strings)))
    chex.assert_trees_all_equal(got, np.asarray([kaspar_schuster(list(s)) for s in strings]))
    alphabet = rng.integers(0, 4, size=(50, n))  # larger alphabets parse the same way
    chex.assert_trees_all_equal(
        jax.vmap(M.lz76)(jnp.asarray(alphabet)), np.asarray([kaspar_schuster(list(s)) for s in alphabet])
    )


@pytest.mark.parametrize("alphabet", [2, 3, 5, 17])
def test_packed_alphabets_and_long_matches_match_python_kaspar_schuster(alphabet):
    # symbols packed ceil(log2 alphabet) bits each (windows straddle words for 3 and 5 bits); runs and
    # repeats longer than a 32-bit window; arbitrary integers relabelled when no alphabet is given
    rng = np.random.default_rng(alphabet)
    n = 700
    runs = np.repeat(rng.integers(0, alphabet, size=(20, 70)), 10, axis=1)  # runs of 10 symbols
    repeats = np.tile(rng.integers(0, alphabet, size=(20, 50)), (1, 14))  # period 50: matches of ~650
    strings = np.concatenate([runs, repeats, rng.integers(0, alphabet, size=(20, n))])
    expected = np.asarray([kaspar_schuster(list(s)) for s in strings])
    chex.assert_trees_all_equal(jax.vmap(lambda s: M.lz76(s, alphabet))(jnp.asarray(strings)), expected)
    relabelled = jnp.asarray(strings * 1000 - 7)  # same parse, symbols anywhere in int32
    chex.assert_trees_all_equal(jax.vmap(M.lz76)(relabelled), expected)


def test_valle_perez_symmetric_form():
    s = "0001101001000101"
    expected = math.log2(16) * (kaspar_schuster(s) + kaspar_schuster(s[::-1])) / 2
    assert float(M.lz_complexity(bits(s))) == pytest.approx(expected)
    assert float(M.lz_complexity(bits("0" * 128))) == pytest.approx(7.0)  # log2(n) for constants
    assert float(M.lz_complexity(bits("1" * 128))) == pytest.approx(7.0)
    assert float(M.lz_complexity(bits("01" * 64))) == pytest.approx(7.0 * 3)


def test_lz_of_a_quantized_grid_function():
    x = np.linspace(-1, 1, 16, dtype=np.float32)
    half = np.broadcast_to((x > 0)[:, None], (16, 16)).astype(np.float32)  # 0...0 1...1 flattened
    assert float(M.lz_grid(half)) == pytest.approx(8 * (kaspar_schuster([0] * 128 + [1] * 128)
                                                         + kaspar_schuster([1] * 128 + [0] * 128)) / 2)
    v = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)
    q = np.clip(np.floor((v - v.min()) / np.ptp(v) * 4), 0, 3).astype(int).reshape(-1)
    assert float(M.lz_grid(v, levels=4)) == pytest.approx(8 * (kaspar_schuster(list(q)) + kaspar_schuster(list(q[::-1]))) / 2)


def test_bad_input():
    with pytest.raises(ValueError, match="expected bool or integer"):
        M.lz76(jnp.ones(4))
    with pytest.raises(ValueError, match="alphabet=0: expected None or a positive integer"):
        M.lz76(jnp.ones(4, int), alphabet=0)
    with pytest.raises(ValueError, match="levels=1"):
        M.lz_grid(jnp.ones(4), levels=1)
