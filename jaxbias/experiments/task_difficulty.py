"""Generalization difficulty of a classification data set (Boopathy et al., ICML 2023), from its training split.

:func:`task_difficulty` estimates the closed form's inputs from the data (intrinsic dimension ``m``
by Levina-Bickel with a bootstrap interval, the class separation ``delta``, the radius ``R``;
:mod:`jaxbias.theory.data_geometry`) and evaluates the inductive-bias bits
(:func:`jaxbias.theory.task_difficulty.generalization_difficulty`) against the target error ``eps``,
with the interval that ``m``'s bootstrap interval gives. :func:`paper_table` evaluates the same
closed form at the parameters the authors used for the image benchmarks.

``I`` is invariant to rescaling the inputs, but not to centring or to feature-wise standardisation
(they change ``R`` and ``delta`` differently): the authors use raw pixels scaled to ``[0, 1]``; a
:class:`jaxbias.datasets.Dataset` built with ``standardize=True`` gives a different (not wrong) task.

>>> from jaxbias import datasets
>>> from jaxbias.experiments.task_difficulty import task_difficulty
>>> ds = task_difficulty(datasets.digits(standardize=False, key=0), eps=(0.01, 0.1), n_boot=20)
>>> ds["bits"].dims, int(ds["n"])
(('eps',), 1347)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import xarray as xr

from jaxbias.datasets import Dataset
from jaxbias.results import result_attrs
from jaxbias.theory.data_geometry import class_separation, data_radius, intrinsic_dimension
from jaxbias.theory.task_difficulty import generalization_difficulty

__all__ = ["task_difficulty", "paper_table", "PAPER_PARAMETERS"]

PAPER_PARAMETERS = {
    # name: (n, R, m, classes, delta, eps). Hard-coded by the authors in
    # github.com/FieteLab/inductive-bias-complexity, task_difficulty.py (the "task unions" list
    # ``task_data`` and the per-benchmark calls of ``classification_task_difficulty``): training-set
    # size, maximum norm of the training images (pixels in [0, 1]; ImageNet at the authors'
    # resolution), intrinsic dimension (rounded Levina-Bickel estimate), classes, the inter-class
    # margin delta (sampled for MNIST/SVHN/CIFAR-10, 65 for ImageNet) and the target error
    # (Boopathy et al. 2023, Appendix D, Table 3: by task type).
    "MNIST": (60000, 17.179045827183984, 14, 10, 2.3987084824335305, 1e-3),
    "SVHN": (73257, 53.86932485133339, 19, 10, 1.5766998174969105, 1e-2),
    "CIFAR10": (50000, 54.9156786783691, 27, 10, 2.7506414616587023, 1e-2),
    "ImageNet": (1280901, 943.5923, 48, 1000, 65.0, 1e-1),
}


def _check_eps(eps: Any) -> np.ndarray:
    a = np.atleast_1d(np.asarray(eps, dtype=np.float64))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"eps={eps!r}: expected a non-empty sequence of finite target errors > 0")
    return a


def task_difficulty(data: Dataset, *, eps: Sequence[float] | float = (1e-3, 1e-2, 1e-1), k: int = 5,
                    n_boot: int = 200, key: int = 0, average: str = "mackay-ghahramani",
                    confidence: float = 0.95, delta_quantile: float | None = None, center: bool = False,
                    n_queries: int | None = None) -> xr.Dataset:
    """Inductive-bias bits of ``data``'s classification task against ``eps``, with the estimates behind them.

    Args:
      data: a classification :class:`jaxbias.datasets.Dataset`; its training split is used.
      eps: target errors ``> 0`` (a sequence or one number).
      k: neighbours of the intrinsic-dimension estimator (5 as in the authors' code).
      n_boot: bootstrap resamples for ``m``'s interval.
      key: int seed of the bootstrap.
      average: ``"mackay-ghahramani"`` or ``"levina-bickel"`` (see :func:`~jaxbias.theory.intrinsic_dimension`).
      confidence: level of ``m``'s bootstrap interval, propagated to ``bits_low``/``bits_high``.
      delta_quantile: ``None`` for the exact smallest distance between classes; ``q`` for the
        ``q``-quantile of each point's distance to the nearest point of another class.
      center: measure ``R`` from the mean of the training inputs (the paper does not).
      n_queries: estimate ``m`` from this many training points (``None``: all).

    Returns:
      ``xarray.Dataset`` over ``eps``: ``bits``, ``bits_low``, ``bits_high`` and their ``log10_*``
      (``I`` at the estimate of ``m`` and at its interval's ends); scalars ``m``, ``m_se``,
      ``m_low``, ``m_high``, ``delta``, ``radius``, ``n``, ``n_classes``, ``K``, ``M``, ``L_f``,
      ``log2_W``, ``log10_hypothesis_dim``; the config in ``attrs`` (:func:`jaxbias.results.result_attrs`).

    Raises:
      ValueError: naming the value, for data that is not a classification Dataset, ``eps <= 0``,
        too few points for ``k`` neighbours, ``k < 2``, or ``delta = 0`` (two training points of
        different classes coincide: pass ``delta_quantile``).
    """
    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__}: expected a jaxbias.datasets.Dataset")
    if data.n_classes is None:
        raise ValueError(f"data={data.name!r} is a regression task: the closed form here is for classification")
    eps_arr = _check_eps(eps)
    x, y = data.x_train, data.y_train
    est = intrinsic_dimension(x, k=k, n_boot=n_boot, key=key, average=average, confidence=confidence,
                              n_queries=n_queries)
    delta = class_separation(x, y, quantile=delta_quantile)
    if delta <= 0:
        raise ValueError(f"delta={delta!r}: two training points of different classes coincide; "
                         "pass delta_quantile (e.g. 0.01) for a robust separation")
    radius = data_radius(x, center=center)
    n_classes = int(np.unique(y).size)
    n = int(x.shape[0])

    def bits_at(m: float):
        return generalization_difficulty(eps_arr, n=n, m=m, radius=radius, delta=delta, n_classes=n_classes)

    mid, lo, hi = bits_at(est.m), bits_at(est.low), bits_at(est.high)
    bits_low = np.minimum(lo.bits, hi.bits)
    bits_high = np.maximum(lo.bits, hi.bits)
    log_low = np.fmin(lo.log10_bits, hi.log10_bits)
    log_high = np.fmax(lo.log10_bits, hi.log10_bits)
    log10_dim = (np.log(2.0 * (n_classes - 1) * n_classes) + mid.log_E) / np.log(10.0)
    config = {"experiment": "task_difficulty", "data": data.describe(), "eps": eps_arr.tolist(), "k": k,
              "n_boot": n_boot, "average": average, "confidence": confidence, "delta_quantile": delta_quantile,
              "center": center, "n_queries": n_queries, "split": "train"}
    ds = xr.Dataset(
        {
            "bits": (("eps",), mid.bits),
            "bits_low": (("eps",), bits_low),
            "bits_high": (("eps",), bits_high),
            "log10_bits": (("eps",), mid.log10_bits),
            "log10_bits_low": (("eps",), log_low),
            "log10_bits_high": (("eps",), log_high),
            **{name: ((), np.float64(v)) for name, v in {
                "m": est.m, "m_se": est.se, "m_low": est.low, "m_high": est.high, "delta": delta,
                "radius": radius, "K": mid.K, "M": mid.M, "L_f": mid.L_f, "log2_W": mid.log2_W,
                "log10_hypothesis_dim": log10_dim}.items()},
            "n": ((), np.int64(n)),
            "n_classes": ((), np.int64(n_classes)),
        },
        coords={"eps": eps_arr},
    )
    ds.attrs = {**result_attrs(config, key), "units": "bits",
                "reference": "Boopathy et al., Model-agnostic measure of generalization difficulty, ICML 2023",
                "m_estimator": f"Levina-Bickel MLE, k={k}, {average} average, percentile bootstrap over points "
                               f"(n_used={est.n_used})"}
    return ds


def paper_table() -> xr.Dataset:
    """The closed form at the authors' parameters for MNIST, SVHN, CIFAR-10 and ImageNet (:data:`PAPER_PARAMETERS`).

    Returns:
      ``xarray.Dataset`` over ``dataset``: the parameters ``n``, ``radius``, ``m``, ``n_classes``,
      ``delta``, ``eps`` and the results ``bits``, ``log10_bits``, ``K`` and ``log10_hypothesis_dim``.

    Example:
      >>> t = paper_table()
      >>> [f"{b:.2e}" for b in t["bits"].values]
      ['1.48e+16', '1.21e+31', '3.44e+32', '3.58e+41']
    """
    names = list(PAPER_PARAMETERS)
    cols = {f: [] for f in ("n", "radius", "m", "n_classes", "delta", "eps", "bits", "log10_bits", "K",
                            "log10_hypothesis_dim")}
    for name in names:
        n, radius, m, d, delta, eps = PAPER_PARAMETERS[name]
        r = generalization_difficulty(eps, n=n, m=m, radius=radius, delta=delta, n_classes=d)
        for f, v in zip(cols, (n, radius, m, d, delta, eps, float(r.bits), float(r.log10_bits), r.K,
                               (np.log(2.0 * (d - 1) * d) + r.log_E) / np.log(10.0))):
            cols[f].append(v)
    ints = {"n", "m", "n_classes"}
    ds = xr.Dataset({f: (("dataset",), np.asarray(v, dtype=np.int64 if f in ints else np.float64))
                     for f, v in cols.items()}, coords={"dataset": names})
    ds.attrs = {"units": "bits",
                "reference": "Boopathy et al., Model-agnostic measure of generalization difficulty, ICML 2023",
                "parameters": "github.com/FieteLab/inductive-bias-complexity, task_difficulty.py"}
    return ds
