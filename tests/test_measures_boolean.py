"""Boolean measures against brute force over the hypercube."""

import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb

M = jb.measures


def brute_sensitivity(table, n):
    """E_x sum_i 1[f(x) != f(x xor e_i)], inputs as tuples in lexicographic order."""
    points = list(itertools.product([0, 1], repeat=n))
    f = dict(zip(points, table))
    total = 0
    for x in points:
        for i in range(n):
            y = list(x)
            y[i] ^= 1
            total += f[x] != f[tuple(y)]
    return total / len(points)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_sensitivity_matches_brute_force_both_ways(n):
    rng = np.random.default_rng(n)
    tables = rng.integers(0, 2, size=(20, 2**n)).astype(bool)
    tables[0] = False
    ref = np.array([brute_sensitivity(list(t), n) for t in tables])
    chex.assert_trees_all_close(jax.jit(jax.vmap(M.sensitivity))(jnp.asarray(tables)), ref, rtol=1e-7, atol=1e-6)
    chex.assert_trees_all_close(jax.vmap(M.sensitivity_walsh)(jnp.asarray(tables)), ref, rtol=1e-7, atol=1e-5)


def test_known_functions():
    x = np.asarray(jb.inputs.hypercube(5)).astype(bool)
    parity = np.logical_xor.reduce(x, axis=1)
    assert float(M.sensitivity(parity)) == 5.0
    dictator = x[:, 2]  # f(x) = x_3: only flipping x_3 matters
    assert float(M.sensitivity(dictator)) == 1.0
    coef = np.asarray(M.walsh_fourier(dictator))
    assert coef[0b00100] == pytest.approx(1.0)  # (-1)^f(x) (-1)^x_3 = 1 and np.abs(coef).sum() == pytest.approx(1.0)
    majority = x[:, :3].sum(1) >= 2  # majority of 3 (ignoring x_4, x_5): sensitivity 3/2
    assert float(M.sensitivity(majority)) == pytest.approx(1.5)


def test_entropy_packing_and_hex():
    t = np.array([1, 0, 0, 0, 1, 1, 0, 0], bool)
    p = 3 / 8
    assert float(M.entropy(t)) == pytest.approx(-p * math.log2(p) - (1 - p) * math.log2(1 - p), rel=1e-6)
    assert float(M.entropy(np.zeros(8, bool))) == 0.0
    words = np.asarray(M.pack_truth_table(t))
    assert words.tolist() == [sum(1 << j for j, b in enumerate(t) if b)]
    assert M.truth_table_hex(t) == "8c"
    outputs = jnp.asarray([[0.5], [-1.0], [0.0], [2.0]])
    chex.assert_trees_all_equal(M.truth_table(outputs), np.asarray([True, False, False, True]))


def test_bad_tables():
    with pytest.raises(ValueError, match=r"truth_table with shape \(6,\)"):
        M.sensitivity(np.zeros(6, bool))
    with pytest.raises(ValueError, match="unit=3"):
        M.truth_table(jnp.zeros((4, 2)), unit=3)
