"""Optimizers as typed, hashable, describable values built on optax.

``Optimizer("sgd", learning_rate=0.1, momentum=0.9)`` names an optax optimizer and its
hyperparameters. It builds ``optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)``,
so every numeric hyperparameter lives in the optimizer state and can differ from network to network
inside one compiled run (``jb.train(..., vary={"learning_rate": lrs})``), and it is written into the
result's attrs so the run can be repeated. A plain optax ``GradientTransformation`` is accepted too;
it is then described only by its type, and hyperparameters can vary only if it was made with
``optax.inject_hyperparams``.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import optax

__all__ = ["Optimizer", "resolve_optimizer"]


@dataclasses.dataclass(frozen=True, init=False)
class Optimizer:
    """An optax optimizer by name, with its hyperparameters: a hashable value.

    Attributes:
      name: an optax optimizer alias, e.g. ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``.
      hyperparams: ``((name, value), ...)`` sorted by name; numbers or strings or booleans.

    Example:
      >>> opt = Optimizer("sgd", learning_rate=0.1, momentum=0.9)
      >>> opt.describe()
      {'name': 'sgd', 'hyperparams': {'learning_rate': 0.1, 'momentum': 0.9}}
      >>> opt == Optimizer("sgd", momentum=0.9, learning_rate=0.1)
      True
    """

    name: str
    hyperparams: tuple

    def __init__(self, name: str, **hyperparams: Any):
        factory = getattr(optax, name, None) if isinstance(name, str) else None
        if not callable(factory) or name.startswith("_"):
            raise ValueError(f"name={name!r}: expected the name of an optax optimizer such as 'sgd', 'adam' or 'adamw'")
        for key, value in hyperparams.items():
            if not (value is None or isinstance(value, (numbers.Real, str, bool))):
                raise ValueError(f"{key}={value!r}: optimizer hyperparameters are numbers, strings, booleans or None")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "hyperparams", tuple(sorted(hyperparams.items())))

    def build(self, inject: bool = True) -> optax.GradientTransformation:
        """The optax transformation.

        Args:
          inject: keep the numeric hyperparameters in the optimizer state (``optax.inject_hyperparams``),
            so that they can differ from network to network; False builds the plain optax optimizer
            (hyperparameters as constants of the compiled program: a little faster when nothing varies).
        """
        factory = getattr(optax, self.name)
        try:
            return (optax.inject_hyperparams(factory) if inject else factory)(**dict(self.hyperparams))
        except TypeError as e:
            raise ValueError(f"Optimizer({self.name!r}, {dict(self.hyperparams)}): optax.{self.name} rejects these "
                             f"hyperparameters: {e}") from None

    def describe(self) -> dict:
        """A JSON-able description: ``{"name": ..., "hyperparams": {...}}``."""
        return {"name": self.name, "hyperparams": dict(self.hyperparams)}


def resolve_optimizer(optimizer: Any, inject: bool = True) -> tuple[optax.GradientTransformation, dict]:
    """``(transformation, description)`` of an :class:`Optimizer` (built with ``inject``, see
    :meth:`Optimizer.build`) or an optax ``GradientTransformation`` (as it is)."""
    if isinstance(optimizer, Optimizer):
        return optimizer.build(inject), optimizer.describe()
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer, {"name": "custom optax transformation", "type": type(optimizer).__name__}
    raise ValueError(f"optimizer={optimizer!r}: expected jb.training.Optimizer('sgd', learning_rate=...) or an optax "
                     "GradientTransformation such as optax.adam(1e-3)")
