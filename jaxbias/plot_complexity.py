"""Figures of function complexity: redshift heatmaps and curves, the Boolean prior.

* :func:`plot_redshift_heatmaps`: one heatmap per activation, depth x weight scale, coloured by
  the cell mean of a measure, with the ramp (floor) and white-noise (ceiling) baselines marked
  on the colour bar.
* :func:`plot_redshift_curves`: the measure against weight scale, one line per depth with its
  95 % confidence band, one panel per activation, baselines as dashed lines.
* :func:`plot_boolean_prior`: rank-frequency plot and log10 P(f) against LZ complexity.

All figures are written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import figure_title, log_ticks, save_figure

__all__ = ["plot_redshift_heatmaps", "plot_redshift_curves", "plot_boolean_prior"]

_LABELS = {"mean_frequency": "mean frequency", "polynomial_order": "polynomial order", "lz": "LZ complexity",
           "mean_frequency_redshift_code": "mean frequency (Neural Redshift code variant)"}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _panels(ds: xr.Dataset, measure: str):
    """(title, DataArray of <measure>_mean (depth, scale)) for each activation and extra swept value."""
    mean = ds[f"{measure}_mean"]
    extra = [d for d in mean.dims if d not in ("activation", "depth", "scale")]
    out = []
    stacked = mean.stack(_cell=extra) if extra else mean.expand_dims(_cell=[0])
    for c in range(stacked.sizes["_cell"]):
        sub = stacked.isel(_cell=c)
        suffix = ", ".join(f"{d}={sub[d].item()}" for d in extra) if extra else ""
        for act in mean["activation"].values:
            title = str(act) + (f" ({suffix})" if suffix else "")
            out.append((title, sub.sel(activation=act).transpose("depth", "scale"), extra, c))
    return out


def _scale_label(ds) -> str:
    kind = ds.attrs.get("scale_kind", "")
    return {"weight_var": "weight scale C_W (weights N(0, C_W / fan_in))",
            "absolute": "weight scale a (weights, biases U(-a, a))"}.get(kind, "weight scale")


def _settings(ds, measure: str) -> str:
    """What the numbers depend on, for the figure: the Fourier window (mean frequency) and the scale kind."""
    try:
        config = json.loads(ds.attrs.get("config", "{}"))
    except (TypeError, json.JSONDecodeError):
        config = {}
    parts = []
    if measure == "mean_frequency":
        window = config.get("window")
        parts.append(f"Fourier window: {window or 'none'}")
    kind = ds.attrs.get("scale_kind", config.get("scale_kind"))
    if kind:
        parts.append({"weight_var": "scale kind weight_var (C_W, weights N(0, C_W / fan_in))",
                      "absolute": "scale kind absolute (weights, biases U(-a, a))"}.get(kind, f"scale kind {kind}"))
    return "; ".join(parts)


def plot_redshift_heatmaps(ds: xr.Dataset, path, measure: str = "mean_frequency", max_panels: int = 12) -> pathlib.Path:
    """Heatmaps of the cell mean of ``measure``: one panel per activation, depth (rows) x scale (columns).

    Args:
      ds: Dataset of :func:`jaxbias.experiments.redshift`.
      path: image path.
      measure: ``mean_frequency``, ``polynomial_order`` or ``lz``.
      max_panels: at most this many panels (activations x extra swept values).
    """
    plt = _plt()
    panels = _panels(ds, measure)[:max_panels]
    ramp, noise = ds.attrs.get(f"ramp_{measure}"), ds.attrs.get(f"noise_{measure}")
    values = np.concatenate([p[1].values.ravel() for p in panels])
    lo = min(np.nanmin(values), ramp if ramp is not None else np.inf)
    hi = max(np.nanmax(values), noise if noise is not None else -np.inf)
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    n_scales = max(p[1].sizes["scale"] for p in panels)
    width = max(3.2 + 0.1 * max(n_scales - 5, 0), 3.2) * cols + 1.4
    fig, axes = plt.subplots(rows, cols, figsize=(max(width, 6.5), 2.8 * rows + 1.0), squeeze=False,
                             constrained_layout=True)
    image = None
    for ax, (title, grid, _, _) in zip(axes.ravel(), panels):
        image = ax.imshow(grid.values, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi)
        ax.set_xticks(range(grid.sizes["scale"]), [f"{s:g}" for s in grid["scale"].values], fontsize=7)
        ax.set_yticks(range(grid.sizes["depth"]), [str(d) for d in grid["depth"].values], fontsize=7)
        ax.set_xlabel(_scale_label(ds), fontsize=7)
        ax.set_ylabel("depth", fontsize=7)
        ax.set_title(title, fontsize=9)
        for (i, j), v in np.ndenumerate(grid.values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if v < lo + 0.6 * (hi - lo) else "black")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9)
    bar.ax.tick_params(labelsize=7)
    # The baselines are lines on the colour bar, named in its label (text beside the bar collides with its ticks).
    marks = []
    for value, name, style in ((ramp, "linear ramp", "--"), (noise, "white noise", "-")):
        if value is not None:
            bar.ax.axhline(value, color="cyan", lw=1.5, ls=style)
            marks.append(f"{name} {value:.2f} ({'floor, dashed' if style == '--' else 'ceiling, solid'})")
    bar.set_label(f"{_LABELS.get(measure, measure)} (mean over networks)", fontsize=8)
    n = ds.sizes.get("net", "?")
    settings = "; ".join(s for s in (_settings(ds, measure), "cyan lines on the colour bar: " + ", ".join(marks)
                                     if marks else "") if s)
    figure_title(fig, f"Neural redshift: {_LABELS.get(measure, measure)} of random MLPs ({n} networks per cell)"
                 + (f"\n{settings}" if settings else ""), fontsize=10)
    return save_figure(fig, path)


def plot_redshift_curves(ds: xr.Dataset, path, measure: str = "mean_frequency", max_panels: int = 12) -> pathlib.Path:
    """``measure`` against weight scale, one line per depth with its 95 % confidence band, one panel per activation."""
    plt = _plt()
    panels = _panels(ds, measure)[:max_panels]
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.4 * cols, 6.5), 2.8 * rows + 1.4), squeeze=False,
                             sharey=True, constrained_layout=True)
    ramp, noise = ds.attrs.get(f"ramp_{measure}"), ds.attrs.get(f"noise_{measure}")
    extra_dims = [d for d in ds[f"{measure}_mean"].dims if d not in ("activation", "depth", "scale")]
    for ax, (title, grid, extra, c) in zip(axes.ravel(), panels):
        act = title.split(" (")[0]
        sel = ds.sel(activation=act)
        if extra_dims:
            sel = sel.stack(_cell=extra_dims).isel(_cell=c)
        scales = grid["scale"].values
        colours = plt.cm.viridis(np.linspace(0, 0.9, grid.sizes["depth"]))
        for colour, depth in zip(colours, grid["depth"].values):
            cell = sel.sel(depth=depth)
            ax.plot(scales, cell[f"{measure}_mean"].values, "o-", ms=3, color=colour, label=f"depth {depth}")
            ax.fill_between(scales, cell[f"{measure}_ci_low"].values, cell[f"{measure}_ci_high"].values,
                            color=colour, alpha=0.25, lw=0)
        for value, name, style in ((ramp, "ramp", ":"), (noise, "white noise", "--")):
            if value is not None:
                ax.axhline(value, color="grey", ls=style, lw=1, label=name)
        ax.set_xscale("log")
        log_ticks(ax, "x", scales)
        ax.set_xlabel(_scale_label(ds), fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel(_LABELS.get(measure, measure), fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 6), fontsize=7, frameon=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    settings = _settings(ds, measure)
    figure_title(fig, "Complexity against weight scale (bands: 95 % confidence interval of the mean)"
                 + (f"\n{settings}" if settings else ""), fontsize=10)
    return save_figure(fig, path)


def plot_boolean_prior(ds: xr.Dataset, path) -> pathlib.Path:
    """Rank-frequency plot and log10 P(f) against LZ complexity (Valle-Perez et al. 2019, Fig. 1).

    Args:
      ds: Dataset of :func:`jaxbias.experiments.boolean_prior_cell` or of the sweep (one line /
        marker colour per cell of the swept dims).
    """
    plt = _plt()
    swept = [d for d in ds["probability"].dims if d != "function"]
    stacked = ds.stack(_cell=swept) if swept else ds.expand_dims(_cell=[0])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    colours = plt.cm.viridis(np.linspace(0, 0.9, stacked.sizes["_cell"]))
    for c, colour in enumerate(colours):
        cell = stacked.isel(_cell=c)
        label = ", ".join(f"{d}={cell[d].item():g}" if isinstance(cell[d].item(), float) else f"{d}={cell[d].item()}"
                          for d in swept) or None
        keep = cell["occurrences"].values > 0
        p = cell["probability"].values[keep]
        left.loglog(np.arange(1, len(p) + 1), p, color=colour, lw=1.2,
                    label=(label + ", " if label else "") + f"{int(cell['n_distinct'])} distinct")
        right.scatter(cell["lz_complexity"].values[keep], p, s=4, alpha=0.5, color=colour, label=label)
    n = int(stacked["n_networks"].values.ravel()[0])
    left.set_xlabel("rank")
    left.set_ylabel("P(f)")
    left.set_title(f"rank-frequency ({n:,} networks)", fontsize=9)
    left.legend(fontsize=7)
    right.set_yscale("log")
    right.set_xlabel("LZ complexity K(f) (Valle-Perez et al., LZ76)")
    right.set_ylabel("P(f)")
    right.set_title(f"simplicity bias: P(f) against K(f) (P >= 1/{n:,} resolvable)", fontsize=9)
    if swept:
        right.legend(fontsize=7, markerscale=3)
    return save_figure(fig, path)
