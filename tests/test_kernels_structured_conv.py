"""Structured empirical NTK of conv and residual nets: against a by-hand Jacobian contraction (float32
and float64), the NTK-vector products, a closed form with a numpy im2col, and a user net with 1-D
dilated convolutions; refusals and the automatic choice."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.kernels import empirical_ntk
from jaxbias.kernels.empirical import _structured_order
from jaxbias.nets.core import AffineTap, ConvTap, affine_taps

RNG = np.random.RandomState(0)
IMAGES = RNG.randn(4, 9, 9, 2).astype(np.float32)
IMAGES2 = RNG.randn(3, 9, 9, 2).astype(np.float32)

NETS = {
    # stride 2 + SAME (kernel 3, Jacobian order) then VALID kernel 5 down to one position (Gram order), avg pool
    "strided_valid_k5": lambda: jb.nets.cnn([3, 4], kernel_size=[3, 5], stride=[2, 1], padding=["SAME", "VALID"],
                                            out=2, bias_var=0.1),
    # int padding, max pooling, flatten instead of global pooling, no biases, ntk parameterization
    "maxpool_flatten_ntk": lambda: jb.nets.cnn([3], kernel_size=3, padding=1, pool="max", global_pool=False,
                                               out=3, bias=False, parameterization="ntk"),
    "avgpool_layernorm_ntk": lambda: jb.nets.cnn([2, 3], kernel_size=3, pool="avg", norm="layer_pre", out=2, bias_var=0.2, parameterization="ntk"),
    "resnet_conv_layernorm_ntk": lambda: jb.nets.resnet(3, 2, 2, kind="conv", norm="layer_post", out=2,
                                                        bias_var=0.1, parameterization="ntk"),
    "resnet_dense_post": lambda: jb.nets.resnet(5, 3, 2, kind="dense", norm="layer_post",
                                                out=3, bias_var=0.1, residual_scale=0.5),
}
DEFAULT = ("strided_valid_k5", "maxpool_flatten_ntk", "resnet_conv_layernorm_ntk")


def points(name):
    if name == "resnet_dense_post":
        return IMAGES.reshape(4, -1)[:, :12], IMAGES2.reshape(3, -1)[:, :12]
    return IMAGES, IMAGES2


def reference_ntk(apply, params, x1, x2):
    """The obvious way: every parameter's Jacobian by jacrev (one compiled program for both point
    sets, whose points are independent), flattened to (n, O, P), contracted in float64 by hand ->
    ``(T(x1, x1), T(x1, x2))``, each (n1, n, O, O)."""
    leaves = jax.tree_util.tree_leaves(jax.jit(jax.jacrev(apply))(params, np.concatenate([x1, x2])))
    flat = np.concatenate([np.asarray(j, np.float64).reshape(j.shape[0], j.shape[1], -1) for j in leaves], -1)
    n1 = x1.shape[0]
    return np.einsum("aop,bqp->aboq", flat[:n1], flat[:n1]), np.einsum("aop,bqp->aboq", flat[:n1], flat[n1:])


@functools.cache
def case(name):
    net = NETS[name]()
    x1, x2 = points(name)
    params = net.init(jax.random.key(1), x1)
    return (net, params, x1, x2, *reference_ntk(net.apply, params, x1, x2))


def traced(full):
    return np.einsum("aboo->ab", full) / full.shape[-1]


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow) for n in NETS])
def test_structured_matches_jacobian_by_hand(name):
    net, params, x1, x2, ref_self, ref_cross = case(name)
    tol = dict(rtol=2e-4, atol=1e-5 * np.abs(ref_self).max())
    structured = empirical_ntk(net, params, x1, x2, method="structured", trace=False)
    np.testing.assert_allclose(structured, ref_cross, **tol)
    if name == "maxpool_flatten_ntk" or name not in DEFAULT:  # the vector products agree too
        np.testing.assert_allclose(empirical_ntk(net, params, x1, x2, method="ntvp", trace=False), structured, **tol)
    if name == "strided_valid_k5" or name not in DEFAULT:  # every option on one default net (one compile each)
        np.testing.assert_allclose(empirical_ntk(net, params, x1, method="structured"), traced(ref_self), **tol)
        diag = empirical_ntk(net, params, x1, method="structured", diagonal=True, trace=False)
        np.testing.assert_allclose(diag, np.einsum("aaop->aop", ref_self), **tol)
        blocked = empirical_ntk(net, params, x1, method="structured", block_size=3)
        np.testing.assert_allclose(blocked, traced(ref_self), **tol)


def test_both_contraction_orders_are_used():
    # strided_valid_k5 (checked against the Jacobian above): its first conv has 25 output positions
    # (Jacobian order), its second one position and the readout is dense (Gram order)
    net = NETS["strided_valid_k5"]()
    params = jax.eval_shape(net.init, jax.random.key(1), IMAGES)
    taps = jax.eval_shape(lambda p: affine_taps(net)(p, IMAGES, None)[1], params)  # shapes only
    orders = [_structured_order(t, 4, 3, 2, False, False, False) for t in taps]
    assert orders == ["jacobian", "gram", "gram"] and isinstance(taps[0], ConvTap) and isinstance(taps[2], AffineTap)


@pytest.mark.slow  # float64 on a default test: the linear closed form (ntk parameterization)
@pytest.mark.parametrize("name", ["maxpool_flatten_ntk", "resnet_conv_layernorm_ntk"])
def test_float64_to_1e10(name):
    with jax.enable_x64(True):
        net = NETS[name]()
        x1, x2 = (np.asarray(x, np.float64) for x in points(name))
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), net.init(jax.random.key(1), x1))
        _, ref = reference_ntk(net.apply, params, x1, x2)
        got = empirical_ntk(net, params, x1, x2, method="structured", trace=False)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


def im2col(x, k, stride, pad):
    """Windows of ``x (n, H, W, C)`` by loops: ``(n, positions, k * k * C)`` (zero padding ``pad``)."""
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out_h = (xp.shape[1] - k) // stride + 1
    out_w = (xp.shape[2] - k) // stride + 1
    cols = np.zeros((x.shape[0], out_h * out_w, k * k * x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            cols[:, i * out_w + j] = xp[:, i * stride:i * stride + k, j * stride:j * stride + k, :].reshape(x.shape[0], -1)
    return cols


@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
def test_linear_cnn_closed_form(parameterization):
    # f(x) = s_v V^T hbar + t_c c, hbar = mean_p (s_w W . patch[p] + t_b b): a linear conv (6 x 6
    # positions), 2 x 2 average pooling (no position cropped, so the mean is unchanged), global
    # average pooling, dense readout. Its parameter gradients: d/dW[k, c] = s_w s_v V[c, o] pbar[k],
    # d/db[c] = t_b s_v V[c, o], d/dV[c, o'] = s_v delta hbar_c, d/dc = t_c delta, so
    # T_oo'(x, y) = s_v^2 (V V^T)_oo' (s_w^2 pbar_x . pbar_y + t_b^2) + delta_oo' (s_v^2 hbar_x . hbar_y + t_c^2).
    # Under "ntk" in float64, to 1e-10.
    cw, cb, k, stride, pad, width = 1.5, 0.3, 3, 2, 2, 4
    ntk = parameterization == "ntk"
    with jax.enable_x64(ntk):
        dtype = np.float64 if ntk else np.float32
        net = jb.nets.cnn([width], kernel_size=k, stride=stride, padding=pad, activation="linear", out=2,
                          pool="avg", weight_var=cw, bias_var=cb, parameterization=parameterization)
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), net.init(jax.random.key(4), IMAGES))
        w = np.asarray(params["conv"][0]["w"], np.float64).reshape(-1, width)  # (k k C, width), im2col order
        b = np.asarray(params["conv"][0]["b"], np.float64)
        v = np.asarray(params["readout"]["w"], np.float64)
        s_w, t_b = (math.sqrt(cw / (k * k * 2)), math.sqrt(cb)) if ntk else (1.0, 1.0)
        s_v, t_c = (math.sqrt(cw / width), math.sqrt(cb)) if ntk else (1.0, 1.0)
        pbar = [im2col(np.asarray(x, np.float64), k, stride, pad).mean(axis=1) for x in (IMAGES, IMAGES2)]
        hbar = [s_w * p @ w + t_b * b for p in pbar]
        expected = (s_v**2 * (v.T @ v)[None, None] * (s_w**2 * pbar[0] @ pbar[1].T + t_b**2)[:, :, None, None]
                    + np.eye(2)[None, None] * (s_v**2 * hbar[0] @ hbar[1].T + t_c**2)[:, :, None, None])
        got = empirical_ntk(net, params, IMAGES.astype(dtype), IMAGES2.astype(dtype), method="structured", trace=False)
        assert got.dtype == dtype
    rtol = 1e-10 if ntk else 1e-5
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_user_net_with_1d_dilated_convolution():
    # a user net registering its own taps: 1-D conv with kernel dilation 2, stride 1, VALID, tanh,
    # mean over positions, dense readout; the tap API is not tied to the built-in families.
    dims = ("NWC", "WIO", "NWC")

    def forward(params, x, eps=None, record=False):
        z = jax.lax.conv_general_dilated(x, params["w"], (1,), "VALID", rhs_dilation=(2,), dimension_numbers=dims)
        z = z + params["b"][None, None, :]
        if eps is not None:
            z = z + eps[0][0]
        h = jnp.mean(jnp.tanh(z), axis=1)
        y = h @ params["v"]
        if eps is not None:
            y = y + eps[1][0]
        one, zero = jnp.ones((1,)), jnp.zeros((1,))
        taps = [ConvTap(x[None], z[None], one, one, (3,), (1,), "VALID", (2,)), AffineTap(h[None], y[None], one, zero)]
        return y, taps if record else None

    def apply(params, x):
        return forward(params, x)[0]

    net = jb.nets.Net(lambda key, x: None, apply, tapped=lambda params, x, eps: forward(params, x, eps, record=True))
    keys = jax.random.split(jax.random.key(0), 3)
    params = {"w": jax.random.normal(keys[0], (3, 2, 4)) / 3, "b": jax.random.normal(keys[1], (4,)),
              "v": jax.random.normal(keys[2], (4, 2))}
    x1, x2 = RNG.randn(4, 11, 2).astype(np.float32), RNG.randn(3, 11, 2).astype(np.float32)
    _, ref = reference_ntk(apply, params, x1, x2)
    got = empirical_ntk(net, params, x1, x2, method="structured", trace=False, per_point=True)
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-5 * np.abs(ref).max())


def test_batch_norm_refuses_structured_and_auto_falls_back():
    net = jb.nets.cnn([2], kernel_size=3, norm="batch_post", out=2)
    params = net.init(jax.random.key(0), IMAGES)
    with pytest.raises(ValueError, match="method='structured': not available because the net's points are coupled"):
        empirical_ntk(net, params, IMAGES, method="structured")
    with pytest.raises(ValueError, match="method='structured': not available because wrt is given"):
        empirical_ntk(NETS["strided_valid_k5"](), case("strided_valid_k5")[1], IMAGES, method="structured",
                      wrt=lambda path, leaf: True)
    assert jb.kernels.auto_method(net, params, IMAGES) in ("jacobian", "ntvp")
    mlp = jb.nets.mlp(4, 1, norm="batch_pre")  # batch statistics couple an mlp's points too
    with pytest.raises(ValueError, match="points are coupled"):
        jb.kernels.ntk_fn(mlp, method="structured")
    # coupled points: each output depends on every point, so the reference differentiates the whole batch
    jac = jax.tree_util.tree_leaves(jax.jit(jax.jacrev(net.apply))(params, IMAGES))
    flat = np.concatenate([np.asarray(j, np.float64).reshape(j.shape[0], j.shape[1], -1) for j in jac], -1)
    ref = np.einsum("aop,bop->ab", flat, flat) / flat.shape[1]
    np.testing.assert_allclose(empirical_ntk(net, params, IMAGES), ref, rtol=2e-4, atol=1e-5 * np.abs(ref).max())


def test_auto_picks_structured_for_a_cnn_with_many_outputs():
    # 10 outputs: the Jacobian needs 10 full backward passes per point, the vector products 10 per
    # pair of points; the structured method one forward and 10 cotangent passes, and the Gram
    # order on the layers with few positions
    net = jb.nets.cnn([8, 8], kernel_size=3, stride=2, out=10)
    x = np.ones((16, 16, 16, 3), np.float32)
    params = jax.eval_shape(net.init, jax.random.key(0), x)  # only the shapes matter
    assert jb.kernels.auto_method(net, params, x, trace=False) == "structured"


def test_patches_are_the_windows_of_lax_conv_patches():
    # the windows the structured method slices out, against lax.conv_general_dilated_patches
    # (channel-major there: reordered to (*kernel, channel))
    from jaxbias.kernels.empirical import _patches

    for shape, kernel, stride, padding, dilation in [((2, 9, 8, 3), (5, 3), (2, 1), "SAME", (2, 1)),
                                                     ((2, 9, 8, 3), (3, 2), (2, 2), ((1, 2), (0, 1)), (1, 1)),
                                                     ((2, 10, 3), (4,), (3,), "VALID", (1,))]:
        x = jnp.asarray(RNG.randn(*shape).astype(np.float32))
        got = _patches(ConvTap(x[None], x[None], jnp.ones(1), jnp.ones(1), kernel, stride, padding, dilation))[0]
        sp = "HW" if len(kernel) == 2 else "W"
        ref = jax.lax.conv_general_dilated_patches(x, kernel, stride, padding, rhs_dilation=dilation,
                                                   dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))
        ref = jnp.swapaxes(ref.reshape(shape[0], -1, shape[-1], math.prod(kernel)), -1, -2)
        np.testing.assert_array_equal(got, ref.reshape(got.shape))
