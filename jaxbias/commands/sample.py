"""``jaxbias sample``: sample random networks, save their outputs as netCDF, draw them."""

from __future__ import annotations

import argparse
import json
import pathlib

from jaxbias.commands.common import (
    INPUTS_HELP,
    add_device_options,
    add_net_options,
    add_run_options,
    build_net,
    cells,
    net_inputs,
    split_sweep,
)

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``sample`` subcommand to the subparsers ``sub``."""
    s = sub.add_parser(
        "sample",
        help="sample random networks, save their outputs, draw them",
        description="Sample n random networks on a set of inputs, save the outputs as netCDF and draw "
                    "them. Options marked (sweepable) accept several values: every combination is run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_net_options(s)
    s.add_argument("--n", type=int, default=1000, help="number of networks")
    s.add_argument("--inputs", default="grid:2:64", help=INPUTS_HELP)
    add_run_options(s, "results.nc")
    s.add_argument("--plot", default=None,
                   help="figure of the sampled functions (e.g. functions.png): images on 2-D grids, curves on 1-D "
                        "grids, otherwise the output distribution, sign balance and output over the inputs")
    add_device_options(s)
    s.set_defaults(run=run)


def _check_size(args, n_points: int, n_cells: int) -> None:
    """Refuses, before any sampling, outputs too large for memory (a sweep's cells are combined in memory)
    or for the disk, naming what to do instead."""
    import shutil

    from jaxbias.engine import check_result_fits, format_bytes

    nbytes = args.n * n_points * args.out_dim * 4 * n_cells  # float32 outputs
    what = (f"--n {args.n} on {n_points:,} points x {args.out_dim} output(s)"
            + (f" x {n_cells} cells" if n_cells > 1 else "") + ": the outputs")
    check_result_fits(nbytes, what,
                      "sample fewer networks (--n) or fewer points, or measure each network instead of storing its "
                      "outputs: jaxbias redshift (complexity) or boolean-prior (function counts), or in Python "
                      "jb.reduce(net, x, n=..., stat=...) for a few numbers per network and jb.summarize(..., "
                      "summary=jb.summaries.moments()) for statistics in memory bounded by one chunk")
    parent = pathlib.Path(args.out).expanduser().resolve().parent
    free = shutil.disk_usage(parent).free
    if nbytes > free:
        raise ValueError(f"{what} would take {format_bytes(nbytes)} on disk, more than the {format_bytes(free)} free "
                         f"in '{parent}': sample fewer networks (--n) or write --out elsewhere")


def run(args) -> int:
    """Sample, save, plot; returns the exit status."""
    import jax

    import jaxbias as jb
    from jaxbias.commands.common import check_outputs
    from jaxbias.io import config_of, result_attrs, to_json
    from jaxbias.plot import plot_functions
    from jaxbias.results import inputs_dataset

    if args.n <= 0:
        raise ValueError(f"--n {args.n}: expected a positive number of networks")
    writer = jax.process_index() == 0
    if writer:
        check_outputs(args, args.out, args.plot)
    x, meta = jb.inputs.parse_inputs(args.inputs, key=args.key)
    grid_shape = meta.get("grid_shape")
    x_net = net_inputs(args, x)
    swept, fixed = split_sweep(args)
    for cell in cells(swept, fixed):  # build every net and check it takes the inputs before any sampling
        build_net(args, cell).init(jax.random.key(0), x_net[:1])
    _check_size(args, x.shape[0], len(list(cells(swept, fixed))))
    run_config = dict(n=args.n, inputs=args.inputs, key=args.key, chunk_size=args.chunk_size,
               memory_budget=args.memory_budget)
    meta_json = {k: v for k, v in meta.items() if k != "labels"}
    progress = False if args.quiet else None

    def cell_dataset(cell: dict):
        net = build_net(args, {**fixed, **cell})
        y = jb.sample(net, x_net, n=args.n, key=args.key, chunk_size=args.chunk_size,
                      memory_budget=args.memory_budget, progress=progress)
        config = {"net": net, "run": run_config, "inputs": meta_json}
        return jb.outputs_dataset(y, x, config, args.key, grid_shape=grid_shape)

    if not swept:
        config = {"net": build_net(args, fixed), "run": run_config, "inputs": meta_json}
        if args.resume and pathlib.Path(args.out).exists() and config_of(jb.load(args.out)) == json.loads(to_json(config)):
            ds = jb.load(args.out)  # --resume: this exact run already finished
        else:
            ds = cell_dataset({})
            if writer:
                jb.save(ds, args.out, overwrite=True)  # refused above unless --overwrite
    else:
        config = {"net": {"arch": args.arch, **fixed, "swept": swept}, "run": run_config, "inputs": meta_json}
        attrs = result_attrs(config, args.key)
        if grid_shape is not None:
            attrs["grid_shape"] = list(grid_shape)
        # The inputs are the same in every cell: stored once, not along the swept dims.
        def sweep_cell(cell: dict):  # each cell stores its spec: jb.nets.from_config(ds.sel(...)) rebuilds it
            net_spec = to_json(build_net(args, {**fixed, **cell}))
            return cell_dataset(cell).drop_vars("x").assign(net_spec=((), net_spec))

        ds = jb.run_sweep(swept, sweep_cell, args.out, resume=args.resume,
                          attrs=attrs, progress=not args.quiet, shared=inputs_dataset(x), overwrite=args.overwrite)
    if writer and args.plot:
        plot_functions(ds, args.plot)
    if writer and not args.quiet:
        y = ds["outputs"]
        print(f"jaxbias: {args.n} networks x {y.sizes['point']} points"
              + (f" x {len(list(cells(swept, fixed)))} cells" if swept else "")
              + f" -> {args.out}" + (f", {args.plot}" if args.plot else ""))
        print(f"  output mean {float(y.mean()):.4g}, std {float(y.std()):.4g}")
    return 0
