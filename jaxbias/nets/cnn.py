"""Convolutional networks on images ``(n_points, H, W, C)`` (NHWC).

``z1 = b1 + W1 * x`` (2-D convolution, kernel ``(kh, kw, c_in, c_out)``, fan-in ``kh kw c_in``),
``h_l = pool(phi(z_l))``, ``z_(l+1) = b_(l+1) + W_(l+1) * h_l``; then global average pooling over
the spatial axes (or flattening) and a dense readout. Scales follow Roberts, Yaida & Hanin (2022): weights
have variance ``C_W / fan_in`` and biases ``C_b``, so a unit's pre-activation at init has variance
``C_W q + C_b`` with ``q`` the mean square of its receptive field (zero padding included as zeros),
the convolutional NNGP of Novak et al. (ICLR 2019) and Garriga-Alonso et al. (ICLR 2019).

The optional pooling after each activation uses non-overlapping windows (window = stride =
``pool_size``, VALID); max pooling raises initial guessing bias (Francazi et al., ICML 2024).

Keys: ``init`` splits its key once into one key per layer, conv layers in order then the readout.

The net registers its layer taps (:func:`jaxbias.nets.core.register_affine_taps`: one ConvTap per
conv layer, an AffineTap for the readout), which the structured empirical NTK reads.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxbias.nets.activations import get_activation
from jaxbias.nets.core import (
    Affine,
    AffineTap,
    ConvTap,
    affine_apply,
    affine_scales,
    batch_norm,
    check_choice,
    check_input_shape,
    check_int,
    check_parameterization,
    conv_apply,
    conv_padding,
    init_affines,
    layer_norm,
    per_layer,
    scale_config,
)
from jaxbias.nets.options import Norm, Pool, canonical_activation
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law

__all__ = ["CNN", "cnn"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def per_layer_pairs(name: str, value, n_layers: int, minimum: int) -> tuple[tuple[int, int], ...]:
    """Broadcasts an int, or one int or ``(h, w)`` pair per layer, to ``n_layers`` checked pairs."""
    expected = f"an integer >= {minimum}, or {n_layers} per-layer integers or (h, w) pairs"
    if _is_int(value):
        value_seq = (value,) * n_layers
    elif isinstance(value, (tuple, list)):
        value_seq = tuple(value)
        if len(value_seq) != n_layers:
            raise ValueError(f"{name}={value!r}: expected {expected}, got {len(value_seq)} values")
    else:
        raise ValueError(f"{name}={value!r}: expected {expected}")
    pairs = []
    for v in value_seq:
        pair = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
        if pair is None or len(pair) != 2 or not all(_is_int(e) and e >= minimum for e in pair):
            raise ValueError(f"{name}={value!r}: expected {expected}")
        pairs.append(pair)
    return tuple(pairs)


def per_layer_padding(padding, n_layers: int) -> tuple[str | int, ...]:
    """Broadcasts ``"SAME"``, ``"VALID"`` or an int >= 0 (or one per layer) to ``n_layers`` paddings."""
    expected = f"'SAME', 'VALID', an integer >= 0, or {n_layers} per-layer values"

    def one(p):
        if isinstance(p, str) and p.upper() in ("SAME", "VALID"):
            return p.upper()
        if _is_int(p) and p >= 0:
            return p
        raise ValueError(f"padding={padding!r}: expected {expected}")

    if isinstance(padding, (str, int)) and not isinstance(padding, bool):
        return (one(padding),) * n_layers
    if isinstance(padding, (tuple, list)):
        if len(padding) != n_layers:
            raise ValueError(f"padding={padding!r}: expected {expected}, got {len(padding)} values")
        return tuple(one(p) for p in padding)
    raise ValueError(f"padding={padding!r}: expected {expected}")


def conv_out_size(size: int, kernel: int, stride: int, padding: str | int) -> int:
    """Output length of one spatial axis (``lax.conv`` conventions); 0 if the kernel does not fit."""
    if padding == "SAME":
        return -(-size // stride)
    total = size + (0 if padding == "VALID" else 2 * padding)
    return 0 if total < kernel else (total - kernel) // stride + 1


def pool2d(h: jax.Array, kind: str, size: int) -> jax.Array:
    """Max or average pooling of ``(n, H, W, C)`` over non-overlapping ``size x size`` windows (VALID)."""
    window = (1, size, size, 1)
    # Python-scalar initial values: lax recognizes the max/add monoid and can differentiate it under jit.
    if kind == "max":
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, window, window, "VALID")
    total = jax.lax.reduce_window(h, 0.0, jax.lax.add, window, window, "VALID")
    return total / (size * size)


def check_image_input(x: jax.Array, net: str) -> jax.Array:
    """Checks that ``x`` is a floating ``(n_points, H, W, C)`` array; returns it as float32."""
    if x.ndim != 4:
        raise ValueError(f"x with shape {tuple(x.shape)}: {net} expects images of shape (n_points, H, W, C)")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"x with dtype {x.dtype}: {net} expects floating inputs")
    return x.astype(jnp.float32)


def _build(
    channels: Sequence[int],
    kernel_size: int | Sequence[int | tuple[int, int]] = 3,
    stride: int | Sequence[int | tuple[int, int]] = 1,
    padding: str | int | Sequence[str | int] = "SAME",
    activation: str | Callable = "relu",
    out: int = 1,
    *,
    pooling: str | None = None,
    pool_size: int = 2,
    global_pool: bool = True,
    normalization: str | None = None,
    norm_position: str = "post",
    weight_var: float | Sequence[float] = 1.0,
    bias_var: float | Sequence[float] = 0.0,
    bias: bool = True,
    parameterization: str = "standard",
    weight_law: str = "normal",
    in_shape: Sequence[int] | None = None,
):
    """Builds a random 2-D convolutional network with ``len(channels)`` conv layers.

    Each conv layer is followed by the activation, then (optionally) pooling. After the last one,
    global average pooling over ``(H, W)`` (or flattening) and a dense readout to ``out``.

    Args:
      channels: output channels of each conv layer (may be empty: a random linear readout).
      kernel_size: int (square kernels), or one int or ``(kh, kw)`` pair per conv layer. A
        sequence is always per-layer: for ``(3, 5)`` kernels in two layers pass ``[(3, 5)] * 2``.
      stride: same convention as ``kernel_size``.
      padding: ``"SAME"``, ``"VALID"``, an int number of zeros on each side, or one per layer.
      activation: name (see :mod:`jaxbias.nets.activations`) or callable.
      out: output dimension.
      pooling: None, ``"avg"`` or ``"max"`` after each activation (window = stride = ``pool_size``).
      pool_size: pooling window.
      global_pool: average over the spatial axes before the readout (else flatten).
      normalization: None, ``"layer"`` (over the channels at each position) or ``"batch"`` (each
        channel over the input points and positions: statistics of the input set, as at init).
      norm_position: ``"pre"`` (normalize the conv output, then the activation) or ``"post"``
        (activation, then normalize), as studied for the initial guessing bias.
      weight_var: C_W, one number or ``len(channels) + 1`` values (conv layers in order, then readout).
      bias_var: C_b, same convention.
      bias: whether layers have biases.
      parameterization: "standard" or "ntk".
      weight_law: "normal", "truncated_normal", "uniform", "orthogonal", "sparse(p)", "low_rank(r)"
        or "absolute(a)" (weights and biases U(-a, a); C_W and C_b then unused).
      in_shape: declared input shape ``(H, W, C)``; if given, other shapes raise ValueError.
        Without it (and with ``global_pool``) the net accepts any image size large enough for
        its kernels, strides and pools.

    Returns:
      A :class:`Net`; ``apply(params, x)`` maps ``x (n_points, H, W, C)`` to ``(n_points, out)``.
      Params: ``{"conv": [{"w": (kh, kw, c_in, c_out), "b": (c_out,)}, ...], "readout": {...}}``.

    Raises:
      ValueError: an invalid argument (at construction) or input shape (at init/apply).

    Example:
      >>> import jax, jax.numpy as jnp, jaxbias as jb
      >>> net = jb.nets.cnn([8, 8], kernel_size=3, pool="max(2)", activation="relu")
      >>> x = jnp.ones((4, 8, 8, 3))
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (4, 1)
    """
    if not isinstance(channels, (tuple, list)):
        raise ValueError(f"channels={channels!r}: expected a sequence of integers >= 1 (one per conv layer)")
    for c in channels:
        if not _is_int(c) or c < 1:
            raise ValueError(f"channels={channels!r}: expected a sequence of integers >= 1 (one per conv layer)")
    channels = tuple(int(c) for c in channels)
    n = len(channels)
    kernels = per_layer_pairs("kernel_size", kernel_size, n, 1)
    strides = per_layer_pairs("stride", stride, n, 1)
    paddings = per_layer_padding(padding, n)
    phi = get_activation(activation)
    out = check_int("out", out, 1)
    check_choice("pooling", pooling, (None, "avg", "max"))
    pool = check_int("pool_size", pool_size, 1) if pooling is not None else 1
    check_choice("global_pool", global_pool, (True, False))
    check_choice("normalization", normalization, (None, "layer", "batch"))
    check_choice("norm_position", norm_position, ("pre", "post"))
    norm = {None: lambda h: h, "layer": layer_norm, "batch": batch_norm}[normalization]
    cws = per_layer("weight_var", weight_var, n + 1)
    cbs = per_layer("bias_var", bias_var, n + 1)
    check_choice("bias", bias, (True, False))
    check_parameterization(parameterization)
    law = get_weight_law(weight_law)
    if in_shape is not None:
        if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
            raise ValueError(f"in_shape={in_shape!r}: expected (H, W, C)")
        in_shape = tuple(check_int("in_shape", s, 1) for s in in_shape)

    def plan(shape: tuple[int, ...]) -> tuple[list[Affine], Affine]:
        """Layer descriptions for inputs ``(H, W, C)``; raises if the image is too small."""
        height, width, c_in = shape
        convs = []
        for i, (c_out, (kh, kw), (sh, sw), pad) in enumerate(zip(channels, kernels, strides, paddings)):
            convs.append(Affine.make((kh, kw, c_in, c_out), cws[i], cbs[i], bias, parameterization, law))
            height, width = conv_out_size(height, kh, sh, pad), conv_out_size(width, kw, sw, pad)
            if height >= 1 and width >= 1 and pool > 1:
                height, width = height // pool, width // pool
            if height < 1 or width < 1:
                raise ValueError(
                    f"x with shape (n_points, {', '.join(map(str, shape))}): images are too small for conv "
                    f"layer {i + 1} (kernel_size {(kh, kw)}, stride {(sh, sw)}, padding {pad!r}"
                    + (f", pool_size {pool}" if pool > 1 else "")
                    + ")"
                )
            c_in = c_out
        fan_in = c_in if global_pool else height * width * c_in
        readout = Affine.make((fan_in, out), cws[n], cbs[n], bias, parameterization, law)
        return convs, readout

    def checked_plan(x: jax.Array) -> tuple[list[Affine], Affine]:
        check_input_shape(x, in_shape, "cnn")
        return plan(tuple(x.shape[1:]))

    def init(key, x):
        x = check_image_input(jnp.asarray(x), "cnn")
        convs, readout = checked_plan(x)
        *conv_params, readout_params = init_affines(key, [*convs, readout])
        return {"conv": conv_params, "readout": readout_params}

    def forward(params, x, perturbations=None, record=False):
        """``apply`` with per-layer output perturbations (None: none); returns ``(y, taps)``.

        ``taps`` (when ``record``) holds one ConvTap per conv layer, then an AffineTap for the readout.
        """
        x = check_image_input(jnp.asarray(x), "cnn")
        convs, readout = checked_plan(x)
        for i, lay in enumerate([*convs, readout]):
            p = params["conv"][i] if i < n else params["readout"]
            if tuple(p["w"].shape) != lay.w_shape:
                raise ValueError(
                    f"x with shape {tuple(x.shape)}: these params were drawn for another input shape "
                    f"(layer {i + 1} weights {tuple(p['w'].shape)}, these inputs need {lay.w_shape})"
                )
        if normalization == "batch" and x.shape[0] < 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: normalization='batch' standardizes over the "
                             "input points and needs at least 2 of them")
        x = x.astype(params["readout"]["w"].dtype)  # float32 unless the params are float64
        taps = []

        def tap(z, h, lay, g, geometry):
            if perturbations is not None:
                z = z + perturbations[g][0]  # a group of one layer
            if record:
                ws, bs = affine_scales(lay)
                scales = (jnp.full((1,), ws, z.dtype), jnp.full((1,), bs if lay.bias else 0.0, z.dtype))
                taps.append(ConvTap(h[None], z[None], *scales, *geometry) if geometry else
                            AffineTap(h[None], z[None], *scales))
            return z

        h = x
        for i, (p, lay, s, pad) in enumerate(zip(params["conv"], convs, strides, paddings)):
            z = tap(conv_apply(p, h, lay, s, pad), h, lay, i, (lay.w_shape[:2], s, conv_padding(pad), (1, 1)))
            if norm_position == "pre":
                h = phi.fn(norm(z))
            else:
                h = norm(phi.fn(z))
            if pool > 1:
                h = pool2d(h, pooling, pool)
        h = jnp.mean(h, axis=(1, 2)) if global_pool else h.reshape(h.shape[0], -1)
        return tap(affine_apply(params["readout"], h, readout), h, readout, n, None), taps

    def apply(params, x):
        return forward(params, x)[0]

    def tapped(params, x, perturbations):
        return forward(params, x, perturbations, record=True)

    config = {
        "arch": "cnn",
        "channels": list(channels),
        "kernel_size": [list(k) for k in kernels],
        "stride": [list(s) for s in strides],
        "padding": list(paddings),
        "activation": phi.name,
        "out": out,
        "pooling": pooling,
        "pool_size": pool if pooling else None,
        "global_pool": global_pool,
        "normalization": normalization,
        "norm_position": norm_position if normalization else None,
        **scale_config(cws, cbs, bias, parameterization, law, in_shape),
    }
    return init, apply, tapped, config


@spec
class CNN(Spec):
    """A random 2-D convolutional network: a frozen, hashable spec (fields as in :func:`cnn`'s arguments).

    Each conv layer is followed by the optional ``norm`` (before or after the activation), the
    activation and the optional ``pool``; then global average pooling (or flattening) and a dense
    readout to ``out``.

    Attributes:
      channels: output channels of each conv layer (may be empty: a random linear readout).
      kernel_size: int (square kernels), or one int or ``(kh, kw)`` pair per conv layer; stored
        as one pair per layer.
      stride: same convention as ``kernel_size``.
      padding: ``"SAME"``, ``"VALID"``, an int number of zeros on each side, or one per layer.
      activation: name (see :data:`jaxbias.nets.ACTIVATIONS`) or callable.
      out: output dimension.
      pool: None or a :class:`~jaxbias.nets.Pool` (window = stride = its size) after each activation.
      global_pool: average over the spatial axes before the readout (else flatten).
      norm: None or a :class:`~jaxbias.nets.Norm`: layer norm over the channels at each position,
        or batch norm of each channel over the input points and positions.
      weight_var: C_W, one number or ``len(channels) + 1`` per-layer values (last: readout).
      bias_var: C_b, same convention.
      bias: whether layers have biases.
      parameterization: "standard" or "ntk".
      weight_law: as in :class:`~jaxbias.nets.MLP`.
      in_shape: declared input shape ``(H, W, C)``; other inputs raise ValueError.

    Example:
      >>> import jax, jaxbias as jb
      >>> net = jb.nets.CNN(channels=(4, 8), pool="avg(2)")
      >>> x = jax.numpy.ones((5, 8, 8, 3))
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (5, 1)
    """

    channels: tuple[int, ...]
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: str | int | tuple = "SAME"
    activation: str | Callable = "relu"
    out: int = 1
    pool: Pool | str | None = None
    global_pool: bool = True
    norm: Norm | str | None = None
    weight_var: float | tuple[float, ...] = 1.0
    bias_var: float | tuple[float, ...] = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"
    in_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        norm, pool = Norm.parse(self.norm), Pool.parse(self.pool)
        if isinstance(self.channels, (str, bytes)) or not hasattr(self.channels, "__iter__"):
            raise ValueError(f"channels={self.channels!r}: expected a sequence of positive integers")
        config = self._build_from(norm, pool, tuple(self.channels), self.kernel_size, self.stride,
                                  self.padding, self.weight_var, self.bias_var, self.in_shape)[3]
        values = {
            "channels": tuple(config["channels"]),
            "kernel_size": tuple(tuple(k) for k in config["kernel_size"]),
            "stride": tuple(tuple(k) for k in config["stride"]),
            "padding": tuple(config["padding"]),
            "activation": canonical_activation(self.activation),
            "pool": pool,
            "norm": norm,
            "weight_var": tuple(config["weight_var"]),
            "bias_var": tuple(config["bias_var"]),
            "weight_law": config["weight_law"],
            "in_shape": None if config["in_shape"] is None else tuple(config["in_shape"]),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _build_from(self, norm, pool, channels, kernel_size, stride, padding, weight_var, bias_var, in_shape):
        return _build(
            channels, kernel_size, stride, padding, self.activation, self.out,
            pooling=None if pool is None else pool.kind, pool_size=2 if pool is None else pool.size,
            global_pool=self.global_pool, normalization=None if norm is None else norm.kind,
            norm_position="post" if norm is None else norm.position, weight_var=weight_var,
            bias_var=bias_var, bias=self.bias, parameterization=self.parameterization,
            weight_law=self.weight_law, in_shape=in_shape,
        )

    def _closures(self):
        return self._build_from(self.norm, self.pool, self.channels, self.kernel_size, self.stride,
                                self.padding, self.weight_var, self.bias_var, self.in_shape)

    def init(self, key: jax.Array, x: jax.Array):
        """Draws the parameters from ``key``; ``x (n_points, H, W, C)`` fixes the input shape."""
        return self._closures()[0](key, x)

    def apply(self, params, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)`` on images ``x (n_points, H, W, C)``."""
        return self._closures()[1](params, x)

    def tapped(self, params, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)`` (:class:`~jaxbias.nets.core.ConvTap`)."""
        return self._closures()[2](params, x, perturbations)


def cnn(channels, kernel_size=3, stride=1, padding="SAME", activation="relu", out=1, **options) -> CNN:
    """``CNN(channels, kernel_size, stride, padding, activation, out, **options)``: the spelling of earlier versions."""
    return CNN(channels, kernel_size, stride, padding, activation, out, **options)
