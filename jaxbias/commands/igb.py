"""``jaxbias igb``: initial guessing bias, measured over random networks and predicted by theory."""

from __future__ import annotations

import argparse
import math

from jaxbias.commands.common import INPUTS_HELP, add_device_options, add_run_options, check_distinct
from jaxbias.nets.options import NORMS

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``igb`` subcommand to the subparsers ``sub``."""
    s = sub.add_parser(
        "igb",
        help="initial guessing bias: class fractions of random classifiers, gamma with CIs, theory",
        description="Measure initial guessing bias (Francazi et al., ICML 2024) over n random networks per cell "
                    "and set the NNGP-recursion theory beside it. Options marked (sweepable) take several "
                    "values: every combination is a cell. Writes a netCDF Dataset with per-network class "
                    "fractions and per-cell gamma, Var(G_0), E[max G] with bootstrap CIs, a KS test and the "
                    "theory values.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--activation", nargs="+", default=["relu"], help="activation names (sweepable)")
    s.add_argument("--depth", nargs="+", type=int, default=[1], help="hidden layers (sweepable)")
    s.add_argument("--pool", nargs="+", default=["none"], metavar="none|KIND(P)",
                   help="pooling after each activation: none, 'max(p)' or 'avg(p)' with window p (sweepable)")
    s.add_argument("--norm", nargs="+", default=["none"], choices=["none", *NORMS],
                   help="normalization before (pre) or after (post) the activation (sweepable)")
    s.add_argument("--input-mean", nargs="+", type=float, default=[0.0],
                   help="blobs: every input coordinate has this mean, so |m|^2 / tr S = mean^2 (sweepable)")
    s.add_argument("--weight-var", nargs="+", type=float, default=[1.0], help="C_W (sweepable)")
    s.add_argument("--bias-var", nargs="+", type=float, default=[0.0], help="C_b (sweepable)")
    s.add_argument("--width", type=int, default=256, help="hidden width")
    s.add_argument("--out-dim", type=int, default=1, help="outputs (classes; 1 = sign, two classes)")
    s.add_argument("--n", type=int, default=1000, help="networks per cell")
    s.add_argument("--inputs", default="blobs",
                   help="blobs (--n-points Gaussian points in --dim dimensions, mean --input-mean), or an input spec "
                        "as in every command: " + INPUTS_HELP.split(": ", 1)[1])
    s.add_argument("--n-points", type=int, default=1000, help="blobs: number of inputs")
    s.add_argument("--dim", type=int, default=64, help="blobs: input dimension")
    s.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    add_run_options(s, "igb.nc", engine=False, key_help="random seed (networks and inputs)")
    s.add_argument("--plot", default=None, help="G_0 histograms with the predicted density (e.g. igb.png)")
    s.add_argument("--phase", default=None,
                   help="also draw the (C_W, C_b) phase diagram for tanh and ReLU at the first --depth (e.g. phase.png)")
    add_device_options(s)
    s.set_defaults(run=run)


SWEPT = ("activation", "depth", "pool", "norm", "input_mean", "weight_var", "bias_var")


def run(args) -> int:
    """Sweep, save, plot, print a table; returns the exit status."""
    import jax

    from jaxbias.experiments import igb
    from jaxbias.grid import split
    from jaxbias.commands.common import check_outputs
    from jaxbias.plot import plot_g0_histograms, plot_igb_phase

    for name, value in (("--n", args.n), ("--n-points", args.n_points), ("--dim", args.dim), ("--width", args.width)):
        if value < 1:
            raise ValueError(f"{name} {value}: expected a positive integer")
    if args.n < 2:
        raise ValueError(f"--n {args.n}: gamma needs at least 2 networks")
    writer = jax.process_index() == 0  # under jax.distributed every process computes, process 0 writes
    if writer:
        check_outputs(args, args.out, args.plot, args.phase)
    check_distinct(args, SWEPT)
    grid, fixed = split({name: getattr(args, name) for name in SWEPT})
    ds = igb.run_igb(args.out, grid, fixed=fixed, n=args.n, width=args.width, n_points=args.n_points, dim=args.dim,
                     inputs=args.inputs, out=args.out_dim, key=args.key, n_boot=args.n_boot, resume=args.resume,
                     progress=not args.quiet, overwrite=args.overwrite)
    if writer and args.plot:
        plot_g0_histograms(ds, args.plot)
    if args.phase:
        phase = igb.phase_dataset(depth=args.depth[0], n=min(args.n, 500), width=args.width, key=args.key,
                                  n_boot=min(args.n_boot, 300), progress=not args.quiet)
        if writer:
            plot_igb_phase(phase, args.phase)
    if writer and not args.quiet:
        _print_table(ds, list(grid))
    return 0


def _gamma_text(c) -> str:
    """gamma and its interval; "0 (none)" where the interval lies at or below 0, "undefined" when infinite."""
    g, lo, hi = float(c["gamma"]), float(c["gamma_low"]), float(c["gamma_high"])
    if math.isinf(g):
        return "undefined (constant)"
    if hi <= 0:
        return "0 (none)*"
    return f"{g:.3g} [{max(lo, 0.0):.3g}, {hi:.3g}]" + ("+" if lo < 0 else "")


def _var_text(v: float, high: float) -> str:
    """Var(G0): a variance, printed as 0 where the noise-corrected estimate is negative."""
    if v != v:
        return "-"
    if v < 0:
        return "0*" if high <= 0 else f"~0 (<{high:.2g})"
    return f"{v:.3g}"


def _print_table(ds, swept: list[str]) -> None:
    cells = ds.stack(cell=swept) if swept else ds.expand_dims(cell=[0])
    print(f"jaxbias igb: {ds.sizes['net']} networks per cell")
    print(f"{'cell':<40} {'gamma [95% CI]':<26} {'theory':>8} {'Var(G0)':>12} {'theory':>8} {'KS p':>7}")
    notes = set()
    for i in range(cells.sizes["cell"]):
        c = cells.isel(cell=i)
        label = ", ".join(f"{d}={c[d].item()}" for d in swept) or "-"
        ci = _gamma_text(c)
        var = _var_text(float(c["var_g0"]), float(c["var_g0_high"]))
        notes.update(mark for mark in ("*", "+", "~") if mark in ci + var)
        theory = float(c["gamma_theory"])
        print(f"{label:<40} {ci:<26} {max(theory, 0.0):>8.3g} {var:>12} {float(c['var_g0_theory']):>8.3g} "
              f"{float(c['ks_pvalue']):>7.2g}" if not math.isnan(theory) else
              f"{label:<40} {ci:<26} {'-':>8} {var:>12} {'-':>8} {'-':>7}")
    if "*" in notes:
        print("* no guessing bias: the interval of gamma lies at or below 0, so gamma = 0 (Var(G0) = 0); the "
              "negative estimate is the finite-input offset ~ -1/n_points (batch norm after the activation fixes each "
              "network's mean output over the inputs to its readout bias), not a negative variance ratio")
    if "+" in notes:
        print("+ the interval of gamma reaches below 0; gamma >= 0, so its lower end is printed as 0")
    if "~" in notes:
        print("~ the estimate of Var(G0) (binomial noise removed) is below 0: Var(G0) is 0 up to the upper end shown")
