"""Legendre polynomial order against numpy's Legendre least squares and exact polynomials."""

import chex
import jax
import numpy as np
import pytest
from numpy.polynomial import legendre

import jaxbias as jb

M = jb.measures
R = 24
X = np.linspace(-1, 1, R)


def P(n, x):
    return legendre.legval(x, [0] * n + [1])


@pytest.mark.parametrize("a, b", [(1, 0), (0, 1), (3, 2), (5, 5)])
def test_single_basis_function_scores_its_total_degree(a, b):
    f = (P(a, X)[:, None] * P(b, X)[None, :]).astype(np.float32)
    assert float(M.polynomial_order(f, degree=6)) == pytest.approx(a + b, abs=1e-4)


def test_coefficients_match_numpy_least_squares():
    rng = np.random.default_rng(0)
    f = (np.sin(2 * X)[:, None] * np.exp(X)[None, :] + 0.1 * rng.normal(size=(R, R))).astype(np.float32)
    deg = 5
    design = legendre.legvander2d(*np.meshgrid(X, X, indexing="ij"), [deg, deg]).reshape(R * R, -1)
    ref = np.linalg.lstsq(design, f.reshape(-1).astype(np.float64), rcond=None)[0].reshape(deg + 1, deg + 1)
    chex.assert_trees_all_close(np.asarray(M.legendre_coefficients(f, deg)), ref, rtol=1e-7, atol=2e-5)
    a, b = np.meshgrid(np.arange(deg + 1), np.arange(deg + 1), indexing="ij")
    weights = np.abs(ref) * ((a + b) > 0)
    assert float(M.polynomial_order(f, deg)) == pytest.approx((weights * (a + b)).sum() / weights.sum(), rel=1e-4)


def test_mixture_one_dimensional_and_batched():
    f = (P(1, X)[:, None] + 3 * P(3, X)[None, :]).astype(np.float32)  # (1 * 1 + 3 * 3) / 4
    assert float(M.polynomial_order(f, degree=4)) == pytest.approx(2.5, abs=1e-4)
    line = (2 * P(2, X) - P(4, X)).astype(np.float32)  # (2 * 2 + 1 * 4) / 3
    assert float(M.polynomial_order(line, degree=6)) == pytest.approx(8 / 3, abs=1e-4)
    batch = np.stack([f, 5 + f * 0])
    chex.assert_trees_all_close(
        jax.jit(jax.vmap(M.polynomial_order))(batch), np.asarray([2.5, 0.0]), rtol=1e-7, atol=1e-4
    )


def test_bad_degree():
    with pytest.raises(ValueError, match="degree=24"):
        M.polynomial_order(np.zeros((R, R), np.float32), degree=24)
    with pytest.raises(ValueError, match="degree=0"):
        M.polynomial_order(np.zeros((R, R), np.float32), degree=0)
