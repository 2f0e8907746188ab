"""Figures of the inductive bias of a kernel (:mod:`jaxbias.experiments.inductive_bias`; Boopathy et al., IJCAI 2024).

* :func:`plot_bits_vs_epsilon`: bits against the target test error, one line per method (error bars where
  the error is finite; the Chernoff bound dashed; the reference code's fit dotted).
* :func:`plot_bits_vs_n_train`: the recommended bits against the training-set size, one line per epsilon.
* :func:`plot_bits_intervals`: bits with their intervals, one line per ``source`` (network mode: empirical
  points filled, extrapolated ones open, bounds as upward arrows; the Boolean comparison's three sources).

Figures are written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import figure_title, log_ticks, save_figure

__all__ = ["plot_bits_vs_epsilon", "plot_bits_vs_n_train", "plot_bits_intervals"]

_STYLE = {"chernoff": {"linestyle": "--"}, "ncx2_fit": {"linestyle": ":"}}


def plot_bits_vs_epsilon(ds: xr.Dataset, path) -> pathlib.Path:
    """Bits ``-log2 P(test MSE <= eps)`` against ``eps`` (log axis), one line per ``tail_method`` of ``ds["bits"]``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    eps = ds["epsilon"].values
    for method in ds["tail_method"].values:
        bits = ds["bits"].sel(tail_method=method).values
        err = ds["bits_error"].sel(tail_method=method).values
        ok = np.isfinite(bits)
        if not ok.any():
            continue
        yerr = np.where(np.isfinite(err[ok]), err[ok], 0.0)
        ax.errorbar(eps[ok], bits[ok], yerr=yerr, label=str(method), marker=".", clip_on=False,  # 0 bits: on the axis
                    **_STYLE.get(str(method), {}))
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)  # bits = -log2 P >= 0
    log_ticks(ax, "x", eps)
    ax.set_xlabel("target test MSE epsilon")
    ax.set_ylabel("inductive bias (bits; symlog axis)")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8, title="tail method", title_fontsize=8)
    figure_title(fig, f"Inductive bias of the kernel against the target error{_source(ds)}", fontsize=10)
    return save_figure(fig, path)


def plot_bits_vs_n_train(ds: xr.Dataset, path) -> pathlib.Path:
    """Recommended bits against ``n_train``, one line per ``epsilon``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    n = ds["n_train"].values
    for eps in ds["epsilon"].values:
        bits = ds["recommended_bits"].sel(epsilon=eps).values
        ok = np.isfinite(bits)
        if ok.any():
            ax.plot(n[ok], bits[ok], marker="o", label=f"eps = {eps:.3g}", clip_on=False)  # 0 bits: on the axis
    ax.set_xlabel("training-set size")
    ax.set_ylabel("inductive bias (bits; symlog axis)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)  # bits = -log2 P >= 0
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8, title="target error", title_fontsize=8)
    figure_title(fig, f"Inductive bias (recommended method) against the training-set size{_source(ds)}", fontsize=10)
    return save_figure(fig, path)


def plot_bits_intervals(ds: xr.Dataset, path, *, bits: str = "bits", epsilon: str = "epsilon",
                        source: str = "source", xlabel: str = "target test error epsilon") -> pathlib.Path:
    """``ds[bits]`` with the band ``[bits_lo, bits_hi]`` against ``epsilon`` (log axis), one line per ``source``
    (a Dataset without that dim is one line). Where ``ds["estimate"]`` says ``"extrapolation"`` markers are open;
    where the bits are only bounded (nan, finite ``_lo``) the lower bound is drawn as a caret."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    eps = ds[epsilon].values
    rows = [(str(s), ds.sel({source: s})) for s in ds[source].values] if source in ds[bits].dims else [("", ds)]
    for label, d in rows:
        b, lo, hi = d[bits].values, d[f"{bits}_lo"].values, d[f"{bits}_hi"].values
        ok = np.isfinite(b)
        line, = ax.plot(eps[ok], b[ok], marker="o", label=label or None)
        top = np.where(np.isfinite(hi), hi, np.nanmax(np.where(np.isfinite(hi), hi, b)) if ok.any() else 0)
        ax.fill_between(eps[ok], lo[ok], top[ok], color=line.get_color(), alpha=0.2, linewidth=0)
        est = d["estimate"].values if "estimate" in d else None
        if est is not None:
            ext = ok & (est == "extrapolation")
            ax.plot(eps[ext], b[ext], "o", mfc="white", color=line.get_color())
        bound = ~ok & np.isfinite(lo)
        ax.plot(eps[bound], lo[bound], "^", color=line.get_color())
    ax.set_xscale("log")
    log_ticks(ax, "x", eps)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("inductive bias (bits)")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    if any(label for label, _ in rows):
        ax.legend(fontsize=8)
    ax.set_title("band: interval; filled: measured; open: extrapolated; caret: lower bound only", fontsize=8)
    figure_title(fig, f"Inductive bias against the target error{_source(ds)}", fontsize=10)
    return save_figure(fig, path)


def _source(ds: xr.Dataset) -> str:
    """``": <data set>, <kernel or network>"`` from the stored config, for a title ('' when unknown)."""
    import json

    try:
        config = json.loads(ds.attrs.get("config", "{}"))
    except (TypeError, ValueError):
        return ""
    command = config.get("command", {}) if isinstance(config, dict) else {}
    if not isinstance(command, dict):
        return ""
    network = command.get("mode") == "network"
    parts = [str(command[k]) for k in ("dataset",) + (() if network else ("kernel",)) if command.get(k)]
    if network:
        parts.append(f"{command.get('arch', 'mlp')} width {command.get('width', '?')}, depth {command.get('depth', '?')}")
    return (" (" + ", ".join(parts) + ")") if parts else ""
