"""The neural redshift during training: function complexity recorded while networks learn a task.

Teney et al., "Neural Redshift: Random Networks are not Random Functions" (CVPR 2024) measure the
complexity of random networks' functions (:mod:`jaxbias.experiments.redshift`) and ask, for trained
networks, whether the initial simplicity predicts what is learned and how fast. Here ``n`` networks
per (activation, weight scale) cell are trained on a regression task on ``[-1, 1]^dim`` with
:func:`jaxbias.train`, and the complexity measures of the redshift experiment (Fourier mean
frequency, Legendre polynomial order, LZ complexity) are taken on a ``resolution^dim`` grid probe at
log-spaced steps, inside the training program. The target's own scores on the same grid are the
reference the trained functions move towards; a linear ramp (the floor) and white noise (the
ceiling) are the baselines (:func:`jaxbias.experiments.redshift.baselines`).

Each cell's network is :func:`jaxbias.experiments.redshift.unit_scale_mlp` at the cell's scale:
``scale_kind="weight_var"`` (C_W = scale, weights ``N(0, C_W / fan_in)``, biases of variance
``bias_var``) or ``"absolute"`` (weights and biases ``U(-scale, scale)``, the Neural Redshift code's
law); step 0 of network ``i`` is ``jb.sample``'s network ``i`` of that spec, as in
:func:`jaxbias.experiments.redshift.redshift_cell`.

>>> from jaxbias.training import Optimizer
>>> ds = redshift_training(activations=("tanh",), scales=(1.0,), depth=1, width=8, n=2, steps=3,
...                        optimizer=Optimizer("sgd", learning_rate=0.01), resolution=8, n_train=16, n_test=8,
...                        measures=("mean_frequency",), progress=False)
>>> ds["mean_frequency"].dims
('activation', 'scale', 'net', 'step')
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Sequence

import numpy as np
import xarray as xr

from jaxbias import inputs
from jaxbias import measures as jm
from jaxbias.datasets import Dataset, from_arrays
from jaxbias.experiments.redshift import MEASURES as REDSHIFT_MEASURES
from jaxbias.experiments.redshift import SCALE_KINDS, SCALE_MEANING, baselines, unit_scale_mlp
from jaxbias.nets.mlp import MLP
from jaxbias.results import result_attrs
from jaxbias.training import Optimizer, train
from jaxbias.validation import check_int, check_n

__all__ = ["MEASURES", "TARGET_FORMS", "Target", "parse_target", "target_dataset", "cell_net", "measure_values",
           "redshift_training"]

MEASURES = ("mean_frequency", "polynomial_order", "lz")
"""Complexity measures recorded during training (the redshift experiment's, on the grid probe)."""

TARGET_FORMS = ("constant", "linear", "sine:K (sin(pi K mean(x)), K half-periods over [-1, 1] along the diagonal)",
                "radial:K (cos(pi K |x| / sqrt(dim)))")
"""The target spellings :func:`parse_target` accepts, with what each computes."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A target function on ``[-1, 1]^dim``: a hashable value (its spelling is stored in the result).

    Attributes:
      kind: ``"constant"`` (1), ``"linear"`` (``mean(x)``), ``"sine"`` (``sin(pi K mean(x))``) or
        ``"radial"`` (``cos(pi K |x| / sqrt(dim))``).
      frequency: ``K`` for sine and radial.
    """

    kind: str
    frequency: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The target at points ``x (P, dim)``: ``(P,)`` float64."""
        x = np.asarray(x, np.float64)
        if self.kind == "constant":
            return np.ones(x.shape[0])
        if self.kind == "linear":
            return x.mean(axis=1)
        if self.kind == "sine":
            return np.sin(math.pi * self.frequency * x.mean(axis=1))
        return np.cos(math.pi * self.frequency * np.linalg.norm(x, axis=1) / math.sqrt(x.shape[1]))

    def __str__(self) -> str:
        return self.kind if self.kind in ("constant", "linear") else f"{self.kind}:{self.frequency:g}"


def parse_target(spec: Any) -> Target:
    """A :class:`Target` from its spelling (``"constant"``, ``"linear"``, ``"sine:2"``, ``"radial:3"``).

    Raises:
      ValueError: naming the spec and the accepted forms (:data:`TARGET_FORMS`).
    """
    if isinstance(spec, Target):
        return spec
    m = re.fullmatch(r"(constant|linear)|(sine|radial):([0-9.eE+-]+)", str(spec).strip())
    try:
        frequency = float(m.group(3)) if m and m.group(2) else 0.0
    except ValueError:
        m = None
    if m is None or not (math.isfinite(frequency) and frequency >= 0):
        raise ValueError(f"target={spec!r}: expected one of {'; '.join(TARGET_FORMS)} (K >= 0)")
    return Target(m.group(1) or m.group(2), frequency)


def target_dataset(target: Any = "sine:2", *, dim: int = 2, n_train: int = 256, n_test: int = 256,
                   key: int = 0) -> Dataset:
    """Regression on a :class:`Target`: inputs uniform on ``[-1, 1]^dim``, not standardised.

    The inputs are left as drawn so that the grid probe over ``[-1, 1]^dim`` covers exactly the
    training domain. ``key`` (an int seed) draws the inputs with numpy.
    """
    target = parse_target(target)
    dim, n_train, n_test = check_int("dim", dim, 1), check_int("n_train", n_train, 1), check_int("n_test", n_test, 1)
    rng = np.random.default_rng(check_int("data_key", key, 0))
    x = rng.uniform(-1.0, 1.0, size=(n_train + n_test, dim)).astype(np.float32)
    y = target(x).astype(np.float32)[:, None]
    return from_arrays(x[:n_train], y[:n_train], x[n_train:], y[n_train:], standardize=False, name=f"target {target}")


def cell_net(activation, scale: float, *, scale_kind: str = "weight_var", depth: int = 4, width: int = 64,
             bias_var: float = 0.1, dim: int | None = None) -> MLP:
    """The network of one (activation, scale) cell: :func:`unit_scale_mlp` at weight scale ``scale``.

    ``scale_kind="weight_var"``: C_W = scale (biases variance ``bias_var``); ``"absolute"``: weights and
    biases ``U(-scale, scale)``. Equal in law to :class:`jaxbias.experiments.redshift.ScaledNet`'s column
    at that scale (the same key gives the same network up to float rounding).
    """
    if scale_kind not in SCALE_KINDS:
        raise ValueError(f"scale_kind={scale_kind!r}: expected one of {SCALE_KINDS}")
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale={scale!r}: expected a positive finite number")
    base = unit_scale_mlp(activation, depth, scale_kind=scale_kind, width=width, bias_var=bias_var)
    if scale_kind == "absolute":
        return dataclasses.replace(base, weight_law=f"absolute({scale:g})", in_dim=dim)
    return dataclasses.replace(base, weight_var=scale, in_dim=dim)


def measure_values(names: Sequence[str], resolution: int, dim: int, degree: int = 8) -> dict:
    """name -> hashable measure of one network's probe outputs on the ``resolution^dim`` grid."""
    names = tuple(dict.fromkeys(names))
    unknown = [m for m in names if m not in MEASURES]
    if unknown or not names:
        raise ValueError(f"measures={list(names)!r}: expected a non-empty subset of {MEASURES}")
    shape = (resolution,) * dim
    table = {"mean_frequency": lambda: jm.MeanFrequency(shape=shape),
             "polynomial_order": lambda: jm.PolynomialOrder(shape=shape, degree=degree),
             "lz": lambda: jm.LZComplexity(levels=2)}
    return {name: table[name]() for name in names}


def redshift_training(*, activations: Sequence = ("relu", "tanh"), scales: Sequence[float] = (1.0, 4.0),
                      scale_kind: str = "weight_var", depth: int = 4, width: int = 64, bias_var: float = 0.1,
                      target: Any = "sine:2", dim: int = 2, n_train: int = 256, n_test: int = 256, data_key: int = 0,
                      optimizer: Any = None, loss: str = "mse", steps: int = 1000, batch_size: int | None = None,
                      record: Any = 20, n: int = 32, key: Any = 0, resolution: int = 32,
                      measures: Sequence[str] = MEASURES, degree: int = 8, options=None,
                      progress: bool | None = None) -> xr.Dataset:
    """Trains ``n`` networks per (activation, scale) cell on a target and records their complexity.

    Args:
      activations, scales, scale_kind, depth, width, bias_var: the cells' networks (:func:`cell_net`).
      target: a :class:`Target` or its spelling (:data:`TARGET_FORMS`).
      dim, n_train, n_test, data_key: the data set (:func:`target_dataset`).
      optimizer: a :class:`jaxbias.training.Optimizer` (default ``Optimizer("adam", learning_rate=1e-3)``:
        the same steps are stable at every weight scale, where one SGD rate is not).
      loss, steps, batch_size, record: as :func:`jaxbias.train` (``record``: about that many log-spaced steps).
      n: networks per cell (network ``i`` starts as ``jb.sample``'s network ``i`` of the cell's spec).
      key: int seed or JAX key of the networks (and of per-network minibatch orders).
      resolution: the probe is ``jb.inputs.grid(dim, resolution)`` over ``[-1, 1]^dim``.
      measures: names from :data:`MEASURES`; degree: Legendre degree per axis (polynomial order).
      options, progress: engine options (:func:`jaxbias.train`).

    Returns:
      Dataset with dims ``(activation, scale, net, step)``: each measure, ``train_loss``, ``test_loss``,
      ``param_distance_relative``; ``diverged_step (activation, scale, net)``; scalars
      ``target_<measure>`` (the target on the probe grid); attrs: the config (data description,
      preprocessing, architecture, optimizer, record steps), ``scale_meaning`` and the baselines
      ``ramp_<measure>``, ``noise_<measure>``.

    Raises:
      ValueError: a bad argument, named.
    """
    target = parse_target(target)
    activations = list(activations)
    if not activations:
        raise ValueError("activations=(): expected at least one activation")
    scales = [float(s) for s in scales]
    if not scales or len(set(scales)) != len(scales):
        raise ValueError(f"scales={scales!r}: expected distinct positive numbers")
    n = check_n(n)
    resolution, dim = check_int("resolution", resolution, 2), check_int("dim", dim, 1)
    fns = measure_values(measures, resolution, dim, degree)
    nets = {(a, s): cell_net(a, s, scale_kind=scale_kind, depth=depth, width=width, bias_var=bias_var, dim=dim)
            for a in activations for s in scales}  # every spec is built (and checked) before anything trains
    optimizer = Optimizer("adam", learning_rate=1e-3) if optimizer is None else optimizer
    data = target_dataset(target, dim=dim, n_train=n_train, n_test=n_test, key=data_key)
    probe = np.asarray(inputs.grid(dim, resolution))

    keep = list(fns) + ["train_loss", "test_loss", "param_distance_relative"]
    cells, engine_config = {}, None
    for (a, s), net in nets.items():
        ds = train(net, data, optimizer, n=n, key=key, loss=loss, steps=steps, batch_size=batch_size, record=record,
                   probe=probe, measures=fns, options=options, progress=progress)
        engine_config = engine_config or _engine_config(ds)
        cells[(a, s)] = ds[keep + ["diverged_step"]]
    stacked = xr.concat([xr.concat([cells[(a, s)] for s in scales], dim="scale") for a in activations],
                        dim="activation")
    stacked = stacked.assign_coords(activation=[str(a) for a in activations], scale=np.asarray(scales))
    y_probe = target(probe).astype(np.float32)[:, None]
    for name, fn in fns.items():
        stacked[f"target_{name}"] = ((), np.float64(fn(y_probe)))
    config = {"experiment": "redshift_training", "activations": [str(a) for a in activations], "scales": scales,
              "scale_kind": scale_kind, "depth": depth, "width": width, "bias_var": bias_var,
              "nets": {f"{a}|{s:g}": net for (a, s), net in nets.items()}, "target": str(target),
              "data": data.describe(), "preprocessing": "none: inputs uniform on [-1, 1]^dim as drawn, targets raw",
              "probe": f"grid over [-1, 1]^{dim}, {resolution} points per axis", "measures": list(fns),
              "degree": degree, "n": n, "train": engine_config}
    stacked.attrs = {**result_attrs(config, key), "scale_kind": scale_kind, "scale_meaning": SCALE_MEANING[scale_kind],
                     "target": str(target),
                     **baselines(dim, resolution, [m for m in fns if m in REDSHIFT_MEASURES], degree=degree)}
    return stacked


def _engine_config(ds: xr.Dataset) -> dict:
    """The engine's config of one cell's run, less the network (stored per cell): optimizer, loss, steps, record."""
    import json

    config = json.loads(ds.attrs["config"])
    return {k: config[k] for k in ("optimizer", "loss", "steps", "batch_size", "data_order", "record", "conventions")
            if k in config}
