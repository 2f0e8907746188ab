"""Lower tail of a generalized chi-square: ``P(Q <= eps)`` and ``I(eps) = -log2 P`` in bits.

``Q = sum_i w_i (z_i + b_i)^2 + c`` with weights ``w_i >= 0``, offsets ``b_i``, a constant ``c`` and
``z_i`` iid standard normal. This is the law of the test mean squared error of a Gaussian-process
posterior sample (Boopathy, Yue, Hwang, Iyer & Fiete, "Towards Exact Computation of Inductive
Bias", IJCAI 2024); ``I(eps)`` is the inductive bias, in bits, needed to reach test error ``eps``.
Terms with equal weights add up to one non-central chi-square ``w chi2_h(lambda)`` with ``h``
degrees of freedom and non-centrality ``lambda = sum b_i^2``, so :func:`gchisq` compresses the input
to ``(w_j, h_j, lambda_j)``; a term of weight 0 only adds ``w b^2 = 0`` and is dropped.

Its cumulant generating function, for real ``s < 1 / (2 max w)`` (and for complex ``s`` with that
real part), is

    K(s) = sum_j [ -(h_j / 2) log(1 - 2 s w_j) + lambda_j w_j s / (1 - 2 s w_j) ] + c s.

Methods, each returning a :class:`Tail` (bits, an error estimate in bits, a kind):

* ``"inversion"``: exact Laplace inversion ``P = (1 / 2 pi i) int exp(K(s) - s eps) / (-s) ds`` along the
  vertical line through the real saddle point of the integrand (Rice, SIAM J. Sci. Stat. Comput. 1980),
  in log space: ``log P = phi(s0) + log((1/pi) int_0^inf Re exp(phi(s0 + iy) - phi(s0)) dy)`` with
  ``phi(s) = K(s) - s eps - log(-s)``, so it reaches thousands of bits. Error: the quadrature's plus the rounding
  of ``phi(s0)``.
* ``"imhof"``: Imhof's (Biometrika 1961) integral ``P = 1/2 - (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du``,
  ``rho`` in log space; its absolute error (about 1e-12) makes it useful only where ``P`` is moderate.
* ``"saddlepoint"``: Lugannani & Rice (Adv. Appl. Prob. 1980), ``P ~ Phi(w) + phi(w) (1/w - 1/u)`` with
  ``K'(s) = eps``, ``w = sign(s) sqrt(2 (s eps - K(s)))``, ``u = s sqrt(K''(s))``; in the deep lower tail
  ``s -> -inf``, and ``log P = -w^2/2 - log(2 pi)/2 + log(Mills(w) + 1/w - 1/u)`` keeps the Mills-ratio
  term. Error estimate: the size of Daniels' (Int. Stat. Rev. 1987) second-order correction.
* ``"chernoff"``: ``P <= exp(min_{s<0} K(s) - s eps)``, a certified lower bound on the bits (kind ``"lower_bound"``).
* ``"monte_carlo"``: the fraction of ``n`` sampled ``Q`` at most ``eps``, with the binomial standard error
  and a Clopper-Pearson 95 % interval; ``inf`` bits with ``inf`` error when no sample reaches ``eps``.
* ``"ncx2_fit"``: the approach of the IJCAI 2024 paper's public code, for comparison only: one non-central
  chi-square (``df``, ``nc``, ``scale``; ``loc = 0``) fitted by maximum likelihood (``scipy.stats.ncx2.fit``)
  to ``n`` sampled ``Q``, then its CDF at ``eps`` (its saddlepoint where scipy's ``logcdf`` underflows).
  A model fit: its error is not estimated (``nan``).

:func:`lower_tail` runs several methods on a curve of ``eps``, flags those that disagree beyond their
errors and recommends one value per ``eps``.

>>> import numpy as np
>>> from jaxbias.theory.gchisq import lower_tail
>>> report = lower_tail(np.full(20, 0.05), np.zeros(20), 0.2, methods=("inversion", "saddlepoint", "chernoff"))
>>> report.recommended[0], bool(abs(report.bits[0, 0] - report.bits[0, 1]) < 0.05)
('inversion', True)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np
from scipy import integrate, optimize, special, stats

__all__ = [
    "GChiSq",
    "Tail",
    "TailReport",
    "METHODS",
    "DEFAULT_METHODS",
    "gchisq",
    "cgf",
    "mean",
    "saddle_point",
    "inversion",
    "imhof",
    "saddlepoint",
    "chernoff",
    "sample",
    "monte_carlo",
    "ncx2_fit",
    "lower_tail",
]

METHODS = ("inversion", "imhof", "saddlepoint", "chernoff", "monte_carlo", "ncx2_fit")
"""Every lower-tail method, by name: the functions of this module of the same names."""
DEFAULT_METHODS = ("inversion", "imhof", "saddlepoint", "chernoff", "monte_carlo", "ncx2_fit")
"""Every lower-tail method, by name: the functions of this module of the same names."""
"""The methods :func:`lower_tail` runs unless told otherwise (all of them)."""
LN2 = math.log(2.0)
_IMHOF_FLOOR = math.log(1e-12)  # Imhof is run only where the Chernoff bound allows P >= 1e-12
_PREFERENCE = ("inversion", "imhof", "saddlepoint", "monte_carlo")  # estimates, most exact first


class GChiSq(NamedTuple):
    """``Q = sum_j w_j chi2_{h_j}(lambda_j) + c``: weights ``w (J,) > 0`` (distinct), degrees of freedom
    ``h (J,) > 0``, non-centralities ``lam (J,) >= 0``, constant ``c`` (float64)."""

    w: np.ndarray
    h: np.ndarray
    lam: np.ndarray
    c: float


class Tail(NamedTuple):
    """One method's lower tail on a curve of ``eps`` (arrays of shape ``(m,)``).

    ``bits = -log2 P(Q <= eps)``; ``error``: one standard error (Monte Carlo) or the numerical error
    estimate, in bits (0 for a certified bound, ``nan`` when not estimated, ``inf`` when unresolved);
    ``interval (m, 2)``: a range for the bits (Monte Carlo: Clopper-Pearson 95 %; a bound: ``[bits, inf]``;
    otherwise ``bits -+ 2 error``); ``kind``: ``"estimate"``, ``"lower_bound"`` (on the bits) or
    ``"reference"`` (a model fit, for comparison).
    """

    method: str
    epsilon: np.ndarray
    bits: np.ndarray
    error: np.ndarray
    interval: np.ndarray
    kind: str
    note: str


class TailReport(NamedTuple):
    """:func:`lower_tail`'s result: ``bits``, ``error`` ``(m, n_methods)``; ``disagree (m, n_methods)``: the
    method's value is inconsistent with the recommended one beyond their errors (a bound: violated);
    ``recommended (m,)``: the method chosen per ``eps``, ``recommended_bits``/``recommended_error (m,)``."""

    epsilon: np.ndarray
    methods: tuple
    tails: tuple
    bits: np.ndarray
    error: np.ndarray
    disagree: np.ndarray
    recommended: tuple
    recommended_bits: np.ndarray
    recommended_error: np.ndarray


def _array(name: str, value: Any, ndim: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim not in ndim:
        raise ValueError(f"{name} with shape {a.shape}: expected {' or '.join(f'{d}-D' for d in ndim)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has {int(np.sum(~np.isfinite(a)))} non-finite entries: expected finite values")
    return a


def gchisq(weights: Any, offsets: Any = None, c: float = 0.0) -> GChiSq:
    """Compress ``Q = sum_i w_i sum_o (z_io + b_io)^2 + c`` to distinct weights.

    Args:
      weights: ``(n,)`` non-negative weights.
      offsets: ``(n,)`` offsets (one term per weight) or ``(n, k)`` (weight ``i`` applies to ``k`` terms,
        e.g. ``k`` outputs sharing a posterior covariance); None for zeros.
      c: constant added to ``Q``.

    Returns:
      :class:`GChiSq` with one entry per distinct positive weight (``h`` = its number of terms,
      ``lam`` = the sum of their squared offsets).
    """
    w = _array("weights", weights, (1,))
    b = np.zeros_like(w) if offsets is None else _array("offsets", offsets, (1, 2))
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"offsets with shape {b.shape}: expected ({w.shape[0]},) or ({w.shape[0]}, k) "
                         "to match weights")
    if np.any(w < 0):
        raise ValueError(f"weights has minimum {w.min()!r}: expected weights >= 0")
    c = float(c)
    if not math.isfinite(c):
        raise ValueError(f"c={c!r}: expected a finite number")
    k = 1 if b.ndim == 1 else b.shape[1]
    lam = b ** 2 if b.ndim == 1 else np.sum(b ** 2, axis=1)
    keep = w > 0
    uw, inverse = np.unique(w[keep], return_inverse=True)
    h = np.bincount(inverse, minlength=uw.size).astype(np.float64) * k
    ul = np.bincount(inverse, weights=lam[keep], minlength=uw.size)
    return GChiSq(uw, h, ul, c)


def _check_dist(q: GChiSq) -> GChiSq:
    if not isinstance(q, GChiSq):
        raise ValueError(f"q={type(q).__name__}: expected a GChiSq (build one with gchisq(weights, offsets, c))")
    return q


def _epsilon(epsilon: Any) -> np.ndarray:
    e = np.atleast_1d(np.asarray(epsilon, dtype=np.float64))
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"epsilon with shape {np.shape(epsilon)}: expected a number or a non-empty 1-D array")
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(f"epsilon={epsilon!r}: expected finite values > 0")
    return e


def mean(q: GChiSq) -> float:
    """``E[Q] = K'(0) = sum_j w_j (h_j + lambda_j) + c``."""
    return float(np.sum(q.w * (q.h + q.lam)) + q.c)


def cgf(q: GChiSq, s: Any, order: int = 0) -> np.ndarray:
    """``K(s)`` (``order=0``) or its derivative of that order (0..4), for real ``s < 1/(2 max w)``.

    ``K^(r)(s) = sum_j (h_j/2) (r-1)! (2 w_j)^r / a_j^r + lambda_j w_j^r 2^(r-1) r! / a_j^(r+1)`` (``r >= 1``),
    ``a_j = 1 - 2 s w_j``, plus ``c`` for ``r = 1``.
    """
    s = np.asarray(s, dtype=np.float64)
    a = 1.0 - 2.0 * s[..., None] * q.w
    if order == 0:
        return np.sum(-0.5 * q.h * np.log(a) + q.lam * q.w * s[..., None] / a, axis=-1) + q.c * s
    r = order
    out = np.sum(0.5 * q.h * math.factorial(r - 1) * (2 * q.w / a) ** r
                 + q.lam * (q.w / a) ** r * 2.0 ** (r - 1) * math.factorial(r) / a, axis=-1)
    return out + (q.c if r == 1 else 0.0)


def _solve_negative(f, start: float) -> float:
    """Root of a decreasing ``f(u)`` (``s = -exp(u)``), bracketed outward from ``start``."""
    lo, hi = start - 1.0, start + 1.0
    while f(lo) <= 0:
        lo -= 4.0
        if lo < start - 800:
            raise ArithmeticError("saddle point not bracketed (s -> 0)")
    while f(hi) >= 0:
        hi += 4.0
        if hi > start + 800:
            raise ArithmeticError("saddle point not bracketed (s -> -inf)")
    return optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)


def saddle_point(q: GChiSq, x: float, log_term: bool = False) -> float:
    """The real ``s`` with ``K'(s) = x`` (``log_term``: with ``K'(s) - 1/s = x``, the minimum of
    ``K(s) - s x - log(-s)`` over ``s < 0``). Requires ``x > c``; ``s < 0`` below the mean (always with
    ``log_term``)."""
    q = _check_dist(q)
    if not x > q.c:
        raise ValueError(f"x={x!r}: expected x > c = {q.c!r} (Q >= c)")
    if q.w.size == 0:
        raise ValueError("q has no positive weight: Q = c is deterministic")
    wmax = float(q.w.max())
    start = -math.log(2.0 * wmax)
    if log_term:
        return -math.exp(_solve_negative(lambda u: float(cgf(q, -math.exp(u), 1)) + math.exp(-u) - x, start))
    if x < mean(q):
        return -math.exp(_solve_negative(lambda u: float(cgf(q, -math.exp(u), 1)) - x, start))
    if x == mean(q):
        return 0.0
    top = 0.5 / wmax
    hi = top * (1 - 1e-12)
    while float(cgf(q, hi, 1)) < x:  # K' -> inf at the pole (a weight with h >= 1)
        hi = top - (top - hi) * 1e-3
        if top - hi <= top * 1e-300:
            raise ArithmeticError(f"saddle point for x={x!r} not bracketed below the pole 1/(2 max w)")
    return optimize.brentq(lambda s: float(cgf(q, s, 1)) - x, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps)


def _interval(bits: np.ndarray, error: np.ndarray) -> np.ndarray:
    return np.stack([bits - 2 * error, bits + 2 * error], axis=-1)


def _empty(q: GChiSq) -> bool:
    return q.w.size == 0


def chernoff(q: GChiSq, epsilon: Any) -> Tail:
    """Certified lower bound on the bits: ``P(Q <= eps) <= exp(K(s) - s eps)`` for every ``s < 0``; taken at the
    saddle point ``K'(s) = eps``."""
    q, e = _check_dist(q), _epsilon(epsilon)
    bits = np.empty_like(e)
    m = mean(q)
    for i, x in enumerate(e):
        if x <= q.c:
            bits[i] = np.inf
        elif _empty(q) or x >= m:
            bits[i] = 0.0
        else:
            s = saddle_point(q, x)
            bits[i] = max(0.0, -(float(cgf(q, s)) - s * x) / LN2)
    return Tail("chernoff", e, bits, np.zeros_like(e), np.stack([bits, np.full_like(e, np.inf)], -1),
                "lower_bound", "P <= exp(min_{s<0} K(s) - s eps): bits >= value")


def _log_mills(t: float) -> float:
    """``log(Phi(t) / phi(t))``."""
    return math.log(math.sqrt(math.pi / 2) * special.erfcx(-t / math.sqrt(2)))


def _saddle_one(q: GChiSq, x: float) -> tuple[float, float]:
    """(log P first order, log P second order) by Lugannani-Rice."""
    s = saddle_point(q, x)
    k2 = float(cgf(q, s, 2))
    if abs(s) * math.sqrt(k2) < 1e-4:  # near the mean, where the formula is 0/0: interpolate from either side
        step = 1e-2 * math.sqrt(float(cgf(q, 0.0, 2)))  # |u| ~ 1e-2
        lo, hi = _saddle_one(q, x - step), _saddle_one(q, x + step)
        return 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])
    half_w2 = max(s * x - float(cgf(q, s)), 0.0)  # w^2 / 2
    w = math.copysign(math.sqrt(2 * half_w2), s)
    u = s * math.sqrt(k2)
    l3 = float(cgf(q, s, 3)) / k2 ** 1.5
    l4 = float(cgf(q, s, 4)) / k2 ** 2
    second = -((1 / u) * (l4 / 8 - 5 * l3 ** 2 / 24) - l3 / (2 * u ** 2) - 1 / u ** 3 + 1 / w ** 3)
    log_phi = -half_w2 - 0.5 * math.log(2 * math.pi)
    if w < 0:  # P = phi(w) (Mills + 1/w - 1/u): the log of the bracket
        bracket = math.exp(_log_mills(w)) + 1 / w - 1 / u
        first = log_phi + math.log(bracket) if bracket > 0 else -math.inf
        both = bracket + second
        return first, (log_phi + math.log(both) if both > 0 else -math.inf)
    p1 = special.ndtr(w) + math.exp(log_phi) * (1 / w - 1 / u)
    p2 = p1 + math.exp(log_phi) * second
    return (math.log(p1) if p1 > 0 else -math.inf), (math.log(p2) if p2 > 0 else -math.inf)


def saddlepoint(q: GChiSq, epsilon: Any) -> Tail:
    """Lugannani-Rice saddlepoint approximation of the bits; error: Daniels' second-order correction, in bits."""
    q, e = _check_dist(q), _epsilon(epsilon)
    bits, err = np.empty_like(e), np.empty_like(e)
    for i, x in enumerate(e):
        if x <= q.c:
            bits[i], err[i] = np.inf, 0.0
        elif _empty(q):
            bits[i], err[i] = 0.0, 0.0
        else:
            first, second = _saddle_one(q, x)
            bits[i] = -first / LN2
            err[i] = abs(first - second) / LN2 if math.isfinite(second) else np.inf
    return Tail("saddlepoint", e, bits, err, _interval(bits, err), "estimate",
                "Lugannani-Rice 1980; error: size of Daniels 1987's second-order term")


def _oscillatory(g, freq: float, split: float) -> tuple[float, float]:
    """``int_0^inf Re[g(t) exp(-i freq t)] dt`` and its error: ``quad`` on ``[0, split]``, then QUADPACK's QAWF
    (Fourier integrals) on ``[split, inf)``, where ``g`` no longer oscillates."""
    def f(t):
        return (g(t) * complex(math.cos(freq * t), -math.sin(freq * t))).real

    i1, e1 = integrate.quad(f, 0.0, split, limit=400, epsabs=1e-15, epsrel=1e-12)
    if freq == 0.0:
        i2, e2 = integrate.quad(f, split, np.inf, limit=800, epsabs=1e-15, epsrel=1e-12)
        return i1 + i2, e1 + e2
    sgn = math.copysign(1.0, freq)
    fa = abs(freq)
    ic, ec = integrate.quad(lambda t: g(t).real, split, np.inf, weight="cos", wvar=fa, limlst=200, epsabs=1e-15)
    is_, es = integrate.quad(lambda t: g(t).imag, split, np.inf, weight="sin", wvar=fa, limlst=200, epsabs=1e-15)
    return i1 + ic + sgn * is_, e1 + ec + es


def _inversion_one(q: GChiSq, x: float) -> tuple[float, float]:
    """(log P, error of log P) by the saddle-point contour."""
    s0 = saddle_point(q, x, log_term=True)
    a0 = 1.0 - 2.0 * s0 * q.w
    phi0 = float(cgf(q, s0)) - s0 * x - math.log(-s0)
    sigma = 1.0 / math.sqrt(float(cgf(q, s0, 2)) + 1.0 / s0 ** 2)
    gw = 2.0 * q.w / a0
    nc = q.lam * q.w / a0 ** 2

    def g(t):  # exp(phi(s0 + i sigma t) - phi(s0)) without the oscillation exp(-i sigma t (x - c))
        y = sigma * t
        r = 1.0 - 1j * y * gw
        return np.exp(np.sum(-0.5 * q.h * np.log(r) + 1j * y * nc / r) - np.log(1.0 + 1j * y / s0))

    freq = sigma * (x - q.c)
    j, err = _oscillatory(g, freq, max(8.0, min(8 * math.pi / max(freq, 1e-300), 1e4)))
    j, err = sigma * j / math.pi, sigma * err / math.pi
    if j <= 0:
        return -math.inf, math.inf
    rounding = 8 * np.finfo(float).eps * (abs(phi0) + abs(s0 * x) + float(np.sum(np.abs(0.5 * q.h * np.log(a0)))))
    return phi0 + math.log(j), err / j + rounding


def inversion(q: GChiSq, epsilon: Any) -> Tail:
    """Exact numerical inversion along the line through the saddle point (module docstring), in log space."""
    q, e = _check_dist(q), _epsilon(epsilon)
    bits, err = np.empty_like(e), np.empty_like(e)
    for i, x in enumerate(e):
        if x <= q.c:
            bits[i], err[i] = np.inf, 0.0
        elif _empty(q):
            bits[i], err[i] = 0.0, 0.0
        else:
            log_p, log_err = _inversion_one(q, x)
            bits[i], err[i] = -log_p / LN2, log_err / LN2
    return Tail("inversion", e, bits, err, _interval(bits, err), "estimate",
                "Laplace inversion through the saddle point (Rice 1980); error: quadrature's plus rounding of log P")


def imhof(q: GChiSq, epsilon: Any) -> Tail:
    """Imhof's 1961 integral; its absolute error (about 1e-14) makes it ``inf`` error once ``P`` falls near it, and it
    is not run (``nan`` bits, ``inf`` error) where the Chernoff bound puts ``P`` below 1e-12."""
    q, e = _check_dist(q), _epsilon(epsilon)
    bits, err = np.empty_like(e), np.empty_like(e)
    for i, x in enumerate(e):
        if x <= q.c:
            bits[i], err[i] = np.inf, 0.0
            continue
        if _empty(q):
            bits[i], err[i] = 0.0, 0.0
            continue
        xx = x - q.c
        if x < mean(q):
            s = saddle_point(q, x)
            if float(cgf(q, s)) - s * x < _IMHOF_FLOOR:  # Chernoff: P below Imhof's absolute error; not run
                bits[i], err[i] = np.nan, np.inf
                continue

        def g(u):  # i exp(-i theta0(u)) / (u rho(u)), theta = theta0 - (x - c) u / 2; its limit at u = 0
            if u == 0:
                return complex(0.5 * (mean(q) - x), 0.0)
            wu = q.w * u
            theta0 = 0.5 * np.sum(q.h * np.arctan(wu) + q.lam * wu / (1 + wu ** 2))
            log_rho = np.sum(0.25 * q.h * np.log1p(wu ** 2) + 0.5 * q.lam * wu ** 2 / (1 + wu ** 2))
            return 1j * np.exp(-log_rho - 1j * theta0) / u

        scale = 1.0 / float(q.w.max())  # sin(theta) / (u rho) = Re[g(u) exp(i (x - c) u / 2)]
        integral, ierr = _oscillatory(lambda t: g(scale * t), -0.5 * xx * scale, 20.0)
        p = 0.5 - scale * integral / math.pi
        perr = scale * ierr / math.pi + 1e-15
        if p <= perr:
            bits[i], err[i] = (-math.log2(p) if p > 0 else np.inf), np.inf
        else:
            bits[i], err[i] = -math.log2(p), perr / (p * LN2)
    return Tail("imhof", e, bits, err, _interval(bits, err), "estimate",
                "Imhof 1961; error: quadrature's absolute error over P; not run (nan) where P < 1e-12 by Chernoff")


def sample(q: GChiSq, n: int, seed: int = 0) -> np.ndarray:
    """``n`` draws of ``Q`` ``(n,)`` (numpy ``default_rng(seed)``; one non-central chi-square per distinct weight)."""
    q = _check_dist(q)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r}: expected an integer >= 1")
    rng = np.random.default_rng(seed)
    out = np.full(int(n), q.c)
    chunk = max(1, 2_000_000 // max(q.w.size, 1))
    for start in range(0, int(n), chunk):
        m = min(chunk, int(n) - start)
        if q.w.size:
            out[start:start + m] += rng.noncentral_chisquare(q.h, np.maximum(q.lam, 1e-300), size=(m, q.w.size)) @ q.w
    return out


def monte_carlo(q: GChiSq, epsilon: Any, n: int = 10_000, seed: int = 0, samples: np.ndarray | None = None) -> Tail:
    """Fraction of ``n`` sampled ``Q`` at most ``eps``; error: binomial standard error in bits; interval:
    Clopper-Pearson 95 %."""
    q, e = _check_dist(q), _epsilon(epsilon)
    draws = sample(q, n, seed) if samples is None else np.asarray(samples, dtype=np.float64)
    n = draws.size
    count = np.searchsorted(np.sort(draws), e, side="right").astype(np.float64)
    p = count / n
    with np.errstate(divide="ignore", invalid="ignore"):
        bits = -np.log2(p)
        err = np.where(count > 0, np.sqrt((1 - p) / (n * p)) / LN2, np.inf)
        lo_p = np.where(count > 0, stats.beta.ppf(0.025, count, n - count + 1), 0.0)
        hi_p = np.where(count < n, stats.beta.ppf(0.975, count + 1, n - count), 1.0)
        interval = np.stack([-np.log2(hi_p), -np.log2(lo_p)], axis=-1)
    return Tail("monte_carlo", e, bits, err, interval, "estimate",
                f"{n} samples; error: binomial standard error; interval: Clopper-Pearson 95%")


def ncx2_fit(q: GChiSq, epsilon: Any, n: int = 10_000, seed: int = 0, samples: np.ndarray | None = None) -> Tail:
    """The reference code's approach (comparison only): one ``ncx2(df, nc, loc=0, scale)`` fitted by maximum likelihood
    to ``n`` samples of ``Q``, evaluated at ``eps``."""
    q, e = _check_dist(q), _epsilon(epsilon)
    draws = sample(q, n, seed) if samples is None else np.asarray(samples, dtype=np.float64)
    df, nc, _, scale = stats.ncx2.fit(draws, floc=0)
    log_p = np.asarray(stats.ncx2.logcdf(e, df, nc, loc=0, scale=scale), dtype=np.float64)
    fitted = GChiSq(np.array([scale]), np.array([df]), np.array([nc]), 0.0)
    for i in np.flatnonzero(~np.isfinite(log_p)):  # scipy underflows: the fitted law's own saddlepoint
        log_p[i] = -saddlepoint(fitted, e[i]).bits[0] * LN2
    bits = -log_p / LN2
    err = np.full_like(e, np.nan)
    return Tail("ncx2_fit", e, bits, err, np.full((e.size, 2), np.nan), "reference",
                f"ML fit ncx2(df={df:.6g}, nc={nc:.6g}, scale={scale:.6g}) to {draws.size} samples; "
                "error not estimated")


def _disagree(tail: Tail, rec_bits: np.ndarray, rec_err: np.ndarray, z: float) -> np.ndarray:
    b, err = tail.bits, np.nan_to_num(tail.error, nan=0.0)
    atol = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(rec_bits), rec_bits, 0.0)))
    with np.errstate(invalid="ignore", over="ignore"):  # unbounded errors are masked below
        if tail.kind == "lower_bound":
            out = rec_bits + z * rec_err + atol < b
        else:
            out = np.abs(b - rec_bits) > z * np.hypot(err, rec_err) + atol
    both_inf = np.isinf(b) & np.isinf(rec_bits)
    return np.where(np.isfinite(err) & np.isfinite(rec_err) & ~both_inf, out, False)


def lower_tail(weights: Any, offsets: Any = None, epsilon: Any = None, c: float = 0.0, *,
               methods: Sequence[str] = DEFAULT_METHODS, n_samples: int = 10_000, seed: int = 0,
               z: float = 3.0) -> TailReport:
    """``I(eps) = -log2 P(Q <= eps)`` by several methods, with flags and a recommendation per ``eps``.

    Args:
      weights, offsets, c: as in :func:`gchisq` (a :class:`GChiSq` may be passed as ``weights``, then
        ``offsets`` must be None and ``c`` is ignored).
      epsilon: a number or a 1-D array, each > 0.
      methods: names from :data:`METHODS`.
      n_samples, seed: draws shared by ``"monte_carlo"`` and ``"ncx2_fit"``.
      z: disagreement threshold in combined error units.

    Returns:
      :class:`TailReport`. The recommended value per ``eps`` is the estimate (not a bound, not the
      reference fit) with the smallest finite error, ties broken in the order inversion, imhof,
      saddlepoint, monte_carlo; ``eps <= c`` gives ``inf`` bits (``P = 0``).

    Example:
      >>> import numpy as np
      >>> r = lower_tail([1.0, 0.5], [0.3, -0.2], [0.5, 1.0], methods=("inversion", "chernoff"))
      >>> r.recommended, bool(np.all(r.bits[:, 1] <= r.bits[:, 0]))
      (('inversion', 'inversion'), True)
    """
    if isinstance(weights, GChiSq):
        if offsets is not None:
            raise ValueError("offsets must be None when weights is a GChiSq")
        q = weights
    else:
        q = gchisq(weights, offsets, c)
    if epsilon is None:
        raise ValueError("epsilon=None: expected a number or a 1-D array of values > 0")
    e = _epsilon(epsilon)
    methods = tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods={methods!r}: expected a non-empty sequence from {METHODS}")
    draws = sample(q, n_samples, seed) if {"monte_carlo", "ncx2_fit"} & set(methods) else None
    run = {"inversion": lambda: inversion(q, e), "imhof": lambda: imhof(q, e),
           "saddlepoint": lambda: saddlepoint(q, e), "chernoff": lambda: chernoff(q, e),
           "monte_carlo": lambda: monte_carlo(q, e, samples=draws),
           "ncx2_fit": lambda: ncx2_fit(q, e, samples=draws)}
    tails = tuple(run[m]() for m in methods)
    bits = np.stack([t.bits for t in tails], axis=1)
    error = np.stack([t.error for t in tails], axis=1)
    rec, rec_bits, rec_err = [], np.full(e.size, np.nan), np.full(e.size, np.inf)
    for i in range(e.size):
        best = None
        for name in _PREFERENCE:
            if name in methods:
                j = methods.index(name)
                if math.isfinite(error[i, j]) and (best is None or error[i, j] < error[i, best]):
                    best = j
        if best is None:  # nothing resolved: the certified bound, if any
            best = methods.index("chernoff") if "chernoff" in methods else 0
        rec.append(methods[best])
        rec_bits[i], rec_err[i] = bits[i, best], error[i, best]
    disagree = np.stack([_disagree(t, rec_bits, rec_err, z) for t in tails], axis=1)
    return TailReport(e, methods, tails, bits, error, disagree, tuple(rec), rec_bits, rec_err)
