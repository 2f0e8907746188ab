"""Pieces shared by the ``jaxbias`` subcommands: network options, sweeps, device and multi-host flags."""

from __future__ import annotations

import argparse
import os

from jaxbias.grid import cells, split
from jaxbias.nets.options import NORMS

__all__ = [
    "HelpFormatter",
    "INPUTS_HELP",
    "ARCHS",
    "NET_OPTIONS",
    "net_inputs",
    "add_device_options",
    "add_net_options",
    "add_overwrite_option",
    "add_run_options",
    "build_net",
    "cells",
    "check_distinct",
    "check_outputs",
    "initialize_devices",
    "split_sweep",
]

INPUTS_HELP = ("input set, the same spec in every command: grid:D:R (R^D points on [-1, 1]^D), sphere:D:N, "
               "hypercube:N[:pm1], blobs:K:D:N, digits[:0,1]")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help that shows each option's default once: appended as ``(default: V)`` unless the help text
    already states it, and never for flags (store_true) or options without a default (None). Lists
    (the defaults of sweepable options) are shown as the values one would type: ``relu tanh``."""

    def _get_help_string(self, action):
        help_ = action.help or ""
        default = action.default
        if ("default" in help_ or default is None or default is argparse.SUPPRESS or isinstance(default, bool)
                or not action.option_strings or action.nargs == 0):
            return help_
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{help_} (default: {shown.replace('%', '%%')})"


ARCHS = ("mlp", "resnet", "cnn", "transformer")  # every built-in family of jaxbias.nets

# option name -> (type, default, help); each may be given several values (a sweep)
NET_OPTIONS = {
    "width": (int, [64], "hidden width (cnn: channels per conv layer; transformer: d_model)"),
    "depth": (int, [4], "number of hidden layers (mlp), residual blocks (resnet), conv layers (cnn) or encoder "
                        "layers (transformer); 0: no hidden layer, a random linear (affine) map of the inputs"),
    "activation": (str, ["tanh"], "activation name, e.g. relu, tanh, gelu, 'leaky_relu(0.1)', 'snake(2)'"),
    "weight_var": (float, [1.0], "C_W: weights have variance C_W / fan_in"),
    "bias_var": (float, [0.0], "C_b: biases have variance C_b"),
    "weight_law": (str, ["normal"], "normal, truncated_normal, uniform, orthogonal, 'sparse(p)', 'low_rank(r)', "
                                     "'absolute(a)' (weights and biases U(-a, a))"),
    "parameterization": (str, ["standard"], "standard or ntk"),
}




def add_net_options(p: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """Add the (sweepable) network options of NET_OPTIONS and the architecture flags to ``p``."""
    defaults = defaults or {}
    p.add_argument("--arch", default="mlp", choices=list(ARCHS),
                   help="network family: mlp; resnet (dense residual blocks of two layers); cnn (3x3 SAME convolutions, "
                        "global average pooling; each input point is a square 1-channel image, e.g. digits 8x8, or "
                        "else a 1xD row); transformer (pre-norm encoder, --heads heads, MLP width 4 x --width, mean "
                        "readout; each input point is a sequence of its D coordinates)")
    p.add_argument("--heads", type=int, default=4, help="transformer: attention heads (must divide --width)")
    for name, (typ, default, help_) in NET_OPTIONS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=typ, nargs="+",
                       default=defaults.get(name, default), help=f"{help_} (sweepable)")
    p.add_argument("--out-dim", type=int, default=defaults.get("out_dim", 1), help="number of output units")
    p.add_argument("--no-bias", action="store_true", help="layers without biases")
    p.add_argument("--residual", action="store_true", help="mlp: skip connections around hidden layers 2..depth")
    p.add_argument("--norm", choices=list(NORMS), default=None,
                   help="layer or batch norm before (pre) or after (post) the activation (transformer: layer_pre "
                        "or layer_post, default layer_pre)")
    p.add_argument("--pool", default=None, metavar="KIND(P)",
                   help="'max(p)' or 'avg(p)' with window p after each activation: mlp, 1-D over hidden units; cnn, "
                        "2-D over positions")


def add_run_options(p: argparse.ArgumentParser, out: str, *, engine: bool = True,
                    key_help: str = "random seed; network i uses fold_in(key, i)") -> None:
    """Add --key, --out (default ``out``), --resume, --quiet and, with ``engine``, --chunk-size and
    --memory-budget (passed to the engine) to ``p``."""
    p.add_argument("--key", type=int, default=0, help=key_help)
    p.add_argument("--out", default=out, help="netCDF results file (written atomically)")
    p.add_argument("--resume", action="store_true", help="continue a killed sweep (finished cells are kept)")
    add_overwrite_option(p)
    if engine:
        p.add_argument("--chunk-size", type=int, default=None, help="networks per compiled call (default: from memory)")
        p.add_argument("--memory-budget", default=None,
                       help="peak bytes per chunk, e.g. 2GB (default: from the device)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def add_overwrite_option(p: argparse.ArgumentParser) -> None:
    """Add --overwrite: without it a command refuses output files that exist (checked before computing)."""
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files that exist (without it they are refused before anything runs)")


def check_outputs(args, *paths) -> None:
    """Checks, before any computation, that every output path (None: skipped) can be written.

    An existing file is refused unless ``--overwrite``, or ``--resume`` (continuing or reloading
    the same run, whose figures are drawn again).
    """
    from jaxbias.io import check_writable

    replace = getattr(args, "overwrite", False) or getattr(args, "resume", False)
    for path in paths:
        if path is not None and str(path):
            check_writable(path, overwrite=replace)


def add_device_options(p: argparse.ArgumentParser, cpu_devices: str = "1") -> None:
    """Add --cpu-devices (default ``cpu_devices``) and the jax.distributed flags (--coordinator,
    --num-processes, --process-id) to ``p``."""
    p.add_argument("--cpu-devices", default=None, metavar="N|cores",
                   help="on a CPU, expose the host to XLA as N devices (or one per core: 'cores') so every core "
                        "runs a share of the networks; faster for small networks, slower for large ones "
                        f"(default: {cpu_devices})")
    p.set_defaults(cpu_devices_default=cpu_devices)
    g = p.add_argument_group("multi-host (one process per host, same command on each)")
    g.add_argument("--coordinator", default=None, help="address HOST:PORT of process 0 (jax.distributed)")
    g.add_argument("--num-processes", type=int, default=None, help="number of processes")
    g.add_argument("--process-id", type=int, default=None, help="this process's index")


def initialize_devices(args) -> None:
    """Set the CPU device count (--cpu-devices), then start jax.distributed when any multi-host
    flag was given. A command's default count is only a preference: it is skipped when JAX has
    already started (the command called from Python) or ``XLA_FLAGS`` sets the host device count;
    a count given on the command line is not."""
    from jaxbias.cpu_devices import parse_cpu_devices, use_cpu_devices

    given = getattr(args, "cpu_devices", None)
    default = getattr(args, "cpu_devices_default", "1")
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        default = "1"  # XLA_FLAGS has chosen the host's device count already
    count = parse_cpu_devices(given if given is not None else default)
    if count != 1:
        try:
            use_cpu_devices(count)
        except RuntimeError as e:
            if given is not None:
                raise ValueError(f"--cpu-devices {given}: {e}") from e
    if args.coordinator is None and args.num_processes is None and args.process_id is None:
        return
    import jax

    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)


def build_net(args, cell: dict):
    """The Net of one sweep cell: ``cell`` holds one value of each NET_OPTIONS entry."""
    import jaxbias as jb

    common = dict(
        activation=cell["activation"], out=args.out_dim, weight_var=cell["weight_var"], bias_var=cell["bias_var"],
        bias=not args.no_bias, parameterization=cell["parameterization"], weight_law=cell["weight_law"],
    )
    arch = getattr(args, "arch", "mlp")
    if arch == "mlp":
        return jb.nets.MLP(cell["width"], cell["depth"], residual=args.residual, norm=args.norm, pool=args.pool,
                           **common)
    if args.residual:
        raise ValueError(f"--residual: skip connections around hidden layers are an mlp option (--arch {arch} "
                         f"{'has them built in' if arch in ('resnet', 'transformer') else 'has none'})")
    if arch == "cnn":
        return jb.nets.CNN((cell["width"],) * cell["depth"], norm=args.norm, pool=args.pool, **common)
    if args.pool is not None:
        raise ValueError(f"--pool {args.pool}: pooling is an mlp or cnn option, not --arch {arch}")
    if arch == "transformer":
        return jb.nets.Transformer(cell["width"], cell["depth"], getattr(args, "heads", 4), 4 * cell["width"],
                                   norm=args.norm or "layer_pre", **common)
    return jb.nets.ResNet(cell["width"], cell["depth"], norm=args.norm, **common)


def net_inputs(args, x):
    """The input points ``x (n_points, D)`` shaped for ``--arch``: ``(n, s, s, 1)`` images when D = s^2
    (else ``(n, 1, D, 1)``) for cnn, ``(n, D, 1)`` sequences for transformer, unchanged otherwise."""
    arch = getattr(args, "arch", "mlp")
    n, d = x.shape[0], x.reshape(x.shape[0], -1).shape[1]
    if arch == "cnn":
        side = round(d ** 0.5)
        return x.reshape(n, side, side, 1) if side * side == d else x.reshape(n, 1, d, 1)
    if arch == "transformer":
        return x.reshape(n, d, 1)
    return x


def check_distinct(args, names) -> None:
    """Raises a ValueError naming the flag when one of the options ``names`` repeats a value."""
    for name in names:
        values = getattr(args, name)
        if len(set(values)) != len(values):
            raise ValueError(f"--{name.replace('_', '-')} {' '.join(map(str, values))}: values repeat")


def split_sweep(args) -> tuple[dict, dict]:
    """(swept, fixed): the NET_OPTIONS given several values, and the rest with their single value
    (:func:`jaxbias.grid.split`); iterate the cells with :func:`jaxbias.grid.cells`."""
    check_distinct(args, NET_OPTIONS)
    return split({name: getattr(args, name) for name in NET_OPTIONS})
