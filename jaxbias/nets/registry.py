"""Rebuilding a network from its config: every results file says how to regenerate its networks.

>>> import jaxbias as jb
>>> net = jb.nets.mlp(32, 2, "tanh")
>>> jb.nets.from_config(net.config).config == net.config
True
"""

from __future__ import annotations

from typing import Callable

from jaxbias.nets.cnn import cnn
from jaxbias.nets.core import Net
from jaxbias.nets.mlp import mlp
from jaxbias.nets.resnet import resnet
from jaxbias.nets.transformer import transformer

__all__ = ["from_config", "FAMILIES"]


FAMILIES: dict[str, Callable[..., Net]] = {"mlp": mlp, "cnn": cnn, "resnet": resnet, "transformer": transformer}


def from_config(config: dict) -> Net:
    """Builds the built-in network a config describes (the ``config`` of a built-in Net).

    Raises:
      ValueError: no ``"arch"`` or an architecture that cannot be rebuilt (e.g. flax adapters).
    """
    families = FAMILIES
    arch = config.get("arch")
    if arch not in families:
        raise ValueError(f"config arch={arch!r}: expected one of {', '.join(sorted(families))}")
    kwargs = {k: v for k, v in config.items() if k != "arch"}
    if arch == "mlp" and kwargs.get("pool_size") is None:
        kwargs.pop("pool_size", None)
    return families[arch](**kwargs)
