"""``jaxbias check``: run a named theory check (prediction against Monte Carlo) and print its verdict.

    jaxbias check --list
    jaxbias check finite-width --activation relu --width 32 --depths 1 2 3 --n 20000 --out check.nc
    jaxbias check ntk-fluctuations --width 16 --depths 2 4 8 --n 3000

Exit status 0 when the prediction is consistent with the networks at the stated confidence,
1 when it is rejected, 2 on bad input, 3 when it is inconclusive: no row rejects the prediction but
the networks were too few to catch what the check is for (power below 0.8 against its alternative).
"""

from __future__ import annotations

import argparse

from jaxbias.commands.common import add_device_options, add_overwrite_option

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
    add_overwrite_option(s)
    add_device_options(s)
    s.set_defaults(run=run)


def _fmt(v, digits: int = 4, fixed: bool = False) -> str:
    if v != v:
        return "-"
    return f"{v:.{digits}f}" if fixed else f"{v:.{digits}g}"


def run(args) -> int:
    """Run one check (or list them); returns the exit status."""
    import warnings

    from jaxbias.experiments.catalogue import CATALOGUE, inconclusive_message, run_check, to_dataset
    from jaxbias.experiments.checks import DistributionResult

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
        from jaxbias.commands.common import check_outputs

        check_outputs(args, args.out)
    with warnings.catch_warnings():  # the verdict line below says it
        warnings.simplefilter("ignore", UserWarning)
        report = run_check(args.name, activation=args.activation, weight_var=args.weight_var,
                           bias_var=args.bias_var, width=args.width, depths=tuple(args.depths) if args.depths else None,
                           weight_law=args.weight_law, out=args.out_dim, n=args.n, key=args.key,
                           confidence=args.confidence)
    ds = to_dataset(report)
    if args.out:
        from jaxbias.io import save

        save(ds, args.out, overwrite=True)  # refused above unless --overwrite
    if not args.quiet:
        o = report.options
        print(f"check {report.name}: {o.activation} C_W={o.weight_var:.4g} C_b={o.bias_var:.4g} "
              f"width={o.width} law={o.weight_law} n={o.n} per depth")
        header = f"{'quantity':34s} {'component':10s} {'prediction':>10s} {'tolerance':>9s} {'estimate':>10s} " \
                 f"{'CI low':>9s} {'CI high':>9s} {'z':>7s} {'p':>8s} {'power':>5s} {'ok':>3s}"
        print(header)
        print("-" * len(header))
        marks = {"ok": "yes", "within tolerance": "tol", "rejected": "NO"}
        for i in range(ds.sizes["row"]):
            r = {k: ds[k].values[i] for k in ds.data_vars}
            print(f"{str(r['check'])[:34]:34s} {str(r['component']):10s} {_fmt(r['prediction']):>10s} "
                  f"{_fmt(r['tolerance']):>9s} {_fmt(r['estimate']):>10s} {_fmt(r['ci_low']):>9s} "
                  f"{_fmt(r['ci_high']):>9s} {_fmt(r['z']):>7s} {_fmt(r['p_value'], 2):>8s} "
                  f"{_fmt(r['power'], 2, fixed=True):>5s} {marks[str(r['status'])]:>3s}")
        alpha = 1.0 - report.confidence
        sizes = [1 if isinstance(r, DistributionResult) else int(r.prediction.size) for r in report.rows]
        factors = "/".join(str(len(sizes) * m) for m in dict.fromkeys(sizes))
        print(f"p: two-sided normal p-value of z (laws: Kolmogorov-Smirnov), Bonferroni-adjusted (multiplied by "
              f"{factors}: {len(sizes)} rows x the components of each row). ok 'yes': p >= {alpha:g}; 'tol': "
              f"p < {alpha:g} but the CI meets the band prediction +- tolerance; 'NO': rejected")
        reasons = dict.fromkeys((str(c), str(t)) for c, t in zip(ds["check"].values, ds["tolerance_reason"].values)
                                if str(t))
        for c, t in reasons:
            print(f"tolerance of {c}: {t}")
        alts = dict.fromkeys((str(c), str(a)) for c, a in zip(ds["check"].values, ds["alternative_label"].values)
                             if str(a))
        for c, a in alts:
            print(f"power of {c}: probability of rejecting the prediction were the truth {a}")
    verdict = {"consistent": "consistent", "rejected": "REJECTED", "inconclusive": "INCONCLUSIVE"}[report.verdict]
    print(f"{report.name}: {verdict} at confidence {report.confidence:g}" + (f" -> {args.out}" if args.out else ""))
    if report.verdict == "inconclusive":
        print(f"  {inconclusive_message(report)}")
    return {"consistent": 0, "rejected": 1, "inconclusive": 3}[report.verdict]
