"""``jaxbias task-difficulty``: the generalization-difficulty closed form of Boopathy et al. (ICML 2023)."""

from __future__ import annotations

import argparse
import pathlib

from jaxbias.commands.common import add_device_options, add_overwrite_option

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``task-difficulty`` subcommand to the subparsers ``sub``."""
    from jaxbias.commands.train import DATASET_FORMS

    p = sub.add_parser(
        "task-difficulty",
        help="bits of inductive bias a classification task needs, closed form (Boopathy et al., ICML 2023)",
        description="Generalization difficulty of a classification task from its data: intrinsic dimension m "
                    "(Levina-Bickel nearest neighbours, bootstrap interval), the smallest distance between "
                    "classes delta, the radius R, then the closed form for band-limited hypotheses. "
                    "--paper-table prints the paper's image-data table from its stated parameters instead.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dataset", default="digits", metavar="SPEC", help=DATASET_FORMS)
    p.add_argument("--data-key", type=int, default=0, help="seed of the data set")
    p.add_argument("--limit", type=int, default=None, help="mnist, fashion, cifar10: samples kept per split")
    p.add_argument("--eps", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1], help="target errors > 0")
    p.add_argument("--k", type=int, default=5, help="neighbours of the intrinsic-dimension estimator")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples for m's interval")
    p.add_argument("--delta-quantile", type=float, default=None,
                   help="robust delta: this quantile of the distances to the nearest other-class point "
                        "(default: the exact minimum)")
    p.add_argument("--paper-table", action="store_true", help="the paper's table (MNIST, SVHN, CIFAR10, ImageNet)")
    p.add_argument("--key", type=int, default=0, help="bootstrap seed")
    p.add_argument("--out", default="task_difficulty.nc", help="netCDF results file (written atomically)")
    p.add_argument("--quiet", action="store_true", help="no table")
    add_overwrite_option(p)
    add_device_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """Compute, save and print; returns the exit status."""
    from jaxbias import io
    from jaxbias.commands.train import parse_dataset
    from jaxbias.experiments.task_difficulty import paper_table, task_difficulty

    io.check_writable(args.out, overwrite=args.overwrite)
    if args.paper_table:
        ds = paper_table()
        io.save(ds, args.out, overwrite=True)  # checked above
        if not args.quiet:
            print("jaxbias task-difficulty: Boopathy et al. (ICML 2023) table from the paper's parameters")
            print(f"  {'dataset':>9s} {'n':>8s} {'m':>3s} {'R':>7s} {'delta':>6s} {'eps':>6s} {'log10 bits':>10s}")
            for name in ds["dataset"].values:
                r = ds.sel(dataset=name)
                print(f"  {name:>9s} {int(r['n']):8d} {int(r['m']):3d} {float(r['radius']):7.2f} "
                      f"{float(r['delta']):6.3f} {float(r['eps']):6.3g} {float(r['log10_bits']):10.2f}")
            print(f"  -> {args.out}")
        return 0
    data = parse_dataset(args.dataset, key=args.data_key, limit=args.limit)
    ds = task_difficulty(data, eps=args.eps, k=args.k, n_boot=args.n_boot, key=args.key,
                         delta_quantile=args.delta_quantile)
    ds.attrs["command"] = " ".join(f"{k}={v}" for k, v in sorted(vars(args).items()) if k != "run")
    io.save(ds, pathlib.Path(args.out), overwrite=True)  # checked above
    if not args.quiet:
        print(f"jaxbias task-difficulty: {data.name}, n={int(ds['n'])}, {int(ds['n_classes'])} classes")
        print(f"  m = {float(ds['m']):.2f} [{float(ds['m_low']):.2f}, {float(ds['m_high']):.2f}] (k={args.k}), "
              f"delta = {float(ds['delta']):.4g}, R = {float(ds['radius']):.4g}")
        print(f"  {'eps':>8s} {'log10 bits':>10s} {'interval':>17s}")
        for i, e in enumerate(ds["eps"].values):
            print(f"  {e:8.3g} {float(ds['log10_bits'][i]):10.3f} [{float(ds['log10_bits_low'][i]):7.3f}, "
                  f"{float(ds['log10_bits_high'][i]):7.3f}]")
        print(f"  -> {args.out}")
    return 0
