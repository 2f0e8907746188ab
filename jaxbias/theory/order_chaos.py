"""Order to chaos in deep random networks (Poole et al., NeurIPS 2016; Schoenholz et al., ICLR 2017).

Two inputs with variance ``q*`` (the length map's fixed point, :func:`~jaxbias.theory.recursions.fixed_point`)
and correlation ``c`` map to the next layer's correlation by the c-map

    c(l+1) = [C_b + C_W E[phi(u) phi(v)]] / q*,   (u, v) ~ N(0, q* [[1, c], [c, 1]]).

``c = 1`` is always fixed; its stability is ``chi_1 = C_W E[phi'(sqrt(q*) z)^2]``: ``chi_1 < 1``
ordered (every pair of inputs becomes perfectly correlated, ``c* = 1``), ``chi_1 > 1`` chaotic
(a fixed point ``c* < 1``). Correlations approach ``c*`` like ``exp(-l / xi_c)`` with the correlation
depth ``xi_c = -1 / log(chi_c)``, ``chi_c = C_W E[phi'(u) phi'(v)]`` at ``c*`` (``= chi_1`` when
``c* = 1``; Schoenholz et al. eq. 9), and lengths approach ``q*`` with ``xi_q = -1 / log(chi_par(q*))``.
Both diverge on the critical line ``chi_1 = 1``, where trainable depth (about ``6 xi_c``) is unbounded.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.caches import bounded_cache
from jaxbias.kernels.gaussian import check_accuracy
from jaxbias.nets.activations import get_activation
from jaxbias.theory.recursions import (
    chi_parallel,
    critical_weight_var,
    fixed_point,
    gauss_dphi_dphi,
    gauss_phi_phi,
)
from jaxbias.validation import check_variance

__all__ = ["OrderChaos", "PhaseDiagram", "order_chaos", "correlation_map", "phase_diagram", "critical_line"]

_C_ITERATIONS = 2000
_Q_INFINITE = 1e6  # where K* = inf (scale-invariant, C_W above critical) maps are evaluated at this variance


class OrderChaos(NamedTuple):
    """Mean-field order/chaos quantities at one ``(C_W, C_b)`` (arrays when the inputs are arrays).

    Attributes:
      q_star: fixed point of the length map (``inf``: lengths diverge; ``0``: they vanish).
      c_star: stable fixed point of the correlation map (1 in the ordered phase).
      chi_1: ``C_W E[phi'(sqrt(q*) z)^2]``; < 1 ordered, > 1 chaotic, = 1 critical.
      xi_c: correlation depth ``-1 / log(chi_c)`` (``inf`` at criticality).
      xi_q: length depth ``-1 / log(chi_par(q*))``.
    """

    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    xi_c: np.ndarray
    xi_q: np.ndarray


class PhaseDiagram(NamedTuple):
    """:func:`order_chaos` over a grid: arrays ``(n_weight_var, n_bias_var)`` and the critical line ``(n_bias_var,)``."""

    weight_var: np.ndarray
    bias_var: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    xi_c: np.ndarray
    xi_q: np.ndarray
    critical_weight_var: np.ndarray


def correlation_map(activation, weight_var, bias_var, q, c):
    """``c -> [C_b + C_W E[phi(u) phi(v)]] / q`` with ``(u, v) ~ N(0, q [[1, c], [c, 1]])``; arrays broadcast."""
    phi = get_activation(activation)
    q, c = jnp.asarray(q, jnp.float32), jnp.asarray(c, jnp.float32)
    return (jnp.asarray(bias_var, jnp.float32)
            + jnp.asarray(weight_var, jnp.float32) * gauss_phi_phi(phi, q, q * c, q)) / q


def _depth(chi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(chi >= 1.0, np.inf, -1.0 / np.log(np.clip(chi, 1e-300, 1.0)))


@bounded_cache(maxsize=64)
def _c_star_program(phi):
    """Jitted, vectorized ``(C_W, C_b, q*) -> c*`` for one activation (one compile per activation and shape)."""
    def solve(cw, cb, q):
        def step(_, c):
            return jnp.clip(correlation_map(phi, cw, cb, q, c), -1.0, 1.0)

        return jax.lax.fori_loop(0, _C_ITERATIONS, step, jnp.zeros_like(q))

    return jax.jit(jax.vmap(solve))


def order_chaos(activation, weight_var, bias_var) -> OrderChaos:
    """q*, c*, chi_1 and the depth scales at ``(C_W, C_b)`` = ``(sigma_w^2, sigma_b^2)``.

    Args:
      activation: name or callable.
      weight_var: ``C_W = sigma_w^2`` (number or array, >= 0).
      bias_var: ``C_b = sigma_b^2`` (number or array, >= 0).

    Returns:
      :class:`OrderChaos` of float64 arrays with the broadcast shape of the arguments. In the
      chaotic phase ``c*`` is found by iterating the c-map from ``c = 0``.

    Example:
      >>> r = order_chaos("relu", 2.0, 0.0)
      >>> float(r.chi_1), float(r.c_star), float(r.xi_c)
      (1.0, 1.0, inf)
    """
    phi = get_activation(activation)
    cw, cb = np.broadcast_arrays(check_variance("weight_var", weight_var), check_variance("bias_var", bias_var))
    q = fixed_point(phi, cw, cb)
    q_eval = np.where(np.isfinite(q), q, _Q_INFINITE)
    q_pos = np.maximum(q_eval, 1e-30)
    cwj, cbj, qj = (jnp.asarray(a, jnp.float32) for a in (cw, cb, q_eval))
    chi_1 = np.asarray(cwj * gauss_dphi_dphi(phi, qj, qj, qj), np.float64)
    chaotic = chi_1 > 1.0
    c_iter = np.asarray(_c_star_program(phi)(*(jnp.asarray(a.ravel(), jnp.float32) for a in (cw, cb, q_pos))),
                        np.float64).reshape(cw.shape)
    check_accuracy(c_iter[chaotic], f"correlation map of activation {phi.name!r}")  # NaN: a missed accuracy
    c_star = np.where(chaotic, c_iter, 1.0)
    qp = jnp.asarray(q_pos, jnp.float32)
    chi_c = np.asarray(cwj * gauss_dphi_dphi(phi, qp, qp * jnp.asarray(c_star, jnp.float32), qp), np.float64)
    chi_c = np.where(chaotic, chi_c, chi_1)
    chi_q = np.asarray(chi_parallel(phi, cw, cb, q_eval), np.float64)
    return OrderChaos(q, c_star, chi_1, _depth(chi_c), _depth(np.abs(chi_q)))


def critical_line(activation, bias_vars) -> np.ndarray:
    """The critical ``C_W`` for each ``C_b`` in ``bias_vars`` (see :func:`~jaxbias.theory.critical_weight_var`)."""
    return critical_weight_var(activation, bias_vars)


def phase_diagram(activation, weight_vars, bias_vars) -> PhaseDiagram:
    """:func:`order_chaos` on the grid ``weight_vars x bias_vars`` with the critical line.

    Args:
      activation: name or callable.
      weight_vars: ``(W,)`` values of ``C_W``.
      bias_vars: ``(B,)`` values of ``C_b``.

    Returns:
      :class:`PhaseDiagram`; fields ``(W, B)``, ``critical_weight_var (B,)``.
    """
    w = check_variance("weight_vars", weight_vars)
    b = check_variance("bias_vars", bias_vars)
    if w.ndim != 1 or b.ndim != 1 or not w.size or not b.size:
        raise ValueError(f"weight_vars, bias_vars with shapes {w.shape}, {b.shape}: expected two non-empty 1-D arrays")
    r = order_chaos(activation, w[:, None], b[None, :])
    return PhaseDiagram(w, b, *r, critical_line(activation, b))
