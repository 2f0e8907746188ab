"""The affine maps (dense and convolution) every layer with weights shares, and the layer taps of the structured NTK.

A network has two pure functions, as in stax and neural-tangents:

* ``init(key, x) -> params``: ``x`` holds example inputs ``(n_points, *input_shape)`` that fix
  the input shape, as in flax; only its shape is used.
* ``apply(params, x) -> y``: ``x`` of shape ``(n_points, *input_shape)``, ``y`` of shape
  ``(n_points, n_out)``.

Built-in networks are specs (:mod:`jaxbias.nets.spec`): frozen, hashable values that results
files store and rebuild; user-made networks are plain :class:`Net` pairs.

Scales follow Roberts, Yaida & Hanin (2022): a layer's weights have variance ``C_W / fan_in`` and its
biases variance ``C_b`` at init. Parameterization "standard" stores the scaled weights;
"ntk" stores unit-variance weights and multiplies by ``sqrt(C_W / fan_in)`` (and ``sqrt(C_b)``)
in the forward pass (Jacot et al. 2018). For the same key both give the same function.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.nets.weight_laws import (
    WeightLaw,
    get_weight_law,
    unit_bias_noise,
    unit_weight_noise,
    weight_noise_size,
)
from jaxbias.validation import check_int  # noqa: F401  (re-exported for the families)
from jaxbias.nets.spec import Net

__all__ = [
    "Net",
    "Affine",
    "affine_apply_scaled",
    "layer_norm",
    "batch_norm",
    "per_layer",
    "per_layer_ints",
    "check_parameterization",
    "check_pair",
    "check_padding",
    "conv_out_size",
    "conv_apply",
    "AffineTap",
    "ConvTap",
    "affine_taps",
]

PARAMETERIZATIONS = ("standard", "ntk")


class Affine(NamedTuple):
    """Static description of one affine map ``y = x W + b`` (dense or convolution kernel).

    Attributes:
      w_shape: weight shape; last axis fan-out, the product of the others fan-in.
      w_std: standard deviation of the weights at init.
      b_std: standard deviation of the biases at init.
      bias: whether the layer has a bias.
      ntk: NTK parameterization (unit-variance params, scales applied in the forward pass).
      law: weight law.
    """

    w_shape: tuple[int, ...]
    w_std: float
    b_std: float
    bias: bool
    ntk: bool
    law: WeightLaw

    @property
    def fan_in(self) -> int:
        return math.prod(self.w_shape[:-1])

    @classmethod
    def make(cls, w_shape, weight_var, bias_var, bias, parameterization, law) -> "Affine":
        """Builds the layer description from C_W, C_b and the law (see module docstring)."""
        law = get_weight_law(law)
        fan_in = math.prod(w_shape[:-1])
        if law.absolute:
            w_std = b_std = law.param / math.sqrt(3.0)
        else:
            w_std, b_std = math.sqrt(weight_var / fan_in), math.sqrt(bias_var)
        return cls(tuple(int(s) for s in w_shape), w_std, b_std, bool(bias), parameterization == "ntk", law)


def affine_noise_size(layer: Affine) -> int:
    """Random uint32 words one layer consumes (weights, then bias)."""
    return weight_noise_size(layer.law, layer.w_shape) + (layer.w_shape[-1] if layer.bias else 0)


def affine_from_bits(bits: jax.Array, layer: Affine, dtype=jnp.float32) -> dict:
    """Builds ``{"w": (*w_shape), "b": (fan_out,)}`` (no ``"b"`` without bias) from random words."""
    n_w = weight_noise_size(layer.law, layer.w_shape)
    w = unit_weight_noise(bits[:n_w], layer.law, layer.w_shape, dtype)
    params = {"w": w if layer.ntk else w * layer.w_std}
    if layer.bias:
        b = unit_bias_noise(bits[n_w : n_w + layer.w_shape[-1]], layer.law, dtype)
        params["b"] = b if layer.ntk else b * layer.b_std
    return params


def affine_scales(layer: Affine) -> tuple[float, float]:
    """Multipliers applied in the forward pass: ``(w_std, b_std)`` under "ntk", ``(1, 1)`` else."""
    return (layer.w_std, layer.b_std) if layer.ntk else (1.0, 1.0)


def expand_bias(b: jax.Array, ndim: int) -> jax.Array:
    """Reshapes a bias ``(features,)`` to rank ``ndim`` for explicit broadcasting (rank promotion is strict)."""
    return b.reshape((1,) * (ndim - b.ndim) + b.shape)


def batch_norm(x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Standardizes each feature (last axis) over all other axes: points, and positions for images."""
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


def layer_norm(x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Layer norm over the last axis without learned gain and bias (their values at init)."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


def check_parameterization(parameterization: str) -> str:
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"parameterization={parameterization!r}: expected one of {', '.join(PARAMETERIZATIONS)}"
        )
    return parameterization


def per_layer(name: str, value: float | Sequence[float], n_layers: int, *, positive: bool = False) -> tuple[float, ...]:
    """Broadcasts a scalar or per-layer sequence of scales to ``n_layers`` checked floats.

    Raises:
      ValueError: wrong length, negative (or non-positive when ``positive``) or non-finite value.
    """
    expected = f"a number or a sequence of {n_layers} per-layer numbers"
    if isinstance(value, (numbers.Real, np.number)) or (isinstance(value, np.ndarray) and value.ndim == 0):
        values = (value,) * n_layers
    elif isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{name}={value!r}: expected {expected}, got {type(value).__name__}")
    else:
        values = tuple(value)
    if len(values) != n_layers:
        raise ValueError(f"{name}={value!r}: expected {expected}, got {len(values)} values")
    out = []
    for v in values:
        if isinstance(v, (str, bytes, bool, np.bool_)) or not isinstance(v, (numbers.Real, np.number, np.ndarray)):
            raise ValueError(f"{name}={value!r}: expected {expected}, got an entry {v!r}")
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r}: expected {expected}, got an entry {v!r}") from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            expected = "positive" if positive else "non-negative"
            raise ValueError(f"{name}={value!r}: expected {expected} finite values, got {v}")
        out.append(v)
    return tuple(out)


def per_layer_ints(name: str, value: int | Sequence[int], n_layers: int, minimum: int = 1) -> tuple[int, ...]:
    """Broadcasts an integer or a sequence of ``n_layers`` integers (e.g. widths) to ``n_layers`` checked ints.

    Python and numpy integers are accepted; a string, a float or a sequence of the wrong length is
    refused with a ValueError naming ``name``, what it got and what it expects.
    """
    expected = f"an integer >= {minimum} or a sequence of {n_layers} per-layer integers"
    if _is_index(value):
        values = (value,) * n_layers
    elif isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or \
            (isinstance(value, np.ndarray) and value.ndim != 1):
        raise ValueError(f"{name}={value!r}: expected {expected}, got {type(value).__name__}")
    else:
        values = tuple(value)
        if len(values) != n_layers:
            raise ValueError(f"{name}={value!r}: expected {expected}, got {len(values)} values")
    for v in values:
        if not _is_index(v) or int(v) < minimum:
            raise ValueError(f"{name}={value!r}: expected {expected}, got an entry {v!r}")
    return tuple(int(v) for v in values)


def _is_index(v) -> bool:
    """A Python or numpy integer (not a bool)."""
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_input_shape(x: jax.Array, expected: tuple[int, ...] | None, net: str) -> None:
    """Raises ValueError if ``x`` (n_points, *input_shape) does not match a declared input shape."""
    if x.ndim < 1:
        raise ValueError(f"x with shape {tuple(x.shape)}: expected (n_points, *input_shape)")
    if expected is not None and tuple(x.shape[1:]) != tuple(expected):
        raise ValueError(
            f"x with shape {tuple(x.shape)}: {net} expects inputs of shape (n_points, "
            f"{', '.join(map(str, expected))}), got input shape {tuple(x.shape[1:])}"
        )


def _scale_shift(y: jax.Array, params: dict, w_scale, b_scale) -> jax.Array:
    # Python-float scales of 1 are skipped; traced scales (under lax.scan) are always applied.
    if not (isinstance(w_scale, (int, float)) and w_scale == 1.0):
        y = y * w_scale
    if "b" in params:
        b = params["b"]
        if not (isinstance(b_scale, (int, float)) and b_scale == 1.0):
            b = b * b_scale
        y = y + expand_bias(b, y.ndim)
    return y


def affine_apply_scaled(params: dict, x: jax.Array, w_scale, b_scale) -> jax.Array:
    """Dense map ``x (..., fan_in) -> (..., fan_out)``, ``w_scale (x @ W) + b_scale b``.

    The scales are :func:`affine_scales` (Python floats; a scale of 1 is skipped) or traced
    scalars (one layer of a stack run by ``lax.scan``, always applied).
    """
    return _scale_shift(x @ params["w"], params, w_scale, b_scale)


_CONV_DIMS = ("NHWC", "HWIO", "NHWC")


def _is_int(v) -> bool:
    return _is_index(v)


def check_pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int ``v`` as ``(v, v)``, or an ``(h, w)`` pair, each ``>= minimum``; else ValueError naming ``name``."""
    pair = (value, value) if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(_is_int(e) and e >= minimum for e in pair):
        raise ValueError(f"{name}={value!r}: expected an integer >= {minimum} or an (h, w) pair of them")
    return tuple(int(e) for e in pair)


def check_padding(name: str, value: Any) -> str | int:
    """``"SAME"`` or ``"VALID"`` (any case, stored upper) or an int ``>= 0``; else ValueError naming ``name``."""
    if isinstance(value, str) and value.upper() in ("SAME", "VALID"):
        return value.upper()
    if _is_int(value) and value >= 0:
        return value
    raise ValueError(f"{name}={value!r}: expected 'SAME', 'VALID' or an integer >= 0")


def conv_out_size(size: int, kernel: int, stride: int, padding: str | int) -> int:
    """Output length of one spatial axis (``lax.conv`` conventions); 0 if the kernel does not fit."""
    if padding == "SAME":
        return -(-size // stride)
    total = size + (0 if padding == "VALID" else 2 * padding)
    return 0 if total < kernel else (total - kernel) // stride + 1


def conv_padding(padding: str | int) -> str | tuple[tuple[int, int], tuple[int, int]]:
    """``"SAME"``, ``"VALID"`` or an int ``p`` (``p`` zeros on each side) in ``lax.conv`` form."""
    if isinstance(padding, str):
        return padding.upper()
    return ((padding, padding), (padding, padding))


def conv_apply(
    params: dict,
    x: jax.Array,
    layer: Affine | None,
    stride: int | tuple[int, int] = 1,
    padding: str | int = "SAME",
    scales: tuple[Any, Any] | None = None,
) -> jax.Array:
    """2-D convolution ``x (n, H, W, c_in) -> (n, H', W', c_out)`` with kernel ``(kh, kw, c_in, c_out)``.

    Layouts NHWC (inputs) and HWIO (kernels); fan-in ``kh * kw * c_in``, so a unit's pre-activation
    has variance ``C_W q + C_b`` with ``q`` the mean square of its receptive field.

    Args:
      params: ``{"w": (kh, kw, c_in, c_out), "b": (c_out,)}``.
      x: inputs ``(n, H, W, c_in)``.
      layer: the layer description; only its forward-pass scales are read, so it may be None
        when ``scales`` is given.
      stride: int or ``(sh, sw)``.
      padding: ``"SAME"``, ``"VALID"`` or an int number of zeros on each side.
      scales: explicit ``(w_scale, b_scale)``, possibly traced (layers run under ``lax.scan``).
    """
    ws, bs = affine_scales(layer) if scales is None else scales
    strides = (stride, stride) if isinstance(stride, int) else tuple(stride)
    y = jax.lax.conv_general_dilated(
        x, params["w"], window_strides=strides, padding=conv_padding(padding), dimension_numbers=_CONV_DIMS
    )
    return _scale_shift(y, params, ws, bs)


# ---------------------------------------------------------------------------------------------
# Per-layer taps, read by the structured empirical NTK (jaxbias.kernels.empirical).


class AffineTap(NamedTuple):
    """What one group of dense layers ``z = w_scale * (h @ W) + b_scale * b`` saw in a forward pass.

    A group is one layer (leading axis of size 1) or layers stacked for ``lax.scan``.

    Attributes:
      inputs: layer inputs ``h``, ``(n_layers, n_points, fan_in)``.
      outputs: layer outputs ``z`` (perturbation included), ``(n_layers, n_points, fan_out)``.
      w_scale: forward-pass weight multipliers ``(n_layers,)`` (1 under "standard").
      b_scale: forward-pass bias multipliers ``(n_layers,)``; 0 for layers without bias.
    """

    inputs: jax.Array
    outputs: jax.Array
    w_scale: jax.Array
    b_scale: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ConvTap:
    """What one group of convolutions ``z = w_scale * conv(h, W) + b_scale * b`` saw in a forward pass.

    The convolution is ``lax.conv_general_dilated`` with channels last (``N...C`` inputs and
    outputs, ``...IO`` kernels) over ``r = len(kernel)`` spatial axes: the output at position ``p``
    is ``w_scale * patch(h)[p] . W + b_scale * b`` with ``patch(h)[p]`` the window of ``h`` it
    sees (``lax.conv_general_dilated_patches`` at the same geometry). A group is one layer (leading
    axis of size 1) or layers of one shape stacked for ``lax.scan``.

    Attributes:
      inputs: layer inputs ``h``, ``(n_layers, n_points, *spatial_in, c_in)``.
      outputs: layer outputs ``z`` (perturbation included), ``(n_layers, n_points, *spatial_out, c_out)``.
      w_scale: forward-pass weight multipliers ``(n_layers,)`` (1 under "standard").
      b_scale: forward-pass bias multipliers ``(n_layers,)``; 0 for layers without bias.
      kernel: spatial kernel shape, e.g. ``(kh, kw)`` (static).
      stride: window strides, one per spatial axis (static).
      padding: ``"SAME"``, ``"VALID"`` or ``((lo, hi), ...)`` per spatial axis (static).
      dilation: kernel (rhs) dilation, one per spatial axis (static).
    """

    inputs: jax.Array
    outputs: jax.Array
    w_scale: jax.Array
    b_scale: jax.Array
    kernel: tuple[int, ...] = dataclasses.field(metadata={"static": True})
    stride: tuple[int, ...] = dataclasses.field(metadata={"static": True})
    padding: Any = dataclasses.field(metadata={"static": True})
    dilation: tuple[int, ...] = dataclasses.field(default=(), metadata={"static": True})


def affine_taps(net) -> Callable | None:
    """The tapped forward pass ``net.tapped(params, x, perturbations) -> (y, taps)``, or None.

    Specs whose every parameter sits in a dense or conv layer define ``tapped``: it computes
    ``apply(params, x)`` with ``perturbations[g]`` (shape of ``taps[g].outputs``, or None for none)
    added to the outputs of group ``g`` and returns one :class:`AffineTap` (dense) or
    :class:`ConvTap` (convolution) per group; every point's output depends on that point alone
    unless the net uses batch statistics. Parameter-free maps between the layers (activations,
    pooling, normalization without gain, skip connections) need no tap: they only shape the
    cotangents. The structured NTK (Novak et al., ICML 2022) is built from these.
    """
    return getattr(net, "tapped", None)
