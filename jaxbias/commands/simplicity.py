"""``jaxbias simplicity``: train the same networks on a data set and on its mean and Gaussian clones."""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from jaxbias.commands.common import NET_OPTIONS, add_device_options, add_overwrite_option, add_net_options, build_net

__all__ = ["register", "run", "single_net_options", "parse_simplicity_dataset"]

DATASET_FORMS = ("digits[:0,1,...] (default); cumulants[:D[:NTRAIN[:NTEST[:NOISE]]]] (two classes with equal mean, "
                 "covariance and third cumulant, different fourth; default 4:2048:1024:0.1); gaussian-mixture, "
                 "mnist:DIR, fashion:DIR, cifar10:DIR as for `jaxbias train` (cifar10: add --channels 3 for the "
                 "authors' per-channel covariances)")


def single_net_options(parser, defaults: dict) -> None:
    """Network options of ``jaxbias sample`` with one value each (one architecture per run)."""
    add_net_options(parser, defaults={"out_dim": None, **defaults})
    for action in parser._actions:
        if action.dest in NET_OPTIONS:
            action.help = action.help.replace(" (sweepable)", "")
            action.nargs, action.default = None, action.default[0]
        if action.dest == "out_dim":
            action.help = "number of output units (default: what the data set needs)"


def register(sub) -> None:
    """Add the ``simplicity`` subcommand to the subparsers ``sub``."""
    p = sub.add_parser(
        "simplicity",
        help="distributional simplicity bias: the same networks trained on data and on its mean/Gaussian clones",
        description="Distributional simplicity bias (Refinetti, Ingrosso & Goldt, ICML 2023). Build clones of the "
                    "training split that keep only the per-class means (isotropic) or the per-class means and "
                    "covariances, train the same initial networks (same --key, same data order) on the data and on "
                    "each clone, and evaluate all of them on the real test data at log-spaced steps. Reports the "
                    "step at which each clone's curve separates from the data's (first step where the paired mean "
                    "accuracy gap exceeds K standard errors and --min-difference) with a bootstrap interval over "
                    "networks. Writes a netCDF file with dims (distribution, net, step) and, with --figures, "
                    "simplicity.png.",
    )
    single_net_options(p, {"width": [128], "depth": [2], "activation": ["relu"], "weight_var": [2.0]})
    d = p.add_argument_group("data and clones")
    d.add_argument("--dataset", default="digits", metavar="SPEC", help=DATASET_FORMS)
    d.add_argument("--data-key", type=int, default=0, help="seed of the data set (split, synthetic draws)")
    d.add_argument("--limit", type=int, default=None, help="mnist, fashion, cifar10: first LIMIT samples per split")
    d.add_argument("--clones", nargs="+", choices=["mean", "gaussian"], default=["mean", "gaussian"],
                   help="clones to train on besides the data")
    d.add_argument("--ridge", type=float, default=1e-3,
                   help="Gaussian clone: ridge * (average feature variance of the class) added to the covariance")
    d.add_argument("--channels", type=int, default=None,
                   help="images: covariance per channel over pixels, no cross-channel terms (flat inputs in h, w, c "
                        "order)")
    d.add_argument("--clamp", choices=["global", "feature", "none"], default="global",
                   help="clip clone values to the data's [min, max], each feature's, or not")
    d.add_argument("--clone-key", type=int, default=0, help="seed of the clones' draws")
    o = p.add_argument_group("training")
    o.add_argument("--optimizer", default="sgd", help="an optax optimizer name")
    o.add_argument("--lr", type=float, default=0.05, help="learning rate")
    o.add_argument("--momentum", type=float, default=None, help="momentum (optimizers that take it)")
    o.add_argument("--steps", type=int, default=2000, help="training steps")
    o.add_argument("--batch-size", type=int, default=32, help="minibatch size (0: full batch)")
    o.add_argument("--loss", choices=["mse", "cross_entropy"], default="mse", help="training loss")
    o.add_argument("--n", type=int, default=32, help="networks per distribution")
    o.add_argument("--key", type=int, default=0, help="seed of the networks and data orders (shared)")
    o.add_argument("--record", type=int, default=100, help="about this many log-spaced steps are measured")
    s = p.add_argument_group("separation")
    s.add_argument("--k", type=float, default=None,
                   help="standard errors (default: the two-sided Bonferroni bound at 5%% over the recorded steps, Student's t with n - 1 degrees of freedom)")
    s.add_argument("--min-difference", type=float, default=0.01, help="smallest accuracy gap that counts")
    s.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the networks")
    r = p.add_argument_group("files and run")
    r.add_argument("--out", default="simplicity.nc", help="netCDF results file (written atomically)")
    r.add_argument("--figures", default=None, metavar="DIR", help="write simplicity.png into DIR")
    r.add_argument("--chunk-size", type=int, default=None, help="networks per compiled call (default: from memory)")
    r.add_argument("--memory-budget", default=None, help="peak bytes per chunk, e.g. 2GB")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_option(p)
    add_device_options(p)
    p.set_defaults(run=run)


def parse_simplicity_dataset(spec: str, *, key: int = 0, limit: int | None = None):
    """The data set of ``--dataset``: ``cumulants[...]`` here, the rest as :func:`jaxbias.commands.train.parse_dataset`."""
    from jaxbias.commands.train import parse_dataset
    from jaxbias.experiments.dynamics.simplicity import cumulant_task

    kind, _, rest = spec.partition(":")
    if kind != "cumulants":
        data = parse_dataset(spec, key=key, limit=limit)
        if data.task != "classification":
            raise ValueError(f"--dataset {spec}: clones are per class; expected a classification data set")
        return data
    parts = rest.split(":") if rest else []
    if len(parts) > 4:
        raise ValueError(f"--dataset {spec}: expected cumulants[:D[:NTRAIN[:NTEST[:NOISE]]]]")
    values = [4, 2048, 1024, 0.1]
    for i, text in enumerate(parts):
        if text:
            try:
                values[i] = float(text) if i == 3 else int(text)
            except ValueError:
                raise ValueError(f"--dataset {spec}: field {i + 1} ({text!r}) is not a number") from None
    return cumulant_task(dim=values[0], n_train=values[1], n_test=values[2], noise=values[3], key=key)


def run(args) -> int:
    """Train, save, draw, summarise; returns the exit status."""
    import json

    import jax

    import jaxbias as jb
    from jaxbias.engine import RunOptions
    from jaxbias.experiments.dynamics.simplicity import simplicity
    from jaxbias.io import check_writable
    from jaxbias.results import to_json
    from jaxbias.training import Optimizer

    for name in ("n", "steps", "record", "chunk_size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value}: expected an integer >= 1")
    if args.n < 2:
        raise ValueError(f"--n {args.n}: the separation needs at least 2 networks")
    writer = jax.process_index() == 0
    figures = pathlib.Path(args.figures).expanduser() if args.figures is not None else None
    if writer:
        check_writable(args.out, overwrite=args.overwrite)
        if figures is not None:
            if figures.exists() and not figures.is_dir():
                raise NotADirectoryError(f"--figures {args.figures}: exists and is not a directory")
            figures.mkdir(parents=True, exist_ok=True)
    data = parse_simplicity_dataset(args.dataset, key=args.data_key, limit=args.limit)
    if args.out_dim is not None and args.out_dim != data.out_dim:
        raise ValueError(f"--out-dim {args.out_dim}: the data set {data.name} needs {data.out_dim} outputs")
    net = build_net(argparse.Namespace(**{**vars(args), "out_dim": data.out_dim}),
                    {name: getattr(args, name) for name in NET_OPTIONS})
    hyper = {"learning_rate": args.lr}
    if args.momentum is not None:
        hyper["momentum"] = args.momentum
    batch = None if args.batch_size in (0, None) or args.batch_size >= data.n_train else args.batch_size
    options = RunOptions(chunk_size=args.chunk_size, memory_budget=args.memory_budget,
                         progress=writer and not args.quiet)
    start = time.perf_counter()
    ds = simplicity(data, net, Optimizer(args.optimizer, **hyper), n=args.n, steps=args.steps, key=args.key,
                    clones=tuple(dict.fromkeys(args.clones)), loss=args.loss, batch_size=batch, record=args.record,
                    ridge=args.ridge, channels=args.channels, clamp=args.clamp, clone_key=args.clone_key, k=args.k,
                    min_difference=args.min_difference, n_boot=args.n_boot, options=options)
    seconds = time.perf_counter() - start
    config = json.loads(ds.attrs["config"])
    config["command"] = {"command": "jaxbias simplicity", "dataset": args.dataset, "data_key": args.data_key,
                         "limit": args.limit}
    ds.attrs["config"] = to_json(config)
    written = []
    if writer:
        jb.save(ds, args.out, overwrite=True)  # checked before training
        if figures is not None:
            from jaxbias.plot_dynamics.simplicity import plot_simplicity

            written.append(plot_simplicity(ds, figures / "simplicity.png"))
    if writer and not args.quiet:
        trained = ds.sizes["distribution"] * ds.sizes["net"] * int(ds["step"].values[-1])
        print(f"jaxbias simplicity: {ds.sizes['net']} networks x {ds.sizes['distribution']} distributions x "
              f"{int(ds['step'].values[-1])} steps on {data.name} in {seconds:.1f} s ({trained / seconds:.3g} "
              "network-steps/s) -> " + ", ".join(str(p) for p in [args.out, *written]))
        final = ds["test_accuracy"].isel(step=-1).median("net")
        for name in ds["distribution"].values:
            print(f"  trained on {name}: median real-test accuracy at the end {float(final.sel(distribution=name)):.3f}")
        for kind in ds["clone"].values:
            s = float(ds["separation_step"].sel(clone=kind))
            low, high = float(ds["separation_low"].sel(clone=kind)), float(ds["separation_high"].sel(clone=kind))
            text = f"step {s:g} (95% bootstrap [{low:g}, {high:g}])" if np.isfinite(s) else "not within the run"
            print(f"  data and {kind} clone separate at {text}")
    return 0
