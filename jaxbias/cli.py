"""The ``jaxbias`` command.

    jaxbias sample --arch mlp --width 64 --depth 4 --activation tanh --n 1000 \\
        --inputs grid:2:64 --out results.nc --plot functions.png

Options that take several values (``--depth 2 4 8 --activation relu tanh``) run a sweep over
their Cartesian product: each finished cell is saved as it completes, ``--resume`` continues a
killed sweep, and the result has one dimension per swept option. Bad input gives a one-line
error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Sequence

__all__ = ["main"]

# option name -> (type, default, help); each may be given several values (a sweep)
_NET_OPTIONS = {
    "width": (int, [64], "hidden width"),
    "depth": (int, [4], "number of hidden layers"),
    "activation": (str, ["tanh"], "activation name, e.g. relu, tanh, gelu, 'leaky_relu(0.1)', 'snake(2)'"),
    "weight_var": (float, [1.0], "C_W: weights have variance C_W / fan_in"),
    "bias_var": (float, [0.0], "C_b: biases have variance C_b"),
    "weight_law": (str, ["normal"], "normal, truncated_normal, uniform, orthogonal, 'sparse(p)', 'low_rank(r)', "
                                     "'absolute(a)' (weights and biases U(-a, a))"),
    "parameterization": (str, ["standard"], "standard or ntk"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxbias",
        description="Sample random neural networks and measure the functions they compute.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "sample",
        help="sample random networks, save their outputs, draw them",
        description="Sample n random networks on a set of inputs, save the outputs as netCDF and draw "
                    "them. Options marked (sweepable) accept several values: every combination is run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--arch", default="mlp", choices=["mlp", "resnet"],
                   help="architecture (resnet: dense residual blocks of two layers, --depth blocks)")
    for name, (typ, default, help_) in _NET_OPTIONS.items():
        s.add_argument(f"--{name.replace('_', '-')}", dest=name, type=typ, nargs="+", default=default,
                       help=f"{help_} (sweepable)")
    s.add_argument("--out-dim", type=int, default=1, help="number of output units")
    s.add_argument("--no-bias", action="store_true", help="layers without biases")
    s.add_argument("--residual", action="store_true", help="MLP: skip connections around hidden layers 2..depth")
    s.add_argument("--layer-norm", choices=["pre", "post"], default=None,
                   help="layer norm before (pre) or after (post) the activation")
    s.add_argument("--pooling", choices=["max", "avg"], default=None, help="1-D pooling over hidden units (MLP)")
    s.add_argument("--pool-size", type=int, default=2, help="pooling window")
    s.add_argument("--n", type=int, default=1000, help="number of networks")
    s.add_argument("--inputs", default="grid:2:64",
                   help="grid:D:R, sphere:D:N, hypercube:N[:pm1], blobs:K:D:N, digits[:0,1]")
    s.add_argument("--key", type=int, default=0, help="random seed; network i uses fold_in(key, i)")
    s.add_argument("--out", default="results.nc", help="netCDF results file (written atomically)")
    s.add_argument("--plot", default=None, help="image of the first sampled functions (e.g. functions.png)")
    s.add_argument("--resume", action="store_true", help="continue a killed sweep (finished cells are kept)")
    s.add_argument("--chunk-size", type=int, default=None, help="networks per compiled call (default: from memory)")
    s.add_argument("--memory-budget", default=None, help="peak bytes per chunk, e.g. 2GB (default: from the device)")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    _distributed_options(s)

    i = sub.add_parser("info", help="versions and devices")
    _distributed_options(i)
    return parser


def _distributed_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("multi-host (one process per host, same command on each)")
    g.add_argument("--coordinator", default=None, help="address HOST:PORT of process 0 (jax.distributed)")
    g.add_argument("--num-processes", type=int, default=None, help="number of processes")
    g.add_argument("--process-id", type=int, default=None, help="this process's index")


def _initialize_distributed(args) -> None:
    if args.coordinator is None and args.num_processes is None and args.process_id is None:
        return
    import jax

    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)


def _build_net(args, cell: dict):
    import jaxbias as jb

    common = dict(
        activation=cell["activation"], out=args.out_dim, weight_var=cell["weight_var"], bias_var=cell["bias_var"],
        bias=not args.no_bias, parameterization=cell["parameterization"], weight_law=cell["weight_law"],
    )
    if args.arch == "mlp":
        return jb.nets.mlp(cell["width"], cell["depth"], residual=args.residual,
                           layer_norm_position=args.layer_norm, pooling=args.pooling, pool_size=args.pool_size,
                           **common)
    return jb.nets.resnet(cell["width"], cell["depth"], normalization="layer" if args.layer_norm else None,
                          norm_position=args.layer_norm or "pre", **common)


def _sample(args) -> int:
    import jax

    import jaxbias as jb
    from jaxbias.io import check_writable, config_of, result_attrs, to_json
    from jaxbias.plot import plot_functions
    from jaxbias.results import inputs_dataset

    if args.n <= 0:
        raise ValueError(f"--n {args.n}: expected a positive number of networks")
    writer = jax.process_index() == 0
    if writer:
        check_writable(args.out)
        if args.plot:
            check_writable(args.plot)
    x, meta = jb.inputs.parse_inputs(args.inputs, key=args.key)
    grid_shape = meta.get("grid_shape")
    swept = {k: getattr(args, k) for k in _NET_OPTIONS if len(getattr(args, k)) > 1}
    fixed = {k: getattr(args, k)[0] for k in _NET_OPTIONS if len(getattr(args, k)) == 1}
    for name, values in swept.items():
        if len(set(values)) != len(values):
            raise ValueError(f"--{name.replace('_', '-')} {' '.join(map(str, values))}: values repeat")
    for cell in _cells(swept, fixed):  # build every net first: bad options fail before any sampling
        _build_net(args, cell)
    run = dict(n=args.n, inputs=args.inputs, key=args.key, chunk_size=args.chunk_size,
               memory_budget=args.memory_budget)
    meta_json = {k: v for k, v in meta.items() if k != "labels"}
    progress = False if args.quiet else None

    def cell_dataset(cell: dict):
        net = _build_net(args, {**fixed, **cell})
        y = jb.sample(net, x, args.n, key=args.key, chunk_size=args.chunk_size,
                      memory_budget=args.memory_budget, progress=progress)
        config = {"net": net.config, "run": run, "inputs": meta_json}
        return jb.outputs_dataset(y, x, config, args.key, grid_shape=grid_shape)

    if not swept:
        config = {"net": _build_net(args, fixed).config, "run": run, "inputs": meta_json}
        if args.resume and pathlib.Path(args.out).exists() and config_of(jb.load(args.out)) == json.loads(to_json(config)):
            ds = jb.load(args.out)  # --resume: this exact run already finished
        else:
            ds = cell_dataset({})
            if writer:
                jb.save(ds, args.out)
    else:
        config = {"net": {"arch": args.arch, **fixed, "swept": swept}, "run": run, "inputs": meta_json}
        attrs = result_attrs(config, args.key)
        if grid_shape is not None:
            attrs["grid_shape"] = list(grid_shape)
        # The inputs are the same in every cell: stored once, not along the swept dims.
        ds = jb.run_sweep(swept, lambda cell: cell_dataset(cell).drop_vars("x"), args.out, resume=args.resume,
                          attrs=attrs, progress=not args.quiet, shared=inputs_dataset(x))
    if writer and args.plot:
        plot_functions(ds, args.plot)
    if writer and not args.quiet:
        y = ds["outputs"]
        print(f"jaxbias: {args.n} networks x {y.sizes['point']} points"
              + (f" x {len(list(_cells(swept, fixed)))} cells" if swept else "")
              + f" -> {args.out}" + (f", {args.plot}" if args.plot else ""))
        print(f"  output mean {float(y.mean()):.4g}, std {float(y.std()):.4g}")
    return 0


def _cells(swept: dict, fixed: dict):
    import itertools

    names = list(swept)
    for values in itertools.product(*swept.values()):
        yield {**fixed, **dict(zip(names, values))}


def _info(args) -> int:
    import jax
    import jaxlib

    import jaxbias as jb

    print(json.dumps({
        "jaxbias": jb.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(), "process": jax.process_index(), "processes": jax.process_count(),
        "devices": [str(d) for d in jax.devices()],
    }, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxbias`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _initialize_distributed(args)
        if args.command == "sample":
            return _sample(args)
        return _info(args)
    except (ValueError, OSError, TypeError) as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"jaxbias: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxbias: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
