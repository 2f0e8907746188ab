"""Figures of :func:`jaxbias.experiments.dynamics.ntk_motion.ntk_motion`.

Left: relative change of the tangent kernel at the end of training against width, log-log, one
series per parameterisation: the mean over networks with its 95 % bootstrap interval, the fitted
power law and, in the legend, its slope with the bootstrap interval over networks; a dashed
width^-1 guide. Right: the relative change against step, median across networks per width.
Written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import log_ticks, save_figure

__all__ = ["plot_ntk_motion"]

_COLORS = {"ntk": "tab:blue", "standard": "tab:red"}


def _mean_interval(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size < 2:
        return float(np.mean(values)) if values.size else np.nan, np.nan, np.nan
    rng = np.random.default_rng(seed)
    boot = values[rng.integers(0, values.size, (n_boot, values.size))].mean(1)
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(values.mean()), float(low), float(high)


def plot_ntk_motion(ds: xr.Dataset, path) -> pathlib.Path:
    """Relative NTK change at the end against width (log-log, fitted slope), and against step.

    Args:
      ds: a result of :func:`~jaxbias.experiments.dynamics.ntk_motion.ntk_motion`.
      path: image path.

    Returns:
      The written path.
    """
    import matplotlib.pyplot as plt

    widths = ds["width"].values.astype(np.float64)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.4), constrained_layout=True)
    for p in ds["parameterization"].values:
        cell = ds.sel(parameterization=p)
        color = _COLORS.get(str(p), "k")
        end = cell["ntk_relative_change"].isel(step=-1).transpose("width", "net").values.astype(np.float64)
        stats = np.asarray([_mean_interval(row) for row in end])
        ax.errorbar(widths, stats[:, 0], yerr=[stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]], fmt="o",
                    color=color, ms=4, capsize=2)
        slope, low, high = (float(cell[k]) for k in ("slope", "slope_low", "slope_high"))
        fit = np.exp(float(cell["intercept"])) * widths ** slope
        ax.plot(widths, fit, color=color, lw=1.2,
                label=f"{p} parameterisation: slope {slope:.2f} [{low:.2f}, {high:.2f}]")
        steps = ds["step"].values.astype(np.float64)
        for j, w in enumerate(widths):
            med = np.nanmedian(cell["ntk_relative_change"].isel(width=j).transpose("net", "step").values, 0)
            ax2.plot(steps[1:], med[1:], color=color, lw=1.0, alpha=0.35 + 0.65 * j / max(len(widths) - 1, 1),
                     label=f"{p}, width {int(w)}")
    mid = np.exp(np.nanmean(np.log(ds["ntk_relative_change"].isel(step=-1).mean("net").values)))
    ax.plot(widths, mid * (widths / np.exp(np.log(widths).mean())) ** -1.0, "k--", lw=0.8, label="width^-1 guide")
    ax.set(xscale="log", yscale="log", xlabel="width", ylabel="|K_T - K_0|_F / |K_0|_F at the last step")
    rule = ds.attrs.get("lr_rule", "")
    rates = ", ".join(f"{p}: {float(np.median(ds['function_space_rate'].sel(parameterization=p))):.3g}"
                      for p in ds["parameterization"].values)
    ax.set_title(f"kernel motion at the last step: mean, 95 % interval over networks\n"
                 f"lr rule {rule}; median eta lambda_max / N: {rates}", fontsize=8)
    ax.legend(fontsize=7)
    ax2.set(xscale="log", yscale="log", xlabel="training step", ylabel="median |K_t - K_0|_F / |K_0|_F")
    ax2.set_title("relative change during training", fontsize=8)
    ax2.legend(fontsize=6, ncol=2)
    log_ticks(ax, "x", widths)
    steps = ds["step"].values[1:]
    log_ticks(ax2, "x", steps if len(steps) <= 8 else None)
    for a in (ax, ax2):
        log_ticks(a, "y")
        a.grid(alpha=0.3, which="both", lw=0.5)
        a.tick_params(labelsize=8, which="both")
    return save_figure(fig, path)
