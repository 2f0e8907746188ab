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
  networks of ``(1/O) sum_o f_o(x) f_o(x')`` (``trace=True``) or of ``f_o(x) f_o'(x')``
  (``estimator="networks"``).
* The same finite-width NNGP by conditional Monte Carlo (``estimator="conditional"``, plain
  :func:`jaxbias.nets.mlp` nets with normal weights): given the last-but-one hidden layer
  ``h = h_(L-1)`` of width ``n``, the pre-activations of the last hidden layer are iid over units,
  Gaussian with covariance ``K_L = C_b + C_W h h^T / n``, and the readout is independent of
  everything before it, so ``E[f(x) f(x') | h] = C_b' + C_W' E[phi(u) phi(v)]``, ``(u, v) ~ N(0, K_L)``,
  exactly (closed form or quadrature, as in :func:`jaxbias.kernels.nngp_step`). Averaging this over
  draws of layers ``1 .. L-1`` estimates the same kernel (the tower property) with a smaller variance
  (Rao-Blackwell), and each draw skips the two widest random matrices: the last hidden layer's
  weights and the readout. The draws are not ``jb.sample``'s networks, and the spread is that of the
  conditional kernel over layers ``1 .. L-1``, not the spread of ``f f'`` over networks. At depth
  <= 1 nothing is random: the result is exact (the finite-width NNGP of a one-hidden-layer net is the
  infinite-width one).

>>> import jaxbias as jb
>>> net = jb.nets.mlp(32, 2, "relu")
>>> x = jb.inputs.sphere(3, 6)
>>> jb.kernels.nngp_monte_carlo(net, x, n=16, progress=False).mean.shape
(6, 6)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.engine import summarize
from jaxbias.kernels.empirical import ntk_fn
from jaxbias.kernels.gaussian import check_accuracy, phi_phi
from jaxbias.nets.activations import get_activation
from jaxbias.nets.core import Net
from jaxbias.nets.mlp import MLP, plain_mlp
from jaxbias.summaries import moments
from jaxbias.validation import check_n, check_points

__all__ = ["KernelMoments", "ntk_moments", "nngp_monte_carlo", "ESTIMATORS"]

ESTIMATORS = ("networks", "conditional")


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
    x1 = check_points("x1", x1)
    if x2 is None:
        return x1, None
    x2 = check_points("x2", x2)
    if x2.shape[1:] != x1.shape[1:]:
        raise ValueError(f"x2 with shape {tuple(x2.shape)}: expected points of the same shape as x1 {tuple(x1.shape[1:])}")
    return jnp.concatenate([x1, x2], axis=0), x1.shape[0]


def _moments(result: dict) -> KernelMoments:
    var = np.maximum(np.asarray(result["var"], np.float64), 0.0)
    return KernelMoments(np.asarray(result["mean"]), np.sqrt(var), np.asarray(result["sem"]), int(result["count"]))


@dataclasses.dataclass(frozen=True)
class _NTKApply:
    """``apply(params, x)`` returning the NTK of ``x[:split]`` against ``x[split:]`` (hashable: one engine program)."""

    kernel: Callable
    split: int | None

    def __call__(self, params, x):
        return self.kernel(params, x) if self.split is None else self.kernel(params, x[:self.split], x[self.split:])


@dataclasses.dataclass(frozen=True)
class _NNGPStat:
    """``stat(y)``: one network's contribution ``f(x1) f(x2)^T`` to the NNGP (hashable: one engine program)."""

    split: int | None
    trace_outputs: bool  # not "trace": jax.jit copies a callable's attributes onto the jitted function

    def __call__(self, y):
        y1, y2 = (y, y) if self.split is None else (y[:self.split], y[self.split:])
        if self.trace_outputs:
            return y1 @ y2.T / y.shape[1]
        return jnp.einsum("ao,bp->abop", y1, y2)


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
    wrapped = Net(net.init, _NTKApply(kernel, split), "ntk")
    return _moments(summarize(wrapped, x, n=n, key=key, summary=moments(), chunk_size=chunk_size,
                              memory_budget=memory_budget, progress=progress))


class _Integrated(NamedTuple):
    """The layers the conditional estimator integrates exactly (hashable: it keys the stat's cache)."""

    activation: str
    last: tuple[float, float]  # (C_W, C_b) of hidden layer L (at depth 0: of the readout)
    readout: tuple[float, float] | None  # (C_W, C_b) of the readout (None at depth 0)
    pre_activated: bool  # features are hidden layer L-1's pre-activations (False: the inputs x)


def _conditional(net: Net) -> tuple[Net | None, _Integrated]:
    """Validates ``net`` for ``estimator="conditional"``; returns the trunk (layers ``1 .. L-1``) and the rest.

    The trunk maps ``x`` to the pre-activations of hidden layer ``L-1`` (None at depth <= 1).
    """
    where = "estimator='conditional'"
    net = plain_mlp(net, where, "; use estimator='networks'")
    if callable(net.activation):
        raise ValueError(f"{where}: the net's activation {net.activation!r} is not a known name (it was "
                         "built with a callable): use estimator='networks'")
    activation, depth, widths, bias = net.activation, net.depth, net.width, net.bias
    cws = net.weight_var
    cbs = net.bias_var if bias else (0.0,) * (depth + 1)
    if depth == 0:
        return None, _Integrated(activation, (cws[0], cbs[0]), None, False)
    rest = _Integrated(activation, (cws[depth - 1], cbs[depth - 1]), (cws[depth], cbs[depth]), depth >= 2)
    if depth == 1:
        return None, rest
    # Layers 1 .. L-1, ending at hidden layer L-1's pre-activations.
    trunk = MLP(widths[:depth - 2], depth - 2, activation, out=widths[depth - 2], weight_var=cws[:depth - 1],
                bias_var=cbs[:depth - 1], bias=bias, parameterization=net.parameterization, in_dim=net.in_dim)
    return trunk, rest


def _conditional_kernel(spec: _Integrated, features: jax.Array) -> jax.Array:
    """``E[f(x) f(x') | features]``, ``(P, P)``, from features ``(P, n)`` (module docstring)."""
    h = get_activation(spec.activation).fn(features) if spec.pre_activated else features
    cw, cb = spec.last
    k = cb + cw * (h @ h.T) / h.shape[1]
    if spec.readout is None:
        return k
    d = jnp.diagonal(k)
    cw, cb = spec.readout
    return cb + cw * phi_phi(spec.activation, d[:, None], k, d[None, :])


@dataclasses.dataclass(frozen=True)
class _ConditionalStat:
    """``stat(features)``: the conditional kernel, sliced to ``x1`` x ``x2`` and expanded over outputs (hashable)."""

    spec: _Integrated
    split: int | None
    trace_outputs: bool  # not "trace" (see _NNGPStat)
    out: int

    def __call__(self, features):
        k = _conditional_kernel(self.spec, features)
        if self.split is not None:
            k = k[:self.split, self.split:]
        return k if self.trace_outputs else jnp.einsum("ab,op->abop", k, jnp.eye(self.out, dtype=k.dtype))


def nngp_monte_carlo(net: Net, x1: Any, x2: Any = None, *, n: int, key: Any = 0, trace: bool = True,
                     estimator: str = "networks", chunk_size: int | None = None,
                     memory_budget: int | str | None = None, progress: bool | None = None) -> KernelMoments:
    """NNGP kernel ``E[f(x) f(x')]`` by Monte Carlo over ``n`` networks, with its standard error.

    Args:
      net: a :class:`~jaxbias.nets.Net`.
      x1, x2: points; ``x2=None`` for ``x1`` against itself.
      n: number of networks (``"conditional"``: of draws of layers ``1 .. L-1``).
      key: seed; with ``estimator="networks"`` the same networks as ``jb.sample(net, x, n=n, key=key)``.
      trace: average ``f_o(x) f_o(x')`` over output units (``(n1, n2)``), or keep ``(n1, n2, O, O)``.
      estimator: ``"networks"`` (the mean of ``f f'`` over networks: any net) or ``"conditional"``
        (the last hidden layer and the readout integrated exactly, module docstring: plain
        :func:`jaxbias.nets.mlp` nets with normal weights and a named activation; same expectation,
        smaller variance, fewer random numbers).
      chunk_size, memory_budget, progress: as in :func:`jaxbias.reduce`.

    Returns:
      :class:`KernelMoments`; ``sem`` is the Monte Carlo error of ``mean``. With
      ``"conditional"``, ``std`` is the spread of the conditional kernel over draws of layers
      ``1 .. L-1`` (zero at depth <= 1, where the result is exact).

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.mlp(64, 2, "relu", weight_var=2.0)
      >>> x = jb.inputs.sphere(3, 5)
      >>> k = jb.kernels.nngp_monte_carlo(net, x, n=64, estimator="conditional", progress=False)
      >>> k.mean.shape, bool((k.sem < 0.05).all())
      ((5, 5), True)
    """
    x, split = _stack(x1, x2)
    if not isinstance(trace, bool):
        raise ValueError(f"trace={trace!r}: expected True or False")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator={estimator!r}: expected one of {', '.join(map(repr, ESTIMATORS))}")
    if estimator == "networks":
        return _moments(summarize(net, x, n=n, key=key, stat=_NNGPStat(split, trace), summary=moments(),
                                  chunk_size=chunk_size, memory_budget=memory_budget, progress=progress))
    trunk, spec = _conditional(net)
    stat = _ConditionalStat(spec, split, trace, net.out)
    if trunk is None:  # nothing random below the integrated layers: the exact kernel
        n = check_n(n)
        in_dim = net.in_dim
        if x.ndim != 2 or (in_dim is not None and x.shape[1] != in_dim):
            raise ValueError(f"x1 with shape {tuple(np.shape(x1))}: the mlp expects inputs of shape "
                             f"(n_points, {in_dim or 'd'})")
        mean = np.asarray(jax.jit(stat)(x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)))
        check_accuracy(mean, f"conditional NNGP of activation {spec.activation!r} (readout expectation)")
        zero = np.zeros_like(mean)
        return KernelMoments(mean, zero, zero, n)
    result = _moments(summarize(trunk, x, n=n, key=key, stat=stat, summary=moments(), chunk_size=chunk_size,
                                memory_budget=memory_budget, progress=progress))
    check_accuracy(result.mean, f"conditional NNGP of activation {spec.activation!r} (readout expectation)")
    return result
