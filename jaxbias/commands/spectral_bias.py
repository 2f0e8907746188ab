"""``jaxbias spectral-bias``: fit a sum of sinusoids with many networks per width, beside the NTK prediction."""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from jaxbias.commands.common import NET_OPTIONS, add_device_options, add_overwrite_option, build_net
from jaxbias.commands.simplicity import single_net_options

__all__ = ["register", "run", "parse_frequencies"]


def register(sub) -> None:
    """Add the ``spectral-bias`` subcommand to the subparsers ``sub``."""
    p = sub.add_parser(
        "spectral-bias",
        help="spectral bias: residual Fourier amplitudes over training against the infinite-width NTK prediction",
        description="Spectral bias (Rahaman et al., ICML 2019). Fit y(x) = sum_j sin(pi <k_j, x> + phi_j) on a "
                    "periodic grid over [-1, 1)^D (D = 1 or 2) by full-batch gradient descent on MSE with N networks "
                    "per width; record the residual's DFT amplitude at each k_j (normalised by the target's) at "
                    "log-spaced steps, and the step at which each frequency is learned. Beside it the prediction of "
                    "the infinite-width NTK of the same MLP: the mean residual -(I - eta Theta / P)^t y. Writes a "
                    "netCDF file and, with --figures, spectral_bias.png.",
    )
    single_net_options(p, {"width": [256], "depth": [1], "activation": ["relu"], "weight_var": [2.0],
                           "bias_var": [0.1], "parameterization": ["ntk"]})
    t = p.add_argument_group("target")
    t.add_argument("--frequencies", nargs="+", default=["1", "2", "4", "8"], metavar="K",
                   help="integer frequencies k_1 < ... (1-D) or KX,KY wave vectors (2-D)")
    t.add_argument("--dim", type=int, choices=[1, 2], default=1, help="input dimension of the target")
    t.add_argument("--points", type=int, default=64, help="grid points per axis (training set)")
    t.add_argument("--embedding", choices=["periodic", "none"], default="periodic",
                   help="periodic: each axis as (cos pi x, sin pi x), so the NTK's eigenvectors are Fourier modes; "
                        "none: raw x")
    t.add_argument("--target-key", type=int, default=0, help="seed of the sinusoids' phases")
    o = p.add_argument_group("training")
    o.add_argument("--widths", type=int, nargs="+", default=None,
                   help="hidden widths to compare (default: --width alone)")
    o.add_argument("--n", type=int, default=16, help="networks per width")
    o.add_argument("--steps", type=int, default=None,
                   help="gradient-descent steps (default: 1.5 x the step at which the NTK predicts every frequency "
                        "learned)")
    o.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: --lr-scale * P / lambda_max of the infinite-width NTK)")
    o.add_argument("--lr-scale", type=float, default=1.0, help="eta lambda_max / P when --lr is not given")
    o.add_argument("--record", type=int, default=100, help="about this many log-spaced steps are measured")
    o.add_argument("--threshold", type=float, default=0.1, help="a frequency is learned once its residual stays below")
    o.add_argument("--key", type=int, default=0, help="seed of the networks")
    r = p.add_argument_group("files and run")
    r.add_argument("--out", default="spectral_bias.nc", help="netCDF results file (written atomically)")
    r.add_argument("--figures", default=None, metavar="DIR", help="write spectral_bias.png into DIR")
    r.add_argument("--chunk-size", type=int, default=None, help="networks per compiled call (default: from memory)")
    r.add_argument("--memory-budget", default=None, help="peak bytes per chunk, e.g. 2GB")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_option(p)
    add_device_options(p)
    p.set_defaults(run=run)


def parse_frequencies(values, dim: int) -> list:
    """``--frequencies`` as ints (``dim`` 1) or integer pairs ``KX,KY`` (``dim`` 2)."""
    out = []
    for text in values:
        parts = text.split(",")
        if len(parts) != dim:
            raise ValueError(f"--frequencies {text}: expected {'an integer' if dim == 1 else 'KX,KY'} for --dim {dim}")
        try:
            ints = [int(v) for v in parts]
        except ValueError:
            raise ValueError(f"--frequencies {text}: expected integers") from None
        out.append(ints[0] if dim == 1 else tuple(ints))
    return out


def run(args) -> int:
    """Train, save, draw, summarise; returns the exit status."""
    import json

    import jax

    import jaxbias as jb
    from jaxbias.engine import RunOptions
    from jaxbias.experiments.dynamics.spectral_bias import spectral_bias
    from jaxbias.io import check_writable
    from jaxbias.results import to_json

    for name in ("n", "steps", "record", "chunk_size", "points"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value}: expected an integer >= 1")
    if args.out_dim not in (None, 1):
        raise ValueError(f"--out-dim {args.out_dim}: the target is scalar (one output)")
    writer = jax.process_index() == 0
    figures = pathlib.Path(args.figures).expanduser() if args.figures is not None else None
    if writer:
        check_writable(args.out, overwrite=args.overwrite)
        if figures is not None:
            if figures.exists() and not figures.is_dir():
                raise NotADirectoryError(f"--figures {args.figures}: exists and is not a directory")
            figures.mkdir(parents=True, exist_ok=True)
    if args.arch != "mlp":
        raise ValueError(f"--arch {args.arch}: the NTK prediction needs an MLP (--arch mlp)")
    net = build_net(argparse.Namespace(**{**vars(args), "out_dim": 1}), {name: getattr(args, name) for name in NET_OPTIONS})
    frequencies = parse_frequencies(args.frequencies, args.dim)
    options = RunOptions(chunk_size=args.chunk_size, memory_budget=args.memory_budget,
                         progress=writer and not args.quiet)
    start = time.perf_counter()
    ds = spectral_bias(net, frequencies=frequencies, dim=args.dim, points=args.points, embedding=args.embedding,
                       widths=args.widths, n=args.n, steps=args.steps, learning_rate=args.lr, lr_scale=args.lr_scale,
                       record=args.record, threshold=args.threshold, key=args.key, target_key=args.target_key,
                       options=options)
    seconds = time.perf_counter() - start
    config = json.loads(ds.attrs["config"])
    config["command"] = {"command": "jaxbias spectral-bias"}
    ds.attrs["config"] = to_json(config)
    written = []
    if writer:
        jb.save(ds, args.out, overwrite=True)  # checked before training
        if figures is not None:
            from jaxbias.plot_dynamics.spectral_bias import plot_spectral_bias

            written.append(plot_spectral_bias(ds, figures / "spectral_bias.png"))
    if writer and not args.quiet:
        steps = config["steps"]
        trained = ds.sizes["width"] * ds.sizes["net"] * steps
        print(f"jaxbias spectral-bias: {ds.sizes['net']} networks x {ds.sizes['width']} widths x {steps} steps in "
              f"{seconds:.1f} s ({trained / seconds:.3g} network-steps/s, kernels included) -> "
              + ", ".join(str(p) for p in [args.out, *written]))
        freqs = ", ".join(f"{f:g}" for f in ds["frequency"].values)
        print(f"  frequencies |k|: {freqs}")
        fmt = lambda a: ", ".join("-" if not np.isfinite(v) else f"{v:g}" for v in a)  # noqa: E731
        print(f"  NTK prediction: learned at steps {fmt(ds['ntk_learned_step'].isel(width=-1).values)}")
        for w in ds["width"].values:
            cell = ds.sel(width=w)
            print(f"  width {int(w)}: learned at steps {fmt(cell['learned_step'].values)}; |measured mean - NTK| "
                  f"<= {float(cell['ntk_deviation']):.3g} (3 s.e. {float(cell['ntk_mc_error']):.3g}, beyond it "
                  f"{max(float(cell['ntk_excess']), 0.0):.3g})")
    return 0
