"""Losses and accuracy of one network on a batch, as pure functions of its outputs and targets.

Conventions (stated in every training result's attrs):

- ``"mse"``: ``0.5 * mean((f - y)^2)`` over the batch's points and outputs. Under gradient flow on
  the full training set this gives ``df/dt = -(eta / N) Theta (f - y)``, with ``N`` the number of
  scalar training targets (points x outputs): the convention of Lee et al. 2019 ("Wide neural
  networks of any depth evolve as linear models under gradient descent", NeurIPS). Integer class
  labels are one-hot encoded.
- ``"cross_entropy"``: mean softmax cross-entropy with integer labels (``optax``).
- a callable ``loss(outputs (B, k), targets (B, ...)) -> scalar``: the user's own.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

__all__ = ["LOSSES", "resolve_loss", "accuracy"]

LOSSES = ("mse", "cross_entropy")
"""The losses :func:`jaxbias.train` knows by name (a callable ``loss(outputs, targets)`` serves too)."""


def mse(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """``0.5 * mean((outputs - targets)^2)``; integer ``targets (B,)`` are one-hot over the outputs."""
    if jnp.issubdtype(targets.dtype, jnp.integer):
        targets = jax.nn.one_hot(targets, outputs.shape[-1], dtype=outputs.dtype)
    return 0.5 * jnp.mean(jnp.square(outputs - targets.reshape(outputs.shape)))


def cross_entropy(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of logits ``(B, k)`` against integer labels ``(B,)``."""
    return jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(outputs, targets))


def resolve_loss(loss, classification: bool) -> tuple[Callable, str]:
    """``(function, name)`` for a loss name or callable; ValueError for an unknown name or a misfit."""
    if callable(loss):
        return loss, getattr(loss, "__qualname__", repr(loss))
    if loss == "mse":
        return mse, "mse"
    if loss == "cross_entropy":
        if not classification:
            raise ValueError("loss='cross_entropy': needs a classification dataset (integer labels); "
                             "use loss='mse' for regression targets")
        return cross_entropy, "cross_entropy"
    raise ValueError(f"loss={loss!r}: expected one of {', '.join(map(repr, LOSSES))} or a function "
                     "loss(outputs, targets) -> scalar")


def accuracy(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of points whose largest output is the label (one output: its sign, label 1 for > 0)."""
    if outputs.shape[-1] == 1:
        predicted = (outputs[..., 0] > 0).astype(labels.dtype)
    else:
        predicted = jnp.argmax(outputs, axis=-1).astype(labels.dtype)
    return jnp.mean((predicted == labels).astype(outputs.dtype))
