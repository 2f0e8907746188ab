"""Activation functions by name.

Every activation jaxbias knows is reachable from a string, so that configs stay plain
hashable Python and can be written to a results file. Activations with a parameter take it in
call syntax: ``"leaky_relu(0.1)"``, ``"snake(2.0)"``. Any callable ``f(x) -> y`` (elementwise)
is accepted too.

>>> from jaxbias.nets.activations import get_activation
>>> phi = get_activation("leaky_relu(0.2)")
>>> round(float(phi.fn(-1.0)), 6)
-0.2
"""

from __future__ import annotations

import math
import re
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Activation", "get_activation", "ACTIVATIONS"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


class Activation(NamedTuple):
    """A resolved activation: the function and a canonical name for configs.

    Attributes:
      fn: elementwise function ``fn(x) -> y``.
      name: canonical name, e.g. ``"leaky_relu(0.1)"``; ``repr`` of the callable when the user
        passed one.
    """

    fn: Callable[[jax.Array], jax.Array]
    name: str


def _relu(x):
    return jnp.maximum(x, 0.0)


def _centred_relu(x):
    # E[relu(z)] = 1/sqrt(2 pi) for z ~ N(0, 1): the centred ReLU removes it, so a unit-variance
    # pre-activation gives a zero-mean output (Francazi et al. 2024 use it to remove IGB).
    return jnp.maximum(x, 0.0) - 1.0 / _SQRT_2PI


def _step(x):
    # Heaviside step with H(0) = 0.
    return (x > 0).astype(x.dtype)


def _gaussian(x):
    return jnp.exp(-jnp.square(x))


def _erf(x):
    return jax.scipy.special.erf(x)


def _leaky_relu(slope: float):
    def fn(x):
        return jnp.where(x >= 0, x, slope * x)

    return fn


def _snake(a: float):
    # Snake (Ziyin et al., NeurIPS 2020): x + sin^2(a x) / a.
    def fn(x):
        return x + jnp.square(jnp.sin(a * x)) / a

    return fn


def _elu(x):
    return jax.nn.elu(x)


_PLAIN: dict[str, Callable] = {
    "relu": _relu,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "silu": jax.nn.silu,
    "selu": jax.nn.selu,
    "elu": _elu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "erf": _erf,
    "sin": jnp.sin,
    "cos": jnp.cos,
    "gaussian": _gaussian,
    "abs": jnp.abs,
    "softplus": jax.nn.softplus,
    "step": _step,
    "identity": lambda x: x,
    "centred_relu": _centred_relu,
}

# name -> (factory(param) -> fn, default parameter)
_PARAMETRIC: dict[str, tuple[Callable[[float], Callable], float]] = {
    "leaky_relu": (_leaky_relu, 0.01),
    "snake": (_snake, 1.0),
}

_ALIASES = {
    "linear": "identity",
    "centered_relu": "centred_relu",
    "swish": "silu",
    "gelu_exact": "gelu",
}

ACTIVATIONS: tuple[str, ...] = tuple(sorted(_PLAIN)) + tuple(sorted(_PARAMETRIC))
"""Names accepted by :func:`get_activation` (parametric ones also as ``name(value)``)."""

_CALL = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^()]*?)\s*\))?\s*$")


def get_activation(activation: str | Callable | Activation) -> Activation:
    """Resolves an activation name (or callable) to an :class:`Activation`.

    Args:
      activation: one of :data:`ACTIVATIONS` (``"relu"``, ``"tanh"``, ``"leaky_relu(0.1)"``,
        ``"snake(2)"``, ...), an :class:`Activation`, or any elementwise callable.

    Returns:
      The activation with its canonical name.

    Raises:
      ValueError: the name is unknown or its parameter is not a number.
    """
    if isinstance(activation, Activation):
        return activation
    if callable(activation):
        return Activation(activation, getattr(activation, "__name__", repr(activation)))
    if not isinstance(activation, str):
        raise TypeError(
            f"activation={activation!r}: expected a name (one of {', '.join(ACTIVATIONS)}) "
            "or a callable"
        )
    m = _CALL.match(activation.lower())
    if m is None:
        raise ValueError(f"activation={activation!r}: expected 'name' or 'name(value)'")
    name, arg = m.group(1), m.group(2)
    name = _ALIASES.get(name, name)
    if name in _PLAIN:
        if arg:
            raise ValueError(f"activation={activation!r}: {name!r} takes no parameter")
        return Activation(_PLAIN[name], name)
    if name in _PARAMETRIC:
        factory, default = _PARAMETRIC[name]
        if arg:
            try:
                value = float(arg)
            except ValueError:
                raise ValueError(
                    f"activation={activation!r}: parameter {arg!r} of {name!r} is not a number"
                ) from None
        else:
            value = default
        if name == "snake" and value == 0:
            raise ValueError(f"activation={activation!r}: snake's frequency a must be non-zero")
        return Activation(factory(value), f"{name}({value:g})")
    raise ValueError(
        f"activation={activation!r}: unknown activation; expected one of {', '.join(ACTIVATIONS)} "
        "or a callable"
    )
