"""Empirical NTK: the three methods against a by-hand Jacobian, finite differences and closed forms;
blocking; flax nets; NTK moments and Monte Carlo NNGP against per-network loops and closed forms."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jaxbias as jb
from jaxbias.kernels import empirical_ntk
from jaxbias.nets.core import affine_taps

METHODS = ("jacobian", "ntvp", "structured")
X = np.asarray(jb.inputs.sphere(3, 9, key=1))
X2 = np.asarray(jb.inputs.sphere(3, 4, key=2)) * 1.5

NETS = {
    "relu_d1": lambda: jb.nets.mlp(12, 1, "relu", out=2, bias_var=0.2),
    "tanh_d4_scan_ntk": lambda: jb.nets.mlp(8, 4, "tanh", out=2, bias_var=0.3, parameterization="ntk"),
    "residual_layernorm_out3": lambda: jb.nets.mlp(8, 2, "gelu", out=3, residual=True, norm="layer_pre",
                                                   bias_var=0.1),
    "maxpool_nobias": lambda: jb.nets.mlp(8, 2, "relu", out=2, pool="max", bias=False),
}
FULL_CHECK = ("relu_d1", "tanh_d4_scan_ntk")
DEFAULT_NET = "tanh_d4_scan_ntk"  # the one net of the default tests (one compile per program, reused)


@functools.lru_cache(maxsize=None)
def _jacobian(apply):
    return jax.jit(jax.jacrev(apply))


def reference_ntk(apply, params, x1, x2):
    """The obvious way: full Jacobian of every parameter leaf, flattened to (n, O, P), contracted by
    hand in float64 (one compiled jacrev per apply function)."""
    def flat(x):
        leaves = jax.tree_util.tree_leaves(_jacobian(apply)(params, x))
        return np.concatenate([np.asarray(j, np.float64).reshape(j.shape[0], j.shape[1], -1) for j in leaves], -1)

    return np.einsum("aop,bqp->aboq", flat(x1), flat(x2))  # (n1, n2, O, O)


@functools.lru_cache(maxsize=None)
def default_case():
    """The default net, its parameters and reference kernels on X x X and X x X2 (computed once)."""
    net = NETS[DEFAULT_NET]()
    params = net.init(jax.random.key(3), X)
    return net, params, reference_ntk(net.apply, params, X, X), reference_ntk(net.apply, params, X, X2)


def traced(full):
    return np.einsum("aboo->ab", full) / full.shape[-1]


@pytest.mark.parametrize("name", [n if n == DEFAULT_NET else pytest.param(n, marks=pytest.mark.slow) for n in NETS])
def test_methods_agree_with_jacobian_by_hand(name):
    if name == DEFAULT_NET:
        net, params, ref_self, ref_cross = default_case()
    else:
        net = NETS[name]()
        params = net.init(jax.random.key(3), X)
        ref_self = reference_ntk(net.apply, params, X, X)
        ref_cross = reference_ntk(net.apply, params, X, X2)
    scale = np.abs(ref_self).max()
    tol = dict(rtol=1e-4, atol=1e-5 * scale)
    for method in METHODS:
        np.testing.assert_allclose(empirical_ntk(net, params, X, X2, method=method, trace=False), ref_cross, **tol)
        if name in FULL_CHECK:  # every option on two nets (each option is one more compile)
            np.testing.assert_allclose(empirical_ntk(net, params, X, method=method), traced(ref_self), **tol)
            diag = empirical_ntk(net, params, X, method=method, diagonal=True, trace=False)
            np.testing.assert_allclose(diag, np.einsum("aaop->aop", ref_self), **tol)
    if name != DEFAULT_NET:  # auto (structured, traced, x2 given) on the default net: test_blocked_equals_reference
        np.testing.assert_allclose(empirical_ntk(net, params, X, X2), traced(ref_cross), **tol)


def test_jacobian_against_finite_differences():
    net = jb.nets.mlp(5, 1, "tanh", out=2, bias_var=0.5)
    x = X[:4]
    params = net.init(jax.random.key(0), x)
    flat, unravel = ravel_pytree(params)
    flat = np.asarray(flat, np.float64)
    h = 1e-2
    cols = []
    for p in range(flat.size):  # central differences, one parameter at a time
        step = np.zeros_like(flat)
        step[p] = h
        up = np.asarray(net.apply(unravel(jnp.asarray(flat + step, jnp.float32)), x), np.float64)
        down = np.asarray(net.apply(unravel(jnp.asarray(flat - step, jnp.float32)), x), np.float64)
        cols.append((up - down) / (2 * h))
    jac = np.stack(cols, axis=-1)  # (n, O, P)
    expected = np.einsum("aop,bop->ab", jac, jac) / 2
    # the other methods agree with the by-hand Jacobian (test above)
    np.testing.assert_allclose(empirical_ntk(net, params, x, method="jacobian"), expected, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
def test_one_hidden_layer_relu_closed_form(parameterization):
    # f(x) = s2 sum_j v_j relu(s1 w_j.x + t1 b_j) + t2 c, scales s (weights) and t (biases) in the
    # forward pass under "ntk", all 1 under "standard". Differentiating by hand:
    # T(x, x') = s2^2 sum_j v_j^2 1[z_j > 0] 1[z'_j > 0] (s1^2 x.x' + t1^2) + s2^2 sum_j relu(z_j) relu(z'_j) + t2^2.
    cw, cb, width = 2.0, 0.3, 16
    net = jb.nets.mlp(width, 1, "relu", weight_var=cw, bias_var=cb, parameterization=parameterization)
    params = net.init(jax.random.key(5), X)
    first, last = (np.asarray(params["layers"][i]["w"], np.float64) for i in (0, 1))
    b1 = np.asarray(params["layers"][0]["b"], np.float64)
    if parameterization == "ntk":
        s1, t1, s2, t2 = math.sqrt(cw / X.shape[1]), math.sqrt(cb), math.sqrt(cw / width), math.sqrt(cb)
    else:
        s1 = t1 = s2 = t2 = 1.0
    x = X.astype(np.float64)
    z = s1 * x @ first + t1 * b1
    act, ind = np.maximum(z, 0), (z > 0).astype(np.float64)
    v2 = last[:, 0] ** 2
    expected = (s2**2 * (ind * v2) @ ind.T * (s1**2 * x @ x.T + t1**2)
                + s2**2 * act @ act.T + t2**2)
    for method in METHODS:
        np.testing.assert_allclose(empirical_ntk(net, params, X, method=method), expected, rtol=1e-5, atol=1e-5)


def test_linear_net_closed_form():
    # f(x) = v.(W x), no biases: T(x, x') = |v|^2 x.x' + (W x).(W x').
    net = jb.nets.mlp(7, 1, "linear", bias=False)
    params = net.init(jax.random.key(2), X)
    w, v = (np.asarray(params["layers"][i]["w"], np.float64) for i in (0, 1))
    x = X.astype(np.float64)
    expected = (v[:, 0] @ v[:, 0]) * x @ x.T + (x @ w) @ (x @ w).T
    np.testing.assert_allclose(empirical_ntk(net, params, X), expected, rtol=1e-5, atol=1e-6)


def test_blocked_equals_reference():
    net, params, ref_self, ref_cross = default_case()
    tol = dict(rtol=1e-4, atol=1e-5 * np.abs(ref_self).max())
    np.testing.assert_allclose(empirical_ntk(net, params, X, block_size=4, trace=False), ref_self, **tol)
    np.testing.assert_allclose(empirical_ntk(net, params, X, X2, block_size=3), traced(ref_cross), **tol)
    diag = empirical_ntk(net, params, X, diagonal=True, block_size=4)
    np.testing.assert_allclose(diag, np.diagonal(traced(ref_self)), **tol)
    # a budget below the whole problem's peak gives smaller blocks and the same kernel
    small = empirical_ntk(net, params, X, method="jacobian", trace=False, memory_budget=40_000)
    np.testing.assert_allclose(small, ref_self, **tol)
    with pytest.raises(ValueError, match="memory_budget=.*too small for one point"):
        empirical_ntk(net, params, X, memory_budget=100)


def test_jacobian_self_kernel_by_upper_blocks():
    # 200 points: the Gram matrix J J^T is assembled from 3 uneven row blocks (67, 67, 66)
    net = NETS["relu_d1"]()
    x = np.asarray(jb.inputs.sphere(3, 200, key=4))
    params = net.init(jax.random.key(0), x)
    ref = traced(reference_ntk(net.apply, params, x, x))
    np.testing.assert_allclose(empirical_ntk(net, params, x, method="jacobian"), ref, rtol=1e-4,
                               atol=1e-5 * np.abs(ref).max())


def test_block_size_from_budget_fits_it():
    from jaxbias.kernels.empirical import block_size_for, ntk_fn
    from jaxbias.memory import jaxpr_peak_bytes

    net = NETS["relu_d1"]()
    x = jnp.asarray(jb.inputs.sphere(3, 64))
    params = net.init(jax.random.key(0), x)
    program = ntk_fn(net, method="jacobian", trace=False)
    full = jaxpr_peak_bytes(jax.make_jaxpr(program)(params, x, None).jaxpr)
    budget = full // 4
    b = block_size_for(program, params, x, None, budget, False)
    assert 1 <= b < 64
    assert jaxpr_peak_bytes(jax.make_jaxpr(program)(params, x[:b], None).jaxpr) <= budget


def test_taps_hook_leaves_apply_unchanged_and_exposes_layers():
    net = jb.nets.mlp(6, 2, "tanh", out=2, bias_var=0.2)
    params = net.init(jax.random.key(0), X)
    tapped = affine_taps(net)
    y, taps = tapped(params, X, None)
    np.testing.assert_array_equal(y, net.apply(params, X))
    w = [np.asarray(p["w"], np.float64) for p in params["layers"]]
    b = [np.asarray(p["b"], np.float64) for p in params["layers"]]
    h1 = np.tanh(X @ w[0] + b[0])
    np.testing.assert_allclose(taps[1].inputs[0], h1, rtol=1e-5, atol=1e-6)  # input of layer 2 by hand
    eps = [jnp.zeros(t.outputs.shape) for t in taps]
    eps[-1] = jnp.ones(taps[-1].outputs.shape)
    np.testing.assert_allclose(tapped(params, X, eps)[0], np.asarray(y) + 1.0, rtol=1e-6)
    assert affine_taps(jb.nets.transformer(8, 1, 2, 8)) is None


def test_flax_linen_and_nnx():
    import flax.linen as nn
    from flax import nnx

    class Linen(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(jnp.tanh(nn.Dense(8)(x)))

    class Nnx(nnx.Module):
        def __init__(self, rngs):
            self.a, self.b = nnx.Linear(3, 8, rngs=rngs), nnx.Linear(8, 2, rngs=rngs)

        def __call__(self, x):
            return self.b(jnp.tanh(self.a(x)))

    for net, methods in ((jb.nets.from_linen(Linen()), ("jacobian", "ntvp")), (jb.nets.from_nnx(Nnx), ("auto",))):
        params = net.init(jax.random.key(0), X)
        ref = traced(reference_ntk(net.apply, params, X, X2))
        for method in methods:
            np.testing.assert_allclose(empirical_ntk(net, params, X, X2, method=method), ref, rtol=1e-4, atol=1e-5)
        with pytest.raises(ValueError, match="method='structured'"):
            empirical_ntk(net, params, X, method="structured")


def test_auto_method_by_cost():
    x = np.asarray(jb.inputs.sphere(3, 16))
    mlp = jb.nets.mlp(8, 2, "tanh", out=10)
    params = mlp.init(jax.random.key(0), x)
    assert jb.kernels.auto_method(mlp, params, x) == "structured"
    # a dense net with 10 outputs: ~n^2 O F for the vector products against ~n^2 O^2 P for the contraction
    assert jb.kernels.auto_method(mlp, params, x, wrt=lambda path, leaf: True) == "ntvp"
    # a convolution reuses its 4 x 9 weights at 64 positions (F >> P), one output: the contraction
    # (among the two methods for any net; the structured one needs every parameter)
    cnn = jb.nets.cnn([4], kernel_size=3)
    images = np.ones((16, 8, 8, 1), np.float32)
    cnn_params = cnn.init(jax.random.key(0), images)
    assert jb.kernels.auto_method(cnn, cnn_params, images, wrt=lambda path, leaf: True) == "jacobian"


def test_linen_batch_stats_are_not_differentiated():
    import flax.linen as nn

    class WithBN(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.BatchNorm(use_running_average=True)(nn.Dense(6)(x))
            return nn.Dense(1)(jnp.tanh(h))

    net = jb.nets.from_linen(WithBN())
    variables = net.init(jax.random.key(0), X)
    only_params = lambda p, x: net.apply({**variables, "params": p}, x)  # noqa: E731
    ref = traced(reference_ntk(only_params, variables["params"], X, X))
    np.testing.assert_allclose(empirical_ntk(net, variables, X), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="fast"), "method='fast'"),
        (dict(x2=X2, diagonal=True), "diagonal=True"),
        (dict(x2=np.ones((3, 5), np.float32)), "x2 with shape"),
        (dict(trace=1), "trace=1"),
        (dict(block_size=0), "block_size=0"),
        (dict(memory_budget="lots"), "memory_budget='lots'"),
        (dict(x1=np.full((2, 3), np.nan, np.float32)), "non-finite"),
        (dict(x1=np.ones((2, 4), np.float32)), "params do not fit"),
    ],
)
def test_bad_input(kwargs, message):
    net = NETS["relu_d1"]()
    params = net.init(jax.random.key(0), X)
    x1 = kwargs.pop("x1", X)
    with pytest.raises(ValueError, match=message):
        empirical_ntk(net, params, x1, **kwargs)


def test_blocking_coupled_points_raises():
    net = jb.nets.resnet(8, 1, norm="batch_pre")
    params = net.init(jax.random.key(0), X)
    with pytest.raises(ValueError, match="blocking needs points"):
        empirical_ntk(net, params, X, block_size=3)


def test_ntk_moments_match_a_loop_over_networks():
    net = NETS["relu_d1"]()
    n, key = 5, 7
    moments = jb.kernels.ntk_moments(net, X, X2, n=n, key=key, trace=False, progress=False)
    kernels = []
    for i in range(n):  # the engine's networks: init(fold_in(key, i), x) on the stacked inputs
        params = net.init(jax.random.fold_in(jax.random.key(key), i), np.concatenate([X, X2]))
        kernels.append(reference_ntk(net.apply, params, X, X2))
    kernels = np.stack(kernels)
    scale = np.abs(kernels).max()
    np.testing.assert_allclose(moments.mean, kernels.mean(0), rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(moments.std, kernels.std(0, ddof=1), rtol=1e-3, atol=1e-4 * scale)
    np.testing.assert_allclose(moments.sem, kernels.std(0, ddof=1) / math.sqrt(n), rtol=1e-3, atol=1e-4 * scale)
    assert moments.n == n and moments.mean.shape == (9, 4, 2, 2)


def arccos1(k11, k12, k22):
    """E[relu(u) relu(v)] for (u, v) Gaussian with covariance [[k11, k12], [k12, k22]] (Cho & Saul 2009)."""
    norm = np.sqrt(k11 * k22)
    theta = np.arccos(np.clip(k12 / norm, -1, 1))
    return norm * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)


def test_monte_carlo_nngp_one_hidden_layer_relu():
    cw, cb, n = 2.0, 0.2, 3000
    net = jb.nets.mlp(32, 1, "relu", out=2, weight_var=cw, bias_var=cb)
    result = jb.kernels.nngp_monte_carlo(net, X, n=n, key=0, progress=False)
    x = X.astype(np.float64)
    k1 = cb + cw * x @ x.T / x.shape[1]
    d = np.diag(k1)
    expected = cb + cw * arccos1(d[:, None], k1, d[None, :])  # exact at any width for one hidden layer
    assert result.n == n
    np.testing.assert_array_less(np.abs(result.mean - expected), 5 * result.sem + 1e-6)
    # a loop over the same networks gives the same mean (the engine's keys)
    ys = [net.apply(net.init(jax.random.fold_in(jax.random.key(0), i), X), X) for i in range(4)]
    loop = np.mean([np.asarray(y, np.float64) @ np.asarray(y, np.float64).T / 2 for y in ys], axis=0)
    np.testing.assert_allclose(jb.kernels.nngp_monte_carlo(net, X, n=4, key=0, progress=False).mean, loop,
                               rtol=1e-5, atol=1e-6)


def test_ntk_command_writes_dataset_and_plot(tmp_path):
    from jaxbias.cli import main

    out, png = tmp_path / "k.nc", tmp_path / "k.png"
    rc = main(["ntk", "--width", "8", "--depth", "2", "--n", "3", "--inputs", "hypercube:3", "--out", str(out),
               "--plot", str(png), "--quiet", "--bias-var", "0.1"])
    assert rc == 0 and png.stat().st_size > 1000
    ds = jb.load(out)
    x = np.asarray(jb.inputs.hypercube(3))
    net = jb.io.net_of(ds)
    assert net.parameterization == "ntk"  # the command's default (width-independent limit)
    kernels = [empirical_ntk(net, net.init(jax.random.fold_in(jax.random.key(0), i), x), x) for i in range(3)]
    np.testing.assert_allclose(ds["ntk_mean"].values, np.mean(kernels, axis=0), rtol=1e-4, atol=1e-5)
    eigs = np.sort(np.linalg.eigvalsh(np.asarray(kernels, np.float64)), axis=1)[:, ::-1]
    np.testing.assert_allclose(ds["eig_init_mean"].values, eigs.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ds["ntk_infinite"].values, jb.kernels.infinite(net, x).ntk, rtol=1e-5)
    assert ds["walsh_infinite"].dims == ("degree",) and ds.attrs["finite_effective_rank"] > 1
    assert main(["ntk", "--n", "1", "--out", str(tmp_path / "r.nc"), "--quiet"]) == 2
    assert main(["ntk", "--depth", "1", "2", "--out", str(tmp_path / "r.nc"), "--quiet"]) == 2


@pytest.mark.slow
def test_mean_empirical_ntk_converges_to_infinite_ntk():
    # E[T] = infinite NTK + O(1/width) and the spread over inits is O(1/sqrt(width)) (Hanin & Nica 2020):
    # every entry of the mean lies within 5 standard errors plus a 1/width bias of the infinite NTK,
    # a band that narrows with width, and the spread falls like 1/sqrt(width).
    x = np.asarray(jb.inputs.sphere(4, 8, key=4))
    spreads = []
    for width in (32, 128, 512):
        net = jb.nets.mlp(width, 2, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
        moments = jb.kernels.ntk_moments(net, x, n=64, key=1, progress=False)
        inf = np.asarray(jb.kernels.infinite(net, x).ntk, np.float64)
        np.testing.assert_array_less(np.abs(moments.mean - inf), 5 * moments.sem + 2.0 / width * np.abs(inf))
        spreads.append(np.linalg.norm(moments.std) / np.linalg.norm(inf))
    ratio = spreads[2] / spreads[0]  # expected sqrt(32 / 512) = 0.25
    assert 0.15 < ratio < 0.4
