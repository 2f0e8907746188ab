"""Figures of :func:`jaxbias.experiments.dynamics.redshift_training.redshift_training`.

One figure per activation: one panel per complexity measure against the training step (symlog
axis, 0 = initialisation), median across networks with quartile and 5-95 % bands per weight scale,
the target's score as a black line, and the linear-ramp floor and white-noise ceiling as dotted
grey lines. Written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import xarray as xr

from jaxbias.plot import figure_title, save_figure
from jaxbias.plot_training import ensemble_quantiles

__all__ = ["plot_complexity_during_training", "plot_redshift_training", "figure_paths"]

_LABELS = {"mean_frequency": "mean frequency", "polynomial_order": "polynomial order", "lz": "LZ complexity"}


def _measures(ds: xr.Dataset) -> list[str]:
    return [m for m in _LABELS if m in ds and ds[m].dims[-2:] == ("net", "step")]


def plot_complexity_during_training(ds: xr.Dataset, activation, path) -> pathlib.Path:
    """One activation's figure: each measure against step, one band per weight scale, target and baselines.

    Raises:
      ValueError: ``activation`` is not in ``ds`` or ``ds`` holds no complexity measure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    names = _measures(ds)
    if not names:
        raise ValueError("the result holds none of mean_frequency, polynomial_order, lz")
    if str(activation) not in [str(a) for a in ds["activation"].values]:
        raise ValueError(f"activation={activation!r}: the result has {list(map(str, ds['activation'].values))}")
    cell = ds.sel(activation=str(activation))
    steps = ds["step"].values.astype(np.float64)
    scales = cell["scale"].values
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(scales)))
    fig, axes = plt.subplots(1, len(names), figsize=(max(4.3 * len(names), 7.0), 4.4), squeeze=False,
                             constrained_layout=True)
    for ax, name in zip(axes[0], names):
        for scale, color in zip(scales, colors):
            q = ensemble_quantiles(cell[name].sel(scale=scale).transpose("net", "step").values)
            ax.fill_between(steps, q[0], q[4], color=color, alpha=0.12, lw=0)
            ax.fill_between(steps, q[1], q[3], color=color, alpha=0.3, lw=0)
            ax.plot(steps, q[2], color=color, lw=1.5, label=f"scale {scale:g}")
        ax.axhline(float(ds[f"target_{name}"]), color="k", lw=1.2, label=f"target ({ds.attrs.get('target', '')})")
        for base, style in (("ramp", ":"), ("noise", "-.")):
            value = ds.attrs.get(f"{base}_{name}")
            if value is not None:
                ax.axhline(float(value), color="0.5", lw=0.8, ls=style,
                           label="linear ramp (floor)" if base == "ramp" else "white noise (ceiling)")
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("training step (symlog: 0 = initialisation)", fontsize=8)
        ax.set_title(_LABELS[name], fontsize=9)
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.tick_params(labelsize=7, which="both")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    kind = ds.attrs.get("scale_meaning", "")
    figure_title(fig, f"{activation}: complexity on the probe grid during training, {ds.sizes['net']} networks per "
                 f"scale (median, quartiles, 5-95 %)\n{kind}", fontsize=9)
    return save_figure(fig, path)


def figure_paths(activations, directory) -> list[pathlib.Path]:
    """The files :func:`plot_redshift_training` writes: ``directory / complexity_<activation>.png`` per activation."""
    out = []
    for activation in activations:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(activation)).strip("_") or "activation"
        out.append(pathlib.Path(directory) / f"complexity_{slug}.png")
    return out


def plot_redshift_training(ds: xr.Dataset, directory) -> list[pathlib.Path]:
    """Writes ``complexity_<activation>.png`` per activation into ``directory`` (created if missing); returns the paths."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    activations = [str(a) for a in ds["activation"].values]
    return [plot_complexity_during_training(ds, a, path) for a, path in zip(activations, figure_paths(activations,
                                                                                                        directory))]
