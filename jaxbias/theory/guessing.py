"""Theory of initial guessing bias (IGB): the law of ``G_0``, estimators, and a KS check.

Francazi, Lucchi & Baity-Jesi, "Initial Guessing Bias: How Untrained Networks Favor Some Classes"
(ICML 2024). Over the inputs, the output of one
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

:func:`predict_gamma` is the infinite-width value at the averaged input moments. At width ``n`` the
measured ``gamma`` is that of the init-averaged kernel ``K + K1/n + O(1/n^2)``
(:func:`jaxbias.theory.predict_gamma_finite_width`, derivation and measurements in
:mod:`jaxbias.theory.guessing_finite_width`). Its direction depends on the activation: ReLU without
bias falls below the infinite-width value (about 14% at depth 4, width 32), tanh with a bias rises
above it, both more so with depth. When ``d0`` is small against the width, the points' norms and
overlaps spread and the kernel averaged over the actual pairs differs from the kernel of the averaged
moments (for ReLU it is lower); ``average="pairs"`` takes that into account.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import integrate, special, stats
from scipy.stats import qmc

from jaxbias.caches import bounded_cache
from jaxbias.nets.mlp import MLP
from jaxbias.nets.options import Norm
from jaxbias.nets.spec import from_dict
from jaxbias.validation import check_kernel

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
    "g0_pmf",
    "Prediction",
    "input_moments",
    "gaussian_input_moments",
    "predict_gamma",
    "phase_diagram",
    "REGIMES",
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
    """``gamma = q_ab / (q_aa - q_ab)`` (mean-field link of Francazi et al. 2024).

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
    check_kernel(q_aa, q_ab, q_aa, names=("q_aa", "q_ab", "q_aa"))
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


@bounded_cache(maxsize=4)
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
        bad = int(np.sum(~np.all(np.isfinite(a), axis=1)))
        raise ValueError(f"{name}: {bad} of {a.shape[0]} networks have non-finite values (NaN or infinite outputs, "
                         "which assign no classes); leave them out first, e.g. keep = np.isfinite(stats.g0)")
    return a


def estimate_gamma(means: Any, variances: Any, n_points: int, *, n_boot: int = 1000, level: float = 0.95,
                   seed: int = 0) -> Estimate:
    """Finite-``n`` corrected estimate of ``gamma`` with a bootstrap interval.

    ``gamma_hat = (Var_chi(mean_x f) - E_chi[var_x f] / n) / E_chi[var_x f]``:
    with ``n`` iid inputs ``Var_chi(mean_x f) = gamma sigma^2 + sigma^2 / n``, so subtracting
    ``E[var_x f] / n`` (``var_x`` unbiased, ``ddof=1``) removes the finite-``n`` part. Several output
    units are pooled (each unit is one draw of the same law).

    Whatever the dependence between the points (iid networks, the same output mean on every point),
    its expectation, as a ratio of expectations, is exactly ``q_ab / (q_aa - q_ab)`` of the output
    covariance over networks averaged over the set: ``q_aa`` over its points, ``q_ab`` over its
    distinct pairs. With batch norm over the input set that is the finite-set value
    (``predict_gamma(net, x, n_points=n)``), not the ``n -> inf`` one: after the activation, the
    output mean over the inputs is exactly the readout bias, ``q_ab = C_b - C_W / (n - 1)``, and the
    estimate sits ``(1 + 1/gamma) / n`` (relative) below ``gamma = C_b / C_W``.

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


def g0_pmf(gamma: float, n_points: int) -> np.ndarray:
    """Law of the measured ``G_0`` with ``n_points`` iid inputs: ``P(G_0 = k / n)``, ``k = 0..n``.

    The count of class 0 given the network is Binomial(n, Phi(z)), ``z ~ N(0, gamma)``; the mixture
    is integrated adaptively over ``z``. ``gamma = 0`` gives the plain binomial noise of a neutral net.
    """
    gamma = _check_gamma(gamma)
    n_points = _check_n_points(n_points)
    if n_points is None:
        raise ValueError("n_points=None: expected a positive integer number of inputs")
    return np.diff(np.concatenate([[0.0], _binomial_mixture_cdf(gamma, n_points)]))


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


# -- gamma from the NNGP recursion ------------------------------------------------------------


class Prediction(NamedTuple):
    """Mean-field prediction of IGB for one network and input distribution.

    Attributes:
      gamma: ``q_ab / (q_aa - q_ab)`` at the output.
      q_aa: output variance on one input.
      q_ab: output covariance of two independent inputs.
      gammas: ``(depth + 1,)`` the same ratio for the pre-activations of every layer (last: output).
    """

    gamma: float
    q_aa: float
    q_ab: float
    gammas: tuple[float, ...]


def input_moments(x: Any) -> tuple[float, float]:
    """``(mean |x|^2 / d0, mean_(i != j) x_i . x_j / d0)`` of an input set ``x (n_points, d0)``.

    The first layer's kernel averaged over the data: ``q_aa^(1) = C_b + C_W s_aa``,
    ``q_ab^(1) = C_b + C_W s_ab``. For ``x ~ N(m, S)``: ``s_aa = (|m|^2 + tr S) / d0``, ``s_ab = |m|^2 / d0``.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x with shape {x.shape}: expected inputs (n_points, d0) with n_points >= 2")
    n, d0 = x.shape
    sq = np.sum(np.square(x)) / n
    total = np.square(np.sum(x, axis=0)).sum()
    return float(sq / d0), float((total - n * sq) / (n * (n - 1) * d0))


def gaussian_input_moments(mean: Any, cov: Any) -> tuple[float, float]:
    """:func:`input_moments` of the distribution ``N(mean, cov)``: ``((|m|^2 + tr S) / d0, |m|^2 / d0)``."""
    m = np.atleast_1d(np.asarray(mean, np.float64))
    s = np.asarray(cov, np.float64)
    trace = float(np.trace(s)) if s.ndim == 2 else float(np.sum(s * np.ones_like(m)))
    d0 = m.shape[0]
    return (float(m @ m) + trace) / d0, float(m @ m) / d0


def _layer_scales(net: MLP, d0: int) -> tuple[list[float], list[float]]:
    """Per-layer ``(C_W, C_b)`` of an MLP; an absolute law U(-a, a) has ``C_W = fan_in a^2 / 3``."""
    depth = net.depth
    cws, cbs = list(net.weight_var), list(net.bias_var)
    law = net.law
    if law.absolute:
        a = law.param
        pool = 1 if net.pool is None else net.pool.size
        fans = [d0] + [w // pool for w in net.width]
        cws = [f * a * a / 3.0 for f in fans]
        cbs = [a * a / 3.0] * (depth + 1)
    if not net.bias:
        cbs = [0.0] * (depth + 1)
    return cws, cbs


def _check_theory_net(net) -> MLP:
    if isinstance(net, dict):
        net = from_dict(net)
    if not isinstance(net, MLP):
        raise NotImplementedError(f"net of type {type(net).__name__}: the IGB recursion covers jaxbias.nets.MLP "
                                  "networks only")
    if net.residual:
        raise NotImplementedError("residual=True: the IGB recursion does not cover residual connections")
    max_pool = net.pool is not None and net.pool.kind == "max"
    if max_pool and not _is_monotone(str(net.activation)):
        raise NotImplementedError(f"activation={net.activation!r} with max pooling: the theory needs "
                                  f"an increasing activation (one of {', '.join(_MONOTONE)}, leaky_relu)")
    if max_pool and net.norm == Norm("batch", "post"):
        raise NotImplementedError("max pooling after batch norm: not covered by the IGB recursion")
    return net


def _hidden_moments(act, k_aa, k_ab, net: MLP, order: int, n_points: int | None = None):
    """Second moments ``(E[h(a)^2], E[h(a) h(b)])`` of one hidden layer's outputs (after norm and pooling).

    ``(k_aa, k_ab)`` is the layer's pre-activation kernel (same variance on both inputs). Large
    width and many iid inputs: layer norm standardizes over units (pre: ``z / sqrt(k_aa)``; post:
    ``(phi - E phi) / sd phi``), batch norm over inputs removes the part shared by all inputs
    (pre: kernel ``(1, 0)``; post: ``E[h(a) h(b)] = 0``). Average pooling of ``p`` iid units mixes in
    the squared mean, max pooling goes through the law of the max (:func:`_max_pool_moments`).
    With ``n_points``, batch norm after the activation gives the average over the distinct pairs
    of that input set, ``E[h(a) h(b)] = -E[h(a)^2] / (n_points - 1)`` (each unit sums to 0 over it).
    """
    import jax.numpy as jnp

    from jaxbias.kernels.gaussian import phi_mean, phi_phi, phi_sq

    ln = net.norm.position if net.norm is not None and net.norm.kind == "layer" else None
    bn = net.norm.position if net.norm is not None and net.norm.kind == "batch" else None
    if ln == "pre":
        k_aa, k_ab = jnp.ones_like(k_aa), k_ab / k_aa
    elif bn == "pre":
        k_aa, k_ab = jnp.ones_like(k_aa), jnp.zeros_like(k_ab)
    mean = phi_mean(act, k_aa)
    p_aa = phi_sq(act, k_aa)
    p_ab = phi_phi(act, k_aa, k_ab, k_aa)
    shift, scale = 0.0, 1.0
    if ln == "post":
        shift, scale = mean, jnp.sqrt(p_aa - mean * mean)
        p_ab = (p_ab - mean * mean) / (scale * scale)
        p_aa, mean = jnp.ones_like(p_aa), jnp.zeros_like(mean)
    elif bn == "post":
        p_aa, p_ab, mean = jnp.ones_like(p_aa), jnp.zeros_like(p_ab), jnp.zeros_like(mean)
        if n_points is not None:
            p_ab = -p_aa / (n_points - 1)
    pooling, size = (None, 1) if net.pool is None else net.pool
    if pooling == "avg" and size > 1:
        p_aa = p_aa / size + (1 - 1 / size) * mean * mean
        p_ab = p_ab / size + (1 - 1 / size) * mean * mean
    elif pooling == "max" and size > 1:
        p_aa, p_ab = _max_pool_moments(act.fn, shift, scale, k_aa, k_ab, size, order)
    return p_aa, p_ab


_MONOTONE = ("relu", "tanh", "sigmoid", "erf", "step", "identity", "softplus", "elu", "selu", "centred_relu")


def _is_monotone(name: str) -> bool:
    return name in _MONOTONE or (name.startswith("leaky_relu(") and float(name[11:-1]) >= 0)


_GL20 = np.polynomial.legendre.leggauss(20)


def _common_float(*xs):
    """``xs`` as jax arrays of one float dtype (the widest among them; no implicit promotion)."""
    import jax.numpy as jnp

    arrays = [jnp.asarray(x) for x in xs]
    floats = [a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)]
    dtype = max(floats, key=lambda d: d.itemsize) if floats else jnp.asarray(0.0).dtype
    return [a.astype(dtype) for a in arrays]


def _bvn_cdf(h, k, rho):
    """Standard bivariate normal cdf ``P(X <= h, Y <= k)`` with correlation ``rho`` (``|rho| <= 1``), elementwise.

    Genz (2004), "Numerical computation of rectangular bivariate and trivariate normal and t
    probabilities", Statistics and Computing 14, 251-260 (his ``BVNU`` at ``(-h, -k)``), with a 20-node
    Gauss-Legendre rule, absolute error ~1e-15 for every ``|rho| <= 1``:

    * ``|rho| < 0.925``: Plackett's identity in ``theta = arcsin(rho')`` (Drezner & Wesolowsky 1990),
      ``Phi(h) Phi(k) + (1 / 2 pi) int_0^arcsin(rho) exp(-(h^2 + k^2 - 2 h k sin t) / (2 cos^2 t)) dt``;
    * ``|rho| >= 0.925``: the same integral in ``x = sqrt(1 - rho'^2)`` from the other end (``rho' = +-1``,
      where the cdf is ``Phi(min(h, k))`` or ``max(0, Phi(h) - Phi(-k))``), with the singular part of the
      integrand at ``x = 0`` subtracted and integrated in closed form, so the remainder is smooth and the
      rule stays accurate as ``rho -> +-1`` (where the first form's integrand becomes a narrow peak).

    Exponentials are taken in forms bounded by 1 (``log_ndtr`` for the ``exp(-hk / 2) Phi(-b / a)`` term),
    so no branch overflows; ``|rho| = 1`` gives the exact limits.
    """
    import jax.numpy as jnp
    from jax.scipy.special import log_ndtr, ndtr

    h, k, rho = _common_float(h, k, rho)
    h, k, rho = jnp.broadcast_arrays(h, k, rho)
    dtype = h.dtype
    x, w = (jnp.asarray(a, dtype).reshape((1,) * h.ndim + (20,)) for a in _GL20)
    two_pi = 2 * math.pi
    hk = h * k
    # |rho| < 0.925: Drezner-Wesolowsky in theta.
    near = jnp.abs(rho) < 0.925
    asr = jnp.arcsin(jnp.where(near, rho, 0.0))
    sn = jnp.sin(asr[..., None] * (x + 1) / 2)
    hs = ((h * h + k * k) / 2)[..., None]
    mid = ndtr(h) * ndtr(k) + asr / (2 * two_pi) * jnp.sum(
        w * jnp.exp((sn * hk[..., None] - hs) / (1 - sn * sn)), axis=-1)
    # |rho| >= 0.925: Genz's expansion about rho' = sign(rho) (BVNU with dh = -h, dk = -k).
    neg = rho < 0
    hh, kk = -h, jnp.where(neg, k, -k)
    hk2 = hh * kk
    arho = jnp.abs(rho)
    as_ = (1 - arho) * (1 + arho)
    inner = as_ > 0
    as_ = jnp.where(inner, as_, 1.0)
    a = jnp.sqrt(as_)
    bs = jnp.square(hh - kk)
    c = (4 - hk2) / 8
    d = (12 - hk2) / 16
    b = jnp.sqrt(bs)
    bvn = a * jnp.exp(-(bs / as_ + hk2) / 2) * (1 - c * (bs - as_) * (1 - d * bs / 5) / 3 + c * d * as_ * as_ / 5)
    bvn = bvn - jnp.exp(-hk2 / 2 + log_ndtr(-b / a)) * math.sqrt(two_pi) * b * (1 - c * bs * (1 - d * bs / 5) / 3)
    half = (a / 2)[..., None]
    xs = jnp.square(half * (x + 1))
    rs = jnp.sqrt(1 - xs)
    bs_, hk_, c_, d_ = bs[..., None], hk2[..., None], c[..., None], d[..., None]
    bvn = bvn + jnp.sum(half * w * (jnp.exp(-bs_ / (2 * xs) - hk_ / (1 + rs)) / rs
                                    - jnp.exp(-(bs_ / xs + hk_) / 2) * (1 + c_ * xs * (1 + d_ * xs))), axis=-1)
    bvn = jnp.where(inner, -bvn / two_pi, 0.0)
    upper = bvn + ndtr(jnp.minimum(h, k))
    # rho < 0: P(-k < X <= h), from the side where the difference of cdfs does not cancel.
    band = jnp.where(h > 0, ndtr(k) - ndtr(-h), ndtr(h) - ndtr(-k))
    lower = -bvn + jnp.where(k > -h, band, 0.0)
    far = jnp.where(neg, lower, upper)
    return jnp.clip(jnp.where(near, mid, far), 0.0, 1.0)


_POOL_CUT = 10.0
"""Integration range ``[-10, 10]`` in standard-normal units for the law of the max (tail ~1e-23)."""


def _pieces(edges, nodes, weights):
    """Composite Gauss-Legendre on consecutive ``edges (..., m + 1)``: nodes and weights ``(..., m n)``."""
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    nodes, weights = (a.reshape((1,) * edges.ndim + a.shape) for a in (nodes, weights))
    shape = edges.shape[:-1] + (-1,)
    return (mid + half * nodes).reshape(shape), (half * weights).reshape(shape)


def _max_pool_rule(order: int, p, k_aa, k_ab):
    """Quadrature rule of :func:`_max_pool_moments`, independent of the activation.

    In standardized variables ``s = M_a / sqrt(k_aa)``, ``t = M_b / sqrt(k_aa)`` (``rho = k_ab / k_aa``,
    ``r = sqrt(1 - rho^2)`` from ``1 - rho = (k_aa - k_ab) / k_aa``, not from a rounded ``rho``), returns
    ``(s, w_sq, t, w_gap)``: ``E[psi(M)^2] = sum w_sq psi(s)^2`` and
    ``E[psi(M_a)^2] - E[psi(M_a) psi(M_b)] = sum w_gap (psi(s) - psi(t))^2`` with ``s (..., n)`` and
    ``t, w_gap (..., n, n)``, ``n = 4 order``; ``p`` (the window) is an array, so one compilation serves
    every window and activation.
    """
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    cut = _POOL_CUT
    dtype = k_aa.dtype
    x, w = (jnp.asarray(a, dtype) for a in np.polynomial.legendre.leggauss(order))
    gap = jnp.clip((k_aa - k_ab) / k_aa, 0.0, 2.0)  # 1 - rho
    rho = 1 - gap
    r = jnp.sqrt(gap * (2 - gap))
    live = r > 0
    r = jnp.where(live, r, 1.0)

    def pdf(z):
        return jnp.exp(-z * z / 2) * (1 / math.sqrt(2 * math.pi))

    # Outer s: pieces broken at 0 (the activation's kink or jump) and at +-cut r, inside which the inner
    # window around t = rho s crosses t = 0 (a feature of width ~r in s).
    knee = jnp.minimum(cut * r, cut)[..., None]
    ends = jnp.full_like(knee, cut)
    s, ws = _pieces(jnp.concatenate([-ends, -knee, jnp.zeros_like(knee), knee, ends], axis=-1), x, w)
    p1 = p[..., None]
    w_sq = ws * pdf(s) * p1 * ndtr(s) ** (p1 - 1)  # law of the max of p iid units
    # Inner t for each s: pieces broken at t = 0 and at rho s +- cut r, so the layer of width r about the
    # diagonal (rho -> 1) or the anti-diagonal (rho -> -1) is resolved on the scale of (t - rho s) / r.
    s2, p2 = s[..., None], p1[..., None]
    rho2, r2 = rho[..., None, None], r[..., None, None]
    centre = rho2 * s2
    inner = jnp.clip(jnp.concatenate([centre - cut * r2, centre + cut * r2], axis=-1), -cut, cut)
    inner = jnp.sort(jnp.concatenate([inner, jnp.zeros_like(centre)], axis=-1), axis=-1)
    ends2 = jnp.full_like(centre, cut)
    t, wt = _pieces(jnp.concatenate([-ends2, inner, ends2], axis=-1), x, w)
    z = (t - centre) / r2  # (M_b - rho M_a) / r: O(1) across the layer
    y = (s2 - rho2 * t) / r2
    cdf = _bvn_cdf(s2, t, rho2)
    # Joint density of the two maxima, d_s d_t Phi2(s, t)^p: one unit is the max on both inputs, or two
    # different units are.
    dens = (p2 * cdf ** (p2 - 1) * pdf(s2) * pdf(z) / r2
            + p2 * (p2 - 1) * cdf ** jnp.maximum(p2 - 2, 0) * pdf(s2) * pdf(t) * ndtr(z) * ndtr(y))
    w_gap = jnp.where(live[..., None, None], ws[..., None] * wt * dens / 2, 0.0)
    return s, w_sq, t, w_gap


@bounded_cache(maxsize=1)
def _max_pool_rule_jit():
    import jax

    return jax.jit(_max_pool_rule, static_argnums=0)


def _max_pool_moments(fn, shift, scale, k_aa, k_ab, size: int, order: int):
    """``E[h(a)^2]`` and ``E[h(a) h(b)]`` for ``h = max(psi(u_1), ..., psi(u_p))``, ``p = size``,
    ``psi = (fn - shift) / scale`` increasing, ``(u_i, v_i)`` iid pairs with kernel ``(k_aa, k_ab, k_aa)``.

    With ``M_a = max_i u_i``, ``h(a) = psi(M_a)``; ``E[psi(M)^2] = p E[psi(u)^2 Phi(u / sqrt(k))^(p-1)]``,
    and ``P(M_a <= s, M_b <= t) = Phi2(s, t)^p`` (standardized, correlation ``rho = k_ab / k_aa``) has the
    joint density ``g = p Phi2^(p-1) phi2 + p (p-1) Phi2^(p-2) d_s Phi2 d_t Phi2`` with ``d_s Phi2 = phi(s)
    Phi((t - rho s) / r)``, ``r = sqrt(1 - rho^2)``. As ``rho -> 1`` (deep max-pooled nets) ``g`` piles up
    in a layer of width ``r`` about the diagonal, and ``E[h(a)^2] - E[h(a) h(b)]``, which sets ``gamma``,
    is ``O(1 - rho)``: computing ``E[h(a) h(b)]`` and subtracting would lose it. So the gap is integrated
    by itself, ``E[h(a)^2] - E[h(a) h(b)] = (1/2) int int (psi(s) - psi(t))^2 g(s, t) ds dt`` (non-negative
    terms, no cancellation), by a composite Gauss-Legendre rule (``order`` nodes per piece, 4 pieces in
    each variable) whose inner pieces follow the layer (``t = rho s +- 10 r``: the integrand is smooth on
    the scale of ``(t - rho s) / r``) and break at the kinks ``s = 0``, ``t = 0`` (relu, step, ...), and
    Genz's (2004) ``Phi2``, accurate as ``rho -> +-1`` (:func:`_bvn_cdf`). At ``rho = 1`` the gap is 0
    (``M_a = M_b``), the limit of the formula (``~ (1 - rho) k E[psi'(M)^2]``), so ``E[h(a) h(b)]`` reaches
    ``E[h(a)^2]`` continuously. Float64 relative error ~1e-12 at ``order = 48`` for the activations of
    ``_MONOTONE`` (smooth steep ones, tanh at ``k = 25``, ~1e-8), at every ``rho``.

    The rule (nodes, weights, density) does not depend on the activation and is jit-compiled once per
    ``order`` (:func:`jaxbias.kernels.gauss_expect` would retrace for every layer); ``fn`` is then
    evaluated on its nodes.

    Returns ``(E[h(a)^2], E[h(a) h(b)])`` with ``E[h(a) h(b)] = E[h(a)^2] - gap``, so ``q_aa - q_ab`` keeps
    its relative accuracy down to the float64 rounding of ``q_aa``.
    """
    import jax.numpy as jnp

    shift, scale, k_aa, k_ab = jnp.broadcast_arrays(*_common_float(shift, scale, k_aa, k_ab))
    p = jnp.full_like(k_aa, int(size))
    s, w_sq, t, w_gap = _max_pool_rule_jit()(int(order), p, k_aa, k_ab)
    sd = jnp.sqrt(k_aa)[..., None]
    f_s = fn(sd * s).astype(k_aa.dtype)
    f_t = fn(sd[..., None] * t).astype(k_aa.dtype)
    p_aa = jnp.sum(w_sq * jnp.square(f_s - shift[..., None]), axis=-1) / jnp.square(scale)
    gap = jnp.sum(w_gap * jnp.square(f_s[..., None] - f_t), axis=(-2, -1)) / jnp.square(scale)
    return p_aa, p_aa - gap


_MIN_GAP = 1e-11
"""Smallest ``(q_aa - q_ab) / q_aa`` at which :func:`predict_gamma` still gives ``gamma``. Each layer
stores ``q_aa`` and ``q_ab`` rounded to ~1.1e-16 of ``q_aa``, a relative error ``~1.1e-16 (1 + gamma)``
in ``q_aa - q_ab``, and the errors of successive layers add up (about 2.5 times the last one when
``gamma`` grows geometrically, as with max pooling): below 1e-11 (``gamma`` ~ 1e11) the result is
no longer good to 1e-4."""


def _check_resolved(values) -> None:
    """Raise if ``q_aa - q_ab`` of some layer in ``values [(q_aa, q_ab), ...]`` is lost to float64 rounding.

    Inputs with ``s_ab = s_aa`` (the same point twice) keep ``q_ab = q_aa`` exactly: ``gamma = inf``.
    """
    a0, b0 = values[0]
    if not a0 - b0 > 0:
        return
    for layer, (a, b) in enumerate(values):
        if a > 0 and a - b < _MIN_GAP * a:
            raise ValueError(
                f"layer {layer}: q_aa - q_ab = {a - b:.3g} is {(a - b) / a:.2g} of q_aa = {a:.6g} (gamma ~ "
                f"{a / max(a - b, a * 2.0**-52):.2g}): the correlation of two inputs has converged to 1 within "
                f"float64 rounding (below {_MIN_GAP:g} of q_aa, q_aa - q_ab is lost to the ~1e-16 rounding of "
                f"q_aa and q_ab), so gamma cannot be predicted at this depth")


def predict_gamma(net: Any, x: Any = None, *, moments: tuple[float, float] | None = None, order: int = 64,
                  n_points: int | None = None) -> Prediction:
    """``gamma`` of a :func:`jaxbias.nets.mlp` predicted by the NNGP recursion.

    Mean-field theory of Francazi et al. (ICML 2024) and Bassi, Francazi et al. (2025,
    arXiv:2505.12096): for two independent inputs of the data distribution, the output kernel
    restricted to one input (``q_aa``) and to two (``q_ab``) follows the NNGP recursion layer by layer,
    starting from the input moments; ``gamma = q_ab / (q_aa - q_ab)``. Covers every activation,
    depth, per-layer ``C_W`` and ``C_b`` (and the absolute ``U(-a, a)`` law), input mean, average
    pooling, max pooling of any window (increasing activations), layer norm and batch norm before or after the activation.
    It is the infinite-width, many-input limit; inputs are assumed to concentrate (``d0`` large), so
    only their average moments enter.

    Batch norm over a finite input set (``n_points``): batch norm after the activation makes every
    hidden unit sum to 0 over the ``n`` points it standardizes, so its average over the distinct pairs
    of the set is exactly ``E[h(a) h(b)] = -E[h(a)^2] / (n - 1)``, not 0. The output kernel averaged
    over the set, which :func:`estimate_gamma` measures on sampled networks, is then ``q_aa = C_b + C_W p``,
    ``q_ab = C_b - C_W p / (n - 1)`` (readout ``C_W``, ``C_b``; ``p = 1``, or ``1 / pool_size`` with average
    pooling), so ``gamma_n = gamma (1 - 1/n) - 1/n`` with ``gamma = C_b / (C_W p)`` the ``n -> inf``
    value: ``(1 + 1/gamma) / n`` below it in relative terms (-1.5 % at ``n = 200``, ``gamma = 0.5``; ``-1/n``
    without bias). This holds at every width, depth, activation and input set, up to the batch-norm
    epsilon (relative ``1e-6 / Var_x[phi]``): a unit constant over the whole set (a ReLU unit negative
    on all ``n`` points) stays 0, so ``p`` is really ``p`` times the fraction of varying units (0.958 at
    ``n = 10`` with ``C_b / C_W = 1/2`` in every layer, ``1 - 2.4e-4`` at ``n = 200``; 1 for tanh).

    Args:
      net: an :class:`jaxbias.nets.MLP` spec, or its dict (:func:`jaxbias.nets.to_dict`).
      x: the input set ``(n_points, d0)`` (its moments by :func:`input_moments`), or None with ``moments``.
      moments: ``(s_aa, s_ab)`` as from :func:`input_moments` / :func:`gaussian_input_moments`.
      order: Gauss-Legendre nodes per piece of the max-pooling rule (every other expectation follows
        the accuracy policy of :mod:`jaxbias.kernels.gaussian`).
      n_points: number of points batch norm standardizes over (the sampled input set, ``x.shape[0]``
        for ``net.apply(params, x)``), or None (default) for the many-input limit. Only batch norm after
        the activation depends on it (see above); networks without batch norm do not (their outputs on
        different points do not interact, and with ``x`` the pair average already is that of the set).

    Returns:
      :class:`Prediction`.

    Raises:
      NotImplementedError: residual MLPs, other families, max pooling after batch norm, batch norm
        before the activation with ``n_points`` (the standardized pre-activations average ``(1, -1/(n-1))``
        over the set, but their joint law, hence ``E[phi(z_a) phi(z_b)]``, depends on the set's geometry
        too, e.g. ``d0`` against ``n``).
      ValueError: neither or both of ``x`` and ``moments``; ``n_points < 2``.
      ValueError: ``q_aa - q_ab`` of some layer below ``1e-11 q_aa``: the inputs' correlation has
        converged to 1 within float64 rounding and ``gamma`` (~1e11 or more) is lost to it.

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.mlp(256, 1, "relu", bias=False)
      >>> round(jb.theory.predict_gamma(net, moments=(1.0, 0.0)).gamma, 4)  # E[relu]^2 / Var[relu]
      0.4669
    """
    import jax
    import jax.numpy as jnp

    net = _check_theory_net(net)
    n_points = _check_n_points(n_points)
    if n_points is not None and n_points < 2:
        raise ValueError(f"n_points={n_points}: expected at least 2 points (a batch of one has no pairs)")
    if n_points is not None and net.norm == Norm("batch", "pre"):
        raise NotImplementedError("norm='batch_pre' with n_points: the finite-set law of standardized "
                                  "pre-activations depends on the input set's geometry, not only on n_points")
    if (x is None) == (moments is None):
        raise ValueError("predict_gamma: give exactly one of x (the inputs) and moments=(s_aa, s_ab)")
    if x is not None:
        moments = input_moments(x)
        d0 = int(np.asarray(x).shape[1])
    else:
        d0 = net.in_dim or 1
        if net.law.absolute and not net.in_dim:
            raise ValueError("weight_law='absolute(a)' with moments: build the net with in_dim or pass x")
    s_aa, s_ab = (float(m) for m in moments)
    if not s_aa > 0:
        raise ValueError(f"moments={moments!r}: expected s_aa > 0")
    check_kernel(s_aa, s_ab, s_aa, names=("moments[0] (s_aa)", "moments[1] (s_ab)", "moments[0] (s_aa)"))
    act = net.phi
    cws, cbs = _layer_scales(net, d0)
    with jax.enable_x64(True):
        k_aa = jnp.asarray(cbs[0] + cws[0] * s_aa, jnp.float64)
        k_ab = jnp.asarray(cbs[0] + cws[0] * s_ab, jnp.float64)
        gammas = [(k_aa, k_ab)]
        for layer in range(1, net.depth + 1):
            p_aa, p_ab = _hidden_moments(act, k_aa, k_ab, net, order, n_points)
            k_aa, k_ab = cbs[layer] + cws[layer] * p_aa, cbs[layer] + cws[layer] * p_ab
            gammas.append((k_aa, k_ab))
        values = [(float(a), float(b)) for a, b in gammas]
    _check_resolved(values)
    return Prediction(float(gamma_from_kernel(*values[-1])), values[-1][0], values[-1][1],
                      tuple(float(gamma_from_kernel(a, b)) for a, b in values))


REGIMES = ("neutral", "prejudiced", "deep prejudice")
"""Names of the guessing-bias regimes of :func:`phase_diagram`, by its integer ``regime`` index (Francazi et al. 2024)."""


def phase_diagram(activation: Any, weight_vars: Any, bias_vars: Any, depth: int, *,
                  moments: tuple[float, float] = (1.0, 0.0), deep: int = 200, tol: float = 1e-3) -> dict:
    """Predicted ``gamma`` at ``depth`` and the deep-network IGB regime over a ``(C_W, C_b)`` grid.

    Plain MLP (same ``C_W``, ``C_b`` in every layer). The regime is read off the depth -> infinity limit
    of the correlation ``c = q_ab / q_aa = gamma / (1 + gamma)`` of the recursion started from the
    inputs (Bassi, Francazi et al. 2025): ``c -> 0`` neutral (no IGB: odd activations without bias in
    the chaotic phase), ``0 < c* < 1`` prejudiced (finite ``gamma``), ``c -> 1`` deep prejudice
    (``gamma -> inf``: ordered phase, and ReLU everywhere). Thresholds: ``c_deep < tol`` and
    ``c_deep > 1 - tol`` after ``deep`` layers.

    Args:
      activation: activation name or callable.
      weight_vars: ``(n_w,)`` values of ``C_W``.
      bias_vars: ``(n_b,)`` values of ``C_b``.
      depth: hidden layers of the network whose ``gamma`` is reported.
      moments: input moments ``(s_aa, s_ab)`` (:func:`input_moments`).
      deep: layers iterated for the regime.

    Returns:
      ``{"gamma": (n_w, n_b), "c_deep": (n_w, n_b), "regime": (n_w, n_b) int index into REGIMES}``.
    """
    import jax
    import jax.numpy as jnp

    from jaxbias.kernels.gaussian import check_accuracy, phi_phi
    from jaxbias.nets.activations import get_activation

    act = get_activation(activation)
    cw = np.asarray(weight_vars, np.float64)[:, None]
    cb = np.asarray(bias_vars, np.float64)[None, :]
    if np.any(cw <= 0) or np.any(cb < 0):
        raise ValueError("phase_diagram: expected weight_vars > 0 and bias_vars >= 0")
    depth = int(depth)
    steps = max(depth, deep)

    with jax.enable_x64(True):
        cw_j, cb_j = jnp.asarray(np.broadcast_to(cw, (cw.shape[0], cb.shape[1]))), jnp.asarray(
            np.broadcast_to(cb, (cw.shape[0], cb.shape[1])))

        @jax.jit
        def run(cw_j, cb_j):
            k0 = (cb_j + cw_j * moments[0], cb_j + cw_j * moments[1])

            def step(k, _):
                k_aa, k_ab = k
                n_aa = cb_j + cw_j * phi_phi(act, k_aa, k_aa, k_aa)
                n_ab = cb_j + cw_j * phi_phi(act, k_aa, k_ab, k_aa)
                return (n_aa, n_ab), (n_aa, n_ab)

            _, trace = jax.lax.scan(step, k0, None, length=steps)
            return trace

        aa, ab = (np.asarray(t) for t in run(cw_j, cb_j))
    check_accuracy((aa, ab), f"IGB phase diagram of activation {act.name!r}")
    k_aa = aa[depth - 1] if depth > 0 else cb + cw * moments[0] + 0 * aa[0]
    k_ab = ab[depth - 1] if depth > 0 else cb + cw * moments[1] + 0 * ab[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(k_aa > k_ab, k_ab / np.where(k_aa > k_ab, k_aa - k_ab, 1.0), np.inf)
        c_deep = np.where(aa[-1] > 0, ab[-1] / np.where(aa[-1] > 0, aa[-1], 1.0), 1.0)
    regime = np.where(c_deep < tol, 0, np.where(c_deep > 1 - tol, 2, 1))
    return {"gamma": gamma, "c_deep": c_deep, "regime": regime}
