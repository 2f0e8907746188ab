"""NTK fluctuations over initializations: exact moments of the diagonal NTK of bias-free ReLU nets.

Setting (Hanin & Nica, "Finite depth and width corrections to the neural tangent kernel", ICLR 2020):
a ReLU MLP with no biases, input dimension ``n_0``, hidden widths ``n_1..n_L``, one output
(``d = L + 1`` weight layers), weights ``N(0, 1)`` multiplied by ``sqrt(C_W / fan_in)`` in the forward
pass (ntk parameterization), and the diagonal NTK over all weights

    T = Theta(x, x) = sum_l sum_ij (d f / d omega^(l)_ij)^2 = sum_l (C_W / n_(l-1)) |a_(l-1)|^2 |delta_l|^2,

with ``a_(l-1)`` the post-activations feeding layer ``l`` (``a_0 = x``) and ``delta_l = d f / d z_l``.
Hanin & Nica prove ``E[T^2] / E[T]^2 ~ exp(5 beta) (1 + O(sum_l 1/n_l^2))``, ``beta = sum_l 1/n_l``,
where ``~`` holds up to universal constants: a growth rate, no value at any finite depth and width.
(Their NTK also differentiates the biases, started at zero: their "Overall scaling" section sums
weight, cross and bias terms, the weight term being ``d^2 |x|^4 / n_0^2 exp(5 beta)``, i.e.
``E[K_w] = d |x|^2 / n_0`` in their normalization. The nets here have no biases; ``T`` is the weight
term, twice theirs in the ntk parameterization with ``C_W = 2``.)

This module computes ``E[T]`` and ``E[T^2]`` *exactly* at every depth and width (no neglected
term), from a stochastic representation derived here for a single input ``x``:

* forward: given layer ``l - 1``, ``z_l = sqrt(C_W / n_(l-1)) |a_(l-1)| g_l`` with ``g_l ~ N(0, I)``
  independent of the past, so ``|a_l|^2 = |a_(l-1)|^2 A_l`` with ``A_l = C_W Q_l / n_(l-1)``,
  ``Q_l = |relu(g_l)|^2 ~ chi^2_(K_l)`` and ``K_l ~ Binomial(n_l, 1/2)`` active units
  (readout: ``A_d = C_W g^2 / n_(d-1)``, ``g ~ N(0, 1)``);
* backward: split ``W_l`` into its action on ``u = a_(l-1) / |a_(l-1)|`` and on the orthogonal
  complement. Along ``u``, ``delta_(l-1)`` has length ``|f| / |a_(l-1)|`` (Euler's identity
  ``f = delta_l . z_l`` for positively homogeneous layers); in the other ``K_(l-1) - 1`` active
  directions it is Gaussian, variance ``C_W |delta_l|^2 / n_(l-1)``, independent of everything else:

      |delta_(l-1)|^2 = f^2 / |a_(l-1)|^2 + R_(l-1) |delta_l|^2,   R_l = C_W chi^2_(K_l - 1) / n_l.

Unrolled, ``T / |x|^2 = sum_(1 <= l <= m <= d) (C_W / n_(l-1)) prod_(i<l) A_i prod_(l<=i<m) R_i
1[K_m >= 1] prod_(i>m) A_i``: a sum over paths of products of factors independent across layers
(``A_i, R_i, 1[K_i >= 1]`` share ``K_i`` within a layer). ``E[T^k]`` then follows from the per-layer
joint moments of these factors by a transfer matrix over the states of ``k`` paths (3^k states;
:func:`relu_ntk_moment`, ``k <= 4``; :func:`relu_ntk_moments` gives ``E[T]``, ``E[T^2]`` and their ratio).
Consequences: ``E[T] = d C_W^d / 2^(d-1) |x|^2 / n_0`` (``2 d |x|^2 / n_0`` at ``C_W = 2``: Hanin & Nica's
``E[K_N] = d |x|^2 / n_0`` up to their normalization) at any width; ``T`` scales as ``C_W^d`` so the ratio
does not depend on ``C_W``; at large depth the ratio grows by ``1 + 5/n`` per layer of width ``n``
(Hanin & Nica's ``exp(5 beta)`` to ``O(1/n^2)``), but at ``beta = L/n <= 1`` ``log(ratio) / beta`` is
about 3-4, not 5: ``exp(5 beta)`` taken as an equality is rejected by Monte Carlo.

The tests compare the formula with a hand computation at one hidden layer (there ``T`` is
``C_W q / n_1`` times a chi-square with ``2K`` degrees of freedom) and with a float64 numpy Monte
Carlo of explicit backpropagation; the catalogue check "ntk-fluctuations"
(:mod:`jaxbias.experiments.catalogue`) compares it with the engine's NTK over thousands of networks
(:func:`jaxbias.experiments.ntk_diagonal_samples`). ``E[T^4]`` measures the heavy tail: the sample mean of ``T^2``
over ``n`` networks is worth ``n E[T^2]^2 / E[T^4]`` well-behaved samples, which the check requires to
be large (``L/width`` small enough), otherwise its confidence intervals would not hold.

>>> m = relu_ntk_moments([16, 16, 16, 16], in_dim=8)
>>> round(m.mean, 10), round(m.ratio, 4)   # E[T] = 2 d at |x|^2 = n_0; E[T^2]/E[T]^2 (exp(5/4) = 3.49)
(10.0, 2.2359)
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple, Sequence

import numpy as np
from scipy import stats

from jaxbias.nets import mlp
from jaxbias.nets.core import Net

__all__ = ["HANIN_NICA_RATE", "ReluNTKMoments", "hanin_nica_ratio", "relu_ntk_moment", "relu_ntk_moments",
           "relu_ntk_net"]

HANIN_NICA_RATE = 5.0
"""Growth rate of ``log(E[T^2]/E[T]^2)`` in ``beta = sum_l 1/n_l`` at large depth (Hanin & Nica 2020)."""


def _check_widths(widths) -> list:
    widths = list(widths)
    if not widths or any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in widths):
        raise ValueError(f"widths={widths!r}: expected a non-empty sequence of positive integers")
    return [int(w) for w in widths]


def hanin_nica_ratio(widths: Sequence[int]) -> float:
    """Hanin & Nica's ``E[T^2]/E[T]^2 ~ exp(5 sum_l 1/n_l)``, which holds up to universal constants only.

    Not a prediction at finite depth and width (see :func:`relu_ntk_moments` for the exact value).

    Args:
      widths: hidden widths ``n_1..n_L`` (positive integers).
    """
    return math.exp(HANIN_NICA_RATE * sum(1.0 / w for w in _check_widths(widths)))


class ReluNTKMoments(NamedTuple):
    """Exact moments of the diagonal NTK ``T = Theta(x, x)`` of a bias-free ReLU net (ntk parameterization).

    Attributes:
      mean: ``E[T]``.
      second_moment: ``E[T^2]``.
      ratio: ``E[T^2] / E[T]^2`` (``1 + Var T / E[T]^2``; 1 at infinite width).
    """

    mean: float
    second_moment: float
    ratio: float


def _chi2_rising(k: np.ndarray, p: int) -> np.ndarray:
    """``E[chi^2_k ^ p] = k (k + 2) ... (k + 2p - 2)`` (0 for ``k <= 0`` when ``p >= 1``)."""
    out = np.ones_like(k, dtype=np.float64)
    for q in range(p):
        out = out * np.maximum(k + 2.0 * q, 0.0)
    return out


def _binomial_half(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Support and pmf of ``K ~ Binomial(n, 1/2)``, cut 40 standard deviations from the mean (mass lost < 1e-300)."""
    half = 20.0 * math.sqrt(n)
    k = np.arange(max(0, math.floor(n / 2 - half)), min(n, math.ceil(n / 2 + half)) + 1, dtype=np.float64)
    return k, stats.binom.pmf(k, n, 0.5)


def _factor_moment(n: int | None, fan_in: int, cw: float, i: int, j: int, h: int) -> float:
    """``E[A^i R^j 1[K >= 1]^h]`` of one layer (``n = None``: the linear readout, where only ``A`` occurs).

    Hidden layer of width ``n``: given ``K ~ Binomial(n, 1/2)``, ``A = C_W chi^2_K / n_in`` and
    ``R = C_W chi^2_(K-1) / n`` are independent (``R = 0`` when ``K = 0``). Readout: ``A = C_W g^2 / n_in``.
    """
    if n is None:
        return float(np.prod(np.arange(1, 2 * i, 2))) * (cw / fan_in) ** i  # E g^(2i) = (2i - 1)!!
    k, pmf = _binomial_half(n)
    val = _chi2_rising(k, i) * _chi2_rising(k - 1.0, j) * (k >= 1 if h else 1.0)
    return float(np.sum(pmf * val)) * (cw / fan_in) ** i * (cw / n) ** j


# Paths of T = sum_(l <= m): state 0 before layer l (factor A), 1 between l and m (factor R), 2 after m (A).
# _STEP[f][s, t]: 1 where a path in state s takes factor f at a layer and leaves in state t; the step out of
# state 0 (the layer whose weights are differentiated) carries the weight C_W / n_(l-1) (applied separately).
_FACTORS = ("a", "r", "e")
_STEP = {"a": np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]], np.float64),
         "r": np.array([[0, 1, 0], [0, 1, 0], [0, 0, 0]], np.float64),
         "e": np.array([[0, 0, 1], [0, 0, 1], [0, 0, 0]], np.float64)}


@functools.lru_cache(maxsize=256)
def _layer_step(n: int | None, fan_in: int, cw: float, order: int) -> np.ndarray:
    """Transfer matrix ``(3^order, 3^order)`` of one layer for ``order`` paths at once: expected products of factors."""
    take = np.ones((3, 3))
    take[0, 1:] = cw / fan_in  # leaving state 0: the derivative is taken at this layer
    weighted = {f: _STEP[f] * take for f in _FACTORS}
    moments: dict = {}
    step = np.zeros((3 ** order, 3 ** order))
    for combo in itertools.product(_FACTORS, repeat=order):
        counts = tuple(combo.count(f) for f in _FACTORS)
        if n is None and counts[1]:
            continue  # no R at the readout
        if counts not in moments:
            moments[counts] = _factor_moment(n, fan_in, cw, *counts)
        step += moments[counts] * functools.reduce(np.kron, [weighted[f] for f in combo])
    step.flags.writeable = False
    return step


def relu_ntk_moment(widths: Sequence[int], in_dim: int, order: int = 1, *, sq_norm: float | None = None,
                    weight_var: float = 2.0) -> float:
    """Exact ``E[T^order]`` of the diagonal NTK of a bias-free ReLU MLP (module docstring).

    Network: :func:`relu_ntk_net` (ntk parameterization, weight variance ``C_W`` in every layer, one
    output); ``T`` sums the squared derivatives over all weights. Exact at every depth and width:
    no term is neglected (float64 arithmetic; ``O(d 9^order)`` work).

    Args:
      widths: hidden widths ``n_1..n_L`` (``L >= 1``).
      in_dim: input dimension ``n_0``.
      order: the moment, 1 to 4.
      sq_norm: ``|x|^2`` of the input (default ``n_0``, so ``|x|^2 / n_0 = 1``).
      weight_var: ``C_W > 0`` (``T`` scales as ``C_W^d``).

    Example:
      >>> round(relu_ntk_moment([3], in_dim=4, order=2), 10)   # one hidden layer of width 3: E[T^2] = 32
      32.0
    """
    widths = _check_widths(widths)
    if isinstance(in_dim, bool) or not isinstance(in_dim, (int, np.integer)) or in_dim < 1:
        raise ValueError(f"in_dim={in_dim!r}: expected a positive integer input dimension")
    if order not in (1, 2, 3, 4):
        raise ValueError(f"order={order!r}: expected 1, 2, 3 or 4")
    sq_norm = float(in_dim if sq_norm is None else sq_norm)
    if not (math.isfinite(sq_norm) and sq_norm > 0):
        raise ValueError(f"sq_norm={sq_norm!r}: expected |x|^2 > 0")
    cw = float(weight_var)
    if not (math.isfinite(cw) and cw > 0):
        raise ValueError(f"weight_var={weight_var!r}: expected C_W > 0")
    fans = [int(in_dim)] + widths
    state = np.zeros(3 ** order)
    state[0] = 1.0  # every one of the ``order`` paths starts in state 0
    for layer, fan_in in enumerate(fans):
        state = state @ _layer_step(widths[layer] if layer < len(widths) else None, fan_in, cw, order)
    end = int(sum(2 * 3 ** q for q in range(order)))  # every path in state 2
    return float(state[end]) * sq_norm ** order


def relu_ntk_moments(widths: Sequence[int], in_dim: int, *, sq_norm: float | None = None,
                     weight_var: float = 2.0) -> ReluNTKMoments:
    """Exact ``E[T]``, ``E[T^2]`` and their ratio (:func:`relu_ntk_moment`; same arguments).

    Example:
      >>> m = relu_ntk_moments([3], in_dim=4)   # one hidden layer of width 3: E[T] = 4, E[T^2] = 32
      >>> [round(v, 10) for v in m]
      [4.0, 32.0, 2.0]
    """
    mean, sq = (relu_ntk_moment(widths, in_dim, k, sq_norm=sq_norm, weight_var=weight_var) for k in (1, 2))
    return ReluNTKMoments(mean, sq, sq / mean ** 2)


def relu_ntk_net(width: int | Sequence[int], depth: int, out: int = 1, weight_var: float = 2.0) -> Net:
    """The networks of Hanin & Nica's theorem: ReLU MLP, no biases, ``C_W`` (default 2), ntk parameterization."""
    return mlp(width, depth, "relu", out=out, weight_var=weight_var, bias=False, parameterization="ntk")
