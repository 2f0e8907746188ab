"""Initial guessing bias at finite width: the leading ``1/n`` correction to ``gamma``.

What the estimator estimates. :func:`jaxbias.theory.estimate_gamma` sees, for each network, the
mean ``m`` and the unbiased variance ``v`` of its outputs ``f(x_1), ..., f(x_P)`` on one fixed input
set. Over random inits ``E f = 0`` (the readout is symmetric), so with ``Q_ab = E_init f(x_a) f(x_b)``
the init-averaged kernel of the network at its actual width,

    E m^2 = Qd / P + (1 - 1/P) Qo,      E v = Qd - Qo,
    Qd = mean_a Q_aa,                   Qo = mean_(a != b) Q_ab,

and ``gamma_hat = (Var m - E v / P) / E v`` tends (many networks) to ``Qo / (Qd - Qo)``, at any width.

Finite width. Given layer ``l`` the next pre-activations are exactly Gaussian with the random Gram
``G(l+1)``, so ``Q = E G(L+1) = K + S`` with ``K`` the infinite-width (NNGP) kernel and ``S = K1 / n
+ O(1/n^2)`` the mean shift of Roberts, Yaida & Hanin, "The Principles of Deep Learning Theory"
(2022), ch. 4-5 (``S(l+1) = J S(l) + 1/2 H : Cov G(l)``, :func:`jaxbias.theory.finite_width`; each
layer keeps its own ``1/n_l``). Hence, to leading order,

    gamma_n = (Ko + So) / (Kd + Sd - Ko - So)
            = gamma_inf + (So Kd - Ko Sd) / (Kd - Ko)^2 + O(1/n^2),   gamma_inf = Ko / (Kd - Ko),

with ``Kd, Sd`` averaged over the points and ``Ko, So`` over the pairs of points, as the estimator
averages them. For ReLU (and every positively homogeneous activation) without bias the one-input
map is linear in ``K_aa``, so ``Sd = 0`` exactly and the sign of the correction is that of ``So``.

The sign of the correction depends on the activation, not on ``d0`` against the width. Measured
(:func:`jaxbias.experiments.igb.igb_cell`: 200 centred Gaussian points, ``d0 = 256`` unless said,
95% bootstrap intervals; tests/test_igb_finite_width.py, notebooks/igb.py):

* ReLU, ``C_W = 1``, no bias: ``So < 0``, ``gamma`` falls BELOW the infinite-width value, more so
  with depth. Width 32, 3000 nets: depth 1 measured 0.44 [0.42, 0.46] (no correction at depth 1:
  0.47); depth 4 measured 1.85 [1.75, 1.93], predicted 1.84 (linearized 1.81), infinite width 2.14.
* tanh with bias (``C_W = 3``, ``C_b = 0.3``), width 16, 5000 nets: ``gamma`` RISES above the
  infinite-width value, more so with depth: depth 4 measured 0.96 [0.91, 1.00], predicted 0.93,
  infinite width 0.88; depth 8 measured 2.03 [1.92, 2.12], predicted 1.98, infinite width 1.68.
  This is the behaviour Francazi et al. (2024) state in general; it holds for these nets, not for ReLU.
* ``d0`` small (8, 16) against the width (32, 128), ReLU: the norms and overlaps of the points
  spread (``|x|^2 ~ chi^2_d0``) and the average of the per-pair kernels falls below the kernel of
  the averaged input moments, an infinite-width effect of the input set (``average="pairs"`` takes
  it; ``average="moments"`` and :func:`jaxbias.theory.predict_gamma` do not); the ``1/n`` term
  lowers ``gamma`` further. ``d0 = 8``, depth 4, 3000 nets: width 128 measured 1.86 [1.78, 1.94],
  predicted 1.83 (all 19900 pairs), 2.06 from the averaged moments; width 32 measured 1.67
  [1.61, 1.74], predicted 1.66. No rise here either.

The neglected terms grow like ``(L / n)^2``. The plug-in ratio ``gamma`` holds up better than the
linearized ``gamma_inf + correction``: ReLU, ``d0 = 8``, depth 8, width 32: measured 2.67 [2.56, 2.78],
plug-in 2.59, linearized 2.13. With ``max_pairs`` below the number of pairs, the subset adds a
sampling error (about 0.02-0.04 in ``gamma`` at ``d0 = 8`` with 1024 pairs; negligible at ``d0 = 256``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from jaxbias.nets.mlp import plain_mlp
from jaxbias.theory.finite_width import finite_width
from jaxbias.theory.guessing import input_moments
from jaxbias.validation import check_int

__all__ = ["FiniteWidthGamma", "predict_gamma_finite_width"]

AVERAGES = ("pairs", "moments")
_BLOCK = 64  # pairs are run in a batch padded to a multiple of this


class FiniteWidthGamma(NamedTuple):
    """``gamma`` of a finite-width MLP on an input set, to leading order in ``1/width``.

    Attributes:
      gamma: ``Qo / (Qd - Qo)`` with the init-averaged kernels ``Q = K + S`` (leading order in ``1/n``).
      gamma_inf: ``Ko / (Kd - Ko)``, the infinite-width value for the same averaging.
      correction: the linearized first-order term ``(So Kd - Ko Sd) / (Kd - Ko)^2`` (``delta / n`` for
        equal widths ``n``); ``gamma - gamma_inf - correction`` is O(1/n^2).
      q_aa, q_ab: ``Qd`` and ``Qo``, the output kernels averaged over points and pairs of points.
      k_aa, k_ab: ``Kd`` and ``Ko`` (infinite width).
      n_pairs: pairs of points averaged (1 for ``average="moments"``).
    """

    gamma: float
    gamma_inf: float
    correction: float
    q_aa: float
    q_ab: float
    k_aa: float
    k_ab: float
    n_pairs: int


def _ratio(diag: float, off: float) -> float:
    gap = diag - off
    return off / gap if gap > 0 else math.inf


def predict_gamma_finite_width(net: Any, x: Any, *, average: str = "pairs", max_pairs: int = 1024,
                               seed: int = 0) -> FiniteWidthGamma:
    """Leading-order finite-width ``gamma`` of a built-in MLP on the inputs ``x`` (derivation in the module).

    Args:
      net: ``jaxbias.nets.mlp(...)`` with Gaussian weights and no residuals, normalization or pooling
        (the nets of :func:`jaxbias.theory.mlp_finite_width`); widths may differ between layers.
      x: the input set ``(n_points, d0)``, ``n_points >= 2``.
      average: ``"pairs"``: the kernels of every point and of every pair of points, averaged as the
        estimator averages them (exact at infinite width for this input set); ``"moments"``: one pair
        state built from :func:`jaxbias.theory.input_moments` (what :func:`jaxbias.theory.predict_gamma`
        uses; right when ``d0`` is large and the per-pair kernels concentrate).
      max_pairs: with more pairs than this, a fixed random subset of ``max_pairs`` pairs (``seed``)
        stands for all of them (the diagonal always uses every point). Cost: about 1 ms per pair and
        layer on a CPU core for activations without closed forms (tanh), far less for ReLU.
      seed: seed of that subset.

    Returns:
      :class:`FiniteWidthGamma`.

    Raises:
      ValueError: an unsupported net, ``x`` not ``(n_points >= 2, d0)``, a bad ``average`` or ``max_pairs``.

    Example:
      >>> import jaxbias as jb, numpy as np
      >>> x = np.random.default_rng(0).standard_normal((64, 256))
      >>> p = jb.theory.predict_gamma_finite_width(jb.nets.mlp(32, 4, "relu", bias=False), x, average="moments")
      >>> round(p.gamma_inf, 2), round(p.gamma, 2), p.correction < 0
      (2.13, 1.84, True)
    """
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}: expected one of {', '.join(AVERAGES)}")
    max_pairs = check_int("max_pairs", max_pairs, 1)
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x with shape {x.shape}: expected inputs (n_points, d0) with n_points >= 2")
    n_points, d0 = x.shape
    net = plain_mlp(net, "the finite-width recursion")
    gram = x @ x.T / d0
    if average == "pairs":
        rows, cols = np.triu_indices(n_points, 1)
        if rows.size > max_pairs:
            pick = np.sort(np.random.default_rng(seed).choice(rows.size, max_pairs, replace=False))
            rows, cols = rows[pick], cols[pick]
        states = np.stack([gram[rows, rows], gram[rows, cols], gram[cols, cols]], axis=1)
        diagonal = np.diag(gram)[:, None]
    else:
        s_aa, s_ab = input_moments(x)
        states = np.array([[s_aa, s_ab, s_aa]])
        diagonal = states[:, :1]
    depth = net.depth
    cws = list(net.weight_var)
    cbs = list(net.bias_var) if net.bias else [0.0] * (depth + 1)

    def run(k1):
        """Output-layer kernel and mean shift of a batch of first-layer states, padded to whole blocks
        (one compiled program per block count, whatever the number of points or pairs)."""
        padded = np.concatenate([k1, np.repeat(k1[:1], -k1.shape[0] % _BLOCK, axis=0)])
        fw = finite_width(net.activation, list(net.width), cbs[0] + cws[0] * padded, cws[1:], cbs[1:])
        return fw.kernel[: k1.shape[0], -1], fw.mean_shift[: k1.shape[0], -1]

    k_diag, s_diag = run(diagonal)
    k_off, s_off = run(states)
    k_d, s_d = float(np.mean(k_diag[:, 0])), float(np.mean(s_diag[:, 0]))
    k_o, s_o = float(np.mean(k_off[:, 1])), float(np.mean(s_off[:, 1]))
    gap = k_d - k_o
    correction = (s_o * k_d - k_o * s_d) / gap ** 2 if gap > 0 else math.nan
    return FiniteWidthGamma(_ratio(k_d + s_d, k_o + s_o), _ratio(k_d, k_o), float(correction), k_d + s_d, k_o + s_o,
                            k_d, k_o, int(states.shape[0]))
