"""Fully connected networks (multilayer perceptrons).

``z1 = b1 + W1 x``, ``h_l = phi(z_l)``, ``z_(l+1) = b_(l+1) + W_(l+1) h_l``; output ``z_(L+1)``
(notation of Roberts, Yaida & Hanin 2022). Options:

* residual connections ``h_(l+1) = h_l + alpha * phi(z_(l+1))`` where shapes allow (every hidden
  layer after the first);
* layer norm before the activation (``"pre"``: ``phi(LN(z))``) or after it (``"post"``: ``LN(phi(z))``);
* batch norm, placed the same way, with the statistics of each unit taken over the input set
  (the points of ``x``: the whole input set is one batch at init, gain 1 and shift 0);
* 1-D max or average pooling over hidden units after each activation, windows of ``pool.size``
  (the pooling of Francazi et al., ICML 2024, for initial guessing bias).

:class:`MLP` is a recipe of layer primitives (:attr:`MLP.layers`, :mod:`jaxbias.nets.layers`). When
all hidden layers after the first share one shape, they are stored stacked and run with
``lax.scan`` so compile time stays flat in depth.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxbias.nets import layers
from jaxbias.nets.activations import get_activation
from jaxbias.nets.core import check_input_shape, check_int, check_parameterization, per_layer, per_layer_ints
from jaxbias.nets.options import Norm, Pool, canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law
from jaxbias.validation import check_float

__all__ = ["MLP", "mlp", "plain_mlp"]

_SCAN_MIN_LAYERS = 3


@spec
class MLP(Spec):
    """A random MLP with ``depth`` hidden layers: a frozen, hashable spec.

    ``z1 = b1 + W1 x``, ``h_l = phi(z_l)``, ``z_(l+1) = b_(l+1) + W_(l+1) h_l``; output ``z_(L+1)``.
    Weights have variance ``C_W / fan_in`` and biases ``C_b`` (Roberts, Yaida & Hanin 2022).

    Attributes:
      width: hidden width, or one width per hidden layer (before pooling); stored as a tuple.
      depth: number of hidden layers (>= 0; 0 gives a random linear map).
      activation: name (see :data:`jaxbias.nets.ACTIVATIONS`, stored canonically) or callable.
      out: output dimension.
      weight_var: C_W, one number or ``depth + 1`` per-layer values (last: readout); stored per layer.
      bias_var: C_b, same convention.
      bias: whether layers have biases.
      parameterization: "standard" or "ntk" (Jacot et al. 2018).
      weight_law: "normal", "truncated_normal", "uniform", "orthogonal", "sparse(p)", "low_rank(r)",
        or "absolute(a)" (weights and biases U(-a, a); C_W and C_b then unused).
      residual: skip connections ``h_(l+1) = h_l + residual_scale * phi(z_(l+1))`` around hidden
        layers 2..depth.
      residual_scale: multiplier on the residual branch.
      norm: None or a :class:`~jaxbias.nets.Norm` (``"layer_pre"``, ``"layer_post"``,
        ``"batch_pre"``, ``"batch_post"``). Batch norm standardizes each unit over the points of
        ``x``, so one point's output then depends on the whole input set.
      pool: None or a :class:`~jaxbias.nets.Pool` (``"max(p)"``, ``"avg(p)"``): 1-D pooling over
        hidden units after each activation (Francazi et al., ICML 2024); ``p`` divides each width.
      in_dim: declared input dimension; inputs of another dimension raise ValueError.

    Example:
      >>> import jax, jaxbias as jb
      >>> net = jb.nets.MLP(width=64, depth=3, activation="tanh")
      >>> x = jb.inputs.grid(dim=2, resolution=8)
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (64, 1)
    """

    width: int | tuple[int, ...]
    depth: int
    activation: str | Callable = "relu"
    out: int = 1
    weight_var: float | tuple[float, ...] = 1.0
    bias_var: float | tuple[float, ...] = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"
    residual: bool = False
    residual_scale: float = 1.0
    norm: Norm | str | None = None
    pool: Pool | str | None = None
    in_dim: int | None = None

    def __post_init__(self):
        depth = check_int("depth", self.depth, 0)
        widths = per_layer_ints("width", self.width, depth)
        norm = Norm.parse(self.norm)
        pool = Pool.parse(self.pool)
        if pool is not None:
            for w in widths:
                if w % pool.size:
                    raise ValueError(f"pool={str(pool)!r}: the window {pool.size} must divide every hidden width, "
                                     f"got width {w}")
        if self.residual and pool is not None and pool.size > 1:
            raise ValueError("residual=True with pool: pooling changes the width, so there is nothing to skip to")
        if not isinstance(self.residual, bool) or not isinstance(self.bias, bool):
            bad = "residual" if not isinstance(self.residual, bool) else "bias"
            raise ValueError(f"{bad}={getattr(self, bad)!r}: expected True or False")
        values = {
            "depth": depth,
            "width": widths,
            "activation": canonical_activation(self.activation),
            "out": check_int("out", self.out, 1),
            "weight_var": per_layer("weight_var", self.weight_var, depth + 1),
            "bias_var": per_layer("bias_var", self.bias_var, depth + 1),
            "parameterization": check_parameterization(self.parameterization),
            "weight_law": canonical_law(self.weight_law),
            "residual_scale": check_float("residual_scale", self.residual_scale),
            "norm": norm,
            "pool": pool,
            "in_dim": None if self.in_dim is None else check_int("in_dim", self.in_dim, 1),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def phi(self):
        """The resolved :class:`~jaxbias.nets.Activation`."""
        return get_activation(self.activation)

    @property
    def law(self):
        """The resolved :class:`~jaxbias.nets.WeightLaw`."""
        return get_weight_law(self.weight_law)

    @property
    def is_plain(self) -> bool:
        """No residual connections, normalisation or pooling."""
        return not self.residual and self.norm is None and self.pool is None

    def _hidden(self) -> tuple:
        """What follows each hidden dense layer: norm, activation, norm, pooling, as the options say."""
        norm = self.norm
        make_norm = (lambda: layers.LayerNorm()) if norm is not None and norm.kind == "layer" else layers.BatchNorm
        out = []
        if norm is not None and norm.position == "pre":
            out.append(make_norm())
        out.append(layers.Activation(self.activation))
        if norm is not None and norm.position == "post":
            out.append(make_norm())
        if self.pool is not None and self.pool.size > 1:
            out.append(layers.FeaturePool(self.pool.kind, self.pool.size))
        return tuple(out)

    def _dense(self, features: int, layer: int) -> layers.Dense:
        return layers.Dense(features, self.weight_var[layer], self.bias_var[layer], self.bias, self.parameterization,
                            self.weight_law)

    @property
    def layers(self) -> layers.Serial:
        """The network as layer primitives (:mod:`jaxbias.nets.layers`): the recipe ``init`` and ``apply`` run.

        Hidden layers 2..depth are one :class:`~jaxbias.nets.layers.Repeat` (``lax.scan``) when there
        are at least 3 of them, of one width and without pooling.
        """
        hidden = self._hidden()
        seq = [self._dense(self.width[0] if self.depth else self.out, 0)]
        if self.depth == 0:
            return layers.Serial(tuple(seq))
        seq.extend(hidden)
        blocks = []
        for i in range(1, self.depth):
            block = layers.Serial((self._dense(self.width[i], i),) + hidden)
            blocks.append(layers.Residual(block, self.residual_scale) if self.residual else block)
        if self._scanned:
            seq.append(layers.Repeat(tuple(blocks)))
        else:
            seq.extend(blocks)
        seq.append(self._dense(self.out, self.depth))
        return layers.Serial(tuple(seq))

    @property
    def _scanned(self) -> bool:
        return self.depth - 1 >= _SCAN_MIN_LAYERS and len(set(self.width)) == 1 and self.pool is None

    def _pack(self, flat: tuple) -> dict:
        if self._scanned:
            return {"first": flat[0], "hidden": flat[1][0], "last": flat[2]}
        return {"layers": list(flat)}

    def _unpack(self, params: dict) -> tuple:
        if "layers" in params:
            return tuple(params["layers"])
        return (params["first"], (params["hidden"],), params["last"])

    def init(self, key: jax.Array, x: jax.Array) -> dict:
        """Draws the parameters from ``key``; ``x (n_points, d0)`` fixes the input dimension.

        Returns ``{"layers": [{"w", "b"}, ...]}``, or ``{"first", "hidden", "last"}`` with the hidden
        layers stacked on a leading axis when they run under ``lax.scan``.
        """
        x = jnp.asarray(x)
        check_input_shape(x, None if self.in_dim is None else (self.in_dim,), "mlp")
        if x.ndim != 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: mlp expects inputs of shape (n_points, d)")
        return self._pack(self.layers.init(key, x))

    def _check_apply(self, params, x):
        x = jnp.asarray(x)
        first = params["layers"][0] if "layers" in params else params["first"]
        check_input_shape(x, (first["w"].shape[0],), "mlp")
        return x

    def apply(self, params: dict, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)`` on inputs ``x (n_points, d0)``."""
        x = self._check_apply(params, x)
        return self.layers.forward(self._unpack(params), x, None)

    def tapped(self, params: dict, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)`` (see :func:`jaxbias.nets.core.affine_taps`)."""
        x = self._check_apply(params, x)
        tape = layers.Tape(perturbations, record=True)
        y = self.layers.forward(self._unpack(params), x, tape)
        return y, tape.taps


def mlp(width, depth, activation="relu", out=1, **options) -> MLP:
    """``MLP(width, depth, activation, out, **options)``: the spelling of earlier versions."""
    return MLP(width, depth, activation, out, **options)


def plain_mlp(net, where: str, hint: str = "") -> MLP:
    """``net`` if it is a plain :class:`MLP` with iid normal weights, else ValueError naming what is not.

    Plain: no residual connections, normalisation or pooling. Used by the computations that assume
    each layer is Gaussian given the one before (finite-width theory, conditional Monte Carlo).

    Args:
      net: the network to check.
      where: what needs the plain net, to start the error message.
      hint: appended to the error message (e.g. what to use instead).
    """
    if not isinstance(net, MLP):
        raise ValueError(f"{where}: implemented for jaxbias.nets.MLP networks only, got {type(net).__name__}{hint}")
    for name, plain in (("residual", False), ("norm", None), ("pool", None)):
        if getattr(net, name) != plain:
            value = getattr(net, name)
            raise ValueError(f"{where}: covers plain MLPs ({name}={plain!r}), got a net with "
                             f"{name}={value if isinstance(value, bool) else repr(str(value))}{hint}")
    if net.weight_law != "normal":
        raise ValueError(f"{where}: assumes iid Gaussian weights (weight_law='normal'), got a net with "
                         f"weight_law={net.weight_law!r}{hint}")
    return net
