"""``jaxbias igb-training``: initial guessing bias over the first steps of training (Francazi et al. 2024)."""

from __future__ import annotations

import argparse

from jaxbias.commands.common import add_device_options, check_outputs

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``igb-training`` subcommand to the subparsers ``sub``."""
    s = sub.add_parser(
        "igb-training",
        help="class fractions and gamma of n networks per configuration during the first steps of training",
        description="Train n networks of a prejudiced configuration (ReLU, C_W = 2, no bias) and a neutral one "
                    "(tanh, C_W = 1, no bias) on two balanced centred Gaussian classes, and record every "
                    "network's class fractions on the test split at every early step (then log-spaced), with "
                    "gamma (finite-n corrected, bootstrap interval) and E[max G] per step.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--width", type=int, default=128, help="hidden width")
    s.add_argument("--depth", type=int, default=4, help="hidden layers")
    s.add_argument("--dim", type=int, default=32, help="input dimension")
    s.add_argument("--n-train", type=int, default=512, help="training points")
    s.add_argument("--n-test", type=int, default=512, help="test points (the probe)")
    s.add_argument("--data-key", type=int, default=0, help="seed of the data")
    s.add_argument("--optimizer", default="sgd", help="optax optimizer name")
    s.add_argument("--lr", type=float, default=0.05, help="learning rate")
    s.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy", help="loss")
    s.add_argument("--steps", type=int, default=200, help="training steps")
    s.add_argument("--batch-size", type=int, default=64, help="minibatch size")
    s.add_argument("--n", type=int, default=64, help="networks per configuration")
    s.add_argument("--n-boot", type=int, default=300, help="bootstrap resamples per step")
    s.add_argument("--key", type=int, default=0, help="random seed; network i starts from fold_in(key, i)")
    s.add_argument("--out", default="igb_training.nc", help="netCDF results file (written atomically)")
    s.add_argument("--plot", default=None, help="figure file (e.g. igb_training.png)")
    s.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_device_options(s)
    s.set_defaults(run=run)


def run(args) -> int:
    """Train, estimate, save, draw, summarise; returns the exit status."""
    import time

    import jax
    import numpy as np

    import jaxbias as jb
    from jaxbias.experiments.dynamics.igb_training import igb_training
    from jaxbias.training import Optimizer

    check_outputs(args, args.out, args.plot)
    start = time.perf_counter()
    ds = igb_training(width=args.width, depth=args.depth, n_train=args.n_train, n_test=args.n_test, dim=args.dim,
                      data_key=args.data_key, optimizer=Optimizer(args.optimizer, learning_rate=args.lr),
                      loss=args.loss, steps=args.steps, batch_size=args.batch_size, n=args.n, key=args.key,
                      n_boot=args.n_boot, progress=not args.quiet)
    seconds = time.perf_counter() - start
    if jax.process_index() == 0:
        jb.save(ds, args.out, overwrite=args.overwrite)
        if args.plot is not None:
            from jaxbias.plot_dynamics.igb_training import plot_igb_training

            plot_igb_training(ds, args.plot)
        if not args.quiet:
            cells = ds.sizes["config"]
            print(f"jaxbias igb-training: {cells} configurations x {args.n} networks x {args.steps} steps in "
                  f"{seconds:.1f} s ({cells * args.n * args.steps / seconds:.3g} network-steps/s) -> "
                  + ", ".join(p for p in (args.out, args.plot) if p))
            steps = ds["step"].values
            for c in ds["config"].values:
                cell = ds.sel(config=c)
                shown = [i for i, t in enumerate(steps) if t in (0, 1, 4, 16, steps[-1])]
                row = "; ".join(f"step {int(steps[i])}: E[max G] {cell['max_g'].values[i]:.3f}, gamma "
                                f"{cell['gamma'].values[i]:.3g}" for i in shown)
                print(f"  {c} (gamma theory at init {float(cell['gamma_theory']):.3g}): {row}")
            print(f"  median test accuracy at the end: {float(np.nanmedian(ds['test_accuracy'].isel(step=-1))):.3f}")
    return 0
