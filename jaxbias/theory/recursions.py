"""Infinite-width signal propagation for one input: the length map, its fixed point and criticality.

For an MLP with ``W ~ N(0, C_W / fan_in)`` and ``b ~ N(0, C_b)`` the variance of a
pre-activation follows the length map (Poole et al. 2016; Roberts, Yaida & Hanin 2022, ch. 5)

    K(l+1) = F(K(l)) = C_b + C_W E[phi(z)^2],   z ~ N(0, K(l)).

Two susceptibilities decide how perturbations grow with depth (RYH eq. 5.50-5.51):
``chi_par(K) = dF/dK`` (of the length) and ``chi_perp(K) = C_W E[phi'(z)^2]`` (of a direction,
Schoenholz et al. 2017's chi_1). Criticality is ``chi_par(K*) = chi_perp(K*) = 1`` at the fixed
point ``K*``; closed forms:

* scale-invariant ``phi`` (slopes a+ for z > 0, a- for z < 0: relu, leaky relu, abs, identity):
  ``C_b = 0, C_W = 2 / (a+^2 + a-^2)``;
* the ``K* = 0`` class (tanh, erf, sin): ``C_b = 0, C_W = 1 / phi'(0)^2``.

Gaussian expectations come from :mod:`jaxbias.kernels.gaussian` (closed forms where they exist,
2-D quadrature to the accuracy policy of that module otherwise); everything here is vectorized over arrays of ``(C_W, C_b)``.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.caches import bounded_cache
from jaxbias.kernels.gaussian import check_accuracy, dphi_dphi, phi_phi
from jaxbias.nets.activations import Activation, get_activation
from jaxbias.validation import check_variance

__all__ = [
    "length_map",
    "fixed_point",
    "chi_parallel",
    "chi_perp",
    "critical_weight_var",
    "scale_invariant_slopes",
    "gauss_phi_phi",
    "gauss_dphi_dphi",
]

_ITERATIONS = 200  # plain iterations of the length map before the fixed point is bracketed
_EXPANSIONS = 120  # doublings / halvings allowed while bracketing
_BISECTIONS = 40
_DIVERGED = 1e30


def scale_invariant_slopes(activation: str | Callable | Activation) -> tuple[float, float] | None:
    """(a+, a-) for a scale-invariant activation given by name (relu, leaky_relu(a), abs, identity), else None."""
    phi = get_activation(activation)
    if phi.name == "relu":
        return 1.0, 0.0
    if phi.name == "abs":
        return 1.0, -1.0
    if phi.name == "identity":
        return 1.0, 1.0
    if phi.name.startswith("leaky_relu("):
        return 1.0, float(phi.name[len("leaky_relu("):-1])
    return None


def gauss_phi_phi(phi: Activation, k11, k12, k22):
    """``E[phi(u) phi(v)]`` for broadcastable arrays of covariance entries (vectorized :func:`phi_phi`)."""
    if k11 is k12 and k12 is k22:  # one variable: phi_phi broadcasts and takes its 1-D rule
        out = phi_phi(phi, k11, k11, k11)
    else:
        out = jnp.vectorize(lambda a, b, c: phi_phi(phi, a, b, c))(k11, k12, k22)
    check_accuracy(out, f"E[phi(u) phi(v)] for activation {phi.name!r}", k11, k12, k22)
    return out


def gauss_dphi_dphi(phi: Activation, k11, k12, k22):
    """``E[phi'(u) phi'(v)]`` for broadcastable arrays of covariance entries (vectorized :func:`dphi_dphi`)."""
    if k11 is k12 and k12 is k22:
        out = dphi_dphi(phi, k11, k11, k11)
    else:
        out = jnp.vectorize(lambda a, b, c: dphi_dphi(phi, a, b, c))(k11, k12, k22)
    check_accuracy(out, f"E[phi'(u) phi'(v)] for activation {phi.name!r}", k11, k12, k22)
    return out


def length_map(activation, weight_var, bias_var, q):
    """``F(q) = C_b + C_W E[phi(z)^2]``, ``z ~ N(0, q)``; jax-traceable and differentiable in every argument."""
    phi = get_activation(activation)
    q = jnp.asarray(q, jnp.float32)
    return jnp.asarray(bias_var, jnp.float32) + jnp.asarray(weight_var, jnp.float32) * gauss_phi_phi(phi, q, q, q)


def chi_parallel(activation, weight_var, bias_var, q):
    """``chi_par(q) = dF/dq``, the length map's slope (RYH eq. 5.50), by ``jax.grad``; arrays broadcast."""
    phi = get_activation(activation)
    grad = jax.grad(lambda qq, cw, cb: length_map(phi, cw, cb, qq))
    q, cw, cb = jnp.broadcast_arrays(*(jnp.asarray(a, jnp.float32) for a in (q, weight_var, bias_var)))
    f = grad
    for _ in range(q.ndim):
        f = jax.vmap(f)
    return f(q, cw, cb)


def chi_perp(activation, weight_var, bias_var, q):
    """``chi_perp(q) = C_W E[phi'(z)^2]``, ``z ~ N(0, q)`` (Schoenholz et al.'s chi_1); arrays broadcast.

    ``bias_var`` is unused (kept for a uniform signature).
    """
    del bias_var
    phi = get_activation(activation)
    q = jnp.asarray(q, jnp.float32)
    return jnp.asarray(weight_var, jnp.float32) * gauss_dphi_dphi(phi, q, q, q)


def _fixed_point_scalar(phi: Activation, cw, cb, q0):
    """Stable fixed point of the length map reached from ``q0``, for scalars; ``inf`` when K(l) diverges."""
    def g(q):
        return length_map(phi, cw, cb, q) - q

    def iterate(_, q):
        return jnp.minimum(length_map(phi, cw, cb, q), _DIVERGED)

    q_prev = jax.lax.fori_loop(0, _ITERATIONS - 1, iterate, q0)
    q = iterate(0, q_prev)
    rising = g(q) > 0
    # Bracket: the root lies above q when the map still pushes q up, below it otherwise.
    def expand(_, state):
        lo, hi, done = state
        if_rising_hi = jnp.where(done, hi, hi * 2.0)
        if_falling_lo = jnp.where(done, lo, lo * 0.5)
        lo = jnp.where(rising, lo, if_falling_lo)
        hi = jnp.where(rising, if_rising_hi, hi)
        done = jnp.where(rising, g(hi) <= 0, g(lo) >= 0)
        return lo, hi, done

    start = jnp.maximum(q, 1e-30)
    lo, hi, done = jax.lax.fori_loop(0, _EXPANSIONS, expand,
                                     (jnp.where(rising, start, start * 0.5), jnp.where(rising, start * 2.0, start),
                                      jnp.asarray(False)))

    def bisect(_, state):
        lo, hi = state
        mid = 0.5 * (lo + hi)
        up = g(mid) > 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, _BISECTIONS, bisect, (lo, hi))
    root = 0.5 * (lo + hi)
    exact = g(q) == 0
    diverged = (q >= _DIVERGED) | (rising & ~done)
    vanished = ~rising & ~done  # the map pushes q to 0: K* = 0
    return jnp.where(exact, q, jnp.where(diverged, jnp.inf, jnp.where(vanished, 0.0, root)))


@bounded_cache(maxsize=64)
def _fixed_point_program(phi: Activation):
    """Jitted, vectorized ``(C_W, C_b, q0) -> K*`` for one activation (one compile per activation and shape)."""
    return jax.jit(jax.vmap(lambda cw, cb, q0: _fixed_point_scalar(phi, cw, cb, q0)))


def fixed_point(activation, weight_var, bias_var, q0=1.0) -> np.ndarray:
    """The fixed point ``K*`` of the length map that the depth recursion reaches from ``K(1) = q0``.

    Iterates the map, brackets the root of ``F(q) - q`` in the direction the iteration moves
    and bisects it. ``inf`` when ``K(l)`` grows without bound (e.g. relu with ``C_W > 2``);
    ``0`` when it decays to zero (e.g. tanh with ``C_W <= 1, C_b = 0``). For relu at ``C_W = 2,
    C_b = 0`` every ``q`` is fixed and ``q0`` is returned.

    Args:
      activation: name or callable.
      weight_var, bias_var: ``C_W``, ``C_b`` (numbers or broadcastable arrays, >= 0).
      q0: the first layer's variance ``K(1)`` (> 0).

    Returns:
      ``K*`` with the broadcast shape of the arguments (float64 numpy array).

    Example:
      >>> round(float(fixed_point("relu", 1.0, 0.5)), 5)  # C_b / (1 - C_W / 2)
      1.0
    """
    phi = get_activation(activation)
    cw, cb, q0v = np.broadcast_arrays(check_variance("weight_var", weight_var), check_variance("bias_var", bias_var),
                                      check_variance("q0", q0))
    if np.any(q0v <= 0):
        raise ValueError(f"q0={q0!r}: expected a positive initial variance")
    out = _fixed_point_program(phi)(*(jnp.asarray(a.ravel(), jnp.float32) for a in (cw, cb, q0v)))
    # A quadrature that missed its accuracy is NaN inside the program; check the map where it ended
    # (concrete arguments: a ValueError naming the activation and the variance).
    check_accuracy(np.where(np.isinf(out), 0.0, out), f"fixed point of the length map of activation {phi.name!r}")
    finite = np.isfinite(np.asarray(out)) & (np.asarray(out) > 0)
    if np.any(finite):
        phi_phi(phi, *(jnp.asarray(np.asarray(out)[finite]),) * 3)
    return np.asarray(out, np.float64).reshape(cw.shape)


@bounded_cache(maxsize=64)
def _line_program(phi: Activation):
    """Jitted, vectorized: C_b -> critical C_W along the line parametrized by the fixed point q.

    On the critical line ``chi_1(q*) = 1`` and ``q* = F(q*)``, so for each ``q`` the line passes
    through ``C_W(q) = 1 / E[phi'(sqrt(q) z)^2]``, ``C_b(q) = q - C_W(q) E[phi(sqrt(q) z)^2]``. The
    ``q`` with ``C_b(q)`` equal to the requested bias variance is bisected in ``log q``.
    """
    def cw_of(q):
        return 1.0 / gauss_dphi_dphi(phi, q, q, q)

    def cb_of(q):
        return q - cw_of(q) * gauss_phi_phi(phi, q, q, q)

    def solve(cb):
        lo, hi = jnp.float32(-16.0), jnp.float32(5.0)  # log q in [1e-7, 150]

        def bisect(_, state):
            lo, hi = state
            mid = 0.5 * (lo + hi)
            below = cb_of(jnp.exp(mid)) < cb
            return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

        start = cb_of(jnp.exp(lo))
        end = cb_of(jnp.exp(hi))
        ok = end >= cb
        lo, hi = jax.lax.fori_loop(0, 50, bisect, (lo, hi))
        # C_b at or below the line's start (q* -> 0): the K* = 0 critical point 1 / phi'(0)^2
        cw = jnp.where(cb <= start, cw_of(jnp.float32(1e-7)), cw_of(jnp.exp(0.5 * (lo + hi))))
        # NaN from a Gaussian expectation that missed its accuracy, kept apart from "no line" (below)
        missed = jnp.isnan(start) | jnp.isnan(end) | (ok & jnp.isnan(cw))
        return jnp.where(ok | missed, cw, jnp.nan), missed

    return jax.jit(jax.vmap(solve))


def critical_weight_var(activation, bias_var=0.0) -> np.ndarray:
    """The weight variance ``C_W`` on the order/chaos line at bias variance ``C_b``: ``chi_1(q*) = 1``.

    Closed forms where they exist: scale-invariant activations give
    ``2 / (a+^2 + a-^2)`` (at every ``C_b``: with ``C_b > 0`` the fixed point ``q*`` runs to infinity
    as ``C_W`` approaches it); tanh, erf and sin at ``C_b = 0`` give ``1 / phi'(0)^2``. Otherwise
    the line is followed through its parametrization by the fixed point ``q*`` (on it
    ``C_W = 1 / E[phi'^2]`` and ``C_b = q* - C_W E[phi^2]``), bisecting ``q*`` for the requested
    ``C_b`` (Schoenholz et al. 2017, Fig. 1: the critical line). This assumes ``C_b(q*)`` increases
    along the line, as for tanh and other bounded sigmoids.

    Args:
      activation: name or callable.
      bias_var: ``C_b``, a number or an array (>= 0).

    Returns:
      Critical ``C_W`` with the shape of ``bias_var`` (float64 numpy array); ``nan`` where
      ``chi_1`` never crosses 1 on a fixed point, or where that fixed point repels (``chi_parallel > 1``).

    Example:
      >>> float(critical_weight_var("relu")), float(critical_weight_var("tanh"))
      (2.0, 1.0)
    """
    phi = get_activation(activation)
    cb = check_variance("bias_var", bias_var)
    slopes = scale_invariant_slopes(phi)
    if slopes is not None:
        return np.full(cb.shape, 2.0 / (slopes[0] ** 2 + slopes[1] ** 2))
    k0_class = {"tanh": 1.0, "sin": 1.0, "erf": 4.0 / math.pi}  # phi'(0)^2
    if phi.name in k0_class and np.all(cb == 0):
        return np.full(cb.shape, 1.0 / k0_class[phi.name])
    unstable = _line_checks(phi, cb)
    out, missed = _line_program(phi)(jnp.asarray(cb.ravel(), jnp.float32))
    if np.any(np.asarray(missed)):
        check_accuracy(np.where(np.asarray(missed), np.nan, 0.0), f"critical line of activation {phi.name!r}")
    out = np.asarray(out, np.float64).reshape(cb.shape)
    return np.where(unstable, np.nan, out)


def _line_checks(phi: Activation, cb: np.ndarray) -> np.ndarray:
    """Where the line's fixed point is unstable (bool, shape of ``cb``); ValueError where it is ambiguous.

    On a grid of ``q*`` in [1e-7, 150]: several crossings of a requested ``C_b`` mean several critical
    ``C_W`` (bisection would silently pick one): ValueError. A crossing where the length map's slope
    ``chi_parallel = C_W dE[phi^2]/dq`` exceeds 1 is a repelling fixed point: networks flow away
    from it (gelu at ``C_b = 0.05``: ``C_W = 2.30`` has ``q* = 0.73`` with ``chi_1 = 1`` but the signal
    settles at ``q = 0.17`` with ``chi_1 = 0.77``), so there is no critical initialization there.
    """
    cw, cbq, slope = _line_grid(phi)
    unstable = np.zeros(cb.shape, bool)
    for value in np.unique(cb):
        diff = cbq - value
        side = np.sign(np.where(np.abs(diff) <= 1e-6 * (1.0 + abs(value)), 0.0, diff))
        nonzero = np.flatnonzero(side)
        changes = nonzero[np.flatnonzero(side[nonzero][1:] != side[nonzero][:-1])]
        if changes.size > 1:
            values = ", ".join(f"{cw[i]:.4g}" for i in changes)
            raise ValueError(f"activation={phi.name!r}, bias_var={value:g}: the order/chaos line crosses this C_b "
                             f"{changes.size} times (critical C_W ~ {values}); pass weight_var explicitly")
        if changes.size == 1 and value > 0 and slope[changes[0]] > 1.0 + 1e-2:
            unstable |= cb == value
    return unstable


@bounded_cache(maxsize=64)
def _line_grid(phi: Activation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The critical line on a grid of 400 fixed points ``q*`` in [1e-7, 150]: ``(C_W, C_b, chi_parallel)``."""
    def both(q):
        cw = 1.0 / gauss_dphi_dphi(phi, q, q, q)
        return cw, gauss_phi_phi(phi, q, q, q)

    q = np.exp(np.linspace(-16.0, 5.0, 400))
    cw, m2 = (np.asarray(a, np.float64) for a in jax.jit(both)(jnp.asarray(q, jnp.float32)))
    slope = cw * np.gradient(m2, q)  # chi_parallel at each point of the line
    return cw, q - cw * m2, slope
