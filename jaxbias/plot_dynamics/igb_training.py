"""Figures of :func:`jaxbias.experiments.dynamics.igb_training.igb_training`.

Left: the largest class fraction ``max_i G_i`` of each network on the probe against step, median
across networks with quartile and 5-95 % bands, one colour per configuration, and the mean with its
bootstrap interval. Right: the estimated ``gamma`` per step with its interval (symlog axis: gamma can
cross 0), with the untrained network's theory value marked at step 0. Written atomically.
"""

from __future__ import annotations

import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import figure_title, save_figure
from jaxbias.plot_training import ensemble_quantiles

__all__ = ["plot_igb_training"]


def plot_igb_training(ds: xr.Dataset, path) -> pathlib.Path:
    """Max class fraction (bands across networks) and gamma against step, per configuration.

    Args:
      ds: a result of :func:`~jaxbias.experiments.dynamics.igb_training.igb_training`.
      path: image path.

    Returns:
      The written path.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    steps = ds["step"].values.astype(np.float64)
    colors = plt.get_cmap("tab10")(np.arange(ds.sizes["config"]))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 5.2), constrained_layout=True)
    for c, color in zip(ds["config"].values, colors):
        cell = ds.sel(config=c)
        q = ensemble_quantiles(cell["max_fraction"].transpose("net", "step").values)
        ax.fill_between(steps, q[0], q[4], color=color, alpha=0.12, lw=0)
        ax.fill_between(steps, q[1], q[3], color=color, alpha=0.3, lw=0)
        ax.plot(steps, q[2], color=color, lw=1.5, label=f"{c}: median")
        ax.plot(steps, cell["max_g"].values, color=color, lw=1.0, ls="--", label=f"{c}: mean E[max G]")
        ax2.fill_between(steps, cell["gamma_low"].values, cell["gamma_high"].values, color=color, alpha=0.25, lw=0)
        ax2.plot(steps, cell["gamma"].values, color=color, lw=1.5, label=f"{c}: gamma (95 % bootstrap)")
        theory = float(cell["gamma_theory"])
        if np.isfinite(theory):
            ax2.plot([0], [theory], marker="*", color=color, ms=10, ls="none", label=f"{c}: theory at init",
                     clip_on=False)  # at the axis edge (step 0): drawn whole
    ax.axhline(0.5 if ds.sizes["class"] == 2 else 1.0 / ds.sizes["class"], color="0.5", lw=0.8, ls=":",
               label="no bias (1 / classes)")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("largest class fraction on the probe")
    ax2.set_yscale("symlog", linthresh=0.1)
    ax2.axhline(1.0, color="0.5", lw=0.8, ls=":", label="gamma = 1 (uniform G_0)")
    ax2.set_ylabel("gamma (finite-n corrected)")
    for a in (ax, ax2):
        a.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        a.set_xlim(left=0)
        a.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        a.set_xlabel("training step (symlog: 0 = initialisation)", fontsize=8)
        a.grid(alpha=0.3, which="both", lw=0.5)
        a.tick_params(labelsize=8)
        # below the axes: inside, the legend would sit on the bands
        a.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    figure_title(fig, f"Initial guessing bias during training: {ds.sizes['net']} networks per configuration, "
                 f"{ds.attrs.get('n_points', '?')} probe points (bands: quartiles, 5-95 %)", fontsize=9)
    return save_figure(fig, path)
