"""``jaxbias boolean-prior``: the prior over Boolean functions of random networks, counted on device."""

from __future__ import annotations

import argparse
import pathlib

from jaxbias.commands.common import add_device_options, add_run_options

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``boolean-prior`` subcommand to the subparsers ``sub``."""
    b = sub.add_parser(
        "boolean-prior",
        help="prior over Boolean functions: sample networks on {0,1}^n, count distinct truth tables",
        description="Sample n random MLPs on all 2^n_inputs inputs of {0,1}^n_inputs, count how often each Boolean "
                    "function (truth table of f(x) > 0) occurs, streaming inside the compiled program, and report the "
                    "most frequent functions with probabilities and complexities (Valle-Perez et al., ICLR 2019). "
                    "Weights N(0, C_W/fan_in), biases N(0, bias_std^2).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    b.add_argument("--n", type=int, default=10**6, help="networks (per cell)")
    b.add_argument("--n-inputs", type=int, default=7, help="input bits (all 2^n_inputs inputs; n_inputs <= 20, "
                                                            "complexities for n_inputs <= 10)")
    b.add_argument("--width", type=int, default=40, help="hidden width")
    b.add_argument("--depth", type=int, default=2, help="hidden layers")
    b.add_argument("--activation", nargs="+", default=["relu"], help="activation (sweepable)")
    b.add_argument("--weight-var", type=float, nargs="+", default=[1.0], help="C_W (sweepable)")
    b.add_argument("--bias-std", type=float, nargs="+", default=[1.0], help="bias standard deviation (sweepable)")
    b.add_argument("--keep", type=int, default=2**17, help="most frequent functions kept in the file")
    b.add_argument("--top", type=int, default=10, help="functions printed")
    add_run_options(b, "boolean_prior.nc")
    b.add_argument("--plot", default=None, help="figure: rank-frequency and P(f) vs LZ (default: --out with .png)")
    b.add_argument("--no-plot", action="store_true", help="write no figure")
    add_device_options(b, cpu_devices="cores")
    b.set_defaults(run=run)


def run(args) -> int:
    """Sample, count, save, plot, print the top functions; returns the exit status."""
    import jax

    from jaxbias.experiments import boolean_prior
    from jaxbias.commands.common import check_outputs
    from jaxbias.measures import truth_table_hex
    from jaxbias.plot_complexity import plot_boolean_prior
    from jaxbias.summaries import unpack_bits

    if args.n <= 0:
        raise ValueError(f"--n {args.n}: expected a positive number of networks")
    if args.top < 0:
        raise ValueError(f"--top {args.top}: expected a number >= 0")
    writer = jax.process_index() == 0
    plot = None if args.no_plot else pathlib.Path(args.plot or pathlib.Path(args.out).with_suffix(".png"))
    if writer:
        check_outputs(args, args.out, plot)
    ds = boolean_prior(args.out, bias_stds=args.bias_std, weight_vars=args.weight_var, activations=args.activation,
                       n=args.n, n_inputs=args.n_inputs, width=args.width, depth=args.depth, keep=args.keep,
                       key=args.key, resume=args.resume, progress=None if not args.quiet else False,
                       chunk_size=args.chunk_size, memory_budget=args.memory_budget, overwrite=args.overwrite)
    if writer and plot is not None:
        plot_boolean_prior(ds, plot)
    if writer and not args.quiet:
        swept = [d for d in ds["probability"].dims if d != "function"]
        stacked = ds.stack(_cell=swept)
        for c in range(stacked.sizes["_cell"]):
            cell = stacked.isel(_cell=c)
            label = ", ".join(f"{d}={cell[d].item()}" for d in swept)
            print(f"jaxbias boolean-prior [{label}]: {args.n:,} networks {args.n_inputs} -> {args.width} x "
                  f"{args.depth} -> 1, {int(cell['n_distinct']):,} distinct functions, P(constant) = "
                  f"{float(cell['p_constant']):.4f}")
            print(f"  {'rank':>4s} {'P(f)':>9s} {'LZ':>6s} {'sens.':>6s} {'H':>5s}  truth table (hex, input 0 first)")
            for i in range(min(args.top, int(cell["n_distinct"]), cell.sizes["function"])):
                row = cell.isel(function=i)
                hex_table = (truth_table_hex(unpack_bits(row["table"].values, 2**args.n_inputs))
                             if ds.attrs.get("exact", 1) else "(hashed)")
                print(f"  {i + 1:4d} {float(row['probability']):9.2e} {float(row['lz_complexity']):6.1f} "
                      f"{float(row['sensitivity']):6.3f} {float(row['entropy']):5.3f}  {hex_table}")
        print("  -> " + ", ".join(str(p) for p in (args.out, plot) if p is not None))
    return 0
