"""Kernels averaged over random initializations: NTK mean and spread, Monte Carlo NNGP.

Both run through the engine (:func:`jaxbias.summarize`): network ``i`` is
``net.init(fold_in(key, i), x)`` as everywhere in jaxbias, every chunk of networks is drawn,
evaluated and reduced in one compiled program sharded over the devices, and only the running
moments leave the device, so memory is bounded by the chunk whatever ``n``.

* NTK over inits: mean, standard deviation and standard error of the empirical NTK entries
  (neural-tangents returns only the mean; the spread is the finite-width fluctuation of
  Hanin & Nica, ICLR 2020, which grows with depth/width).
* NNGP by Monte Carlo (Neal 1996; Lee et al., ICLR 2018; Novak et al., ICLR 2019, neural-tangents'
  ``monte_carlo_kernel_fn``): ``K(x, x') = E[f(x) f(x')]`` at init, estimated as the mean over
  networks of ``(1/O) sum_o f_o(x) f_o(x')`` (``trace=True``) or of ``f_o(x) f_o'(x')``.

>>> import jaxbias as jb
>>> net = jb.nets.mlp(32, 2, "relu")
>>> x = jb.inputs.sphere(3, 6)
>>> jb.kernels.nngp_monte_carlo(net, x, n=16, progress=False).mean.shape
(6, 6)
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxbias.engine import summarize
from jaxbias.kernels.empirical import _check_points, ntk_fn
from jaxbias.nets.core import Net
from jaxbias.summaries import moments

__all__ = ["KernelMoments", "ntk_moments", "nngp_monte_carlo"]


class KernelMoments(NamedTuple):
    """Moments of a kernel over ``n`` random networks, entry by entry.

    Attributes:
      mean: mean kernel, ``(n1, n2)`` (traced) or ``(n1, n2, O, O)``; diagonal ``(n1,)`` / ``(n1, O, O)``.
      std: standard deviation over networks (unbiased), same shape.
      sem: standard error of the mean, ``std / sqrt(n)``.
      n: number of networks.
    """

    mean: np.ndarray
    std: np.ndarray
    sem: np.ndarray
    n: int


def _stack(x1, x2):
    x1 = _check_points("x1", x1)
    if x2 is None:
        return x1, None
    x2 = _check_points("x2", x2)
    if x2.shape[1:] != x1.shape[1:]:
        raise ValueError(f"x2 with shape {tuple(x2.shape)}: expected points of the same shape as x1 {tuple(x1.shape[1:])}")
    return jnp.concatenate([x1, x2], axis=0), x1.shape[0]


def _moments(result: dict) -> KernelMoments:
    var = np.maximum(np.asarray(result["var"], np.float64), 0.0)
    return KernelMoments(np.asarray(result["mean"]), np.sqrt(var), np.asarray(result["sem"]), int(result["count"]))


@functools.lru_cache(maxsize=64)
def _ntk_apply(kernel: Callable, split: int | None) -> Callable:
    """``apply(params, x)`` returning the NTK of ``x[:split]`` against ``x[split:]`` (one engine program)."""

    def apply(params, x):
        return kernel(params, x) if split is None else kernel(params, x[:split], x[split:])

    return apply


@functools.lru_cache(maxsize=64)
def _nngp_stat(split: int | None, trace: bool) -> Callable:
    def stat(y):
        y1, y2 = (y, y) if split is None else (y[:split], y[split:])
        if trace:
            return y1 @ y2.T / y.shape[1]
        return jnp.einsum("ao,bp->abop", y1, y2)

    return stat


def ntk_moments(net: Net, x1: Any, x2: Any = None, *, n: int, key: Any = 0, method: str = "auto",
                trace: bool = True, diagonal: bool = False, wrt: Callable | None = None,
                chunk_size: int | None = None, memory_budget: int | str | None = None,
                progress: bool | None = None) -> KernelMoments:
    """Mean and spread of the empirical NTK over ``n`` networks, in one compiled program per chunk.

    Args:
      net: a :class:`~jaxbias.nets.Net`.
      x1, x2: points ``(n1, ...)``, ``(n2, ...)``; ``x2=None`` for ``x1`` against itself.
      n: number of networks.
      key: int seed or key; network ``i`` is ``net.init(fold_in(key, i), x)``.
      method, trace, diagonal, wrt: as in :func:`jaxbias.kernels.empirical_ntk`.
      chunk_size, memory_budget, progress: as in :func:`jaxbias.reduce`.

    Returns:
      :class:`KernelMoments` of the kernel entries.
    """
    if diagonal and x2 is not None:
        raise ValueError("diagonal=True: the diagonal T(x_i, x_i) needs x2=None")
    for name, flag in (("trace", trace), ("diagonal", diagonal)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}={flag!r}: expected True or False")
    x, split = _stack(x1, x2)
    kernel = ntk_fn(net, method=method, trace=bool(trace), diagonal=bool(diagonal), wrt=wrt)
    wrapped = Net(net.init, _ntk_apply(kernel, split), net.config)
    return _moments(summarize(wrapped, x, n, key, summary=moments(), chunk_size=chunk_size,
                              memory_budget=memory_budget, progress=progress))


def nngp_monte_carlo(net: Net, x1: Any, x2: Any = None, *, n: int, key: Any = 0, trace: bool = True,
                     chunk_size: int | None = None, memory_budget: int | str | None = None,
                     progress: bool | None = None) -> KernelMoments:
    """NNGP kernel ``E[f(x) f(x')]`` by Monte Carlo over ``n`` networks, with its standard error.

    Args:
      net: a :class:`~jaxbias.nets.Net`.
      x1, x2: points; ``x2=None`` for ``x1`` against itself.
      n: number of networks.
      key: seed; the same networks as ``jb.sample(net, x, n, key)``.
      trace: average ``f_o(x) f_o(x')`` over output units (``(n1, n2)``), or keep ``(n1, n2, O, O)``.
      chunk_size, memory_budget, progress: as in :func:`jaxbias.reduce`.

    Returns:
      :class:`KernelMoments`; ``sem`` is the Monte Carlo error of ``mean``.
    """
    x, split = _stack(x1, x2)
    if not isinstance(trace, bool):
        raise ValueError(f"trace={trace!r}: expected True or False")
    return _moments(summarize(net, x, n, key, stat=_nngp_stat(split, trace), summary=moments(),
                              chunk_size=chunk_size, memory_budget=memory_budget, progress=progress))
