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
    Net,
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
    register_affine_taps,
)
from jaxbias.nets.weight_laws import get_weight_law

__all__ = ["mlp", "plain_gaussian_config"]

_SCAN_MIN_LAYERS = 3


def _pool(h: jax.Array, kind: str, size: int) -> jax.Array:
    """Pools the last axis in non-overlapping windows of ``size`` (width must divide)."""
    h = h.reshape(*h.shape[:-1], h.shape[-1] // size, size)
    return jnp.max(h, axis=-1) if kind == "max" else jnp.mean(h, axis=-1)


def mlp(
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

    config = {
        "arch": "mlp",
        "width": list(widths),
        "depth": depth,
        "activation": phi.name,
        "out": out,
        "weight_var": list(cws),
        "bias_var": list(cbs),
        "bias": bias,
        "parameterization": parameterization,
        "weight_law": law.label,
        "residual": residual,
        "residual_scale": residual_scale,
        "layer_norm_position": layer_norm_position,
        "batch_norm_position": batch_norm_position,
        "pooling": pooling,
        "pool_size": pool if pooling else None,
        "in_dim": in_dim,
    }
    register_affine_taps(apply, tapped)
    return Net(init, apply, config)


def plain_gaussian_config(net: Net, where: str, hint: str = "") -> dict:
    """The config of a plain :func:`mlp` with iid normal weights, or ValueError naming what is not.

    Plain: no residual connections, layer or batch norm, or pooling. Used by the computations that
    assume each layer is Gaussian given the one before (finite-width theory, conditional Monte Carlo).

    Args:
      net: the network to check.
      where: what needs the plain net, to start the error message.
      hint: appended to the error message (e.g. what to use instead).
    """
    config = getattr(net, "config", None) or {}
    if config.get("arch") != "mlp":
        raise ValueError(f"{where}: implemented for jaxbias.nets.mlp networks only, got a net with "
                         f"arch={config.get('arch')!r}{hint}")
    for key, plain in (("residual", False), ("layer_norm_position", None), ("batch_norm_position", None),
                       ("pooling", None)):
        if config.get(key) != plain:
            raise ValueError(f"{where}: covers plain MLPs ({key}={plain!r}), got a net with "
                             f"{key}={config.get(key)!r}{hint}")
    if config.get("weight_law") != "normal":
        raise ValueError(f"{where}: assumes iid Gaussian weights (weight_law='normal'), got a net with "
                         f"weight_law={config.get('weight_law')!r}{hint}")
    return config
