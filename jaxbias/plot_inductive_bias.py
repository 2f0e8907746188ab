"""Figures of the inductive bias of a kernel (:mod:`jaxbias.experiments.inductive_bias`; Boopathy et al., IJCAI 2024).

* :func:`plot_bits_vs_epsilon`: bits against the target test error, one line per method (error bars where
  the error is finite; the Chernoff bound dashed; the reference code's fit dotted).
* :func:`plot_bits_vs_n_train`: the recommended bits against the training-set size, one line per epsilon.

Figures are written atomically (:func:`jaxbias.plot.save_figure`).
"""

from __future__ import annotations

import pathlib

import numpy as np
import xarray as xr

from jaxbias.plot import save_figure

__all__ = ["plot_bits_vs_epsilon", "plot_bits_vs_n_train"]

_STYLE = {"chernoff": {"linestyle": "--"}, "ncx2_fit": {"linestyle": ":"}}


def plot_bits_vs_epsilon(ds: xr.Dataset, path) -> pathlib.Path:
    """Bits ``-log2 P(test MSE <= eps)`` against ``eps`` (log axis), one line per ``tail_method`` of ``ds["bits"]``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    eps = ds["epsilon"].values
    for method in ds["tail_method"].values:
        bits = ds["bits"].sel(tail_method=method).values
        err = ds["bits_error"].sel(tail_method=method).values
        ok = np.isfinite(bits)
        if not ok.any():
            continue
        yerr = np.where(np.isfinite(err[ok]), err[ok], 0.0)
        ax.errorbar(eps[ok], bits[ok], yerr=yerr, label=str(method), marker=".", **_STYLE.get(str(method), {}))
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("target test MSE epsilon")
    ax.set_ylabel("inductive bias (bits)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_bits_vs_n_train(ds: xr.Dataset, path) -> pathlib.Path:
    """Recommended bits against ``n_train``, one line per ``epsilon``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    n = ds["n_train"].values
    for eps in ds["epsilon"].values:
        bits = ds["recommended_bits"].sel(epsilon=eps).values
        ok = np.isfinite(bits)
        if ok.any():
            ax.plot(n[ok], bits[ok], marker="o", label=f"eps = {eps:.3g}")
    ax.set_xlabel("training-set size")
    ax.set_ylabel("inductive bias (bits)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
