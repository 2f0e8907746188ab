"""``jaxbias redshift-training``: function complexity recorded while networks learn a target (Teney et al. 2024)."""

from __future__ import annotations

import argparse
import pathlib

from jaxbias.commands.common import add_device_options, check_outputs

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``redshift-training`` subcommand to the subparsers ``sub``."""
    from jaxbias.experiments.dynamics.redshift_training import MEASURES, TARGET_FORMS

    s = sub.add_parser(
        "redshift-training",
        help="complexity (mean frequency, polynomial order, LZ) of n networks per activation x scale during training",
        description="Train n MLPs per (activation, weight scale) on a regression target on [-1, 1]^D and record "
                    "the neural-redshift complexity measures of each network on a grid probe at log-spaced steps "
                    "(Teney et al., CVPR 2024). Writes a netCDF file with dims (activation, scale, net, step), the "
                    "target's scores and the ramp / white-noise baselines, and with --figures one figure per "
                    "activation.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--activation", nargs="+", default=["relu", "tanh"], help="activations")
    s.add_argument("--scale", nargs="+", type=float, default=[1.0, 4.0], help="weight scales")
    s.add_argument("--scale-kind", choices=["weight_var", "absolute"], default="weight_var",
                   help="weight_var: C_W = scale (fan-in law); absolute: weights and biases U(-scale, scale)")
    s.add_argument("--depth", type=int, default=4, help="hidden layers")
    s.add_argument("--width", type=int, default=64, help="hidden width")
    s.add_argument("--bias-var", type=float, default=0.0, help="C_b, the bias variance (weight_var scales)")
    s.add_argument("--target", default="sine:2", help="; ".join(TARGET_FORMS))
    s.add_argument("--dim", type=int, default=2, help="input dimension")
    s.add_argument("--n-train", type=int, default=256, help="training points, uniform on [-1, 1]^D")
    s.add_argument("--n-test", type=int, default=256, help="test points")
    s.add_argument("--data-key", type=int, default=0, help="seed of the data points")
    s.add_argument("--optimizer", default="adam", help="optax optimizer name")
    s.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    s.add_argument("--steps", type=int, default=1000, help="training steps")
    s.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: full batch)")
    s.add_argument("--record", type=int, default=20, help="about this many log-spaced steps to measure at")
    s.add_argument("--resolution", type=int, default=32, help="probe grid points per axis")
    s.add_argument("--measures", nargs="+", choices=list(MEASURES), default=list(MEASURES), help="measures")
    s.add_argument("--degree", type=int, default=8, help="Legendre degree per axis (polynomial order)")
    s.add_argument("--n", type=int, default=32, help="networks per cell")
    s.add_argument("--key", type=int, default=0, help="random seed; network i starts from fold_in(key, i)")
    s.add_argument("--out", default="redshift_training.nc", help="netCDF results file (written atomically)")
    s.add_argument("--figures", default=None, metavar="DIR", help="write complexity_<activation>.png into DIR")
    s.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_device_options(s)
    s.set_defaults(run=run)


def run(args) -> int:
    """Train, save, draw, summarise; returns the exit status."""
    import time

    import jax
    import numpy as np

    import jaxbias as jb
    from jaxbias.experiments.dynamics.redshift_training import redshift_training
    from jaxbias.training import Optimizer

    check_outputs(args, args.out)
    figures = pathlib.Path(args.figures).expanduser() if args.figures is not None else None
    if figures is not None:
        if figures.exists() and not figures.is_dir():
            raise NotADirectoryError(f"--figures {args.figures}: exists and is not a directory")
        figures.mkdir(parents=True, exist_ok=True)
        from jaxbias.plot_dynamics.redshift_training import figure_paths

        check_outputs(args, *figure_paths(args.activation, figures))
    start = time.perf_counter()
    ds = redshift_training(activations=args.activation, scales=args.scale, scale_kind=args.scale_kind,
                           depth=args.depth, width=args.width, bias_var=args.bias_var, target=args.target,
                           dim=args.dim, n_train=args.n_train, n_test=args.n_test, data_key=args.data_key,
                           optimizer=Optimizer(args.optimizer, learning_rate=args.lr), steps=args.steps,
                           batch_size=args.batch_size, record=args.record, n=args.n, key=args.key,
                           resolution=args.resolution, measures=args.measures, degree=args.degree,
                           progress=not args.quiet)
    seconds = time.perf_counter() - start
    written = []
    if jax.process_index() == 0:
        jb.save(ds, args.out, overwrite=args.overwrite)
        if figures is not None:
            from jaxbias.plot_dynamics.redshift_training import plot_redshift_training

            written = plot_redshift_training(ds, figures)
        if not args.quiet:
            cells = ds.sizes["activation"] * ds.sizes["scale"]
            print(f"jaxbias redshift-training: {cells} cells x {args.n} networks x {args.steps} steps in {seconds:.1f} s "
                  f"({cells * args.n * args.steps / seconds:.3g} network-steps/s) -> "
                  + ", ".join(str(p) for p in [args.out, *written]))
            for name in args.measures:
                first = ds[name].isel(step=0).median("net").values
                last = ds[name].isel(step=-1).median("net").values
                print(f"  {name}: target {float(ds[f'target_{name}']):.4g}; median start -> end per activation x scale")
                for i, a in enumerate(ds["activation"].values):
                    row = ", ".join(f"scale {s:g}: {first[i, j]:.4g} -> {last[i, j]:.4g}"
                                    for j, s in enumerate(ds["scale"].values))
                    print(f"    {a}: {row}")
            print(f"  median test loss at the end: {float(np.nanmedian(ds['test_loss'].isel(step=-1))):.4g}")
    return 0
