"""``jaxbias ntk``: NTK and its spectrum at finite width (mean and band over inits) and infinite width."""

from __future__ import annotations

import argparse

from jaxbias.commands.common import add_overwrite_option, check_outputs
from jaxbias.commands.common import INPUTS_HELP, add_device_options, add_net_options, build_net, split_sweep

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``ntk`` subcommand to the subparsers ``sub``."""
    s = sub.add_parser(
        "ntk",
        help="empirical NTK over inits and its spectrum, next to the infinite-width kernels",
        description="Compute the empirical NTK of n random networks on an input set (mean and spread), the "
                    "eigenvalues of each network's NTK (mean and 5-95 % band), and for MLPs the infinite-width "
                    "NNGP and NTK with their spectra; save a netCDF Dataset and a log-log eigenvalue plot. "
                    "The default parameterization here is ntk (weights N(0, 1) scaled in the forward pass): its "
                    "NTK has a width-independent infinite-width limit that the finite-width mean converges to. "
                    "With --parameterization standard the same networks' NTK grows linearly with the width, and "
                    "the infinite-width kernel shown is its leading term at the given widths.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_net_options(s, defaults={"activation": ["relu"], "width": [256], "depth": [3],
                                  "parameterization": ["ntk"]})
    s.add_argument("--n", type=int, default=16, help="number of random networks")
    s.add_argument("--inputs", default="sphere:3:128", help=INPUTS_HELP)
    s.add_argument("--method", default="auto", choices=["auto", "jacobian", "ntvp", "structured"],
                   help="empirical NTK method")
    s.add_argument("--key", type=int, default=0, help="random seed; network i uses fold_in(key, i)")
    s.add_argument("--out", default="ntk.nc", help="netCDF results file (written atomically)")
    s.add_argument("--plot", default=None, help="log-log eigenvalue plot (e.g. ntk.png)")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_option(s)
    add_device_options(s)
    s.set_defaults(run=run)


def run(args) -> int:
    """Compute, save, plot; returns the exit status."""
    import jaxbias as jb
    from jaxbias.experiments.ntk import ntk_spectrum
    from jaxbias.plot import plot_ntk_spectrum

    if args.n < 2:
        raise ValueError(f"--n {args.n}: expected at least 2 networks (the spread needs two)")
    swept, fixed = split_sweep(args)
    if swept:
        raise ValueError(f"--{next(iter(swept)).replace('_', '-')}: jaxbias ntk takes one value per option")
    if args.arch != "mlp":
        raise ValueError(f"--arch {args.arch}: jaxbias ntk supports mlp (infinite-width kernels are for MLPs)")
    check_outputs(args, args.out, args.plot)
    net = build_net(args, fixed)
    x, meta = jb.inputs.parse_inputs(args.inputs, key=args.key)
    meta = {k: v for k, v in meta.items() if k != "labels"}
    ds = ntk_spectrum(net, x, n=args.n, key=args.key, method=args.method,
                      config={"inputs": args.inputs, "inputs_meta": meta}, progress=False if args.quiet else None)
    jb.save(ds, args.out, overwrite=True)  # refused above unless --overwrite
    if args.plot:
        plot_ntk_spectrum(ds, args.plot)
    if not args.quiet:
        print(f"jaxbias: NTK of {args.n} networks on {ds.sizes['point']} points -> {args.out}"
              + (f", {args.plot}" if args.plot else ""))
        line = (f"  finite width: effective rank {ds.attrs['finite_effective_rank']:.3g}, "
                f"power-law exponent {ds.attrs.get('finite_power_law_exponent', float('nan')):.3g}")
        if "infinite_effective_rank" in ds.attrs:
            line += (f"; infinite width: effective rank {ds.attrs['infinite_effective_rank']:.3g}, "
                     f"relative distance of the mean NTK {ds.attrs['relative_distance_mean_to_infinite']:.3g}")
        print(line)
        for which in ("finite", "infinite"):
            rank = ds.attrs.get(f"{which}_numerical_rank")
            if rank is not None and int(rank) < ds.sizes["point"]:
                print(f"  warning: the {which}-width NTK is singular to working precision: numerical rank {int(rank)} "
                      f"of {ds.sizes['point']} (eigenvalues <= {float(ds.attrs[f'{which}_rounding_level']):.3g}); "
                      "condition number stored as inf")
    return 0
