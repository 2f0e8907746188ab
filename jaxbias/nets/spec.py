"""Network specs: frozen, typed, hashable values from which ``init`` and ``apply`` follow.

A spec is the whole description of a network: the built-in families (:class:`~jaxbias.nets.MLP`,
:class:`~jaxbias.nets.CNN`, ...) and the layers they are made of are specs. Equal specs compare
and hash equal, so the engine compiles one program per structure, and a spec is the config that
results files store: :func:`to_dict` writes it as plain JSON-able data and :func:`from_dict`
rebuilds an equal spec.

>>> import jaxbias as jb
>>> net = jb.nets.MLP(width=32, depth=2, activation="tanh")
>>> jb.nets.from_dict(jb.nets.to_dict(net)) == net
True
>>> hash(net) == hash(jb.nets.MLP(32, 2, "tanh"))
True

Anything else with pure ``init(key, x)`` and ``apply(params, x)`` is a network too (user functions
through :class:`Net`, flax modules through the adapters); those are compared by the identity of
their functions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax

__all__ = ["Spec", "Net", "spec", "to_dict", "from_dict", "describe", "SPEC_TYPES"]

SPEC_TYPES: dict[str, type] = {}
"""Every spec class by name, as :func:`from_dict` finds them (filled by :func:`spec`)."""


class Spec:
    """Base of every network and layer spec (frozen dataclasses made by :func:`spec`).

    Subclasses define ``init(key, x) -> params`` and ``apply(params, x) -> y``; validation and
    canonical forms (per-layer tuples, canonical names) happen in ``__post_init__``, so two specs
    that describe the same network compare equal.
    """

    def replace(self, **changes) -> "Spec":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def spec(cls: type) -> type:
    """Class decorator: a frozen dataclass registered by name for :func:`from_dict`.

    Field values must be hashable (ints, floats, strings, tuples, other specs or small typed
    values such as :class:`~jaxbias.nets.Norm`); a user callable is hashable by identity.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    if cls.__name__ in SPEC_TYPES and SPEC_TYPES[cls.__name__] is not cls:
        raise ValueError(f"spec class name {cls.__name__!r} is already registered")
    SPEC_TYPES[cls.__name__] = cls
    return cls


class Net(NamedTuple):
    """A network given by two pure functions, as in stax: ``init(key, x) -> params``, ``apply(params, x) -> y``.

    For user code and wrapped networks. Two Nets are equal when they hold the same function
    objects, so the engine compiles once per pair of functions (a ``lambda`` written anew on each
    call is a new network each time).

    Attributes:
      init: ``init(key, x) -> params`` (``x``: example inputs ``(n_points, *input_shape)``, only the shape is read).
      apply: ``apply(params, x) -> y`` with ``y`` of shape ``(n_points, n_out)``.
      name: a label written into results files.
      tapped: optional ``tapped(params, x, perturbations) -> (y, taps)`` exposing the dense and conv
        layers, for the structured NTK (see :func:`jaxbias.nets.core.affine_taps`).
    """

    init: Callable[[jax.Array, jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]
    name: str = "net"
    tapped: Callable | None = None


def _plain(value: Any) -> Any:
    """A field value as JSON-able data (tuples become lists, specs and typed values dicts)."""
    if isinstance(value, Spec) or hasattr(value, "to_dict"):
        return value.to_dict() if not isinstance(value, Spec) else to_dict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if callable(value):
        raise ValueError(
            f"{value!r}: a spec holding a user callable cannot be written to a file; use a named "
            "activation (jb.nets.ACTIVATIONS) to make the network reproducible"
        )
    return value


def to_dict(net: Spec) -> dict:
    """The spec as plain data ``{"type": class name, field: value, ...}``; :func:`from_dict` inverts it.

    Raises:
      ValueError: the spec holds a user callable (it has no name to store).
    """
    if not isinstance(net, Spec):
        raise ValueError(f"net={net!r}: expected a jaxbias spec (e.g. jb.nets.MLP(...))")
    out = {"type": type(net).__name__}
    for field in dataclasses.fields(net):
        out[field.name] = _plain(getattr(net, field.name))
    return out


def _rebuild(value: Any) -> Any:
    if isinstance(value, dict) and "type" in value:
        return from_dict(value)
    if isinstance(value, list):
        return tuple(_rebuild(v) for v in value)
    return value


def from_dict(data: dict) -> Spec:
    """Rebuilds the spec that :func:`to_dict` wrote (an equal spec).

    Raises:
      ValueError: no or unknown ``"type"``, or fields the spec does not have.
    """
    if not isinstance(data, dict) or data.get("type") not in SPEC_TYPES:
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"spec type={kind!r}: expected one of {', '.join(sorted(SPEC_TYPES))}")
    cls = SPEC_TYPES[data["type"]]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names - {"type"})
    if unknown:
        raise ValueError(f"spec type={data['type']!r}: unknown fields {unknown}; expected some of {sorted(names)}")
    return cls(**{k: _rebuild(v) for k, v in data.items() if k != "type"})


def describe(net: Any) -> dict:
    """What a results file records about ``net``: :func:`to_dict` for specs, the name and kind otherwise."""
    if isinstance(net, Spec):
        try:
            return to_dict(net)
        except ValueError:
            return {"type": type(net).__name__, "repr": repr(net), "rebuildable": False}
    out = {"type": type(net).__name__, "rebuildable": False}
    for name in getattr(net, "_fields", ("name",)):
        value = getattr(net, name, None)
        if isinstance(value, Spec) or (callable(getattr(value, "init", None)) and callable(getattr(value, "apply", None))):
            out[name] = describe(value)
        elif isinstance(value, (str, int, float, bool)) or (
                isinstance(value, tuple) and all(isinstance(v, (str, int, float, bool)) for v in value)):
            out[name] = list(value) if isinstance(value, tuple) else value
    return out
