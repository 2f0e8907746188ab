"""How far the tangent kernel moves in training, against width, under both parameterisations.

At infinite width in NTK parameterisation the tangent kernel stays at its initial value during
gradient descent (Jacot et al. 2018; Lee et al. 2019); at finite width it moves by O(1/width)
(the dNTK is a 1/width effect: Dyer & Gur-Ari 2020; Roberts, Yaida & Hanin 2022, ch. 11). This
experiment trains ``n`` MLPs per (parameterisation, width) on a small regression task with full-batch
gradient descent and records, on every training point, the kernel's distance to its initial value
(1 - cosine), its relative change ``|K_t - K_0|_F / |K_0|_F``, its velocity and the centred
kernel-target alignment (:func:`jaxbias.train`, ``ntk_points``). The relative change at the end is
fitted against width on log-log axes; the slope's interval is a percentile bootstrap over networks.

Learning rates (``lr_rule``):

* ``"function_space"`` (default): ``eta = rate * N / lambda_max(K_0)``, ``N`` the number of scalar
  targets and ``lambda_max`` the median over ``lam_nets`` networks of the largest eigenvalue of the
  empirical NTK at initialisation on the training points, per (parameterisation, width). One
  gradient step moves the function by ``(eta / N) K_0 (f - y)``, so this fixes the function-space
  time ``eta lambda_max t / N = rate * t`` at every width. Under NTK parameterisation ``lambda_max``
  hardly depends on width; under standard parameterisation it grows like the width (the readout
  layer's contribution ``sum_i phi_i(x) phi_i(x')`` has ``width`` terms), so ``eta`` falls like
  ``1 / width``. That is the limit of Sohl-Dickstein et al. 2020 ("On the infinite width limit of
  neural networks with a standard parameterization"): the first layer's share of the kernel (fan-in
  ``d0``) vanishes and it barely trains, so the standard parameterisation moves *less* than the NTK
  one at fixed function-space time (one hidden layer: the kernel falls about as width^-2).
* ``"fixed"``: the same ``eta`` at every width, set by the function-space rule at the smallest
  width. Under NTK parameterisation this is about the same as ``"function_space"``; under standard
  parameterisation the function-space rate grows like the width, and the kernel moves *more*
  (beyond ``eta lambda_max / N = 2`` gradient descent leaves the lazy regime: catapult or divergence,
  see ``diverged_step``).

>>> ds = ntk_motion(widths=(8, 16), parameterizations=("ntk",), n=2, steps=2, n_boot=10, progress=False)
>>> ds["ntk_relative_change"].dims
('parameterization', 'width', 'net', 'step')
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any, Sequence

import jax
import numpy as np
import xarray as xr

from jaxbias.datasets import Dataset, sinusoids
from jaxbias.kernels.empirical import ntk_fn
from jaxbias.keys import as_key
from jaxbias.nets.mlp import MLP
from jaxbias.results import result_attrs
from jaxbias.training import Optimizer, train
from jaxbias.validation import check_confidence, check_int, check_n

__all__ = ["LR_RULES", "PARAMETERIZATIONS", "default_data", "lambda_max", "learning_rate", "fit_slope", "ntk_motion"]

LR_RULES = ("function_space", "fixed")
"""Learning-rate rules: ``function_space`` sets ``eta`` per width so that ``eta lambda_max / N`` is fixed
(the same function-space time at every width); ``fixed`` uses one ``eta`` for all widths."""
PARAMETERIZATIONS = ("ntk", "standard")
"""The parameterizations compared (:class:`jaxbias.nets.MLP` ``parameterization``)."""
KERNEL_VARIABLES = ("ntk_relative_change", "ntk_distance", "ntk_velocity", "ntk_alignment")


def default_data(n_train: int = 8, n_test: int = 8, key: int = 0) -> Dataset:
    """The default task: one plane wave ``sin(pi <u, x> + phi)`` on ``[-1, 1]^2`` (:func:`jaxbias.datasets.sinusoids`)."""
    return sinusoids(frequencies=(1.0,), dim=2, n_train=n_train, n_test=n_test, key=key)


def lambda_max(net, data: Dataset, *, lam_nets: int = 8, key: Any = 0) -> float:
    """Median over networks ``0 .. lam_nets - 1`` of the largest eigenvalue of the empirical NTK at init.

    The kernel is traced over outputs, on every training point; network ``i`` is ``fold_in(key, i)``
    (the networks :func:`jaxbias.train` starts from).
    """
    lam_nets = check_int("lam_nets", lam_nets, 1)
    x = np.asarray(data.x_train, np.float32)
    kernel = jax.jit(lambda k: ntk_fn(net, trace=True)(net.init(k, x), x))
    base = as_key(key)
    values = [np.linalg.eigvalsh(np.asarray(kernel(jax.random.fold_in(base, i)), np.float64))[-1]
              for i in range(lam_nets)]
    return float(np.median(values))


def learning_rate(rate: float, lam: float, n_targets: int) -> float:
    """``rate * N / lambda_max``: one step moves the slowest-stable mode ``rate`` of the way (function space)."""
    return float(rate) * n_targets / lam


def fit_slope(widths: Sequence[float], values: np.ndarray, *, n_boot: int = 1000, confidence: float = 0.95,
              seed: int = 0) -> dict:
    """Least-squares slope of ``log mean(values)`` against ``log width``, with a bootstrap interval.

    Args:
      widths: ``(W,)`` widths.
      values: ``(W, n)`` per-network values (positive), one row per width.
      n_boot: bootstrap resamples: networks are resampled with replacement within each width.
      confidence: level of the percentile interval.

    Returns:
      ``{"slope", "slope_low", "slope_high", "intercept"}`` (natural logs) over the finite values (diverged
      networks are left out); NaN where a width has no positive mean.
    """
    level = check_confidence(confidence)
    logw = np.log(np.asarray(widths, np.float64))
    values = np.asarray(values, np.float64)
    values = np.where(np.isfinite(values), values, np.nan)  # diverged networks (inf, NaN) are left out
    centred = logw - logw.mean()

    def slope_of(means):  # means (..., W)
        with np.errstate(invalid="ignore", divide="ignore"):
            logm = np.log(np.where(means > 0, means, np.nan))
        return np.sum(centred * (logm - logm.mean(-1, keepdims=True)), -1) / np.sum(centred ** 2), logm.mean(-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a width with no finite value: NaN is the answer
        return _fit(slope_of, logw, values, n_boot, level, seed)


def _fit(slope_of, logw, values, n_boot, level, seed) -> dict:
    slope, mean_log = slope_of(np.nanmean(values, -1))
    out = {"slope": float(slope), "intercept": float(mean_log - slope * logw.mean()),
           "slope_low": math.nan, "slope_high": math.nan}
    if n_boot > 0 and values.shape[1] > 1:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, values.shape[1], size=(n_boot, values.shape[0], values.shape[1]))
        boot = np.nanmean(np.take_along_axis(values[None], idx, axis=2), -1)
        slopes = slope_of(boot)[0]
        alpha = (1 - level) / 2
        out["slope_low"], out["slope_high"] = (float(q) for q in np.nanquantile(slopes, [alpha, 1 - alpha]))
    return out


def ntk_motion(*, widths: Sequence[int] = (64, 256, 1024, 4096), parameterizations: Sequence[str] = PARAMETERIZATIONS,
               depth: int = 1, activation: Any = "erf", weight_var: float = 1.0, bias_var: float = 0.1,
               data: Dataset | None = None, n: int = 32, steps: int = 10, rate: float = 0.5,
               lr_rule: str = "function_space", record: Any = None, key: Any = 0, lam_nets: int = 8,
               n_boot: int = 1000, confidence: float = 0.95, options=None, progress: bool | None = None) -> xr.Dataset:
    """Trains ``n`` networks per (parameterisation, width) by full-batch gradient descent; records NTK motion.

    Args:
      widths: hidden widths (at least 2 for a slope).
      parameterizations: subset of ``("ntk", "standard")``.
      depth, activation, weight_var, bias_var: the :class:`jaxbias.nets.MLP` (same C_W, C_b for both
        parameterisations: the same function distribution at init, kernels of different scale).
      data: a regression or classification :class:`jaxbias.datasets.Dataset` (default :func:`default_data`);
        the kernel is measured on all its training points, so keep it small.
      n: networks per cell; steps: gradient steps (MSE, full batch).
      rate, lr_rule: the learning rate (module docstring): ``eta = rate * N / lambda_max``.
      record: steps to measure at (None: about 10 log-spaced steps).
      key: networks ``fold_in(key, i)``; lam_nets: networks whose initial kernel sets ``lambda_max``.
      n_boot, confidence: the slope's bootstrap interval.
      options, progress: engine options (:func:`jaxbias.train`).

    Returns:
      Dataset with dims ``(parameterization, width, net, step)``: ``ntk_relative_change``,
      ``ntk_distance``, ``ntk_velocity``, ``ntk_alignment``, ``train_loss``, ``test_loss``,
      ``param_distance_relative``; per cell ``learning_rate``, ``lambda_max``, ``function_space_rate``
      (``eta lambda_max / N``); per parameterisation the fit of the final relative change against
      width: ``slope``, ``slope_low``, ``slope_high``, ``intercept``; ``diverged_step``.
    """
    widths = [check_int("widths entry", w, 1) for w in widths]
    if len(widths) < 2 or len(set(widths)) != len(widths):
        raise ValueError(f"widths={widths!r}: expected at least two distinct widths")
    widths = sorted(widths)
    parameterizations = list(parameterizations)
    if not parameterizations or any(p not in PARAMETERIZATIONS for p in parameterizations):
        raise ValueError(f"parameterizations={parameterizations!r}: expected a non-empty subset of {PARAMETERIZATIONS}")
    if lr_rule not in LR_RULES:
        raise ValueError(f"lr_rule={lr_rule!r}: expected one of {LR_RULES}")
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0):
        raise ValueError(f"rate={rate!r}: expected a non-negative number (eta lambda_max / N)")
    n = check_n(n)
    steps = check_int("steps", steps, 1)
    check_confidence(confidence)
    data = default_data() if data is None else data
    nets = {(p, w): MLP(w, depth, activation, out=data.out_dim, weight_var=weight_var, bias_var=bias_var,
                        parameterization=p) for p in parameterizations for w in widths}
    n_targets = data.n_train * data.out_dim
    record = 10 if record is None else record

    cells, lrs, lams, engine_config = {}, {}, {}, None
    for p in parameterizations:
        for w in widths:
            lams[p, w] = lambda_max(nets[p, w], data, lam_nets=lam_nets, key=key)
            if lr_rule == "function_space" or w == widths[0]:
                lrs[p, w] = learning_rate(rate, lams[p, w], n_targets)
            else:
                lrs[p, w] = lrs[p, widths[0]]
            ds = train(nets[p, w], data, Optimizer("sgd", learning_rate=lrs[p, w]), n=n, key=key, steps=steps,
                       record=record, ntk_points=data.n_train, options=options, progress=progress)
            config = json.loads(ds.attrs["config"])
            engine_config = engine_config or {k: config[k] for k in ("loss", "steps", "batch_size", "record",
                                                                       "conventions") if k in config}
            cells[p, w] = ds[list(KERNEL_VARIABLES) + ["train_loss", "test_loss", "param_distance_relative",
                                                      "diverged_step"]]
    out = xr.concat([xr.concat([cells[p, w] for w in widths], dim="width") for p in parameterizations],
                    dim="parameterization")
    out = out.assign_coords(parameterization=parameterizations, width=np.asarray(widths))
    cell_dims = ("parameterization", "width")
    out["learning_rate"] = (cell_dims, np.asarray([[lrs[p, w] for w in widths] for p in parameterizations]))
    out["lambda_max"] = (cell_dims, np.asarray([[lams[p, w] for w in widths] for p in parameterizations]))
    out["function_space_rate"] = out["learning_rate"] * out["lambda_max"] / n_targets
    fits = [fit_slope(widths, out["ntk_relative_change"].sel(parameterization=p).isel(step=-1).values,
                      n_boot=n_boot, confidence=confidence) for p in parameterizations]
    for name in ("slope", "slope_low", "slope_high", "intercept"):
        out[name] = (("parameterization",), np.asarray([f[name] for f in fits]))
    config = {"experiment": "ntk_motion", "widths": widths, "parameterizations": parameterizations, "depth": depth,
              "activation": str(activation), "weight_var": weight_var, "bias_var": bias_var,
              "nets": {f"{p}|{w}": net for (p, w), net in nets.items()}, "data": data.describe(),
              "preprocessing": data.describe().get("attrs", {}).get("standardization", "as the data set states"),
              "optimizer": {"name": "sgd", "learning_rate": "per cell, see the learning_rate variable",
                            "lr_rule": lr_rule, "rate": rate, "lam_nets": lam_nets,
                            "rule": "eta = rate * N / lambda_max(empirical NTK at init, median of lam_nets nets)"
                                    + (" at every width" if lr_rule == "function_space" else
                                       " at the smallest width, the same eta at every width")},
              "n": n, "n_boot": n_boot, "confidence": confidence, "train": engine_config}
    out.attrs = {**result_attrs(config, key), "lr_rule": lr_rule, "n_targets": n_targets}
    return out
