"""Layer primitives and combinators: compose a network and get init, apply, taps and kernels from one value.

Every layer is a frozen, hashable spec. A composed layer is a network: ``init(key, x)`` draws all
its parameters from ONE call of :func:`jaxbias.random_bits.random_bits` (the words are consumed
layer by layer in forward order, so a stacked group draws the same numbers as its layers drawn one
at a time), ``apply(params, x)`` runs it, ``tapped`` exposes its dense layers to the structured NTK,
and :func:`jaxbias.kernels.infinite` computes its infinite-width NNGP and NTK when every layer has
a kernel rule (the model is neural-tangents' stax, where one description gives init, apply and
kernel; Novak et al., ICLR 2020).

Primitives: :class:`Dense`, :class:`Activation`, :class:`LayerNorm`, :class:`BatchNorm`,
:class:`FeaturePool`. Combinators: :class:`Serial`, :class:`Residual` and :class:`Repeat`
(``lax.scan`` over blocks of one shape, so compile time stays flat in depth; the blocks may differ
in their scales C_W, C_b, as the layers of an MLP with per-layer variances do).

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
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from jaxbias.nets import core
from jaxbias.nets.activations import get_activation
from jaxbias.nets.options import canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law
from jaxbias.random_bits import random_bits
from jaxbias.validation import check_float, check_int

__all__ = [
    "Layer", "Dense", "Activation", "LayerNorm", "BatchNorm", "FeaturePool", "Serial", "Residual", "Repeat",
    "Stacked", "sublayers",
]


@dataclasses.dataclass(frozen=True)
class Stacked:
    """A parameter group of :class:`Repeat`: ``groups`` (one block's groups) for each of ``len(scales)`` blocks.

    Attributes:
      groups: the first block's groups (``core.Affine`` or nested :class:`Stacked`).
      blocks: every block's groups, equal to ``groups`` up to their scales.
    """

    groups: tuple
    blocks: tuple


def _noise_size(group) -> int:
    if isinstance(group, core.Affine):
        return core.affine_noise_size(group)
    return len(group.blocks) * sum(_noise_size(g) for g in group.groups)


def _unscaled(group):
    """The group with unit scales (what a stack draws before multiplying by each block's scales)."""
    if isinstance(group, core.Affine):
        return group._replace(w_std=1.0, b_std=1.0, ntk=True)
    return Stacked(tuple(_unscaled(g) for g in group.groups), tuple(tuple(_unscaled(g) for g in b) for b in group.blocks))


def _from_bits(bits: jax.Array, group, dtype) -> Any:
    """Parameters of one group from its random words (see :func:`jaxbias.nets.core.init_groups`)."""
    if isinstance(group, core.Affine):
        return core.affine_from_bits(bits, group, dtype)
    sizes = [_noise_size(g) for g in group.groups]
    per_block = bits.reshape(len(group.blocks), -1)

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


def init_params(key: jax.Array, groups: Sequence, dtype=jnp.float32) -> tuple:
    """Draws every group's parameters from ONE call of :func:`random_bits`, words consumed in order."""
    sizes = [_noise_size(g) for g in groups]
    bits = random_bits(key, sum(sizes))
    out, start = [], 0
    for g, size in zip(groups, sizes):
        out.append(_from_bits(bits[start:start + size], g, dtype))
        start += size
    return tuple(out)


class Tape:
    """Collects layer taps and adds output perturbations during a tapped forward pass.

    ``perturbations[g]`` (or None) is added to the outputs of the ``g``-th dense layer met; taps are
    :class:`jaxbias.nets.core.AffineTap` with a leading group axis. Inside :class:`Repeat` a tape in
    scan mode receives per-step perturbations and scales and returns raw ``(h, z)`` records.
    """

    def __init__(self, perturbations=None, record: bool = False, scales=None, scan: bool = False):
        self.perturbations = perturbations
        self.record = record
        self.scales = None if scales is None else list(scales)
        self.scan = scan
        self.index = 0
        self.taps: list = []

    def dense(self, h, z, w_scale, b_scale):
        e = None if self.perturbations is None else self.perturbations[self.index]
        self.index += 1
        if e is not None:
            z = z + (e if self.scan else e[0])
        if self.record:
            if self.scan:
                self.taps.append((h, z))
            else:
                self.taps.append(core.AffineTap(h[None], z[None], jnp.full((1,), w_scale, z.dtype),
                                                jnp.full((1,), b_scale, z.dtype)))
        return z


class Layer(Spec):
    """Base of layer specs: ``out_shape``, ``groups`` (parameter groups in drawing order) and ``forward``."""

    def out_shape(self, in_shape: tuple) -> tuple:
        """Per-point output shape for per-point input shape ``in_shape``."""
        return in_shape

    def groups(self, in_shape: tuple) -> tuple:
        """Parameter groups in drawing order (``core.Affine`` or :class:`Stacked`)."""
        return ()

    def forward(self, params: tuple, x: jax.Array, tape: Tape | None) -> jax.Array:
        """Outputs ``(n_points, *out_shape)`` of ``x (n_points, *in_shape)``; ``params`` aligned with ``groups``."""
        raise NotImplementedError

    def init(self, key: jax.Array, x: jax.Array) -> tuple:
        """Draws the parameters from ``key``; ``x (n_points, *input_shape)`` fixes the input shape."""
        x = jnp.asarray(x)
        if x.ndim < 1:
            raise ValueError(f"x with shape {tuple(x.shape)}: expected (n_points, *input_shape)")
        return init_params(key, self.groups(tuple(x.shape[1:])))

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
        return core.Affine.make((in_shape[-1], self.features), self.weight_var, self.bias_var, self.bias,
                                self.parameterization, get_weight_law(self.weight_law))

    def groups(self, in_shape):
        return (self.affine(in_shape),)

    def forward(self, params, x, tape):
        (p,) = params
        layer = self.affine(x.shape[1:])
        if tape is not None and tape.scales is not None:
            ws, bs = tape.scales.pop(0)
            z = core.affine_apply_scaled(p, x, ws, bs)
            b_scale = bs if self.bias else jnp.zeros_like(bs)
        else:
            z = core.affine_apply(p, x, layer)
            ws, bs = core.affine_scales(layer)
            b_scale = bs if self.bias else 0.0
        return z if tape is None else tape.dense(x, z, ws, b_scale)


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


def _check_layers(name: str, layers) -> tuple:
    layers = tuple(layers)
    for layer in layers:
        if not isinstance(layer, Layer):
            raise ValueError(f"{name}: expected layer specs (jaxbias.nets.layers), got {layer!r}")
    return layers


@spec
class Serial(Layer):
    """Layers applied in order."""

    layers: tuple

    def __post_init__(self):
        object.__setattr__(self, "layers", _check_layers("Serial.layers", self.layers))

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
    """

    blocks: tuple

    def __post_init__(self):
        blocks = _check_layers("Repeat.blocks", self.blocks)
        if not blocks:
            raise ValueError("Repeat.blocks: expected at least one block")
        object.__setattr__(self, "blocks", blocks)

    @classmethod
    def of(cls, block: Layer, n: int) -> "Repeat":
        return cls((block,) * check_int("n", n, 1))

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
        return (Stacked(per_block[0], tuple(per_block)),)

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

        def step(h, xs):
            p, s, e = xs
            inner = Tape(e, record, scales=[(s[2 * i], s[2 * i + 1]) for i in range(n_groups)], scan=True)
            h = block.forward(tuple(p), h, inner)
            return h, tuple(inner.taps) if record else None

        h, seen = jax.lax.scan(step, x, (tuple(stacked), tuple(scales), eps))
        if tape is not None:
            tape.index += n_groups
            if record:
                for i, (hs, zs) in enumerate(seen):
                    b_scale = scales[2 * i + 1] if groups.groups[i].bias else jnp.zeros_like(scales[2 * i + 1])
                    tape.taps.append(core.AffineTap(hs, zs, scales[2 * i], b_scale))
        return h
