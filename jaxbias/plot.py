"""Pictures of sampled functions, NTK spectra and initial guessing bias.

2-D grid inputs are drawn as images (one panel per network), 1-D grids as curves, anything else
as outputs against the point index; NTK spectra (:func:`plot_ntk_spectrum`) as eigenvalue against
rank; initial guessing bias as ``G_0`` histograms against theory (:func:`plot_g0_histograms`) and
its ``(C_W, C_b)`` phase diagram (:func:`plot_igb_phase`). Figures are written atomically
(temporary file, then rename).
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import xarray as xr

from jaxbias.io import atomic_write

__all__ = ["plot_functions", "plot_ntk_spectrum", "plot_g0_histograms", "plot_igb_phase", "save_figure"]


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
    # Eigenvalues at or below the float32 rounding level (n eps lambda_max) are zero to working precision:
    # drawn at that level and marked, so that one of them cannot stretch the log axis over many decades.
    top = float(ds["eig_init_hi"].max())
    floor = max(float(ds.attrs.get("finite_rounding_level", 0.0)),
                ds.sizes["rank"] * float(np.finfo(np.float32).eps) * top)
    curves = [ds[k].values for k in ("eig_init_lo", "eig_init_mean", "eig_mean_kernel", "eig_infinite_ntk") if k in ds]
    above = np.concatenate([c[c > floor] for c in curves])
    bottom = min(float(above.min()) / 2 if above.size else floor, floor)
    below = int(sum(np.sum(c <= floor) for c in curves[1:]))
    clip = lambda v: np.clip(np.asarray(v), floor, None)  # noqa: E731
    ax.fill_between(rank, clip(ds["eig_init_lo"]), clip(ds["eig_init_hi"]), alpha=0.3, color="C0",
                    label="finite width, 5-95 % over inits")
    ax.plot(rank, clip(ds["eig_init_mean"]), color="C0", label="finite width, mean over inits")
    ax.plot(rank, clip(ds["eig_mean_kernel"]), color="C0", ls="--", label="finite width, mean kernel")
    if "eig_infinite_ntk" in ds:
        ax.plot(rank, clip(ds["eig_infinite_ntk"]), color="C3", label="infinite width NTK")
    if below:
        for c in curves[1:]:
            low = c <= floor
            ax.plot(rank[low], np.full(low.sum(), floor), "kv", ms=4)
        ax.axhline(floor, color="0.5", lw=0.6, ls=":")
        ax.plot([], [], "kv", ms=4, label=f"at or below rounding (n eps max = {floor:.2g}): zero")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom / 1.5, top * 1.5)
    ax.set_xlabel("rank k")
    ax.set_ylabel("eigenvalue")
    ax.legend(fontsize=8)
    ax.set_title(f"NTK spectrum ({ds.sizes['point']} points)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_g0_histograms(ds: xr.Dataset, path, *, max_cells: int | None = None, bins: int = 40) -> pathlib.Path:
    """Histograms of ``G_0`` per cell with the predicted density (``n_points -> inf``) and the predicted
    law at the run's number of inputs (binomial noise included) overlaid (initial guessing bias).

    Args:
      ds: a Dataset from :func:`jaxbias.experiments.igb.run_igb` or :func:`~jaxbias.experiments.igb.igb_cell`
        (``attrs["n_points"]``: inputs per network).
      path: image path.
      max_cells: draw only the first ``max_cells`` cells (None: every cell); when cells are left out the
        figure's title says how many and a warning is issued.
    """
    import warnings

    import matplotlib.pyplot as plt

    from jaxbias.theory import guessing as th

    swept = [d for d in ds["g0"].dims if d != "net"]
    left_out = 0
    if swept:
        stacked = ds.stack(cell=swept)
        total = stacked.sizes["cell"]
        shown = total if max_cells is None else min(int(max_cells), total)
        left_out = total - shown
        cells = [(", ".join(f"{d}={v}" for d, v in zip(swept, np.atleast_1d(c))), stacked.isel(cell=i))
                 for i, c in enumerate(stacked["cell"].values[:shown])]
        if left_out:
            warnings.warn(f"plot_g0_histograms: max_cells={max_cells} draws {shown} of {total} cells; "
                          f"{left_out} left out", stacklevel=2)
    else:
        cells = [("", ds)]
    cols = min(4, len(cells))
    rows = -(-len(cells) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, constrained_layout=True)
    g = np.linspace(0.0005, 0.9995, 400)
    for ax, (label, cell) in zip(axes.ravel(), cells):
        ax.hist(np.asarray(cell["g0"]), bins=bins, range=(0, 1), density=True, color="0.7", label="measured")
        gamma = float(cell["gamma_theory"])
        if math.isfinite(gamma) and gamma > 0:
            ax.plot(g, th.g0_pdf(g, gamma), "C3", lw=1.5, label=f"theory, gamma={gamma:.3g}")
        if math.isfinite(gamma):  # the law at this number of inputs (binomial noise included)
            n_points = int(ds.attrs["n_points"])
            k = np.arange(n_points + 1) / n_points
            prob, edges = np.histogram(k, bins=bins, range=(0, 1), weights=th.g0_pmf(max(gamma, 0.0), n_points))
            ax.stairs(prob * bins, edges, color="C0", lw=1, label=f"theory, {n_points} inputs")
        ax.set_title(f"{label}\n{_measured_gamma_text(cell)}", fontsize=7)
        ax.set_xlabel("G_0", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(cells):]:
        ax.axis("off")
    title = "Initial guessing bias: fraction of inputs in class 0 over random networks"
    if left_out:
        title += f" (first {len(cells)} of {len(cells) + left_out} cells)"
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _measured_gamma_text(cell) -> str:
    """The measured gamma of a cell for a title: 'no IGB' where its interval lies at or below 0."""
    g, lo, hi = float(cell["gamma"]), float(cell["gamma_low"]), float(cell["gamma_high"])
    if math.isinf(g):
        return "measured gamma undefined (constant networks)"
    if hi <= 0:
        return "measured gamma = 0 (no IGB; interval <= 0)"
    return f"measured gamma={g:.3g} [{max(lo, 0.0):.3g}, {hi:.3g}]"


def plot_igb_phase(ds: xr.Dataset, path) -> pathlib.Path:
    """IGB phase diagram: regimes (neutral / prejudiced / deep prejudice) and ``gamma`` contours from theory
    over ``(C_W, C_b)``, with measured ``gamma`` as points coloured on the same scale.

    Args:
      ds: a Dataset from :func:`jaxbias.experiments.igb.phase_dataset`.
      path: image path.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap, LogNorm

    from jaxbias.theory import guessing as th

    acts = list(ds["activation"].values)
    fig, axes = plt.subplots(1, len(acts), figsize=(4.6 * len(acts), 3.8), squeeze=False, constrained_layout=True)
    cw, cb = ds["weight_var"].values, ds["bias_var"].values
    cmap = ListedColormap(["#d9ecd0", "#fbe3b5", "#f4b6b6"])
    norm = LogNorm(1e-2, 1e2)
    for ax, act in zip(axes[0], acts):
        reg = ds["regime"].sel(activation=act).values
        ax.pcolormesh(cb, cw, reg, cmap=cmap, vmin=-0.5, vmax=2.5, shading="nearest")
        gam = np.clip(ds["gamma_theory"].sel(activation=act).values, 1e-3, 1e3)
        cs = ax.contour(cb, cw, gam, levels=[0.1, 0.3, 1, 3, 10], colors="k", linewidths=0.6)
        ax.clabel(cs, fontsize=6, fmt="%g")
        mw, mb = np.meshgrid(ds["measured_weight_var"].values, ds["measured_bias_var"].values, indexing="ij")
        meas = ds["gamma"].sel(activation=act).values.ravel()
        # gamma <= 0 (no IGB; a negative estimate is finite-sample or finite-input noise) has no place on a log
        # colour scale: those points are drawn hollow, outside it, and labelled "0"
        none = ~(meas > 0)
        sc = ax.scatter(mb.ravel()[~none], mw.ravel()[~none], c=np.clip(meas[~none], 1e-2, 1e2), cmap="viridis",
                        norm=norm, edgecolors="k", s=50, zorder=3)
        if none.any():
            ax.scatter(mb.ravel()[none], mw.ravel()[none], facecolors="none", edgecolors="k", s=50, zorder=3,
                       label="measured gamma <= 0: no IGB")
            ax.legend(fontsize=6, loc="upper right")
        for b, w, v in zip(mb.ravel(), mw.ravel(), meas):
            ax.annotate(f"{v:.2g}" if v > 0 else "0", (b, w), textcoords="offset points", xytext=(5, 4), fontsize=6)
        ax.set_xlabel("C_b (bias variance)")
        ax.set_ylabel("C_W (weight variance)")
        ax.set_title(f"{act}, depth {ds.attrs.get('depth', '')}".rstrip(", "), fontsize=9)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(),
                 label="measured gamma > 0 (filled points; clipped to [0.01, 100])", shrink=0.8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(3)]
    fig.legend(handles, list(th.REGIMES), loc="outside lower center", ncol=3, fontsize=7)
    fig.suptitle("IGB phase diagram: regimes from the NNGP recursion (depth -> inf), contours of gamma at the "
                 "given depth, measured gamma as points", fontsize=8)
    return save_figure(fig, path)
