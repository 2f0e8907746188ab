"""Small typed values for the options every family shares: normalisation and pooling.

Each has one spelling everywhere (Python, results files, CLI): a value, or its string form.

>>> from jaxbias.nets.options import Norm, Pool
>>> Norm.parse("layer_pre")
Norm(kind='layer', position='pre')
>>> str(Pool.parse("max(2)"))
'max(2)'
"""

from __future__ import annotations

import re
from typing import NamedTuple

from jaxbias.nets.activations import Activation, get_activation
from jaxbias.nets.weight_laws import get_weight_law

__all__ = ["Norm", "Pool", "NORMS", "POOLS", "canonical_activation", "canonical_law"]

NORMS = ("layer_pre", "layer_post", "batch_pre", "batch_post")
"""String forms of :class:`Norm`: kind (layer or batch norm) and position (before or after the activation)."""

POOLS = ("max", "avg")
"""Kinds of :class:`Pool`, written ``"max(p)"`` or ``"avg(p)"`` with window ``p``."""

_CALL = re.compile(r"^\s*([a-z]+)\s*(?:\(\s*([0-9]+)\s*\))?\s*$")


class Norm(NamedTuple):
    """Normalisation without learned gain and shift (their values at init).

    Attributes:
      kind: ``"layer"`` (each point over its features) or ``"batch"`` (each feature over the
        points of the input set, the whole input set being one batch at init).
      position: ``"pre"`` (``phi(N(z))``) or ``"post"`` (``N(phi(z))``).
    """

    kind: str
    position: str

    def __str__(self) -> str:
        return f"{self.kind}_{self.position}"

    def to_dict(self) -> str:
        """The spelling a config stores (the inverse of ``from_dict``)."""
        return str(self)

    @classmethod
    def parse(cls, value, name: str = "norm") -> "Norm | None":
        """``None``, a :class:`Norm`, or one of :data:`NORMS`; ValueError naming ``name`` otherwise."""
        if value is None or isinstance(value, Norm) and value in _NORM_VALUES:
            return value
        if isinstance(value, str) and value in NORMS:
            kind, position = value.split("_")
            return cls(kind, position)
        raise ValueError(f"{name}={value!r}: expected None or one of {', '.join(map(repr, NORMS))}")


_NORM_VALUES = tuple(Norm(*s.split("_")) for s in NORMS)


class Pool(NamedTuple):
    """Pooling over non-overlapping windows (features of a dense layer, positions of an image).

    Attributes:
      kind: ``"max"`` or ``"avg"``.
      size: window size ``p >= 1``.
    """

    kind: str
    size: int = 2

    def __str__(self) -> str:
        return f"{self.kind}({self.size})"

    def to_dict(self) -> str:
        """The spelling a config stores (the inverse of ``from_dict``)."""
        return str(self)

    @classmethod
    def parse(cls, value, name: str = "pool") -> "Pool | None":
        """``None``, a :class:`Pool`, ``"max"`` / ``"avg"`` (window 2) or ``"max(p)"`` / ``"avg(p)"``."""
        if value is None:
            return None
        if isinstance(value, Pool):
            kind, size = value
        elif isinstance(value, str) and (m := _CALL.match(value.lower())) is not None:
            kind, size = m.group(1), int(m.group(2)) if m.group(2) else 2
        else:
            raise ValueError(f"{name}={value!r}: expected None, 'max(p)' or 'avg(p)' with window p >= 1")
        if kind not in POOLS or isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{name}={value!r}: expected None, 'max(p)' or 'avg(p)' with window p >= 1")
        return cls(kind, size)


def canonical_activation(activation, name: str = "activation"):
    """A known activation's canonical name (``"leaky_relu(0.1)"``), or the user's callable itself.

    Names make specs comparable and storable; a callable is kept as it is (equal by identity).
    """
    if isinstance(activation, Activation):
        activation = activation.fn if _is_user(activation) else activation.name
    if callable(activation):
        return activation
    try:
        return get_activation(activation).name
    except (TypeError, ValueError) as e:
        raise ValueError(str(e).replace("activation=", f"{name}=", 1)) from None


def _is_user(activation: Activation) -> bool:
    try:
        return get_activation(activation.name).fn is not activation.fn and not _same_builtin(activation)
    except (TypeError, ValueError):
        return True


def _same_builtin(activation: Activation) -> bool:
    # Parametric built-ins build a new function on each lookup: compare by canonical name.
    return "(" in activation.name


def canonical_law(law) -> str:
    """A weight law's canonical label (``"sparse(0.1)"``); ValueError for an unknown one."""
    return get_weight_law(law).label
