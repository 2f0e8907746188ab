"""Networks with NaN or infinite outputs compute no function: they are counted and left out, never scored.

References are independent of the code under test: outputs from ``jb.sample`` reduced by plain numpy
(class fractions by counting signs, truth tables by ``y > 0`` and a ``collections.Counter``)."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias import theory
from jaxbias.experiments import boolean_prior_cell, igb
from jaxbias.measures import class_fractions, guessing_stats


def _init(key, x):
    return {"w": jax.random.normal(key, (x.shape[-1], 1)), "b": jax.random.normal(jax.random.fold_in(key, 1), (1,))}


def _apply(params, x):  # a network "overflows" (NaN everywhere) when its first weight exceeds 0.5
    y = x @ params["w"] + params["b"][None, :]
    return jnp.where(params["w"][0, 0] > 0.5, jnp.nan, y)


SOMETIMES_NAN = jb.nets.Net(_init, _apply)


def test_class_fractions_of_a_nan_network_are_nan_not_class_0():
    assert np.all(np.isnan(np.asarray(class_fractions(jnp.full((8, 1), jnp.nan)))))
    one_bad = jnp.array([[1.0], [-1.0], [jnp.inf], [2.0]])
    assert np.all(np.isnan(np.asarray(class_fractions(one_bad))))
    multi = jnp.array([[1.0, 0.0, jnp.nan], [0.0, 2.0, 1.0]])
    assert np.all(np.isnan(np.asarray(class_fractions(multi))))
    # finite networks are unchanged: counts by hand
    np.testing.assert_allclose(np.asarray(class_fractions(jnp.array([[1.0], [-1.0], [0.0], [2.0]]))), [0.5, 0.5])
    np.testing.assert_allclose(np.asarray(class_fractions(jnp.array([[0.0, 2.0, 1.0], [3.0, 2.0, 1.0]]))),
                               [0.5, 0.5, 0.0])
    stats = jax.jit(guessing_stats)(jnp.full((8, 1), jnp.nan))
    assert np.isnan(stats.g0) and np.isnan(stats.max_fraction)


def test_igb_cell_counts_and_excludes_non_finite_networks():
    x = igb.igb_inputs("blobs", n_points=50, dim=4)
    n = 200
    y = jb.sample(SOMETIMES_NAN, x, n=n, key=0, progress=False)[:, :, 0]
    bad = ~np.all(np.isfinite(y), axis=1)
    assert 10 < bad.sum() < 150  # the test needs both kinds
    g0 = np.mean(y[~bad] <= 0, axis=1)  # class 0: y <= 0, counted by hand over the finite networks
    with pytest.warns(RuntimeWarning, match=f"{bad.sum()} of {n} networks had NaN or infinite outputs"):
        ds = igb.igb_cell(SOMETIMES_NAN, x, n=n, n_boot=50, progress=False)
    assert int(ds["n_non_finite"]) == bad.sum()
    np.testing.assert_array_equal(ds["non_finite"].values, bad)
    assert np.all(np.isnan(ds["g0"].values[bad]))
    np.testing.assert_allclose(ds["g0"].values[~bad], g0, atol=1e-6)
    reference = theory.estimate_g0_var(g0, 50, n_boot=50)
    np.testing.assert_allclose(float(ds["var_g0"]), reference.value, rtol=1e-5)
    assert int(ds["g0_hist"].sum()) == (~bad).sum()
    # before the fix every NaN network had G0 = 1, inflating Var(G0):
    inflated = np.concatenate([g0, np.ones(bad.sum())])
    assert theory.estimate_g0_var(inflated, 50, n_boot=50).value > 1.5 * reference.value


def test_estimators_name_the_non_finite_networks():
    with pytest.raises(ValueError, match="g0: 1 of 3 networks have non-finite values .*leave them out"):
        theory.estimate_g0_var(np.array([0.5, np.nan, 0.2]), 10)


def test_boolean_prior_counts_and_excludes_non_finite_networks():
    n, n_inputs = 400, 3
    x = jb.inputs.hypercube(n_inputs)
    y = jb.sample(SOMETIMES_NAN, x, n=n, key=0, progress=False)[:, :, 0]
    bad = ~np.all(np.isfinite(y), axis=1)
    assert 10 < bad.sum() < 300
    counter = collections.Counter(tuple(row) for row in (y[~bad] > 0))
    with pytest.warns(RuntimeWarning, match=f"{bad.sum()} of {n} networks had NaN or infinite outputs"):
        ds = boolean_prior_cell(SOMETIMES_NAN, n=n, n_inputs=n_inputs, progress=False)
    assert int(ds["n_non_finite"]) == bad.sum() and int(ds["n_networks"]) == n
    assert int(ds["occurrences"].sum()) == (~bad).sum()
    assert int(ds["n_distinct"]) == len(counter)
    tables = jb.summaries.unpack_bits(ds["table"].values, 2**n_inputs)
    got = {tuple(t): int(c) for t, c in zip(tables, ds["occurrences"].values)}
    assert got == dict(counter)
    np.testing.assert_allclose(ds["probability"].values, ds["occurrences"].values / (~bad).sum())
    zeros = tuple([False] * 2**n_inputs)  # the all-zeros function gets no NaN networks
    assert got.get(zeros, 0) == counter.get(zeros, 0)
