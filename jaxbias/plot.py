"""Pictures of sampled functions.

2-D grid inputs are drawn as images (one panel per network), 1-D grids as curves, anything else
as outputs against the point index; NTK spectra (:func:`plot_ntk_spectrum`) as eigenvalue against
rank. Figures are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import xarray as xr

from jaxbias.io import atomic_write

__all__ = ["plot_functions", "plot_ntk_spectrum", "save_figure"]


def save_figure(fig, path) -> pathlib.Path:
    """Saves a matplotlib figure atomically (format from the suffix) and closes it."""
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110), suffix=path.suffix)
    finally:
        plt.close(fig)


def _panels(outputs: np.ndarray, grid_shape, ax_grid, title_prefix=""):
    """Draws ``outputs (n_nets, n_points)`` into the axes ``ax_grid`` (flat list)."""
    for i, ax in enumerate(ax_grid):
        if i >= len(outputs):
            ax.axis("off")
            continue
        f = outputs[i]
        if grid_shape is not None and len(grid_shape) == 2:
            ax.imshow(f.reshape(grid_shape).T, origin="lower", cmap="RdBu_r", extent=(-1, 1, -1, 1))
            ax.set_xticks([])
            ax.set_yticks([])
        elif grid_shape is not None and len(grid_shape) == 1:
            ax.plot(np.linspace(-1, 1, grid_shape[0]), f, lw=1)
        else:
            ax.plot(f, ".", ms=2)
        ax.tick_params(labelsize=5)
        ax.set_title(f"{title_prefix}net {i}", fontsize=7)


def plot_functions(ds: xr.Dataset, path, *, max_nets: int = 16, out_unit: int = 0) -> pathlib.Path:
    """Draws the first ``max_nets`` sampled functions of a Dataset from :func:`jaxbias.sample`.

    Args:
      ds: Dataset with ``outputs (..., net, point, out)``; swept dims (before ``net``) give one row
        of panels per cell, at most 8 cells.
      path: image path (``.png``, ``.pdf``, ``.svg``).
      max_nets: networks per cell.
      out_unit: which output unit to draw.

    Returns:
      The written path.
    """
    import matplotlib.pyplot as plt

    # netCDF stores a one-element list attribute as a scalar: atleast_1d restores the shape tuple.
    grid_shape = tuple(int(r) for r in np.atleast_1d(ds.attrs["grid_shape"])) if "grid_shape" in ds.attrs else None
    y = ds["outputs"].isel(out=out_unit)
    swept = [d for d in y.dims if d not in ("net", "point")]
    if swept:
        stacked = y.stack(cell=swept).transpose("cell", "net", "point")
        cells = [(", ".join(f"{d}={v}" for d, v in zip(swept, np.atleast_1d(c))), stacked.isel(cell=i).values)
                 for i, c in enumerate(stacked["cell"].values[:8])]
    else:
        cells = [("", y.transpose("net", "point").values)]
    cols = min(max_nets, y.sizes["net"])
    if not swept:
        cols = int(math.ceil(math.sqrt(cols)))
    rows_per_cell = int(math.ceil(min(max_nets, y.sizes["net"]) / cols))
    rows = rows_per_cell * len(cells)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows + 0.4), squeeze=False,
                             constrained_layout=True)
    for c, (label, values) in enumerate(cells):
        block = axes[c * rows_per_cell:(c + 1) * rows_per_cell].ravel()
        _panels(values[:max_nets], grid_shape, block)
        if label:
            block[0].set_ylabel(label, fontsize=7)
    fig.suptitle("Functions of random networks (jaxbias)", fontsize=9)
    return save_figure(fig, path)


def plot_ntk_spectrum(ds: xr.Dataset, path) -> pathlib.Path:
    """Log-log eigenvalues against rank: finite width (per-init mean, 5-95 % band, mean kernel) and infinite width.

    Args:
      ds: a Dataset from :func:`jaxbias.experiments.ntk_spectrum`.
      path: the image file (format from the suffix), written atomically.
    """
    import matplotlib.pyplot as plt

    rank = ds["rank"].values
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    floor = 1e-12 * float(ds["eig_init_hi"].max())
    clip = lambda v: np.clip(np.asarray(v), floor, None)  # noqa: E731
    ax.fill_between(rank, clip(ds["eig_init_lo"]), clip(ds["eig_init_hi"]), alpha=0.3, color="C0",
                    label="finite width, 5-95 % over inits")
    ax.plot(rank, clip(ds["eig_init_mean"]), color="C0", label="finite width, mean over inits")
    ax.plot(rank, clip(ds["eig_mean_kernel"]), color="C0", ls="--", label="finite width, mean kernel")
    if "eig_infinite_ntk" in ds:
        ax.plot(rank, clip(ds["eig_infinite_ntk"]), color="C3", label="infinite width NTK")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rank k")
    ax.set_ylabel("eigenvalue")
    ax.legend(fontsize=8)
    ax.set_title(f"NTK spectrum ({ds.sizes['point']} points)")
    fig.tight_layout()
    return save_figure(fig, path)
