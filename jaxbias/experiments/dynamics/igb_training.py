"""Initial guessing bias during training: how fast a prejudiced network stops favouring one class.

Francazi, Lucchi & Baity-Jesi (ICML 2024) show that an untrained classifier often sends most inputs
to one class (:mod:`jaxbias.experiments.igb`): ``gamma > 1`` (prejudiced, e.g. deep ReLU networks on
centred data) makes the law of ``G_0`` U-shaped, ``gamma = 0`` (neutral, e.g. tanh without bias)
centres it at 1/2. Here ``n`` networks per configuration are trained on a balanced classification
task with :func:`jaxbias.train`, and at every recorded step (dense over the first steps) the class
fractions ``G_i`` of each network on a probe set are measured inside the training program, with the
mean and variance of every output over the probe, from which ``gamma`` is estimated per step
(:func:`jaxbias.theory.estimate_gamma`, finite-``n`` corrected, bootstrap interval over networks).
Step 0 of network ``i`` is ``jb.sample``'s network ``i``: the same numbers as
:func:`jaxbias.experiments.igb.igb_cell` on that probe.

>>> ds = igb_training(n=4, steps=2, width=8, n_train=32, n_test=16, batch_size=16, n_boot=0, progress=False)
>>> ds["max_fraction"].dims
('config', 'net', 'step')
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxbias.datasets import Dataset, gaussian_mixture
from jaxbias.experiments.igb import igb_net
from jaxbias.measures.guessing import class_fractions
from jaxbias.results import result_attrs
from jaxbias.theory import guessing as th
from jaxbias.training import Optimizer, train
from jaxbias.validation import check_confidence, check_int, check_n

__all__ = ["default_configs", "default_data", "output_mean", "output_var", "early_steps", "igb_training"]


def default_configs(width: int = 128, depth: int = 4) -> dict:
    """name -> network: a prejudiced one (ReLU, C_W = 2, no bias: ``gamma`` grows with depth from 0.47
    at one layer) and a neutral one (tanh, C_W = 1, no bias: odd, ``gamma = 0``), two outputs each."""
    return {"relu (prejudiced)": igb_net(activation="relu", depth=depth, width=width, weight_var=2.0, out=2),
            "tanh (neutral)": igb_net(activation="tanh", depth=depth, width=width, weight_var=1.0, out=2)}


def default_data(n_train: int = 512, n_test: int = 512, dim: int = 32, key: int = 0) -> Dataset:
    """Two balanced Gaussian classes in ``dim`` dimensions, means ``+-1`` apart along one axis
    (:func:`jaxbias.datasets.gaussian_mixture`, separation 2): a centred input distribution."""
    return gaussian_mixture(n_classes=2, dim=dim, n_train=n_train, n_test=n_test, separation=2.0, key=key)


def output_mean(y):
    """Mean of each output over the probe points: ``(n_out,)``."""
    return jnp.mean(y, axis=0)


def output_var(y):
    """Unbiased variance of each output over the probe points: ``(n_out,)``."""
    return jnp.var(y, axis=0, ddof=1)


def early_steps(steps: int, dense: int = 16, count: int = 24) -> list[int]:
    """Every step up to ``dense``, then about ``count`` log-spaced steps up to ``steps``."""
    dense = min(dense, steps)
    tail = np.unique(np.round(np.geomspace(max(dense, 1), max(steps, 1), count)).astype(int)) if steps > dense else []
    return sorted(set(range(dense + 1)) | {int(s) for s in tail} | {steps})


def igb_training(*, configs: Mapping[str, Any] | None = None, data: Dataset | None = None, width: int = 128,
                 depth: int = 4, n_train: int = 512, n_test: int = 512, dim: int = 32, data_key: int = 0,
                 optimizer: Any = None, loss: str = "cross_entropy", steps: int = 200, batch_size: int | None = 64,
                 record: Any = None, probe: str = "test", n: int = 64, key: Any = 0, n_boot: int = 300,
                 confidence: float = 0.95, options=None, progress: bool | None = None) -> xr.Dataset:
    """Records class fractions and ``gamma`` of ``n`` networks per configuration over the first steps of training.

    Args:
      configs: name -> network (default :func:`default_configs` at ``width``, ``depth``); every network
        has the data's number of outputs.
      data: a classification :class:`jaxbias.datasets.Dataset` (default :func:`default_data` with
        ``n_train``, ``n_test``, ``dim``, ``data_key``).
      optimizer: default ``Optimizer("sgd", learning_rate=0.05)``.
      loss, steps, batch_size: as :func:`jaxbias.train` (minibatches in each network's own order).
      record: steps to measure at (default :func:`early_steps`: every step up to 16, then log-spaced).
      probe: ``"test"`` or ``"train"``: the inputs the fractions are measured on.
      n: networks per configuration; key: network ``i`` is ``fold_in(key, i)``.
      n_boot, confidence: bootstrap intervals of ``gamma`` and ``E[max G]`` per step.

    Returns:
      Dataset with ``fractions (config, net, step, class)``, ``max_fraction``, ``g0 (config, net, step)``,
      ``out_mean``, ``out_var (config, net, step, out)``, ``test_accuracy``, ``test_loss``; per
      (config, step) ``gamma``, ``gamma_low``, ``gamma_high``, ``max_g``, ``max_g_low``, ``max_g_high``;
      per config ``gamma_theory`` (the untrained network's NNGP prediction, NaN where not covered).
    """
    check_confidence(confidence)
    n = check_n(n)
    steps = check_int("steps", steps, 0)
    data = default_data(n_train, n_test, dim, data_key) if data is None else data
    if data.task != "classification":
        raise ValueError(f"data={data.name}: expected a classification data set (guessing bias is about classes)")
    configs = default_configs(width, depth) if configs is None else dict(configs)
    if not configs:
        raise ValueError("configs={}: expected at least one name -> network")
    if probe not in ("test", "train"):
        raise ValueError(f"probe={probe!r}: expected 'test' or 'train'")
    x_probe = np.asarray(data.x_test if probe == "test" else data.x_train, np.float32)
    optimizer = Optimizer("sgd", learning_rate=0.05) if optimizer is None else optimizer
    record = early_steps(steps) if record is None else record
    measures = {"fractions": class_fractions, "out_mean": output_mean, "out_var": output_var}

    cells, engine_config = [], None
    for name, net in configs.items():
        ds = train(net, data, optimizer, n=n, key=key, loss=loss, steps=steps, batch_size=batch_size, record=record,
                   probe=x_probe, measures=measures, eval_train=False, options=options, progress=progress)
        config = json.loads(ds.attrs["config"])
        engine_config = engine_config or {k: config[k] for k in ("optimizer", "loss", "steps", "batch_size",
                                                                   "data_order", "record", "conventions")}
        cell = ds[["test_accuracy", "test_loss", "diverged_step"]]
        cell["fractions"] = (("net", "step", "class"), ds["fractions"].values)
        cell["out_mean"] = (("net", "step", "out"), ds["out_mean"].values)
        cell["out_var"] = (("net", "step", "out"), ds["out_var"].values)
        cells.append(cell)
    out = xr.concat(cells, dim="config").assign_coords(config=list(configs))
    out["max_fraction"] = out["fractions"].max("class")
    out["g0"] = out["fractions"].isel(**{"class": 0}, drop=True)
    n_points = x_probe.shape[0]
    per_step = {k: np.full((len(configs), out.sizes["step"]), np.nan) for k in
                ("gamma", "gamma_low", "gamma_high", "max_g", "max_g_low", "max_g_high")}
    for c in range(len(configs)):
        for s in range(out.sizes["step"]):
            means = out["out_mean"].values[c, :, s]
            variances = out["out_var"].values[c, :, s]
            ok = np.all(np.isfinite(means), -1) & np.all(np.isfinite(variances), -1)
            if ok.sum() >= 2:
                g = th.estimate_gamma(means[ok], variances[ok], n_points, n_boot=n_boot, level=confidence)
                per_step["gamma"][c, s], per_step["gamma_low"][c, s], per_step["gamma_high"][c, s] = g.value, g.low, g.high
            m = th.estimate_max_fraction(out["max_fraction"].values[c, :, s], n_boot=n_boot, level=confidence)
            per_step["max_g"][c, s], per_step["max_g_low"][c, s], per_step["max_g_high"][c, s] = m.value, m.low, m.high
    for k, v in per_step.items():
        out[k] = (("config", "step"), v)
    out["gamma_theory"] = (("config",), np.asarray([_gamma_theory(net, x_probe) for net in configs.values()]))
    config = {"experiment": "igb_training", "configs": dict(configs), "data": data.describe(),
              "preprocessing": data.describe().get("attrs", {}).get("standardization", "as the data set states"),
              "probe": f"the {probe} split ({n_points} points)", "n": n, "n_boot": n_boot, "confidence": confidence,
              "gamma": "finite-n corrected estimator (Var_chi mean_x f - E var_x f / n) / E var_x f, outputs pooled",
              "train": engine_config}
    out.attrs = {**result_attrs(config, key), "n_points": n_points}
    return out


def _gamma_theory(net, x) -> float:
    try:
        return float(th.predict_gamma(net, x).gamma)
    except (NotImplementedError, ValueError):
        return math.nan
