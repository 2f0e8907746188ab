"""The subcommands of ``jaxbias``: one module each, found by :func:`jaxbias.cli.main`.

A command module defines ``register(subparsers)``, which adds its parser and sets ``run`` (a
function of the parsed arguments returning the exit status) with ``set_defaults(run=...)``.
Shared option groups live in :mod:`jaxbias.commands.common`.
"""
