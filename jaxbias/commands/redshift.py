"""``jaxbias redshift``: complexity of random networks against activation, depth and weight scale."""

from __future__ import annotations

import argparse
import pathlib

from jaxbias.commands.common import add_device_options, add_run_options, check_distinct
from jaxbias.nets.options import NORMS

NORM_VALUES = ("none",) + NORMS

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``redshift`` subcommand to the subparsers ``sub``."""
    r = sub.add_parser(
        "redshift",
        help="neural redshift: function complexity against activation, depth and weight scale",
        description="Sample n random MLPs per cell of activation x depth (x width, weight law, residual, "
                    "norm) on a grid over [-1, 1]^dim and score each one at every weight scale (Fourier mean "
                    "frequency by default; Teney et al., CVPR 2024). Writes a netCDF file with per-network "
                    "scores and per-cell mean, std and 95 % confidence interval, a heatmap per activation and "
                    "curves with confidence bands. Finished cells are saved as they complete (--resume).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    r.add_argument("--activation", nargs="+", default=["relu", "gelu", "tanh", "gaussian"], help="activations")
    r.add_argument("--depth", type=int, nargs="+", default=[1, 2, 4, 8], help="hidden layers")
    r.add_argument("--scale", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0],
                   help="weight scales (meaning: --scale-kind)")
    r.add_argument("--scale-kind", choices=["weight_var", "absolute"], default="weight_var",
                   help="weight_var: scale = C_W, weights N(0, C_W/fan_in); absolute: weights and biases "
                        "U(-scale, scale) whatever the fan-in (Neural Redshift code)")
    r.add_argument("--width", type=int, nargs="+", default=[64], help="hidden width (sweepable)")
    r.add_argument("--weight-law", nargs="+", default=["normal"],
                   help="fan-in weight law with --scale-kind weight_var (sweepable): normal, truncated_normal, "
                        "uniform, orthogonal, 'sparse(p)', 'low_rank(r)'")
    r.add_argument("--residual", nargs="+", choices=["off", "on"], default=["off"],
                   help="skip connections around hidden layers 2..depth (sweepable: off on)")
    r.add_argument("--norm", nargs="+", choices=list(NORM_VALUES), default=["none"],
                   help="normalization before (pre) or after (post) the activation, as in the spec (sweepable)")
    r.add_argument("--bias-var", type=float, default=0.0,
                   help="C_b: biases have variance C_b, as in every command (with --scale-kind weight_var)")
    r.add_argument("--parameterization", choices=["standard", "ntk"], default="standard",
                   help="standard: weights N(0, C_W/fan_in); ntk: weights N(0, 1) scaled by sqrt(C_W/fan_in) in the "
                        "forward pass (same functions at initialization)")
    r.add_argument("--n", type=int, default=50, help="networks per cell (the same networks at every scale)")
    r.add_argument("--resolution", type=int, default=64, help="grid points per axis")
    r.add_argument("--dim", type=int, default=2, help="input dimension of the grid")
    r.add_argument("--measure", nargs="+", choices=["mean_frequency", "polynomial_order", "lz", "mean_frequency_redshift_code"],
                   default=["mean_frequency"],
                   help="per-network measures (the first is plotted; mean_frequency_redshift_code: the public Neural "
                        "Redshift code's variant, 2-D only)")
    r.add_argument("--window", choices=["none", "hann"], default="hann",
                   help="window applied before the FFT of mean_frequency: hann tapers the grid's edges, whose jump "
                        "would otherwise put high frequencies into every function (with none the ramp baseline is "
                        "0.19 and most cells crowd just above it)")
    r.add_argument("--degree", type=int, default=8, help="Legendre degree per axis (polynomial_order)")
    add_run_options(r, "redshift.nc")
    r.add_argument("--figures", default=None,
                   help="figure prefix: PREFIX_heatmaps.png and PREFIX_curves.png (default: --out without .nc)")
    r.add_argument("--no-plot", action="store_true", help="write no figures")
    add_device_options(r)
    r.set_defaults(run=run)


def _check(args) -> None:
    for name in ("n", "resolution", "dim", "degree"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} {getattr(args, name)}: expected a positive integer")
    check_distinct(args, ("activation", "depth", "scale", "width", "weight_law", "residual", "norm", "measure"))


def figure_paths(args) -> tuple[pathlib.Path, pathlib.Path]:
    """(heatmaps, curves) image paths from ``--figures`` or ``--out``."""
    prefix = args.figures if args.figures is not None else str(pathlib.Path(args.out).with_suffix(""))
    return pathlib.Path(f"{prefix}_heatmaps.png"), pathlib.Path(f"{prefix}_curves.png")


def run(args) -> int:
    """Run the sweep, save, plot, print the cell means; returns the exit status."""
    import jax

    from jaxbias.experiments import redshift
    from jaxbias.grid import cells
    from jaxbias.commands.common import check_outputs
    from jaxbias.plot_complexity import plot_redshift_curves, plot_redshift_heatmaps

    _check(args)
    writer = jax.process_index() == 0
    figures = () if args.no_plot else figure_paths(args)
    if writer:
        check_outputs(args, args.out, *figures)
    ds = redshift(
        args.out, activations=args.activation, depths=args.depth, scales=args.scale, scale_kind=args.scale_kind,
        widths=args.width, weight_laws=args.weight_law, residuals=[v == "on" for v in args.residual],
        norms=args.norm, bias_var=args.bias_var,
        parameterization=args.parameterization, n=args.n, resolution=args.resolution, dim=args.dim, key=args.key,
        measures=args.measure, window=None if args.window == "none" else args.window, degree=args.degree,
        resume=args.resume, progress=not args.quiet, chunk_size=args.chunk_size, memory_budget=args.memory_budget,
        overwrite=args.overwrite,
    )
    if writer and figures:
        plot_redshift_heatmaps(ds, figures[0], measure=args.measure[0])
        plot_redshift_curves(ds, figures[1], measure=args.measure[0])
    if writer and not args.quiet:
        m = args.measure[0]
        print(f"jaxbias redshift: {m} (mean of {args.n} networks per cell; {ds.attrs['scale_meaning']})")
        print(f"  baselines: ramp {ds.attrs[f'ramp_{m}']:.3f}, white noise {ds.attrs[f'noise_{m}']:.3f}")
        mean = ds[f"{m}_mean"]
        extra = [d for d in mean.dims if d not in ("activation", "depth", "scale")]
        if extra:
            mean = mean.isel({d: 0 for d in extra})
        header = "  " + f"{'activation':>10s} {'depth':>5s} " + " ".join(f"{s:>7g}" for s in mean["scale"].values)
        print(header)
        for c in cells({"activation": mean["activation"].values, "depth": mean["depth"].values}):
            row = mean.sel(c).values
            print(f"  {c['activation']:>10s} {c['depth']:>5d} " + " ".join(f"{v:7.3f}" for v in row))
        flagged = int(ds["near_constant_count"].sum())
        if flagged:
            print(f"  {flagged} network-scales were constant up to float32 rounding: scored as constants")
        if "non_finite_count" in ds and int(ds["non_finite_count"].sum()):
            print(f"  {int(ds['non_finite_count'].sum())} network-scales had NaN or infinite outputs (overflow): "
                  "not scored, left out of the means")
        print("  -> " + ", ".join(str(p) for p in (args.out, *figures)))
    return 0
