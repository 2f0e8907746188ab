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


def _layer_scales(config: dict, d0: int) -> tuple[list[float], list[float]]:
    """Per-layer ``(C_W, C_b)`` of an mlp config; an absolute law U(-a, a) has ``C_W = fan_in a^2 / 3``."""
    depth = config["depth"]
    cws, cbs = list(config["weight_var"]), list(config["bias_var"])
    law = str(config.get("weight_law", "normal"))
    if law.startswith("absolute"):
        a = float(law[law.index("(") + 1 : law.index(")")])
        pool = config.get("pool_size") or 1
        fans = [d0] + [w // pool for w in config["width"]]
        cws = [f * a * a / 3.0 for f in fans]
        cbs = [a * a / 3.0] * (depth + 1)
    if not config.get("bias", True):
        cbs = [0.0] * (depth + 1)
    return cws, cbs


def _check_theory_config(config: dict) -> None:
    if config.get("arch") != "mlp":
        raise NotImplementedError(f"net arch={config.get('arch')!r}: the IGB recursion covers mlp networks only")
    if config.get("residual"):
        raise NotImplementedError("residual=True: the IGB recursion does not cover residual connections")
    if config.get("pooling") == "max" and not _is_monotone(str(config.get("activation"))):
        raise NotImplementedError(f"activation={config.get('activation')!r} with max pooling: the theory needs "
                                  f"an increasing activation (one of {', '.join(_MONOTONE)}, leaky_relu)")
    if config.get("pooling") == "max" and config.get("batch_norm_position") == "post":
        raise NotImplementedError("max pooling after batch norm: not covered by the IGB recursion")


def _hidden_moments(act, k_aa, k_ab, config: dict, order: int, n_points: int | None = None):
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

    ln, bn = config.get("layer_norm_position"), config.get("batch_norm_position")
    if ln == "pre":
        k_aa, k_ab = jnp.ones_like(k_aa), k_ab / k_aa
    elif bn == "pre":
        k_aa, k_ab = jnp.ones_like(k_aa), jnp.zeros_like(k_ab)
    mean = phi_mean(act, k_aa, order=order)
    p_aa = phi_sq(act, k_aa, order=order)
    p_ab = phi_phi(act, k_aa, k_ab, k_aa, order=order)
    shift, scale = 0.0, 1.0
    if ln == "post":
        shift, scale = mean, jnp.sqrt(p_aa - mean * mean)
        p_ab = (p_ab - mean * mean) / (scale * scale)
        p_aa, mean = jnp.ones_like(p_aa), jnp.zeros_like(mean)
    elif bn == "post":
        p_aa, p_ab, mean = jnp.ones_like(p_aa), jnp.zeros_like(p_ab), jnp.zeros_like(mean)
        if n_points is not None:
            p_ab = -p_aa / (n_points - 1)
    pooling, size = config.get("pooling"), config.get("pool_size") or 1
    if pooling == "avg" and size > 1:
        p_aa = p_aa / size + (1 - 1 / size) * mean * mean
        p_ab = p_ab / size + (1 - 1 / size) * mean * mean
    elif pooling == "max" and size > 1:
        p_aa, p_ab = _max_pool_moments(act.fn, shift, scale, k_aa, k_ab, size, order)
    return p_aa, p_ab


_MONOTONE = ("relu", "tanh", "sigmoid", "erf", "step", "identity", "softplus", "elu", "selu", "centred_relu")


def _is_monotone(name: str) -> bool:
    return name in _MONOTONE or (name.startswith("leaky_relu(") and float(name[11:-1]) >= 0)


def _bvn_cdf(h, k, rho, n_nodes: int = 48):
    """Standard bivariate normal cdf ``P(X <= h, Y <= k)``, correlation ``rho`` (``|rho| < 1``), elementwise.

    Plackett's identity ``dPhi2 / drho = phi2`` integrated in ``theta = arcsin(rho')`` (Drezner &
    Wesolowsky 1990; Genz 2004): ``Phi(h) Phi(k) + (1 / 2 pi) int_0^arcsin(rho) exp(-(h^2 + k^2 - 2 h k
    sin t) / (2 cos^2 t)) dt``, by Gauss-Legendre in ``t`` (the integrand is smooth for ``|rho| < 1``).
    """
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    h, k, rho = jnp.broadcast_arrays(h, k, rho)
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    x, w = (jnp.asarray(a, h.dtype).reshape((1,) * h.ndim + (n_nodes,)) for a in (x, w))
    top = jnp.arcsin(rho)[..., None]
    t = top * (x + 1) / 2
    h_, k_ = h[..., None], k[..., None]
    cos2 = jnp.square(jnp.cos(t))
    expo = -(jnp.square(h_ - k_) / (2 * cos2) + h_ * k_ / (1 + jnp.sin(t)))
    integral = jnp.sum(w * jnp.exp(expo), axis=-1) * top[..., 0] / 2
    return ndtr(h) * ndtr(k) + integral / (2 * math.pi)


def _max_pool_moments(fn, shift, scale, k_aa, k_ab, size: int, order: int):
    """``E[h(a)^2]`` and ``E[h(a) h(b)]`` for ``h = max(psi(u_1), ..., psi(u_p))``, ``p = size``,
    ``psi = (fn - shift) / scale`` increasing, ``(u_i, v_i)`` iid pairs with kernel ``(k_aa, k_ab, k_aa)``.

    With ``M_a = max_i u_i``, ``h(a) = psi(M_a)`` and ``P(M_a <= s, M_b <= t) = Phi2(s, t)^p``, so the
    joint density is ``p Phi2^(p-1) phi2 + p (p-1) Phi2^(p-2) d_s Phi2 d_t Phi2``, with ``d_s Phi2 =
    phi_k(s) Phi((t - rho s) / sqrt(k (1 - rho^2)))``. Both terms are smooth 2-D Gaussian expectations
    for :func:`jaxbias.kernels.gauss_expect` (integrating ``max`` directly has a kink on ``u_i = u_j``,
    where Gauss rules converge only like ``1 / order``). ``E[psi(M)^2] = p E[psi(u)^2 Phi(u / sqrt(k))^(p-1)]``.
    """
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    from jaxbias.kernels.gaussian import gauss_expect

    def psi(u):
        return (fn(u) - shift) / scale

    p = size
    sd = jnp.sqrt(k_aa)
    p_aa = gauss_expect(lambda u, v: p * jnp.square(psi(u)) * ndtr(u / sd) ** (p - 1), k_aa, 0.0, k_aa, order=order)
    rho = jnp.clip(k_ab / k_aa, -1 + 1e-12, 1 - 1e-12)
    r = sd * jnp.sqrt(1 - rho * rho)

    def cdf(s, t):
        return _bvn_cdf(s / sd, t / sd, rho)

    term_a = gauss_expect(lambda s, t: psi(s) * psi(t) * ndtr((t - rho * s) / r) * ndtr((s - rho * t) / r)
                          * cdf(s, t) ** (p - 2), k_aa, 0.0, k_aa, order=order)
    term_b = gauss_expect(lambda s, t: psi(s) * psi(t) * cdf(s, t) ** (p - 1), k_aa, k_ab, k_aa, order=order)
    p_ab = p * (p - 1) * term_a + p * term_b
    # rho -> 1: both inputs see the same units (M_a = M_b) and the integrands become steps.
    return p_aa, jnp.where(k_ab >= k_aa * (1 - 1e-9), p_aa, p_ab)


def predict_gamma(net: Any, x: Any = None, *, moments: tuple[float, float] | None = None, order: int = 64,
                  n_points: int | None = None) -> Prediction:
    """``gamma`` of a :func:`jaxbias.nets.mlp` predicted by the NNGP recursion (SCIENCE.md sections 2-3).

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
      net: a :func:`jaxbias.nets.mlp` Net, or its config dict.
      x: the input set ``(n_points, d0)`` (its moments by :func:`input_moments`), or None with ``moments``.
      moments: ``(s_aa, s_ab)`` as from :func:`input_moments` / :func:`gaussian_input_moments`.
      order: quadrature order of :func:`jaxbias.kernels.gauss_expect` for activations without a
        closed form and for max pooling.
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

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.mlp(256, 1, "relu", bias=False)
      >>> round(jb.theory.predict_gamma(net, moments=(1.0, 0.0)).gamma, 4)  # E[relu]^2 / Var[relu]
      0.4669
    """
    import jax
    import jax.numpy as jnp

    from jaxbias.nets.activations import get_activation

    config = net if isinstance(net, dict) else getattr(net, "config", None)
    if not isinstance(config, dict) or "arch" not in config:
        raise ValueError(f"net={net!r}: expected a jaxbias mlp Net or its config")
    _check_theory_config(config)
    n_points = _check_n_points(n_points)
    if n_points is not None and n_points < 2:
        raise ValueError(f"n_points={n_points}: expected at least 2 points (a batch of one has no pairs)")
    if n_points is not None and config.get("batch_norm_position") == "pre":
        raise NotImplementedError("batch_norm_position='pre' with n_points: the finite-set law of standardized "
                                  "pre-activations depends on the input set's geometry, not only on n_points")
    if (x is None) == (moments is None):
        raise ValueError("predict_gamma: give exactly one of x (the inputs) and moments=(s_aa, s_ab)")
    if x is not None:
        moments = input_moments(x)
        d0 = int(np.asarray(x).shape[1])
    else:
        d0 = config.get("in_dim") or 1
        if str(config.get("weight_law", "")).startswith("absolute") and not config.get("in_dim"):
            raise ValueError("weight_law='absolute(a)' with moments: build the net with in_dim or pass x")
    s_aa, s_ab = (float(m) for m in moments)
    if not s_aa > 0 or abs(s_ab) > s_aa * (1 + 1e-9):
        raise ValueError(f"moments={moments!r}: expected s_aa > 0 and |s_ab| <= s_aa")
    act = get_activation(config["activation"])
    cws, cbs = _layer_scales(config, d0)
    with jax.enable_x64(True):
        k_aa = jnp.asarray(cbs[0] + cws[0] * s_aa, jnp.float64)
        k_ab = jnp.asarray(cbs[0] + cws[0] * s_ab, jnp.float64)
        gammas = [(k_aa, k_ab)]
        for layer in range(1, config["depth"] + 1):
            p_aa, p_ab = _hidden_moments(act, k_aa, k_ab, config, order, n_points)
            k_aa, k_ab = cbs[layer] + cws[layer] * p_aa, cbs[layer] + cws[layer] * p_ab
            gammas.append((k_aa, k_ab))
        values = [(float(a), float(b)) for a, b in gammas]
    return Prediction(float(gamma_from_kernel(*values[-1])), values[-1][0], values[-1][1],
                      tuple(float(gamma_from_kernel(a, b)) for a, b in values))


REGIMES = ("neutral", "prejudiced", "deep prejudice")


def phase_diagram(activation: Any, weight_vars: Any, bias_vars: Any, depth: int, *,
                  moments: tuple[float, float] = (1.0, 0.0), deep: int = 200, tol: float = 1e-3,
                  order: int = 64) -> dict:
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

    from jaxbias.kernels.gaussian import phi_phi
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
                n_aa = cb_j + cw_j * phi_phi(act, k_aa, k_aa, k_aa, order=order)
                n_ab = cb_j + cw_j * phi_phi(act, k_aa, k_ab, k_aa, order=order)
                return (n_aa, n_ab), (n_aa, n_ab)

            _, trace = jax.lax.scan(step, k0, None, length=steps)
            return trace

        aa, ab = (np.asarray(t) for t in run(cw_j, cb_j))
    k_aa = aa[depth - 1] if depth > 0 else cb + cw * moments[0] + 0 * aa[0]
    k_ab = ab[depth - 1] if depth > 0 else cb + cw * moments[1] + 0 * ab[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(k_aa > k_ab, k_ab / np.where(k_aa > k_ab, k_aa - k_ab, 1.0), np.inf)
        c_deep = np.where(aa[-1] > 0, ab[-1] / np.where(aa[-1] > 0, aa[-1], 1.0), 1.0)
    regime = np.where(c_deep < tol, 0, np.where(c_deep > 1 - tol, 2, 1))
    return {"gamma": gamma, "c_deep": c_deep, "regime": regime}
