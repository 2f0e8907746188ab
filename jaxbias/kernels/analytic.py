"""Infinite-width NNGP and NTK of multilayer perceptrons.

Recursions (Neal 1996; Lee et al., ICLR 2018; Matthews et al., ICLR 2018; Jacot et al., NeurIPS
2018; Arora et al., NeurIPS 2019), for ``z1 = b1 + W1 x``, ``z(l+1) = b(l+1) + W(l+1) phi(z(l))``
with weight variance ``C_W / fan_in`` and bias variance ``C_b``:

* NNGP: ``K1 = C_b + C_W x.x' / d0``; ``K(l+1) = C_b + C_W E[phi(u) phi(v)]``,
  ``(u, v) ~ N(0, K(l))`` restricted to the two inputs.
* NTK, "ntk" parameterization (weights N(0, 1) times ``sqrt(C_W / fan_in)`` in the forward pass,
  biases N(0, 1) times ``sqrt(C_b)``): ``T1 = K1``; ``T(l+1) = K(l+1) + C_W E[phi'(u) phi'(v)] T(l)``.
* NTK, "standard" parameterization (weights stored with variance ``C_W / fan_in``): the function
  distribution is the same, but the gradient with respect to a weight is not multiplied by
  ``sqrt(C_W / fan_in)``, nor that with respect to a bias by ``sqrt(C_b)``. Layer ``l + 1``'s own
  parameters then contribute ``fan_in * E[phi(u) phi(v)] + 1`` (``+ 1`` only with biases, whatever
  ``C_b``) instead of ``C_W E[phi(u) phi(v)] + C_b``: ``T1 = x.x' + 1`` and
  ``T(l+1) = n_l E[phi(u) phi(v)] + 1 + C_W E[phi'(u) phi'(v)] T(l)``, with ``n_l`` the width of
  layer ``l``. This kernel grows linearly with the widths, so it is only defined for given widths:
  it is the leading large-width term of the expected empirical NTK of the network with those
  widths (Sohl-Dickstein et al. 2020, "On the infinite width limit of neural networks with a
  standard parameterization"; neural-tangents' ``parameterization="standard"`` does the same).

:func:`infinite` runs these recursions for a built-in :class:`jaxbias.nets.MLP`, including residual
connections and layer norm (derivations in its docstring); :func:`nngp_step` and :func:`ntk_step`
are one layer of them on kernel entries, for the theory of :mod:`jaxbias.theory`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.kernels.gaussian import (
    check_accuracy,
    dphi_dphi,
    float_dtype,
    phi_mean,
    phi_phi,
    phi_sq,
)
from jaxbias.nets.activations import get_activation
from jaxbias.kernels.layer_rules import layer_kernels
from jaxbias.nets.core import check_parameterization
from jaxbias.nets.layers import Layer
from jaxbias.nets.mlp import MLP
from jaxbias.nets.spec import Spec
from jaxbias.validation import check_int

__all__ = ["Kernels", "nngp_step", "ntk_step", "infinite", "infinite_kernels"]

_LN_EPS = 1e-6  # jaxbias.nets.core.layer_norm's eps
# Weight laws whose pre-activations tend to the iid-Gaussian GP (same limit, Nait Saada et al.).
_GP_LAWS = ("normal", "truncated_normal", "uniform", "orthogonal", "sparse")


class Kernels(NamedTuple):
    """Infinite-width kernels of one network on two point sets.

    Attributes:
      nngp: ``(P1, P2)`` (or ``(depth + 1, P1, P2)`` per layer): covariance of one output unit.
      ntk: same shape: neural tangent kernel of one output unit (outputs are independent and
        identically distributed at infinite width, so both are the same for every output).
    """

    nngp: jax.Array
    ntk: jax.Array


# ---------------------------------------------------------------------------------------------
# Checks


def _concrete(x) -> np.ndarray | None:
    """``x`` as a NumPy array, or None when it is traced (checks then happen only outside jit)."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x, dtype=np.float64)


def _check_variance(name: str, value):
    """A Python float, or an array left as is (checked when concrete): finite and >= 0."""
    v = _concrete(value)
    if v is not None and (np.any(v < 0) or not np.all(np.isfinite(v))):
        raise ValueError(f"{name}={value!r}: expected a finite value >= 0")
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return value


def _coef(value, dtype):
    """A variance as a weakly-typed Python float, or an array cast to ``dtype`` (strict promotion)."""
    return value if isinstance(value, float) else jnp.asarray(value).astype(dtype)


# ---------------------------------------------------------------------------------------------
# One layer


def nngp_step(k11, k12, k22, activation: str | Callable, weight_var, bias_var):
    """One layer of the NNGP recursion: ``K' = C_b + C_W E[phi(u) phi(v)]``, ``(u, v) ~ N(0, K)``.

    Args:
      k11, k12, k22: the pre-activation covariance of two inputs (arrays broadcasting together;
        ``k11`` and ``k22`` may keep their own shapes, e.g. ``(P1, 1)``, ``(P1, P2)``, ``(1, P2)``).
      activation: name, :class:`jaxbias.nets.activations.Activation` or elementwise callable.
      weight_var: ``C_W`` (>= 0; a traced array is accepted, e.g. to differentiate in it).
      bias_var: ``C_b`` (>= 0).

    Returns:
      ``(k11', k12', k22')`` with the shapes of ``k11``, the broadcast shape, and the shape of ``k22``.

    Example:
      >>> import jaxbias as jb
      >>> [round(float(k), 4) for k in jb.kernels.nngp_step(1.0, 0.0, 1.0, "relu", 2.0, 0.0)]
      [1.0, 0.3183, 1.0]
    """
    cw = _check_variance("weight_var", weight_var)
    cb = _check_variance("bias_var", bias_var)
    get_activation(activation)
    p12 = phi_phi(activation, k11, k12, k22)
    p11 = phi_sq(activation, k11)
    p22 = phi_sq(activation, k22)
    dtype = p12.dtype
    cw, cb = _coef(cw, dtype), _coef(cb, dtype)
    return cb + cw * p11, cb + cw * p12, cb + cw * p22


def ntk_step(
    k11,
    k12,
    k22,
    t12,
    activation: str | Callable,
    weight_var,
    bias_var,
    parameterization: str = "ntk",
    *,
    fan_in: int | None = None,
    bias: bool = True,
):
    """One layer of the NNGP and NTK recursions (module docstring).

    ``"ntk"``: ``T' = K' + C_W E[phi'(u) phi'(v)] T``. ``"standard"``:
    ``T' = fan_in E[phi(u) phi(v)] + [bias] + C_W E[phi'(u) phi'(v)] T``, where ``fan_in`` is the
    width of the layer whose activations feed this one (required) and ``bias`` whether this layer
    has biases (their gradient is 1 whatever ``C_b``). ``phi'`` is the a.e. derivative (0 for step).

    Args:
      k11, k12, k22: pre-activation covariance of two inputs (broadcasting together).
      t12: NTK of the two inputs at this layer (broadcasting with ``k12``).
      activation: name, Activation or elementwise callable.
      weight_var, bias_var: ``C_W`` and ``C_b`` of the next layer (>= 0).
      parameterization: "ntk" or "standard".
      fan_in: hidden width feeding the layer (standard parameterization only).
      bias: whether the layer has biases (standard parameterization only; under "ntk" pass
        ``bias_var=0`` for a layer without biases).

    Returns:
      ``(k11', k12', k22', t12')``.

    Example:
      >>> import jaxbias as jb
      >>> [round(float(k), 4) for k in jb.kernels.ntk_step(1.0, 1.0, 1.0, 1.0, "relu", 2.0, 0.0)]
      [1.0, 1.0, 1.0, 2.0]
    """
    check_parameterization(parameterization)
    if parameterization == "standard":
        if fan_in is None:
            raise ValueError("fan_in=None: the standard parameterization's NTK needs the width feeding the layer")
        fan_in = check_int("fan_in", fan_in, 1)
    k11n, k12n, k22n = nngp_step(k11, k12, k22, activation, weight_var, bias_var)
    dtype = k12n.dtype
    cw = _coef(_check_variance("weight_var", weight_var), dtype)
    dd = dphi_dphi(activation, k11, k12, k22)
    t12 = jnp.asarray(t12).astype(dtype)
    if parameterization == "ntk":
        direct = k12n
    else:
        direct = fan_in * phi_phi(activation, k11, k12, k22) + (1.0 if bias else 0.0)
    return k11n, k12n, k22n, direct + cw * dd * t12


# ---------------------------------------------------------------------------------------------
# Whole networks


class _Pair(NamedTuple):
    """A kernel on two point sets: diagonals ``a (P1,)``, ``b (P2,)`` and cross block ``ab (P1, P2)``."""

    a: jax.Array
    ab: jax.Array
    b: jax.Array

    def map(self, fn):
        return _Pair(fn(self.a), fn(self.ab), fn(self.b))


class _Spec(NamedTuple):
    """Static description of an MLP for the recursion (hashable, for jit)."""

    activation: object
    depth: int
    weight_var: tuple
    bias_var: tuple
    bias: bool
    parameterization: str
    widths: tuple
    residual: bool
    residual_scale: float
    layer_norm: str | None
    pool: int


def _expectations(act, k: _Pair):
    """``E[phi phi]`` as a pair and ``E[phi' phi']`` (cross block) under ``k``."""
    a, b = k.a[:, None], k.b[None, :]
    pp = _Pair(phi_sq(act, k.a), phi_phi(act, a, k.ab, b), phi_sq(act, k.b))
    return pp, dphi_dphi(act, a, k.ab, b)


def _branch(spec: _Spec, k: _Pair, t: jax.Array):
    """Kernel, per-point mean and NTK of one hidden layer's output ``pool(LN?(phi(LN?(z))))`` from ``z``'s."""
    act = spec.activation
    if spec.layer_norm == "pre":
        sa, sb = jnp.sqrt(k.a + _LN_EPS), jnp.sqrt(k.b + _LN_EPS)
        k = _Pair(k.a / (sa * sa), k.ab / (sa[:, None] * sb[None, :]), k.b / (sb * sb))
        t = t / (sa[:, None] * sb[None, :])
    pp, dd = _expectations(act, k)
    theta = dd * t
    needs_mean = spec.residual or spec.layer_norm == "post" or spec.pool > 1
    ma = phi_mean(act, k.a) if needs_mean else None
    mb = phi_mean(act, k.b) if needs_mean else None
    if spec.layer_norm == "post":
        sa = jnp.sqrt(jnp.maximum(pp.a - ma * ma, 0) + _LN_EPS)
        sb = jnp.sqrt(jnp.maximum(pp.b - mb * mb, 0) + _LN_EPS)
        pp = _Pair((pp.a - ma * ma) / (sa * sa), (pp.ab - ma[:, None] * mb[None, :]) / (sa[:, None] * sb[None, :]),
                   (pp.b - mb * mb) / (sb * sb))
        theta = theta / (sa[:, None] * sb[None, :])
        ma, mb = jnp.zeros_like(ma), jnp.zeros_like(mb)
    if spec.pool > 1:
        # Averages of p units, independent at infinite width: variance / p plus (1 - 1/p) mean^2.
        p = float(spec.pool)
        pp = _Pair(pp.a / p + (1 - 1 / p) * ma * ma, pp.ab / p + (1 - 1 / p) * ma[:, None] * mb[None, :],
                   pp.b / p + (1 - 1 / p) * mb * mb)
        theta = theta / p
    return pp, (ma, mb), theta


def _recursion(spec: _Spec, x1: jax.Array, x2: jax.Array, symmetric: bool = False, per_layer: bool = True):
    """Per-layer NNGP and NTK cross blocks ``(depth + 1, P1, P2)`` (see :func:`infinite`), or only
    the output layer's ``(P1, P2)`` without ``per_layer``.

    ``symmetric`` (``x2`` is ``x1``): the variances are read off the diagonal of the cross block,
    so that the correlation of a point with itself is exactly 1 in floating point. Otherwise its
    rounding error ``delta`` (~1e-7 in float32) enters ``arccos`` as ``sqrt(2 delta)`` (~5e-4)
    and the relu NTK's diagonal drifts by ~1e-4 per layer.
    """
    def tie(pair: _Pair) -> _Pair:
        if not symmetric:
            return pair
        diag = jnp.diagonal(pair.ab)
        return _Pair(diag, pair.ab, diag)

    d0 = x1.shape[1]
    std = spec.parameterization == "standard"
    bias_term = 1.0 if spec.bias else 0.0
    cb = [v if spec.bias else 0.0 for v in spec.bias_var]
    cw = spec.weight_var
    # Layer 1: the input "kernel" x.x'/d0 plays the role of E[phi phi].
    h = tie(_Pair(jnp.sum(x1 * x1, axis=1) / d0, x1 @ x2.T / d0, jnp.sum(x2 * x2, axis=1) / d0))
    k = tie(h.map(lambda v: cb[0] + cw[0] * v))
    t = d0 * h.ab + bias_term if std else k.ab
    ks, ts = [k.ab], [t]
    mean = theta_h = None
    for layer in range(1, spec.depth + 1):
        pp, (ma, mb), theta = _branch(spec, k, t)
        if spec.residual and layer > 1:
            # h(l+1) = h(l) + alpha phi(z(l+1)); z(l+1) is independent of any one unit of h(l) at
            # infinite width, so the cross term is a product of means; gradients of distinct
            # units are orthogonal, so NTKs add.
            al = spec.residual_scale
            h = _Pair(
                h.a + al * al * pp.a + 2 * al * mean[0] * ma,
                h.ab + al * al * pp.ab + al * (mean[0][:, None] * mb[None, :] + ma[:, None] * mean[1][None, :]),
                h.b + al * al * pp.b + 2 * al * mean[1] * mb,
            )
            mean = (mean[0] + al * ma, mean[1] + al * mb)
            theta_h = theta_h + al * al * theta
        else:
            h, mean, theta_h = pp, (ma, mb), theta
        fan_in = spec.widths[layer - 1] // spec.pool
        k = tie(h.map(lambda v, layer=layer: cb[layer] + cw[layer] * v))
        t = (fan_in * h.ab + bias_term if std else k.ab) + cw[layer] * theta_h
        ks.append(k.ab)
        ts.append(t)
    return (jnp.stack(ks), jnp.stack(ts)) if per_layer else (ks[-1], ts[-1])


_recursion_jit = jax.jit(_recursion, static_argnums=(0, 3, 4))


def _check_points(name: str, x, d0: int | None = None) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if x.ndim != 2:
        raise ValueError(f"{name} with shape {tuple(x.shape)}: expected (n_points, d)")
    if d0 is not None and x.shape[1] != d0:
        raise ValueError(f"{name} with shape {tuple(x.shape)}: expected inputs of dimension {d0} like x1")
    return x


def _recursion_spec(net, activation) -> _Spec:
    """Validates an :class:`~jaxbias.nets.MLP` for the infinite-width recursion and returns its static spec."""
    if not isinstance(net, Spec):
        raise TypeError(f"net={net!r}: expected a network spec such as jaxbias.nets.MLP(...)")
    if not isinstance(net, MLP):
        raise ValueError(
            f"net of type {type(net).__name__}: infinite-width kernels are implemented for jaxbias.nets.MLP "
            "networks only (their layers: dense, activation, residual, layer norm, average pooling)"
        )
    law = net.law
    if law.name not in _GP_LAWS:
        why = ("its variance a^2/3 ignores fan-in, so pre-activations diverge with width" if law.absolute
               else "a fixed rank keeps pre-activations non-Gaussian at infinite width")
        raise ValueError(f"weight_law={law.label!r}: no infinite-width Gaussian-process limit ({why}); "
                         f"supported laws: {', '.join(_GP_LAWS)}")
    if net.pool is not None and net.pool.kind != "avg":
        raise ValueError(f"pool={str(net.pool)!r}: infinite-width kernels support pool None or 'avg(p)' (max pooling "
                         "of p units has no closed-form Gaussian expectation)")
    if net.norm is not None and net.norm.kind == "batch":
        raise ValueError(f"norm={str(net.norm)!r}: batch norm couples the points of the input set; infinite-width "
                         "kernels cover norm None, 'layer_pre' and 'layer_post'")
    if activation is None:
        if callable(net.activation):
            raise ValueError(
                f"activation={net.activation!r} of the net is not a known name (the net was built "
                "with a callable): pass activation=<the callable> to infinite()"
            )
        activation = net.activation
    else:
        get_activation(activation)
    return _Spec(
        activation=activation,
        depth=net.depth,
        weight_var=net.weight_var,
        bias_var=net.bias_var,
        bias=net.bias,
        parameterization=net.parameterization,
        widths=net.width,
        residual=net.residual,
        residual_scale=net.residual_scale,
        layer_norm=None if net.norm is None else net.norm.position,
        pool=1 if net.pool is None else net.pool.size,
    )


def _layer_infinite(net, x1, x2, per_layer, activation) -> Kernels:
    x1 = _check_points("x1", x1)
    symmetric = x2 is None
    x2 = x1 if x2 is None else _check_points("x2", x2, x1.shape[1])
    dtype = float_dtype(x1, x2)
    if activation is not None:
        get_activation(activation)
    kernels = Kernels(*_layer_kernels_jit(net, x1.astype(dtype), x2.astype(dtype), symmetric, bool(per_layer),
                                          activation))
    check_accuracy(kernels, f"infinite-width kernels of {type(net).__name__}")
    return kernels


_layer_kernels_jit = jax.jit(layer_kernels, static_argnums=(0, 3, 4, 5))


def infinite(net: MLP, x1, x2=None, *, per_layer: bool = False, activation=None) -> Kernels:
    """Infinite-width NNGP and NTK of a :class:`jaxbias.nets.MLP` network.

    Reads the :class:`~jaxbias.nets.MLP` spec: depth, per-layer ``C_W`` and ``C_b`` (``C_b = 0`` without biases),
    activation, parameterization (module docstring: under "standard" the NTK uses the net's
    widths), residual connections, layer norm and average pooling. Weight laws normal,
    truncated_normal, uniform, orthogonal and sparse share the Gaussian-process limit of iid normal
    weights (same variance), and the same NTK limit (gradients do not depend on the law).

    Beyond the plain recursion (derivations at infinite width, where the units of a layer are iid
    and the empirical averages over units concentrate):

    * residual ``h(l+1) = h(l) + alpha phi(z(l+1))`` (hidden layers 2..depth, as in mlp): with
      ``H`` the second moment of a unit of ``h`` and ``mu(x)`` its mean,
      ``H(l+1) = H(l) + alpha^2 E[phi phi] + alpha (mu_l(x) m(x') + m(x) mu_l(x'))`` where
      ``m(x) = E[phi(z(l+1)(x))]``; ``K(l+1) = C_b + C_W H(l)``; tangent kernels of ``h`` add:
      ``Theta_h(l+1) = Theta_h(l) + alpha^2 E[phi' phi'] T(l+1)``.
    * layer norm "pre" ``phi(LN(z))``: LN(z)(x) -> z(x) / sqrt(K(x, x) + eps); the kernels are
      normalized by ``sqrt((K_aa + eps)(K_bb + eps))`` (NNGP and NTK, the derivative of the
      normalizer being O(1/width)).
    * layer norm "post" ``LN(phi(z))``: ``(phi(z) - m) / s`` with ``s^2 = Var phi(z) + eps``.
    * average pooling over ``p`` units: ``H = E[phi phi] / p + (1 - 1/p) m m'``, NTK term ``/ p``,
      fan-in ``width / p``.

    Args:
      net: an :class:`jaxbias.nets.MLP` spec.
      x1: inputs ``(P1, d0)``.
      x2: inputs ``(P2, d0)``; None for ``x1`` against itself.
      per_layer: also return every layer's kernels.
      activation: override for the config's activation (needed when the net was built with a callable).

    Returns:
      :class:`Kernels` of shape ``(P1, P2)`` (the output layer), or ``(depth + 1, P1, P2)`` with
      ``per_layer`` (pre-activations ``z1 .. z(depth+1)``).

    Raises:
      ValueError: not an mlp, max pooling, an absolute or low-rank weight law, bad inputs.

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.mlp(width=512, depth=2, activation="relu", weight_var=2.0)
      >>> x = jb.inputs.grid(dim=2, resolution=4)
      >>> jb.kernels.infinite(net, x).ntk.shape
      (16, 16)
    """
    if isinstance(net, Layer):
        return _layer_infinite(net, x1, x2, per_layer, activation)
    spec = _recursion_spec(net, activation)
    x1 = _check_points("x1", x1)
    symmetric = x2 is None
    x2 = x1 if x2 is None else _check_points("x2", x2, x1.shape[1])
    in_dim = net.in_dim
    if in_dim is not None and x1.shape[1] != in_dim:
        raise ValueError(f"x1 with shape {tuple(x1.shape)}: the net expects inputs of dimension {in_dim}")
    dtype = float_dtype(x1, x2)
    per_layer = bool(per_layer)
    kernels = Kernels(*_recursion_jit(spec, x1.astype(dtype), x2.astype(dtype), symmetric, per_layer))
    check_accuracy(kernels, f"infinite-width kernels of activation {getattr(spec.activation, 'name', spec.activation)!r}")
    return kernels


def infinite_kernels(
    x1,
    x2=None,
    *,
    activation: str | Callable = "relu",
    depth: int,
    weight_var: float = 1.0,
    bias_var: float = 0.0,
    parameterization: str = "ntk",
    width: int | None = None,
    bias: bool = True,
    residual: bool = False,
    residual_scale: float = 1.0,
    per_layer: bool = False,
) -> Kernels:
    """NNGP and NTK of an MLP described by keywords (no network object needed).

    Same as ``infinite(jaxbias.nets.mlp(width, depth, activation, weight_var=..., ...), x1, x2)``;
    ``width`` is needed only for the standard parameterization (see the module docstring).

    Example:
      >>> import jaxbias as jb
      >>> x = jb.inputs.grid(dim=2, resolution=4)
      >>> jb.kernels.infinite_kernels(x, activation="erf", depth=3).nngp.shape
      (16, 16)
    """
    depth = check_int("depth", depth, 0)
    check_parameterization(parameterization)
    if parameterization == "standard" and width is None:
        raise ValueError("width=None: the standard parameterization's NTK depends on the width; pass width=")
    get_activation(activation)
    cws = (weight_var,) * (depth + 1) if np.ndim(weight_var) == 0 else tuple(weight_var)
    cbs = (bias_var,) * (depth + 1) if np.ndim(bias_var) == 0 else tuple(bias_var)
    for name, values in (("weight_var", cws), ("bias_var", cbs)):
        if len(values) != depth + 1:
            raise ValueError(f"{name}={values!r}: expected a number or {depth + 1} per-layer values")
        for v in values:
            _check_variance(name, v)
    net = MLP(width or 1, depth, activation if isinstance(activation, str) else "identity", weight_var=cws,
              bias_var=cbs, bias=bias, parameterization=parameterization, residual=residual,
              residual_scale=residual_scale)
    return infinite(net, x1, x2, per_layer=per_layer, activation=None if isinstance(activation, str) else activation)

