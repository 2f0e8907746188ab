"""Engine: determinism, agreement with a per-network loop, chunking, sharding, streaming summaries, errors."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias import summaries

X = np.random.default_rng(0).uniform(-1, 1, size=(24, 3)).astype(np.float32)
NET = jb.nets.mlp(16, 2, "tanh", out=2, bias_var=0.1)


def loop_reference(net, x, n, seed):
    """The slow obvious implementation: one network at a time, keys fold_in(key(seed), i)."""
    base = jax.random.key(seed)
    init, apply = jax.jit(net.init), jax.jit(net.apply)
    return np.stack([np.asarray(apply(init(jax.random.fold_in(base, i), x), x)) for i in range(n)])


def test_sample_matches_per_network_loop():
    y = jb.sample(NET, X, n=20, key=5, progress=False)
    assert y.shape == (20, 24, 2) and y.dtype == np.float32
    np.testing.assert_allclose(y, loop_reference(NET, X, 20, 5), rtol=1e-5, atol=1e-6)
    assert not np.allclose(y[0], y[1])  # different networks


def test_rerun_is_bitwise_identical():
    a = jb.sample(NET, X, n=50, key=1, chunk_size=16, progress=False)
    b = jb.sample(NET, X, n=50, key=1, chunk_size=16, progress=False)
    np.testing.assert_array_equal(a, b)
    c = jb.sample(NET, X, n=50, key=2, chunk_size=16, progress=False)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 70])
def test_same_networks_whatever_the_chunk_size(chunk_size):
    reference = jb.sample(NET, X, n=70, key=3, chunk_size=70, devices=jax.devices()[:1], progress=False)
    y = jb.sample(NET, X, n=70, key=3, chunk_size=chunk_size, progress=False)
    np.testing.assert_allclose(y, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("micro_batch", [None, 1, 3, "auto"])
def test_same_networks_whatever_the_micro_batch(micro_batch):
    reference = jb.sample(NET, X, n=40, key=6, chunk_size=40, devices=jax.devices()[:1], micro_batch=None,
                          progress=False)
    for devices in (jax.devices()[:1], jax.devices()):
        y = jb.sample(NET, X, n=40, key=6, chunk_size=16, devices=devices, micro_batch=micro_batch, progress=False)
        np.testing.assert_allclose(y, reference, rtol=1e-5, atol=1e-6)


def test_bad_micro_batch():
    with pytest.raises(ValueError, match="micro_batch=0"):
        jb.sample(NET, X, n=4, micro_batch=0)


def test_same_networks_on_one_and_eight_devices():
    assert len(jax.devices()) == 8
    one = jb.reduce(NET, X, n=45, key=4, stat=lambda y: jnp.mean(y, axis=0), devices=jax.devices()[:1], progress=False)
    eight = jb.reduce(NET, X, n=45, key=4, stat=lambda y: jnp.mean(y, axis=0), progress=False)
    np.testing.assert_allclose(eight, one, rtol=1e-5, atol=1e-6)


def test_reduce_pytree_stat():
    out = jb.reduce(NET, X, n=9, key=0, stat=lambda y: {"mean": jnp.mean(y), "max": jnp.max(y, axis=0)}, progress=False)
    y = jb.sample(NET, X, n=9, key=0, progress=False)
    np.testing.assert_allclose(out["mean"], y.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["max"], y.max(axis=1), rtol=1e-6)


def test_cpu_micro_batch_fits_the_cache_and_runs_large_networks_alone():
    """On CPU, "auto" takes the largest power of 2 of networks whose working set fits 16 MiB."""
    small = jb.plan(NET, X, n=4096, devices=jax.devices()[:1])
    m = small.micro_batch
    assert m & (m - 1) == 0 and m * small.bytes_per_net <= 16 * 2**20  # a power of 2 that fits
    assert m == 256 or 2 * m * small.bytes_per_net > 16 * 2**20  # the largest one (at most 256)
    big_net = jb.nets.mlp(width=256, depth=4, activation="tanh")
    big = jb.plan(big_net, jb.inputs.grid(2, 64), n=64, devices=jax.devices()[:1])
    assert big.bytes_per_net > 8 * 2**20 and big.micro_batch == 1


def test_no_recompile_on_second_call():
    stat = lambda y: jnp.mean(y)  # noqa: E731
    with jb.caches.count_compiles() as first:
        jb.reduce(NET, X, n=16, key=0, stat=stat, chunk_size=8, progress=False)
    assert first.count("jit(chunk_program)") == 1
    with jb.caches.count_compiles() as again:
        jb.reduce(NET, X, n=24, key=9, stat=stat, chunk_size=8, progress=False)  # other n and key: same program
        jb.reduce(jb.nets.mlp(16, 2, "tanh", out=2, bias_var=0.1), X, n=16, key=0, stat=stat, chunk_size=8,
                  progress=False)  # an equal spec built again
    assert again == []


def test_options_value_and_keywords_agree():
    opts = jb.RunOptions(chunk_size=16, devices=jax.devices()[:2], progress=False, micro_batch=3)
    assert opts == jb.RunOptions(chunk_size=16, devices=tuple(jax.devices()[:2]), progress=False, micro_batch=3)
    assert hash(opts) == hash(jb.RunOptions(chunk_size=16, devices=jax.devices()[:2], progress=False, micro_batch=3))
    a = jb.sample(NET, X, n=40, key=6, options=opts)
    b = jb.sample(NET, X, n=40, key=6, chunk_size=16, devices=jax.devices()[:2], progress=False, micro_batch=3)
    np.testing.assert_array_equal(a, b)
    assert jb.plan(NET, X, n=40, options=opts) == jb.plan(NET, X, n=40, chunk_size=16, devices=jax.devices()[:2],
                                                          micro_batch=3)
    with pytest.raises(ValueError, match=r"options= and chunk_size= given together"):
        jb.sample(NET, X, n=4, options=opts, chunk_size=8)


@pytest.mark.parametrize("field, value", [("chunk_size", 0), ("memory_budget", "lots"), ("devices", []),
                                          ("devices", ["cpu"]), ("progress", "yes"), ("micro_batch", -1)])
def test_bad_options_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        jb.RunOptions(**{field: value})
    with pytest.raises(ValueError, match="options="):
        jb.sample(NET, X, n=4, options={field: value})


def test_n_and_key_are_keywords():
    with pytest.raises(TypeError):
        jb.sample(NET, X, 4)  # noqa
    with pytest.raises(TypeError):
        jb.reduce(NET, X, 4, 0)  # noqa


# ---------------------------------------------------------------- summaries


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_moments_match_numpy(chunk_size):
    stat = lambda y: jnp.mean(y, axis=0)  # noqa: E731
    values = jb.reduce(NET, X, n=64, key=7, stat=stat, progress=False).astype(np.float64)
    got = jb.summarize(NET, X, n=64, key=7, stat=stat, summary=summaries.moments(), chunk_size=chunk_size,
                       progress=False)
    assert got["count"] == 64
    np.testing.assert_allclose(got["mean"], values.mean(axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["var"], values.var(axis=0, ddof=1), rtol=1e-4)
    np.testing.assert_allclose(got["sem"], values.std(axis=0, ddof=1) / 8, rtol=1e-4)


def test_moments_merge_is_stable_for_large_offsets():
    # Chan's merge in float64 on the host: a constant offset of 1e4 must not swamp a variance of 1.
    rng = np.random.default_rng(1)
    data = (1e4 + rng.normal(size=(4096,))).astype(np.float32)
    s = summaries.moments()
    state = None
    for part in np.array_split(data, 64):
        state = s.merge(state, jax.device_get(s.partial(jnp.asarray(part), jnp.ones(len(part), bool))))
    res = s.result(state)
    np.testing.assert_allclose(res["var"], data.astype(np.float64).var(ddof=1), rtol=1e-4)


def test_histogram_matches_numpy():
    stat = lambda y: jnp.mean(y[:, 0] > 0)  # noqa: E731
    values = jb.reduce(NET, X, n=200, key=2, stat=stat, progress=False)
    got = jb.summarize(NET, X, n=200, key=2, stat=stat, summary=summaries.histogram(10, (0.0, 1.0)), chunk_size=48,
                       progress=False)
    expected, edges = np.histogram(values, bins=10, range=(0.0, 1.0))
    np.testing.assert_array_equal(got["counts"], expected)
    np.testing.assert_allclose(got["edges"], edges)
    assert got["underflow"] == got["overflow"] == got["nan"] == 0


def test_count_distinct_matches_counter():
    x = np.asarray(jb.inputs.hypercube(5), np.float32)
    net = jb.nets.mlp(8, 1, "relu", bias_var=1.0)
    stat = lambda y: y[:, 0] > 0  # noqa: E731
    tables = jb.reduce(net, x, n=500, key=0, stat=stat, progress=False)
    expected = collections.Counter(tuple(t) for t in tables.astype(int))
    got = jb.summarize(net, x, n=500, key=0, stat=stat, summary=summaries.count_distinct(), chunk_size=64,
                       progress=False)
    assert got["exact"] and got["total"] == 500
    decoded = summaries.unpack_bits(got["keys"], 32).astype(int)
    found = {tuple(t): int(c) for t, c in zip(decoded, got["counts"])}
    assert found == dict(expected)
    assert list(got["counts"]) == sorted(got["counts"], reverse=True)


def test_count_distinct_hashes_long_tables():
    x = np.asarray(jb.inputs.hypercube(11), np.float32)  # 2048 bits > 1024: hashed
    net = jb.nets.mlp(8, 1, "relu", bias_var=1.0)
    stat = lambda y: y[:, 0] > 0  # noqa: E731
    tables = jb.reduce(net, x, n=40, key=0, stat=stat, progress=False)
    got = jb.summarize(net, x, n=40, key=0, stat=stat, summary=summaries.count_distinct(), chunk_size=16,
                       progress=False)
    assert not got["exact"]
    assert sorted(got["counts"]) == sorted(collections.Counter(t.tobytes() for t in tables).values())


def test_chunk_size_independent_of_n_for_scalar_stats():
    stat = lambda y: jnp.mean(y)  # noqa: E731
    small = jb.plan(NET, X, n=10**5, stat=stat, memory_budget="64MB")
    huge = jb.plan(NET, X, n=10**6, stat=stat, memory_budget="64MB")
    assert small.chunk_size == huge.chunk_size
    assert huge.n_chunks * huge.chunk_size >= 10**6


def test_memory_budget_limits_chunk():
    p = jb.plan(NET, X, n=10_000, memory_budget=20 * jb.plan(NET, X, n=1).bytes_per_net + X.nbytes)
    assert p.chunk_size <= 20


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n(n):
    with pytest.raises(ValueError, match=r"n=.*positive integer"):
        jb.sample(NET, X, n=n)


def test_non_finite_inputs():
    x = X.copy()
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        jb.sample(NET, x, n=4)


def test_input_dimension_mismatch():
    net = jb.nets.mlp(8, 2, in_dim=3)
    with pytest.raises(ValueError, match=r"x with shape \(10, 2\).*\(n_points, 3\)"):
        jb.sample(net, np.zeros((10, 2), np.float32), n=4)


def test_memory_budget_too_small():
    with pytest.raises(ValueError, match=r"memory_budget=100 bytes is too small for one network"):
        jb.sample(NET, X, n=4, memory_budget=100)


@pytest.mark.parametrize("budget", ["lots", -5, 0])
def test_bad_memory_budget(budget):
    with pytest.raises(ValueError, match="memory_budget"):
        jb.sample(NET, X, n=4, memory_budget=budget)


@pytest.mark.parametrize("key", [-1, "seed", 1.5])
def test_bad_key(key):
    with pytest.raises(ValueError, match="key="):
        jb.sample(NET, X, n=4, key=key)


def test_bad_chunk_size():
    with pytest.raises(ValueError, match="chunk_size=0"):
        jb.sample(NET, X, n=4, chunk_size=0)


def test_user_net_shape_error_is_named():
    def init(key, x):
        return jax.random.normal(key, (5, 1))

    def apply(w, x):
        return x @ w  # fails for d != 5

    with pytest.raises(ValueError, match=r"net could not be applied to x of shape \(24, 3\)"):
        jb.sample(jb.nets.Net(init, apply), X, n=3)


def test_stat_shape_error_is_named():
    with pytest.raises(ValueError, match=r"stat could not be applied to one network's outputs of shape \(24, 2\)"):
        jb.reduce(NET, X, n=3, stat=lambda y: y @ jnp.ones((5,), y.dtype))


def test_a_bug_in_user_code_propagates_unchanged():
    """Only errors that mean "does not fit these inputs" become ValueError; a bug keeps its type and traceback."""
    def init(key, x):
        return {"w": jax.random.normal(key, (3, 1))}

    def apply(params, x):
        return x @ params["missing"]  # a bug: KeyError

    with pytest.raises(KeyError, match="missing"):
        jb.sample(jb.nets.Net(init, apply), X, n=3)

    def stat(y):
        return 1 / 0

    with pytest.raises(ZeroDivisionError):
        jb.reduce(NET, X, n=3, stat=stat)


def test_unhashable_stat_is_named():
    class Stat:  # a mutable class: unhashable once it defines __eq__
        def __eq__(self, other):
            return False

        def __call__(self, y):
            return jnp.mean(y)

    with pytest.raises(ValueError, match="stat=.*hashable"):
        jb.reduce(NET, X, n=3, stat=Stat())


def test_typed_and_raw_keys_give_the_same_networks():
    a = jb.sample(NET, X, n=5, key=11, progress=False)
    b = jb.sample(NET, X, n=5, key=jax.random.key(11), progress=False)
    c = jb.sample(NET, X, n=5, key=jax.random.PRNGKey(11), progress=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("family", ["transformer_tokens", "cnn", "resnet_batch_norm"])
def test_every_family_runs_through_the_engine_and_matches_a_loop(family):
    rng = np.random.default_rng(0)
    if family == "transformer_tokens":
        net, x = jb.nets.transformer(16, 2, 2, 32, vocab_size=11), rng.integers(0, 11, size=(5, 7))
    elif family == "cnn":
        net, x = jb.nets.cnn([4, 8], out=3), rng.normal(size=(5, 8, 8, 1)).astype(np.float32)
    else:
        net, x = jb.nets.resnet(16, 2, norm="batch_pre"), rng.normal(size=(5, 12)).astype(np.float32)
    y = jb.sample(net, x, n=6, key=2, chunk_size=4, progress=False)
    np.testing.assert_allclose(y, loop_reference(net, x, 6, 2), rtol=1e-5, atol=1e-5)
