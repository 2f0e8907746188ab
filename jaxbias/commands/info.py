"""``jaxbias info``: versions and devices, as JSON."""

from __future__ import annotations

import json

from jaxbias.commands.common import add_device_options

__all__ = ["register", "run"]


def register(sub) -> None:
    """Add the ``info`` subcommand to the subparsers ``sub``."""
    i = sub.add_parser("info", help="versions and devices",
                       description="Print the versions of jaxbias, jax and jaxlib, the backend, this process's index "
                                   "and the devices JAX sees, as JSON (with --cpu-devices or the multi-host flags: "
                                   "what a command run with them would use).")
    add_device_options(i)
    i.set_defaults(run=run)


def run(args) -> int:
    """Print versions and devices; returns 0."""
    import jax
    import jaxlib

    import jaxbias as jb

    print(json.dumps({
        "jaxbias": jb.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(), "process": jax.process_index(), "processes": jax.process_count(),
        "devices": [str(d) for d in jax.devices()],
    }, indent=2))
    return 0
