"""Convolutional networks on images ``(n_points, H, W, C)`` (NHWC).

``z1 = b1 + W1 * x`` (2-D convolution, kernel ``(kh, kw, c_in, c_out)``, fan-in ``kh kw c_in``),
``h_l = pool(phi(z_l))``, ``z_(l+1) = b_(l+1) + W_(l+1) * h_l``; then global average pooling over
the spatial axes (or flattening) and a dense readout. Scales follow Roberts, Yaida & Hanin (2022): weights
have variance ``C_W / fan_in`` and biases ``C_b``, so a unit's pre-activation at init has variance
``C_W q + C_b`` with ``q`` the mean square of its receptive field (zero padding included as zeros),
the convolutional NNGP of Novak et al. (ICLR 2019) and Garriga-Alonso et al. (ICLR 2019).

The optional pooling after each activation uses non-overlapping windows (window = stride =
``pool_size``, VALID); max pooling raises initial guessing bias (Francazi et al., ICML 2024).

:class:`CNN` is a recipe of layer primitives (:attr:`CNN.layers`: :class:`~jaxbias.nets.layers.Conv`,
norms, activations, :class:`~jaxbias.nets.layers.Pool2D`, :class:`~jaxbias.nets.layers.GlobalAvgPool`
or :class:`~jaxbias.nets.layers.Flatten`, :class:`~jaxbias.nets.layers.Dense`). ``init`` draws
every parameter from one call of the key's random words, conv layers in order then the readout;
``tapped`` gives one ConvTap per conv layer and an AffineTap for the readout, which the structured
empirical NTK reads.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.nets import layers as L
from jaxbias.nets.core import check_input_shape, check_int, check_parameterization, conv_out_size, per_layer
from jaxbias.nets.options import Norm, Pool, canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec

__all__ = ["CNN", "cnn"]


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


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
        pairs.append(tuple(int(e) for e in pair))
    return tuple(pairs)


def per_layer_padding(padding, n_layers: int) -> tuple[str | int, ...]:
    """Broadcasts ``"SAME"``, ``"VALID"`` or an int >= 0 (or one per layer) to ``n_layers`` paddings."""
    expected = f"'SAME', 'VALID', an integer >= 0, or {n_layers} per-layer values"

    def one(p):
        if isinstance(p, str) and p.upper() in ("SAME", "VALID"):
            return p.upper()
        if _is_int(p) and p >= 0:
            return int(p)
        raise ValueError(f"padding={padding!r}: expected {expected}")

    if isinstance(padding, str) or _is_int(padding):
        return (one(padding),) * n_layers
    if isinstance(padding, (tuple, list)):
        if len(padding) != n_layers:
            raise ValueError(f"padding={padding!r}: expected {expected}, got {len(padding)} values")
        return tuple(one(p) for p in padding)
    raise ValueError(f"padding={padding!r}: expected {expected}")


def check_image_input(x: jax.Array, net: str) -> jax.Array:
    """Checks that ``x`` is a floating ``(n_points, H, W, C)`` array; returns it as float32."""
    if x.ndim != 4:
        raise ValueError(f"x with shape {tuple(x.shape)}: {net} expects images of shape (n_points, H, W, C)")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"x with dtype {x.dtype}: {net} expects floating inputs")
    return x.astype(jnp.float32)


@spec
class CNN(Spec):
    """A random 2-D convolutional network: a frozen, hashable spec.

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
        channels = self.channels
        message = f"channels={channels!r}: expected a sequence of integers >= 1 (one per conv layer)"
        if isinstance(channels, (str, bytes)) or not hasattr(channels, "__iter__"):
            raise ValueError(message)
        channels = tuple(channels)
        if not all(_is_int(c) and c >= 1 for c in channels):
            raise ValueError(message)
        channels = tuple(int(c) for c in channels)
        n = len(channels)
        for name, value in (("global_pool", self.global_pool), ("bias", self.bias)):
            if not isinstance(value, bool):
                raise ValueError(f"{name}={value!r}: expected True or False")
        in_shape = self.in_shape
        if in_shape is not None:
            if not isinstance(in_shape, (tuple, list)) or len(in_shape) != 3:
                raise ValueError(f"in_shape={in_shape!r}: expected (H, W, C)")
            in_shape = tuple(check_int("in_shape", s, 1) for s in in_shape)
        values = {
            "channels": channels,
            "kernel_size": per_layer_pairs("kernel_size", self.kernel_size, n, 1),
            "stride": per_layer_pairs("stride", self.stride, n, 1),
            "padding": per_layer_padding(self.padding, n),
            "activation": canonical_activation(self.activation),
            "out": check_int("out", self.out, 1),
            "pool": Pool.parse(self.pool),
            "norm": Norm.parse(self.norm),
            "weight_var": per_layer("weight_var", self.weight_var, n + 1),
            "bias_var": per_layer("bias_var", self.bias_var, n + 1),
            "parameterization": check_parameterization(self.parameterization),
            "weight_law": canonical_law(self.weight_law),
            "in_shape": in_shape,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _after_conv(self) -> tuple:
        """What follows each conv layer: norm and activation in the norm's order, then pooling."""
        out = [L.Activation(self.activation)]
        if self.norm is not None:
            norm = L.LayerNorm() if self.norm.kind == "layer" else L.BatchNorm()
            out.insert(0 if self.norm.position == "pre" else 1, norm)
        if self.pool is not None and self.pool.size > 1:
            out.append(L.Pool2D(self.pool.kind, self.pool.size))
        return tuple(out)

    @property
    def layers(self) -> L.Serial:
        """The network as layer primitives (:mod:`jaxbias.nets.layers`): the recipe ``init`` and ``apply`` run."""
        after = self._after_conv()
        seq = []
        for i, c in enumerate(self.channels):
            seq.append(L.Conv(c, self.kernel_size[i], self.stride[i], self.padding[i], self.weight_var[i],
                              self.bias_var[i], self.bias, self.parameterization, self.weight_law))
            seq.extend(after)
        seq.append(L.GlobalAvgPool() if self.global_pool else L.Flatten())
        seq.append(L.Dense(self.out, self.weight_var[-1], self.bias_var[-1], self.bias, self.parameterization,
                           self.weight_law))
        return L.Serial(tuple(seq))

    def _checked(self, x) -> jax.Array:
        """``x`` as float32 images, or ValueError if the images do not fit the declared shape or the layers."""
        x = check_image_input(jnp.asarray(x), "cnn")
        check_input_shape(x, self.in_shape, "cnn")
        shape = tuple(x.shape[1:])
        height, width = shape[:2]
        pool = 1 if self.pool is None else self.pool.size
        for i, ((kh, kw), (sh, sw), pad) in enumerate(zip(self.kernel_size, self.stride, self.padding)):
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
        return x

    def init(self, key: jax.Array, x: jax.Array) -> dict:
        """Draws the parameters from ``key``; ``x (n_points, H, W, C)`` fixes the input shape.

        Returns ``{"conv": [{"w": (kh, kw, c_in, c_out), "b": (c_out,)}, ...], "readout": {"w", "b"}}``
        (no ``"b"`` without bias).
        """
        *conv, readout = self.layers.init(key, self._checked(x))
        return {"conv": conv, "readout": readout}

    def _forward(self, params: dict, x: jax.Array, tape: L.Tape | None) -> jax.Array:
        x = self._checked(x)
        layers = self.layers
        flat = (*params["conv"], params["readout"])
        for i, (p, group) in enumerate(zip(flat, layers.groups(tuple(x.shape[1:])))):
            if tuple(p["w"].shape) != group.w_shape:
                raise ValueError(
                    f"x with shape {tuple(x.shape)}: these params were drawn for another input shape "
                    f"(layer {i + 1} weights {tuple(p['w'].shape)}, these inputs need {group.w_shape})"
                )
        if self.norm is not None and self.norm.kind == "batch" and x.shape[0] < 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: norm={str(self.norm)!r} standardizes over the input "
                             "points and needs at least 2 of them")
        return layers.forward(flat, x.astype(params["readout"]["w"].dtype), tape)  # float32 unless params are float64

    def apply(self, params: dict, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)`` on images ``x (n_points, H, W, C)``."""
        return self._forward(params, x, None)

    def tapped(self, params: dict, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)`` (see :func:`jaxbias.nets.core.affine_taps`)."""
        tape = L.Tape(perturbations, record=True)
        y = self._forward(params, x, tape)
        return y, tape.taps


def cnn(channels, kernel_size=3, stride=1, padding="SAME", activation="relu", out=1, **options) -> CNN:
    """``CNN(channels, kernel_size, stride, padding, activation, out, **options)``: the spelling of earlier versions."""
    return CNN(channels, kernel_size, stride, padding, activation, out, **options)
