"""Figures of training runs (:func:`jaxbias.training.train`): curves across an ensemble of networks.

Each quantity is drawn against the training step with the median across networks as a line, the
quartiles as a dark band and the 5-95 % range as a light band, so a reader sees the typical network
and the spread of the ensemble at once. The step axis is symlog (linear on ``[0, 1]``, logarithmic
beyond), so step 0, the initial networks, is shown with the log-spaced steps after it. Networks
trained with different hyperparameters (``vary=``, e.g. a learning-rate sweep) get one line and
band per value.

* :func:`plot_learning_curves`: loss and accuracy (classification), train and test.
* :func:`plot_training_measures`: every other recorded measure (distance from initialisation,
  tangent-kernel motion, probe measures).
* :func:`plot_training`: both, into a directory.

All figures are written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import math
import pathlib
import warnings

import numpy as np
import xarray as xr

from jaxbias.plot import save_figure

__all__ = ["plot_learning_curves", "plot_training_measures", "plot_training", "ensemble_quantiles"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_CURVES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")
_LABELS = {
    "train_loss": "train loss", "test_loss": "test loss", "train_accuracy": "train accuracy",
    "test_accuracy": "test accuracy", "param_distance": "|theta_t - theta_0|",
    "param_distance_relative": "|theta_t - theta_0| / |theta_0|",
    "ntk_distance": "NTK distance from init (1 - cosine)", "ntk_relative_change": "|K_t - K_0| / |K_0|",
    "ntk_velocity": "NTK velocity (kernel distance per step)", "ntk_alignment": "NTK-target alignment",
    "mean_frequency": "mean frequency on the probe", "polynomial_order": "polynomial order on the probe",
    "lz": "LZ complexity on the probe", "class_fractions": "largest class fraction on the probe",
}
_STEP_LABEL = "training step (symlog axis: 0 = initialisation)"


def ensemble_quantiles(values: np.ndarray, quantiles=QUANTILES) -> np.ndarray:
    """``(len(quantiles), n_steps)`` quantiles across networks of ``values (n_nets, n_steps)``, ignoring NaNs.

    A step where no network has a finite value (e.g. the kernel velocity at step 0) gives NaN.
    """
    values = np.asarray(values, np.float64)
    values = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: NaN is the answer
        return np.nanquantile(values, quantiles, axis=0)


def _groups(ds: xr.Dataset) -> list[tuple[str, np.ndarray]]:
    """``(label, network indices)`` per combination of the varied hyperparameters (coords on ``net``)."""
    varied = sorted(str(c) for c in ds.coords if c != "net" and ds[c].dims == ("net",))
    if not varied:
        return [("", np.arange(ds.sizes["net"]))]
    keys = np.stack([ds[c].values for c in varied], axis=1)
    out = []
    for key in np.unique(keys, axis=0):
        members = np.flatnonzero((keys == key).all(axis=1))
        label = ", ".join(f"{'lr' if c == 'learning_rate' else c} {v:g}" for c, v in zip(varied, key))
        out.append((f"{label} ({members.size} nets)", members))
    return out


def _per_net_step(da: xr.DataArray) -> tuple[np.ndarray, str]:
    """``(values (net, step), label suffix)``: extra dims are reduced by their maximum."""
    extra = [d for d in da.dims if d not in ("net", "step")]
    if not extra:
        return da.transpose("net", "step").values, ""
    suffix = "" if da.name == "class_fractions" else f" (max over {', '.join(extra)})"
    return da.max(extra).transpose("net", "step").values, suffix


def _draw(ax, steps: np.ndarray, values: np.ndarray, groups, colors) -> None:
    for (label, members), color in zip(groups, colors):
        q = ensemble_quantiles(values[members])
        ax.fill_between(steps, q[0], q[4], color=color, alpha=0.12, lw=0)
        ax.fill_between(steps, q[1], q[3], color=color, alpha=0.3, lw=0)
        ax.plot(steps, q[2], color=color, lw=1.5, label=label or "median")


def _style(ax, name: str, values: np.ndarray, title: str) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(_STEP_LABEL, fontsize=8)
    ax.set_title(title, fontsize=9)
    finite = values[np.isfinite(values)]
    if name.endswith("_loss") and finite.size and finite.min() > 0:
        ax.set_yscale("log")
    if name.endswith("_accuracy"):
        ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.tick_params(labelsize=7, which="both")


def _legend(fig, axes, groups) -> None:
    from matplotlib.patches import Patch

    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Patch(color="0.3", alpha=0.45, label="quartiles"), Patch(color="0.3", alpha=0.15, label="5-95 %")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)


def _figure(ds: xr.Dataset, names: list[str], path, title: str, *, columns: int) -> pathlib.Path:
    import matplotlib.pyplot as plt

    if not names:
        raise ValueError(f"the result has none of the variables to draw in {pathlib.Path(path).name}")
    groups = _groups(ds)
    colors = plt.get_cmap("viridis" if len(groups) > 1 else "tab10")(
        np.linspace(0.0, 0.85, len(groups)) if len(groups) > 1 else [0])
    rows = math.ceil(len(names) / columns)
    cols = min(columns, len(names))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows + 0.6), squeeze=False)
    axes = axes.ravel()
    steps = ds["step"].values.astype(np.float64)
    for ax, name in zip(axes, names):
        values, suffix = _per_net_step(ds[name])
        _draw(ax, steps, values, groups, colors)
        _style(ax, name, values, _LABELS.get(name, name.replace("_", " ")) + suffix)
    for ax in axes[len(names):]:
        ax.axis("off")
    _legend(fig, axes, groups)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save_figure(fig, path)


def _title(ds: xr.Dataset) -> str:
    import json

    try:
        config = json.loads(ds.attrs["config"])
        data = config["data"]["name"]
        opt = config["optimizer"]
        hyper = ", ".join(f"{k}={v}" for k, v in opt.get("hyperparams", {}).items()
                          if not (k in ds.coords and ds[k].dims == ("net",)))
        return f"{ds.sizes['net']} networks on {data}, {opt.get('name')}" + (f" ({hyper})" if hyper else "") \
            + f", {config['loss']} loss: median, quartiles and 5-95 % across networks"
    except (KeyError, TypeError, ValueError):
        return f"{ds.sizes['net']} networks: median, quartiles and 5-95 % across networks"


def _curve_names(ds: xr.Dataset) -> list[str]:
    return [name for name in _CURVES if name in ds]


def _measure_names(ds: xr.Dataset) -> list[str]:
    """Recorded measures other than loss and accuracy; raw outputs ``(point, out)`` are not drawn."""
    names = [str(name) for name, da in ds.data_vars.items()
             if da.dims[:2] == ("net", "step") and name not in _CURVES and "point" not in da.dims]
    order = list(_LABELS)  # distances and kernel motion first, then the probe measures, then anything else
    return sorted(names, key=lambda name: (order.index(name) if name in order else len(order), name))


def plot_learning_curves(ds: xr.Dataset, path) -> pathlib.Path:
    """Loss and accuracy against step: train and test, median and bands across networks.

    Args:
      ds: a result of :func:`jaxbias.training.train` (dims ``net``, ``step``).
      path: image path (``.png``, ``.pdf``, ``.svg``).

    Returns:
      The written path.

    Raises:
      ValueError: ``ds`` holds no loss or accuracy.
    """
    return _figure(ds, _curve_names(ds), path, _title(ds), columns=2)


def plot_training_measures(ds: xr.Dataset, path) -> pathlib.Path:
    """Every recorded measure other than loss and accuracy against step, one panel each.

    Measures with extra dims (e.g. ``class_fractions`` per class) are drawn as their maximum
    over those dims (the largest class fraction).

    Args:
      ds: a result of :func:`jaxbias.training.train`.
      path: image path.

    Returns:
      The written path.

    Raises:
      ValueError: ``ds`` holds no such measure.
    """
    return _figure(ds, _measure_names(ds), path, _title(ds), columns=3)


def plot_training(ds: xr.Dataset, directory) -> list[pathlib.Path]:
    """Writes ``curves.png`` (:func:`plot_learning_curves`) and ``measures.png`` (:func:`plot_training_measures`,
    when there are measures) into ``directory``; returns the written paths."""
    directory = pathlib.Path(directory)
    written = [plot_learning_curves(ds, directory / "curves.png")]
    if _measure_names(ds):
        written.append(plot_training_measures(ds, directory / "measures.png"))
    return written
