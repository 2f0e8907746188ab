"""The ``jaxbias`` command.

    jaxbias sample --arch mlp --width 64 --depth 4 --activation tanh --n 1000 \\
        --inputs grid:2:64 --out results.nc --plot functions.png

Each subcommand lives in its own module of :mod:`jaxbias.commands` and is found there. Options
that take several values (``--depth 2 4 8 --activation relu tanh``) run a sweep over their
Cartesian product: each finished cell is saved as it completes, ``--resume`` continues a killed
sweep, and the result has one dimension per swept option. Bad input (a ValueError, or an OSError
for a file) gives a one-line error and exit status 2; any other exception is a bug and shows its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

import jaxbias.commands
from jaxbias.version import __version__
from jaxbias.commands.common import HelpFormatter

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxbias",
        description="Sample random neural networks and measure the functions they compute.",
    )
    parser.add_argument("--version", action="version", version=f"jaxbias {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in sorted(m.name for m in pkgutil.iter_modules(jaxbias.commands.__path__)):
        if module != "common":
            importlib.import_module(f"jaxbias.commands.{module}").register(sub)
    for command in sub.choices.values():  # every command's --help shows each default once
        command.formatter_class = HelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxbias`` command; returns the exit status."""
    from jaxbias.commands.common import initialize_devices

    parser = _parser()
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # the command writes figures to files; the library leaves the backend to its caller
    try:
        initialize_devices(args)
        return args.run(args)
    except (ValueError, OSError) as e:  # bad input; anything else is a bug and keeps its traceback
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"jaxbias: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # a sweep's SweepInterrupted says where its cells are and to rerun with --resume
        print("jaxbias: interrupted" + (f": {e}" if str(e) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
