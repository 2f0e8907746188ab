"""Layer primitives and combinators: compose a network and get init, apply, taps and kernels from one value.

Every layer is a frozen, hashable spec. A composed layer is a network: ``init(key, x)`` draws all
its parameters from ONE call of :func:`jaxbias.random_bits.random_bits` (the words are consumed
layer by layer in forward order, so a stacked group draws the same numbers as its layers drawn one
at a time), ``apply(params, x)`` runs it, ``tapped`` exposes its dense and conv layers to the
structured NTK, and :func:`jaxbias.kernels.infinite` computes its infinite-width NNGP and NTK when
every layer has a kernel rule (the model is neural-tangents' stax, where one description gives
init, apply and kernel; Novak et al., ICLR 2020).

Primitives: :class:`Dense` (on the last axis, so also at every position of a sequence or image),
:class:`Conv` (2-D, NHWC), :class:`Activation`, :class:`LayerNorm`, :class:`BatchNorm`,
:class:`FeaturePool` (over features), :class:`Pool2D` (over image windows), :class:`GlobalAvgPool`,
:class:`Flatten`. Combinators: :class:`Serial`, :class:`Residual` and :class:`Repeat` (``lax.scan``
over blocks of one shape, so compile time stays flat in depth; the blocks may differ in their
scales C_W, C_b, as the layers of an MLP with per-layer variances do). The built-in families
(:class:`~jaxbias.nets.MLP`, :class:`~jaxbias.nets.CNN`, :class:`~jaxbias.nets.ResNet`) are recipes of
these (their ``layers`` property).

>>> import jax, jaxbias as jb
>>> from jaxbias.nets.layers import Activation, Dense, Repeat, Serial
>>> net = Serial((Dense(64), Repeat.of(Serial((Activation("tanh"), Dense(64))), 4), Activation("tanh"), Dense(1)))
>>> x = jb.inputs.grid(dim=2, resolution=4)
>>> net.apply(net.init(jax.random.key(0), x), x).shape
(16, 1)

Parameters are a flat tuple with one entry per parameter group (a dense layer: ``{"w", "b"}``; a
:class:`Repeat`: the same dicts stacked on a leading axis), in forward order.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.nets import core
from jaxbias.nets.activations import get_activation
from jaxbias.nets.options import canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law
from jaxbias.random_bits import random_bits
from jaxbias.validation import check_float, check_int

__all__ = [
    "Layer", "Dense", "Conv", "Activation", "LayerNorm", "BatchNorm", "FeaturePool", "Pool2D", "GlobalAvgPool",
    "Flatten", "Embedding", "Positional", "SelfAttention", "FirstPosition", "Serial", "Residual", "Repeat",
    "Stacked", "Tape", "init_params", "sinusoidal_encoding", "sublayers",
]


@dataclasses.dataclass(frozen=True)
class Stacked:
    """A parameter group of :class:`Repeat`: ``groups`` (one block's groups) for each of ``len(scales)`` blocks.

    Attributes:
      groups: the first block's groups (``core.Affine`` or nested :class:`Stacked`).
      blocks: every block's groups, equal to ``groups`` up to their scales.
      by_layer: the random words are drawn group by group (each group across all blocks, then the
        next group) rather than block by block.
    """

    groups: tuple
    blocks: tuple
    by_layer: bool = False


def _noise_size(group) -> int:
    if isinstance(group, core.Affine):
        return core.affine_noise_size(group)
    return len(group.blocks) * sum(_noise_size(g) for g in group.groups)


def _unscaled(group):
    """The group with unit scales (what a stack draws before multiplying by each block's scales)."""
    if isinstance(group, core.Affine):
        return group._replace(w_std=1.0, b_std=1.0, ntk=True)
    return Stacked(tuple(_unscaled(g) for g in group.groups),
                   tuple(tuple(_unscaled(g) for g in b) for b in group.blocks), group.by_layer)


def _from_bits(bits: jax.Array, group, dtype) -> Any:
    """Parameters of one group from its random words (see :func:`init_params`)."""
    if isinstance(group, core.Affine):
        return core.affine_from_bits(bits, group, dtype)
    sizes = [_noise_size(g) for g in group.groups]
    n_blocks = len(group.blocks)
    if group.by_layer:
        out, start = [], 0
        for i, (g, size) in enumerate(zip(group.groups, sizes)):
            chunk = bits[start:start + n_blocks * size].reshape(n_blocks, size)
            one = jax.vmap(lambda b, g=g: _from_bits(b, _unscaled(g), dtype))(chunk)
            out.append(_scale_stack(one, g, [block[i] for block in group.blocks], dtype))
            start += n_blocks * size
        return tuple(out)
    per_block = bits.reshape(n_blocks, -1)

    def one_block(b):
        out, start = [], 0
        for g, size in zip(group.groups, sizes):
            out.append(_from_bits(b[start:start + size], _unscaled(g), dtype))
            start += size
        return tuple(out)

    stacked = jax.vmap(one_block)(per_block)
    return tuple(_scale_stack(p, g, [block[i] for block in group.blocks], dtype)
                 for i, (p, g) in enumerate(zip(stacked, group.groups)))


def _scale_stack(params, group, per_block, dtype):
    """Multiplies unit draws by each block's scales (standard parameterization stores scaled weights)."""
    if isinstance(group, Stacked):
        raise ValueError("a Repeat inside a Repeat is not supported; flatten the inner one into the block")
    if group.ntk:
        return params
    w_std = jnp.asarray([g.w_std for g in per_block], dtype)
    out = dict(params)
    out["w"] = params["w"] * w_std.reshape((-1,) + (1,) * len(group.w_shape))
    if group.bias:
        out["b"] = params["b"] * jnp.asarray([g.b_std for g in per_block], dtype)[:, None]
    return out


def init_params(key: jax.Array, groups: Sequence, order: Sequence[int] | None = None, dtype=jnp.float32) -> tuple:
    """Draws every group's parameters from ONE call of :func:`random_bits`.

    The words are ``jax.random.bits(key, (size,), jnp.uint32)``, bit for bit, computed faster on
    CPU; they are consumed group by group in ``order`` (indices into ``groups``; default: in
    order), and the parameters come back aligned with ``groups``.
    """
    sizes = [_noise_size(g) for g in groups]
    bits = random_bits(key, sum(sizes))
    out: list = [None] * len(groups)
    start = 0
    for i in range(len(groups)) if order is None else order:
        out[i] = _from_bits(bits[start:start + sizes[i]], groups[i], dtype)
        start += sizes[i]
    return tuple(out)


class Tape:
    """Collects layer taps and adds output perturbations during a tapped forward pass.

    ``perturbations[g]`` (or None) is added to the outputs of the ``g``-th dense or conv layer met;
    taps are :class:`jaxbias.nets.core.AffineTap` (dense layers on vectors) or
    :class:`jaxbias.nets.core.ConvTap` (convolutions, and dense layers applied at every position
    of a sequence or image, as 1x1 convolutions) with a leading group axis. Inside :class:`Repeat`
    a tape in scan mode receives per-step perturbations and scales and returns raw ``(h, z)``
    records, with each layer's static geometry in ``geometry``.
    """

    def __init__(self, perturbations=None, record: bool = False, scales=None, scan: bool = False):
        self.perturbations = perturbations
        self.record = record
        self.scales = None if scales is None else list(scales)
        self.scan = scan
        self.index = 0
        self.taps: list = []
        self.geometry: list = []

    def affine(self, h, z, w_scale, b_scale, geometry: tuple | None = None):
        """Adds the next perturbation to the outputs ``z`` of a layer with inputs ``h`` and records it.

        ``geometry``: ``(kernel, stride, padding, dilation)`` of a convolution (a :class:`~jaxbias.nets.core.ConvTap`'s
        static fields), None for a dense layer.
        """
        e = None if self.perturbations is None else self.perturbations[self.index]
        self.index += 1
        if e is not None:
            z = z + (e if self.scan else e[0])
        if self.record:
            if self.scan:
                self.taps.append((h, z))
                self.geometry.append(geometry)
            else:
                self.taps.append(make_tap(h[None], z[None], jnp.full((1,), w_scale, z.dtype),
                                          jnp.full((1,), b_scale, z.dtype), geometry))
        return z


def make_tap(h, z, w_scale, b_scale, geometry):
    """An :class:`~jaxbias.nets.core.AffineTap` (``geometry`` None) or :class:`~jaxbias.nets.core.ConvTap`."""
    if geometry is None:
        return core.AffineTap(h, z, w_scale, b_scale)
    return core.ConvTap(h, z, w_scale, b_scale, *geometry)


def _pointwise(ndim: int) -> tuple | None:
    """Geometry of a dense layer applied at every position of inputs ``(n, *positions, features)`` of rank
    ``ndim``: a 1x1 convolution (None for vectors, ``ndim == 2``)."""
    rank = ndim - 2
    return None if rank == 0 else ((1,) * rank, (1,) * rank, "VALID", (1,) * rank)


class Layer(Spec):
    """Base of layer specs: ``out_shape``, ``groups`` (parameter groups in forward order), ``draw_order`` and ``forward``."""

    def out_shape(self, in_shape: tuple) -> tuple:
        """Per-point output shape for per-point input shape ``in_shape``."""
        return in_shape

    def groups(self, in_shape: tuple) -> tuple:
        """Parameter groups in forward order (``core.Affine`` or :class:`Stacked`)."""
        return ()

    def draw_order(self, in_shape: tuple) -> tuple:
        """Indices of :meth:`groups` in the order their random words are drawn (default: forward order)."""
        return tuple(range(len(self.groups(in_shape))))

    def forward(self, params: tuple, x: jax.Array, tape: Tape | None) -> jax.Array:
        """Outputs ``(n_points, *out_shape)`` of ``x (n_points, *in_shape)``; ``params`` aligned with ``groups``."""
        raise NotImplementedError

    def init(self, key: jax.Array, x: jax.Array) -> tuple:
        """Draws the parameters from ``key``; ``x (n_points, *input_shape)`` fixes the input shape."""
        x = jnp.asarray(x)
        if x.ndim < 1:
            raise ValueError(f"x with shape {tuple(x.shape)}: expected (n_points, *input_shape)")
        shape = tuple(x.shape[1:])
        return init_params(key, self.groups(shape), self.draw_order(shape))

    def apply(self, params: tuple, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, n_out)``."""
        return self.forward(tuple(params), jnp.asarray(x), None)

    def tapped(self, params: tuple, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)`` (:func:`jaxbias.nets.core.affine_taps`)."""
        tape = Tape(perturbations, record=True)
        y = self.forward(tuple(params), jnp.asarray(x), tape)
        return y, tape.taps


def sublayers(layer: Layer):
    """``layer`` and every layer inside it, depth first."""
    yield layer
    for child in getattr(layer, "layers", ()) + getattr(layer, "blocks", ()) + (
            (layer.branch,) if isinstance(layer, Residual) else ()):
        yield from sublayers(child)


def _count(layer: Layer, in_shape: tuple) -> int:
    return len(layer.groups(in_shape))


@spec
class Dense(Layer):
    """Dense map of the last axis ``z = x W + b`` with ``Var W = C_W / fan_in``, ``Var b = C_b``.

    Attributes:
      features: output features.
      weight_var: C_W. bias_var: C_b. bias: whether the layer has a bias.
      parameterization: "standard" (scaled weights stored) or "ntk" (unit weights, scales in the
        forward pass; Jacot et al. 2018).
      weight_law: see :func:`jaxbias.nets.get_weight_law`.
    """

    features: int
    weight_var: float = 1.0
    bias_var: float = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"

    def __post_init__(self):
        object.__setattr__(self, "features", check_int("features", self.features, 1))
        object.__setattr__(self, "weight_var", check_float("weight_var", self.weight_var, 0.0))
        object.__setattr__(self, "bias_var", check_float("bias_var", self.bias_var, 0.0))
        object.__setattr__(self, "parameterization", core.check_parameterization(self.parameterization))
        object.__setattr__(self, "weight_law", canonical_law(self.weight_law))

    def out_shape(self, in_shape):
        if len(in_shape) < 1:
            raise ValueError(f"Dense({self.features}): inputs need a feature axis, got per-point shape {in_shape}")
        return in_shape[:-1] + (self.features,)

    def affine(self, in_shape) -> core.Affine:
        """The layer's affine parameter group for per-point input shape ``in_shape``."""
        return core.Affine.make((in_shape[-1], self.features), self.weight_var, self.bias_var, self.bias,
                                self.parameterization, get_weight_law(self.weight_law))

    def groups(self, in_shape):
        return (self.affine(in_shape),)

    def forward(self, params, x, tape):
        return _affine_forward(params, x, tape, self.affine(x.shape[1:]), core.affine_apply_scaled, _pointwise(x.ndim))


def _affine_forward(params, x, tape, layer: core.Affine, run: Callable, geometry, tap_input: Callable | None = None):
    """Runs a dense or conv layer ``run(p, x, w_scale, b_scale)``; scales traced under a scanning tape.

    ``tap_input()``: what the layer multiplies by its weights, when that is not ``x`` (a table
    lookup multiplies one-hot rows); only computed for a tape.
    """
    (p,) = params
    if tape is not None and tape.scales is not None:
        ws, bs = tape.scales.pop(0)
        b_scale = bs if layer.bias else jnp.zeros_like(bs)
    else:
        ws, bs = core.affine_scales(layer)
        b_scale = bs if layer.bias else 0.0
    z = run(p, x, ws, bs)
    if tape is None:
        return z
    return tape.affine(x if tap_input is None else tap_input(), z, ws, b_scale, geometry)


@spec
class Activation(Layer):
    """Elementwise ``phi``: a name (see :data:`jaxbias.nets.ACTIVATIONS`) or a callable."""

    fn: str | Callable

    def __post_init__(self):
        object.__setattr__(self, "fn", canonical_activation(self.fn))

    def forward(self, params, x, tape):
        return get_activation(self.fn).fn(x)


@spec
class LayerNorm(Layer):
    """Standardizes each point over its last axis, without learned gain and shift (their values at init)."""

    eps: float = 1e-6

    def forward(self, params, x, tape):
        return core.layer_norm(x, self.eps)


@spec
class BatchNorm(Layer):
    """Standardizes each feature over the points of the input set (and any other axes), as at init.

    One point's output then depends on the whole input set, which needs at least 2 points.
    """

    eps: float = 1e-6

    def forward(self, params, x, tape):
        if x.shape[0] < 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: batch norm standardizes over the input points and "
                             "needs at least 2")
        return core.batch_norm(x, self.eps)


@spec
class FeaturePool(Layer):
    """Max or average over non-overlapping windows of ``size`` features of the last axis (Francazi et al. 2024)."""

    kind: str
    size: int = 2

    def __post_init__(self):
        if self.kind not in ("max", "avg"):
            raise ValueError(f"kind={self.kind!r}: expected 'max' or 'avg'")
        object.__setattr__(self, "size", check_int("size", self.size, 1))

    def out_shape(self, in_shape):
        if in_shape[-1] % self.size:
            raise ValueError(f"FeaturePool size={self.size}: must divide the features, got {in_shape[-1]}")
        return in_shape[:-1] + (in_shape[-1] // self.size,)

    def forward(self, params, x, tape):
        if self.size == 1:
            return x
        h = x.reshape(*x.shape[:-1], x.shape[-1] // self.size, self.size)
        return jnp.max(h, axis=-1) if self.kind == "max" else jnp.mean(h, axis=-1)


@spec
class Conv(Layer):
    """2-D convolution of images ``(n, H, W, C)`` (NHWC, kernels HWIO), ``Var W = C_W / (kh kw c_in)``, ``Var b = C_b``.

    A unit's pre-activation at init has variance ``C_W q + C_b`` with ``q`` the mean square of its
    receptive field (zero padding included as zeros): the convolutional NNGP of Novak et al. (ICLR
    2019) and Garriga-Alonso et al. (ICLR 2019). See :func:`jaxbias.nets.core.conv_apply`.

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)`` (an int: square); stored as a pair.
      stride: ``(sh, sw)`` (an int: both); stored as a pair.
      padding: ``"SAME"``, ``"VALID"`` or an int number of zeros on each side.
      weight_var, bias_var, bias, parameterization, weight_law: as in :class:`Dense`.
    """

    features: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: str | int = "SAME"
    weight_var: float = 1.0
    bias_var: float = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"

    def __post_init__(self):
        object.__setattr__(self, "features", check_int("features", self.features, 1))
        object.__setattr__(self, "kernel_size", core.check_pair("kernel_size", self.kernel_size, 1))
        object.__setattr__(self, "stride", core.check_pair("stride", self.stride, 1))
        object.__setattr__(self, "padding", core.check_padding("padding", self.padding))
        object.__setattr__(self, "weight_var", check_float("weight_var", self.weight_var, 0.0))
        object.__setattr__(self, "bias_var", check_float("bias_var", self.bias_var, 0.0))
        object.__setattr__(self, "parameterization", core.check_parameterization(self.parameterization))
        object.__setattr__(self, "weight_law", canonical_law(self.weight_law))

    def out_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"Conv({self.features}): expects images (H, W, C) per point, got per-point shape "
                             f"{in_shape}")
        size = tuple(core.conv_out_size(n, k, s, self.padding)
                     for n, k, s in zip(in_shape, self.kernel_size, self.stride))
        if min(size) < 1:
            raise ValueError(f"Conv({self.features}): images {in_shape[:2]} are too small for kernel_size "
                             f"{self.kernel_size}, stride {self.stride}, padding {self.padding!r}")
        return size + (self.features,)

    def affine(self, in_shape) -> core.Affine:
        """The layer's affine parameter group for per-point input shape ``in_shape``."""
        return core.Affine.make(self.kernel_size + (in_shape[-1], self.features), self.weight_var, self.bias_var,
                                self.bias, self.parameterization, get_weight_law(self.weight_law))

    def groups(self, in_shape):
        self.out_shape(in_shape)
        return (self.affine(in_shape),)

    def forward(self, params, x, tape):
        geometry = (self.kernel_size, self.stride, core.conv_padding(self.padding), (1, 1))

        def run(p, h, ws, bs):
            return core.conv_apply(p, h, None, self.stride, self.padding, (ws, bs))

        return _affine_forward(params, x, tape, self.affine(x.shape[1:]), run, geometry)


@spec
class Pool2D(Layer):
    """Max or average pooling of images ``(n, H, W, C)`` over ``size x size`` windows (VALID).

    Attributes:
      kind: ``"max"`` or ``"avg"``.
      size: window side.
      stride: window step (None: ``size``, non-overlapping windows); stored as an int.
    """

    kind: str
    size: int = 2
    stride: int | None = None

    def __post_init__(self):
        if self.kind not in ("max", "avg"):
            raise ValueError(f"kind={self.kind!r}: expected 'max' or 'avg'")
        object.__setattr__(self, "size", check_int("size", self.size, 1))
        object.__setattr__(self, "stride", self.size if self.stride is None else check_int("stride", self.stride, 1))

    def out_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"Pool2D: expects images (H, W, C) per point, got per-point shape {in_shape}")
        if min(in_shape[:2]) < self.size:
            raise ValueError(f"Pool2D size={self.size}: images {in_shape[:2]} are smaller than the window")
        return tuple((n - self.size) // self.stride + 1 for n in in_shape[:2]) + in_shape[2:]

    def forward(self, params, x, tape):
        window, strides = (1, self.size, self.size, 1), (1, self.stride, self.stride, 1)
        # Python-scalar initial values: lax recognizes the max/add monoid and can differentiate it under jit.
        if self.kind == "max":
            return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, "VALID")
        return jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, "VALID") / (self.size * self.size)


@spec
class GlobalAvgPool(Layer):
    """Mean over the positions of each point, ``(n, *positions, C) -> (n, C)`` (e.g. an image's H and W)."""

    def out_shape(self, in_shape):
        if len(in_shape) < 2:
            raise ValueError(f"GlobalAvgPool: expects positions and features per point, got per-point shape {in_shape}")
        return in_shape[-1:]

    def forward(self, params, x, tape):
        return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))


@spec
class Flatten(Layer):
    """Each point's array as one vector, ``(n, *shape) -> (n, prod(shape))``."""

    def out_shape(self, in_shape):
        return (math.prod(in_shape),)

    def forward(self, params, x, tape):
        return x.reshape(x.shape[0], -1)


def _table(shape: tuple, variance: float, parameterization: str, law: str) -> core.Affine:
    """A table looked up rather than multiplied: entries of variance ``variance`` (U(-a, a) under absolute(a))."""
    law = get_weight_law(law)
    std = law.param / math.sqrt(3.0) if law.absolute else math.sqrt(variance)
    return core.Affine(tuple(shape), std, 0.0, False, parameterization == "ntk", law)


def _one_hot(ids, size: int, dtype):
    return jax.nn.one_hot(jnp.clip(ids, 0, size - 1), size, dtype=dtype)


@spec
class Embedding(Layer):
    """Token ids ``(n, T)`` to rows of a ``(vocab_size, features)`` table, ``(n, T, features)``.

    Ids outside ``[0, vocab_size)`` cannot be checked inside jit: they are clamped into range. To
    the structured NTK the lookup is a dense layer on one-hot ids.

    Attributes:
      vocab_size: rows of the table.
      features: columns.
      variance: variance of the entries (fixed, not divided by a fan-in).
      parameterization, weight_law: as in :class:`Dense` (the law shapes the table's draw).
    """

    vocab_size: int
    features: int
    variance: float = 1.0
    parameterization: str = "standard"
    weight_law: str = "normal"

    def __post_init__(self):
        object.__setattr__(self, "vocab_size", check_int("vocab_size", self.vocab_size, 1))
        object.__setattr__(self, "features", check_int("features", self.features, 1))
        object.__setattr__(self, "variance", check_float("variance", self.variance, 0.0))
        object.__setattr__(self, "parameterization", core.check_parameterization(self.parameterization))
        object.__setattr__(self, "weight_law", canonical_law(self.weight_law))

    def out_shape(self, in_shape):
        return in_shape + (self.features,)

    def groups(self, in_shape):
        return (_table((self.vocab_size, self.features), self.variance, self.parameterization, self.weight_law),)

    def forward(self, params, x, tape):
        def run(p, ids, ws, bs):
            h = jnp.take(p["w"], ids, axis=0, mode="clip")
            return h if isinstance(ws, (int, float)) and ws == 1.0 else h * ws

        dtype = params[0]["w"].dtype
        return _affine_forward(params, x, tape, self.groups(())[0], run, _pointwise(x.ndim + 1),
                               lambda: _one_hot(x, self.vocab_size, dtype))


def sinusoidal_encoding(seq_len: int, d_model: int) -> np.ndarray:
    """Fixed encodings ``(seq_len, d_model)``: ``PE[t, 2i] = sin(t w_i)``, ``PE[t, 2i+1] = cos(t w_i)``,
    ``w_i = 10000^(-2i / d_model)`` (Vaswani et al. 2017)."""
    t = np.arange(seq_len, dtype=np.float64)[:, None]
    i = np.arange(d_model)
    angles = t * np.power(10000.0, -(2 * (i // 2)) / d_model)[None, :]
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles)).astype(np.float32)


@spec
class Positional(Layer):
    """Adds position encodings to sequences ``(n, T, features)``, ``T <= max_len``.

    Attributes:
      kind: ``"sinusoidal"`` (fixed, :func:`sinusoidal_encoding`) or ``"learned"`` (a
        ``(max_len, features)`` table of entries of variance ``variance``, the first ``T`` rows added).
      max_len: longest sequence (rows of the learned table).
      variance: variance of the learned entries; 1/2 by default, the mean square of the sinusoidal
        encodings (``sin^2 + cos^2 = 1`` per pair of coordinates).
      parameterization, weight_law: as in :class:`Dense`, for the learned table.
    """

    kind: str = "sinusoidal"
    max_len: int = 512
    variance: float = 0.5
    parameterization: str = "standard"
    weight_law: str = "normal"

    def __post_init__(self):
        if self.kind not in ("sinusoidal", "learned"):
            raise ValueError(f"kind={self.kind!r}: expected 'sinusoidal' or 'learned'")
        object.__setattr__(self, "max_len", check_int("max_len", self.max_len, 1))
        object.__setattr__(self, "variance", check_float("variance", self.variance, 0.0))
        object.__setattr__(self, "parameterization", core.check_parameterization(self.parameterization))
        object.__setattr__(self, "weight_law", canonical_law(self.weight_law))

    def out_shape(self, in_shape):
        if len(in_shape) != 2 or in_shape[0] > self.max_len:
            raise ValueError(f"Positional: expects sequences (T, features) with T <= max_len={self.max_len}, "
                             f"got per-point shape {in_shape}")
        return in_shape

    def groups(self, in_shape):
        if self.kind == "sinusoidal":
            return ()
        return (_table((self.max_len, in_shape[-1]), self.variance, self.parameterization, self.weight_law),)

    def forward(self, params, x, tape):
        seq_len, features = x.shape[1:]
        if self.kind == "sinusoidal":
            return x + jnp.asarray(sinusoidal_encoding(seq_len, features))[None]

        def run(p, h, ws, bs):
            return h + (p["w"][:seq_len] * ws)[None]

        positions = lambda: jnp.broadcast_to(_one_hot(jnp.arange(seq_len), self.max_len, x.dtype),  # noqa: E731
                                             (x.shape[0], seq_len, self.max_len))
        return _affine_forward(params, x, tape, self.groups(x.shape[1:])[0], run, _pointwise(x.ndim), positions)


@spec
class SelfAttention(Layer):
    """Multi-head self-attention of sequences ``(n, T, d)`` (Vaswani et al., NeurIPS 2017).

    Dense maps ``d -> d`` give queries, keys and values, split into ``num_heads`` heads of
    ``head_dim = d / num_heads``; ``softmax(q k^T / sqrt(head_dim))`` (optionally causal) weighs the
    values and a dense map ``d -> d`` projects the concatenated heads back. Parameter groups: q, k,
    v, o.

    Attributes:
      num_heads: heads (must divide ``d``).
      causal: attend to earlier positions (and the position itself) only.
      weight_var, bias_var, bias, parameterization, weight_law: of the four dense maps, as in :class:`Dense`.
    """

    num_heads: int
    causal: bool = False
    weight_var: float = 1.0
    bias_var: float = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"

    def __post_init__(self):
        object.__setattr__(self, "num_heads", check_int("num_heads", self.num_heads, 1))
        if not isinstance(self.causal, bool):
            raise ValueError(f"causal={self.causal!r}: expected True or False")
        dense = self._dense(1)  # validates and canonicalizes the shared fields
        for name in ("weight_var", "bias_var", "parameterization", "weight_law"):
            object.__setattr__(self, name, getattr(dense, name))

    def _dense(self, d: int) -> Dense:
        return Dense(d, self.weight_var, self.bias_var, self.bias, self.parameterization, self.weight_law)

    def out_shape(self, in_shape):
        if len(in_shape) != 2 or in_shape[-1] % self.num_heads:
            raise ValueError(f"SelfAttention num_heads={self.num_heads}: expects sequences (T, d) with d divisible "
                             f"by num_heads, got per-point shape {in_shape}")
        return in_shape

    def groups(self, in_shape):
        self.out_shape(in_shape)
        return self._dense(in_shape[-1]).groups(in_shape) * 4

    def forward(self, params, x, tape):
        n, t, d = x.shape
        head_dim = d // self.num_heads
        dense = self._dense(d)
        q, k, v = (dense.forward((p,), x, tape).reshape(n, t, self.num_heads, head_dim) for p in params[:3])
        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(head_dim)
        if self.causal:
            mask = np.tril(np.ones((t, t), bool))[None, None]
            scores = jnp.where(mask, scores, -jnp.inf)
        weights = jax.nn.softmax(scores, axis=-1)
        heads = jnp.einsum("nhqk,nkhd->nqhd", weights, v).reshape(n, t, d)
        return dense.forward(params[3:], heads, tape)


@spec
class FirstPosition(Layer):
    """The first position of each point, ``(n, T, ..., C) -> (n, ..., C)`` (e.g. a sequence's first token)."""

    def out_shape(self, in_shape):
        if len(in_shape) < 2:
            raise ValueError(f"FirstPosition: expects positions and features per point, got per-point shape {in_shape}")
        return in_shape[1:]

    def forward(self, params, x, tape):
        return x[:, 0]


def _check_layers(name: str, layers) -> tuple:
    layers = tuple(layers)
    for layer in layers:
        if not isinstance(layer, Layer):
            raise ValueError(f"{name}: expected layer specs (jaxbias.nets.layers), got {layer!r}")
    return layers


@spec
class Serial(Layer):
    """Layers applied in order.

    Attributes:
      layers: the layers.
      draw: indices of ``layers`` in the order their parameters are drawn from the key's random
        words (None: in order). It changes which numbers each layer gets, not the function family;
        the built-in ResNet and Transformer draw their readout before their blocks, as earlier
        versions did.
    """

    layers: tuple
    draw: tuple | None = None

    def __post_init__(self):
        layers = _check_layers("Serial.layers", self.layers)
        object.__setattr__(self, "layers", layers)
        if self.draw is not None:
            draw = tuple(self.draw)
            if sorted(draw) != list(range(len(layers))) or not all(isinstance(i, int) for i in draw):
                raise ValueError(f"draw={self.draw!r}: expected None or an ordering of 0..{len(layers) - 1}")
            object.__setattr__(self, "draw", None if draw == tuple(range(len(layers))) else draw)

    def out_shape(self, in_shape):
        for layer in self.layers:
            in_shape = layer.out_shape(in_shape)
        return in_shape

    def groups(self, in_shape):
        out = []
        for layer in self.layers:
            out.extend(layer.groups(in_shape))
            in_shape = layer.out_shape(in_shape)
        return tuple(out)

    def draw_order(self, in_shape):
        starts, orders, start = [], [], 0
        for layer in self.layers:
            orders.append(layer.draw_order(in_shape))
            starts.append(start)
            start += len(orders[-1])
            in_shape = layer.out_shape(in_shape)
        seq = range(len(self.layers)) if self.draw is None else self.draw
        return tuple(starts[i] + g for i in seq for g in orders[i])

    def forward(self, params, x, tape):
        start = 0
        for layer in self.layers:
            n = _count(layer, tuple(x.shape[1:]))
            x = layer.forward(params[start:start + n], x, tape)
            start += n
        return x


@spec
class Residual(Layer):
    """``x + scale * branch(x)`` (the branch must keep the shape)."""

    branch: Layer
    scale: float = 1.0

    def __post_init__(self):
        _check_layers("Residual.branch", (self.branch,))
        object.__setattr__(self, "scale", check_float("scale", self.scale))

    def out_shape(self, in_shape):
        out = self.branch.out_shape(in_shape)
        if out != in_shape:
            raise ValueError(f"Residual: the branch maps shape {in_shape} to {out}; a skip connection needs equal shapes")
        return out

    def groups(self, in_shape):
        self.out_shape(in_shape)
        return self.branch.groups(in_shape)

    def draw_order(self, in_shape):
        return self.branch.draw_order(in_shape)

    def forward(self, params, x, tape):
        return x + self.scale * self.branch.forward(params, x, tape)


def _scales(group) -> tuple:
    ws, bs = core.affine_scales(group)
    return ws, bs


@spec
class Repeat(Layer):
    """Blocks of one structure run by ``lax.scan`` (compile time flat in depth).

    The blocks must map a shape to itself and differ at most in their scales (C_W, C_b): their
    parameters are stacked on a leading axis. ``Repeat.of(block, n)`` repeats one block.

    Attributes:
      blocks: the blocks.
      by_layer: draw the parameters layer by layer (each of a block's parameter groups across all
        blocks, then the next) instead of block by block (the same numbers as the blocks drawn one
        at a time). The built-in ResNet and Transformer draw by layer, as earlier versions did.
    """

    blocks: tuple
    by_layer: bool = False

    def __post_init__(self):
        blocks = _check_layers("Repeat.blocks", self.blocks)
        if not blocks:
            raise ValueError("Repeat.blocks: expected at least one block")
        if not isinstance(self.by_layer, bool):
            raise ValueError(f"by_layer={self.by_layer!r}: expected True or False")
        object.__setattr__(self, "blocks", blocks)

    @classmethod
    def of(cls, block: Layer, n: int, by_layer: bool = False) -> "Repeat":
        return cls((block,) * check_int("n", n, 1), by_layer)

    def out_shape(self, in_shape):
        out = self.blocks[0].out_shape(in_shape)
        if out != in_shape:
            raise ValueError(f"Repeat: a block maps shape {in_shape} to {out}; repeated blocks must keep the shape")
        return out

    def groups(self, in_shape):
        self.out_shape(in_shape)
        per_block = [b.groups(in_shape) for b in self.blocks]
        base = tuple(_unscaled(g) for g in per_block[0])
        for b in per_block[1:]:
            if tuple(_unscaled(g) for g in b) != base:
                raise ValueError("Repeat.blocks: blocks must share shapes, bias, weight law and parameterization "
                                 "(they may differ only in weight_var and bias_var)")
        return (Stacked(per_block[0], tuple(per_block), self.by_layer),)

    def draw_order(self, in_shape):
        return (0,)

    def forward(self, params, x, tape):
        (stacked,) = params
        groups = self.groups(tuple(x.shape[1:]))[0]
        block = self.blocks[0]
        scales = [jnp.asarray([_scales(b[i])[k] for b in groups.blocks], x.dtype)
                  for i in range(len(groups.groups)) for k in (0, 1)]
        record = tape is not None and tape.record
        n_groups = len(groups.groups)
        eps = None
        if tape is not None and tape.perturbations is not None:
            eps = tuple(tape.perturbations[tape.index + i] for i in range(n_groups))
        geometry: list = []

        def step(h, xs):
            p, s, e = xs
            inner = Tape(e, record, scales=[(s[2 * i], s[2 * i + 1]) for i in range(n_groups)], scan=True)
            h = block.forward(tuple(p), h, inner)
            geometry[:] = inner.geometry  # static, set while tracing
            return h, tuple(inner.taps) if record else None

        h, seen = jax.lax.scan(step, x, (tuple(stacked), tuple(scales), eps))
        if tape is not None:
            tape.index += n_groups
            if record:
                for i, (hs, zs) in enumerate(seen):
                    b_scale = scales[2 * i + 1] if groups.groups[i].bias else jnp.zeros_like(scales[2 * i + 1])
                    tape.taps.append(make_tap(hs, zs, scales[2 * i], b_scale, geometry[i]))
        return h
