"""``jaxbias ntk-motion``: how far the tangent kernel moves in training, against width, both parameterisations."""

from __future__ import annotations

import argparse

from jaxbias.commands.common import add_device_options, check_outputs

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``ntk-motion`` subcommand to the subparsers ``sub``."""
    s = sub.add_parser(
        "ntk-motion",
        help="NTK distance, relative change, velocity and alignment over training against width; slope fit",
        description="Train n MLPs per (parameterisation, width) by full-batch gradient descent on a small "
                    "regression task and record the tangent kernel's motion on every training point. The "
                    "learning rate is eta = RATE * N / lambda_max, lambda_max the largest eigenvalue of the "
                    "empirical NTK at init (median of --lam-nets networks): per width (--lr-rule function_space, "
                    "a fixed function-space time) or that of the smallest width for all (--lr-rule fixed). "
                    "Fits log(final relative change) against log(width) with a bootstrap interval over networks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--width", nargs="+", type=int, default=[64, 256, 1024, 4096], help="hidden widths")
    s.add_argument("--parameterization", nargs="+", choices=["ntk", "standard"], default=["ntk", "standard"],
                   help="parameterisations")
    s.add_argument("--depth", type=int, default=1, help="hidden layers")
    s.add_argument("--activation", default="erf", help="activation")
    s.add_argument("--weight-var", type=float, default=1.0, help="C_W")
    s.add_argument("--bias-var", type=float, default=0.0, help="C_b, the bias variance")
    s.add_argument("--n-train", type=int, default=8, help="training points of the plane-wave task (the kernel is "
                                                           "measured on all of them)")
    s.add_argument("--data-key", type=int, default=0, help="seed of the task")
    s.add_argument("--steps", type=int, default=10, help="gradient steps")
    s.add_argument("--rate", type=float, default=0.5, help="eta lambda_max / N per step")
    s.add_argument("--lr-rule", choices=["function_space", "fixed"], default="function_space",
                   help="function_space: eta per width; fixed: the smallest width's eta at every width")
    s.add_argument("--lam-nets", type=int, default=8, help="networks whose initial NTK sets lambda_max")
    s.add_argument("--n", type=int, default=32, help="networks per cell")
    s.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the slope")
    s.add_argument("--key", type=int, default=0, help="random seed; network i starts from fold_in(key, i)")
    s.add_argument("--out", default="ntk_motion.nc", help="netCDF results file (written atomically)")
    s.add_argument("--plot", default=None, help="figure file (e.g. ntk_motion.png)")
    s.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_device_options(s)
    s.set_defaults(run=run)


def run(args) -> int:
    """Train, fit, save, draw, summarise; returns the exit status."""
    import time

    import jax

    import jaxbias as jb
    from jaxbias.experiments.dynamics.ntk_motion import default_data, ntk_motion

    check_outputs(args, args.out, args.plot)
    if args.n_train < 2:
        raise ValueError(f"--n-train {args.n_train}: expected at least 2 points")
    start = time.perf_counter()
    ds = ntk_motion(widths=args.width, parameterizations=args.parameterization, depth=args.depth,
                    activation=args.activation, weight_var=args.weight_var, bias_var=args.bias_var,
                    data=default_data(args.n_train, args.n_train, args.data_key), n=args.n, steps=args.steps,
                    rate=args.rate, lr_rule=args.lr_rule, key=args.key, lam_nets=args.lam_nets, n_boot=args.n_boot,
                    progress=not args.quiet)
    seconds = time.perf_counter() - start
    if jax.process_index() == 0:
        jb.save(ds, args.out, overwrite=args.overwrite)
        if args.plot is not None:
            from jaxbias.plot_dynamics.ntk_motion import plot_ntk_motion

            plot_ntk_motion(ds, args.plot)
        if not args.quiet:
            cells = ds.sizes["parameterization"] * ds.sizes["width"]
            print(f"jaxbias ntk-motion: {cells} cells x {args.n} networks x {args.steps} steps in {seconds:.1f} s "
                  f"({cells * args.n * args.steps / seconds:.3g} network-steps/s) -> "
                  + ", ".join(p for p in (args.out, args.plot) if p))
            end = ds["ntk_relative_change"].isel(step=-1).mean("net")
            for p in ds["parameterization"].values:
                c = ds.sel(parameterization=p)
                values = ", ".join(f"{int(w)}: {float(v):.3g}" for w, v in zip(ds["width"].values, end.sel(
                    parameterization=p).values))
                print(f"  {p}: mean |K_T - K_0| / |K_0| by width {values}; slope {float(c['slope']):.3f} "
                      f"[{float(c['slope_low']):.3f}, {float(c['slope_high']):.3f}]; eta "
                      + ", ".join(f"{float(v):.3g}" for v in c["learning_rate"].values))
    return 0
