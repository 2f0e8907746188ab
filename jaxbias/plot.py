"""Pictures of sampled functions, NTK spectra and initial guessing bias.

:func:`plot_functions` draws sampled functions as a reader can use them: 2-D grid inputs as images on one
colour scale with its colour bar, 1-D grids as overlaid curves with the across-network band, and any other
inputs (sphere, hypercube, blobs, digits) as the distribution of outputs against the Gaussian of matching
variance, the fraction of inputs with a positive output per network, and, where the inputs have a shape a
picture can show, the output over the sphere or circle, the plane or the Hamming weight. NTK spectra
(:func:`plot_ntk_spectrum`) are drawn as eigenvalue against rank; initial guessing bias as ``G_0``
histograms against theory (:func:`plot_g0_histograms`) and its ``(C_W, C_b)`` phase diagram
(:func:`plot_igb_phase`).

Every figure is laid out so that nothing is clipped at the saved size (:data:`DPI` dots per inch): titles
are wrapped to the figure's width (:func:`figure_title`) and log axes carry plain, non-overlapping tick
labels (:func:`log_ticks`). Figures are written atomically (temporary file, then rename); the module never
chooses a matplotlib backend.
"""

from __future__ import annotations

import json
import math
import pathlib
import textwrap
import warnings

import numpy as np
import xarray as xr

from jaxbias.io import atomic_write

__all__ = ["plot_functions", "plot_ntk_spectrum", "plot_g0_histograms", "plot_igb_phase", "save_figure",
           "figure_title", "wrap_text", "log_ticks", "DPI"]

DPI = 110
"""Dots per inch of every saved figure: a 10-inch-wide figure is 1100 pixels wide."""


def save_figure(fig, path) -> pathlib.Path:
    """Saves a matplotlib figure atomically at :data:`DPI` (format from the suffix) and closes it."""
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI), suffix=path.suffix)
    finally:
        plt.close(fig)


def wrap_text(text: str, width_inches: float, fontsize: float) -> str:
    """``text`` wrapped at spaces into lines that fit ``width_inches`` at ``fontsize`` points.

    Existing line breaks are kept. The width per character is taken as 0.6 em, a little wider than the
    average of DejaVu Sans, so a wrapped line fits.

    Example:
      >>> wrap_text("a " * 40, 2.0, 10).count("\\n") > 0
      True
    """
    chars = max(12, int(width_inches * 72.0 / (0.6 * fontsize)))
    return "\n".join(textwrap.fill(line, chars, break_on_hyphens=False) if line else "" for line in text.split("\n"))


def figure_title(fig, text: str, *, fontsize: float = 10):
    """Sets ``fig``'s title wrapped to the figure's width (so that a long title is never clipped at its sides).

    Returns:
      The title's Text artist.
    """
    width = fig.get_size_inches()[0] - 0.3
    return fig.suptitle(wrap_text(text, width, fontsize), fontsize=fontsize)


def log_ticks(ax, which: str = "x", values=None, *, max_ticks: int = 8) -> None:
    """Plain, non-overlapping tick labels on a log axis of ``ax`` (``which``: ``"x"`` or ``"y"``).

    Matplotlib labels the minor ticks of a log axis that spans less than a decade or two as
    ``2 x 10^0``, ``3 x 10^0``..., which overlap. Here the labels read ``0.5``, ``1``, ``2``; minor ticks keep
    no label. Labels carry 3 significant digits.

    Args:
      ax: the axes (its scale on that axis must already be ``log``).
      which: ``"x"`` or ``"y"``.
      values: the ticks to label (e.g. the swept widths or scales), thinned so that at most ``max_ticks``
        remain and neighbours keep apart on the log axis; None: 1-2-5 steps within each decade where
        the axis spans under 3 decades, powers of 10 otherwise.
      max_ticks: at most this many labelled ticks.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    if values is not None:
        v = np.unique(np.asarray(values, np.float64).ravel())
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            span = max(math.log10(v[-1] / v[0]), 1e-12)
            gap = span / (1.5 * max_ticks)
            kept = [v[0]]
            for value in v[1:]:
                if math.log10(value / kept[-1]) >= gap:
                    kept.append(value)
            if len(kept) > max_ticks:
                kept = [kept[int(i)] for i in np.unique(np.linspace(0, len(kept) - 1, max_ticks).round())]
            axis.set_major_locator(FixedLocator(kept))
            if v.size == 1:  # one value: a decade either side, not matplotlib's default 0.1x-10x of 1
                (ax.set_xlim if which == "x" else ax.set_ylim)(v[0] / 3.0, v[0] * 3.0)
    else:
        lo, hi = (ax.get_xlim() if which == "x" else ax.get_ylim())
        decades = math.log10(hi / lo) if lo > 0 and hi > lo else 10.0
        axis.set_major_locator(LogLocator(10.0, subs=(1.0, 2.0, 5.0) if decades < 3 else (1.0,), numticks=max_ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    axis.set_minor_formatter(NullFormatter())


def _config(ds) -> dict:
    try:
        config = json.loads(ds.attrs.get("config", "{}"))
    except (TypeError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _first(v):
    return v[0] if isinstance(v, (list, tuple)) and v else v


def _net_text(config: dict) -> str:
    """A short description of the sampled network(s) from a stored config (best effort; '' when unknown)."""
    net = config.get("net", {})
    if not isinstance(net, dict):
        return ""
    fixed = {**net.get("fixed", {}), **{k: v for k, v in net.items() if k not in ("fixed", "swept")}}
    parts = [str(fixed.get("type", fixed.get("arch", ""))).replace("mlp", "MLP")]
    for key, name in (("depth", "depth "), ("width", "width "), ("activation", ""), ("weight_var", "C_W="),
                      ("bias_var", "C_b=")):
        if key in fixed and key not in net.get("swept", {}):
            value = _first(fixed[key])
            parts.append(f"{name}{value:g}" if isinstance(value, float) else f"{name}{value}")
    return ", ".join(p for p in parts if p)


def _cell_list(y: xr.DataArray, max_cells: int):
    """``([(label lines, values (net, point))], total cells)`` over the dims of ``y`` other than net and point."""
    swept = [d for d in y.dims if d not in ("net", "point")]
    if not swept:
        return [([], y.transpose("net", "point").values)], 1
    stacked = y.stack(cell=swept).transpose("cell", "net", "point")
    total = stacked.sizes["cell"]
    out = []
    for i, c in enumerate(stacked["cell"].values[:max_cells]):
        lines = [f"{d} = {v:g}" if isinstance(v, float) else f"{d} = {v}" for d, v in zip(swept, np.atleast_1d(c))]
        out.append((lines, stacked.isel(cell=i).values))
    return out, total


def _input_kind(ds: xr.Dataset, grid_shape) -> tuple[str, dict]:
    meta = _config(ds).get("inputs", {})
    meta = meta if isinstance(meta, dict) else {}
    if grid_shape is not None:
        return f"grid{len(grid_shape)}", meta
    return str(meta.get("kind", "points")), meta


def _robust_limit(values: np.ndarray) -> tuple[float, bool]:
    """A symmetric colour limit: the 99.5th percentile of |f| (True where some values lie beyond it)."""
    a = np.abs(values[np.isfinite(values)])
    if not a.size:
        return 1.0, False
    top = float(a.max())
    lim = float(np.quantile(a, 0.995)) if a.size > 200 else top
    lim = lim if lim > 0 else (top if top > 0 else 1.0)
    return lim, top > lim * (1 + 1e-6)


def _output_name(ds, out_unit: int) -> str:
    return "network output f(x)" + (f", unit {out_unit}" if ds.sizes.get("out", 1) > 1 else "")


def _draw_images(cells, grid_shape, meta, ds, max_nets, out_unit):
    import matplotlib.pyplot as plt

    lo, hi = float(meta.get("low", -1.0)), float(meta.get("high", 1.0))
    sweep = bool(cells[0][0])
    n = min(max_nets, cells[0][1].shape[0], 8 if sweep else max_nets)  # a sweep row holds at most 8 networks
    shown = np.concatenate([v[:n].ravel() for _, v in cells])
    lim, clipped = _robust_limit(shown)
    if sweep:
        cols, rows = n, len(cells)
        per = 1.15
        fig, axes = plt.subplots(rows, cols, figsize=(per * cols + 2.6, per * rows + 1.1), squeeze=False,
                                 constrained_layout=True)
    else:
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        per = 1.5 if cols > 2 else 2.2
        fig, axes = plt.subplots(rows, cols, figsize=(max(per * cols + 1.3, 4.2), per * rows + 1.0), squeeze=False,
                                 constrained_layout=True)
    image = None
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            i, values = (c, cells[r][1]) if sweep else (r * cols + c, cells[0][1])
            if i >= n:
                ax.axis("off")
                continue
            image = ax.imshow(values[i].reshape(grid_shape).T, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                              extent=(lo, hi, lo, hi), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if not sweep or r == 0:
                ax.set_title(f"net {i}", fontsize=7, pad=2)
        if sweep:
            lines = cells[r][0] + [f"std {float(np.nanstd(cells[r][1])):.3g}"]
            axes[r, 0].set_ylabel("\n".join(lines), rotation=0, ha="right", va="center", fontsize=8, labelpad=4)
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=min(0.9, 0.4 + 0.15 * rows), fraction=0.04,
                       aspect=25, extend="both" if clipped else "neither")
    bar.set_label(_output_name(ds, out_unit) + (" (clipped at the 99.5th percentile of |f|)" if clipped else ""),
                  fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return fig, (f"inputs: {grid_shape[0]} x {grid_shape[1]} grid on [{lo:g}, {hi:g}]^2 (x1 across, x2 up)", n)


def _draw_curves(cells, x, xlabel, ds, max_nets, out_unit):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    n_cells = len(cells)
    cols = min(4, n_cells)
    rows = int(math.ceil(n_cells / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.3 * cols, 6.0), 2.6 * rows + 1.2), squeeze=False,
                             constrained_layout=True)
    order = np.argsort(x)
    xs = x[order]
    n = min(max_nets, cells[0][1].shape[0])
    colors = plt.get_cmap("tab10")(np.arange(n) % 10)
    for ax, (lines, values) in zip(axes.ravel(), cells):
        v = values[:, order]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            band = np.nanquantile(v, [0.05, 0.95], axis=0)
        ax.fill_between(xs, band[0], band[1], color="0.8", lw=0, label=f"5-95 % of {values.shape[0]} networks")
        for i in range(n):
            ax.plot(xs, v[i], lw=0.9, color=colors[i], label="first networks" if i == 0 else None)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.tick_params(labelsize=7)
        if lines:
            ax.set_title(", ".join(lines), fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(_output_name(ds, out_unit), fontsize=8)
    for ax in axes.ravel()[n_cells:]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, [f"first {n} networks" if lab == "first networks" else lab for lab in labels],
               loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig, n


def _sphere_coords(x: np.ndarray):
    """(longitude, latitude) in degrees of points on the 2-sphere."""
    r = np.linalg.norm(x, axis=1)
    r = np.where(r > 0, r, 1.0)
    return np.degrees(np.arctan2(x[:, 1], x[:, 0])), np.degrees(np.arcsin(np.clip(x[:, 2] / r, -1, 1)))


def _distribution_row(fig, cell_values, x, kind, meta, ds, out_unit, max_nets, *, legend: bool):
    """One row of panels for non-grid inputs: output histogram, the structure panel, fraction positive."""
    import matplotlib.pyplot as plt

    values = cell_values
    dim = x.shape[1] if x is not None else 0
    on_sphere = kind == "sphere" or (x is not None and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-4))
    structure = None
    if x is not None and kind == "hypercube":
        structure = "hamming"
    elif x is not None and dim == 2 and on_sphere:
        structure = "circle"
    elif x is not None and dim == 3 and on_sphere:
        structure = "sphere"
    elif x is not None and dim in (2, 3):
        structure = "plane"
    n_panels = 3 if structure else 2
    ratios = [1, 1.25, 1][:n_panels] if structure in ("sphere", "plane") else [1] * n_panels
    axes = fig.subplots(1, n_panels, gridspec_kw={"width_ratios": ratios})
    ax = axes[0]
    flat = values[np.isfinite(values)].ravel()
    mean, std = (float(flat.mean()), float(flat.std())) if flat.size else (0.0, 1.0)
    ax.hist(flat, bins=int(np.clip(np.sqrt(flat.size), 10, 60)), density=True, color="0.65", label=f"{values.shape[0]} nets x {values.shape[1]} inputs")
    if std > 0:
        grid = np.linspace(flat.min(), flat.max(), 300)
        ax.plot(grid, np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi)), "C3", lw=1.4,
                label="Gaussian, same mean and variance")
        kurt = float(np.mean(((flat - mean) / std) ** 4) - 3.0)
        ax.set_title(f"outputs over networks and inputs\n(mean {mean:.3g}, std {std:.3g}, excess kurtosis {kurt:.2g})",
                     fontsize=8)
    else:
        ax.set_title("outputs over networks and inputs (constant)", fontsize=8)
    ax.set_xlabel(_output_name(ds, out_unit), fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=6.5, loc="upper left", frameon=False)
    ax.set_ylim(top=ax.get_ylim()[1] * (1.35 if legend else 1.0))  # room for the legend above the bars
    if structure:
        ax = axes[1]
        if structure == "hamming":
            bits = x > (0.5 * (x.min() + x.max()))
            weight = bits.sum(axis=1)
            ks = np.unique(weight)
            with warnings.catch_warnings():  # a weight where every output is non-finite: NaN is the answer
                warnings.simplefilter("ignore", RuntimeWarning)
                per_net = np.stack([np.nanmean(values[:, weight == k], axis=1) for k in ks], axis=1)  # (net, weight)
                q = np.stack([np.nanquantile(values[:, weight == k], [0.05, 0.5, 0.95]) for k in ks], axis=1)
            ax.fill_between(ks, q[0], q[2], color="0.8", lw=0, label="5-95 % over networks and inputs")
            ax.plot(ks, q[1], "k-", lw=1.5, label="median")
            for i in range(min(max_nets, 8, values.shape[0])):
                ax.plot(ks, per_net[i], lw=0.8, alpha=0.8, label="one network (mean per weight)" if i == 0 else None)
            ax.set_xlabel(f"Hamming weight of the input (number of 1 bits of {dim})", fontsize=8)
            ax.set_ylabel(_output_name(ds, out_unit), fontsize=8)
            ax.set_title("output against the input's Hamming weight", fontsize=8)
            if legend:  # above the curves, in room made for it
                low, high = ax.get_ylim()
                ax.set_ylim(low, high + 0.45 * (high - low))
                ax.legend(fontsize=6.5, frameon=False, loc="upper left")
        elif structure == "circle":
            theta = np.degrees(np.arctan2(x[:, 1], x[:, 0]))
            order = np.argsort(theta)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                band = np.nanquantile(values[:, order], [0.05, 0.95], axis=0)
            ax.fill_between(theta[order], band[0], band[1], color="0.8", lw=0, label="5-95 % over networks")
            shown = min(max_nets, 8, values.shape[0])
            for i in range(shown):
                ax.plot(theta[order], values[i, order], lw=0.8, label=f"first {shown} networks" if i == 0 else None)
            ax.set_xlabel("angle of the input on the circle (degrees)", fontsize=8)
            ax.set_ylabel(_output_name(ds, out_unit), fontsize=8)
            ax.set_title("outputs around the circle", fontsize=8)
            if legend:
                ax.legend(fontsize=6.5, frameon=False)
        else:
            if structure == "sphere":
                u, v = _sphere_coords(x)
                xlabel, ylabel = "longitude (degrees)", "latitude (degrees)"
            else:
                u, v = x[:, 0], x[:, 1]
                xlabel, ylabel = "x1", "x2" + (" (x3 not shown)" if dim == 3 else "")
            lim, clipped = _robust_limit(values[0])
            sc = ax.scatter(u, v, c=np.clip(values[0], -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, s=10,
                            edgecolors="none")
            bar = fig.colorbar(sc, ax=ax, extend="both" if clipped else "neither", fraction=0.08, pad=0.02)
            bar.set_label("f(x) of network 0", fontsize=7)
            bar.ax.tick_params(labelsize=6)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title("network 0 at each input" + (" (sphere, equirectangular)" if structure == "sphere" else ""),
                         fontsize=8)
        ax.tick_params(labelsize=7)
    ax = axes[-1]
    with np.errstate(invalid="ignore"):
        frac = np.mean(values > 0, axis=1)
    ax.hist(frac, bins=np.linspace(0, 1, min(21, values.shape[1] + 2)), color="C0", alpha=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of inputs with f(x) > 0", fontsize=8)
    ax.set_ylabel("networks", fontsize=8)
    ax.set_title("sign balance per network\n(0.5: balanced; near 0 or 1: one sign)", fontsize=8)
    ax.tick_params(labelsize=7)


def _draw_distributions(cells, x, kind, meta, ds, max_nets, out_unit):
    import matplotlib.pyplot as plt

    dim = x.shape[1] if x is not None else 0
    wide = x is not None and (kind == "hypercube" or dim in (2, 3))
    width = 11.0 if wide else 7.5
    if len(cells) == 1:
        fig = plt.figure(figsize=(width, 3.6), layout="constrained")
        _distribution_row(fig, cells[0][1], x, kind, meta, ds, out_unit, max_nets, legend=True)
        return fig
    fig = plt.figure(figsize=(width, 2.9 * len(cells) + 0.8), layout="constrained")
    for r, (sub, (lines, values)) in enumerate(zip(np.atleast_1d(fig.subfigures(len(cells), 1)), cells)):
        _distribution_row(sub, values, x, kind, meta, ds, out_unit, max_nets, legend=r == 0)
        sub.suptitle(", ".join(lines), fontsize=9, fontweight="bold")
    return fig


def _networks(n: int) -> str:
    return f"{n} random network" + ("s" if n != 1 else "")


_INPUT_TEXT = {"sphere": "points on the sphere", "hypercube": "hypercube vertices", "blobs": "Gaussian blobs",
               "digits": "digits images"}


def plot_functions(ds: xr.Dataset, path, *, max_nets: int = 16, out_unit: int = 0, max_cells: int = 8) -> pathlib.Path:
    """Draws the functions sampled by :func:`jaxbias.sample` (or ``jaxbias sample``) as a reader can use them.

    * 2-D grid inputs: the first ``max_nets`` networks as images on one symmetric colour scale, with its
      colour bar; a sweep draws one row per cell (at most 8 networks a row), labelled with the cell's
      values and its output std.
    * 1-D grid inputs: the first ``max_nets`` networks as curves over the 5-95 % band across all networks,
      one panel per cell.
    * other inputs (sphere, hypercube, blobs, digits): one row per cell with the histogram of the outputs
      over all networks and inputs against the Gaussian of the same mean and variance (excess kurtosis in
      the title), the output against the input where it has a drawable shape (around the circle, over the
      2-sphere, on the plane, or against the Hamming weight of a hypercube vertex), and the histogram over
      networks of the fraction of inputs with a positive output (a sign bias shows as mass near 0 or 1).

    Args:
      ds: Dataset with ``outputs (..., net, point, out)`` and, for non-grid inputs, ``x (point, feature)``;
        swept dims (before ``net``) give one row or panel per cell.
      path: image path (``.png``, ``.pdf``, ``.svg``).
      max_nets: networks drawn per cell (images and curves).
      out_unit: which output unit to draw.
      max_cells: at most this many cells; when cells are left out the title says how many and a warning
        is issued.

    Returns:
      The written path.
    """
    # netCDF stores a one-element list attribute as a scalar: atleast_1d restores the shape tuple.
    raw = ds.attrs.get("grid_shape")
    if isinstance(raw, str):  # an attribute written as text, e.g. "[16 16]"
        raw = [int(t) for t in raw.strip("[]()").replace(",", " ").split()]
    grid_shape = tuple(int(r) for r in np.atleast_1d(raw)) if raw is not None else None
    y = ds["outputs"].isel(out=out_unit)
    cells, total = _cell_list(y, max_cells)
    if total > len(cells):
        warnings.warn(f"plot_functions: max_cells={max_cells} draws {len(cells)} of {total} cells", stacklevel=2)
    kind, meta = _input_kind(ds, grid_shape)
    n_nets, n_points = y.sizes["net"], y.sizes["point"]
    config = _config(ds)
    net = _net_text(config)
    x = np.asarray(ds["x"].values, np.float64) if "x" in ds and ds["x"].ndim == 2 else None
    if kind == "grid2":
        fig, (inputs, n) = _draw_images(cells, grid_shape, meta, ds, max_nets, out_unit)
        what = f"first {n} of {n_nets} random networks" if n < n_nets else _networks(n_nets)
        title = f"Functions of {what}" + (f" ({net})" if net else "") + f"; {inputs}"
    elif kind == "grid1":
        lo, hi = float(meta.get("low", -1.0)), float(meta.get("high", 1.0))
        xs = np.linspace(lo, hi, grid_shape[0])
        fig, n = _draw_curves(cells, xs, "input x", ds, max_nets, out_unit)
        title = (f"Functions of {_networks(n_nets)}" + (f" ({net})" if net else "")
                 + f" on {grid_shape[0]} grid points in [{lo:g}, {hi:g}]")
    else:
        fig = _draw_distributions(cells, x, kind, meta, ds, max_nets, out_unit)
        inputs = _INPUT_TEXT.get(kind, "inputs")
        shape = f", {x.shape[1]}-D" if x is not None else ""
        title = (f"Outputs of {_networks(n_nets)} on {n_points} {inputs}{shape}" + (f" ({net})" if net else ""))
    if total > len(cells):
        title += f" (first {len(cells)} of {total} cells)"
    figure_title(fig, title, fontsize=10)
    return save_figure(fig, path)


def plot_ntk_spectrum(ds: xr.Dataset, path) -> pathlib.Path:
    """Log-log eigenvalues against rank: finite width (per-init mean, 5-95 % band, mean kernel) and infinite width.

    Args:
      ds: a Dataset from :func:`jaxbias.experiments.ntk_spectrum`.
      path: the image file (format from the suffix), written atomically.
    """
    import matplotlib.pyplot as plt

    rank = ds["rank"].values
    fig, ax = plt.subplots(figsize=(6.0, 4.2), constrained_layout=True)
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
    log_ticks(ax, "x", rank if len(rank) <= 10 else None)
    ax.set_xlabel("rank k")
    ax.set_ylabel("eigenvalue")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"NTK spectrum ({ds.sizes['point']} points)")
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
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.3 * cols, 6.0), 2.7 * rows + 1.2), squeeze=False,
                             constrained_layout=True)
    g = np.linspace(0.0005, 0.9995, 400)
    n_points = int(ds.attrs["n_points"])
    for ax, (label, cell) in zip(axes.ravel(), cells):
        ax.hist(np.asarray(cell["g0"]), bins=bins, range=(0, 1), density=True, color="0.7",
                label=f"measured ({cell.sizes['net']} networks)")
        gamma = float(cell["gamma_theory"])
        if math.isfinite(gamma) and gamma > 0:
            ax.plot(g, th.g0_pdf(g, gamma), "C3", lw=1.5, label="theory, infinitely many inputs")
        if math.isfinite(gamma):  # the law at this number of inputs (binomial noise included)
            k = np.arange(n_points + 1) / n_points
            prob, edges = np.histogram(k, bins=bins, range=(0, 1), weights=th.g0_pmf(max(gamma, 0.0), n_points))
            ax.stairs(prob * bins, edges, color="C0", lw=1, label=f"theory, {n_points} inputs")
        theory = f"theory gamma={gamma:.3g}" if math.isfinite(gamma) else "no theory"
        ax.set_title((f"{label}\n" if label else "") + f"{_measured_gamma_text(cell)}\n{theory}", fontsize=7)
        ax.set_xlabel("G_0 (fraction of inputs in class 0)", fontsize=7)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=6)
    for ax in axes[:, 0]:
        ax.set_ylabel("density over networks", fontsize=7)
    for ax in axes.ravel()[len(cells):]:
        ax.axis("off")
    # One legend for every panel, below them (inside a panel it would sit on the histogram).
    entries = {}
    for ax in axes.ravel()[:len(cells)]:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(text.split(" (")[0] if text.startswith("measured") else text, handle)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=len(entries), fontsize=7,
               frameon=False)
    title = "Initial guessing bias: fraction of inputs in class 0 over random networks"
    if left_out:
        title += f" (first {len(cells)} of {len(cells) + left_out} cells)"
    figure_title(fig, title, fontsize=9)
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
    fig, axes = plt.subplots(1, len(acts), figsize=(max(4.6 * len(acts) + 1.2, 6.0), 4.4), squeeze=False,
                             constrained_layout=True)
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
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(), shrink=0.9)
    bar.set_label("measured gamma > 0 (filled points,\nclipped to [0.01, 100])", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(3)]
    fig.legend(handles, [f"regime: {r}" for r in th.REGIMES], loc="outside lower center", ncol=3, fontsize=7)
    figure_title(fig, "IGB phase diagram: regimes from the NNGP recursion (depth -> inf), contours of gamma at the "
                 "given depth, measured gamma as points", fontsize=9)
    return save_figure(fig, path)
