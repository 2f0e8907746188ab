"""IGB measures of one network (class fractions, output moments) against numpy, and the MLP's batch norm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.measures import class_fractions, guessing_stats

RNG = np.random.default_rng(0)


def test_one_output_is_the_sign_with_zero_in_class_zero():
    y = jnp.array([[-2.0], [0.0], [0.0], [1e-30], [5.0]])
    np.testing.assert_allclose(class_fractions(y), [0.6, 0.4])


def test_argmax_fractions_match_numpy():
    y = RNG.normal(size=(500, 7)).astype(np.float32)
    want = np.bincount(y.argmax(1), minlength=7) / 500
    np.testing.assert_allclose(jax.jit(class_fractions)(y), want, rtol=1e-6)


def test_guessing_stats_match_numpy_and_run_in_the_engine():
    net = jb.nets.mlp(16, 2, "relu", out=3, bias_var=0.1)
    x = jb.inputs.sphere(6, 40, key=1)
    stats = jb.reduce(net, x, n=8, key=2, stat=guessing_stats, progress=False)
    y = jb.sample(net, x, n=8, key=2, progress=False).astype(np.float64)
    frac = np.stack([np.bincount(yy.argmax(1), minlength=3) / 40 for yy in y])
    np.testing.assert_allclose(stats.fractions, frac, atol=1e-6)
    np.testing.assert_allclose(stats.g0, frac[:, 0], atol=1e-6)
    np.testing.assert_allclose(stats.max_fraction, frac.max(1), atol=1e-6)
    np.testing.assert_allclose(stats.sorted_fractions, -np.sort(-frac, axis=1), atol=1e-6)
    np.testing.assert_allclose(stats.mean, y.mean(1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.var, y.var(1, ddof=1), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("bad", [np.zeros((3,)), np.zeros((0, 2)), np.zeros((3, 2), np.int32)])
def test_bad_outputs_raise(bad):
    with pytest.raises(ValueError, match="outputs"):
        class_fractions(bad)


@pytest.mark.parametrize("position", ["pre", "post"])
def test_mlp_batch_norm_matches_numpy(position):
    net = jb.nets.mlp(8, 2, "relu", bias_var=0.5, norm=f"batch_{position}")
    x = RNG.normal(size=(10, 3)).astype(np.float32)
    p = net.init(jax.random.key(0), x)["layers"]

    def bn(v):
        return (v - v.mean(0)) / np.sqrt(v.var(0) + 1e-6)

    h = x.astype(np.float64)
    for i, layer in enumerate(p):
        z = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)
        if i == len(p) - 1:
            break
        h = np.maximum(bn(z), 0) if position == "pre" else bn(np.maximum(z, 0))
    np.testing.assert_allclose(net.apply(net.init(jax.random.key(0), x), x), z, rtol=1e-4, atol=1e-5)
    assert jb.nets.from_dict(jb.nets.to_dict(net)) == net


def test_mlp_batch_norm_bad_options():
    with pytest.raises(ValueError, match="norm='batch_mid'"):
        jb.nets.mlp(8, 2, norm="batch_mid")
    net = jb.nets.mlp(8, 2, norm="batch_pre")
    x = np.ones((1, 3), np.float32)
    with pytest.raises(ValueError, match="at least 2"):
        net.apply(net.init(jax.random.key(0), x), x)
