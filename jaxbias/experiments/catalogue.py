"""Named theory checks: each one a prediction (from :mod:`jaxbias.theory`), a Monte Carlo measurement and a verdict.

Every entry has ``predict(options) -> list of predictions`` and ``measure(options) -> list of
Measurement`` (per-network values and how to combine them), so the same measurement can be
confronted with any prediction (the tests feed deliberately wrong ones and see them rejected).
:func:`run_check` joins them into rows of :class:`~jaxbias.experiments.checks.CheckResult` (moments)
and :class:`~jaxbias.experiments.checks.DistributionResult` (laws); the overall verdict holds at the
stated confidence (Bonferroni over the rows). :func:`to_dataset` labels the rows for saving.

>>> sorted(CATALOGUE)[:2]
['criticality', 'finite-width']
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy import stats

from jaxbias.engine import reduce
from jaxbias.experiments.checks import MIN_POWER, DistributionResult, check_distribution, compare
from jaxbias.experiments.ntk_fluctuations import ntk_diagonal_samples
from jaxbias.nets import MLP
from jaxbias.nets.activations import get_activation
from jaxbias.nets.core import Net
from jaxbias.results import result_attrs
from jaxbias.theory.finite_width import layer_map, finite_width
from jaxbias.theory.guessing import predict_gamma
from jaxbias.theory.ntk_fluctuations import relu_ntk_moment, relu_ntk_moments, relu_ntk_net
from jaxbias.theory.recursions import chi_perp, critical_weight_var
from jaxbias.validation import check_confidence, check_float, check_int

__all__ = ["CATALOGUE", "CheckOptions", "Entry", "Measurement", "CheckReport", "run_check", "to_dataset",
           "check_options", "confront", "inconclusive_message", "NTKF_MIN_EFFECTIVE_N", "REL_ALTERNATIVE"]


class Measurement(NamedTuple):
    """Monte Carlo values of one row: per-network ``values (n, k, ...)``, reduced by ``combine`` (None: mean).

    A row whose prediction is a law (a frozen ``scipy.stats`` distribution, anything with ``cdf``) is a
    distribution row: its ``values (n,)`` are tested against that law by Kolmogorov-Smirnov.

    ``tolerance`` is the systematic error the prediction admits and ``tolerance_reason`` why;
    ``alternative`` is what the row must tell from the prediction, ``alternative_label`` says what it
    is: a value (or a function of the prediction, e.g. ``lambda p: 1.1 * p``) for a moment row, a
    function of the predicted law returning a law for a distribution row. The report states the power
    against it and calls a pass with power below :data:`~jaxbias.experiments.checks.MIN_POWER` inconclusive.
    """

    label: str
    values: np.ndarray
    combine: Callable | None = None
    tolerance: Any = 0.0
    tolerance_reason: str = ""
    alternative: Any = None
    alternative_label: str = ""


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """The settings of one catalogue check (a typed, hashable value): the MLPs it samples, its inputs and sample.

    A check samples :class:`jaxbias.nets.MLP` networks with the fields below at each of ``depths``
    (one verdict over all depths), on ``in_dim``-dimensional inputs. Build one with
    :func:`check_options`, which starts from the check's defaults.

    Attributes:
      activation, weight_var, bias_var, width, weight_law, out: fields of the sampled MLPs (``weight_var``
        None: the critical ``C_W`` of the activation at ``bias_var``, filled in by :func:`check_options`).
      depths: numbers of hidden layers checked, >= 0.
      in_dim: input dimension.
      n_points, overlap: the guessing-bias inputs (that check only; None elsewhere).
      n: networks per depth (>= 2); key: int seed; confidence: of the overall verdict.
    """

    activation: str = "relu"
    weight_var: float | None = None
    bias_var: float = 0.0
    width: int = 64
    depths: tuple[int, ...] = (1, 2, 3)
    weight_law: str = "normal"
    out: int = 4
    in_dim: int = 8
    n_points: int | None = None
    overlap: float | None = None
    n: int = 2000
    key: int = 0
    confidence: float = 0.99

    def __post_init__(self):
        depths = tuple(check_int("depths", d, 0) for d in np.atleast_1d(self.depths))
        if not depths:
            raise ValueError(f"depths={self.depths!r}: expected at least one number of hidden layers")
        values = {
            "weight_var": None if self.weight_var is None else check_float("weight_var", self.weight_var, 0.0),
            "bias_var": check_float("bias_var", self.bias_var, 0.0),
            "width": check_int("width", self.width, 1),
            "depths": depths,
            "out": check_int("out", self.out, 1),
            "in_dim": check_int("in_dim", self.in_dim, 1),
            "n_points": None if self.n_points is None else check_int("n_points", self.n_points, 2),
            "overlap": None if self.overlap is None else check_float("overlap", self.overlap, 0.0),
            "n": check_int("n", self.n, 2),
            "key": check_int("key", self.key, 0),
            "confidence": check_confidence(self.confidence),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        """The options a check takes, as plain data (fields left None are the ones it does not take)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


class Entry(NamedTuple):
    """A named check: description, default options, ``predict`` and ``measure``."""

    name: str
    description: str
    defaults: CheckOptions
    predict: Callable[[CheckOptions], list]
    measure: Callable[[CheckOptions], list]


class CheckReport(NamedTuple):
    """Rows of one catalogue check and the overall verdict.

    ``passed``: no row rejects the prediction. ``verdict``: "rejected" when one does; "inconclusive"
    when none does but some row's power against its alternative is below
    :data:`~jaxbias.experiments.checks.MIN_POWER` (the networks were too few to catch what the check is
    for: a pass then means nothing); else "consistent". ``power``: the smallest power over the rows.
    """

    name: str
    options: CheckOptions
    rows: list
    confidence: float
    passed: bool
    verdict: str = ""
    power: float = float("nan")


_COMMON = CheckOptions()


def check_options(name: str, *, activation: str | None = None, weight_var: float | None = None,
                  bias_var: float | None = None, width: int | None = None, depths=None, weight_law: str | None = None,
                  out: int | None = None, in_dim: int | None = None, n_points: int | None = None,
                  overlap: float | None = None, n: int | None = None, key: int | None = None,
                  confidence: float | None = None) -> CheckOptions:
    """The options of catalogue check ``name``: its defaults, with every argument that is not None in their place.

    Arguments are the fields of :class:`CheckOptions`. ``weight_var`` left None in the defaults too is the
    critical ``C_W`` of ``activation`` at ``bias_var``.

    Raises:
      ValueError: an unknown check, an option the check does not take (``n_points``, ``overlap``
        outside guessing-bias), a bad value, or no critical ``C_W`` to default to.
    """
    if name not in CATALOGUE:
        raise ValueError(f"check {name!r}: unknown; expected one of {', '.join(sorted(CATALOGUE))}")
    defaults = CATALOGUE[name].defaults
    given = dict(activation=activation, weight_var=weight_var, bias_var=bias_var, width=width, depths=depths,
                 weight_law=weight_law, out=out, in_dim=in_dim, n_points=n_points, overlap=overlap, n=n, key=key,
                 confidence=confidence)
    changes = {k: v for k, v in given.items() if v is not None}
    for k, v in changes.items():
        if getattr(defaults, k) is None and k != "weight_var":
            takes = sorted(set(defaults.to_dict()) | {"weight_var"})
            raise ValueError(f"option {k}={v!r}: check {name!r} takes {', '.join(takes)}")
    o = dataclasses.replace(defaults, **changes)
    if o.weight_var is None:
        critical = float(critical_weight_var(o.activation, o.bias_var))
        if not math.isfinite(critical):
            raise ValueError(f"activation={o.activation!r}, bias_var={o.bias_var}: no critical weight "
                             "variance; pass weight_var")
        o = dataclasses.replace(o, weight_var=critical)
    return o


REL_ALTERNATIVE = 0.1
"""Relative error of a kernel-valued prediction that the kernel checks must detect (their alternative)."""


def _relative_alternative(prediction):
    return (1.0 + REL_ALTERNATIVE) * np.asarray(prediction, np.float64)


_REL_LABEL = "a 10% error of the prediction"
_GAUSSIAN_LABEL = "infinite width (no 1/n effect: 0)"
_SHIFT_REASON = "the 1/width mean shift E G - K = K1/n of the output Gram, which the infinite-width value neglects"


def _net(o: CheckOptions, depth: int, width=None, out=None, law=None):
    return MLP(o.width if width is None else width, depth, o.activation, out=o.out if out is None else out,
               weight_var=o.weight_var, bias_var=o.bias_var, weight_law=law or o.weight_law)


def _inputs(o: CheckOptions, n_points: int = 1) -> np.ndarray:
    """``n_points`` fixed inputs of squared norm ``in_dim`` (so ``K1 = C_b + C_W``); the second at correlation 0.5."""
    d = o.in_dim
    x = np.zeros((n_points, d), np.float32)
    x[0, 0] = math.sqrt(d)
    if n_points > 1:
        x[1, 0], x[1, 1] = math.sqrt(d) * 0.5, math.sqrt(d) * math.sqrt(0.75)
    return x


def _k1(o: CheckOptions, n_points: int) -> list:
    k = o.bias_var + o.weight_var
    return [k] if n_points == 1 else [k, o.bias_var + o.weight_var * 0.5, k]


def _recursion(o: CheckOptions, depth: int, n_points: int = 1, width=None):
    w = o.width if width is None else width
    return finite_width(o.activation, [w] * depth, _k1(o, n_points), o.weight_var, o.bias_var)


def _kernel(o: CheckOptions, depth: int, n_points: int = 1) -> np.ndarray:
    """Infinite-width kernel entries at the output of a ``depth``-hidden-layer net: ``(aa,)`` or ``(aa, ab, bb)``."""
    k = np.asarray(_k1(o, n_points), np.float64)
    for _ in range(depth):
        k = np.asarray(layer_map(get_activation(o.activation), jnp.float32(o.weight_var),
                                  jnp.float32(o.bias_var), jnp.asarray(k, jnp.float32)), np.float64)
    return k


def _sample(o: CheckOptions, net, x, stat, offset: int = 0) -> np.ndarray:
    return reduce(net, x, n=o.n, key=o.key + offset, stat=stat, progress=False)


# -- nngp: the infinite-width kernel at large width ------------------------------------------

def _second_moments(y):  # y (2, out): (E z_a^2, E z_a z_b, E z_b^2) over units
    return jnp.stack([jnp.mean(y[0] ** 2), jnp.mean(y[0] * y[1]), jnp.mean(y[1] ** 2)])


def _nngp_predict(o):
    k = _kernel(o, o.depths[-1], 2)
    return [k, stats.norm(0.0, math.sqrt(k[0]))]


def _nngp_measure(o):
    depth = o.depths[-1]
    fw = _recursion(o, depth, 2)
    values = _sample(o, _net(o, depth), _inputs(o, 2), lambda y: (_second_moments(y), y[0, 0]))
    # E G = K + K1/n: the 1/n mean shift is the admitted systematic error of the infinite-width kernel
    return [Measurement("E z_a z_b (aa, ab, bb)", values[0], tolerance=np.abs(fw.mean_shift[-1]),
                        tolerance_reason=_SHIFT_REASON, alternative=_relative_alternative, alternative_label=_REL_LABEL),
            # The law row tests Gaussianity by KS; the kernel row above carries the power against a wrong variance
            # (KS cannot see a 10 % variance error from 2000 networks: its power there is ~2 %).
            Measurement("law of z_a", values[1])]


# -- finite-width: kurtosis and Cov(z_i^2, z_j^2) over depth -------------------------------

def _fourth_moments(y):  # y (1, out): E z^2, E z^4, E z_1^2 z_2^2 over units (pairs of distinct units)
    z = y[0]
    z2 = z ** 2
    pairs = (jnp.sum(z2) ** 2 - jnp.sum(z2 ** 2)) / (z.shape[0] * (z.shape[0] - 1))
    return jnp.stack([jnp.mean(z2), jnp.mean(z2 ** 2), pairs])


def _kurtosis(m):
    return m[1] / m[0] ** 2 - 3.0


def _square_cov(m):
    return m[2] - m[0] ** 2


def _fw_predict(o):
    kurt, cov = [], []
    for d in o.depths:
        fw = _recursion(o, d)
        kurt.append(3.0 * fw.covariance[-1, 0, 0] / fw.kernel[-1, 0] ** 2)
        cov.append(fw.covariance[-1, 0, 0])
    return [np.array(kurt), np.array(cov)]


def _fw_measure(o):
    if o.out < 2:
        raise ValueError(f"out={o.out}: finite-width needs >= 2 output units (for Cov(z_i^2, z_j^2))")
    kurt, cov = _fw_predict(o)
    shift = np.array([abs(_recursion(o, d).mean_shift[-1, 0] / _recursion(o, d).kernel[-1, 0]) for d in o.depths])
    vals = [_sample(o, _net(o, d), _inputs(o), _fourth_moments, offset=i) for i, d in enumerate(o.depths)]
    stacked = np.stack(vals, axis=1)  # (n, depths, 3): independent samples per depth, one combine over all
    # The measured kurtosis is exactly 3 Var G / (E G)^2 (z | G is Gaussian). Its O(1/n^2) remainder:
    # E G = K (1 + K1/(nK)) moves it by 2 |K1/(nK)| kurt, and Var G = V/n + O(1/n^2) by at most kurt^2 / 2
    # (relu, exact 3((1 + 5/n)^L - 1): the remainder is (L-1)/(6L) kurt^2 <= kurt^2 / 6).
    return [Measurement("excess kurtosis 3V/(nK^2)", stacked, lambda m: jax.vmap(_kurtosis)(m),
                        tolerance=kurt * (2.0 * shift + kurt / 2.0),
                        tolerance_reason="the O(1/n^2) remainder of the 1/n expansion: 2 |K1/(nK)| kurt from "
                                         "E G = K + K1/n, kurt^2/2 from Var G = V/n + O(1/n^2)",
                        alternative=0.0, alternative_label=_GAUSSIAN_LABEL),
            Measurement("Cov(z_i^2, z_j^2) = V/n", stacked, lambda m: jax.vmap(_square_cov)(m),
                        tolerance=np.abs(cov * kurt) / 2.0,
                        tolerance_reason="the O(1/n^2) remainder of V/n: |V/n| kurt / 2",
                        alternative=0.0, alternative_label=_GAUSSIAN_LABEL)]


# -- criticality: signal and gradient norms over depth ---------------------------------------

def _gradient_net(net):
    """A Net whose output at each point is ``|d f / d x|^2`` of ``net``'s first output unit."""
    def apply(params, x):
        g = jax.vmap(jax.grad(lambda xi: net.apply(params, xi[None])[0, 0]))(x)
        return jnp.sum(g ** 2, axis=1, keepdims=True)

    return Net(net.init, apply, "input_gradient_norm")


def _crit_predict(o):
    signal, grad = [], []
    for d in o.depths:
        ks = [_kernel(o, l)[0] for l in range(d + 1)]
        signal.append(ks[-1])
        # E|df/dx|^2 = C_W prod_{l=1..d} chi_perp(K(l)) (Schoenholz et al. 2017, gradient independence)
        chis = [float(chi_perp(o.activation, o.weight_var, o.bias_var, k)) for k in ks[:-1]]
        grad.append(o.weight_var * math.prod(chis))
    return [np.array(signal), np.array(grad)]


def _crit_measure(o):
    x = _inputs(o)
    sig = np.stack([_sample(o, _net(o, d), x, lambda y: jnp.mean(y ** 2), offset=i)
                    for i, d in enumerate(o.depths)], 1)
    grad = np.stack([_sample(o, _gradient_net(_net(o, d, out=1)), x, lambda y: y[0, 0], offset=100 + i)
                     for i, d in enumerate(o.depths)], 1)
    signal_pred, grad_pred = _crit_predict(o)
    rel = np.array([d / o.width for d in o.depths])
    return [Measurement("signal E z^2", sig, tolerance=0.0, alternative=_relative_alternative,
                        alternative_label=_REL_LABEL),
            Measurement("gradient E|df/dx|^2", grad, tolerance=grad_pred * rel * 0.5,
                        tolerance_reason="the gradient-independence approximation (Schoenholz et al. 2017): "
                                         "relative error up to depth / (2 width)",
                        alternative=_relative_alternative, alternative_label=_REL_LABEL)]


# -- order-chaos: correlation of two inputs over depth --------------------------------------

def _corr(m):
    return m[1] / jnp.sqrt(m[0] * m[2])


def _oc_predict(o):
    out = []
    for d in o.depths:
        k = _kernel(o, d, 2)
        out.append(k[1] / math.sqrt(k[0] * k[2]))
    return [np.array(out)]


def _corr_shift(o, depth: int) -> float:
    """First-order 1/n shift of the measured correlation ``E G_ab / sqrt(E G_aa E G_bb)`` from the mean shift K1/n."""
    fw = _recursion(o, depth, 2)
    (aa, ab, bb), (saa, sab, sbb) = fw.kernel[-1], fw.mean_shift[-1]
    c = ab / math.sqrt(aa * bb)
    return float(sab / math.sqrt(aa * bb) - c * (saa / (2 * aa) + sbb / (2 * bb)))


def _oc_measure(o):
    x = _inputs(o, 2)
    vals = np.stack([_sample(o, _net(o, d), x, _second_moments, offset=i) for i, d in enumerate(o.depths)], 1)
    tol = np.array([abs(_corr_shift(o, d)) for d in o.depths])
    return [Measurement("correlation c(l) of two inputs", vals, lambda m: jax.vmap(_corr)(m), tolerance=tol,
                        tolerance_reason="the 1/width shift of the correlation from the mean shift K1/n",
                        alternative=_relative_alternative, alternative_label=_REL_LABEL)]


# -- weight laws: shared infinite-width limit; vertex next to the iid prediction -----------

def _law_predict(o):
    return [np.array([_kernel(o, d)[0] for d in o.depths])]


def _law_measure(o):
    x = _inputs(o)
    vals = np.stack([_sample(o, _net(o, d), x, lambda y: jnp.mean(y ** 2), offset=i)
                     for i, d in enumerate(o.depths)], 1)
    tol = np.array([abs(_recursion(o, d).mean_shift[-1, 0]) for d in o.depths])
    return [Measurement(f"E z^2 under {o.weight_law} weights", vals, tolerance=tol, tolerance_reason=_SHIFT_REASON,
                        alternative=_relative_alternative, alternative_label=_REL_LABEL)]


def _vertex_predict(o):
    return _fw_predict(o)[:1]


def _vertex_measure(o):
    return _fw_measure(o)[:1]


# -- guessing-bias gamma: between-network over within-network variance of the outputs -------

def _igb_inputs(o: CheckOptions) -> np.ndarray:
    """``n_points`` inputs ``x_i = m + s e_i`` with ``|x|^2 = in_dim`` and ``x_i . x_j = in_dim * overlap`` for i != j.

    Equal norms and equal overlaps make the mean-field kernel the same for every pair, so the
    ratio of expectations of the estimator below equals ``q_ab / (q_aa - q_ab)`` at any number of inputs.
    """
    d, p, c = o.in_dim, o.n_points, o.overlap
    if p + 1 > d:
        raise ValueError(f"n_points={p}, in_dim={d}: the guessing-bias inputs need in_dim >= n_points + 1")
    x = np.zeros((p, d), np.float32)
    x[:, 0] = math.sqrt(d * c)
    x[np.arange(p), 1 + np.arange(p)] = math.sqrt(d * (1.0 - c))
    return x


def _igb_stat(y):  # y (n_points, out): unit-averaged mean_x f, (mean_x f)^2 and unbiased var_x f
    m = jnp.mean(y, axis=0)
    return jnp.stack([jnp.mean(m), jnp.mean(m ** 2), jnp.mean(jnp.var(y, axis=0, ddof=1))])


def _igb_gamma(n_points: int):
    def combine(mu):  # gamma_hat = (Var_chi(mean_x f) - E[var_x f] / P) / E[var_x f], per depth
        return (mu[:, 1] - mu[:, 0] ** 2 - mu[:, 2] / n_points) / mu[:, 2]

    return combine


def _igb_predict(o):
    x = _igb_inputs(o)
    return [np.array([predict_gamma(_net(o, d), x).gamma for d in o.depths])]


def _igb_shift(o: CheckOptions, depth: int) -> float:
    """First-order 1/n shift of ``q_ab / (q_aa - q_ab)`` from the mean shift ``E G - K`` of the output Gram."""
    cw, cb, c = o.weight_var, o.bias_var, o.overlap
    fw = finite_width(o.activation, [o.width] * depth, [cb + cw, cb + cw * c, cb + cw], cw, cb)
    (aa, ab, _), (saa, sab, _) = fw.kernel[-1], fw.mean_shift[-1]
    return float((sab * aa - ab * saa) / (aa - ab) ** 2)


def _igb_measure(o):
    x = _igb_inputs(o)
    vals = np.stack([_sample(o, _net(o, d), x, _igb_stat, offset=i) for i, d in enumerate(o.depths)], 1)
    tol = np.array([abs(_igb_shift(o, d)) for d in o.depths])
    return [Measurement("guessing-bias gamma", vals, _igb_gamma(o.n_points), tolerance=tol,
                        tolerance_reason="the 1/width shift of q_ab / (q_aa - q_ab) from the mean shift K1/n",
                        alternative=_relative_alternative, alternative_label=_REL_LABEL)]


# -- ntk-fluctuations: exact E[T] and E[T^2]/E[T]^2 of the diagonal NTK of ReLU nets -------

def _ntkf_ratio(m):  # m (..., 2): means of T and T^2 -> E[T^2] / E[T]^2
    return m[..., 1] / m[..., 0] ** 2


def _ntkf_widths(o: CheckOptions) -> tuple:
    return (o.width, 2 * o.width)


def _ntkf_moments(o: CheckOptions):
    """Exact moments at each (width, depth): :func:`jaxbias.theory.ntk_fluctuations.relu_ntk_moments`."""
    return [[relu_ntk_moments([w] * d, o.in_dim, weight_var=o.weight_var) for d in o.depths]
            for w in _ntkf_widths(o)]


NTKF_MIN_EFFECTIVE_N = 500
"""Least ``n E[T^2]^2 / E[T^4]`` for which the "ntk-fluctuations" verdict is trusted (the CLT for the mean of ``T^2``)."""


def _ntkf_check_sample_size(o: CheckOptions) -> None:
    """Refuses depths/widths where ``n`` networks cannot estimate ``E[T^2]`` (heavy tails at large ``L/width``).

    The sample mean of ``T^2`` behaves like a mean of ``n E[T^2]^2 / E[T^4]`` well-behaved values (exact
    moments from :func:`relu_ntk_moment`). Measured with a float64 replica of the check (300-400 repeats),
    the rate of ``|z| > 2.94`` (nominal 0.33%) for the exact ratio: 0.3% at width 32, depth 4, ``n = 2000``
    (effective 460); 1.8-2% at effective 200 (width 32, depth 4, ``n = 870``; width 16, depth 3,
    ``n = 1330``); 4% at effective 45 (width 16, depth 3, ``n = 300``); 17% at effective 11 (width 16,
    depth 8, ``n = 3000``). Hence the threshold 500.
    """
    for w in _ntkf_widths(o):
        for d in o.depths:
            e2, e4 = (relu_ntk_moment([w] * d, o.in_dim, k, weight_var=o.weight_var) for k in (2, 4))
            eff = o.n * e2 ** 2 / e4
            if eff < NTKF_MIN_EFFECTIVE_N:
                raise ValueError(f"n={o.n}, width={w}, depth={d}: E[T^2] of n networks is dominated by rare ones "
                                 f"(effective sample n E[T^2]^2/E[T^4] = {eff:.0f} < {NTKF_MIN_EFFECTIVE_N}); use "
                                 f"n >= {math.ceil(NTKF_MIN_EFFECTIVE_N * e4 / e2 ** 2)}, a larger width or "
                                 "smaller depths")


def _ntkf_predict(o):
    m = _ntkf_moments(o)
    return [np.array([x.mean for x in m[0]]), np.array([x.ratio for x in m[0]]), np.array([x.ratio for x in m[1]])]


def _ntkf_measure(o):
    if min(o.depths) < 1 or len(set(o.depths)) < len(o.depths):
        raise ValueError(f"depths={o.depths}: ntk-fluctuations needs distinct depths >= 1")
    fixed = dict(activation="relu", bias_var=0.0, weight_law="normal", out=1)
    for k, v in fixed.items():
        if getattr(o, k) != v:
            raise ValueError(f"{k}={getattr(o, k)!r}: ntk-fluctuations checks Hanin & Nica's setting only ({k}={v!r})")
    if not o.weight_var > 0:
        raise ValueError(f"weight_var={o.weight_var!r}: expected C_W > 0")
    _ntkf_check_sample_size(o)
    x = _inputs(o)
    vals = np.stack([np.stack([ntk_diagonal_samples(relu_ntk_net(w, d, weight_var=o.weight_var), x, n=o.n,
                                                    key=o.key + 1000 * j + i)[:, 0]
                               for i, d in enumerate(o.depths)], 1)
                     for j, w in enumerate(_ntkf_widths(o))], 1)  # (n, 2 widths, depths, (T, T^2))
    # The prediction is exact (no neglected order): tolerance 0; float32 rounding is far below the stderr.
    # The depths are sampled independently (keys key + 1000 j + i), so one combine per row over depths is valid.
    w, w2 = _ntkf_widths(o)
    deterministic = "infinite width (a deterministic NTK: ratio 1)"
    return [Measurement(f"E[T], width {w}", vals[:, 0, :, 0], alternative=_relative_alternative,
                        alternative_label=_REL_LABEL),
            Measurement(f"E[T^2]/E[T]^2, width {w}", vals[:, 0], _ntkf_ratio, alternative=1.0,
                        alternative_label=deterministic),
            Measurement(f"E[T^2]/E[T]^2, width {w2}", vals[:, 1], _ntkf_ratio, alternative=1.0,
                        alternative_label=deterministic)]


CATALOGUE: dict[str, Entry] = {
    e.name: e for e in [
        Entry("nngp", "NNGP recursion at large width: E z_a z_b of two inputs and the law of z_a against "
              "the infinite-width kernel (Neal 1996; Lee et al. 2018)",
              dataclasses.replace(_COMMON, activation="tanh", weight_var=1.5, bias_var=0.05, width=512, depths=(3,)),
              _nngp_predict, _nngp_measure),
        Entry("finite-width", "1/n moments at small width: excess kurtosis 3V/(nK^2) and Cov(z_i^2, z_j^2) = V/n "
              "over depth (Roberts, Yaida & Hanin 2022, ch. 4-5)",
              dataclasses.replace(_COMMON, width=32, n=20000, depths=(1, 2)), _fw_predict, _fw_measure),
        Entry("criticality", "signal E z^2 and gradient E|df/dx|^2 over depth: flat at the critical init, "
              "geometric away from it (Schoenholz et al. 2017; RYH ch. 5)",
              dataclasses.replace(_COMMON, width=256, depths=(1, 2, 4)), _crit_predict, _crit_measure),
        Entry("order-chaos", "correlation of two inputs across depth against the c-map (Poole et al. 2016)",
              dataclasses.replace(_COMMON, activation="tanh", weight_var=4.0, bias_var=0.05, width=256,
               depths=(1, 2, 4), n=4000), _oc_predict, _oc_measure),
        Entry("weight-laws", "non-iid weights (orthogonal, sparse, low-rank) share the iid infinite-width "
              "kernel (Nait Saada et al.)",
              dataclasses.replace(_COMMON, weight_law="orthogonal", width=64, n=1000, depths=(1, 3)),
              _law_predict, _law_measure),
        Entry("weight-law-vertex", "measured excess kurtosis under a weight law next to the iid 1/n prediction "
              "(a difference is a finding, not a bug)",
              dataclasses.replace(_COMMON, weight_law="orthogonal", width=32, n=20000, depths=(1, 2)),
              _vertex_predict, _vertex_measure),
        Entry("guessing-bias", "initial guessing bias gamma = Var_chi(mean_x f) / E var_x f (finite-n corrected) "
              "against q_ab / (q_aa - q_ab) from the NNGP recursion (Francazi et al. 2024)",
              dataclasses.replace(_COMMON, width=256, depths=(1, 3), in_dim=32, n_points=16, overlap=0.25),
              _igb_predict, _igb_measure),
        Entry("ntk-fluctuations", "diagonal NTK T of ReLU nets (no biases, ntk parameterization, one output; the "
              "setting of Hanin & Nica 2020): E[T] and E[T^2]/E[T]^2 over depth at the width and twice the width "
              "against their exact finite-width values (jaxbias.theory.relu_ntk_moments)",
              dataclasses.replace(_COMMON, weight_var=2.0, width=32, depths=(1, 2, 4), n=3000, out=1),
              _ntkf_predict, _ntkf_measure),
    ]
}
"""The named checks of ``jaxbias check`` (:func:`run_check`), by name: each a prediction, its estimator and its alternative."""


def run_check(name: str, *, activation: str | None = None, weight_var: float | None = None,
              bias_var: float | None = None, width: int | None = None, depths=None, weight_law: str | None = None,
              out: int | None = None, in_dim: int | None = None, n_points: int | None = None,
              overlap: float | None = None, n: int | None = None, key: int | None = None,
              confidence: float | None = None) -> CheckReport:
    """Runs catalogue check ``name``; arguments that are not None override its defaults (:func:`check_options`).

    Returns:
      :class:`CheckReport`; each row is tested at ``1 - (1 - confidence) / rows`` so that the overall
      verdict holds at ``confidence``. Its ``verdict`` is "inconclusive" (and a warning is issued) when
      no row rejects but the networks were too few to catch what the check is for (power below
      :data:`~jaxbias.experiments.checks.MIN_POWER` against a row's alternative).
    """
    o = check_options(name, activation=activation, weight_var=weight_var, bias_var=bias_var, width=width,
                      depths=depths, weight_law=weight_law, out=out, in_dim=in_dim, n_points=n_points,
                      overlap=overlap, n=n, key=key, confidence=confidence)
    entry = CATALOGUE[name]
    predictions = entry.predict(o)
    measurements = entry.measure(o)
    report = confront(name, o, predictions, measurements)
    if report.verdict == "inconclusive":
        warnings.warn(f"check {name}: {inconclusive_message(report)}", stacklevel=2)
    return report


def inconclusive_message(report: CheckReport) -> str:
    """Why a report is inconclusive: the weakest row, its power against its alternative, and a sample size that would do."""
    weakest, worst = None, 2.0
    for r in report.rows:
        pw = r.power if isinstance(r, DistributionResult) else float(np.nanmin(r.power)) \
            if r.power is not None and not np.all(np.isnan(r.power)) else float("nan")
        if pw == pw and pw < worst:
            weakest, worst = r, pw
    if weakest is None:
        return ""
    label = weakest.alternative if isinstance(weakest, DistributionResult) else weakest.alternative_label
    text = (f"no row rejects the prediction, but with n={report.options.n} networks the power of "
            f"'{weakest.name}' against {label or 'its alternative'} is only {worst:.2f} < "
            f"{MIN_POWER}: the check cannot tell the prediction from what it is meant to catch")
    if isinstance(weakest, DistributionResult):
        return text + "; use more networks (--n)"
    # stderr ~ 1/sqrt(n): the n at which the band z_c stderr + tolerance leaves the alternative by z_0.8 stderr
    shift = np.abs(np.ravel(weakest.alternative) - np.ravel(weakest.prediction)) - np.ravel(weakest.tolerance)
    need = np.where(shift > 0, ((weakest.critical_z + stats.norm.isf(1 - MIN_POWER)) * np.ravel(weakest.stderr)
                                / np.where(shift > 0, shift, 1.0)) ** 2 * report.options.n, np.inf)
    need = float(np.nanmax(need))
    if math.isfinite(need):
        return text + f"; use about n >= {math.ceil(need)} networks (from this run's standard errors)"
    return text + ("; the stated tolerance is wider than the distance to the alternative, so no number of networks "
                   "can: use a larger width or smaller depths")


def confront(name: str, o: CheckOptions, predictions: list, measurements: list) -> CheckReport:
    """Rows of a report from predictions and measurements (row ``i`` pairs ``predictions[i]`` with ``measurements[i]``)."""
    conf = 1.0 - (1.0 - o.confidence) / len(measurements)
    rows = []
    for pred, m in zip(predictions, measurements):
        if hasattr(pred, "cdf"):
            alt = m.alternative(pred) if callable(m.alternative) else m.alternative
            rows.append(check_distribution(m.values, pred, confidence=conf, name=m.label, key=o.key,
                                           alternative=alt, alternative_label=m.alternative_label))
        else:
            alt = m.alternative(pred) if callable(m.alternative) else m.alternative
            rows.append(compare(pred, m.values, m.combine, confidence=conf, tolerance=m.tolerance, name=m.label,
                                alternative=alt, tolerance_reason=m.tolerance_reason)._replace(
                                    alternative_label=m.alternative_label))
    powers = [r.power if isinstance(r, DistributionResult) else
              (float(np.nanmin(r.power)) if r.power is not None and not np.all(np.isnan(r.power)) else float("nan"))
              for r in rows]
    powers = [p for p in powers if p == p]
    least = min(powers) if powers else float("nan")
    passed = all(r.passed for r in rows)
    verdict = "rejected" if not passed else ("inconclusive" if least == least and least < MIN_POWER else "consistent")
    return CheckReport(name, o, rows, o.confidence, passed, verdict, least)


def to_dataset(report: CheckReport) -> xr.Dataset:
    """The report as an ``xarray.Dataset`` with one entry per (row, component) along dim ``row``.

    ``p_value`` is each component's own p-value, Bonferroni-adjusted over the whole check: for a
    moment component, ``min(1, R m 2 Phi(-|z|))`` with ``R`` rows and ``m`` components in its row (the
    correction the verdict uses), for a law the KS p-value times ``R``; a component is rejected when
    it is below ``1 - confidence`` and the estimate lies outside ``tolerance + critical_z stderr``
    (``status``: "ok", "within tolerance", "rejected"). ``power`` is the probability of rejecting the
    prediction were ``alternative`` true (for a law: were the alternative law true).
    """
    cols: dict[str, list] = {k: [] for k in ("check", "component", "kind", "prediction", "tolerance", "estimate",
                                             "stderr", "ci_low", "ci_high", "z", "p_value", "status", "passed",
                                             "alternative", "power", "tolerance_reason", "alternative_label")}
    depths = report.options.depths
    n_rows = len(report.rows)
    for r in report.rows:
        if isinstance(r, DistributionResult):
            vals = dict(check=r.name, component="law", kind=r.method, prediction=np.nan, tolerance=0.0,
                        estimate=r.statistic, stderr=np.nan, ci_low=0.0, ci_high=r.threshold, z=np.nan,
                        p_value=min(1.0, n_rows * r.p_value), status="ok" if r.passed else "rejected",
                        passed=r.passed, alternative=np.nan, power=r.power, tolerance_reason="",
                        alternative_label=r.alternative)
            for k, v in vals.items():
                cols[k].append(v)
            continue
        m = r.prediction.size
        comps = [f"depth={d}" for d in depths] if m == len(depths) else [str(i) for i in range(m)]
        ok = np.abs(np.ravel(r.estimate - r.prediction)) <= r.critical_z * np.ravel(r.stderr) + np.ravel(r.tolerance)
        for i in range(m):
            for k in ("prediction", "estimate", "stderr", "ci_low", "ci_high", "z", "tolerance", "alternative",
                      "power"):
                cols[k].append(float(np.ravel(getattr(r, k))[i]))
            cols["check"].append(r.name)
            cols["component"].append(comps[i])
            cols["kind"].append("moment")
            cols["p_value"].append(min(1.0, n_rows * float(np.ravel(r.p_values)[i])))
            cols["status"].append("rejected" if not ok[i] else
                                  "within tolerance" if bool(np.ravel(r.within_tolerance)[i]) else "ok")
            cols["passed"].append(bool(ok[i]))
            cols["tolerance_reason"].append(r.tolerance_reason)
            cols["alternative_label"].append(r.alternative_label)
    data = {k: ("row", np.asarray(v)) for k, v in cols.items()}
    attrs = result_attrs({"check": report.name, "options": report.options.to_dict()}, report.options.key)
    attrs.update(verdict=report.verdict or ("consistent" if report.passed else "rejected"),
                 confidence=report.confidence, n=report.options.n, min_power=MIN_POWER,
                 power=report.power,
                 p_value_meaning=f"two-sided normal p-value of z against the prediction, Bonferroni-adjusted over "
                                 f"the {n_rows} rows and the components of each row (laws: KS p-value x {n_rows})")
    return xr.Dataset(data, attrs=attrs)
