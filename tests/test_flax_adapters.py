"""Flax adapters: the adapted Net is exactly the function flax gives, and batches under jit(vmap)."""

import contextlib
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxbias as jb
from jaxbias.nets.flax_adapters import from_linen, from_nnx

N_NETS = 16


# ----- modules -------------------------------------------------------------------------------


class LinenMLP(nn.Module):
    width: int = 32
    out: int = 2

    @nn.compact
    def __call__(self, x):
        h = jnp.tanh(nn.Dense(self.width)(x))
        h = jnp.tanh(nn.Dense(self.width)(h))
        return nn.Dense(self.out)(h)


class LinenCNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Conv(4, (3, 3))(x))
        h = nn.avg_pool(h, (2, 2), strides=(2, 2))
        return nn.Dense(3)(h.reshape(h.shape[0], -1))


class LinenState(nn.Module):
    """Reads a non-params collection without mutating it, and sows an intermediate."""

    @nn.compact
    def __call__(self, x):
        shift = self.variable("constants", "shift", lambda: jnp.full((x.shape[-1],), 0.5, jnp.float32))
        self.sow("intermediates", "input", x)
        return nn.Dense(2)(x - shift.value[None, :])


class LinenBatchNorm(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.BatchNorm(use_running_average=False)(nn.Dense(8)(x)))


class LinenScalar(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(x)[:, 0]


class LinenRank3(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(4)(x)[:, :, None]


class LinenRankPromotion(nn.Module):
    """Relies on implicit rank promotion, which the strict test config would reject."""

    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(x) + jnp.ones((2,), jnp.float32)


class NnxMLP(nnx.Module):
    def __init__(self, rngs, d_in=3, width=32, out=1):
        self.hidden = nnx.Linear(d_in, width, rngs=rngs)
        self.mid = nnx.Linear(width, width, rngs=rngs)
        self.out = nnx.Linear(width, out, rngs=rngs)

    def __call__(self, x):
        h = jax.nn.relu(self.hidden(x))
        h = jax.nn.relu(self.mid(h))
        return self.out(h)


class NnxBatchNorm(nnx.Module):
    """Holds batch statistics and an rng stream (Dropout) in its state."""

    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 8, rngs=rngs)
        self.norm = nnx.BatchNorm(8, use_running_average=False, rngs=rngs)
        self.drop = nnx.Dropout(0.5, deterministic=True, rngs=rngs)
        self.out = nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(self.norm(jax.nn.relu(self.hidden(x)))))


class NnxScalar(nnx.Module):
    def __init__(self, rngs):
        self.lin = nnx.Linear(3, 1, rngs=rngs)

    def __call__(self, x):
        return self.lin(x)[:, 0]


class NnxRank3(nnx.Module):
    def __init__(self, rngs):
        self.lin = nnx.Linear(3, 4, rngs=rngs)

    def __call__(self, x):
        return self.lin(x)[:, :, None]


# ----- helpers -------------------------------------------------------------------------------

X_DENSE = jax.random.normal(jax.random.key(100), (12, 3), jnp.float32)
X_IMAGE = jax.random.normal(jax.random.key(101), (6, 8, 8, 1), jnp.float32)
KEY_MAKERS = {"typed": jax.random.key, "legacy": jax.random.PRNGKey}

LINEN_CASES = {
    "mlp": (LinenMLP(), X_DENSE),
    "cnn": (LinenCNN(), X_IMAGE),
    "state": (LinenState(), X_DENSE),
}


@contextlib.contextmanager
def flax_promotion():
    """The promotion rules the adapters run flax under. References use them too: flax's avg_pool
    needs them, and eager op caches are keyed on these settings, so sharing them halves the time."""
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        yield


def batched(net):
    """All networks at once, as the engine runs them: one jit over vmapped init and apply."""

    @jax.jit
    def run(keys, x):
        params = jax.vmap(net.init, in_axes=(0, None))(keys, x)
        return jax.vmap(net.apply, in_axes=(0, None))(params, x)

    return run


def check_batched(net, x, key_maker):
    keys = jnp.stack([key_maker(s) for s in range(N_NETS)])
    run = batched(net)
    ys = run(keys, x)
    loop = jnp.stack([net.apply(net.init(key_maker(s), x), x) for s in range(N_NETS)])
    assert ys.shape == loop.shape
    np.testing.assert_allclose(ys, loop, rtol=1e-6, atol=1e-6)
    flat = np.asarray(ys).reshape(N_NETS, -1)
    for i in range(N_NETS):
        for j in range(i):
            assert not np.allclose(flat[i], flat[j]), f"networks {i} and {j} coincide"
    # A second call with other keys does not retrace.
    run(jnp.stack([key_maker(s + N_NETS) for s in range(N_NETS)]), x)
    assert run._cache_size() == 1


# ----- linen ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case,key_kind", [("mlp", "typed"), ("mlp", "legacy"), ("cnn", "typed"), ("state", "legacy")])
def test_linen_matches_flax(case, key_kind):
    module, x = LINEN_CASES[case]
    net = from_linen(module)
    for seed in range(2):
        key = KEY_MAKERS[key_kind](seed)
        y = net.apply(net.init(key, x), x)
        with flax_promotion():  # flax's avg_pool divides by an int count
            ref = module.apply(module.init(key, x), x)
        assert y.shape == (x.shape[0], ref.shape[-1])
        assert jnp.array_equal(y, ref)


def test_linen_batched_under_jit():
    check_batched(from_linen(LinenMLP()), X_DENSE, jax.random.key)  # typed keys, as in test_linen_matches_flax


def test_linen_collections():
    net = from_linen(LinenState())
    variables = net.init(jax.random.key(0), X_DENSE)
    assert sorted(variables) == ["constants", "params"]  # sown intermediates dropped
    only = from_linen(LinenState(), collections=("params", "constants"))
    assert sorted(only.init(jax.random.key(0), X_DENSE)) == ["constants", "params"]
    with pytest.raises(ValueError, match="batch_stats"):
        from_linen(LinenState(), collections=("params", "batch_stats")).init(jax.random.key(0), X_DENSE)


def test_linen_batch_norm_uses_batch_statistics():
    module = LinenBatchNorm()
    net = from_linen(module)
    key = jax.random.key(0)
    variables = net.init(key, X_DENSE)
    assert sorted(variables) == ["batch_stats", "params"]
    with flax_promotion():
        ref, _ = module.apply(module.init(key, X_DENSE), X_DENSE, mutable=["batch_stats"])
    assert jnp.array_equal(net.apply(variables, X_DENSE), ref)


def test_linen_config_and_method():
    module = LinenMLP(width=5)
    net = from_linen(module, method="__call__", name="tiny")
    assert net.api == "linen"
    assert net.name == "tiny"
    assert net.module == repr(module) and "width=5" in net.module.replace(" ", "")
    assert from_linen(module).name == "LinenMLP"
    described = jb.nets.describe(net)
    assert described["type"] == "FlaxNet" and described["name"] == "tiny" and described["rebuildable"] is False


def test_linen_runs_under_default_promotion():
    net = from_linen(LinenRankPromotion())
    assert net.apply(net.init(jax.random.key(0), X_DENSE), X_DENSE).shape == (X_DENSE.shape[0], 2)


def test_linen_output_rank():
    net = from_linen(LinenScalar())
    y = net.apply(net.init(jax.random.key(0), X_DENSE), X_DENSE)
    assert y.shape == (X_DENSE.shape[0], 1)
    with pytest.raises(ValueError, match=r"returned shape \(12, 4, 1\)"):
        from_linen(LinenRank3()).init(jax.random.key(0), X_DENSE)


def test_linen_wrong_input_shape():
    net = from_linen(LinenMLP())
    variables = net.init(jax.random.key(0), X_DENSE)
    with pytest.raises(ValueError, match=r"x with shape \(12, 5\)"):
        net.apply(variables, jnp.ones((12, 5), jnp.float32))


def test_linen_rejects_non_module():
    with pytest.raises(ValueError, match="from_nnx"):
        from_linen(nnx.Linear)


# ----- nnx -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key_kind", sorted(KEY_MAKERS))
def test_nnx_matches_flax(key_kind):
    net = from_nnx(NnxMLP)
    for seed in range(2):
        key = KEY_MAKERS[key_kind](seed)
        state = net.init(key, X_DENSE)
        assert isinstance(state, dict)
        y = net.apply(state, X_DENSE)
        with flax_promotion():
            ref = NnxMLP(nnx.Rngs(key))(X_DENSE)
        assert y.shape == (X_DENSE.shape[0], 1)
        assert jnp.array_equal(y, ref)


def test_nnx_batched_under_jit():
    check_batched(from_nnx(NnxMLP), X_DENSE, jax.random.PRNGKey)  # legacy keys, as in test_nnx_matches_flax


def test_nnx_state_with_batch_stats_and_rngs():
    net = from_nnx(NnxBatchNorm)
    key = jax.random.key(3)
    state = net.init(key, X_DENSE)
    assert set(state["norm"]) >= {"mean", "var", "scale", "bias"}
    with flax_promotion():
        ref = NnxBatchNorm(nnx.Rngs(key))(X_DENSE)
    assert jnp.array_equal(net.apply(state, X_DENSE), ref)
    check_batched(net, X_DENSE, jax.random.key)


def test_nnx_config():
    net = from_nnx(lambda rngs: NnxMLP(rngs, width=4), name="small")
    assert net.api == "nnx"
    assert net.name == "small"
    assert net.module == "NnxMLP"


def test_nnx_wrong_input_dimension():
    net = from_nnx(NnxMLP)
    x_bad = jnp.ones((12, 5), jnp.float32)
    with pytest.raises(ValueError, match=r"x with shape \(12, 5\)"):
        net.init(jax.random.key(0), x_bad)
    state = net.init(jax.random.key(0), X_DENSE)
    with pytest.raises(ValueError, match=r"inputs of shape \(5,\)"):
        net.apply(state, x_bad)
    with pytest.raises(ValueError, match=r"x with shape \(12, 5\)"):
        jax.jit(net.apply)(state, x_bad)


def test_nnx_output_rank():
    net = from_nnx(NnxScalar)
    y = net.apply(net.init(jax.random.key(0), X_DENSE), X_DENSE)
    assert y.shape == (X_DENSE.shape[0], 1)
    with flax_promotion():
        ref = NnxScalar(nnx.Rngs(jax.random.key(0)))(X_DENSE)
    assert jnp.array_equal(y[:, 0], ref)
    with pytest.raises(ValueError, match=r"returned shape \(12, 4, 1\)"):
        from_nnx(NnxRank3).init(jax.random.key(0), X_DENSE)


def test_nnx_rejects_non_module():
    with pytest.raises(ValueError, match="from_linen"):
        from_nnx(lambda rngs: LinenMLP())
