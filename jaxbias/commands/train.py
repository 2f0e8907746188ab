"""``jaxbias train``: train n networks at once, measure them during training, save and draw the curves."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np

from jaxbias.commands.common import NET_OPTIONS, add_device_options, add_overwrite_option, add_net_options, build_net

__all__ = ["register", "run", "parse_dataset", "DATASET_FORMS"]

DATASET_FORMS = (
    "digits[:0,1,...] (the UCI 8x8 digits shipped with jaxbias, all classes or those listed); "
    "gaussian-mixture[:K[:D[:NTRAIN[:NTEST]]]] (K classes in R^D, default 2:2:512:512); "
    "teacher[:D[:NTRAIN[:NTEST]]] (regression on one random network of the student's architecture, default "
    "2:256:256); sinusoids[:D[:NTRAIN[:NTEST[:F1,F2,...]]]] (sum of plane waves, default 1:256:256:1,3); "
    "parity|majority|first-bit[:BITS[:01|pm1]] (Boolean function, half the hypercube held out, default 7:pm1); "
    "mnist:DIR, fashion:DIR, cifar10:DIR (files in DIR, flattened; see --limit)"
)

MEASURES = ("mean_frequency", "polynomial_order", "lz", "class_fractions", "outputs")


def register(sub) -> None:
    """Add the ``train`` subcommand to the subparsers ``sub``."""
    t = sub.add_parser(
        "train",
        help="train n networks at once and record losses, accuracies and measures during training",
        description="Train n networks of one architecture at once (network i starts as `jaxbias sample`'s "
                    "network i) on a data set, measuring them at log-spaced steps inside the compiled program: "
                    "train and test loss and accuracy, distance from initialisation, tangent-kernel motion "
                    "(--ntk-points) and measures of the function on a probe set (--measures). Progress is "
                    "checkpointed to --checkpoint; a killed run continues with --resume and writes the same file "
                    "as an uninterrupted one. Writes a netCDF file with dims (net, step) and, with --figures, "
                    "the learning curves (median, quartiles and 5-95% band across networks).",
    )
    add_net_options(t, defaults={"out_dim": None})
    for action in t._actions:  # one architecture per run: the shared network options take one value here
        if action.dest in NET_OPTIONS:
            action.help = action.help.replace(" (sweepable)", "")
            action.nargs, action.default = None, action.default[0]
        if action.dest == "out_dim":
            action.help = "number of output units (default: the data's classes or targets)"
    d = t.add_argument_group("data")
    d.add_argument("--dataset", default="digits", metavar="SPEC", help=DATASET_FORMS)
    d.add_argument("--data-key", type=int, default=0, help="seed of the data set (split, synthetic draws, teacher)")
    d.add_argument("--limit", type=int, default=None,
                   help="mnist, fashion, cifar10: keep only the first LIMIT samples of each split")
    o = t.add_argument_group("training")
    o.add_argument("--optimizer", default="sgd", help="an optax optimizer name: sgd, adam, adamw, rmsprop, ...")
    o.add_argument("--lr", type=float, default=0.1, help="learning rate")
    o.add_argument("--lr-sweep", type=float, nargs="+", default=None, metavar="LR",
                   help="several learning rates: the networks are split into as many equal blocks (network i "
                        "gets LR number i * len(LRs) // n), all trained in one run; replaces --lr")
    o.add_argument("--momentum", type=float, default=None, help="momentum (optimizers that take it, e.g. sgd)")
    o.add_argument("--weight-decay", type=float, default=None,
                   help="weight decay (optimizers that take it, e.g. adamw)")
    length = o.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="training steps (default 1000 when --epochs is "
                                                                "not given)")
    length.add_argument("--epochs", type=int, default=None, help="training epochs (n_train // batch size steps each)")
    o.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: full batch)")
    o.add_argument("--loss", choices=["mse", "cross_entropy"], default="mse",
                   help="mse: 0.5 * mean squared error (labels one-hot); cross_entropy: softmax, classification")
    o.add_argument("--data-order", choices=["per_net", "shared"], default="per_net",
                   help="minibatch order: each network its own, or the same for all")
    o.add_argument("--n", type=int, default=32, help="number of networks")
    o.add_argument("--key", type=int, default=0, help="random seed; network i starts from fold_in(key, i)")
    m = t.add_argument_group("measurements")
    m.add_argument("--record", type=int, nargs="+", default=[20], metavar="R",
                   help="one number: about R log-spaced steps to measure at (0, 1 and the last always); "
                        "several: exactly those steps")
    m.add_argument("--no-eval-train", action="store_true", help="measure loss and accuracy on the test set only")
    m.add_argument("--ntk-points", type=int, default=None,
                   help="tangent-kernel motion (distance, relative change, velocity, alignment) on the first "
                        "NTK_POINTS training points")
    m.add_argument("--measures", nargs="+", choices=list(MEASURES), default=None,
                   help="measures of each network's function on --probe: mean_frequency and polynomial_order "
                        "(output 0 on a grid probe), lz (output 0 binarised, in point order), class_fractions "
                        "(share of the probe points given to each class), outputs (the outputs themselves)")
    m.add_argument("--probe", default=None, metavar="SPEC",
                   help="probe points for --measures: test, train, or an inputs spec such as grid:2:32 (on "
                        "[-1, 1]^D; data sets are standardised, so the grid covers about one std) "
                        "(default: grid:D:32 for D <= 2 inputs, else test)")
    m.add_argument("--degree", type=int, default=8, help="Legendre degree per axis (polynomial_order)")
    r = t.add_argument_group("files and run")
    r.add_argument("--out", default="train.nc", help="netCDF results file (written atomically)")
    r.add_argument("--checkpoint", default=None,
                   help="checkpoint file, removed once --out is written (default: OUT.ckpt)")
    r.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="seconds between checkpoints within a chunk of networks (one is also written after "
                        "every chunk)")
    r.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint if there is one (without --resume an existing checkpoint "
                        "is an error)")
    r.add_argument("--figures", default=None, metavar="DIR",
                   help="write the figures curves.png (loss, accuracy) and measures.png (the other measurements) "
                        "into DIR (created if missing)")
    r.add_argument("--chunk-size", type=int, default=None, help="networks per compiled call (default: from memory)")
    r.add_argument("--memory-budget", default=None, help="peak bytes per chunk, e.g. 2GB (default: from the device)")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_option(t)
    add_device_options(t)
    t.set_defaults(run=run)


# ----------------------------------------------------------------------------------------------
# Data sets and probes from the command line
# ----------------------------------------------------------------------------------------------


def _ints(spec: str, parts: list[str], defaults: tuple[int, ...], names: tuple[str, ...]) -> list[int]:
    if len(parts) > len(defaults):
        raise ValueError(f"--dataset {spec}: too many fields; expected at most {':'.join(names)}")
    out = []
    for i, default in enumerate(defaults):
        text = parts[i] if i < len(parts) and parts[i] != "" else None
        if text is None:
            out.append(default)
            continue
        try:
            out.append(int(text))
        except ValueError:
            raise ValueError(f"--dataset {spec}: {names[i]}={text!r} is not an integer") from None
    return out


def parse_dataset(spec: str, *, key: int = 0, teacher_net=None, limit: int | None = None):
    """The :class:`jaxbias.datasets.Dataset` a ``--dataset`` string names (forms: :data:`DATASET_FORMS`).

    Args:
      spec: e.g. ``"digits"``, ``"gaussian-mixture:3:4:600:300"``, ``"parity:8"``, ``"mnist:~/data"``.
      key: seed of the data set.
      teacher_net: the network whose outputs are the targets of ``teacher``.
      limit: samples kept per split of the file data sets.

    Raises:
      ValueError: naming the spec and the accepted forms.
    """
    from jaxbias import datasets

    kind, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if kind in ("mnist", "fashion", "cifar10"):
        if not rest:
            raise ValueError(f"--dataset {spec}: expected {kind}:DIR, the directory holding the files")
        directory = os.path.expanduser(rest)
        if kind == "cifar10":
            return datasets.cifar10(directory, flatten=True, limit=limit)
        return datasets.mnist(directory, kind=kind, limit=limit)
    if limit is not None:
        raise ValueError(f"--limit {limit}: applies to mnist, fashion and cifar10 only, not --dataset {spec}")
    if kind == "digits":
        if not rest:
            return datasets.digits(key=key)
        try:
            classes = [int(c) for c in rest.split(",")]
        except ValueError:
            raise ValueError(f"--dataset {spec}: expected digits or digits:0,1,... (digits to keep)") from None
        return datasets.digits(classes=classes, key=key)
    if kind == "gaussian-mixture":
        k, dim, n_train, n_test = _ints(spec, parts, (2, 2, 512, 512), ("K", "D", "NTRAIN", "NTEST"))
        return datasets.gaussian_mixture(n_classes=k, dim=dim, n_train=n_train, n_test=n_test, key=key)
    if kind == "teacher":
        dim, n_train, n_test = _ints(spec, parts, (2, 256, 256), ("D", "NTRAIN", "NTEST"))
        return datasets.teacher(teacher_net, n_train=n_train, n_test=n_test, dim=dim, key=key)
    if kind == "sinusoids":
        frequencies = (1.0, 3.0)
        if len(parts) == 4:
            try:
                frequencies = tuple(float(f) for f in parts.pop().split(","))
            except ValueError:
                raise ValueError(f"--dataset {spec}: frequencies must be numbers separated by commas") from None
        dim, n_train, n_test = _ints(spec, parts, (1, 256, 256), ("D", "NTRAIN", "NTEST"))
        return datasets.sinusoids(frequencies=frequencies, dim=dim, n_train=n_train, n_test=n_test, key=key)
    if kind in ("parity", "majority", "first-bit"):
        values = "pm1"
        if len(parts) == 2:
            values = parts.pop()
        (bits,) = _ints(spec, parts, (7,), ("BITS",))
        return datasets.boolean(kind.replace("-", "_"), n_bits=bits, key=key, values=values)
    raise ValueError(f"--dataset {spec}: unknown data set; accepted forms: {DATASET_FORMS}")


def _probe(args, data):
    """``(probe points or None, grid shape or None, spec)`` for ``--measures``."""
    if not args.measures:
        if args.probe is not None:
            raise ValueError(f"--probe {args.probe}: give --measures to evaluate on it")
        return None, None, None
    spec = args.probe
    if spec is None:
        dim = data.input_shape[0] if len(data.input_shape) == 1 else None
        spec = f"grid:{dim}:{256 if dim == 1 else 32}" if dim in (1, 2) else "test"
    if spec in ("test", "train"):
        return (data.x_test if spec == "test" else data.x_train), None, spec
    from jaxbias.inputs import parse_inputs

    x, meta = parse_inputs(spec, key=args.data_key)
    if tuple(x.shape[1:]) != data.input_shape:
        raise ValueError(f"--probe {spec}: points of shape {tuple(x.shape[1:])}, but the data's inputs have shape "
                         f"{data.input_shape}")
    grid_shape = meta.get("grid_shape")
    return np.asarray(x), (tuple(grid_shape) if grid_shape is not None else None), spec


def _measures(args, grid_shape, spec) -> dict | None:
    """name -> measure of one network's probe outputs, for ``--measures``."""
    import jaxbias as jb

    if not args.measures:
        return None
    out = {}
    for name in dict.fromkeys(args.measures):
        if name in ("mean_frequency", "polynomial_order") and grid_shape is None:
            raise ValueError(f"--measures {name}: needs a grid probe such as --probe grid:2:32 (got --probe {spec})")
        if name == "mean_frequency":
            out[name] = jb.measures.MeanFrequency(shape=grid_shape)
        elif name == "polynomial_order":
            out[name] = jb.measures.PolynomialOrder(shape=grid_shape, degree=args.degree)
        elif name == "lz":
            out[name] = jb.measures.LZComplexity(levels=2)
        elif name == "class_fractions":
            out[name] = jb.measures.class_fractions
        else:
            out[name] = None
    return out


# ----------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------


def _check(args) -> None:
    for name in ("n", "steps", "batch_size", "ntk_points", "degree", "limit", "chunk_size"):
        value = getattr(args, name)
        minimum = 0 if name == "steps" else 1
        if value is not None and value < minimum:
            raise ValueError(f"--{name.replace('_', '-')} {value}: expected an integer >= {minimum}")
    if args.epochs is not None and args.epochs < 0:
        raise ValueError(f"--epochs {args.epochs}: expected an integer >= 0")
    if args.lr_sweep is not None:
        lrs = args.lr_sweep
        if len(set(lrs)) != len(lrs):
            raise ValueError(f"--lr-sweep {' '.join(map(str, lrs))}: values repeat")
        if len(lrs) > args.n:
            raise ValueError(f"--lr-sweep with {len(lrs)} values and --n {args.n}: expected at least one network "
                             "per learning rate")
    if not np.isfinite(args.checkpoint_every) or args.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every {args.checkpoint_every}: expected seconds >= 0")


def _optimizer(args):
    from jaxbias.training import Optimizer

    hyper = {"learning_rate": args.lr_sweep[0] if args.lr_sweep else args.lr}
    if args.momentum is not None:
        hyper["momentum"] = args.momentum
    if args.weight_decay is not None:
        hyper["weight_decay"] = args.weight_decay
    return Optimizer(args.optimizer, **hyper)


def learning_rates(lrs, n: int) -> np.ndarray:
    """``(n,)`` learning rates: network ``i`` gets ``lrs[i * len(lrs) // n]`` (equal contiguous blocks)."""
    return np.asarray(lrs, np.float64)[np.arange(n) * len(lrs) // n]


def _command_record(args, probe_spec) -> dict:
    """The command-line settings the engine's config does not hold (no file paths: a rerun elsewhere matches)."""
    return {"command": "jaxbias train", "dataset": args.dataset, "data_key": args.data_key, "limit": args.limit,
            "lr_sweep": args.lr_sweep, "probe": probe_spec,
            "measures": list(dict.fromkeys(args.measures)) if args.measures else None,
            "degree": args.degree if args.measures and "polynomial_order" in args.measures else None}


def run(args) -> int:
    """Train, save, draw, summarise; returns the exit status."""
    import json

    import jax

    import jaxbias as jb
    from jaxbias.engine import RunOptions
    from jaxbias.io import check_writable
    from jaxbias.results import to_json
    from jaxbias.training import train

    _check(args)
    writer = jax.process_index() == 0
    checkpoint = pathlib.Path(args.checkpoint if args.checkpoint is not None else f"{args.out}.ckpt").expanduser()
    figures = pathlib.Path(args.figures).expanduser() if args.figures is not None else None
    if writer:
        check_writable(args.out, overwrite=args.overwrite or args.resume)
        check_writable(checkpoint)
        if figures is not None:
            if figures.exists() and not figures.is_dir():
                raise NotADirectoryError(f"--figures {args.figures}: exists and is not a directory")
            figures.mkdir(parents=True, exist_ok=True)
    if checkpoint.exists() and not args.resume:
        raise ValueError(f"checkpoint '{checkpoint}' exists (an interrupted run): pass --resume to continue it, "
                         "or remove it to start afresh")

    teacher = None
    if args.dataset.partition(":")[0] == "teacher":
        teacher = build_net(argparse.Namespace(**{**vars(args), "out_dim": args.out_dim or 1}),
                            {name: getattr(args, name) for name in NET_OPTIONS})
    data = parse_dataset(args.dataset, key=args.data_key, teacher_net=teacher, limit=args.limit)
    if args.out_dim is not None and args.out_dim != data.out_dim:
        raise ValueError(f"--out-dim {args.out_dim}: the data set {data.name} needs {data.out_dim} output(s)")
    net = build_net(argparse.Namespace(**{**vars(args), "out_dim": data.out_dim}),
                    {name: getattr(args, name) for name in NET_OPTIONS})
    probe, grid_shape, probe_spec = _probe(args, data)
    measures = _measures(args, grid_shape, probe_spec)
    vary = {"learning_rate": learning_rates(args.lr_sweep, args.n)} if args.lr_sweep else None
    steps = 1000 if args.steps is None and args.epochs is None else args.steps
    record = args.record[0] if len(args.record) == 1 else args.record
    options = RunOptions(chunk_size=args.chunk_size, memory_budget=args.memory_budget,
                         progress=writer and not args.quiet)

    try:
        ds = train(net, data, _optimizer(args), n=args.n, key=args.key, loss=args.loss, steps=steps,
                   epochs=args.epochs, batch_size=args.batch_size, data_order=args.data_order, vary=vary,
                   record=record, probe=probe, measures=measures, ntk_points=args.ntk_points,
                   eval_train=not args.no_eval_train, checkpoint=checkpoint,
                   checkpoint_every=args.checkpoint_every, options=options)
    except KeyboardInterrupt:
        if writer and checkpoint.exists():
            print(f"jaxbias: progress is saved in '{checkpoint}'; run the same command with --resume to continue",
                  file=sys.stderr)
        raise
    config = json.loads(ds.attrs["config"])
    config["command"] = _command_record(args, probe_spec)
    ds.attrs["config"] = to_json(config)

    written = []
    if writer:
        jb.save(ds, args.out, overwrite=True)  # checked before training
        checkpoint.unlink(missing_ok=True)  # only once the result is safely on disk
        if figures is not None:
            from jaxbias.plot_training import plot_training

            written = plot_training(ds, figures)
    if writer and not args.quiet:
        _summary(ds, data, args, written)
    return 0


def _summary(ds, data, args, written) -> None:
    import json

    last = ds.isel(step=-1)
    steps = json.loads(ds.attrs["config"])["steps"]
    print(f"jaxbias train: {ds.sizes['net']} networks x {steps} steps on {data.name} "
          f"({data.n_train} train, {data.n_test} test) -> " + ", ".join(str(p) for p in [args.out, *written]))
    groups = [("", last)]
    if "learning_rate" in ds.coords:
        groups = [(f"lr {lr:g}: ", last.where(last["learning_rate"] == lr, drop=True))
                  for lr in np.unique(ds["learning_rate"].values)]
    for label, g in groups:
        parts = []
        for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            if name in g:
                parts.append(f"{name.replace('_', ' ')} {float(np.nanmedian(g[name].values)):.4g}")
        print(f"  {label}median at step {int(ds['step'].values[-1])}: " + ", ".join(parts))
    diverged = int((ds["diverged_step"].values >= 0).sum())
    if diverged:
        print(f"  {diverged} networks diverged (see diverged_step)")
