"""``jaxbias check``: run a named theory check (prediction against Monte Carlo) and print its verdict.

    jaxbias check --list
    jaxbias check finite-width --activation relu --width 32 --depths 1 2 3 --n 20000 --out check.nc
    jaxbias check ntk-fluctuations --width 16 --depths 2 4 8 --n 3000

Exit status 0 when the prediction is consistent with the networks at the stated confidence,
1 when it is rejected, 2 on bad input.
"""

from __future__ import annotations

import argparse

from jaxbias.commands.common import add_device_options

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``check`` subcommand to the subparsers ``sub``."""
    s = sub.add_parser(
        "check",
        help="check a theory prediction against random networks (--list for the catalogue)",
        description="Run a named theory check: the prediction, a Monte Carlo estimate over n random networks "
                    "with its confidence interval, and a verdict at the stated confidence. Options left unset "
                    "take the check's defaults (shown by --list). ntk-fluctuations compares the diagonal NTK of "
                    "bias-free ReLU nets (one output) at --width and twice it with its exact mean and "
                    "E[T^2]/E[T]^2 (jaxbias.theory.relu_ntk_moments); it takes --weight-var, --width, --depths, --n, "
                    "--confidence, --key.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("name", nargs="?", default=None, help="check name (see --list)")
    s.add_argument("--list", action="store_true", help="list the checks and their default options")
    s.add_argument("--activation", default=None, help="activation name")
    s.add_argument("--weight-var", type=float, default=None, help="C_W (default: the check's, or critical)")
    s.add_argument("--bias-var", type=float, default=None, help="C_b")
    s.add_argument("--width", type=int, default=None, help="hidden width (ntk-fluctuations: also twice this width)")
    s.add_argument("--depths", type=int, nargs="+", default=None, help="numbers of hidden layers to check")
    s.add_argument("--weight-law", default=None, help="weight law (normal, orthogonal, 'sparse(p)', ...)")
    s.add_argument("--n", type=int, default=None, help="number of networks per depth")
    s.add_argument("--out-dim", type=int, default=None, help="output units per network")
    s.add_argument("--confidence", type=float, default=None, help="confidence of the verdict, e.g. 0.99")
    s.add_argument("--key", type=int, default=None, help="random seed")
    s.add_argument("--out", default=None, help="netCDF file for the result table (written atomically)")
    s.add_argument("--quiet", action="store_true", help="print only the verdict line")
    add_device_options(s)
    s.set_defaults(run=run)


def _fmt(v) -> str:
    return f"{v:.4g}" if v == v else "-"


def run(args) -> int:
    """Run one check (or list them); returns the exit status."""
    from jaxbias.experiments.catalogue import CATALOGUE, run_check, to_dataset

    if args.list:
        for name, entry in sorted(CATALOGUE.items()):
            print(f"{name:18s} {entry.description}")
            d = entry.defaults
            print(f"{'':18s} defaults: activation={d.activation} weight_var={d.weight_var or 'critical'} "
                  f"bias_var={d.bias_var} width={d.width} depths={list(d.depths)} n={d.n} "
                  f"weight_law={d.weight_law}")
        return 0
    if args.name is None:
        raise ValueError("check: expected a check name or --list")
    if args.n is not None and args.n < 2:
        raise ValueError(f"--n {args.n}: expected at least 2 networks")
    if args.out:
        from jaxbias.io import check_writable

        check_writable(args.out)
    report = run_check(args.name, activation=args.activation, weight_var=args.weight_var, bias_var=args.bias_var,
                       width=args.width, depths=tuple(args.depths) if args.depths else None,
                       weight_law=args.weight_law, out=args.out_dim, n=args.n, key=args.key,
                       confidence=args.confidence)
    ds = to_dataset(report)
    if args.out:
        from jaxbias.io import save

        save(ds, args.out)
    if not args.quiet:
        o = report.options
        print(f"check {report.name}: {o.activation} C_W={o.weight_var:.4g} C_b={o.bias_var:.4g} "
              f"width={o.width} law={o.weight_law} n={o.n} per depth")
        header = f"{'quantity':34s} {'component':10s} {'prediction':>11s} {'estimate':>11s} {'CI low':>10s} " \
                 f"{'CI high':>10s} {'z':>7s} {'ok':>3s}"
        print(header)
        print("-" * len(header))
        for i in range(ds.sizes["row"]):
            r = {k: ds[k].values[i] for k in ds.data_vars}
            print(f"{str(r['check'])[:34]:34s} {str(r['component']):10s} {_fmt(r['prediction']):>11s} "
                  f"{_fmt(r['estimate']):>11s} {_fmt(r['ci_low']):>10s} {_fmt(r['ci_high']):>10s} "
                  f"{_fmt(r['z']):>7s} {'yes' if r['passed'] else 'NO':>3s}")
    verdict = "consistent" if report.passed else "REJECTED"
    print(f"{report.name}: {verdict} at confidence {report.confidence:g}" + (f" -> {args.out}" if args.out else ""))
    return 0 if report.passed else 1
