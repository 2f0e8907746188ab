"""Initial guessing bias of one network: class fractions and output statistics over the inputs.

Francazi, Lucchi & Baity-Jesi, "Initial Guessing Bias: How Untrained Networks Favor Some
Classes" (ICML 2024). A network ``chi`` classifies each of ``n`` inputs by the argmax of its
outputs (one output: by its sign, with ``0`` counted as class 0, i.e. class 1 iff ``y > 0``);
``G_i`` is the fraction of inputs sent to class ``i``. Everything here takes ONE network's outputs
``(n_points, n_out)`` and runs under ``jit``: pass it as the ``stat`` of :func:`jaxbias.reduce` to
get it for many networks inside the compiled program (STYLE.md habit 3).

>>> import jax.numpy as jnp
>>> from jaxbias.measures import class_fractions
>>> class_fractions(jnp.array([[-1.0], [0.0], [2.0], [3.0]])).tolist()
[0.5, 0.5]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["class_fractions", "GuessingStats", "guessing_stats", "n_classes"]


def n_classes(n_out: int) -> int:
    """Number of classes of a network with ``n_out`` outputs: 2 for one output (its sign), else ``n_out``."""
    return 2 if n_out == 1 else n_out


def _check_outputs(outputs: jax.Array) -> jax.Array:
    if outputs.ndim != 2 or outputs.shape[0] < 1 or outputs.shape[1] < 1:
        raise ValueError(
            f"outputs with shape {tuple(outputs.shape)}: expected one network's outputs (n_points, n_out), "
            "n_points, n_out >= 1"
        )
    if not jnp.issubdtype(outputs.dtype, jnp.floating):
        raise ValueError(f"outputs with dtype {outputs.dtype}: expected floating outputs")
    return outputs


def class_fractions(outputs: jax.Array) -> jax.Array:
    """Fractions ``G_i`` of the inputs a network assigns to each class.

    Args:
      outputs: one network's outputs ``(n_points, n_out)``. With ``n_out == 1`` the class is the
        sign: class 1 iff ``y > 0`` (``y == 0`` counts as class 0); otherwise the argmax (ties go
        to the lowest index, as ``jnp.argmax``).

    Returns:
      ``(n_classes,)`` float32 fractions summing to 1 (``n_classes`` = 2 for one output); all NaN
      when an output is NaN or infinite: such a network assigns no classes (``NaN > 0`` is False,
      so it would otherwise send every input to class 0 and pass for the most biased network).
      Count and leave out such networks (``jnp.isnan(fractions[0])``).

    Raises:
      ValueError: ``outputs`` is not a floating ``(n_points, n_out)`` array.
    """
    outputs = _check_outputs(jnp.asarray(outputs))
    n_points, n_out = outputs.shape
    if n_out == 1:
        g1 = jnp.mean((outputs[:, 0] > 0).astype(jnp.float32))
        fractions = jnp.stack([1.0 - g1, g1])
    else:
        counts = jnp.bincount(jnp.argmax(outputs, axis=1), length=n_out)
        fractions = counts.astype(jnp.float32) / n_points
    return jnp.where(jnp.all(jnp.isfinite(outputs)), fractions, jnp.nan)


class GuessingStats(NamedTuple):
    """Per-network IGB statistics (leading network axis added by :func:`jaxbias.reduce`).

    Attributes:
      fractions: ``(n_classes,)`` class fractions ``G_i``.
      g0: ``()`` the fraction ``G_0`` of class 0.
      max_fraction: ``()`` ``max_i G_i``.
      sorted_fractions: ``(n_classes,)`` fractions in decreasing order.
      mean: ``(n_out,)`` mean of each output over the inputs.
      var: ``(n_out,)`` unbiased (``ddof=1``) variance of each output over the inputs (0 for one point).
    """

    fractions: jax.Array
    g0: jax.Array
    max_fraction: jax.Array
    sorted_fractions: jax.Array
    mean: jax.Array
    var: jax.Array


def guessing_stats(outputs: jax.Array) -> GuessingStats:
    """All per-network IGB statistics of one network's outputs ``(n_points, n_out)``.

    The output mean and variance over inputs feed the finite-n corrected estimator of ``gamma``
    (:func:`jaxbias.theory.estimate_gamma`); the fractions feed the law of ``G_0``.

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.mlp(width=32, depth=1, activation="relu")
      >>> x = jb.inputs.sphere(dim=8, n=50)
      >>> stats = jb.reduce(net, x, n=4, stat=jb.measures.guessing_stats, progress=False)
      >>> stats.fractions.shape, stats.g0.shape, stats.var.shape
      ((4, 2), (4,), (4, 1))
    """
    outputs = _check_outputs(jnp.asarray(outputs))
    fractions = class_fractions(outputs)
    y = outputs.astype(jnp.float32)
    n_points = y.shape[0]
    mean = jnp.mean(y, axis=0)
    var = jnp.sum(jnp.square(y - mean[None, :]), axis=0) / max(n_points - 1, 1)
    return GuessingStats(
        fractions=fractions,
        g0=fractions[0],
        max_fraction=jnp.max(fractions),
        sorted_fractions=-jnp.sort(-fractions),
        mean=mean,
        var=var,
    )
