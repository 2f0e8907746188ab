"""Fully connected networks (multilayer perceptrons).

``z1 = b1 + W1 x``, ``h_l = phi(z_l)``, ``z_(l+1) = b_(l+1) + W_(l+1) h_l``; output ``z_(L+1)``
(notation of Roberts, Yaida & Hanin 2022). Options:

* residual connections ``h_(l+1) = h_l + alpha * phi(z_(l+1))`` where shapes allow (every hidden
  layer after the first);
* layer norm before the activation (``"pre"``: ``phi(LN(z))``) or after it (``"post"``: ``LN(phi(z))``);
* batch norm, placed the same way, with the statistics of each unit taken over the input set
  (the points of ``x``: the whole input set is one batch at init, gain 1 and shift 0);
* 1-D max or average pooling over hidden units after each activation, windows of ``pool_size``
  (the pooling of Francazi et al., ICML 2024, for initial guessing bias).

When all hidden layers after the first share one shape, they are stored stacked and run with
``lax.scan`` so compile time stays flat in depth.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxbias.nets.activations import get_activation
from jaxbias.nets.core import (
    Affine,
    AffineTap,
    affine_apply,
    affine_scales,
    batch_norm,
    check_input_shape,
    check_int,
    check_parameterization,
    expand_bias,
    init_affines,
    init_groups,
    layer_norm,
    per_layer,
)
from jaxbias.nets.options import Norm, Pool, canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law
from jaxbias.validation import check_float

__all__ = ["MLP", "mlp", "plain_mlp"]

_SCAN_MIN_LAYERS = 3


def _pool(h: jax.Array, kind: str, size: int) -> jax.Array:
    """Pools the last axis in non-overlapping windows of ``size`` (width must divide)."""
    h = h.reshape(*h.shape[:-1], h.shape[-1] // size, size)
    return jnp.max(h, axis=-1) if kind == "max" else jnp.mean(h, axis=-1)


def _build(
    width: int | Sequence[int],
    depth: int,
    activation: str | Callable = "relu",
    out: int = 1,
    *,
    weight_var: float | Sequence[float] = 1.0,
    bias_var: float | Sequence[float] = 0.0,
    bias: bool = True,
    parameterization: str = "standard",
    weight_law: str = "normal",
    residual: bool = False,
    residual_scale: float = 1.0,
    layer_norm_position: str | None = None,
    batch_norm_position: str | None = None,
    pooling: str | None = None,
    pool_size: int = 2,
    in_dim: int | None = None,
) -> Net:
    """Builds a random MLP with ``depth`` hidden layers.

    Args:
      width: hidden width, or one width per hidden layer (before pooling).
      depth: number of hidden layers (>= 0; 0 gives a random linear map).
      activation: name (see :mod:`jaxbias.nets.activations`) or callable.
      out: output dimension.
      weight_var: C_W, one number or ``depth + 1`` per-layer values (last: readout).
      bias_var: C_b, same convention.
      bias: whether layers have biases.
      parameterization: "standard" or "ntk".
      weight_law: "normal", "truncated_normal", "uniform", "orthogonal", "sparse(p)", "low_rank(r)",
        or "absolute(a)" (weights and biases U(-a, a); C_W and C_b then unused).
      residual: skip connections around hidden layers 2..depth.
      residual_scale: multiplier alpha on the residual branch.
      layer_norm_position: None, "pre" (before the activation) or "post" (after it).
      batch_norm_position: None, "pre" or "post": batch norm over the input points (each unit
        standardized over the points of ``x``), before or after the activation; exclusive with
        ``layer_norm_position``. A network's output on one point then depends on the whole input set.
      pooling: None, "max" or "avg": 1-D pooling over hidden units after each activation.
      pool_size: pooling window (must divide each hidden width).
      in_dim: declared input dimension; if given, inputs of another dimension raise ValueError.

    Returns:
      A :class:`Net`; ``apply(params, x)`` maps ``x (n_points, d0)`` to ``(n_points, out)``.

    Example:
      >>> import jax, jaxbias as jb
      >>> net = jb.nets.mlp(width=64, depth=3, activation="tanh")
      >>> x = jb.inputs.grid(dim=2, resolution=8)
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (64, 1)
    """
    depth = check_int("depth", depth, 0)
    out = check_int("out", out, 1)
    widths = (width,) * depth if isinstance(width, int) else tuple(width)
    if len(widths) != depth:
        raise ValueError(f"width={width!r}: expected an integer or {depth} per-layer widths (depth={depth})")
    widths = tuple(check_int("width", w, 1) for w in widths)
    phi = get_activation(activation)
    law = get_weight_law(weight_law)
    check_parameterization(parameterization)
    cws = per_layer("weight_var", weight_var, depth + 1)
    cbs = per_layer("bias_var", bias_var, depth + 1)
    if layer_norm_position not in (None, "pre", "post"):
        raise ValueError(f"layer_norm_position={layer_norm_position!r}: expected None, 'pre' or 'post'")
    if batch_norm_position not in (None, "pre", "post"):
        raise ValueError(f"batch_norm_position={batch_norm_position!r}: expected None, 'pre' or 'post'")
    if batch_norm_position is not None and layer_norm_position is not None:
        raise ValueError(f"layer_norm_position={layer_norm_position!r} and batch_norm_position="
                         f"{batch_norm_position!r}: choose one normalization")
    if pooling not in (None, "max", "avg"):
        raise ValueError(f"pooling={pooling!r}: expected None, 'max' or 'avg'")
    if pooling is not None:
        pool_size = check_int("pool_size", pool_size, 1)
        for w in widths:
            if w % pool_size:
                raise ValueError(f"pool_size={pool_size}: must divide every hidden width, got width {w}")
    if residual and pooling is not None and pool_size > 1:
        raise ValueError("residual=True with pooling: pooling changes the width, so there is nothing to skip to")
    if in_dim is not None:
        in_dim = check_int("in_dim", in_dim, 1)
    pool = 1 if pooling is None else pool_size

    def layers_for(d0: int) -> list[Affine]:
        fans = [d0] + [w // pool for w in widths]
        outs = list(widths) + [out]
        return [
            Affine.make((fi, fo), cw, cb, bias, parameterization, law)
            for fi, fo, cw, cb in zip(fans, outs, cws, cbs)
        ]

    # Hidden layers 2..depth are stacked for lax.scan when they share one shape.
    scan = depth - 1 >= _SCAN_MIN_LAYERS and len(set(widths)) == 1 and pool == 1

    def init(key, x):
        x = jnp.asarray(x)
        check_input_shape(x, None if in_dim is None else (in_dim,), "mlp")
        if x.ndim != 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: mlp expects inputs of shape (n_points, d)")
        layers = layers_for(x.shape[1])
        if not scan:
            return {"layers": init_affines(key, layers)}
        first, hidden, last = init_groups(key, [layers[0], layers[1:depth], layers[depth]])
        return {"first": first, "hidden": hidden, "last": last}

    def hidden_act(z):
        if layer_norm_position == "pre":
            z = layer_norm(z)
        elif batch_norm_position == "pre":
            z = batch_norm(z)
        h = phi.fn(z)
        if layer_norm_position == "post":
            h = layer_norm(h)
        elif batch_norm_position == "post":
            h = batch_norm(h)
        return _pool(h, pooling, pool) if pool > 1 else h

    def tap(z, h, layer: Affine, eps, record):
        """Adds the perturbation to ``z`` and, if ``record``, describes the layer (a group of one)."""
        if eps is not None:
            z = z + eps[0]
        if not record:
            return z, None
        ws, bs = affine_scales(layer)
        return z, AffineTap(h[None], z[None], jnp.full((1,), ws, z.dtype),
                            jnp.full((1,), bs if layer.bias else 0.0, z.dtype))

    def forward(params, x, perturbations=None, record=False):
        """``apply`` with per-layer output perturbations (None: none); returns ``(y, taps)``.

        ``taps`` holds one AffineTap per group (first layer, stacked hidden layers under scan, ...,
        readout); the scan stacks layer inputs and outputs only when ``record``.
        """
        x = jnp.asarray(x)
        first = params["layers"][0] if "layers" in params else params["first"]
        d0 = first["w"].shape[0]
        check_input_shape(x, (d0,), "mlp")
        if batch_norm_position is not None and x.shape[0] < 2:
            raise ValueError(f"x with shape {tuple(x.shape)}: batch_norm_position={batch_norm_position!r} "
                             "standardizes over the input points and needs at least 2")
        layers = layers_for(d0)
        eps = (lambda g: None) if perturbations is None else (lambda g: perturbations[g])
        taps = []
        z, t = tap(affine_apply(first, x, layers[0]), x, layers[0], eps(0), record)
        taps.append(t)
        if depth == 0:
            return z, taps
        h = hidden_act(z)
        if not scan:
            for i in range(1, depth):
                z, t = tap(affine_apply(params["layers"][i], h, layers[i]), h, layers[i], eps(i), record)
                taps.append(t)
                branch = hidden_act(z)
                h = h + residual_scale * branch if residual else branch
            y, t = tap(affine_apply(params["layers"][depth], h, layers[depth]), h, layers[depth], eps(depth), record)
            return y, taps + [t]

        mids = layers[1:depth]
        scales = jnp.asarray([affine_scales(lay) for lay in mids], jnp.float32)

        def step(h, layer_in):
            p, (ws, bs), e = layer_in
            z = (h @ p["w"]) * ws
            if bias:
                z = z + expand_bias(p["b"] * bs, z.ndim)
            if e is not None:
                z = z + e
            branch = hidden_act(z)
            return (h + residual_scale * branch if residual else branch), ((h, z) if record else None)

        h_out, seen = jax.lax.scan(step, h, (params["hidden"], (scales[:, 0], scales[:, 1]), eps(1)))
        if record:
            b_scales = scales[:, 1] if bias else jnp.zeros_like(scales[:, 1])
            taps.append(AffineTap(seen[0], seen[1], scales[:, 0], b_scales))
        y, t = tap(affine_apply(params["last"], h_out, layers[depth]), h_out, layers[depth], eps(2), record)
        return y, taps + [t]

    def apply(params, x):
        return forward(params, x)[0]

    def tapped(params, x, perturbations):
        return forward(params, x, perturbations, record=True)

    return init, apply, tapped



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
        widths = (self.width,) * depth if isinstance(self.width, int) and not isinstance(self.width, bool) \
            else tuple(self.width) if isinstance(self.width, (tuple, list)) else None
        if widths is None or len(widths) != depth:
            raise ValueError(f"width={self.width!r}: expected an integer or {depth} per-layer widths (depth={depth})")
        widths = tuple(check_int("width", w, 1) for w in widths)
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

    def _closures(self):
        norm, pool = self.norm, self.pool
        return _build(
            self.width, self.depth, self.activation, self.out, weight_var=self.weight_var,
            bias_var=self.bias_var, bias=self.bias, parameterization=self.parameterization,
            weight_law=self.weight_law, residual=self.residual, residual_scale=self.residual_scale,
            layer_norm_position=norm.position if norm is not None and norm.kind == "layer" else None,
            batch_norm_position=norm.position if norm is not None and norm.kind == "batch" else None,
            pooling=None if pool is None else pool.kind, pool_size=2 if pool is None else pool.size,
            in_dim=self.in_dim,
        )

    def init(self, key: jax.Array, x: jax.Array):
        """Draws the parameters from ``key``; ``x (n_points, d0)`` fixes the input dimension."""
        return self._closures()[0](key, x)

    def apply(self, params, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)`` on inputs ``x (n_points, d0)``."""
        return self._closures()[1](params, x)

    def tapped(self, params, x: jax.Array, perturbations):
        """``apply`` with per-layer output perturbations, returning ``(y, taps)`` (see :func:`register_affine_taps`)."""
        return self._closures()[2](params, x, perturbations)


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
            raise ValueError(f"{where}: covers plain MLPs ({name}={plain!r}), got a net with "
                             f"{name}={str(getattr(net, name))!r}{hint}")
    if net.weight_law != "normal":
        raise ValueError(f"{where}: assumes iid Gaussian weights (weight_law='normal'), got a net with "
                         f"weight_law={net.weight_law!r}{hint}")
    return net
