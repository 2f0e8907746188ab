"""cnn, resnet and transformer families: shapes under jit, parameterizations, weight laws,
validation, numpy references for the forward pass, and init statistics against the NNGP
recursion (../shared/SCIENCE.md, section 3)."""

from __future__ import annotations

import functools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import jaxbias as jb
from jaxbias.nets.cnn import cnn
from jaxbias.nets import layers as L
from jaxbias.nets.core import Affine, conv_apply
from jaxbias.nets.resnet import resnet
from jaxbias.nets.transformer import transformer

LAWS = ("normal", "truncated_normal", "uniform", "orthogonal", "sparse(0.5)", "low_rank(2)", "absolute(0.7)")
KEY = jax.random.key(0)
N_KEYS = 2000
SIGMAS = 5.0
# Test-only programs are compiled with XLA's backend optimizations off: on CPU each threefry draw
# otherwise costs about a second of LLVM time, which would dominate this file. Same results up to
# rounding; the library's own jit (shape tests) runs with default options.
_JIT_OPTIONS = {"xla_backend_optimization_level": 0}


def _jit(f):
    return jax.jit(f, compiler_options=_JIT_OPTIONS)


def _init(net, x, key=KEY):
    return _jit(net.init)(key, x)


def _normal(seed, shape, scale=1.0, shift=0.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape) + shift).astype(np.float32)


IMAGES = _normal(1, (3, 6, 6, 2))
VECTORS = _normal(2, (4, 5))
SEQUENCES = _normal(3, (3, 6, 4))
TOKENS = np.random.default_rng(4).integers(0, 11, (3, 6)).astype(np.int32)

SHAPE_CASES = [
    ("cnn_default", lambda: cnn([4, 4]), IMAGES, 1),
    (
        "cnn_per_layer",
        lambda: cnn([4, 3], kernel_size=[3, (1, 3)], stride=[1, 2], padding=["SAME", 1], activation="tanh", out=2),
        IMAGES,
        2,
    ),
    ("cnn_valid_max_flatten", lambda: cnn([4], padding="VALID", pool="max", global_pool=False), IMAGES, 1),
    ("cnn_avg_nobias_orth", lambda: cnn([4, 4], pool="avg", bias=False, weight_law="orthogonal"), IMAGES, 1),
    ("cnn_linear", lambda: cnn([], out=3), IMAGES, 3),
    ("resnet_dense_pre", lambda: resnet(8, 2), VECTORS, 1),
    (
        "resnet_dense_post_layer",
        lambda: resnet(8, 2, 1, activation="tanh", norm="layer_post"),
        VECTORS,
        1,
    ),
    ("resnet_dense_batch", lambda: resnet(8, 3, norm="batch_pre", residual_scale=0.5, out=2), VECTORS, 2),
    ("resnet_no_blocks", lambda: resnet(8, 0), VECTORS, 1),
    ("resnet_conv_pre_batch", lambda: resnet(4, 2, kind="conv", norm="batch_pre"), IMAGES, 1),
    (
        "resnet_conv_post_layer",
        lambda: resnet(4, 1, 3, kind="conv", norm="layer_post", kernel_size=(1, 3)),
        IMAGES,
        1,
    ),
    ("resnet_conv_ntk", lambda: resnet(4, 2, kind="conv", parameterization="ntk", weight_var=2.0), IMAGES, 1),
    ("transformer_tokens_pre", lambda: transformer(8, 2, 2, 16, vocab_size=11), TOKENS, 1),
    (
        "transformer_tokens_post_learned",
        lambda: transformer(8, 2, 4, 16, 11, positional="learned", norm="layer_post", readout="first", causal=True),
        TOKENS,
        1,
    ),
    (
        "transformer_seq_causal",
        lambda: transformer(8, 1, 1, 8, positional=None, causal=True, activation="relu"),
        SEQUENCES,
        1,
    ),
    ("transformer_seq_no_layers", lambda: transformer(8, 0, 2, 8, out=2), SEQUENCES, 2),
    (
        "transformer_seq_post_nobias_ntk",
        lambda: transformer(8, 2, 2, 8, norm="layer_post", bias=False, out=3, parameterization="ntk"),
        SEQUENCES,
        3,
    ),
]


def _fake_params(net, x, seed=0):
    """Params with the structure ``init`` gives under jit, filled with numpy noise (no compile)."""
    shapes = jax.eval_shape(jax.jit(net.init), KEY, x)
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: (0.5 * rng.standard_normal(s.shape)).astype(s.dtype), shapes)


@pytest.mark.parametrize("make, x, out", [c[1:] for c in SHAPE_CASES], ids=[c[0] for c in SHAPE_CASES])
def test_shapes_under_jit_without_recompiling(make, x, out):
    net = make()
    params = _fake_params(net, x)
    traces = []

    def apply(p, xx):
        traces.append(1)
        return net.apply(p, xx)

    f = jax.jit(apply)
    y = f(params, x)
    y2 = f(params, x)
    assert y.shape == (x.shape[0], out)
    assert y.dtype == jnp.float32
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y, y2)
    assert len(traces) == 1
    data = json.loads(json.dumps(jb.nets.to_dict(net)))  # the spec survives a results file's JSON
    assert jb.nets.from_dict(data) == net and hash(jb.nets.from_dict(data)) == hash(net)


# ---------------------------------------------------------------------------------------------
# Validation: every bad argument and input raises ValueError naming it.

BAD_ARGS = [
    (lambda: cnn(4), "channels"),
    (lambda: cnn([4, 0]), "channels"),
    (lambda: cnn([4], kernel_size=0), "kernel_size"),
    (lambda: cnn([4, 4], kernel_size=[3]), "kernel_size"),
    (lambda: cnn([4, 4], stride=[1, (2, 0)]), "stride"),
    (lambda: cnn([4], padding="FULL"), "padding"),
    (lambda: cnn([4], padding=-1), "padding"),
    (lambda: cnn([4], pool="min"), "pool"),
    (lambda: cnn([4], pool="max(0)"), "pool"),
    (lambda: cnn([4], global_pool="yes"), "global_pool"),
    (lambda: cnn([4], weight_var=-1.0), "weight_var"),
    (lambda: cnn([4, 4], bias_var=[0.1] * 5), "bias_var"),
    (lambda: cnn([4], parameterization="mup"), "parameterization"),
    (lambda: cnn([4], weight_law="cauchy"), "weight_law"),
    (lambda: cnn([4], activation="swoosh"), "activation"),
    (lambda: cnn([4], out=0), "out"),
    (lambda: cnn([4], in_shape=(8, 8)), "in_shape"),
    (lambda: resnet(0, 2), "width"),
    (lambda: resnet(8, -1), "num_blocks"),
    (lambda: resnet(8, 2, 0), "block_depth"),
    (lambda: resnet(8, 2, kind="rnn"), "kind"),
    (lambda: resnet(8, 2, norm="group"), "norm"),
    (lambda: resnet(8, 2, norm="layer_middle"), "norm"),
    (lambda: resnet(8, 2, residual_scale=float("nan")), "residual_scale"),
    (lambda: resnet(8, 2, kind="conv", kernel_size=(3,)), "kernel_size"),
    (lambda: resnet(8, 2, weight_var=[1.0] * 3), "weight_var"),
    (lambda: resnet(8, 2, bias="no"), "bias"),
    (lambda: resnet(8, 2, kind="conv", in_shape=(5,)), "in_shape"),
    (lambda: transformer(0, 1, 1, 8), "d_model"),
    (lambda: transformer(8, -1, 1, 8), "num_layers"),
    (lambda: transformer(16, 1, 3, 8), "num_heads"),
    (lambda: transformer(8, 1, 2, 0), "mlp_dim"),
    (lambda: transformer(8, 1, 2, 8, vocab_size=0), "vocab_size"),
    (lambda: transformer(8, 1, 2, 8, max_len=0), "max_len"),
    (lambda: transformer(8, 1, 2, 8, positional="rope"), "positional"),
    (lambda: transformer(8, 1, 2, 8, norm="layer_sandwich"), "norm"),
    (lambda: transformer(8, 1, 2, 8, norm="batch_pre"), "norm"),
    (lambda: transformer(8, 1, 2, 8, readout="max"), "readout"),
    (lambda: transformer(8, 1, 2, 8, causal=1), "causal"),
    (lambda: transformer(8, 2, 2, 8, weight_var=[1.0] * 3), "weight_var"),
    (lambda: transformer(8, 2, 2, 8, activation="nope"), "activation"),
]


@pytest.mark.parametrize("make, name", BAD_ARGS, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD_ARGS)])
def test_bad_arguments_raise_naming_them(make, name):
    with pytest.raises(ValueError, match=rf"\b{name}="):
        make()


BAD_INPUTS = [
    ("cnn_rank3", cnn([4]), None, IMAGES[..., 0], "x with shape"),
    ("cnn_int", cnn([4]), None, IMAGES.astype(np.int32), "dtype"),
    (
        "cnn_too_small",
        cnn([4], kernel_size=5, padding="VALID", pool="max(2)"),
        None,
        IMAGES[:, :5, :5],
        "too small",
    ),
    ("cnn_channels", cnn([4]), IMAGES, IMAGES[..., :1], "params were drawn"),
    ("cnn_flatten_size", cnn([4], global_pool=False), IMAGES, IMAGES[:, :4, :4], "params were drawn"),
    ("cnn_in_shape", cnn([4], in_shape=(6, 6, 3)), None, IMAGES, "expects inputs of shape"),
    ("resnet_dense_rank", resnet(8, 1), None, IMAGES, "x with shape"),
    ("resnet_conv_rank", resnet(8, 1, kind="conv"), None, VECTORS, "x with shape"),
    ("resnet_batch_one_point", resnet(8, 1, norm="batch_pre"), VECTORS, VECTORS[:1], "at least 2"),
    ("resnet_dim", resnet(8, 1), VECTORS, VECTORS[:, :3], "params were drawn"),
    ("transformer_tokens_float", transformer(8, 1, 2, 8, 11), None, TOKENS.astype(np.float32), "dtype"),
    ("transformer_tokens_rank", transformer(8, 1, 2, 8, 11), None, TOKENS[..., None], "x with shape"),
    ("transformer_seq_int", transformer(8, 1, 2, 8), None, TOKENS[..., None], "dtype"),
    ("transformer_seq_rank", transformer(8, 1, 2, 8), None, VECTORS, "x with shape"),
    ("transformer_max_len", transformer(8, 1, 2, 8, max_len=5), None, SEQUENCES, "max_len=5"),
    ("transformer_dim", transformer(8, 1, 2, 8), SEQUENCES, SEQUENCES[..., :2], "params were drawn"),
]


@pytest.mark.parametrize("net, init_x, x, match", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_raise_at_trace_time(net, init_x, x, match):
    if init_x is None:
        with pytest.raises(ValueError, match=match):
            net.init(KEY, x)
        with pytest.raises(ValueError, match=match):
            jax.jit(net.init)(KEY, x)
        return
    params = _fake_params(net, init_x)
    with pytest.raises(ValueError, match=match):
        jax.jit(net.apply)(params, x)


# ---------------------------------------------------------------------------------------------
# Forward pass against slow numpy references (float64, standard parameterization).


def _np_conv(x, w, b, stride, padding):
    """Cross-correlation with TF/XLA padding conventions, by explicit loops over output positions."""
    kh, kw = w.shape[:2]
    pads = []
    for size, k in ((x.shape[1], kh), (x.shape[2], kw)):
        if padding == "SAME":
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            pads.append((total // 2, total - total // 2))
        elif padding == "VALID":
            pads.append((0, 0))
        else:
            pads.append((padding, padding))
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    ho, wo = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], ho, wo, w.shape[-1]))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            y[:, i, j] = np.einsum("nabc,abcd->nd", patch, w)
    return y + (0.0 if b is None else b)


def _np_max_pool(h, size):
    n, hh, ww, c = h.shape
    h = h[:, : hh // size * size, : ww // size * size]
    return h.reshape(n, hh // size, size, ww // size, size, c).max(axis=(2, 4))


def _f64(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), tree)


def test_conv_apply_matches_numpy():
    layer = Affine.make((3, 2, 2, 5), 1.0, 0.3, True, "ntk", "normal")
    p = _jit(lambda k: L.init_params(k, [layer])[0])(KEY)
    w = np.asarray(p["w"], np.float64) * layer.w_std
    b = np.asarray(p["b"], np.float64) * layer.b_std
    for stride, padding in [(1, "SAME"), (2, "SAME"), (2, 1), (1, "VALID")]:
        y = conv_apply(p, IMAGES, layer, stride, padding)
        ref = _np_conv(IMAGES.astype(np.float64), w, b, stride, padding)
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5, err_msg=f"stride={stride}, padding={padding}")


def test_cnn_matches_numpy_reference():
    net = cnn([3, 4], kernel_size=[3, 2], stride=[2, 1], padding=[1, "VALID"], activation="tanh", pool="max(1)", global_pool=False, out=2, bias_var=0.2)
    x = _normal(5, (2, 9, 9, 2))
    p = _init(net, x)
    q = _f64(p)
    h = x.astype(np.float64)
    for layer, s, pad in zip(q["conv"], (2, 1), (1, "VALID")):
        h = np.tanh(_np_conv(h, layer["w"], layer["b"], s, pad))
    ref = h.reshape(2, -1) @ q["readout"]["w"] + q["readout"]["b"]
    np.testing.assert_allclose(jax.jit(net.apply)(p, x), ref, rtol=1e-4, atol=1e-5)

    pooled = cnn([3], pool="max(2)", activation="relu")
    p = _init(pooled, x)
    q = _f64(p)
    h = _np_max_pool(np.maximum(_np_conv(x.astype(np.float64), q["conv"][0]["w"], q["conv"][0]["b"], 1, "SAME"), 0), 2)
    ref = h.mean(axis=(1, 2)) @ q["readout"]["w"] + q["readout"]["b"]
    np.testing.assert_allclose(jax.jit(pooled.apply)(p, x), ref, rtol=1e-4, atol=1e-5)


def _np_layer_norm(h, eps=1e-6):
    m = h.mean(-1, keepdims=True)
    return (h - m) / np.sqrt(((h - m) ** 2).mean(-1, keepdims=True) + eps)


def _np_batch_norm(h, eps=1e-6):
    m = h.mean(0, keepdims=True)
    return (h - m) / np.sqrt(((h - m) ** 2).mean(0, keepdims=True) + eps)


def test_dense_resnet_matches_numpy_reference():
    kw = dict(activation="tanh", residual_scale=0.7, bias_var=0.1, weight_var=[1.0, 1.5, 2.0, 0.5, 1.2, 1.0])
    p = _init(resnet(6, 2, 2, **kw), VECTORS)  # normalization has no params: one draw serves all
    q = _f64(p)
    for normalization, position in [("layer", "pre"), ("batch", "post"), (None, "pre"), ("layer", "post")]:
        net = resnet(6, 2, 2, norm=None if normalization is None else f"{normalization}_{position}", **kw)
        norm = {"layer": _np_layer_norm, "batch": _np_batch_norm, None: lambda h: h}[normalization]
        h = VECTORS.astype(np.float64) @ q["input"]["w"] + q["input"]["b"]
        for blk in range(2):
            u = h
            for j in range(2):
                w, b = q["blocks"][j]["w"][blk], q["blocks"][j]["b"][blk]
                u = norm(np.tanh(u @ w + b)) if position == "post" else np.tanh(norm(u)) @ w + b
            h = h + 0.7 * u
        ref = h @ q["readout"]["w"] + q["readout"]["b"]
        np.testing.assert_allclose(
            jax.jit(net.apply)(p, VECTORS), ref, rtol=1e-4, atol=1e-5, err_msg=f"{normalization}, {position}"
        )


def test_resnet_weight_var_order():
    """Per-layer C_W follows: input, block 1 layers, block 2 layers, ..., readout."""
    cws = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    p = _init(resnet(64, 2, 2, weight_var=cws), _normal(6, (2, 64)))
    stds = [np.std(p["input"]["w"]), *[np.std(p["blocks"][j]["w"][b]) for b in range(2) for j in range(2)],
            np.std(p["readout"]["w"])]
    np.testing.assert_allclose(np.square(stds[:5]) * 64, cws[:5], rtol=0.1)


def _np_softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("tokens, position, causal", [(True, "pre", True), (False, "post", False)])
def test_transformer_matches_numpy_reference(tokens, position, causal):
    d, heads, hd = 8, 2, 4
    x = TOKENS if tokens else SEQUENCES
    net = transformer(d, 2, heads, 12, 11 if tokens else None, positional="learned" if tokens else "sinusoidal",
                      norm=f"layer_{position}", causal=causal, activation="tanh", bias_var=0.1, readout="mean")
    p = _init(net, x)
    q = _f64(p)
    n, t = x.shape[:2]
    if tokens:
        h = q["input"]["w"][x] + q["positional"]["w"][:t][None]
    else:
        pos = np.arange(t)[:, None] / 10000.0 ** (2 * (np.arange(d) // 2) / d)[None]
        pe = np.where(np.arange(d) % 2 == 0, np.sin(pos), np.cos(pos))
        h = x.astype(np.float64) @ q["input"]["w"] + q["input"]["b"] + pe[None]

    def dense(name, layer, u):
        return u @ q["layers"][name]["w"][layer] + q["layers"][name]["b"][layer]

    def attn(layer, u):
        qq, kk, vv = (dense(c, layer, u).reshape(n, t, heads, hd) for c in "qkv")
        s = np.einsum("nqhd,nkhd->nhqk", qq, kk) / math.sqrt(hd)
        if causal:
            s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
        o = np.einsum("nhqk,nkhd->nqhd", _np_softmax(s), vv).reshape(n, t, d)
        return dense("o", layer, o)

    def mlp(layer, u):
        return dense("mlp_out", layer, np.tanh(dense("mlp_in", layer, u)))

    for layer in range(2):
        if position == "pre":
            h = h + attn(layer, _np_layer_norm(h))
            h = h + mlp(layer, _np_layer_norm(h))
        else:
            h = _np_layer_norm(h + attn(layer, h))
            h = _np_layer_norm(h + mlp(layer, h))
    if position == "pre":
        h = _np_layer_norm(h)
    ref = h.mean(1) @ q["readout"]["w"] + q["readout"]["b"]
    np.testing.assert_allclose(jax.jit(net.apply)(p, x), ref, rtol=1e-4, atol=1e-5)
    if causal:
        # The first position attends only to itself: pooled on it, later tokens change nothing.
        first = transformer(d, 2, heads, 12, 11, positional="learned", causal=True, activation="tanh", bias_var=0.1,
                            readout="first")
        changed = TOKENS.copy()
        changed[:, 1:] = (changed[:, 1:] + 1) % 11
        np.testing.assert_allclose(first.apply(p, changed), first.apply(p, TOKENS), rtol=1e-6)


def test_stacked_group_draws_the_same_numbers_as_its_layers_one_by_one():
    by_law = {law: [Affine.make((6, 5), cw, 0.2, True, "standard", law) for cw in (0.5, 1.0, 2.0)]
              for law in ("normal", "orthogonal", "sparse(0.5)")}

    def draw(key):
        out = {}
        for law, layers in by_law.items():
            stacked = L.Stacked((layers[0],), tuple((layer,) for layer in layers))
            out[law] = (L.init_params(key, [stacked])[0][0], L.init_params(key, layers))
        return out

    for law, (stacked, each) in _jit(draw)(KEY).items():
        for i, one in enumerate(each):
            np.testing.assert_allclose(stacked["w"][i], one["w"], rtol=1e-5, atol=1e-6, err_msg=law)
            np.testing.assert_allclose(stacked["b"][i], one["b"], rtol=1e-5, atol=1e-6, err_msg=law)


# ---------------------------------------------------------------------------------------------
# Every weight law in every family: the first layer's variance at init; "standard" and "ntk"
# computing the same function for the same key.
#
# Statistics: each key gives one network; per key we average z^2 / prediction over the units of a
# layer (units of one net may be dependent, e.g. under orthogonal or low-rank laws, but keys are
# independent), then compare the mean over keys with 1 within 5 standard errors. The standard
# error must itself be at most that of one Gaussian unit, sqrt(2 / N), so that a noisy estimate
# cannot pass by being noisy.

CW, CB = 1.7, 0.3


def _check_ratio(ratios, what: str):
    ratios = np.asarray(ratios, np.float64)
    se = ratios.std(ddof=1) / math.sqrt(ratios.size)
    assert se <= math.sqrt(2.0 / ratios.size), f"{what}: standard error {se:.3g} too large"
    err = abs(ratios.mean() - 1.0)
    assert err <= SIGMAS * se + 1e-4, f"{what}: E[z^2] / prediction = {ratios.mean():.4f} +- {se:.4f}"


def _law_var(law: str, fan_in: int, q: float, cw: float = CW, cb: float = CB) -> float:
    """Variance of one pre-activation with inputs of mean square ``q``: C_W q + C_b, or
    a^2/3 (fan_in q + 1) under absolute(a), whose weights and biases are U(-a, a)."""
    if law.startswith("absolute"):
        a = float(law[len("absolute(") : -1])
        return a * a / 3.0 * (fan_in * q + 1.0)
    return cw * q + cb


def _image_patch(x: np.ndarray, i: int, j: int, k: int = 3) -> np.ndarray:
    """Receptive field (k, k, C) of output (i, j) under SAME padding (zeros outside the image)."""
    xp = np.pad(x, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    return xp[i : i + k, j : j + k]


def _conv_family(make, first):
    """First layer of an image net: units at an interior and a corner position of x[0]."""
    x = _normal(7, (2, 5, 5, 3), scale=1.3, shift=0.4)
    patches = np.stack([_image_patch(x[0], 2, 2).reshape(-1), _image_patch(x[0], 0, 0).reshape(-1)])

    def ratios(law, params):
        p = first(params)
        z = jnp.asarray(patches) @ p["w"].reshape(27, -1) + p["b"][None]
        target = [_law_var(law, 27, float(np.mean(pt**2))) for pt in patches]
        return jnp.mean(jnp.square(z), axis=1) / jnp.asarray(target, jnp.float32)

    return make, x, ratios


def _dense_family(make, x, vec):
    def ratios(law, params):
        p = params["input"]
        z = jnp.asarray(vec) @ p["w"] + p["b"]
        return jnp.mean(jnp.square(z))[None] / _law_var(law, vec.size, float(np.mean(vec**2)))

    return make, x, ratios


def _token_family(make):
    """Token embeddings have unit variance, learned positional encodings variance 1/2."""

    def ratios(law, params):
        a2 = float(law[len("absolute(") : -1]) ** 2 / 3.0 if law.startswith("absolute") else None
        emb = jnp.mean(jnp.square(params["input"]["w"])) / (a2 or 1.0)
        pos = jnp.mean(jnp.square(params["positional"]["w"])) / (a2 or 0.5)
        return jnp.stack([emb, pos])

    return make, TOKENS, ratios


_SEQ = _normal(9, (2, 3, 6), scale=1.3, shift=-0.5)
_VEC = _normal(8, (3, 6), scale=1.3, shift=-0.5)
# name -> (make(depth, **kw), inputs, first-layer ratios(law, params)); depth 0 keeps only the
# input layer and readout, so the statistics programs stay small.
LAW_FAMILIES = {
    "cnn": _conv_family(lambda d, **kw: cnn([16, 4][: d + 1], pool="avg", **kw), lambda p: p["conv"][0]),
    "resnet_conv": _conv_family(
        lambda d, **kw: resnet(16, d, kind="conv", norm="batch_pre", **kw), lambda p: p["input"]
    ),
    "resnet_dense": _dense_family(lambda d, **kw: resnet(16, 2 * d, norm="layer_pre", **kw), _VEC, _VEC[0]),
    "transformer_seq": _dense_family(
        lambda d, **kw: transformer(16, d, 2, 8, norm="layer_post", readout="first", **kw), _SEQ, _SEQ[0, 1]
    ),
    "transformer_tokens": _token_family(
        lambda d, **kw: transformer(16, d, 2, 8, vocab_size=11, positional="learned", max_len=12, causal=True, **kw)
    ),
}


@functools.cache
def _first_layer_ratios(family: str) -> dict[str, np.ndarray]:
    """Per-key ratios ``(N_KEYS, n_checks)`` for every law, from one compiled program per family."""
    make, x, ratios = LAW_FAMILIES[family]
    nets = {law: make(0, weight_var=CW, bias_var=CB, weight_law=law) for law in LAWS}

    def one(k):
        return {law: ratios(law, net.init(k, x)) for law, net in nets.items()}

    out = _jit(jax.vmap(one))(jax.random.split(jax.random.key(11), N_KEYS))
    return {law: np.asarray(r) for law, r in out.items()}


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("family", LAW_FAMILIES)
def test_weight_law_first_layer_variance(family, law):
    make, x, _ = LAW_FAMILIES[family]
    deep = make(1, weight_var=CW, bias_var=CB, weight_law=law)
    assert deep.weight_law == law
    # Every layer of the family traces under this law (shapes of stacked, conv and table draws);
    # the standard-vs-ntk test below runs full networks.
    params = jax.eval_shape(jax.jit(deep.init), KEY, x)
    assert jax.eval_shape(jax.jit(deep.apply), params, x).shape == (x.shape[0], 1)
    stats = _first_layer_ratios(family)[law]
    for i in range(stats.shape[1]):
        _check_ratio(stats[:, i], f"{family} {law} check {i}")


NTK_CASES = [
    ("cnn", "orthogonal"),
    ("resnet_conv", "absolute(0.7)"),
    ("resnet_dense", "low_rank(2)"),
    ("transformer_seq", "normal"),
    ("transformer_tokens", "absolute(0.7)"),
]


@pytest.mark.parametrize("family, law", NTK_CASES)
def test_standard_and_ntk_compute_the_same_function(family, law):
    """Same key, same function: "ntk" stores unit-variance noise and scales in the forward pass.

    Family code treats every law alike except absolute(a), whose scales ignore fan-in; the laws'
    unit noise itself is the same under both parameterizations by construction (weight_laws.py).
    """
    make, x, _ = LAW_FAMILIES[family]
    std = make(1, weight_var=CW, bias_var=CB, weight_law=law)
    ntk = make(1, weight_var=CW, bias_var=CB, weight_law=law, parameterization="ntk")
    y_std, y_ntk = _jit(lambda k: (std.apply(std.init(k, x), x), ntk.apply(ntk.init(k, x), x)))(KEY)
    assert y_std.shape == (x.shape[0], 1)
    assert np.all(np.isfinite(y_std)) and not np.allclose(y_std, 0.0)
    np.testing.assert_allclose(y_ntk, y_std, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(y_std))))


def _gauss_moment(f, var: float, n: int = 201) -> float:
    """E[f(z)], z ~ N(0, var), by Gauss-Hermite quadrature (probabilists' weight exp(-x^2/2))."""
    nodes, weights = hermegauss(n)
    return float(np.sum(weights * f(math.sqrt(var) * nodes)) / math.sqrt(2.0 * math.pi))


@pytest.mark.parametrize("family", ["cnn", "resnet_dense"])
def test_second_layer_second_moment(family):
    """E[z2^2] = C_W E[phi(z1)^2] + C_b, z1 ~ N(0, K1), K1 = C_W q + C_b (NNGP recursion), relu and tanh.

    Under the normal law z1 is exactly Gaussian and the second-layer weights are independent of
    it, so the identity holds at any width; the width only shrinks the spread of the per-key
    average (finite-width fluctuations of the layer-2 kernel are O(1/width)), which the standard
    error measured from the samples accounts for. The activation does not enter the init, so one
    set of draws serves both.
    """
    cw, cb = 1.8, 0.2
    acts = {"relu": (jax.nn.relu, lambda z: np.maximum(z, 0.0)), "tanh": (jnp.tanh, np.tanh)}
    if family == "resnet_dense":
        x = _normal(10, (1, 8), scale=1.2, shift=0.3)
        net = resnet(64, 1, 1, weight_var=cw, bias_var=cb)
        k1 = [cw * float(np.mean(x[0] ** 2)) + cb]

        def z2(p, phi):
            z1 = jnp.asarray(x) @ p["input"]["w"] + p["input"]["b"][None]
            return phi(z1) @ p["blocks"][0]["w"][0] + p["blocks"][0]["b"][0][None]

    else:
        x = _normal(10, (1, 6, 6, 3), scale=1.2, shift=0.3)
        net = cnn([16, 16], weight_var=cw, bias_var=cb)
        # z2 at (2, 2) sees z1 at positions 1..3 x 1..3, whose receptive fields lie inside the image.
        k1 = [cw * float(np.mean(_image_patch(x[0], i, j) ** 2)) + cb for i in range(1, 4) for j in range(1, 4)]

        def z2(p, phi):
            conv1 = jax.lax.conv_general_dilated(
                jnp.asarray(x), p["conv"][0]["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            z1 = conv1 + p["conv"][0]["b"].reshape(1, 1, 1, -1)
            patch = phi(z1)[0, 1:4, 1:4, :].reshape(1, -1)
            return patch @ p["conv"][1]["w"].reshape(-1, 16) + p["conv"][1]["b"][None]

    def one(k):
        p = net.init(k, x)
        return {name: jnp.mean(jnp.square(z2(p, phi))) for name, (phi, _) in acts.items()}

    second = _jit(jax.vmap(one))(jax.random.split(jax.random.key(14), N_KEYS))
    for name, (_, np_phi) in acts.items():
        target = cw * np.mean([_gauss_moment(lambda z: np_phi(z) ** 2, k) for k in k1]) + cb
        _check_ratio(np.asarray(second[name]) / target, f"{family} {name} layer 2")


def test_gauss_hermite_reference():
    """The quadrature used above reproduces E[relu(z)^2] = K / 2 and E[z^4] = 3 K^2."""
    assert _gauss_moment(lambda z: np.maximum(z, 0.0) ** 2, 1.7) == pytest.approx(0.85, rel=1e-10)
    assert _gauss_moment(lambda z: z**4, 1.7) == pytest.approx(3 * 1.7**2, rel=1e-10)


def _numpy_cnn_one_layer(params, x, normalization, position):
    """One SAME 3x3 conv layer, relu, normalization, global average pool and readout, in numpy."""
    w, b = np.asarray(params["conv"][0]["w"], np.float64), np.asarray(params["conv"][0]["b"], np.float64)
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    n, height, width, _ = x.shape
    z = np.zeros((n, height, width, w.shape[-1])) + b
    for i in range(3):
        for j in range(3):
            z += np.einsum("nhwc,cd->nhwd", xp[:, i:i + height, j:j + width], w[i, j])

    def norm(h):
        axes = (0, 1, 2) if normalization == "batch" else (3,)
        mean = h.mean(axis=axes, keepdims=True)
        return (h - mean) / np.sqrt(h.var(axis=axes, keepdims=True) + 1e-6)

    h = np.maximum(norm(z), 0) if position == "pre" else norm(np.maximum(z, 0))
    r = params["readout"]
    return h.mean(axis=(1, 2)) @ np.asarray(r["w"], np.float64) + np.asarray(r["b"], np.float64)


@pytest.mark.parametrize("normalization", ["batch", "layer"])
@pytest.mark.parametrize("position", ["pre", "post"])
def test_cnn_normalization_matches_numpy(normalization, position):
    x = jax.random.normal(jax.random.key(3), (5, 6, 6, 2))
    net = cnn([4], kernel_size=3, activation="relu", bias_var=0.5, norm=f"{normalization}_{position}")
    params = net.init(jax.random.key(4), x)
    np.testing.assert_allclose(net.apply(params, x), _numpy_cnn_one_layer(params, x, normalization, position),
                               rtol=2e-4, atol=2e-5)
    with pytest.raises(ValueError, match="norm='group'"):
        cnn([4], norm="group")
