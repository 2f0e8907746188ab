"""Generalization difficulty in closed form: the inductive-bias bits of a band-limited classification task.

Boopathy, Liu, Hwang, Ge, Mohammedsaleh & Fiete, "Model-agnostic measure of generalization difficulty"
(ICML 2023), bound the information a model's inductive bias must supply to reach test error ``eps``:
hypotheses are linear combinations of the Laplace-Beltrami eigenfunctions of an ``m``-dimensional
data manifold (taken to be a sphere of radius ``R``) with frequency at most ``M = 2 pi R / delta``
(``delta``: the smallest distance between classes), and ``I`` is minus the log-probability that a
hypothesis fitting the ``n`` training points lies in a ball of well-generalizing ones. For ``d``
classes (one-hot outputs on the simplex: output dimension ``D = d - 1``, bound ``B = 1``)::

    K     = (sqrt((m-1)^2 + 4 M^2) - (m-1)) / 2       (largest degree l with l (l+m-1) <= M^2)
    E     = C(m+K, m) + C(m+K-1, m)                  (eigenfunctions of degree <= K on S^m)
    W     = sqrt(m/6) (2 pi^((m+1)/2) d / Gamma((m+1)/2))^(1/m) R n^(-1/m)
    L_f   = K sqrt(D) / R
    dim   = 2 D d E
    I     = (dim - n D) [log2 B + log2(D)/2 + log2(d)/2 - log2 eps + log2 L_f + log2 W]   bits

``K`` is real-valued and the binomials are gamma-function binomials, as in the authors' code
(``count_eigenvalues`` and ``difficulty`` in github.com/FieteLab/inductive-bias-complexity,
``task_difficulty.py``); with ``D ~ d`` the bracket is the paper's
``log b + 3/2 log d + log K - (1/m) log n - log eps + log c``. ``eps`` is the target error divided by
the loss's Lipschitz constant (the code passes the error rate). ``I`` is unchanged when the data are
rescaled (``R`` and ``delta`` scale together; ``L_f W`` does not depend on the scale), and lowering
``eps`` by a factor 2 adds exactly ``dim - n D`` bits. Where ``dim <= n D`` the training points fix
the hypothesis and the bound is void: ``bits`` is NaN there (the raw product is meaningless, and even
positive when the bracket is negative too). Where only the bracket is negative (``eps`` so large that
the ball holds the whole space), ``bits`` is the negative value the formula gives.

Everything is float64 numpy, vectorized over ``eps`` (any shape); ``E`` and ``dim`` go through
``scipy.special.gammaln`` so that ``log10_bits`` stays finite where ``dim`` would overflow.

>>> from jaxbias.theory.task_difficulty import generalization_difficulty
>>> r = generalization_difficulty(1e-3, n=60000, m=14, radius=17.179045827183984,
...                               delta=2.3987084824335305, n_classes=10)
>>> f"{float(r.bits):.3e}"
'1.485e+16'
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy.special import gammaln

from jaxbias.validation import check_float, check_int

__all__ = ["Difficulty", "generalization_difficulty", "max_degree", "log_eigenfunction_count"]

_LOG2 = math.log(2.0)


class Difficulty(NamedTuple):
    """The closed form's terms (:func:`generalization_difficulty`); ``bits`` and ``log10_bits`` have ``eps``'s shape.

    Attributes:
      bits: ``I(eps)`` in bits (``inf`` where ``dim`` overflows float64, NaN where ``dim <= n D``).
      log10_bits: ``log10 I`` (NaN where ``I <= 0``, the bound void).
      K: largest (real) degree of the band-limited eigenfunctions.
      log_E: natural log of the number ``E`` of eigenfunctions.
      dim: hypothesis-space dimension ``2 D d E`` (float; may be ``inf``).
      log2_dim_free: ``log2(dim - n D)``, NaN where ``dim <= n D``.
      L_f: Lipschitz constant of the hypotheses ``K sqrt(D) / R``.
      log2_W: ``log2`` of the Wasserstein distance ``W`` between training and test distributions.
      M: maximum frequency ``2 pi R / delta``.
    """

    bits: np.ndarray
    log10_bits: np.ndarray
    K: float
    log_E: float
    dim: float
    log2_dim_free: float
    L_f: float
    log2_W: float
    M: float


def max_degree(m: float, M: float) -> float:
    """``K = (sqrt((m-1)^2 + 4 M^2) - (m-1)) / 2``, the positive root of ``K (K + m - 1) = M^2``.

    The Laplace-Beltrami eigenvalues on the unit ``m``-sphere are ``l (l + m - 1)``, so ``K`` is the
    largest degree whose frequency is at most ``M`` (real-valued, as in the paper).
    """
    m = float(m)
    M = float(M)
    # K = 2 M^2 / (sqrt((m-1)^2 + 4 M^2) + (m-1)): the same root without cancellation when M << m.
    return 2.0 * M * M / (math.sqrt((m - 1.0) ** 2 + 4.0 * M * M) + (m - 1.0))


def _log_binom(a: float, b: float) -> float:
    return float(gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0))


def log_eigenfunction_count(m: float, K: float) -> float:
    """``log E`` with ``E = C(m+K, m) + C(m+K-1, m)``, gamma-function binomials (``K > 0`` real).

    For integer ``K`` this is the number of spherical harmonics of degree ``<= K`` on ``S^m``.
    """
    return float(np.logaddexp(_log_binom(m + K, m), _log_binom(m + K - 1.0, m)))


def generalization_difficulty(eps: Any, *, n: int | float, m: float, radius: float, delta: float,
                              n_classes: int) -> Difficulty:
    """Bits of inductive bias a ``n_classes``-way classification task needs (Boopathy et al. 2023).

    Args:
      eps: target error(s) ``> 0``, any shape (the paper's ``eps / L_L``; the authors pass the error rate).
      n: training points (``>= 1``; a float is allowed, e.g. for the paper's sweeps in ``n``).
      m: intrinsic dimension of the data manifold (``> 0``, real: an estimate need not be rounded).
      radius: ``R``, the radius of the data (the maximum norm of the training points in the paper), ``> 0``.
      delta: smallest distance between classes (``> 0``), in the units of ``radius``.
      n_classes: ``d >= 2`` classes; the output dimension is ``D = d - 1`` and ``B = 1``.

    Returns:
      :class:`Difficulty`; ``bits`` and ``log10_bits`` have the shape of ``eps``.

    Raises:
      ValueError: naming the argument, for ``eps <= 0`` (or not finite), ``n < 1``, ``m <= 0``,
        ``radius <= 0``, ``delta <= 0`` or ``n_classes < 2``.

    Example:
      >>> r = generalization_difficulty([0.1, 0.2], n=100, m=2, radius=1.0, delta=0.5, n_classes=2)
      >>> import math
      >>> math.isclose(r.bits[0] - r.bits[1], r.dim - 100)  # halving eps costs dim - n D bits
      True
    """
    eps_arr = np.asarray(eps, dtype=np.float64)
    if eps_arr.size == 0 or not np.all(np.isfinite(eps_arr)) or np.any(eps_arr <= 0):
        raise ValueError(f"eps={eps!r}: expected finite target errors > 0")
    n = check_float("n", n, 1.0)
    m = check_float("m", m, 0.0, strict=True)
    radius = check_float("radius", radius, 0.0, strict=True)
    delta = check_float("delta", delta, 0.0, strict=True)
    d = check_int("n_classes", n_classes, 2)
    D = d - 1

    M = 2.0 * math.pi * radius / delta
    K = max_degree(m, M)
    log_E = log_eigenfunction_count(m, K)
    log_dim = math.log(2.0 * D * d) + log_E
    dim = math.exp(log_dim) if log_dim < 709.0 else math.inf
    L_f = K * math.sqrt(D) / radius
    log_W = (0.5 * math.log(m / 6.0)
             + (math.log(2.0) + 0.5 * (m + 1.0) * math.log(math.pi) + math.log(d) - float(gammaln(0.5 * (m + 1.0)))) / m
             + math.log(radius) - math.log(n) / m)
    log2_W = log_W / _LOG2
    # dim - n D in log space: log(dim) + log1p(-n D / dim).
    ratio = n * D * math.exp(-log_dim)
    log2_free = (log_dim + math.log1p(-ratio)) / _LOG2 if ratio < 1.0 else math.nan
    bracket = 0.5 * math.log2(D) + 0.5 * math.log2(d) - np.log2(eps_arr) + math.log2(L_f) + log2_W  # log2 B = 0
    bits = (dim - n * D) * bracket if ratio < 1.0 else np.full_like(bracket, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        log10_bits = np.where((bracket > 0) & np.isfinite(log2_free),
                              (log2_free + np.log2(np.where(bracket > 0, bracket, 1.0))) * math.log10(2.0), np.nan)
    return Difficulty(bits=bits, log10_bits=log10_bits, K=K, log_E=log_E, dim=dim, log2_dim_free=log2_free,
                      L_f=L_f, log2_W=log2_W, M=M)
