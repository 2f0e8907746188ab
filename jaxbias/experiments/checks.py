"""Theory against simulation: a prediction against a Monte Carlo estimate over random networks, with a verdict.

A check is a statistical statement. From ``n`` independent
networks a per-network statistic is computed inside the engine's compiled program; the
estimate is a smooth function ``combine`` of the statistic's means (identity: the estimate is
the mean itself; a ratio of means for a correlation; ``E z^4 / E[z^2]^2 - 3`` for a kurtosis),
with a standard error by the delta method,

    Var[combine(mean)] ~ grad(combine) Cov(stat) grad(combine)^T / n,

the gradient taken with ``jax.jacfwd``. A check of ``m`` values at once (over depth, say) uses
a simultaneous (Bonferroni) critical value ``z_c = Phi^-1(1 - (1 - confidence) / (2 m))``: the
confidence intervals ``estimate +- z_c stderr`` hold together at the stated confidence, and the
verdict "consistent" means every ``|estimate - prediction| <= z_c stderr + tolerance``.
``tolerance`` is the systematic error the prediction admits (e.g. the O(1/n^2) remainder of a
1/n expansion); it is stated in the result with the reason it applies, never hidden in the
standard error. Each component also has a real p-value, that of its z statistic against the
prediction itself (two-sided normal, Bonferroni-adjusted: multiplied by the number of components
tested together): a component with ``p < 1 - confidence`` passes only when the estimate lies within
the stated tolerance (``within_tolerance``).

A pass says nothing when the sample is too small to reject the alternative the check is meant to
catch (the infinite-width value for a 1/n effect, a 10 % error of a kernel, ...). Given an
``alternative``, the result states the power against it: the probability that the test rejects it
were it true, ``P(|N(alt - prediction, stderr^2)| > z_c stderr + tolerance)`` (normal approximation
with the measured standard error); callers report a pass with power below :data:`MIN_POWER` as
inconclusive, not as consistent.

Distribution checks compare the ``n`` per-network values of one quantity with a reference law
(or reference samples) by the Kolmogorov-Smirnov test or by the 1-Wasserstein distance, whose
null distribution is simulated from the reference.

>>> import numpy as np
>>> values = np.random.default_rng(0).normal(1.0, 2.0, size=(4000, 1))
>>> r = compare(np.array([1.0]), values, confidence=0.99)
>>> bool(r.passed), bool(compare(np.array([1.5]), values).passed)
(True, False)
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as _stats

from jaxbias.engine import reduce
from jaxbias.validation import check_confidence

__all__ = [
    "Estimator",
    "CheckResult",
    "DistributionResult",
    "critical_z",
    "compare",
    "merge",
    "check",
    "check_distribution",
    "MIN_POWER",
    "power",
]

MIN_POWER = 0.8
"""Least power against a check's alternative for which a pass is reported as "consistent" (else "inconclusive")."""


class Estimator(NamedTuple):
    """How to estimate a quantity from random networks.

    Attributes:
      stat: ``stat(y) -> array (k, ...)``: per-network values from one network's outputs
        ``y (n_points, n_out)``; it runs inside the engine's compiled program.
      combine: ``combine(means (k, ...)) -> estimate (...)``, a smooth function of the means of
        ``stat`` over networks (jax-traceable); None: the estimate is the mean of ``stat``.
    """

    stat: Callable[[jax.Array], jax.Array]
    combine: Callable[[jax.Array], jax.Array] | None = None


class CheckResult(NamedTuple):
    """The outcome of a moment check; array fields share one shape ``(m,)`` (or the prediction's shape).

    Attributes:
      name: what was checked.
      prediction: the theory's value.
      estimate: the Monte Carlo estimate.
      stderr: its standard error (delta method).
      ci_low, ci_high: simultaneous confidence interval ``estimate -+ critical_z * stderr``.
      z: ``(estimate - prediction) / stderr``.
      tolerance: systematic error admitted for the prediction (0: none).
      confidence: the stated confidence, e.g. 0.99.
      critical_z: the simultaneous two-sided critical value over all ``m`` components.
      p_value: the smallest of ``p_values`` (the worst component).
      passed: True when every component has ``|estimate - prediction| <= critical_z * stderr + tolerance``
        (its ``p_values >= 1 - confidence``, or it lies within the tolerance: ``within_tolerance``).
      n: number of networks per estimate.
      p_values: per component, the two-sided normal p-value of ``z`` (against the prediction itself,
        tolerance not subtracted), Bonferroni-adjusted: ``min(1, m * 2 * Phi(-|z|))`` over the ``m``
        components tested together.
      within_tolerance: per component, True when ``p_values < 1 - confidence`` but the estimate lies
        within ``tolerance + critical_z * stderr`` of the prediction (it passes by the tolerance).
      alternative: per component, the value the check is meant to tell from the prediction (NaN: none given).
      power: per component, the probability of rejecting the prediction were ``alternative`` true
        (:func:`power`; NaN without an alternative).
      tolerance_reason: why the tolerance applies ("" for none).
      alternative_label: what ``alternative`` is ("" for none).
    """

    name: str
    prediction: np.ndarray
    estimate: np.ndarray
    stderr: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    z: np.ndarray
    tolerance: np.ndarray
    confidence: float
    critical_z: float
    p_value: float
    passed: bool
    n: int
    p_values: np.ndarray | None = None
    within_tolerance: np.ndarray | None = None
    alternative: np.ndarray | None = None
    power: np.ndarray | None = None
    tolerance_reason: str = ""
    alternative_label: str = ""


class DistributionResult(NamedTuple):
    """The outcome of a distribution check.

    Attributes:
      name: what was checked.
      method: "ks" (Kolmogorov-Smirnov distance sup |F_n - F|) or "wasserstein" (W1 distance).
      statistic: the observed distance.
      threshold: the distance above which the check fails at ``confidence``.
      p_value: probability under the reference of a distance at least as large.
      confidence: the stated confidence.
      passed: True when ``p_value >= 1 - confidence``.
      n: number of sampled values.
      alternative: a description of the alternative law the power is stated against ("" for none).
      power: probability that the test rejects the reference were the alternative law true
        (simulated; NaN without an alternative).
    """

    name: str
    method: str
    statistic: float
    threshold: float
    p_value: float
    confidence: float
    passed: bool
    n: int
    alternative: str = ""
    power: float = float("nan")


def critical_z(confidence: float, m: int = 1) -> float:
    """Two-sided simultaneous critical value for ``m`` z-scores (Bonferroni): ``Phi^-1(1 - (1 - c) / (2 m))``."""
    confidence = check_confidence(confidence)
    return float(_stats.norm.isf((1.0 - confidence) / (2.0 * m)))


def power(prediction, alternative, stderr, tolerance, critical: float) -> np.ndarray:
    """Probability that ``|estimate - prediction| > critical * stderr + tolerance`` when ``estimate ~ N(alternative, stderr^2)``.

    The power of a check against ``alternative`` (normal approximation of the estimate, with the
    measured standard error). With ``stderr = 0`` it is 1 if the alternative lies beyond the tolerance, else 0.

    Example:
      >>> round(float(power(0.0, 1.0, 0.25, 0.0, 1.959963984540054)), 3)  # Phi(4 - 1.96) + Phi(-4 - 1.96)
      0.979
    """
    prediction, alternative, stderr, tolerance = np.broadcast_arrays(
        *(np.asarray(a, np.float64) for a in (prediction, alternative, stderr, tolerance)))
    shift = alternative - prediction
    band = critical * stderr + tolerance
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(stderr > 0, _stats.norm.sf((band - shift) / np.where(stderr > 0, stderr, 1.0))
                       + _stats.norm.cdf((-band - shift) / np.where(stderr > 0, stderr, 1.0)),
                       (np.abs(shift) > tolerance).astype(np.float64))
    return np.where(np.isnan(alternative), np.nan, out)


def _verdict(name, prediction, estimate, stderr, tolerance, confidence, n, alternative=None,
             tolerance_reason: str = "") -> CheckResult:
    prediction, estimate, stderr = (np.asarray(a, np.float64) for a in (prediction, estimate, stderr))
    tolerance = np.broadcast_to(np.asarray(tolerance, np.float64), prediction.shape).copy()
    if np.any(tolerance < 0) or not np.all(np.isfinite(tolerance)):
        raise ValueError(f"tolerance={tolerance!r}: expected finite values >= 0")
    m = max(int(prediction.size), 1)
    zc = critical_z(confidence, m)
    diff = estimate - prediction
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stderr > 0, diff / stderr, np.where(diff == 0, 0.0, np.inf * np.sign(diff)))
    if not np.all(np.isfinite(estimate)):
        raise ValueError(f"{name or 'check'}: the Monte Carlo estimate is not finite ({estimate!r}); "
                         "the networks' outputs overflowed or the statistic divides by zero")
    alpha = 1.0 - confidence
    p_values = np.minimum(1.0, m * 2.0 * _stats.norm.sf(np.abs(z)))
    ok = np.abs(diff) <= zc * stderr + tolerance
    within = ok & (p_values < alpha)
    alt = np.full(prediction.shape, np.nan) if alternative is None else \
        np.broadcast_to(np.asarray(alternative, np.float64), prediction.shape).copy()
    return CheckResult(
        name=name, prediction=prediction, estimate=estimate, stderr=stderr,
        ci_low=np.asarray(estimate - zc * stderr), ci_high=np.asarray(estimate + zc * stderr), z=z, tolerance=tolerance,
        confidence=confidence, critical_z=zc, p_value=float(np.min(p_values)) if p_values.size else 1.0,
        passed=bool(np.all(ok)), n=int(n), p_values=p_values, within_tolerance=within, alternative=alt,
        power=power(prediction, alt, stderr, tolerance, zc), tolerance_reason=tolerance_reason,
    )


def _delta_method(values: np.ndarray, combine: Callable | None) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, stderr) of ``combine(mean(values, 0))`` from per-network ``values (n, k, ...)``."""
    n = values.shape[0]
    flat = values.reshape(n, -1).astype(np.float64)
    mean = flat.mean(0)
    cov = np.atleast_2d(np.cov(flat, rowvar=False, ddof=1))
    if combine is None:
        return mean.reshape(values.shape[1:]), np.sqrt(np.diag(cov) / n).reshape(values.shape[1:])
    shape = values.shape[1:]

    def g(mu):
        return jnp.ravel(combine(mu.reshape(shape)))

    mu32 = jnp.asarray(mean, jnp.float32)
    est = np.asarray(g(mu32), np.float64)
    jac = np.asarray(jax.jacfwd(g)(mu32), np.float64)  # (m, k)
    var = np.einsum("mk,kl,ml->m", jac, cov, jac) / n
    out_shape = np.shape(combine(jnp.zeros(shape, jnp.float32)))
    return est.reshape(out_shape), np.sqrt(np.maximum(var, 0.0)).reshape(out_shape)


def compare(prediction, values, combine: Callable | None = None, *, confidence: float = 0.99,
            tolerance=0.0, name: str = "", alternative=None, tolerance_reason: str = "") -> CheckResult:
    """Checks ``prediction`` against per-network ``values`` already sampled.

    Args:
      prediction: the predicted value of ``combine(E[values])``, any shape ``S``.
      values: per-network statistics ``(n, k, ...)``, one row per independent network.
      combine: smooth function of the means ``(k, ...) -> S``; None: the estimate is the mean.
      confidence: stated confidence of the verdict and of the simultaneous intervals.
      tolerance: admitted systematic error of the prediction (scalar or shape ``S``).
      name: label of the check.
      alternative: the value (scalar or shape ``S``) the check must tell from the prediction; the
        result states its power against it (None: no power stated).
      tolerance_reason: why ``tolerance`` applies, carried into the result for printing.

    Returns:
      A :class:`CheckResult`.

    Raises:
      ValueError: fewer than 2 networks, non-finite values, a prediction whose shape does not
        match the estimate, a bad confidence or tolerance.
    """
    confidence = check_confidence(confidence)
    values = np.asarray(values)
    if values.ndim < 1 or values.shape[0] < 2:
        raise ValueError(f"values with shape {values.shape}: expected (n, ...) with n >= 2 networks")
    if not np.all(np.isfinite(values)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        raise ValueError(f"values contain {bad} non-finite entries: the networks' outputs overflowed "
                         "(lower the weight variance or the depth, or check the statistic)")
    est, se = _delta_method(values, combine)
    prediction = np.asarray(prediction, np.float64)
    if prediction.shape != est.shape:
        raise ValueError(f"prediction with shape {prediction.shape}: expected the estimate's shape {est.shape}")
    return _verdict(name, prediction, est, se, tolerance, confidence, values.shape[0], alternative, tolerance_reason)


def merge(results: Sequence[CheckResult], name: str = "") -> CheckResult:
    """Joins checks on independent samples into one, with the simultaneous critical value over all components.

    Every result must have the same confidence; the arrays are flattened and concatenated.
    """
    results = list(results)
    if not results:
        raise ValueError("results=[]: expected at least one CheckResult")
    confidence = results[0].confidence
    if any(r.confidence != confidence for r in results):
        raise ValueError(f"results with confidences {[r.confidence for r in results]}: expected one confidence")
    cat = {f: np.concatenate([np.ravel(getattr(r, f)) for r in results])
           for f in ("prediction", "estimate", "stderr", "tolerance")}
    alt = np.concatenate([np.ravel(r.alternative) if r.alternative is not None else np.full(r.prediction.size, np.nan)
                          for r in results])
    reasons = "; ".join(dict.fromkeys(r.tolerance_reason for r in results if r.tolerance_reason))
    n = min(r.n for r in results)
    return _verdict(name or results[0].name, cat["prediction"], cat["estimate"], cat["stderr"], cat["tolerance"],
                    confidence, n, alt, reasons)


def check(net, x, estimator: Estimator, prediction, *, n: int, key=0, confidence: float = 0.99, tolerance=0.0,
          name: str = "", chunk_size: int | None = None, memory_budget=None,
          progress: bool | None = None) -> CheckResult:
    """Runs ``n`` random networks through the engine and checks ``prediction`` against their estimate.

    Args:
      net: the network (a spec such as :class:`~jaxbias.nets.MLP`, or any ``(init, apply)`` net).
      x: inputs ``(n_points, *input_shape)``.
      estimator: the :class:`Estimator` (per-network ``stat`` and ``combine``).
      prediction: the predicted value of the estimator's quantity.
      n: number of networks (>= 2).
      key: int seed or JAX key; network ``i`` uses ``fold_in(key, i)``.
      confidence, tolerance, name: as in :func:`compare`.
      chunk_size, memory_budget, progress: engine options (:func:`jaxbias.reduce`).

    Returns:
      A :class:`CheckResult`.

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.MLP(width=32, depth=1, activation="relu", weight_var=2.0)
      >>> x = jb.inputs.sphere(dim=4, n=1)  # |x|^2 = 1: K1 = C_W |x|^2 / d0 = 0.5, output variance 0.5
      >>> est = Estimator(stat=lambda y: (y ** 2).mean())
      >>> bool(check(net, x, est, 0.5, n=2000, progress=False).passed)
      True
    """
    if not isinstance(estimator, Estimator):
        raise TypeError(f"estimator={estimator!r}: expected a jaxbias.experiments.Estimator(stat, combine)")
    confidence = check_confidence(confidence)
    values = reduce(net, x, n=n, key=key, stat=estimator.stat, chunk_size=chunk_size, memory_budget=memory_budget,
                    progress=progress)
    return compare(prediction, values, estimator.combine, confidence=confidence, tolerance=tolerance, name=name)


def _w1_to_cdf(values: np.ndarray, cdf: Callable) -> float:
    """W1 between the empirical law of ``values`` and a continuous CDF: the integral of |F_n - F|."""
    v = np.sort(values)
    lo, hi = v[0], v[-1]
    span = max(hi - lo, 1e-12)
    # Tails beyond the sample: integrate F below the minimum and 1 - F above the maximum.
    grid_lo = np.linspace(lo - 10 * span, lo, 2001)
    grid_hi = np.linspace(hi, hi + 10 * span, 2001)
    tail = np.trapezoid(cdf(grid_lo), grid_lo) + np.trapezoid(1.0 - cdf(grid_hi), grid_hi)
    # Between order statistics F_n is constant = i / n: integrate |i/n - F| by a fine grid per gap.
    t = np.linspace(0.0, 1.0, 9)
    pts = v[:-1, None] + (v[1:] - v[:-1])[:, None] * t[None, :]
    level = (np.arange(1, len(v)) / len(v))[:, None]
    inner = np.trapezoid(np.abs(level - cdf(pts)), pts, axis=1).sum()
    return float(tail + inner)


def check_distribution(values, reference, *, method: str = "ks", confidence: float = 0.99, name: str = "",
                       n_null: int = 200, key: int = 0, alternative=None, alternative_label: str = "",
                       n_power: int = 200) -> DistributionResult:
    """Checks that ``values`` (iid over networks) follow ``reference``.

    Args:
      values: ``(n,)`` one number per network.
      reference: a law with ``cdf`` (and ``ppf`` for Wasserstein), e.g. ``scipy.stats.norm(0, s)``,
        or a 1-D array of reference samples (two-sample test).
      method: "ks" (Kolmogorov-Smirnov; exact/asymptotic p-value from scipy) or "wasserstein"
        (W1 distance; its null distribution simulated ``n_null`` times from the reference, or by
        permutation for reference samples).
      confidence: stated confidence of the verdict.
      name: label of the check.
      n_null: simulations of the null distribution for "wasserstein".
      key: seed of those simulations.
      alternative: a law (with ``rvs``, e.g. ``scipy.stats.norm(0, 1.05 s)``) the check must tell from
        the reference (``method="ks"`` with a reference law only); the power against it is simulated
        from ``n_power`` samples of ``n`` values (None: no power stated).
      alternative_label: a description of ``alternative`` for the result.

    Returns:
      A :class:`DistributionResult`.
    """
    confidence = check_confidence(confidence)
    if method not in ("ks", "wasserstein"):
        raise ValueError(f"method={method!r}: expected 'ks' or 'wasserstein'")
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"values with shape {values.shape}: expected (n,) with n >= 2")
    if not np.all(np.isfinite(values)):
        raise ValueError("values contain non-finite entries: expected finite per-network values")
    samples = None if hasattr(reference, "cdf") else np.asarray(reference, np.float64)
    if samples is not None and (samples.ndim != 1 or samples.size < 2):
        raise ValueError(f"reference: expected a law with .cdf (e.g. scipy.stats.norm(0, 1)) or (m,) samples, "
                         f"got {type(reference).__name__}")
    n = values.size
    alpha = 1.0 - confidence
    if method == "ks":
        if samples is None:
            res = _stats.kstest(values, reference.cdf)
        else:
            res = _stats.ks_2samp(values, samples)
        stat, p = float(res.statistic), float(res.pvalue)
        m = n if samples is None else n * samples.size / (n + samples.size)
        threshold = float(_stats.kstwobign.isf(alpha) / math.sqrt(m))
        pw = float("nan")
        if alternative is not None:
            if samples is not None:
                raise ValueError("alternative: the power is simulated against a reference law, not reference samples")
            draws = alternative.rvs(size=(n_power, n), random_state=np.random.default_rng(key + 1))
            pw = float(np.mean([_stats.kstest(d, reference.cdf).pvalue < alpha for d in draws]))
        return DistributionResult(name, method, stat, threshold, p, confidence, bool(p >= alpha), n,
                                  alternative_label if alternative is not None else "", pw)
    rng = np.random.default_rng(key)
    if samples is None:
        if not hasattr(reference, "ppf"):
            raise ValueError("reference: method='wasserstein' needs a law with .ppf (or reference samples)")
        stat = _w1_to_cdf(values, reference.cdf)
        null = np.array([_w1_to_cdf(reference.ppf(rng.uniform(size=n)), reference.cdf) for _ in range(n_null)])
    else:
        stat = float(_stats.wasserstein_distance(values, samples))
        pooled = np.concatenate([values, samples])
        null = np.empty(n_null)
        for i in range(n_null):
            perm = rng.permutation(pooled)
            null[i] = _stats.wasserstein_distance(perm[:n], perm[n:])
    p = float((1 + np.sum(null >= stat)) / (n_null + 1))
    threshold = float(np.quantile(null, confidence))
    return DistributionResult(name, method, stat, threshold, p, confidence, bool(p >= alpha), n)
