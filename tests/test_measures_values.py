"""Measures as hashable values (jaxbias.measures.values): the same numbers as the functions, checked settings."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias import measures as jm

X = jb.inputs.grid(2, 16)  # (256, 2), C order over the 16 x 16 grid
NET = jb.nets.MLP(16, 2, "tanh", out=2, weight_var=2.0, bias_var=0.1)


def outputs(n=6):
    return jb.sample(NET, X, n=n, key=4, progress=False)  # (n, 256, 2)


@pytest.mark.parametrize("value, reference", [
    (jm.MeanFrequency((16, 16)), lambda y: jm.mean_frequency(y[:, 0].reshape(16, 16))),
    (jm.MeanFrequency((16, 16), window="hann", output=1),
     lambda y: jm.mean_frequency(y[:, 1].reshape(16, 16), window="hann")),
    (jm.MeanFrequencyRedshiftCode((16, 16)), lambda y: jm.mean_frequency_redshift_code(y[:, 0].reshape(16, 16))),
    (jm.PolynomialOrder((16, 16), degree=5), lambda y: jm.polynomial_order(y[:, 0].reshape(16, 16), 5)),
    (jm.LZComplexity(), lambda y: jm.lz_grid(y[:, 0])),
    (jm.LZComplexity(levels=3, output=1), lambda y: jm.lz_grid(y[:, 1], 3)),
    (jm.NearConstant(), lambda y: jm.near_constant(y[:, 0])),
])
def test_values_equal_the_functions_under_jit_and_through_the_engine(value, reference):
    y = outputs()
    expected = np.asarray(jax.jit(jax.vmap(reference))(y))  # the function, in the same kind of program
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(value))(y)), expected)
    one_by_one = np.stack([np.asarray(reference(f)) for f in y])
    got = jb.reduce(NET, X, n=6, key=4, stat=value, progress=False)
    np.testing.assert_allclose(got, one_by_one, rtol=1e-6, atol=0)


def test_equal_settings_are_equal_and_hash_alike():
    a, b = jm.MeanFrequency(shape=[16, 16], window="hann"), jm.MeanFrequency((16, 16), "hann")
    assert a == b and hash(a) == hash(b) and a.shape == (16, 16)
    assert a != jm.MeanFrequency((16, 16))
    assert len({jm.PolynomialOrder((9, 9)), jm.PolynomialOrder((9, 9), degree=8), jm.PolynomialOrder((9, 9), 4)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.window = None


@pytest.mark.parametrize("make, match", [
    (lambda: jm.MeanFrequency((16, 1)), r"shape=\(16, 1\)"),
    (lambda: jm.MeanFrequency(16), "shape=None"),
    (lambda: jm.MeanFrequency((16, 16), window="hamming"), "window='hamming'"),
    (lambda: jm.MeanFrequency((16, 16), output=-1), "output=-1"),
    (lambda: jm.MeanFrequency((16, 16), guard=1), "guard=1"),
    (lambda: jm.MeanFrequency((16, 16), rtol=2.0), "rtol=2.0"),
    (lambda: jm.MeanFrequencyRedshiftCode((16, 8)), "square 2-D grid"),
    (lambda: jm.PolynomialOrder((8, 8), degree=8), "degree=8"),
    (lambda: jm.PolynomialOrder((8, 8), degree=0), "degree=0"),
    (lambda: jm.LZComplexity(levels=1), "levels=1"),
    (lambda: jm.NearConstant(output=True), "output=True"),
])
def test_bad_settings_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_outputs_that_do_not_fit_are_named():
    with pytest.raises(ValueError, match=r"256 points do not fill a grid of shape \(8, 8\)"):
        jb.reduce(NET, X, n=2, stat=jm.MeanFrequency((8, 8)), progress=False)
    with pytest.raises(ValueError, match="output=2, but the network has 2 output"):
        jm.NearConstant(output=2)(jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(n_points, n_out\)"):
        jm.LZComplexity()(jnp.zeros(4))
