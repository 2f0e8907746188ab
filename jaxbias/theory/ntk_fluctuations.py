"""NTK fluctuations over initializations as a function of depth and width (Hanin & Nica, ICLR 2020).

Hanin & Nica ("Finite depth and width corrections to the neural tangent kernel", ICLR 2020,
Theorem 1, as stated in their abstract and introduction) prove for ReLU MLPs with zero biases,
hidden widths ``n_1..n_L`` and ``beta = sum_l 1/n_l`` (``L/n`` at equal widths) that the diagonal NTK ``T = Theta(x, x)`` obeys

    E[T^2] / E[T]^2  ~  exp(5 beta) (1 + O(sum_l 1/n_l^2)),

where ``~`` means bounded above and below by universal constants. So the theorem fixes the growth
rate of ``log(E[T^2]/E[T]^2)`` in ``beta`` (5) at large ``beta`` but no value at any finite point;
it does not say that the local slope is 5 at moderate ``beta`` (T is a sum over layers whose
fluctuations differ, and for ``beta <= 0.5`` the measured slope is about 3-3.5 in the ntk
parameterization). What :mod:`jaxbias.theory.catalogue` checks ("ntk-fluctuations") is therefore:

* growth in depth: the slope of ``log(E[T^2]/E[T]^2)`` in ``beta`` from the shallowest to the deepest
  net at fixed width is ``5 +- 2`` (between 3 and 7): exponential growth at Hanin & Nica's rate up to
  the theorem's unstated constants, which rejects no growth (slope 0) and a doubled rate (10) but does
  not claim the constant 5 itself. The measured rate at ``beta <= 0.5`` is about 3.4, near the lower
  edge of the band: a wider band would no longer reject slope 0 at the default ``n = 3000``, a
  narrower one would reject the (correct, small-beta) growth. This band is a judgement, not a bound;
* shrinkage in width: at fixed depth the log-ratio is ``beta`` times a depth-dependent constant at
  leading order in ``1/n`` (the O(1) factors of the theorem multiply ``E[T^2]/E[T]^2 - 1 = O(beta)``),
  so doubling the width halves it: ``log r(n) / log r(2n) = 2 (1 + O(beta))``, tested as ``2 +- L/n``.

>>> hanin_nica_ratio([16, 16, 16, 16])  # exp(5 * 4 / 16)
3.4903429574618414
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np

from jaxbias.kernels.empirical import ntk_fn
from jaxbias.nets.core import Net

__all__ = ["HANIN_NICA_RATE", "HANIN_NICA_TOLERANCE", "hanin_nica_ratio", "ntk_diagonal_net", "ntk_diagonal_samples", "relu_ntk_net"]

HANIN_NICA_RATE = 5.0
"""Growth rate of ``log(E[T^2]/E[T]^2)`` in ``beta = sum_l 1/n_l`` for ReLU nets (Hanin & Nica 2020)."""

HANIN_NICA_TOLERANCE = 2.0
"""Admitted error of that rate in the "ntk-fluctuations" check (module docstring: a judgement, not a bound)."""


def hanin_nica_ratio(widths: Sequence[int]) -> float:
    """Leading-order ``E[T^2]/E[T]^2 ~ exp(5 sum_l 1/n_l)`` of Hanin & Nica (up to universal constants).

    Args:
      widths: hidden widths ``n_1..n_L`` (positive integers).
    """
    widths = list(widths)
    if not widths or any(not isinstance(w, (int, np.integer)) or w < 1 for w in widths):
        raise ValueError(f"widths={widths!r}: expected a non-empty sequence of positive integers")
    return math.exp(HANIN_NICA_RATE * sum(1.0 / w for w in widths))


def relu_ntk_net(width: int, depth: int, out: int = 1) -> Net:
    """The networks of Hanin & Nica's theorem: ReLU MLP, no biases, ``C_W = 2``, ntk parameterization."""
    from jaxbias.nets import mlp

    return mlp(width, depth, "relu", out=out, weight_var=2.0, bias=False, parameterization="ntk")


def ntk_diagonal_net(net: Net, method: str = "auto") -> Net:
    """A Net whose output at points ``x (p, ...)`` is the traced diagonal NTK ``Theta(x_i, x_i)``, shape ``(p,)``.

    Run through :func:`jaxbias.reduce` it gives the NTK of each of ``n`` networks in one compiled program.
    """
    kernel = ntk_fn(net, method=method, diagonal=True)
    return Net(net.init, _diag_apply(kernel), net.config)


@functools.lru_cache(maxsize=64)
def _diag_apply(kernel):
    def apply(params, x):
        return kernel(params, x)

    return apply


def _diag_moments(t):  # t (p,): T and T^2 at each point
    return jnp.stack([t, t ** 2], axis=-1)


def ntk_diagonal_samples(net: Net, x: Any, n: int, key: Any = 0, *, progress: bool = False) -> np.ndarray:
    """Per-network ``(T, T^2)`` at each point, ``(n, p, 2)``: network ``i`` is ``net.init(fold_in(key, i), x)``.

    ``E[T^2]/E[T]^2`` is ``mean[..., 1] / mean[..., 0]**2`` of these (a smooth function of means, so
    :func:`jaxbias.theory.compare` gives its confidence interval by the delta method).
    """
    from jaxbias.engine import reduce

    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n={n!r}: expected an integer >= 2 networks")
    return np.asarray(reduce(ntk_diagonal_net(net), x, n, key, _diag_moments, progress=progress))
