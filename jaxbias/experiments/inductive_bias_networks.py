"""Inductive bias from trained networks (network mode) and exact counts on a Boolean task (Boopathy et al., IJCAI 2024).

Kernel mode (:mod:`jaxbias.experiments.inductive_bias`) takes the hypotheses that fit a training set to be the
samples of a conditioned Gaussian process. Network mode takes them to be the networks an optimiser reaches:
``n`` networks of one architecture are trained at once (:func:`jaxbias.train`, network ``i`` from
``jb.sample``'s network ``i``), each network's final test error is recorded, and

    I(eps) = -log2 P(test error <= eps)

is estimated from those ``n`` errors (:func:`tail_bits`):

* ``"empirical"`` where at least ``min_count`` networks reach ``eps``: ``k / n`` with a Clopper-Pearson interval;
* ``"extrapolation"`` (test MSE only) below: a power-law lower tail ``P(E <= e) = (k / n) (e / u)^alpha`` for
  ``e <= u = e_(k)``, the ``k``-th smallest error, with ``alpha`` fitted by maximum likelihood to the ``k`` smallest
  errors (Hill's estimator for minima: the Weibull domain of attraction with lower endpoint 0). This is an
  extrapolation beyond the data, stated as such; its interval joins the exact chi-square interval of ``alpha``
  (``2 alpha sum log(u / e_i) ~ chi2_{2k}`` under the model) and the Clopper-Pearson interval of ``k / n``, each at
  half the level (Bonferroni). It assumes the errors can approach 0; where they cannot, it underestimates the bits.
* ``"bound"`` where neither applies: no estimate, only the Clopper-Pearson lower bound on the bits
  (``bits_lo``; ``bits_hi`` is ``inf``).

Errors (both recorded per network, :func:`network_errors`):

* ``"mse"``: the mean over test points x outputs of ``(f - y)^2``, with ``y`` the targets of kernel mode (one-hot
  labels for classification, the regression targets otherwise): the scale of kernel mode's ``Q``.
  (``jb.train``'s ``test_loss`` with ``loss="mse"`` is half of it.)
* ``"zero_one"``: the fraction of test points misclassified (classification: largest output, or the sign of a single
  output; regression with +-1 targets: the sign of each output).

Ground truth on a tiny Boolean task (:func:`boolean_comparison`): the prior itself, random networks conditioned on
fitting the training points by rejection. The sign tables of ``n_prior`` random networks on all the task's points
are counted on device (:func:`jaxbias.summaries.count_distinct`, as ``jaxbias boolean-prior`` does) and
``P(zero-one test error <= eps | signs fit the training labels)`` follows from exact counts of truth tables, with a
Clopper-Pearson interval. Beside it: the same architecture's NNGP (kernel mode; conditioned on +-1 values, so a
different hypothesis set) and trained networks.

>>> import jaxbias as jb
>>> from jaxbias.experiments.inductive_bias_networks import tail_bits
>>> import numpy as np
>>> t = tail_bits(np.geomspace(0.01, 1, 1000), [0.5, 0.001], min_count=10)
>>> t.method.tolist(), round(float(t.bits[0]), 2)
(['empirical', 'extrapolation'], 0.24)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy import stats

from jaxbias import engine
from jaxbias.datasets import Dataset, from_arrays
from jaxbias.experiments.inductive_bias import Infinite, kernel_matrix, posterior_gchisq, targets
from jaxbias.experiments.inductive_bias import inductive_bias as kernel_inductive_bias
from jaxbias.results import result_attrs
from jaxbias.summaries import count_distinct, unpack_bits
from jaxbias.training.engine import train
from jaxbias.validation import check_int, check_n

__all__ = ["Tail", "ERRORS", "TaskError", "network_errors", "tail_bits", "inductive_bias_networks",
           "prior_counts", "boolean_comparison", "pm1_dataset"]

ERRORS = ("mse", "zero_one")
LN2 = math.log(2.0)
_MAX_EXACT_POINTS = 1024  # count_distinct packs tables of at most 1024 bits exactly


class Tail(NamedTuple):
    """:func:`tail_bits`'s estimate per ``eps`` (arrays ``(m,)``): ``bits``, ``bits_lo``/``bits_hi`` (interval at
    ``confidence``), ``count`` (errors ``<= eps``), ``method`` (``"empirical"``, ``"extrapolation"``, ``"bound"``);
    ``alpha``, ``threshold``, ``n_tail``: the power-law fit (``nan``/0 when not fitted)."""

    epsilon: np.ndarray
    bits: np.ndarray
    bits_lo: np.ndarray
    bits_hi: np.ndarray
    count: np.ndarray
    method: np.ndarray
    alpha: float
    alpha_interval: tuple
    threshold: float
    n_tail: int


def _check_epsilon(epsilon: Any) -> np.ndarray:
    e = np.atleast_1d(np.asarray(epsilon, dtype=np.float64))
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(f"epsilon={epsilon!r}: expected a number or a 1-D array of finite values > 0")
    return e


def _check_confidence(confidence: Any) -> float:
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool) or not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r}: expected a number in (0, 1)")
    return float(confidence)


def _clopper_pearson(k: np.ndarray, n: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Clopper-Pearson interval ``(p_lo, p_hi)`` at ``level`` for ``k`` successes of ``n``."""
    a = (1 - level) / 2
    k = np.asarray(k, dtype=np.float64)
    lo = np.where(k > 0, stats.beta.ppf(a, np.maximum(k, 1e-300), n - k + 1), 0.0)
    hi = np.where(k < n, stats.beta.ppf(1 - a, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    return lo, hi


def _bits(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -np.log2(p) + 0.0  # -0.0 -> 0.0


def tail_bits(errors: Any, epsilon: Any, *, min_count: int = 10, extrapolate: bool = True, n_tail: int | None = None,
              confidence: float = 0.95) -> Tail:
    """``-log2 P(E <= eps)`` from ``n`` sampled errors ``E``: empirical, else an extrapolated power-law lower tail.

    Args:
      errors: ``(n,)`` finite errors ``>= 0`` (one per trained network).
      epsilon: a number or 1-D array of values ``> 0``.
      min_count: the empirical estimate is used where at least this many errors are ``<= eps``.
      extrapolate: fit the power-law lower tail where fewer errors reach ``eps`` (continuous errors only; for
        the zero-one error pass False); otherwise those ``eps`` get ``"bound"``.
      n_tail: errors in the tail fit (default ``max(min_count, round(sqrt(n)))``).
      confidence: level of the intervals.

    Returns:
      :class:`Tail`.

    Raises:
      ValueError: ``epsilon <= 0``; errors that are negative or not finite; with ``extrapolate``, fewer than
        ``2 n_tail`` networks for an ``eps`` the data do not reach (naming ``n`` and ``eps``).
    """
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"errors with shape {e.shape}: expected a 1-D array of one error per network")
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError(f"errors: {int(np.sum(~np.isfinite(e) | (e < 0)))} values are negative or not finite "
                         "(diverged networks?); expected finite errors >= 0")
    eps = _check_epsilon(epsilon)
    min_count = check_int("min_count", min_count, 1)
    level = _check_confidence(confidence)
    n = e.size
    srt = np.sort(e)
    count = np.searchsorted(srt, eps, side="right")
    p = count / n
    bits = _bits(p)
    p_lo, p_hi = _clopper_pearson(count, n, level)
    lo, hi = _bits(p_hi), _bits(p_lo)
    method = np.where(count >= min_count, "empirical", "bound").astype("<U13")
    bits = np.where(count >= min_count, bits, np.nan)
    hi = np.where(count >= min_count, hi, np.inf)
    k = max(min_count, int(round(math.sqrt(n)))) if n_tail is None else check_int("n_tail", n_tail, 2)
    alpha, a_int, u = float("nan"), (float("nan"), float("nan")), float("nan")
    need = count < min_count
    if extrapolate and need.any():
        if n < 2 * k:
            raise ValueError(f"n={n} networks: too few for the requested tail eps={eps[need].min():.4g} (only "
                             f"{int(count[need].min())} errors reach it); extrapolating the lower tail needs at least "
                             f"2 n_tail = {2 * k} networks, or a larger epsilon")
        u = float(srt[k - 1])
        low = srt[:k]
        if low[0] > 0 and u > low[0]:
            s = float(np.sum(np.log(u / low)))
            alpha = k / s
            half = (1 + level) / 2  # each of the two intervals at level (1 + level) / 2: Bonferroni
            a_lo = stats.chi2.ppf((1 - half) / 2, 2 * k) / (2 * s)
            a_hi = stats.chi2.ppf(1 - (1 - half) / 2, 2 * k) / (2 * s)
            a_int = (float(a_lo), float(a_hi))
            pu_lo, pu_hi = _clopper_pearson(np.array([k]), n, half)
            fit = need & (eps < u)
            r = np.log2(eps[fit] / u)  # < 0
            bits[fit] = -math.log2(k / n) - alpha * r
            lo[fit] = -math.log2(pu_hi[0]) - a_lo * r
            hi[fit] = _bits(pu_lo)[0] - a_hi * r
            method[fit] = "extrapolation"
    return Tail(eps, bits, lo, hi, count.astype(np.int64), method, alpha, a_int, u, k if extrapolate else 0)


# ----------------------------------------------------------------------------------------------
# Errors of trained networks, measured inside the training program
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TaskError:
    """A probe measure: one network's ``"mse"`` or ``"zero_one"`` error on the probe rows ``[start, stop)``.

    Hashable (the targets are held as bytes), so :func:`jaxbias.train` compiles once per task.
    ``targets``: the float32 bytes of the ``(P, k)`` kernel-mode targets of all probe rows; ``labels``: the int32
    bytes of the class labels (classification) or empty (regression: signs of the targets).
    """

    kind: str
    start: int
    stop: int
    shape: tuple
    targets: bytes
    labels: bytes = b""

    def __call__(self, y):
        t = jnp.asarray(np.frombuffer(self.targets, np.float32).reshape(self.shape)[self.start:self.stop])
        f = y[self.start:self.stop]
        if self.kind == "mse":
            return jnp.mean(jnp.square(f - t.astype(f.dtype)))
        if self.labels:
            lab = jnp.asarray(np.frombuffer(self.labels, np.int32)[self.start:self.stop])
            pred = (f[:, 0] > 0).astype(jnp.int32) if f.shape[1] == 1 else jnp.argmax(f, axis=1).astype(jnp.int32)
            return jnp.mean((pred != lab).astype(f.dtype))
        return jnp.mean(((f > 0) != (t > 0)).astype(f.dtype))


def _out_dim(net, x) -> int:
    return int(jax.eval_shape(lambda k: net.apply(net.init(k, x[:1]), x[:1]), jax.random.key(0)).shape[-1])


def _zero_one_defined(data: Dataset, y_all: np.ndarray) -> bool:
    return data.task == "classification" or bool(np.all(np.abs(y_all) == 1))


def _measures(net, data: Dataset) -> tuple[np.ndarray, dict]:
    """Probe points ``[x_train; x_test]`` and the measures of :func:`network_errors`."""
    y_train, y_test = targets(data)
    x = np.concatenate([np.asarray(data.x_train), np.asarray(data.x_test)])
    k_out = _out_dim(net, x)
    if k_out != y_train.shape[1]:
        raise ValueError(f"net with {k_out} outputs: the data's targets have {y_train.shape[1]} columns "
                         f"({'one-hot labels of ' + str(data.n_classes) + ' classes' if data.n_classes else 'regression'}"
                         "); labels and outputs must match (a 2-class task with one sign output: pm1_dataset(data))")
    y = np.concatenate([y_train, y_test]).astype(np.float32)
    labels = b""
    if data.task == "classification":
        labels = np.concatenate([data.y_train, data.y_test]).astype(np.int32).tobytes()
    common = dict(shape=y.shape, targets=y.tobytes(), labels=labels)
    n = data.n_train
    out = {"train_mse": TaskError("mse", 0, n, **common), "test_mse": TaskError("mse", n, y.shape[0], **common)}
    if _zero_one_defined(data, y):
        out["train_zero_one"] = TaskError("zero_one", 0, n, **common)
        out["test_zero_one"] = TaskError("zero_one", n, y.shape[0], **common)
    return x, out


def network_errors(net, data: Dataset, optimizer, *, n: int, key=0, loss="mse", steps: int | None = None,
                   epochs: int | None = None, batch_size: int | None = None, options=None,
                   progress: bool | None = None) -> xr.Dataset:
    """Train ``n`` networks with :func:`jaxbias.train` and measure their final errors inside the program.

    Args:
      net, data, optimizer, n, key, loss, steps, epochs, batch_size, options, progress: as :func:`jaxbias.train`.
        The net's outputs must match the targets (``n_classes`` outputs, or the regression targets' columns).

    Returns:
      Dataset ``(net,)``: ``train_mse``, ``test_mse`` (mean over points x outputs of ``(f - y)^2``, kernel mode's
      scale), ``train_zero_one``, ``test_zero_one`` (where defined), ``diverged_step``, ``test_loss`` (the training
      loss on the test set, as :func:`jaxbias.train` records it); attrs: the training config.
    """
    x, measures = _measures(net, data)
    ds = train(net, data, optimizer, n=n, key=key, loss=loss, steps=steps, epochs=epochs, batch_size=batch_size,
               record=[steps if steps is not None else 0] if steps is not None else None, probe=x,
               measures=measures, eval_train=False, options=options, progress=progress)
    last = ds.isel(step=-1)
    out = xr.Dataset({name: last[name].astype(np.float64) for name in measures})
    out["diverged_step"] = ds["diverged_step"]
    out["test_loss"] = last["test_loss"].astype(np.float64)
    out.attrs = dict(ds.attrs)
    out.attrs["final_step"] = int(ds["step"].values[-1])
    return out


def _tail_vars(t: Tail, lead: tuple = ()) -> dict:
    dims = lead + ("epsilon",)
    return {"bits": (dims, t.bits), "bits_lo": (dims, t.bits_lo), "bits_hi": (dims, t.bits_hi),
            "count": (dims, t.count), "estimate": (dims, t.method)}


_PAPER = "Boopathy, Yue, Hwang, Iyer & Fiete, Towards Exact Computation of Inductive Bias, IJCAI 2024"
_EXTRAPOLATION_NOTE = ("extrapolation: power-law lower tail P(E <= e) = (k/n) (e/u)^alpha below the k-th smallest error "
                       "u, alpha by maximum likelihood (Hill) on the k smallest errors, lower endpoint 0 assumed; "
                       "interval: chi-square interval of alpha and Clopper-Pearson of k/n, Bonferroni")


def inductive_bias_networks(net, data: Dataset, optimizer, epsilon: Any = None, *, n: int, error: str = "mse",
                            key=0, loss="mse", steps: int | None = None, epochs: int | None = None,
                            batch_size: int | None = None, min_count: int = 10, n_tail: int | None = None,
                            confidence: float = 0.95, options=None, progress: bool | None = None,
                            config: dict | None = None) -> xr.Dataset:
    """Bits of inductive bias against test error ``eps`` over ``n`` trained networks (network mode).

    Args:
      net, data, optimizer, n, key, loss, steps, epochs, batch_size, options, progress: as :func:`jaxbias.train`.
      epsilon: test errors ``> 0``; default: 16 values log-spaced from the smallest to the median error.
      error: ``"mse"`` (kernel mode's scale; extrapolated below the data) or ``"zero_one"`` (empirical or bound).
      min_count, n_tail, confidence: as :func:`tail_bits`.
      config: extra entries stored in the config.

    Returns:
      Dataset: ``bits``, ``bits_lo``, ``bits_hi`` (interval at ``confidence``), ``count``, ``estimate``
      (``"empirical"``, ``"extrapolation"`` or ``"bound"``) over ``epsilon``; the per-network errors ``(net,)``;
      attrs: config, the tail fit (``tail_alpha``, its interval, ``tail_threshold``, ``n_tail``) and notes.

    Example:
      >>> import jaxbias as jb
      >>> from jaxbias import datasets
      >>> from jaxbias.training import Optimizer
      >>> data = datasets.gaussian_mixture(n_classes=2, dim=2, n_train=16, n_test=16, key=0)
      >>> ds = inductive_bias_networks(jb.nets.MLP(8, 1, "tanh", out=2), data, Optimizer("sgd", learning_rate=0.1),
      ...                              [0.5], n=8, steps=20, min_count=2, n_tail=2, progress=False)
      >>> ds["bits"].dims, str(ds["estimate"].values[0]) in ("empirical", "extrapolation", "bound")
      (('epsilon',), True)
    """
    if error not in ERRORS:
        raise ValueError(f"error={error!r}: expected one of {ERRORS}")
    n = check_n(n)
    if epsilon is not None:
        _check_epsilon(epsilon)
    errs = network_errors(net, data, optimizer, n=n, key=key, loss=loss, steps=steps, epochs=epochs,
                          batch_size=batch_size, options=options, progress=progress)
    name = f"test_{error}"
    if name not in errs:
        raise ValueError(f"error={error!r}: the zero-one error needs class labels or +-1 regression targets")
    ok = errs["diverged_step"].values < 0
    values = errs[name].values[ok]
    if values.size == 0:
        raise ValueError(f"all n={n} networks diverged: no test errors to estimate the tail from")
    if epsilon is None:
        pos = values[values > 0]
        lo = pos.min() if pos.size else 1e-3
        epsilon = np.geomspace(lo, max(np.median(values), lo * 1.01), 16)
    t = tail_bits(values, epsilon, min_count=min_count, extrapolate=error == "mse", n_tail=n_tail,
                  confidence=confidence)
    ds = xr.Dataset(_tail_vars(t), coords={"epsilon": t.epsilon, "net": errs["net"].values})
    for var in errs.data_vars:
        ds[var] = errs[var]
    run = {"mode": "networks", "net": net, "data": data.describe(), "error": error, "n": n, "loss": str(loss),
           "steps": steps, "epochs": epochs, "batch_size": batch_size, "min_count": min_count, "n_tail": t.n_tail,
           "confidence": confidence, "training": errs.attrs.get("config", ""), **(config or {})}
    ds.attrs = result_attrs(run, key)
    ds.attrs.update({"tail_alpha": t.alpha, "tail_alpha_lo": t.alpha_interval[0], "tail_alpha_hi": t.alpha_interval[1],
                     "tail_threshold": t.threshold, "n_diverged": int(np.sum(~ok)), "paper": _PAPER,
                     "note_empirical": f"k/n, Clopper-Pearson {confidence:g} interval (where k >= {min_count})",
                     "note_extrapolation": _EXTRAPOLATION_NOTE,
                     "note_bound": "too few networks reach eps: only the Clopper-Pearson lower bound bits_lo",
                     "error_definition": "mse: mean over test points x outputs of (f - y)^2, y one-hot or regression "
                                         "targets (kernel mode's Q); zero_one: fraction of test points misclassified"})
    return ds


# ----------------------------------------------------------------------------------------------
# Ground truth on a Boolean task: the prior conditioned on the training labels, counted exactly
# ----------------------------------------------------------------------------------------------


def _check_boolean(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(x_all (P, d), labels (P,) bool)``, training points first, of a 2-class task small enough to count."""
    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__}: expected a jaxbias.datasets.Dataset (e.g. "
                         "datasets.boolean('parity', n_bits=4))")
    if data.n_classes != 2:
        raise ValueError(f"data with n_classes={data.n_classes}: expected a 2-class task (labels 0 and 1)")
    x = np.concatenate([np.asarray(data.x_train), np.asarray(data.x_test)])
    if x.shape[0] > _MAX_EXACT_POINTS:
        raise ValueError(f"data with {x.shape[0]} points: exact counting of sign tables needs at most "
                         f"{_MAX_EXACT_POINTS}")
    return x, np.concatenate([data.y_train, data.y_test]).astype(bool)


def _sign_table(y):
    """One network's sign table: its first output ``> 0`` on every point, ``(P,)`` bool."""
    return y[:, 0] > 0


def prior_counts(net, data: Dataset, epsilon: Any, *, n: int, key=0, confidence: float = 0.95, options=None,
                 progress: bool | None = None) -> xr.Dataset:
    """Random networks conditioned on fitting the training labels by rejection, counted exactly on device.

    The sign tables ``1[f(x) > 0]`` of ``n`` random networks (``jb.sample``'s networks, key ``key``) on all points
    (training first) are counted with :func:`jaxbias.summaries.count_distinct`; a table fits when it equals the
    labels on every training point, and its zero-one test error is its share of wrong test points.

    Returns:
      Dataset over ``epsilon``: ``bits`` ``-log2 P(test error <= eps | fit)`` from the counts, ``bits_lo``,
      ``bits_hi`` (Clopper-Pearson on ``count`` of ``n_fit``), ``count``; scalars ``n_fit``, ``n_networks``,
      ``bits_fit`` (``-log2 P(fit)``), ``n_distinct``; ``error_counts (n_errors,)``: fitting networks with exactly
      ``j`` wrong test points.
    """
    eps = _check_epsilon(epsilon)
    n = check_n(n)
    level = _check_confidence(confidence)
    x, labels = _check_boolean(data)
    res = engine.summarize(net, x, n=n, key=key, stat=_sign_table, summary=count_distinct(), options=options,
                           progress=progress)
    tables = unpack_bits(res["keys"], x.shape[0])
    counts = np.asarray(res["counts"], np.int64)
    n_train, n_test = data.n_train, data.n_test
    fits = np.all(tables[:, :n_train] == labels[:n_train], axis=1)
    wrong = np.sum(tables[:, n_train:] != labels[n_train:], axis=1)
    error_counts = np.bincount(wrong[fits], weights=counts[fits], minlength=n_test + 1).astype(np.int64)
    n_fit = int(error_counts.sum())
    cum = np.cumsum(error_counts)
    count = np.array([cum[min(int(math.floor(e * n_test + 1e-9)), n_test)] for e in eps], np.int64)
    if n_fit:
        p_lo, p_hi = _clopper_pearson(count, n_fit, level)
        bits, lo, hi = _bits(count / n_fit), _bits(p_hi), _bits(p_lo)
    else:
        bits = lo = hi = np.full(eps.size, np.nan)
    ds = xr.Dataset({"bits": (("epsilon",), bits), "bits_lo": (("epsilon",), lo), "bits_hi": (("epsilon",), hi),
                     "count": (("epsilon",), count), "error_counts": (("n_errors",), error_counts),
                     "n_fit": ((), np.int64(n_fit)), "n_networks": ((), np.int64(n)),
                     "bits_fit": ((), _bits(np.float64(n_fit / n))), "n_distinct": ((), np.int64(len(counts)))},
                    coords={"epsilon": eps, "n_errors": np.arange(n_test + 1)})
    ds.attrs = result_attrs({"mode": "prior_counts", "net": net, "data": data.describe(), "n": n,
                             "confidence": level}, key)
    return ds


def pm1_dataset(data: Dataset) -> Dataset:
    """A 2-class task as regression on +-1 targets (label 1 -> +1, 0 -> -1), inputs unchanged: the targets of the
    kernel (NNGP) and the trained networks in :func:`boolean_comparison`."""
    _check_boolean(data)
    pm = lambda y: (2.0 * np.asarray(y, np.float64) - 1.0)[:, None]  # noqa: E731
    return from_arrays(np.asarray(data.x_train), pm(data.y_train), np.asarray(data.x_test), pm(data.y_test),
                       standardize=False, name=f"{data.name}_pm1")


def _kernel_zero_one(k_joint, data: Dataset, eps: np.ndarray, n_samples: int, seed: int, level: float):
    """Monte Carlo zero-one error of the signs of GP posterior samples conditioned on +-1 values."""
    y_train, y_test = targets(pm1_dataset(data))
    n = data.n_train
    kxx, kxs, kss = k_joint[:n, :n], k_joint[:n, n:], k_joint[n:, n:]
    sol = np.linalg.lstsq(kxx, np.concatenate([kxs, y_train], axis=1), rcond=1e-10)[0]
    mu = kxs.T @ sol[:, -1]
    sigma = kss - kxs.T @ sol[:, :-1]
    lam, v = np.linalg.eigh(0.5 * (sigma + sigma.T))
    root = v * np.sqrt(np.clip(lam, 0, None))
    z = np.random.default_rng(seed).standard_normal((n_samples, lam.size))
    f = mu[None, :] + z @ root.T
    wrong = np.sum((f > 0) != (y_test[:, 0] > 0)[None, :], axis=1)
    count = np.array([np.sum(wrong <= math.floor(e * data.n_test + 1e-9)) for e in eps], np.int64)
    p_lo, p_hi = _clopper_pearson(count, n_samples, level)
    return _bits(count / n_samples), _bits(p_hi), _bits(p_lo), count


def boolean_comparison(net, data: Dataset, optimizer, epsilon: Any = None, *, n_prior: int = 2**18,
                       n_trained: int = 256, steps: int = 500, n_samples: int = 100_000, key=0,
                       confidence: float = 0.95, options=None, progress: bool | None = None) -> xr.Dataset:
    """Three estimates of ``-log2 P(zero-one test error <= eps)`` on a tiny Boolean task, in one Dataset.

    Sources (dim ``source``):

    * ``"prior_count"``: random networks of ``net`` conditioned on fitting the training labels by rejection, exact
      counts of sign tables on device (:func:`prior_counts`); the ground truth for this prior.
    * ``"kernel_nngp"``: the NNGP of ``net`` (:class:`~jaxbias.experiments.inductive_bias.Infinite`) conditioned
      noise-free on +-1 targets, the signs of ``n_samples`` posterior samples (Monte Carlo, Clopper-Pearson).
      Conditioning on values, not signs: a different hypothesis set, compared, not expected equal.
    * ``"trained"``: ``n_trained`` networks trained by full-batch ``optimizer`` for ``steps`` steps on the MSE to
      +-1 targets; the share of them at most ``eps`` (Clopper-Pearson).

    Test MSE against +-1 targets (dim ``epsilon_mse``): ``bits_mse`` of the kernel (exact, the recommended
    method of :func:`jaxbias.experiments.inductive_bias.inductive_bias`) and of the trained networks
    (:func:`tail_bits`: empirical or extrapolated, ``estimate_mse`` says which).

    Args:
      net: an MLP spec with 1 output (its sign is the function), inputs of the task's dimension.
      data: a 2-class task of at most 1024 points (e.g. ``datasets.boolean("majority", n_bits=4)``).
      epsilon: zero-one test errors ``> 0`` (default: ``(j + 1/2) / n_test``, at most ``j`` mistakes).
      n_prior, n_trained, steps, n_samples, key, confidence, options, progress: sizes, seed, level, engine options.

    Returns:
      Dataset: ``bits``, ``bits_lo``, ``bits_hi``, ``count`` ``(source, epsilon)``; ``n_hypotheses (source,)``
      (fitting networks, kernel samples, trained networks); ``bits_mse``, ``bits_mse_lo``, ``bits_mse_hi``
      ``(source_mse, epsilon_mse)``; the prior's ``error_counts``, ``bits_fit``; trained nets' ``train_fit``
      (share fitting every training sign).
    """
    x, labels = _check_boolean(data)
    if _out_dim(net, x) != 1:
        raise ValueError("net: expected one output (its sign is the Boolean function)")
    level = _check_confidence(confidence)
    n_samples = check_int("n_samples", n_samples, 1)
    eps = (np.arange(data.n_test) + 0.5) / data.n_test if epsilon is None else _check_epsilon(epsilon)
    seed = int(key) if isinstance(key, (int, np.integer)) else 0
    prior = prior_counts(net, data, eps, n=n_prior, key=key, confidence=confidence, options=options,
                         progress=progress)
    pm = pm1_dataset(data)
    kernel = Infinite(net, "nngp")
    k_joint = kernel_matrix(kernel, x)
    kb, klo, khi, kc = _kernel_zero_one(k_joint, data, eps, n_samples, seed, level)
    errs = network_errors(net, pm, optimizer, n=n_trained, key=key, steps=steps, options=options, progress=progress)
    ok = errs["diverged_step"].values < 0
    z1 = errs["test_zero_one"].values[ok]
    tc = np.searchsorted(np.sort(z1), eps + 1e-9 / data.n_test, side="right")
    t_lo, t_hi = _clopper_pearson(tc, max(z1.size, 1), level)
    tb = _bits(tc / max(z1.size, 1))
    bits = np.stack([prior["bits"].values, kb, tb])
    lo = np.stack([prior["bits_lo"].values, klo, _bits(t_hi)])
    hi = np.stack([prior["bits_hi"].values, khi, _bits(t_lo)])
    count = np.stack([prior["count"].values, kc, tc])
    # test MSE against +-1 targets: exact kernel tail beside the trained networks' tail
    post = posterior_gchisq(k_joint, *targets(pm))
    mse_trained = errs["test_mse"].values[ok]
    eps_mse = np.geomspace(max(min(post.expected_mse, np.median(mse_trained)) * 0.05, 1e-6),
                           max(post.expected_mse, np.median(mse_trained)), 12)
    kds = kernel_inductive_bias(pm, k_joint, eps_mse, methods=("inversion", "saddlepoint", "chernoff"))
    small = mse_trained.size < 20
    tt = tail_bits(mse_trained, eps_mse, min_count=min(10, max(1, mse_trained.size)), extrapolate=not small,
                   confidence=confidence)
    ds = xr.Dataset(
        {"bits": (("source", "epsilon"), bits), "bits_lo": (("source", "epsilon"), lo),
         "bits_hi": (("source", "epsilon"), hi), "count": (("source", "epsilon"), count),
         "n_hypotheses": (("source",), np.array([int(prior["n_fit"]), n_samples, z1.size], np.int64)),
         "error_counts": prior["error_counts"], "bits_fit": prior["bits_fit"],
         "n_prior": ((), np.int64(n_prior)),
         "train_fit": ((), float(np.mean(errs["train_zero_one"].values[ok] == 0)) if ok.any() else np.nan),
         "bits_mse": (("source_mse", "epsilon_mse"), np.stack([kds["recommended_bits"].values, tt.bits])),
         "bits_mse_lo": (("source_mse", "epsilon_mse"),
                         np.stack([kds["recommended_bits"].values - 2 * kds["recommended_error"].values,
                                   tt.bits_lo])),
         "bits_mse_hi": (("source_mse", "epsilon_mse"),
                         np.stack([kds["recommended_bits"].values + 2 * kds["recommended_error"].values,
                                   tt.bits_hi])),
         "estimate_mse": (("source_mse", "epsilon_mse"),
                          np.stack([np.asarray(kds["recommended_method"].values, "<U13"), tt.method]))},
        coords={"source": ["prior_count", "kernel_nngp", "trained"], "epsilon": eps,
                "source_mse": ["kernel_nngp", "trained"], "epsilon_mse": eps_mse,
                "n_errors": prior["n_errors"].values})
    run = {"mode": "boolean_comparison", "net": net, "data": data.describe(), "n_prior": n_prior,
           "n_trained": n_trained, "steps": steps, "n_samples": n_samples, "confidence": level,
           "optimizer": errs.attrs.get("config", "")}
    ds.attrs = result_attrs(run, key)
    ds.attrs.update({"paper": _PAPER, "error": "zero_one: share of test points whose sign differs from the label",
                     "note_prior_count": "exact counts of sign tables of random networks fitting the training labels "
                                         "(rejection); interval: Clopper-Pearson",
                     "note_kernel_nngp": "NNGP posterior conditioned noise-free on +-1 values; signs of Monte Carlo "
                                         "samples; conditioning on values, not on signs",
                     "note_trained": "networks trained on MSE to +-1 targets, all that did not diverge",
                     "note_mse": "kernel: exact gchisq tail (+-2 errors); trained: " + _EXTRAPOLATION_NOTE})
    return ds
