"""Figure of the spectral-bias experiment (:func:`jaxbias.experiments.dynamics.spectral_bias.spectral_bias`).

Four panels: (a) frequency x step heatmap of the measured normalised residual (median across the
networks of the widest width), (b) the infinite-width NTK prediction of the same quantity for the
ensemble mean, (c) the step at which each frequency is learned, per width and predicted, and (d) the
agreement of the measured ensemble-mean residual with the prediction against width, beside its
Monte Carlo error. Written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import figure_title, log_ticks, save_figure

__all__ = ["plot_spectral_bias"]


def _edges(steps: np.ndarray) -> np.ndarray:
    """Cell edges on a log axis for steps ``0, 1, ...``: step 0 drawn at 0.5 (log axes have no 0)."""
    s = np.where(steps > 0, steps, 0.5).astype(np.float64)
    mid = np.sqrt(s[1:] * s[:-1])
    return np.concatenate([[s[0] / np.sqrt(s[1] / s[0]) if len(s) > 1 else s[0] / 2], mid,
                           [s[-1] * np.sqrt(s[-1] / s[-2]) if len(s) > 1 else s[0] * 2]])


def _heatmap(ax, steps, values, frequencies, title, norm):
    im = ax.pcolormesh(_edges(steps), np.arange(len(frequencies) + 1) - 0.5, values.T, norm=norm, cmap="magma",
                       shading="flat")
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(frequencies)))
    ax.set_yticklabels([f"{f:.3g}" for f in frequencies], fontsize=7)
    ax.set_ylabel("frequency |k| (periods over [-1, 1))", fontsize=8)
    ax.set_xlabel("training step (log; step 0 at 0.5)", fontsize=8)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    log_ticks(ax, "x")
    return im


def plot_spectral_bias(ds: xr.Dataset, path, *, width: int | None = None) -> pathlib.Path:
    """Residual spectrum over training beside the NTK prediction, learned steps and agreement against width.

    Args:
      ds: a result of :func:`~jaxbias.experiments.dynamics.spectral_bias.spectral_bias`.
      path: image path (``.png``, ``.pdf``, ``.svg``).
      width: the width drawn in the heatmaps (None: the largest).

    Returns:
      The written path.

    Raises:
      ValueError: ``ds`` is not such a result, or ``width`` is not one of its widths.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    missing = [v for v in ("residual", "ntk_residual", "learned_step", "ntk_deviation") if v not in ds]
    if missing:
        raise ValueError(f"ds lacks {missing}: expected a result of spectral_bias()")
    widths = ds["width"].values
    width = int(widths.max()) if width is None else width
    if width not in widths:
        raise ValueError(f"width={width}: the result has widths {widths.tolist()}")
    config = json.loads(ds.attrs.get("config", "{}"))
    threshold = config.get("threshold", float("nan"))
    cell = ds.sel(width=width)
    steps = ds["step"].values
    freqs = ds["frequency"].values
    measured = np.median(cell["residual"].values, axis=0)
    predicted = cell["ntk_residual"].values
    floor = 1e-3
    norm = LogNorm(vmin=floor, vmax=max(1.5, float(np.nanmax(measured))), clip=True)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.4), gridspec_kw={"width_ratios": [1.1, 1.1, 1, 1]},
                             constrained_layout=True)
    im = _heatmap(axes[0], steps, np.maximum(measured, floor), freqs,
                  f"(a) measured |residual_k| / |target_k|\nmedian of {cell.sizes['net']} nets, width {width}", norm)
    _heatmap(axes[1], steps, np.maximum(predicted, floor), freqs,
             "(b) infinite-width NTK prediction\n(ensemble mean)", norm)
    cbar = fig.colorbar(im, ax=axes[1], fraction=0.05, pad=0.03)
    cbar.set_label(f"normalised residual (clipped at {floor:g})", fontsize=7)
    cbar.ax.tick_params(labelsize=7)
    for ax in axes[:2]:
        learned = cell["learned_step" if ax is axes[0] else "ntk_learned_step"].values
        ok = np.isfinite(learned)
        ax.plot(learned[ok], np.arange(len(freqs))[ok], "c^", ms=6, label="learned")

    ax = axes[2]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(widths)))
    for w, color in zip(widths, colors):
        learned = ds["learned_step"].sel(width=w).values
        ax.plot(freqs, np.where(np.isfinite(learned), learned, np.nan), "o-", color=color, ms=4, label=f"width {w}")
    ax.plot(freqs, ds["ntk_learned_step"].sel(width=width).values, "k--", lw=1.2, label="NTK prediction")
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_ticks(ax, "x", freqs)
    log_ticks(ax, "y")
    ax.set_xlabel("frequency |k|", fontsize=8)
    ax.set_ylabel("step at which it is learned", fontsize=8)
    ax.set_title(f"(c) step at which each frequency is learned\n(residual below {threshold:g} from then on)",
                 fontsize=8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.tick_params(labelsize=7, which="both")

    ax = axes[3]
    ax.plot(widths, ds["ntk_deviation"].values, "o-", label="max |measured mean - prediction|")
    ax.plot(widths, ds["ntk_mc_error"].values, "s:", color="0.5", label="3 s.e. of the measured mean (Monte Carlo)")
    if "ntk_excess" in ds:
        ax.plot(widths, np.maximum(ds["ntk_excess"].values, 1e-4), "^-", color="tab:red",
                label="deviation beyond 3 s.e. (floored at 1e-4)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_ticks(ax, "x", widths)
    log_ticks(ax, "y")
    ax.set_xlabel("hidden width", fontsize=8)
    ax.set_ylabel("normalised residual amplitude", fontsize=8)
    ax.set_title("(d) agreement with the NTK prediction", fontsize=8)
    ax.legend(fontsize=6.5)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.tick_params(labelsize=7, which="both")
    net = config.get("net", {})
    figure_title(fig, f"Spectral bias: sum of sinusoids on a {config.get('data', {}).get('points_per_axis', '')}-point "
                 f"grid per axis ({config.get('embedding', '')} embedding), {net.get('type', 'MLP')} depth "
                 f"{net.get('depth', '')} {net.get('activation', '')} ({net.get('parameterization', '')} "
                 "parameterisation), "
                 f"full-batch GD for {config.get('steps', '')} steps", fontsize=10)
    return save_figure(fig, path)
