"""Figure of the distributional simplicity experiment (:func:`jaxbias.experiments.dynamics.simplicity.simplicity`).

Left: accuracy on the real test data against training step (symlog axis: step 0 is the shared
initialisation), one colour per training distribution, median across networks as a line with the
quartiles as a band; the separation step of each clone as a dashed vertical line with its bootstrap
interval shaded. Right: the paired gap (data minus clone) with ``k`` standard errors, the quantity the
separation step is defined on. Written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import figure_title, save_figure
from jaxbias.plot_training import ensemble_quantiles

__all__ = ["plot_simplicity"]

_LABELS = {"data": "real data", "mean": "mean clone (class means, isotropic)",
           "gaussian": "Gaussian clone (class means and covariances)"}
_COLORS = {"data": "k", "mean": "tab:orange", "gaussian": "tab:blue"}


def _symlog(ax) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("training step (symlog axis: 0 = initialisation)", fontsize=8)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.tick_params(labelsize=7, which="both")


def _interval_text(ds: xr.Dataset, kind: str) -> str:
    s = float(ds["separation_step"].sel(clone=kind))
    if not np.isfinite(s):
        return "no separation within the run"
    low, high = float(ds["separation_low"].sel(clone=kind)), float(ds["separation_high"].sel(clone=kind))
    return f"separate at step {s:g} [{low:g}, {high:g}]"


def plot_simplicity(ds: xr.Dataset, path) -> pathlib.Path:
    """Real-test accuracy against step per training distribution, with the separation steps.

    Args:
      ds: a result of :func:`~jaxbias.experiments.dynamics.simplicity.simplicity`.
      path: image path (``.png``, ``.pdf``, ``.svg``).

    Returns:
      The written path.

    Raises:
      ValueError: ``ds`` is not such a result.
    """
    import matplotlib.pyplot as plt

    missing = [v for v in ("test_accuracy", "separation_step", "accuracy_gap") if v not in ds]
    if missing or "distribution" not in ds.dims:
        raise ValueError(f"ds lacks {missing or ['the distribution dim']}: expected a result of simplicity()")
    config = json.loads(ds.attrs.get("config", "{}"))
    sep = config.get("separation", {})
    k = sep.get("k", float("nan"))
    steps = ds["step"].values.astype(np.float64)
    fig, (ax, gap_ax) = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    for name in ds["distribution"].values:
        name = str(name)
        color = _COLORS.get(name, None)
        q = ensemble_quantiles(ds["test_accuracy"].sel(distribution=name).transpose("net", "step").values)
        label = _LABELS.get(name, name)
        if name != "data":
            label += f": {_interval_text(ds, name)}"
        line, = ax.plot(steps, q[2], color=color, lw=1.6, label=label)
        ax.fill_between(steps, q[1], q[3], color=line.get_color(), alpha=0.25, lw=0)
        if name == "data":
            continue
        s = float(ds["separation_step"].sel(clone=name))
        if np.isfinite(s):
            ax.axvline(s, color=line.get_color(), ls="--", lw=1)
            low, high = float(ds["separation_low"].sel(clone=name)), float(ds["separation_high"].sel(clone=name))
            ax.axvspan(low, high if np.isfinite(high) else steps[-1], color=line.get_color(), alpha=0.08, lw=0)
        g = ds["accuracy_gap"].sel(clone=name).values
        se = ds["accuracy_gap_se"].sel(clone=name).values
        gap_ax.plot(steps, g, color=line.get_color(), lw=1.4, label=f"data - {name} clone")
        gap_ax.fill_between(steps, g - k * se, g + k * se, color=line.get_color(), alpha=0.2, lw=0)
        if np.isfinite(s):
            gap_ax.axvline(s, color=line.get_color(), ls="--", lw=1)
    n_classes = config.get("data", {}).get("n_classes")
    if n_classes:
        ax.axhline(1 / n_classes, color="0.5", ls=":", lw=1, label="chance")
    _symlog(ax)
    _symlog(gap_ax)
    ax.set_ylabel("accuracy on the real test data", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper left")
    gap_ax.axhline(0, color="0.5", lw=0.8)
    gap_ax.set_ylabel(f"paired accuracy gap (mean across networks, +-{k:.2f} s.e.)", fontsize=8)
    gap_ax.legend(fontsize=7, loc="upper left")
    data_name = config.get("data", {}).get("name", "data")
    opt = config.get("optimizer", {})
    figure_title(fig, f"Distributional simplicity: {ds.sizes['net']} networks per distribution on {data_name}, "
                 f"{opt.get('name', '')} {opt.get('hyperparams', '')}, {config.get('loss', '')} loss; median and "
                 f"quartiles. Separation: first step with |gap| > {k:.2f} s.e. and >= {sep.get('min_difference', '')}, "
                 "95 % bootstrap interval shaded", fontsize=9)
    return save_figure(fig, path)
