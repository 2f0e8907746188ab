"""``jaxbias inductive-bias``: bits of inductive bias a task needs, from a kernel (exact) or from trained networks."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxbias.commands.common import NET_OPTIONS, add_device_options, add_overwrite_option, add_net_options, build_net
from jaxbias.commands.train import DATASET_FORMS, parse_dataset

__all__ = ["register", "run", "parse_kernel", "parse_epsilon", "KERNEL_FORMS"]

KERNEL_FORMS = ("rbf:BANDWIDTH (Gaussian kernel on flattened inputs); nngp, ntk (infinite-width kernels of the net "
                "options' MLP); mc-nngp[:N] (NNGP averaged over N sampled networks, default 256); empirical-ntk "
                "(tangent kernel of network 0 at init)")


def register(sub) -> None:
    """Add the ``inductive-bias`` subcommand to the subparsers ``sub``."""
    from jaxbias.theory.gchisq import METHODS

    p = sub.add_parser(
        "inductive-bias",
        help="bits of inductive bias needed to reach test error epsilon (kernel GP exactly, or trained networks)",
        description="I(eps) = -log2 P(test error <= eps) over the hypotheses that fit the training set "
                    "(Boopathy et al., IJCAI 2024). Kernel mode: a GP conditioned noise-free on the training set, "
                    "whose test MSE (mean over test points x outputs, one-hot labels) is a generalized chi-square; "
                    "its lower tail by each of --methods, with errors. Network mode: --n networks trained at once, "
                    "their final test errors; empirical bits with a Clopper-Pearson interval where enough networks "
                    "reach eps, below that a power-law tail extrapolation (stated as such) or a bound. Writes a "
                    "netCDF file with the config and, with --figures, bits against epsilon (and against n_train).",
    )
    p.add_argument("--mode", choices=["kernel", "network"], default="kernel", help="hypotheses: GP samples or "
                                                                                   "trained networks")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="digits:0,1", metavar="SPEC", help=DATASET_FORMS)
    d.add_argument("--data-key", type=int, default=0, help="seed of the data set")
    d.add_argument("--limit", type=int, default=None, help="mnist, fashion, cifar10: samples kept per split")
    add_net_options(p, defaults={"out_dim": None})
    for action in p._actions:  # one network: the shared options take one value here
        if action.dest in NET_OPTIONS:
            action.help = action.help.replace(" (sweepable)", "")
            action.nargs, action.default = None, action.default[0]
        if action.dest == "out_dim":
            action.help = "number of output units (default: the data's classes or targets)"
    e = p.add_argument_group("epsilon")
    e.add_argument("--epsilon", type=float, nargs="+", default=None, metavar="E",
                   help="LO HI [COUNT]: COUNT (default 16) log-spaced test errors from LO to HI; one value: that "
                        "epsilon (default: kernel: E[Q] x 0.1..1; network: smallest to median error)")
    k = p.add_argument_group("kernel mode")
    k.add_argument("--kernel", default="nngp", metavar="KIND", help=KERNEL_FORMS)
    k.add_argument("--methods", nargs="+", choices=list(METHODS),
                   default=["inversion", "imhof", "saddlepoint", "chernoff", "monte_carlo", "ncx2_fit"],
                   help="tail methods (ncx2_fit: the reference code's single non-central chi-square fit, for "
                        "comparison only)")
    k.add_argument("--n-train-sizes", type=int, nargs="+", default=None, metavar="N",
                   help="also bits against training-set size (nested subsets), written to OUT with .n_train.nc")
    k.add_argument("--jitter", type=float, default=0.0, help="added to the training kernel's diagonal (0: noise-free)")
    k.add_argument("--n-samples", type=int, default=10_000, help="posterior samples for monte_carlo and ncx2_fit")
    n = p.add_argument_group("network mode")
    n.add_argument("--n", type=int, default=256, help="networks trained")
    n.add_argument("--steps", type=int, default=1000, help="training steps")
    n.add_argument("--optimizer", default="sgd", help="optax optimizer name")
    n.add_argument("--lr", type=float, default=0.1, help="learning rate")
    n.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: full batch)")
    n.add_argument("--error", choices=["mse", "zero_one"], default="mse",
                   help="mse: kernel mode's scale (extrapolated below the data); zero_one: misclassified share")
    n.add_argument("--min-count", type=int, default=10, help="networks at or below eps for an empirical estimate")
    r = p.add_argument_group("files and run")
    r.add_argument("--key", type=int, default=0, help="seed (networks, Monte Carlo, subsets)")
    r.add_argument("--out", default="inductive_bias.nc", help="netCDF results file (written atomically)")
    r.add_argument("--figures", default=None, metavar="DIR",
                   help="write bits_vs_epsilon.png (and bits_vs_n_train.png) into DIR")
    r.add_argument("--quiet", action="store_true", help="no progress bar or table")
    add_overwrite_option(p)
    add_device_options(p)
    p.set_defaults(run=run)


def parse_epsilon(values) -> np.ndarray | None:
    """``--epsilon`` values: None, one value, or ``LO HI [COUNT]`` log-spaced; ValueError naming the value."""
    if values is None:
        return None
    text = " ".join(f"{v:g}" for v in values)
    if len(values) > 3 or any(not np.isfinite(v) or v <= 0 for v in values[:2]):
        raise ValueError(f"--epsilon {text}: expected one value or LO HI [COUNT], test errors > 0")
    if len(values) == 1:
        return np.array(values, np.float64)
    count = 16 if len(values) == 2 else values[2]
    if count != int(count) or count < 1 or values[1] < values[0]:
        raise ValueError(f"--epsilon {text}: expected LO <= HI and an integer COUNT >= 1")
    return np.geomspace(values[0], values[1], int(count))


def parse_kernel(spec: str, net, key: int):
    """The kernel value a ``--kernel`` string names (:data:`KERNEL_FORMS`)."""
    from jaxbias.experiments.inductive_bias import RBF, EmpiricalNTK, Infinite, MonteCarloNNGP

    kind, _, rest = spec.partition(":")
    if kind == "rbf":
        try:
            return RBF(float(rest))
        except ValueError:
            raise ValueError(f"--kernel {spec}: expected rbf:BANDWIDTH with a bandwidth > 0") from None
    if kind in ("nngp", "ntk") and not rest:
        return Infinite(net, kind)
    if kind == "mc-nngp":
        try:
            count = int(rest) if rest else 256
        except ValueError:
            raise ValueError(f"--kernel {spec}: expected mc-nngp[:N] with N networks") from None
        if count < 1:
            raise ValueError(f"--kernel {spec}: expected N >= 1 networks")
        return MonteCarloNNGP(net, n=count, key=key)
    if kind == "empirical-ntk" and not rest:
        return EmpiricalNTK(net, key=key)
    raise ValueError(f"--kernel {spec}: unknown kernel; accepted forms: {KERNEL_FORMS}")


def _net(args, data):
    cell = {name: getattr(args, name) for name in NET_OPTIONS}
    if args.out_dim is None:
        args.out_dim = data.out_dim
    return build_net(args, cell)


def run(args) -> int:
    """Build data, net and kernel; compute; save; draw; print a table. Returns the exit status."""
    from jaxbias import io
    from jaxbias.plot_inductive_bias import plot_bits_intervals, plot_bits_vs_epsilon, plot_bits_vs_n_train

    eps = parse_epsilon(args.epsilon)
    out = pathlib.Path(args.out)
    io.check_writable(out, overwrite=args.overwrite)
    figures = pathlib.Path(args.figures) if args.figures else None
    data = parse_dataset(args.dataset, key=args.data_key, limit=args.limit)
    net = _net(args, data)
    command = {k: v for k, v in vars(args).items() if k not in ("run", "cpu_devices_default")}
    extra = None
    if args.mode == "kernel":
        from jaxbias.experiments.inductive_bias import bits_vs_n_train, inductive_bias

        kernel = parse_kernel(args.kernel, net, args.key)
        ds = inductive_bias(data, kernel, eps, methods=args.methods, jitter=args.jitter, n_samples=args.n_samples,
                            key=args.key, config={"command": command})
        if args.n_train_sizes:
            extra = bits_vs_n_train(data, kernel, args.n_train_sizes, ds["epsilon"].values,
                                    methods=[m for m in args.methods if m not in ("monte_carlo", "ncx2_fit")]
                                    or ["chernoff"], jitter=args.jitter, n_samples=args.n_samples, key=args.key,
                                    config={"command": command})
    else:
        if args.n_train_sizes:
            raise ValueError(f"--n-train-sizes {' '.join(map(str, args.n_train_sizes))}: kernel mode only "
                             "(--mode kernel)")
        from jaxbias.experiments.inductive_bias_networks import inductive_bias_networks
        from jaxbias.training import Optimizer

        hyper = {"learning_rate": args.lr}
        ds = inductive_bias_networks(net, data, Optimizer(args.optimizer, **hyper), eps, n=args.n,
                                     error=args.error, key=args.key, steps=args.steps, batch_size=args.batch_size,
                                     min_count=args.min_count, progress=None if not args.quiet else False,
                                     config={"command": command})
    io.save(ds, out, overwrite=True)  # checked above
    written = [out]
    if extra is not None:
        written.append(io.save(extra, out.with_suffix(".n_train.nc"), overwrite=True))
    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
        if args.mode == "kernel":
            written.append(plot_bits_vs_epsilon(ds, figures / "bits_vs_epsilon.png"))
        else:
            written.append(plot_bits_intervals(ds, figures / "bits_vs_epsilon.png",
                                               xlabel=f"target test error epsilon ({args.error})"))
        if extra is not None:
            written.append(plot_bits_vs_n_train(extra, figures / "bits_vs_n_train.png"))
    if not args.quiet:
        _print(args, data, ds)
        print("  -> " + ", ".join(map(str, written)))
    return 0


def _print(args, data, ds) -> None:
    print(f"jaxbias inductive-bias ({args.mode}): {data.name}, {data.n_train} train / {data.n_test} test points")
    if args.mode == "kernel":
        print(f"  E[test MSE] = {float(ds['expected_mse']):.4g}, posterior mean's test MSE = "
              f"{float(ds['mean_mse']):.4g}")
        print(f"  {'epsilon':>10s} {'bits':>12s} {'+-':>9s}  method")
        for i, e in enumerate(ds["epsilon"].values):
            print(f"  {e:10.4g} {float(ds['recommended_bits'][i]):12.4f} {float(ds['recommended_error'][i]):9.2g}  "
                  f"{ds['recommended_method'].values[i]}")
    else:
        print(f"  {'epsilon':>10s} {'bits':>10s} {'interval':>21s} {'count':>7s}  estimate")
        for i, e in enumerate(ds["epsilon"].values):
            print(f"  {e:10.4g} {float(ds['bits'][i]):10.4f} [{float(ds['bits_lo'][i]):9.4g}, "
                  f"{float(ds['bits_hi'][i]):9.4g}] {int(ds['count'][i]):7d}  {ds['estimate'].values[i]}")
