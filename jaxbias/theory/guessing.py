"""Theory of initial guessing bias (IGB): the law of ``G_0``, estimators, and a KS check.

Francazi, Lucchi & Baity-Jesi, "Initial Guessing Bias: How Untrained Networks Favor Some Classes"
(ICML 2024); definitions in ../shared/SCIENCE.md section 2. Over the inputs, the output of one
network ``chi`` is ``N(mu_chi, sigma^2)``; over networks ``mu_chi ~ N(0, gamma sigma^2)``. The
fraction of inputs sent to class 0 is then ``G_0 = Phi(z)``, ``z ~ N(0, gamma)`` (``n_points`` ->
infinity), with

* cdf ``F(g) = Phi(Phi^-1(g) / sqrt(gamma))``, pdf ``phi(t / sqrt(gamma)) / (sqrt(gamma) phi(t))``,
  ``t = Phi^-1(g)``;
* ``Var(G_0) = arcsin(gamma / (1 + gamma)) / (2 pi)``; two classes: ``E[max G] = 1/2 + arctan(sqrt(gamma)) / pi``;
* ``k`` classes: outputs are independent unit Gaussians with iid centres ``mu_j ~ N(0, gamma)``,
  ``G_k = int phi(t - mu_k) prod_(j != k) Phi(t - mu_j) dt``; expectations over the centres are
  taken by numerical integration (scrambled Sobol points for the centres, Gauss-Hermite in ``t``).

With ``n_points`` iid inputs the count of class 0 given the network is exactly binomial, so the
finite-``n`` law of the measured ``G_0`` is a binomial mixture (used by :func:`ks_test` and
:func:`g0_var`). ``gamma`` itself is predicted from the NNGP recursion by :func:`predict_gamma`.
All functions here work in float64 on the host (numpy and scipy).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np
from scipy import integrate, special, stats
from scipy.stats import qmc

__all__ = [
    "gamma_from_kernel",
    "g0_cdf",
    "g0_pdf",
    "g0_var",
    "expected_max_fraction",
    "fractions_given_centres",
    "Estimate",
    "estimate_gamma",
    "estimate_g0_var",
    "estimate_max_fraction",
    "ks_test",
    "KSResult",
]


def _check_gamma(gamma: Any, name: str = "gamma", allow_inf: bool = True) -> float:
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={gamma!r}: expected a non-negative number") from None
    if math.isnan(value) or value < 0 or (not allow_inf and math.isinf(value)):
        expected = "a non-negative number" + ("" if allow_inf else " (finite)")
        raise ValueError(f"{name}={gamma!r}: expected {expected}")
    return value


def _check_n_points(n_points: Any) -> int | None:
    if n_points is None:
        return None
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points={n_points!r}: expected None or a positive integer number of inputs")
    return int(n_points)


def gamma_from_kernel(q_aa: Any, q_ab: Any) -> np.ndarray:
    """``gamma = q_ab / (q_aa - q_ab)`` (mean-field link, SCIENCE.md section 2).

    Args:
      q_aa: output variance on one input (array-like).
      q_ab: output covariance of two independent inputs of the data distribution.

    Returns:
      float64 array of ``gamma`` (``inf`` where ``q_ab == q_aa``: every input gets the same output law).

    Raises:
      ValueError: ``q_ab > q_aa`` or ``q_aa <= 0`` (not a covariance).
    """
    q_aa = np.asarray(q_aa, np.float64)
    q_ab = np.asarray(q_ab, np.float64)
    if np.any(~np.isfinite(q_aa)) or np.any(q_aa <= 0):
        raise ValueError(f"q_aa={q_aa!r}: expected positive finite variances")
    # q_ab may exceed q_aa by rounding when the correlation is ~1: allow a relative slack.
    if np.any(q_ab > q_aa * (1 + 1e-6)) or np.any(~np.isfinite(q_ab)):
        raise ValueError(f"q_ab={q_ab!r}, q_aa={q_aa!r}: expected finite q_ab <= q_aa (a covariance)")
    gap = np.maximum(q_aa - q_ab, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > 0, q_ab / np.where(gap > 0, gap, 1.0), np.inf)


def g0_cdf(g: Any, gamma: float) -> np.ndarray:
    """Cdf of ``G_0`` for ``n_points -> inf``: ``Phi(Phi^-1(g) / sqrt(gamma))``.

    ``gamma = 0``: all mass at 1/2; ``gamma = inf``: half at 0 and half at 1.

    Args:
      g: fractions in ``[0, 1]`` (array-like).
      gamma: IGB strength ``>= 0`` (``inf`` allowed).
    """
    gamma = _check_gamma(gamma)
    g = np.asarray(g, np.float64)
    if gamma == 0:
        return np.where(g >= 0.5, 1.0, 0.0)
    if math.isinf(gamma):
        return np.where(g >= 1, 1.0, np.where(g >= 0, 0.5, 0.0))
    t = special.ndtri(np.clip(g, 0.0, 1.0))
    return np.where(g < 0, 0.0, np.where(g > 1, 1.0, special.ndtr(t / math.sqrt(gamma))))


def g0_pdf(g: Any, gamma: float) -> np.ndarray:
    """Density of ``G_0`` for ``n_points -> inf``: ``phi(t / sqrt(gamma)) / (sqrt(gamma) phi(t))``, ``t = Phi^-1(g)``.

    Unimodal at 1/2 for ``gamma < 1``, uniform at ``gamma = 1``, U-shaped for ``gamma > 1``.

    Args:
      g: fractions (array-like); the density is 0 outside ``(0, 1)``.
      gamma: IGB strength, positive and finite (at 0 and inf the law has atoms, no density).
    """
    gamma = _check_gamma(gamma, allow_inf=False)
    if gamma == 0:
        raise ValueError("gamma=0.0: G_0 is the constant 1/2 and has no density; use g0_cdf")
    g = np.asarray(g, np.float64)
    inside = (g > 0) & (g < 1)
    t = special.ndtri(np.where(inside, g, 0.5))
    # log-space: phi(t/s)/phi(t) = exp(t^2 (1 - 1/gamma) / 2) / s
    log_pdf = 0.5 * t * t * (1.0 - 1.0 / gamma) - 0.5 * math.log(gamma)
    return np.where(inside, np.exp(log_pdf), 0.0)


# -- multi-class integrals -------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _hermite(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite rule: nodes s and weights w with sum w f(s) ~ E f(N(0, 1))."""
    s, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    return s, w / math.sqrt(2.0 * math.pi)


def fractions_given_centres(mu: Any, n_nodes: int = 96) -> np.ndarray:
    """Class fractions ``G_k = int phi(t - mu_k) prod_(j != k) Phi(t - mu_j) dt`` for unit-variance outputs.

    Writing ``t = mu_k + s``, ``G_k = E_s[prod_(j != k) Phi(s + mu_k - mu_j)]``, ``s ~ N(0, 1)``,
    taken with ``n_nodes`` Gauss-Hermite nodes (the integrand is smooth on the scale of 1).

    Args:
      mu: centres ``(..., k)`` in units of the output standard deviation, ``k >= 2``.
      n_nodes: Gauss-Hermite nodes.

    Returns:
      ``(..., k)`` fractions (each row sums to 1 up to quadrature error).
    """
    mu = np.asarray(mu, np.float64)
    if mu.ndim < 1 or mu.shape[-1] < 2:
        raise ValueError(f"mu with shape {mu.shape}: expected centres (..., k) with k >= 2")
    s, w = _hermite(n_nodes)
    diff = mu[..., :, None] - mu[..., None, :]  # (..., k, j): mu_k - mu_j
    log_cdf = special.log_ndtr(s[:, None, None] + diff[..., None, :, :])  # (..., nodes, k, j)
    k = mu.shape[-1]
    log_cdf = log_cdf * (1.0 - np.eye(k))  # drop j == k
    return np.einsum("...nk,n->...k", np.exp(log_cdf.sum(axis=-1)), w)


def _centres(gamma: float, n_classes: int, n_samples: int, seed: int) -> np.ndarray:
    """Scrambled Sobol points mapped to iid ``N(0, gamma)`` centres, ``(n_samples, n_classes)``."""
    u = qmc.Sobol(n_classes, scramble=True, seed=seed).random(n_samples)
    return math.sqrt(gamma) * special.ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def _multiclass_moments(gamma: float, n_classes: int, n_samples: int, seed: int) -> tuple[float, float]:
    """``(E[max G], Var(G_0))`` for ``n_classes`` classes by numerical integration over the centres."""
    if gamma == 0:
        return 1.0 / n_classes, 0.0
    mu = _centres(gamma, n_classes, n_samples, seed)
    fr = np.concatenate([fractions_given_centres(c) for c in np.array_split(mu, max(1, n_samples // 512))])
    return float(fr.max(axis=1).mean()), float(np.mean(np.square(fr - 1.0 / n_classes)))


def _check_classes(n_classes: Any) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes={n_classes!r}: expected an integer >= 2")
    return int(n_classes)


def g0_var(gamma: float, n_classes: int = 2, n_points: int | None = None, *, n_samples: int = 2**13,
           seed: int = 0) -> float:
    """Predicted ``Var(G_0)`` (the IGB strength that does not self-average).

    Two classes: ``arcsin(gamma / (1 + gamma)) / (2 pi)`` (closed form). More classes: numerical
    integration over the centres (``n_samples`` scrambled Sobol points, fixed ``seed``; the error
    is about ``1e-4``). With ``n_points`` inputs the measured fraction adds binomial noise:
    ``Var(G_0) + E[G_0 (1 - G_0)] / n_points``.

    Args:
      gamma: IGB strength ``>= 0`` (``inf`` allowed for two classes).
      n_classes: number of classes.
      n_points: number of inputs per network; None for the ``n_points -> inf`` limit.
    """
    gamma = _check_gamma(gamma, allow_inf=_check_classes(n_classes) == 2)
    n_points = _check_n_points(n_points)
    if n_classes == 2:
        var = 0.25 if math.isinf(gamma) else math.asin(gamma / (1.0 + gamma)) / (2.0 * math.pi)
    else:
        var = _multiclass_moments(gamma, n_classes, n_samples, seed)[1]
    if n_points is None:
        return var
    mean = 1.0 / n_classes
    return var + (mean * (1 - mean) - var) / n_points


def expected_max_fraction(gamma: float, n_classes: int = 2, *, n_samples: int = 2**13, seed: int = 0) -> float:
    """Predicted ``E[max_i G_i]`` for ``n_points -> inf``.

    Two classes: ``1/2 + arctan(sqrt(gamma)) / pi`` (closed form). More classes: numerical
    integration over the iid ``N(0, gamma)`` centres (scrambled Sobol, fixed ``seed``) of the
    Gauss-Hermite fractions :func:`fractions_given_centres`.
    """
    gamma = _check_gamma(gamma, allow_inf=_check_classes(n_classes) == 2)
    if n_classes == 2:
        return 0.5 + math.atan(math.sqrt(gamma)) / math.pi if not math.isinf(gamma) else 1.0
    return _multiclass_moments(gamma, n_classes, n_samples, seed)[0]


# -- estimators ------------------------------------------------------------------------------


class Estimate(NamedTuple):
    """A statistic over networks with a bootstrap confidence interval.

    Attributes:
      value: the estimate on all networks.
      low, high: percentile bootstrap interval at ``level``.
      stderr: bootstrap standard error.
      n_nets: networks used.
      level: confidence level of ``[low, high]``.
    """

    value: float
    low: float
    high: float
    stderr: float
    n_nets: int
    level: float


def _bootstrap(stat, arrays: tuple[np.ndarray, ...], n_boot: int, level: float, seed: int) -> Estimate:
    """Percentile bootstrap over the leading (network) axis of ``arrays``."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot={n_boot!r}: expected a non-negative integer")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: expected a confidence level in (0, 1)")
    n = arrays[0].shape[0]
    value = float(stat(*arrays))
    if n_boot == 0 or n < 2:
        return Estimate(value, math.nan, math.nan, math.nan, n, level)
    rng = np.random.default_rng(seed)
    block = max(1, 2**22 // n)
    reps = []
    for start in range(0, n_boot, block):
        idx = rng.integers(0, n, size=(min(block, n_boot - start), n))
        reps.append(stat(*(a[idx] for a in arrays)))
    reps = np.concatenate([np.atleast_1d(r) for r in reps])
    finite = reps[np.isfinite(reps)]
    alpha = (1 - level) / 2
    if finite.size < reps.size:
        low = float(np.quantile(reps, alpha, method="inverted_cdf")) if np.isfinite(value) else math.inf
        return Estimate(value, low, math.inf, math.inf, n, level)
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return Estimate(value, float(low), float(high), float(np.std(finite, ddof=1)), n, level)


def _per_net(name: str, a: Any) -> np.ndarray:
    a = np.asarray(a, np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"{name} with shape {a.shape}: expected (n_nets,) or (n_nets, n_out)")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains non-finite values")
    return a


def estimate_gamma(means: Any, variances: Any, n_points: int, *, n_boot: int = 1000, level: float = 0.95,
                   seed: int = 0) -> Estimate:
    """Finite-``n`` corrected estimate of ``gamma`` with a bootstrap interval.

    ``gamma_hat = (Var_chi(mean_x f) - E_chi[var_x f] / n) / E_chi[var_x f]`` (SCIENCE.md section 2):
    with ``n`` iid inputs ``Var_chi(mean_x f) = gamma sigma^2 + sigma^2 / n``, so subtracting
    ``E[var_x f] / n`` (``var_x`` unbiased, ``ddof=1``) removes the finite-``n`` part. Several output
    units are pooled (each unit is one draw of the same law).

    Args:
      means: ``(n_nets,)`` or ``(n_nets, n_out)`` per-network means of the outputs over the inputs.
      variances: same shape, per-network unbiased variances over the inputs.
      n_points: inputs per network.
      n_boot: bootstrap resamples of the networks (0: no interval).
      level: confidence level.
      seed: bootstrap seed (fixed: the interval is reproducible).

    Returns:
      :class:`Estimate` of ``gamma``; ``inf`` when every network is constant over the inputs.
    """
    n_points = _check_n_points(n_points)
    m, v = _per_net("means", means), _per_net("variances", variances)
    if m.shape != v.shape:
        raise ValueError(f"means with shape {m.shape} and variances with shape {v.shape}: expected equal shapes")
    if m.shape[0] < 2:
        raise ValueError(f"means with shape {m.shape}: expected at least 2 networks")

    def stat(mm, vv):
        between = np.var(mm, axis=-2, ddof=1).mean(axis=-1)
        within = vv.mean(axis=(-2, -1))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(within > 0, (between - within / n_points) / np.where(within > 0, within, 1.0), np.inf)

    return _bootstrap(stat, (m, v), n_boot, level, seed)


def estimate_g0_var(g0: Any, n_points: int | None = None, *, n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0) -> Estimate:
    """``Var(G_0)`` over networks with a bootstrap interval.

    With ``n_points`` the binomial noise of a fraction of ``n`` iid inputs is removed:
    ``Var(G) - mean(G (1 - G)) / (n - 1)`` estimates the ``n -> inf`` variance without bias
    (compare with :func:`g0_var`); without it the raw sample variance is returned.
    """
    n_points = _check_n_points(n_points)
    g = _per_net("g0", g0)[:, 0]
    if g.shape[0] < 2:
        raise ValueError(f"g0 with shape {g.shape}: expected at least 2 networks")

    def stat(gg):
        var = np.var(gg, axis=-1, ddof=1)
        if n_points is None or n_points < 2:
            return var
        return var - np.mean(gg * (1 - gg), axis=-1) / (n_points - 1)

    return _bootstrap(stat, (g,), n_boot, level, seed)


def estimate_max_fraction(max_fraction: Any, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Estimate:
    """``E[max_i G_i]`` over networks with a bootstrap interval (compare with :func:`expected_max_fraction`)."""
    g = _per_net("max_fraction", max_fraction)[:, 0]
    return _bootstrap(lambda gg: np.mean(gg, axis=-1), (g,), n_boot, level, seed)


# -- distribution check ----------------------------------------------------------------------


class KSResult(NamedTuple):
    """Kolmogorov-Smirnov test of measured ``G_0`` against the predicted law.

    Attributes:
      statistic: sup distance between the empirical and the predicted cdf.
      pvalue: p-value (conservative for the discrete finite-``n`` law).
      n_nets: sample size.
    """

    statistic: float
    pvalue: float
    n_nets: int


def _binomial_mixture_cdf(gamma: float, n_points: int) -> np.ndarray:
    """``P(count <= k)``, ``k = 0..n``, for count ~ Binomial(n, Phi(z)), ``z ~ N(0, gamma)``."""
    k = np.arange(n_points + 1)
    if gamma == 0:
        return stats.binom.cdf(k, n_points, 0.5)
    if math.isinf(gamma):
        return np.where(k >= n_points, 1.0, 0.5)
    root = math.sqrt(gamma)

    def integrand(s):
        return stats.binom.cdf(k, n_points, special.ndtr(root * s)) * math.exp(-0.5 * s * s) / math.sqrt(2 * math.pi)

    value, _ = integrate.quad_vec(integrand, -12.0, 12.0, epsabs=1e-10, epsrel=1e-8, points=(0.0,))
    return np.clip(value, 0.0, 1.0)


def ks_test(g0: Any, gamma: float, n_points: int | None = None) -> KSResult:
    """KS test of a sample of ``G_0`` (one per network) against the law predicted for ``gamma``.

    Args:
      g0: ``(n_nets,)`` measured fractions of class 0.
      gamma: predicted IGB strength.
      n_points: inputs per network. Given, the prediction is the exact finite-``n`` law of a
        fraction (a binomial mixture over ``Phi(z)``, ``z ~ N(0, gamma)``; p-value conservative
        because that law is discrete); None compares with the ``n -> inf`` cdf :func:`g0_cdf`.

    Returns:
      :class:`KSResult`.
    """
    gamma = _check_gamma(gamma)
    n_points = _check_n_points(n_points)
    g = _per_net("g0", g0)[:, 0]
    if n_points is None:
        result = stats.kstest(g, lambda t: g0_cdf(t, gamma))
    else:
        table = _binomial_mixture_cdf(gamma, n_points)
        result = stats.kstest(g, lambda t: table[np.clip(np.floor(np.asarray(t) * n_points + 1e-6), 0, n_points)
                                                  .astype(np.int64)] * (np.asarray(t) >= 0))
    return KSResult(float(result.statistic), float(result.pvalue), int(g.shape[0]))
