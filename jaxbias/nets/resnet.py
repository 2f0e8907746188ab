"""Residual networks, dense or convolutional (He et al., ECCV 2016, "identity mappings").

``h_0 = A_0 x`` (dense ``d0 -> width`` or conv ``C -> width`` channels), then ``num_blocks``
residual blocks ``h <- h + alpha f(h)``, then (conv: global average pooling) a dense readout.
The branch ``f`` is ``block_depth`` layers of

* ``norm_position="pre"`` (pre-activation ResNet): ``u <- A(phi(N(u)))``;
* ``norm_position="post"``: ``u <- N(phi(A(u)))``,

with ``N`` the normalization (identity when ``normalization=None``). Without normalization the
first affine of the first block sees ``phi(z1)``, ``z1 = A_0 x``, so at init its pre-activation
has second moment ``C_W E[phi(z1)^2] + C_b`` (Lee et al., ICLR 2018).

Normalizations have no learned gain or bias (their values at init):

* ``"layer"``: standardize each point over features (conv: over channels at each position).
* ``"batch"``: standardize each feature (conv: each channel) over the n_points axis of the
  input set (and the spatial positions for conv). These are the batch statistics a network sees
  when the whole input set is one batch at init; the function of one point then depends on the
  other points of the set, and at least two points are needed.

Blocks share one shape, so they are stored stacked and run with ``lax.scan``: compile time stays
flat in depth. Keys: ``init`` splits its key once into one key per layer, in the order of
``weight_var`` (input layer, block layers block by block, readout).

The net registers its layer taps (:func:`jaxbias.nets.core.register_affine_taps`: the input
layer, each block layer stacked over blocks, the readout), which the structured empirical NTK reads.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxbias.nets.activations import get_activation
from jaxbias.nets.cnn import check_image_input
from jaxbias.nets.core import (
    Affine,
    AffineTap,
    ConvTap,
    affine_apply,
    affine_apply_scaled,
    affine_scales,
    batch_norm,
    check_choice,
    check_input_shape,
    check_int,
    check_parameterization,
    conv_apply,
    init_groups,
    layer_norm,
    per_layer,
    scale_config,
    stacked_scales,
)
from jaxbias.nets.options import Norm, canonical_activation
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law

__all__ = ["ResNet", "resnet", "batch_norm"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _build(
    width: int,
    num_blocks: int,
    block_depth: int = 2,
    kind: str = "dense",
    activation: str | Callable = "relu",
    out: int = 1,
    *,
    normalization: str | None = None,
    norm_position: str = "pre",
    residual_scale: float = 1.0,
    kernel_size: int | tuple[int, int] = 3,
    weight_var: float | Sequence[float] = 1.0,
    bias_var: float | Sequence[float] = 0.0,
    bias: bool = True,
    parameterization: str = "standard",
    weight_law: str = "normal",
    in_shape: Sequence[int] | None = None,
):
    """Builds a random residual network.

    Args:
      width: hidden width (dense) or number of channels (conv).
      num_blocks: number of residual blocks (>= 0).
      block_depth: affine layers per block (>= 1).
      kind: ``"dense"`` (inputs ``(n_points, d0)``) or ``"conv"`` (inputs ``(n_points, H, W, C)``,
        SAME-padded stride-1 convolutions, global average pooling before the readout).
      activation: name (see :mod:`jaxbias.nets.activations`) or callable.
      out: output dimension.
      normalization: None, ``"layer"`` or ``"batch"`` (see module docstring).
      norm_position: ``"pre"`` (norm, activation, affine) or ``"post"`` (affine, activation, norm).
      residual_scale: multiplier alpha on each residual branch.
      kernel_size: conv kernel, int or ``(kh, kw)`` (conv kind only).
      weight_var: C_W, one number or ``num_blocks * block_depth + 2`` values: input layer, the
        block layers in order (block 1 layer 1, block 1 layer 2, ..., block 2 layer 1, ...), readout.
      bias_var: C_b, same convention.
      bias: whether layers have biases.
      parameterization: "standard" or "ntk".
      weight_law: "normal", "truncated_normal", "uniform", "orthogonal", "sparse(p)", "low_rank(r)"
        or "absolute(a)" (weights and biases U(-a, a); C_W and C_b then unused).
      in_shape: declared input shape (``(d0,)`` dense, ``(H, W, C)`` conv); others raise ValueError.

    Returns:
      A :class:`Net`; ``apply(params, x)`` maps ``x`` to ``(n_points, out)``. Params:
      ``{"input": {...}, "blocks": [layer 1, ..., layer block_depth], "readout": {...}}``, each block
      layer stacked over blocks (leading axis ``num_blocks``).

    Raises:
      ValueError: an invalid argument (at construction) or input shape (at init/apply).

    Example:
      >>> import jax, jax.numpy as jnp, jaxbias as jb
      >>> net = jb.nets.resnet(width=32, num_blocks=4, norm="layer_pre")
      >>> x = jnp.ones((5, 3))
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (5, 1)
    """
    width = check_int("width", width, 1)
    num_blocks = check_int("num_blocks", num_blocks, 0)
    block_depth = check_int("block_depth", block_depth, 1)
    check_choice("kind", kind, ("dense", "conv"))
    phi = get_activation(activation)
    out = check_int("out", out, 1)
    check_choice("normalization", normalization, (None, "layer", "batch"))
    check_choice("norm_position", norm_position, ("pre", "post"))
    if isinstance(residual_scale, bool) or not isinstance(residual_scale, (int, float)) or not math.isfinite(
        residual_scale
    ):
        raise ValueError(f"residual_scale={residual_scale!r}: expected a finite number")
    residual_scale = float(residual_scale)
    kernel = (kernel_size, kernel_size) if _is_int(kernel_size) else kernel_size
    if not isinstance(kernel, (tuple, list)) or len(kernel) != 2 or not all(_is_int(k) and k >= 1 for k in kernel):
        raise ValueError(f"kernel_size={kernel_size!r}: expected an integer >= 1 or a (kh, kw) pair")
    kernel = tuple(kernel)
    n_layers = num_blocks * block_depth + 2
    cws = per_layer("weight_var", weight_var, n_layers)
    cbs = per_layer("bias_var", bias_var, n_layers)
    check_choice("bias", bias, (True, False))
    check_parameterization(parameterization)
    law = get_weight_law(weight_law)
    conv = kind == "conv"
    if in_shape is not None:
        rank = 3 if conv else 1
        if not isinstance(in_shape, (tuple, list)) or len(in_shape) != rank:
            raise ValueError(f"in_shape={in_shape!r}: expected {'(H, W, C)' if conv else '(d0,)'} for kind={kind!r}")
        in_shape = tuple(check_int("in_shape", s, 1) for s in in_shape)

    def make(fan_in: int, fan_out: int, i: int) -> Affine:
        shape = (*kernel, fan_in, fan_out) if conv else (fan_in, fan_out)
        return Affine.make(shape, cws[i], cbs[i], bias, parameterization, law)

    def plan(d_in: int) -> tuple[Affine, list[list[Affine]], Affine]:
        first = make(d_in, width, 0)
        blocks = [[make(width, width, 1 + b * block_depth + j) for b in range(num_blocks)] for j in range(block_depth)]
        readout = Affine.make((width, out), cws[-1], cbs[-1], bias, parameterization, law)
        return first, blocks, readout

    def checked(x) -> jax.Array:
        x = jnp.asarray(x)
        if conv:
            x = check_image_input(x, "resnet(kind='conv')")
        else:
            if x.ndim != 2:
                raise ValueError(
                    f"x with shape {tuple(x.shape)}: resnet(kind='dense') expects inputs of shape (n_points, d0)"
                )
            if not jnp.issubdtype(x.dtype, jnp.floating):
                raise ValueError(f"x with dtype {x.dtype}: resnet expects floating inputs")
            x = x.astype(jnp.float32)
        check_input_shape(x, in_shape, "resnet")
        return x

    def init(key, x):
        x = checked(x)
        first, blocks, readout = plan(x.shape[-1])
        drawn = init_groups(key, [first, readout] + ([blocks[j] for j in range(block_depth)] if num_blocks else []))
        params = {"input": drawn[0], "readout": drawn[1]}
        if num_blocks:
            params["blocks"] = drawn[2:]
        return params

    def norm(h):
        if normalization == "layer":
            return layer_norm(h)
        if normalization == "batch":
            return batch_norm(h)
        return h

    def affine(p, h, scales):
        return conv_apply(p, h, None, 1, "SAME", scales) if conv else affine_apply_scaled(p, h, *scales)

    def make_tap(h, z, w_scale, b_scale, is_conv):
        """One group's tap: inputs ``h`` and outputs ``z`` stacked on a leading layer axis."""
        b_scale = b_scale if bias else jnp.zeros_like(b_scale)
        if is_conv:
            return ConvTap(h, z, w_scale, b_scale, kernel, (1, 1), "SAME", (1, 1))
        return AffineTap(h, z, w_scale, b_scale)

    def forward(params, x, perturbations=None, record=False):
        """``apply`` with per-layer output perturbations (None: none); returns ``(y, taps)``.

        ``taps`` (when ``record``): the input layer, then one group per block layer ``j`` stacked
        over blocks (leading axis ``num_blocks``), then the dense readout.
        """
        x = checked(x)
        if normalization == "batch" and x.shape[0] < 2:
            raise ValueError(
                f"x with shape {tuple(x.shape)}: normalization='batch' standardizes over the input points "
                "and needs at least 2 of them"
            )
        first, blocks, readout = plan(x.shape[-1])
        if tuple(params["input"]["w"].shape) != first.w_shape:
            raise ValueError(
                f"x with shape {tuple(x.shape)}: these params were drawn for inputs with "
                f"{params['input']['w'].shape[-2]} features/channels, got {x.shape[-1]}"
            )
        dtype = params["readout"]["w"].dtype
        x = x.astype(dtype)
        eps = (lambda g: None) if perturbations is None else (lambda g: perturbations[g])

        def add(z, e):
            return z if e is None else z + e

        def scales_of(lay):
            return tuple(jnp.full((1,), s, dtype) for s in affine_scales(lay))

        taps = []
        h = conv_apply(params["input"], x, first, 1, "SAME") if conv else affine_apply(params["input"], x, first)
        h = add(h, eps(0)[0] if perturbations is not None else None)  # groups of one layer: index 0
        if record:
            taps.append(make_tap(x[None], h[None], *scales_of(first), conv))
        if num_blocks:
            scales = [stacked_scales(layers, dtype) for layers in blocks]

            def block(h, xs):
                ps, ss, es = xs
                u, seen = h, []
                for p, s, e in zip(ps, ss, es):
                    inp = phi.fn(norm(u)) if norm_position == "pre" else u
                    z = add(affine(p, inp, s), e)
                    seen.append((inp, z))
                    u = z if norm_position == "pre" else norm(phi.fn(z))
                return h + residual_scale * u, (seen if record else None)

            block_eps = [eps(1 + j) for j in range(block_depth)]
            h, seen = jax.lax.scan(block, h, (params["blocks"], scales, block_eps))
            if record:
                taps.extend(make_tap(inp, z, *s, conv) for (inp, z), s in zip(seen, scales))
        if conv:
            h = jnp.mean(h, axis=(1, 2))
        y = affine_apply(params["readout"], h, readout)
        y = add(y, eps(1 + (block_depth if num_blocks else 0))[0] if perturbations is not None else None)
        if record:
            taps.append(make_tap(h[None], y[None], *scales_of(readout), False))
        return y, taps

    def apply(params, x):
        return forward(params, x)[0]

    def tapped(params, x, perturbations):
        return forward(params, x, perturbations, record=True)

    config = {
        "arch": "resnet",
        "width": width,
        "num_blocks": num_blocks,
        "block_depth": block_depth,
        "kind": kind,
        "activation": phi.name,
        "out": out,
        "normalization": normalization,
        "norm_position": norm_position,
        "residual_scale": residual_scale,
        "kernel_size": list(kernel) if conv else None,
        **scale_config(cws, cbs, bias, parameterization, law, in_shape),
    }
    return init, apply, tapped, config


@spec
class ResNet(Spec):
    """A random residual network: a frozen, hashable spec.

    An input map to ``width`` features (dense, or a 3x3 convolution for images), ``num_blocks``
    residual blocks ``u <- u + residual_scale * B(u)`` of ``block_depth`` affine maps each, then
    a dense readout (after global average pooling for images). The block order follows ``norm``:
    position ``"pre"`` (pre-activation ResNet, He et al. 2016) ``u <- A(phi(N(u)))`` per map, position
    ``"post"`` ``u <- N(phi(A(u)))``; without ``norm`` the block is pre-activation.

    Attributes:
      width: features (channels for ``kind="conv"``) of the residual stream.
      num_blocks: number of residual blocks (>= 0).
      block_depth: affine maps per block (>= 1).
      kind: ``"dense"`` (inputs ``(n_points, d)``) or ``"conv"`` (inputs ``(n_points, H, W, C)``).
      activation: name (see :data:`jaxbias.nets.ACTIVATIONS`) or callable.
      out: output dimension.
      norm: None or a :class:`~jaxbias.nets.Norm` (layer norm over features, or batch norm over
        the input points), whose position sets the block order.
      residual_scale: multiplier on each block's branch.
      kernel_size: convolution kernel ``(kh, kw)`` for ``kind="conv"`` (an int: square); None for dense.
      weight_var: C_W, one number or ``num_blocks * block_depth + 2`` values (input map, block maps, readout).
      bias_var: C_b, same convention.
      bias: whether layers have biases.
      parameterization: "standard" or "ntk".
      weight_law: as in :class:`~jaxbias.nets.MLP`.
      in_shape: declared input shape; other inputs raise ValueError.

    Example:
      >>> import jax, jaxbias as jb
      >>> net = jb.nets.ResNet(width=32, num_blocks=4, norm="layer_pre")
      >>> x = jb.inputs.grid(dim=2, resolution=4)
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (16, 1)
    """

    width: int
    num_blocks: int
    block_depth: int = 2
    kind: str = "dense"
    activation: str | Callable = "relu"
    out: int = 1
    norm: Norm | str | None = None
    residual_scale: float = 1.0
    kernel_size: int | tuple[int, int] | None = None
    weight_var: float | tuple[float, ...] = 1.0
    bias_var: float | tuple[float, ...] = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"
    in_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        norm = Norm.parse(self.norm)
        kernel = 3 if self.kernel_size is None else self.kernel_size
        if self.kind == "dense" and self.kernel_size is not None:
            raise ValueError(f"kernel_size={self.kernel_size!r}: only for kind='conv' (dense blocks have no kernel)")
        config = self._build_from(norm, kernel, self.weight_var, self.bias_var, self.in_shape)[3]
        values = {
            "activation": canonical_activation(self.activation),
            "norm": norm,
            "residual_scale": float(config["residual_scale"]),
            "kernel_size": None if config["kernel_size"] is None else tuple(config["kernel_size"]),
            "weight_var": tuple(config["weight_var"]),
            "bias_var": tuple(config["bias_var"]),
            "weight_law": config["weight_law"],
            "in_shape": None if config["in_shape"] is None else tuple(config["in_shape"]),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _build_from(self, norm, kernel_size, weight_var, bias_var, in_shape):
        return _build(
            self.width, self.num_blocks, self.block_depth, self.kind, self.activation, self.out,
            normalization=None if norm is None else norm.kind,
            norm_position="pre" if norm is None else norm.position, residual_scale=self.residual_scale,
            kernel_size=kernel_size, weight_var=weight_var, bias_var=bias_var, bias=self.bias,
            parameterization=self.parameterization, weight_law=self.weight_law, in_shape=in_shape,
        )

    def _closures(self):
        return self._build_from(self.norm, 3 if self.kernel_size is None else self.kernel_size, self.weight_var,
                                self.bias_var, self.in_shape)

    def init(self, key: jax.Array, x: jax.Array):
        """Draws the parameters from ``key``; ``x`` fixes the input shape."""
        return self._closures()[0](key, x)

    def apply(self, params, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)``."""
        return self._closures()[1](params, x)

    def tapped(self, params, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)``."""
        return self._closures()[2](params, x, perturbations)


def resnet(width, num_blocks, block_depth=2, kind="dense", activation="relu", out=1, **options) -> ResNet:
    """``ResNet(width, num_blocks, block_depth, kind, activation, out, **options)``: the spelling of earlier versions."""
    return ResNet(width, num_blocks, block_depth, kind, activation, out, **options)
