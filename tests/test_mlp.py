"""MLP family: init statistics against closed forms and an independent NNGP recursion; options; errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import jaxbias as jb

LAWS = ["normal", "truncated_normal", "uniform", "orthogonal", "sparse(0.25)", "low_rank(3)"]
N_NETS = 4000
X = np.random.default_rng(0).normal(size=(6, 20)).astype(np.float32)


def sample_var_tolerance(n, sigmas=5.0):
    """Relative tolerance of a variance estimate from n Gaussian-like samples (sd ~ sqrt(2/n))."""
    return sigmas * math.sqrt(2.0 / n)


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
def test_first_layer_preactivation_variance(law, parameterization):
    cw, cb = 1.7, 0.3
    net = jb.nets.mlp(8, 0, out=1, weight_var=cw, bias_var=cb, weight_law=law, parameterization=parameterization)
    z = jb.sample(net, X, n=N_NETS, key=1, progress=False)[:, :, 0]  # depth 0: the first pre-activation
    q = (X.astype(np.float64) ** 2).mean(axis=1)
    expected = cw * q + cb  # SCIENCE.md: K1 = C_b + C_W x.x / d0
    np.testing.assert_allclose(z.var(axis=0), expected, rtol=sample_var_tolerance(N_NETS))


def test_absolute_law_variance():
    a = 0.8
    net = jb.nets.mlp(8, 0, weight_law=f"absolute({a})")
    z = jb.sample(net, X, n=N_NETS, key=2, progress=False)[:, :, 0]
    expected = a**2 / 3 * ((X.astype(np.float64) ** 2).sum(axis=1) + 1)  # U(-a,a): var a^2/3, no fan-in scaling
    np.testing.assert_allclose(z.var(axis=0), expected, rtol=sample_var_tolerance(N_NETS))


def gauss_expect(f, var, points=80):
    """E[f(z)], z ~ N(0, var), by Gauss-Hermite quadrature (probabilists' weights)."""
    t, w = hermegauss(points)
    return float(np.sum(w * f(np.sqrt(var) * t)) / np.sqrt(2 * np.pi))


NUMPY_PHI = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "erf": None}


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_deep_preactivation_variance_follows_nngp_recursion(activation):
    """E[z_(l+1)^2] = C_b + C_W E[phi(z_l)^2] with z_l ~ N(0, K_l): the diagonal NNGP recursion."""
    cw, cb, depth, width, units, n = 1.5, 0.1, 3, 256, 16, 2000
    phi = NUMPY_PHI[activation]
    x = X[:2]
    k = cb + cw * (x.astype(np.float64) ** 2).mean(axis=1)
    for _ in range(depth):
        k = np.array([cb + cw * gauss_expect(lambda z: phi(z) ** 2, kk) for kk in k])
    net = jb.nets.mlp(width, depth, activation, out=units, weight_var=cw, bias_var=cb)
    z = jb.sample(net, x, n=n, key=4, progress=False).astype(np.float64)
    # 5 sigma of the mean of z^2 over n nets x `units` readout units (units of one net are
    # correlated at O(1/width)), plus an O(1/width) finite-width bias of the mean.
    rtol = 5 * math.sqrt(2 / (n * units) + 2 / (n * width)) + 4 / width
    np.testing.assert_allclose((z**2).mean(axis=(0, 2)), k, rtol=rtol)


@pytest.mark.parametrize("depth", [2, 6])  # 6: hidden layers stacked and scanned
def test_standard_and_ntk_parameterizations_give_the_same_function(depth):
    x = X[:, :3]
    for law in LAWS + ["absolute(1.5)"]:
        a = jb.nets.mlp(12, depth, "gelu", out=2, weight_var=[1.0 + i / 10 for i in range(depth + 1)], bias_var=0.2,
                        weight_law=law, parameterization="standard")
        b = jb.nets.mlp(12, depth, "gelu", out=2, weight_var=[1.0 + i / 10 for i in range(depth + 1)], bias_var=0.2,
                        weight_law=law, parameterization="ntk")
        key = jax.random.key(3)
        ya = jax.jit(a.apply)(a.init(key, x), x)
        yb = jax.jit(b.apply)(b.init(key, x), x)
        np.testing.assert_allclose(ya, yb, rtol=2e-5, atol=1e-5)


def reference_mlp(params_list, x, phi, residual=False, ln=None, pool=None):
    """A slow obvious MLP in numpy from a list of {"w", "b"} layers."""
    h = np.asarray(x, np.float64)

    def norm(v):
        return (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + 1e-6)

    for i, p in enumerate(params_list):
        z = h @ np.asarray(p["w"], np.float64) + np.asarray(p["b"], np.float64)
        if i == len(params_list) - 1:
            return z
        if ln == "pre":
            z = norm(z)
        a = phi(z)
        if ln == "post":
            a = norm(a)
        if pool:
            a = a.reshape(*a.shape[:-1], -1, pool[1])
            a = a.max(-1) if pool[0] == "max" else a.mean(-1)
        h = h + a if (residual and i > 0) else a


@pytest.mark.parametrize("options", [
    {}, {"residual": True}, {"norm": "layer_pre"}, {"norm": "layer_post"},
    {"pool": "max(2)"}, {"pool": "avg(4)"},
])
def test_options_match_a_numpy_reference(options):
    net = jb.nets.mlp(8, 2, "relu", bias_var=0.5, **options)
    x = X[:, :3]
    params = net.init(jax.random.key(0), x)
    got = np.asarray(net.apply(params, x))
    pool = {"pool": None, "max(2)": ("max", 2), "avg(4)": ("avg", 4)}[options.get("pool", "pool")]
    norm = options.get("norm")
    want = reference_mlp(params["layers"], x, lambda z: np.maximum(z, 0), options.get("residual", False),
                         None if norm is None else norm.split("_")[1], pool)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_scanned_deep_mlp_matches_reference():
    net = jb.nets.mlp(8, 6, "tanh", bias_var=0.5, residual=True)
    x = X[:, :3]
    p = net.init(jax.random.key(1), x)
    layers = [p["first"]] + [{"w": p["hidden"]["w"][i], "b": p["hidden"]["b"][i]} for i in range(5)] + [p["last"]]
    np.testing.assert_allclose(net.apply(p, x), reference_mlp(layers, x, np.tanh, residual=True), rtol=1e-4, atol=1e-5)


def test_orthogonal_weights_are_orthogonal():
    net = jb.nets.mlp(16, 1, weight_law="orthogonal", weight_var=2.0)
    w = net.init(jax.random.key(0), np.zeros((1, 16), np.float32))["layers"][0]["w"]
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(16), atol=1e-4)  # W = sqrt(C_W / fan_in) Q


def test_sparse_and_low_rank_structure():
    x = np.zeros((1, 64), np.float32)
    w = jb.nets.mlp(64, 1, weight_law="sparse(0.1)").init(jax.random.key(0), x)["layers"][0]["w"]
    assert abs(float(jnp.mean(w != 0)) - 0.1) < 5 * math.sqrt(0.1 * 0.9 / w.size)
    w = jb.nets.mlp(64, 1, weight_law="low_rank(3)").init(jax.random.key(0), x)["layers"][0]["w"]
    assert np.linalg.matrix_rank(np.asarray(w, np.float64), tol=1e-4) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "swishy"}, "activation='swishy'"),
    ({"weight_law": "cauchy"}, "weight_law='cauchy'"),
    ({"weight_law": "sparse"}, "needs a parameter"),
    ({"weight_var": -1.0}, "weight_var=-1.0"),
    ({"bias_var": [0.1, -0.1, 0.0]}, "bias_var="),
    ({"weight_var": [1.0, 1.0]}, "a sequence of 3 per-layer numbers, got 2 values"),
    ({"parameterization": "mup"}, "parameterization='mup'"),
    ({"norm": "layer_middle"}, "norm='layer_middle'"),
    ({"norm": "group"}, "norm='group'"),
    ({"pool": "max(3)"}, "window 3 must divide"),
    ({"pool": "min(2)"}, "pool='min(2)'"),
    ({"residual": True, "pool": "avg(2)"}, "nothing to skip"),
    ({"width": 0}, "width=0"),
    ({"depth": -1}, "depth=-1"),
])
def test_bad_arguments(kwargs, message):
    args = {"width": 8, "depth": 2, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        jb.nets.mlp(**args)


def test_wrong_input_dimension_in_apply():
    net = jb.nets.mlp(8, 2)
    p = net.init(jax.random.key(0), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"x with shape \(2, 4\)"):
        net.apply(p, np.zeros((2, 4), np.float32))
