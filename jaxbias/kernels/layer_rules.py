"""Infinite-width NNGP and NTK of a network composed of layer primitives (:mod:`jaxbias.nets.layers`).

Each layer has a rule mapping the infinite-width description of its input to that of its output,
as in neural-tangents' stax (Novak et al., ICLR 2020); a network's kernels are the rules run in
order. The description of a representation ``u`` (one unit; units are iid at infinite width):

* ``h``: second moments ``E[u(x) u(x')]`` on the two point sets (diagonals and cross block);
* ``mean``: ``E[u(x)]`` (needed by residual sums, average pooling and layer norm after the activation);
* ``theta``: the NTK of ``u``, the gradient inner product over every parameter below it;
* ``gaussian``: whether ``u`` is a centred Gaussian process (true after a dense layer), which the
  activation's Gaussian expectations require;
* ``width``: the number of features (the fan-in of the next dense layer, for the standard
  parameterization's NTK).

Rules (derivations as in :func:`jaxbias.kernels.infinite`):

* :class:`~jaxbias.nets.layers.Dense`: ``K = C_b + C_W h``; NTK ``K + C_W theta`` ("ntk") or
  ``fan_in h + [bias] + C_W theta`` ("standard").
* :class:`~jaxbias.nets.layers.Activation`: ``h' = E[phi(u) phi(v)]``, ``theta' = E[phi' phi'] theta``.
* :class:`~jaxbias.nets.layers.LayerNorm`: on a Gaussian input ``u / sqrt(K(x, x) + eps)``; after an
  activation ``(u - m) / sqrt(Var u + eps)``.
* :class:`~jaxbias.nets.layers.FeaturePool` ``"avg"``: ``h / p + (1 - 1/p) m m'``, ``theta / p``.
* :class:`~jaxbias.nets.layers.Residual` ``u + a B(u)``: ``h + a^2 h_B + a (m m_B' + m_B m')``
  (a unit of ``B(u)`` is independent of any one unit of ``u``), NTKs add with weight ``a^2``.
* :class:`~jaxbias.nets.layers.Serial`, :class:`~jaxbias.nets.layers.Repeat`: in order.

Layers without a rule raise ValueError naming the layer: batch norm (its statistics couple the
points), max pooling, and the layers of image and sequence nets (:class:`~jaxbias.nets.layers.Conv`,
:class:`~jaxbias.nets.layers.Pool2D`, :class:`~jaxbias.nets.layers.GlobalAvgPool`,
:class:`~jaxbias.nets.layers.Flatten`, :class:`~jaxbias.nets.layers.Embedding`,
:class:`~jaxbias.nets.layers.Positional`, :class:`~jaxbias.nets.layers.SelfAttention`,
:class:`~jaxbias.nets.layers.FirstPosition`), whose kernels need the covariance of every pair of positions
(the convolutional NNGP of Novak et al., ICLR 2019), which this description of one unit does not hold.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxbias.kernels.gaussian import dphi_dphi, phi_mean, phi_phi, phi_sq
from jaxbias.nets import layers as L

__all__ = ["layer_kernels"]

_GP_LAWS = ("normal", "truncated_normal", "uniform", "orthogonal", "sparse")


class Pair(NamedTuple):
    """A kernel on two point sets: diagonals ``a (P1,)``, ``b (P2,)`` and cross block ``ab (P1, P2)``."""

    a: jax.Array
    ab: jax.Array
    b: jax.Array

    def map(self, fn):
        return Pair(fn(self.a), fn(self.ab), fn(self.b))


class State(NamedTuple):
    """The infinite-width description of one representation (module docstring)."""

    h: Pair
    mean: tuple | None
    theta: jax.Array
    gaussian: bool
    width: int


def _unsupported(layer, why: str):
    return ValueError(f"{type(layer).__name__}: no infinite-width kernel rule ({why}); layers with rules: Dense, "
                      "Activation, LayerNorm, FeaturePool('avg'), Residual, Serial, Repeat")


def _outer(u, v):
    return u[:, None] * v[None, :]


def _rule(layer, s: State, tie, record: list, activation=None) -> State:
    if isinstance(layer, L.Serial):
        for child in layer.layers:
            s = _rule(child, s, tie, record, activation)
        return s
    if isinstance(layer, L.Repeat):
        for block in layer.blocks:
            s = _rule(block, s, tie, record, activation)
        return s
    if isinstance(layer, L.Dense):
        if layer.weight_law.split("(")[0] not in _GP_LAWS:
            raise ValueError(f"Dense weight_law={layer.weight_law!r}: no infinite-width Gaussian-process limit; "
                             f"supported laws: {', '.join(_GP_LAWS)}")
        cw, cb = layer.weight_var, layer.bias_var if layer.bias else 0.0
        k = tie(s.h.map(lambda v: cb + cw * v))
        if layer.parameterization == "standard":
            t = s.width * s.h.ab + (1.0 if layer.bias else 0.0) + cw * s.theta
        else:
            t = k.ab + cw * s.theta
        record.append((k.ab, t))
        zero = (jnp.zeros_like(k.a), jnp.zeros_like(k.b))
        return State(k, zero, t, True, layer.features)
    if isinstance(layer, L.Activation):
        if not s.gaussian:
            raise _unsupported(layer, "its input is not a Gaussian pre-activation: put a Dense layer before it")
        act = layer.fn if activation is None else activation
        k = s.h
        a, b = k.a[:, None], k.b[None, :]
        h = Pair(phi_sq(act, k.a), phi_phi(act, a, k.ab, b), phi_sq(act, k.b))
        theta = dphi_dphi(act, a, k.ab, b) * s.theta
        return State(h, (phi_mean(act, k.a), phi_mean(act, k.b)), theta, False, s.width)
    if isinstance(layer, L.LayerNorm):
        eps = layer.eps
        if s.gaussian:
            sa, sb = jnp.sqrt(s.h.a + eps), jnp.sqrt(s.h.b + eps)
            h = Pair(s.h.a / (sa * sa), s.h.ab / _outer(sa, sb), s.h.b / (sb * sb))
            return State(h, s.mean, s.theta / _outer(sa, sb), True, s.width)
        if s.mean is None:
            raise _unsupported(layer, "the unit means of its input are unknown")
        ma, mb = s.mean
        sa = jnp.sqrt(jnp.maximum(s.h.a - ma * ma, 0) + eps)
        sb = jnp.sqrt(jnp.maximum(s.h.b - mb * mb, 0) + eps)
        h = Pair((s.h.a - ma * ma) / (sa * sa), (s.h.ab - _outer(ma, mb)) / _outer(sa, sb), (s.h.b - mb * mb) / (sb * sb))
        return State(h, (jnp.zeros_like(ma), jnp.zeros_like(mb)), s.theta / _outer(sa, sb), False, s.width)
    if isinstance(layer, L.FeaturePool):
        if layer.kind != "avg":
            raise _unsupported(layer, "the max of p units has no closed-form Gaussian expectation")
        if s.mean is None:
            raise _unsupported(layer, "the unit means of its input are unknown")
        p = float(layer.size)
        ma, mb = s.mean
        h = Pair(s.h.a / p + (1 - 1 / p) * ma * ma, s.h.ab / p + (1 - 1 / p) * _outer(ma, mb),
                 s.h.b / p + (1 - 1 / p) * mb * mb)
        return State(h, s.mean, s.theta / p, s.gaussian, s.width // layer.size)
    if isinstance(layer, L.Residual):
        if s.mean is None:
            raise _unsupported(layer, "the unit means of its input are unknown (a skip from the raw inputs)")
        br = _rule(layer.branch, s, tie, record, activation)
        if br.mean is None:
            raise _unsupported(layer, "the branch's unit means are unknown")
        al = layer.scale
        (ma, mb), (ba, bb) = s.mean, br.mean
        h = Pair(s.h.a + al * al * br.h.a + 2 * al * ma * ba,
                 s.h.ab + al * al * br.h.ab + al * (_outer(ma, bb) + _outer(ba, mb)),
                 s.h.b + al * al * br.h.b + 2 * al * mb * bb)
        return State(h, (ma + al * ba, mb + al * bb), s.theta + al * al * br.theta, s.gaussian and br.gaussian,
                     s.width)
    if isinstance(layer, L.BatchNorm):
        raise _unsupported(layer, "batch statistics couple the points of the input set")
    if isinstance(layer, (L.Conv, L.Pool2D, L.GlobalAvgPool, L.Flatten, L.Embedding, L.Positional, L.SelfAttention,
                          L.FirstPosition)):
        raise _unsupported(layer, "positions of an image or sequence need a kernel over every pair of positions, "
                                  "which these rules do not track")
    raise _unsupported(layer, "unknown layer type")


def layer_kernels(net: L.Layer, x1: jax.Array, x2: jax.Array, symmetric: bool, per_layer: bool, activation=None):
    """NNGP and NTK cross blocks of ``net``'s outputs, ``(P1, P2)`` each, or per dense layer
    ``(n_dense, P1, P2)`` with ``per_layer``.

    ``symmetric`` (``x2`` is ``x1``): variances are read off the diagonal of the cross block (see
    :func:`jaxbias.kernels.infinite`). ``activation`` overrides every activation's function (for
    specs built with a callable whose expectations need a name).

    Raises:
      ValueError: a layer without a rule, or a network that does not end with a dense layer.
    """

    def tie(pair: Pair) -> Pair:
        if not symmetric:
            return pair
        diag = jnp.diagonal(pair.ab)
        return Pair(diag, pair.ab, diag)

    d0 = x1.shape[1]
    h = tie(Pair(jnp.sum(x1 * x1, axis=1) / d0, x1 @ x2.T / d0, jnp.sum(x2 * x2, axis=1) / d0))
    state = State(h, None, jnp.zeros_like(h.ab), False, d0)
    record: list = []
    state = _rule(net, state, tie, record, activation)
    if not state.gaussian or not record or record[-1][1] is not state.theta:
        raise ValueError(f"{type(net).__name__}: the network must end with a Dense layer for the NNGP and NTK "
                         "of its outputs")
    if per_layer:
        return jnp.stack([k for k, _ in record]), jnp.stack([t for _, t in record])
    return record[-1]
