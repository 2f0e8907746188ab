"""Residual networks, dense or convolutional (He et al., ECCV 2016, "identity mappings").

``h_0 = A_0 x`` (dense ``d0 -> width`` or conv ``C -> width`` channels), then ``num_blocks``
residual blocks ``h <- h + alpha f(h)``, then (conv: global average pooling) a dense readout.
The branch ``f`` is ``block_depth`` layers of

* position ``"pre"`` (pre-activation ResNet; also without norm): ``u <- A(phi(N(u)))``;
* position ``"post"``: ``u <- N(phi(A(u)))``,

with ``N`` the normalization (identity without ``norm``). Without normalization the first affine
of the first block sees ``phi(z1)``, ``z1 = A_0 x``, so at init its pre-activation has second
moment ``C_W E[phi(z1)^2] + C_b`` (Lee et al., ICLR 2018).

Normalizations have no learned gain or bias (their values at init):

* layer norm: standardize each point over features (conv: over channels at each position).
* batch norm: standardize each feature (conv: each channel) over the n_points axis of the
  input set (and the spatial positions for conv). These are the batch statistics a network sees
  when the whole input set is one batch at init; the function of one point then depends on the
  other points of the set, and at least two points are needed.

:class:`ResNet` is a recipe of layer primitives (:attr:`ResNet.layers`): the blocks share one
shape, so they are one :class:`~jaxbias.nets.layers.Repeat` run with ``lax.scan`` (compile time
flat in depth) and their parameters are stored stacked. ``init`` draws every parameter from one
call of the key's random words: the input layer, the readout, then each block layer across all
blocks (layer 1 of every block, then layer 2, ...), as earlier versions did. ``tapped`` gives the
input layer, each block layer stacked over blocks and the readout, which the structured empirical
NTK reads.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxbias.nets import layers as L
from jaxbias.nets.cnn import check_image_input
from jaxbias.nets.core import check_input_shape, check_int, check_pair, check_parameterization, per_layer
from jaxbias.nets.options import Norm, canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec
from jaxbias.validation import check_float

__all__ = ["ResNet", "resnet"]


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
        width = check_int("width", self.width, 1)
        num_blocks = check_int("num_blocks", self.num_blocks, 0)
        block_depth = check_int("block_depth", self.block_depth, 1)
        if self.kind not in ("dense", "conv"):
            raise ValueError(f"kind={self.kind!r}: expected 'dense' or 'conv'")
        conv = self.kind == "conv"
        if not conv and self.kernel_size is not None:
            raise ValueError(f"kernel_size={self.kernel_size!r}: only for kind='conv' (dense blocks have no kernel)")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias={self.bias!r}: expected True or False")
        in_shape = self.in_shape
        if in_shape is not None:
            if not isinstance(in_shape, (tuple, list)) or len(in_shape) != (3 if conv else 1):
                raise ValueError(f"in_shape={in_shape!r}: expected {'(H, W, C)' if conv else '(d0,)'} "
                                 f"for kind={self.kind!r}")
            in_shape = tuple(check_int("in_shape", s, 1) for s in in_shape)
        n_layers = num_blocks * block_depth + 2
        values = {
            "width": width,
            "num_blocks": num_blocks,
            "block_depth": block_depth,
            "activation": canonical_activation(self.activation),
            "out": check_int("out", self.out, 1),
            "norm": Norm.parse(self.norm),
            "residual_scale": check_float("residual_scale", self.residual_scale),
            "kernel_size": check_pair("kernel_size", 3 if self.kernel_size is None else self.kernel_size, 1)
            if conv else None,
            "weight_var": per_layer("weight_var", self.weight_var, n_layers),
            "bias_var": per_layer("bias_var", self.bias_var, n_layers),
            "parameterization": check_parameterization(self.parameterization),
            "weight_law": canonical_law(self.weight_law),
            "in_shape": in_shape,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _affine(self, features: int, i: int) -> L.Layer:
        """Affine map number ``i`` (in the order of ``weight_var``) of the residual stream."""
        scales = (self.weight_var[i], self.bias_var[i], self.bias, self.parameterization, self.weight_law)
        if self.kind == "conv":
            return L.Conv(features, self.kernel_size, 1, "SAME", *scales)
        return L.Dense(features, *scales)

    def _block(self, b: int) -> L.Residual:
        """Residual block ``b``: ``u + residual_scale * branch(u)``, the branch ordered by the norm's position."""
        act = L.Activation(self.activation)
        norm = () if self.norm is None else (L.LayerNorm() if self.norm.kind == "layer" else L.BatchNorm(),)
        branch = []
        for j in range(self.block_depth):
            affine = self._affine(self.width, 1 + b * self.block_depth + j)
            if self.norm is not None and self.norm.position == "post":
                branch.extend((affine, act, *norm))
            else:
                branch.extend((*norm, act, affine))
        return L.Residual(L.Serial(tuple(branch)), self.residual_scale)

    @property
    def layers(self) -> L.Serial:
        """The network as layer primitives (:mod:`jaxbias.nets.layers`): the recipe ``init`` and ``apply`` run.

        The readout is drawn right after the input layer, and the blocks by layer
        (:attr:`~jaxbias.nets.layers.Repeat.by_layer`), as in earlier versions.
        """
        seq = [self._affine(self.width, 0)]
        if self.num_blocks:
            seq.append(L.Repeat(tuple(self._block(b) for b in range(self.num_blocks)), by_layer=True))
        if self.kind == "conv":
            seq.append(L.GlobalAvgPool())
        seq.append(L.Dense(self.out, self.weight_var[-1], self.bias_var[-1], self.bias, self.parameterization,
                           self.weight_law))
        last = len(seq) - 1
        return L.Serial(tuple(seq), (0, last, *range(1, last)))

    def _checked(self, x) -> jax.Array:
        x = jnp.asarray(x)
        if self.kind == "conv":
            x = check_image_input(x, "resnet(kind='conv')")
        else:
            if x.ndim != 2:
                raise ValueError(
                    f"x with shape {tuple(x.shape)}: resnet(kind='dense') expects inputs of shape (n_points, d0)"
                )
            if not jnp.issubdtype(x.dtype, jnp.floating):
                raise ValueError(f"x with dtype {x.dtype}: resnet expects floating inputs")
            x = x.astype(jnp.float32)
        check_input_shape(x, self.in_shape, "resnet")
        return x

    def init(self, key: jax.Array, x: jax.Array) -> dict:
        """Draws the parameters from ``key``; ``x`` fixes the input shape.

        Returns ``{"input": {"w", "b"}, "readout": {"w", "b"}, "blocks": [layer 1, ..., layer block_depth]}``
        (no ``"blocks"`` without blocks, no ``"b"`` without bias), each block layer stacked over the
        blocks (leading axis ``num_blocks``).
        """
        flat = self.layers.init(key, self._checked(x))
        params = {"input": flat[0], "readout": flat[-1]}
        if self.num_blocks:
            params["blocks"] = list(flat[1])
        return params

    def _forward(self, params: dict, x: jax.Array, tape: L.Tape | None) -> jax.Array:
        x = self._checked(x)
        if self.norm is not None and self.norm.kind == "batch" and x.shape[0] < 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: norm={str(self.norm)!r} standardizes over the input "
                             "points and needs at least 2 of them")
        layers = self.layers
        expected = layers.groups(tuple(x.shape[1:]))[0].w_shape
        if tuple(params["input"]["w"].shape) != expected:
            raise ValueError(
                f"x with shape {tuple(x.shape)}: these params were drawn for inputs with "
                f"{params['input']['w'].shape[-2]} features/channels, got {x.shape[-1]}"
            )
        flat = (params["input"], tuple(params["blocks"]), params["readout"]) if self.num_blocks else \
            (params["input"], params["readout"])
        return layers.forward(flat, x.astype(params["readout"]["w"].dtype), tape)

    def apply(self, params: dict, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)``."""
        return self._forward(params, x, None)

    def tapped(self, params: dict, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)`` (see :func:`jaxbias.nets.core.affine_taps`)."""
        tape = L.Tape(perturbations, record=True)
        y = self._forward(params, x, tape)
        return y, tape.taps


def resnet(width, num_blocks, block_depth=2, kind="dense", activation="relu", out=1, **options) -> ResNet:
    """``ResNet(width, num_blocks, block_depth, kind, activation, out, **options)``: the spelling of earlier versions."""
    return ResNet(width, num_blocks, block_depth, kind, activation, out, **options)
