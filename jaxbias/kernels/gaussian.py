"""Gaussian expectations of activations: the building block of every infinite-width kernel.

For ``(u, v) ~ N(0, [[k11, k12], [k12, k22]])`` this module computes ``E[f(u, v)]`` by 2-D
quadrature (:func:`gauss_expect`), and the two expectations the NNGP and NTK
recursions need (Neal 1996, Lee et al. ICLR 2018, Jacot et al. NeurIPS 2018):

* :func:`phi_phi` ``E[phi(u) phi(v)]``,
* :func:`dphi_dphi` ``E[phi'(u) phi'(v)]``,

with closed forms where they exist (arc-cosine kernels of Cho & Saul, NeurIPS 2009, for relu and
step and, as linear combinations, leaky_relu(a), abs and centred_relu; Williams, NeurIPS 1997, for
erf; Gaussian integrals of exponentials for sin, cos, gaussian and snake(a); identity) and
quadrature for every other activation of :mod:`jaxbias.nets.activations` or any elementwise
callable.

Accuracy policy (one place for kernels, theory and IGB alike): closed forms are exact; every
quadrature result meets :data:`RTOL` (``1e-8`` of ``E|f|`` in float64, ``1e-5`` in float32) by an
a-posteriori error estimate over the rules of :data:`ORDERS`, at any variance, or it is NaN under
``jit`` and a ``ValueError`` for concrete arguments (:func:`check_accuracy`, which the functions that
``jit`` expectations apply to their outputs).

Every function is pure, broadcasts its kernel arguments against each other, runs under ``jit`` and
is differentiable in the kernel arguments to any order (``jax.grad``, ``jax.jacfwd``,
``jax.hessian``), in float32 or float64 (with ``jax_enable_x64``).

Derivatives of the quadrature use Gaussian integration by parts (Price's theorem,
``dE[f]/dk12 = E[f_uv]``, and ``dE[f]/dk11 = (E[u f_u] - k12 E[f_uv]) / (2 k11)``) through a
``jax.custom_jvp``, never the derivative of the Cholesky factor: they stay finite at singular
covariances (``k12^2 = k11 k22``, e.g. two equal inputs, where the theory of
:mod:`jaxbias.theory` evaluates Jacobians and Hessians of the layer map). First derivatives need
only ``f_u``, ``f_v`` and ``f_uv``, so they are right for activations with kinks (their a.e.
derivatives carry no delta); second and higher derivatives of the quadrature need ``phi''`` and
miss the delta of a kink where ``phi'`` jumps (relu, leaky_relu, abs, step have closed forms that
are exact; ``selu`` has no closed form, so :mod:`jaxbias.theory.finite_width` takes its second
derivatives by finite differences of accurate values instead). At exactly zero variance
(``k11 = 0``) the derivative in ``k11`` falls back to ``E[f_uu] / 2``.

Conventions for activations that are not differentiable everywhere: ``phi'`` is the
almost-everywhere derivative, the one ``jax.grad`` and gradient descent see. For ``step`` it is 0,
so by default ``dphi_dphi("step", ...) = 0`` (the NTK of a step network gets no contribution
through its activations, as for the empirical NTK of :mod:`jaxbias.kernels`); pass
``distributional=True`` to get ``E[delta(u) delta(v)] = 1 / (2 pi sqrt(k11 k22 - k12^2))``
instead (infinite at singular covariances). The arc-cosine closed forms take the correlation 0 when
a variance is exactly 0 (the value of ``H(0) = 1/2``, jax's derivative of relu at 0), except that
``phi_phi("step", ...)`` is 0 there since jaxbias' step has ``H(0) = 0``.

>>> import jaxbias as jb
>>> round(float(jb.kernels.phi_phi("relu", 1.0, 0.0, 1.0)), 6)  # 1 / (2 pi)
0.159155
"""

from __future__ import annotations

import functools
import math
import re
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial.legendre import leggauss

from jaxbias.caches import bounded_cache
from jaxbias.nets.activations import Activation, get_activation
from jaxbias.validation import check_kernel

__all__ = [
    "RTOL",
    "ORDERS",
    "CLOSED_FORMS",
    "check_accuracy",
    "fixed_rule_expect",
    "has_closed_form",
    "gauss_expect",
    "phi_phi",
    "dphi_dphi",
    "phi_sq",
    "dphi_sq",
    "phi_mean",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# ---------------------------------------------------------------------------------------------
# Argument handling


def float_dtype(*xs) -> jnp.dtype:
    """The widest floating dtype among ``xs`` (the default float for Python numbers and ints)."""
    default = jnp.result_type(float)
    dtypes = [jnp.asarray(x).dtype for x in xs]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    if not floats:
        return default
    return max(floats, key=lambda d: jnp.dtype(d).itemsize)


def _kernel_args(k11, k12, k22, names=("k11", "k12", "k22")):
    """Checks (when concrete) and broadcasts the covariance entries to one float dtype and shape."""
    dtype = float_dtype(k11, k12, k22)
    ks = [jnp.asarray(k).astype(dtype) for k in (k11, k12, k22)]
    _check_covariance(ks, names)
    try:
        return tuple(jnp.broadcast_arrays(*ks))
    except ValueError:
        raise ValueError(
            f"{names[0]}, {names[1]}, {names[2]} with shapes {[tuple(k.shape) for k in ks]}: "
            "expected shapes that broadcast together"
        ) from None


def _check_covariance(ks, names) -> None:
    if all(not isinstance(k, jax.core.Tracer) for k in ks):
        check_kernel(*ks, names=names, dtype=ks[0].dtype)


# ---------------------------------------------------------------------------------------------
# Quadrature: one accuracy policy for every expectation without a closed form


RTOL = {"float64": 1e-8, "float32": 1e-5}
"""Accuracy every quadrature result is held to, by dtype: ``|error| <= RTOL * E|f|``.

``E|f|`` (computed on the same nodes) bounds ``|E f|``; for :func:`phi_phi` it is at most
``sqrt(E phi(u)^2 E phi(v)^2)``, so the tolerance is relative to the kernel's own scale. The error is
estimated a posteriori (:data:`ORDERS`); a result that cannot meet the tolerance is NaN under
``jit`` and a ``ValueError`` for concrete arguments, never a silently wrong number."""

ORDERS = (24, 32, 48, 96, 192)
"""Gauss-Legendre nodes per piece of the successive rules (``4 n^2`` evaluations of ``fn`` per entry).

Rule ``i`` is accepted when ``|Q_i - Q_(i-1)| + tail_i <= RTOL * E|f|``: the difference estimates
the error of the coarser rule, so the accepted value is conservatively within tolerance (``tail`` is
``E|f|`` beyond 8 standard deviations, which flags integrands that the range ``[-10, 10]`` would
truncate). Smooth activations and activations with a kink at 0 stop at 32 or 48 nodes at moderate
variance; 96 nodes reached ~1e-13 against nested adaptive quadrature for tanh, softplus and selu up
to variance 1e6 at every correlation tried (tests/test_gaussian_accuracy.py checks the policy over
variances 1e-4..1e4 and all correlations). Each rule adds ~0.5-1 s to the first compilation of an
integrand inside ``jit`` (concrete calls compile only the rules they use)."""

_CUT = 10.0
"""Integration range [-_CUT, _CUT] in standard-normal units (the Gaussian tail beyond is ~1e-23)."""

_TAIL = 8.0
"""Nodes beyond this many standard deviations make up the truncation indicator ``tail``."""


@bounded_cache(maxsize=64)
def _nodes(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1]."""
    return leggauss(order)


def _sinh_rule(length, scale, order: int, dtype):
    """Nodes ``t`` and weights on ``[0, length]``, clustered near 0 on the scale ``scale``.

    The sinh map ``t = lo sinh(s)``, Gauss-Legendre in ``s`` on ``[0, asinh(length / lo)]``,
    ``lo = min(scale, length)``, spreads the nodes evenly in ``log t`` between ``lo`` and ``length``
    (the sinh transformation for nearly singular integrands; Johnston & Elliott 2005). At large
    variance an activation's whole structure (tanh's saturation, the neighbourhood of a kink) lies
    within ``1/sqrt(k)`` standard deviations of the split, where a plain rule on ``[0, 10]`` has
    almost no node. Shapes: ``length``, ``scale`` ``S``; returns two ``S + (order,)`` arrays.
    """
    x, w = _nodes(order)
    shape = (1,) * jnp.ndim(length) + x.shape
    x, w = jnp.asarray(x, dtype).reshape(shape), jnp.asarray(w, dtype).reshape(shape)
    lo = jnp.minimum(scale, length)
    lo = jnp.where(lo > 0, lo, 1)
    top = jnp.arcsinh(length / lo)[..., None]
    s = top * (x + 1) / 2
    t = lo[..., None] * jnp.sinh(s)
    weight = lo[..., None] * jnp.cosh(s) * top / 2 * w
    return t, jnp.where(length[..., None] > 0, weight, 0)


def _density(z):
    return jnp.exp(-z * z / 2) * _INV_SQRT_2PI


def _inverse(x):
    """``1 / x`` where ``x > 0``, else ``inf`` (no small scale to resolve)."""
    return jnp.where(x > 0, 1 / jnp.where(x > 0, x, 1), jnp.inf)


def _safe_div(num, den):
    """``num / den`` where ``den != 0``, else 0 (no NaN in values or derivatives)."""
    ok = den != 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), 0)


def _rule(fn, k11, k12, k22, order: int):
    """``(E f, E|f|, tail)`` by the product rule of :func:`gauss_expect`, ``order`` nodes per piece."""
    dtype = k11.dtype
    # (u, v) = (a z1, c z1 + r z2): the Cholesky factor, with c = r = 0 where k11 = 0.
    a = jnp.sqrt(k11)
    c = _safe_div(k12, a)
    r = jnp.sqrt(jnp.maximum(k22 - c * c, 0))
    cut = jnp.full_like(a, _CUT)
    # Outer z1: pieces [-L, 0] and [0, L] (u's kink), clustered near 0 on the scale where u, or the
    # mean of v given z1, reaches 1.
    t1, w1 = _sinh_rule(cut, _inverse(jnp.maximum(a, jnp.abs(c))), order, dtype)
    z1 = jnp.concatenate([-t1, t1], axis=-1)
    w1 = jnp.concatenate([w1, w1], axis=-1) * _density(z1)
    inner_scale = _inverse(r)

    def body(acc, node):
        z1_, w1_ = node
        # Inner z2: pieces either side of where v = c z1 + r z2 crosses 0 (v's kink), clustered there.
        split = jnp.clip(_safe_div(-c * z1_, r), -_CUT, _CUT)
        tl, wl = _sinh_rule(_CUT + split, inner_scale, order, dtype)
        tr, wr = _sinh_rule(_CUT - split, inner_scale, order, dtype)
        z2 = jnp.concatenate([split[..., None] - tl, split[..., None] + tr], axis=-1)
        w2 = jnp.concatenate([wl, wr], axis=-1) * _density(z2)
        u = (a * z1_)[..., None]
        v = (c * z1_)[..., None] + r[..., None] * z2
        f = jnp.broadcast_to(fn(u, v), v.shape).astype(dtype)
        far = (jnp.abs(z1_)[..., None] > _TAIL) | (jnp.abs(z2) > _TAIL)
        value, size, tail = acc
        return (value + w1_ * jnp.sum(f * w2, axis=-1),
                size + w1_ * jnp.sum(jnp.abs(f) * w2, axis=-1),
                tail + w1_ * jnp.sum(jnp.where(far, jnp.abs(f), 0) * w2, axis=-1)), None

    zero = jnp.zeros(k11.shape, dtype)
    nodes = (jnp.moveaxis(z1, -1, 0), jnp.moveaxis(w1, -1, 0))
    acc, _ = jax.lax.scan(body, (zero, zero, zero), nodes)
    return acc


def _rule_1d(fn, k, order: int):
    """``(E f(u), E|f(u)|, tail)`` for ``u ~ N(0, k)``: the outer rule of :func:`_rule` alone (``k12^2 = k11 k22``)."""
    dtype = k.dtype
    a = jnp.sqrt(k)
    t, w = _sinh_rule(jnp.full_like(a, _CUT), _inverse(a), order, dtype)
    z = jnp.concatenate([-t, t], axis=-1)
    w = jnp.concatenate([w, w], axis=-1) * _density(z)
    u = a[..., None] * z
    f = jnp.broadcast_to(fn(u), u.shape).astype(dtype)
    return (jnp.sum(f * w, axis=-1), jnp.sum(jnp.abs(f) * w, axis=-1),
            jnp.sum(jnp.where(jnp.abs(z) > _TAIL, jnp.abs(f), 0) * w, axis=-1))


def _rtol(dtype) -> float:
    return RTOL["float64"] if jnp.dtype(dtype).itemsize >= 8 else RTOL["float32"]


def _adaptive(rule, fn, *ks):
    """``E f`` by ``rule`` (:func:`_rule` or :func:`_rule_1d`) with each order of :data:`ORDERS` in turn until
    the error estimate meets :data:`RTOL`; NaN where none does.

    Elementwise over arrays of any shape already, so ``vmap`` of it is the same program on the stacked
    arrays (a custom batching rule): the default rule would turn the rule switch inside the loop into
    a select that evaluates every rule at every step.
    """

    @jax.custom_batching.custom_vmap
    def run(*ks):
        return _adaptive_loop(rule, fn, *ks)

    @run.def_vmap
    def _batched(axis_size, in_batched, *ks):
        ks = [k if batched else jnp.broadcast_to(k, (axis_size,) + k.shape) for k, batched in zip(ks, in_batched)]
        return run(*ks), True

    return run(*ks)


def _adaptive_loop(rule, fn, *ks):
    rtol = _rtol(ks[0].dtype)
    rules = [functools.partial(rule, fn, order=n) for n in ORDERS]
    previous = rules[0](*ks)[0]
    value, size, tail = rules[1](*ks)
    ok = jnp.abs(value - previous) + tail <= rtol * size
    result = jnp.where(ok, value, jnp.nan)

    def unfinished(state):
        i, _, ok, _ = state
        return (i < len(rules) - 1) & ~jnp.all(ok)

    def refine(state):
        i, previous, ok, result = state
        value, size, tail = jax.lax.switch(i + 1, rules, *ks)
        accept = ~ok & (jnp.abs(value - previous) + tail <= rtol * size)
        return i + 1, value, ok | accept, jnp.where(accept, value, result)

    state = (jnp.asarray(1), value, ok, result)
    return jax.lax.while_loop(unfinished, refine, state)[3]


def _partial(fn: Callable, arg: int) -> Callable:
    """Elementwise partial derivative of an elementwise ``fn(u, v)`` in argument ``arg``."""

    def d(u, v):
        if arg == 0:
            return jax.jvp(lambda s: fn(s, v), (u,), (jnp.ones_like(u),))[1]
        return jax.jvp(lambda s: fn(u, s), (v,), (jnp.ones_like(v),))[1]

    return d


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 4))
def _expect(fn, k11, k12, k22, order=None):
    """``E fn``: adaptive to :data:`RTOL` (``order=None``) or by the fixed rule of ``order`` nodes per piece."""
    if order is None:
        return _adaptive(_rule, fn, k11, k12, k22)
    return _rule(fn, k11, k12, k22, order)[0]


@_expect.defjvp
def _expect_jvp(fn, order, primals, tangents):
    k11, k12, k22 = primals
    d11, d12, d22 = tangents
    out = _expect(fn, k11, k12, k22, order)
    f_u, f_v = _partial(fn, 0), _partial(fn, 1)
    f_uv = _partial(f_u, 1)
    e_uv = _expect(f_uv, k11, k12, k22, order)

    def diagonal(k, f_x, x_index, f_xx):
        # dE/dk11 = (E[u f_u] - k12 E[f_uv]) / (2 k11) (scale and correlation moves, Price's theorem
        # for the correlation); where k11 = 0 it is E[f_uu] / 2 (Price).
        moment = _expect(lambda u, v: f_x(u, v) * (u if x_index == 0 else v), k11, k12, k22, order)
        second = _expect(f_xx, k11, k12, k22, order)
        return jnp.where(k > 0, _safe_div(moment - k12 * e_uv, 2 * k), second / 2)

    e11 = diagonal(k11, f_u, 0, _partial(f_u, 0))
    e22 = diagonal(k22, f_v, 1, _partial(f_v, 1))
    return out, e11 * d11 + e_uv * d12 + e22 * d22


_expect_jit = jax.jit(_expect, static_argnums=(0, 4))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 2))
def _expect_1d(fn, k, order=None):
    """``E fn(u)``, ``u ~ N(0, k)``: adaptive (``order=None``) or the fixed rule of ``order`` nodes."""
    if order is None:
        return _adaptive(_rule_1d, fn, k)
    return _rule_1d(fn, k, order)[0]


@_expect_1d.defjvp
def _expect_1d_jvp(fn, order, primals, tangents):
    (k,), (dk,) = primals, tangents
    # dE/dk = E[u f'(u)] / (2k) (Gaussian integration by parts: first derivatives only, right for
    # kinks); where k = 0 it is f''(0) / 2 (Price).
    df = _derivative(fn)
    moment = _expect_1d(lambda u: u * df(u), k, order)
    second = _expect_1d(_derivative(df), k, order)
    return _expect_1d(fn, k, order), jnp.where(k > 0, _safe_div(moment, 2 * k), second / 2) * dk


_expect_1d_jit = jax.jit(_expect_1d, static_argnums=(0, 2))


def fixed_rule_expect(fn: Callable, k11, k12, k22, order: int, *, estimate: bool = True):
    """``E f`` (and its relative error estimate) by the rule of ``order`` nodes per piece, no adaptive choice.

    A fixed rule is a smooth function of the kernel entries (its nodes move smoothly with them): what
    finite differences need, and cheap to differentiate (one rule per derivative integrand, with the
    integration-by-parts derivatives of the module docstring). The adaptive :func:`gauss_expect`
    may switch rules between neighbouring kernels. The estimate ``(|Q_order - Q_2order| + tail) / E|f|``
    bounds the relative error of ``Q_order`` conservatively (not differentiated); ``estimate=False``
    returns ``E f`` alone. Arguments as :func:`gauss_expect`, already broadcast to one float dtype.
    """
    value = _expect(fn, k11, k12, k22, order)
    if not estimate:
        return value
    _, size, tail = _rule(fn, *(jax.lax.stop_gradient(k) for k in (k11, k12, k22)), order)
    finer = _rule(fn, *(jax.lax.stop_gradient(k) for k in (k11, k12, k22)), 2 * order)[0]
    error = (jnp.abs(finer - jax.lax.stop_gradient(value)) + tail) / jnp.where(size > 0, size, 1)
    return value, error


def check_accuracy(value, what: str, *kernel) -> None:
    """Raises ValueError where a concrete result of this module is not finite (its accuracy check failed).

    Every quadrature result that misses :data:`RTOL` is NaN (no exception can be raised under
    ``jit``); functions that ``jit`` expectations call this on their concrete outputs.

    Args:
      value: the result (an array or a pytree of arrays; traced leaves are skipped).
      what: what was computed, for the message (e.g. ``"E[phi(u) phi(v)] for activation 'tanh'"``).
      kernel: the covariance entries ``k11, k12, k22`` (the message shows the first failing entry).
    """
    for leaf in jax.tree_util.tree_leaves(value):
        if isinstance(leaf, jax.core.Tracer):
            continue
        leaf = np.asarray(leaf)
        bad = ~np.isfinite(leaf)
        if not np.any(bad):
            continue
        where = ""
        if kernel and not any(isinstance(k, jax.core.Tracer) for k in kernel):
            try:
                ks = np.broadcast_arrays(*(np.asarray(k, np.float64) for k in kernel), bad)
                index = np.unravel_index(int(np.argmax(ks[-1])), ks[-1].shape)
                where = f" at (k11, k12, k22) = {tuple(float(k[index]) for k in ks[:-1])}"
            except ValueError:
                pass
        raise ValueError(
            f"{what}{where}: {int(bad.sum())} of {bad.size} values are not finite: the integrand is not "
            f"finite there, or varies too fast for the quadrature to reach relative accuracy "
            f"{_rtol(leaf.dtype):g} with {ORDERS[-1]} nodes per piece (jaxbias.kernels.gaussian.RTOL)"
        )


_rule_jit = jax.jit(_rule, static_argnums=(0, 4))
_rule_1d_jit = jax.jit(_rule_1d, static_argnums=(0, 2))


def _evaluate(fn: Callable, k11, k12, k22, what: str) -> jax.Array:
    """``E fn(u, v)`` to :data:`RTOL`, the accuracy check raised as a ValueError for concrete arguments.

    Traced arguments take :func:`_expect` (all rules in one program, differentiable); concrete ones
    run the same rules one compiled program at a time and stop at the first that passes, so a
    first call compiles only the rules it needs.
    """
    if any(isinstance(k, jax.core.Tracer) for k in (k11, k12, k22)):
        return _expect_jit(fn, k11, k12, k22, None)
    return _escalate(lambda order: _rule_jit(fn, k11, k12, k22, order), k11, what, (k11, k12, k22))


def _evaluate_1d(fn: Callable, k, what: str) -> jax.Array:
    """``E fn(u)``, ``u ~ N(0, k)``, to :data:`RTOL`: the 1-D counterpart of :func:`_evaluate`."""
    if isinstance(k, jax.core.Tracer):
        return _expect_1d_jit(fn, k, None)
    return _escalate(lambda order: _rule_1d_jit(fn, k, order), k, what, (k, k, k))


def _escalate(rule, like, what, kernel):
    rtol = _rtol(like.dtype)
    previous = rule(ORDERS[0])[0]
    result, done = jnp.full(like.shape, jnp.nan, like.dtype), jnp.zeros(like.shape, bool)
    for order in ORDERS[1:]:
        value, size, tail = rule(order)
        accept = ~done & (jnp.abs(value - previous) + tail <= rtol * size)
        result, done, previous = jnp.where(accept, value, result), done | accept, value
        if bool(jnp.all(done)):
            break
    check_accuracy(result, what, *kernel)
    return result


def gauss_expect(fn: Callable, k11, k12, k22) -> jax.Array:
    """``E[fn(u, v)]`` for ``(u, v) ~ N(0, [[k11, k12], [k12, k22]])`` by 2-D quadrature, to :data:`RTOL`.

    The pair is written ``u = a z1``, ``v = c z1 + r z2`` with ``z1, z2`` independent standard normals
    (``a = sqrt(k11)``, ``c = k12 / a``, ``r = sqrt(k22 - c^2)``), so singular covariances
    (``k12^2 = k11 k22``, or zero variances) need no special case. The Gaussian integral over
    ``[-10, 10]^2`` (the tail beyond is ~1e-23) is a product Gauss-Legendre rule on pieces that
    break where ``u = 0`` (``z1 = 0``) and, for each ``z1`` node, where ``v = 0``: activations with a
    kink or a jump at 0 (relu, abs, selu, elu, step, ...) are smooth on every piece, so the rule
    converges exponentially for them too. On each piece the nodes are sinh-mapped toward the
    break on the scale ``1 / sqrt(variance)``, so that large variances (where tanh is a step and
    a kink's neighbourhood is a sliver of the Gaussian) are resolved as well as small ones. Rules
    of :data:`ORDERS` nodes per piece are tried in turn until the a-posteriori error estimate meets
    :data:`RTOL` (``1e-8`` of ``E|fn|`` in float64, ``1e-5`` in float32); where none does, the
    result is NaN under ``jit`` and a ``ValueError`` otherwise. Derivatives: see the module docstring.

    Args:
      fn: elementwise ``fn(u, v) -> array`` (jnp operations; it is called on broadcast arrays). Pass
        the same function object to reuse a compiled program.
      k11, k12, k22: covariance entries, arrays that broadcast together (any shape ``S``).

    Returns:
      ``E[fn(u, v)]`` of the broadcast shape ``S``, in the widest float dtype of the arguments.

    Raises:
      ValueError: (concrete arguments) a negative or non-finite variance, ``|k12| > sqrt(k11 k22)``,
        shapes that do not broadcast, or an integrand the quadrature cannot resolve to :data:`RTOL`
        (not finite, discontinuous away from ``u = 0`` and ``v = 0``, oscillating faster than 192
        nodes per piece resolve, or growing so fast that ``[-10, 10]`` truncates it).

    Example:
      >>> import jaxbias as jb
      >>> round(float(jb.kernels.gauss_expect(lambda u, v: u * u * v * v, 2.0, 1.0, 3.0)), 4)
      8.0
    """
    if not callable(fn):
        raise TypeError(f"fn={fn!r}: expected a callable fn(u, v)")
    same = k11 is k12 and k12 is k22  # u = v: one variable
    k11, k12, k22 = _kernel_args(k11, k12, k22)
    what = f"gauss_expect({getattr(fn, '__name__', 'fn')})"
    if same:
        return _evaluate_1d(_on_diagonal(fn), k11, what)
    return _evaluate(fn, k11, k12, k22, what)


# ---------------------------------------------------------------------------------------------
# Closed forms


# Abramowitz & Stegun 4.4.46: arccos(x) = sqrt(1 - x) * sum_k a_k x^k + e(x), |e| <= 2e-8 on [0, 1].
_ACOS_COEFFS = (1.5707963050, -0.2145988016, 0.0889789874, -0.0501743046,
                0.0308918810, -0.0170881256, 0.0066700901, -0.0012624911)


def _arccos(x):
    """``arccos`` of values in [-1, 1]; float32 by a polynomial (XLA's CPU arccos is ~20x slower).

    The polynomial's error (2e-8) is below float32's rounding of the result (1.2e-7 near pi / 2),
    so float32 keeps the accuracy of ``jnp.arccos``; other dtypes use ``jnp.arccos``.
    """
    if x.dtype != jnp.float32:
        return jnp.arccos(x)
    a = jnp.abs(x)
    p = jnp.asarray(_ACOS_COEFFS[-1], x.dtype)
    for c in _ACOS_COEFFS[-2::-1]:
        p = p * a + c
    r = jnp.sqrt(jnp.maximum(1 - a, 0)) * p
    return jnp.where(x < 0, jnp.pi - r, r)


def _antiparallel_angle(rho):
    """``pi - arccos(rho)`` for ``rho <= 0``, accurate as ``rho -> -1`` (no cancellation).

    Float32: ``arccos(|rho|)`` by the polynomial of :func:`_arccos` (``sqrt(1 - |rho|) p(|rho|)``, relative
    error ~1e-8, and ~20x faster than XLA's CPU arcsin); other dtypes: ``2 arcsin(sqrt((1 + rho) / 2))``.
    """
    if rho.dtype == jnp.float32:
        a = jnp.abs(rho)
        p = jnp.asarray(_ACOS_COEFFS[-1], rho.dtype)
        for c in _ACOS_COEFFS[-2::-1]:
            p = p * a + c
        return jnp.sqrt(jnp.maximum(1 - a, 0)) * p
    return 2 * jnp.arcsin(jnp.sqrt(jnp.maximum((1 + rho) / 2, 0)))


@jax.custom_jvp
def _j1(rho):
    """Arc-cosine kernel of degree 1 over 2 pi: ``(sqrt(1 - rho^2) + (pi - arccos rho) rho) / (2 pi)``.

    ``E[relu(u) relu(v)] = sqrt(k11 k22) _j1(rho)`` (Cho & Saul 2009). Its derivative is
    :func:`_j0`, finite at ``rho = +-1`` (written out so autodiff does not form ``inf - inf``). Near
    ``rho = -1`` the two terms cancel (the value is ``~(2 (1 + rho))^1.5 / 3``): there it is the series
    of ``(sin t - t cos t) / (2 pi)`` in ``t = pi - arccos(rho)`` (relative error below 1e-15 for
    ``rho < -0.99``).
    """
    direct = (jnp.sqrt(jnp.maximum(1 - rho * rho, 0)) + (jnp.pi - _arccos(rho)) * rho) / (2 * jnp.pi)
    t = _antiparallel_angle(rho)
    t2 = t * t
    series = t * t2 * (1 / 3 - t2 * (1 / 30 - t2 * (1 / 840 - t2 * (1 / 45360 - t2 / 3991680)))) / (2 * jnp.pi)
    return jnp.where(rho < -0.99, series, direct)


@_j1.defjvp
def _j1_jvp(primals, tangents):
    (rho,), (drho,) = primals, tangents
    return _j1(rho), _j0(rho) * drho


def _j0(rho):
    """``P(u > 0, v > 0) = E[step(u) step(v)] = (pi - arccos rho) / (2 pi)`` (Sheppard; Cho & Saul)."""
    return jnp.where(rho < 0, _antiparallel_angle(rho), jnp.pi - _arccos(rho)) / (2 * jnp.pi)


def _norm_corr(k11, k12, k22):
    """``s = sqrt(k11 k22)`` and the correlation ``k12 / s`` clipped to [-1, 1] (0 where s = 0)."""
    s2 = k11 * k22
    s = jnp.where(s2 > 0, jnp.sqrt(jnp.where(s2 > 0, s2, 1)), 0)
    rho = _safe_div(k12, s)
    # where (not clip): at rho == 1 exactly the derivative passes unchanged.
    rho = jnp.where(rho > 1, 1, jnp.where(rho < -1, -1, rho))
    return s, rho


def _safe_sqrt(k):
    return jnp.where(k > 0, jnp.sqrt(jnp.where(k > 0, k, 1)), 0)


def _relu_pp(k11, k12, k22):
    s, rho = _norm_corr(k11, k12, k22)
    return s * _j1(rho)


def _relu_dd(k11, k12, k22):
    return _j0(_norm_corr(k11, k12, k22)[1])


def _leaky_pp(a):
    # leaky_a(x) = a x + (1 - a) relu(x); E[u relu(v)] = k12 / 2.
    return lambda k11, k12, k22: a * k12 + (1 - a) ** 2 * _relu_pp(k11, k12, k22)


def _leaky_dd(a):
    # leaky_a' = a + (1 - a) H; E[H(v)] = 1/2.
    return lambda k11, k12, k22: a + (1 - a) ** 2 * _relu_dd(k11, k12, k22)


def _step_pp(k11, k12, k22):
    return jnp.where((k11 > 0) & (k22 > 0), _relu_dd(k11, k12, k22), 0)


def _step_dd(k11, k12, k22):
    return jnp.zeros_like(k12)


def _step_dd_distributional(k11, k12, k22):
    # E[delta(u) delta(v)]: the bivariate normal density at the origin.
    det = jnp.maximum(k11 * k22 - k12 * k12, 0)
    return 1 / (2 * jnp.pi * jnp.sqrt(det))


def _centred_relu_pp(k11, k12, k22):
    # (relu(u) - c)(relu(v) - c) with c = 1/sqrt(2 pi), E[relu(u)] = sqrt(k11) / sqrt(2 pi).
    c = _INV_SQRT_2PI
    return _relu_pp(k11, k12, k22) - c * c * (_safe_sqrt(k11) + _safe_sqrt(k22)) + c * c


def _erf_pp(k11, k12, k22):
    # Williams 1997: (2/pi) arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22))).
    return 2 / jnp.pi * jnp.arcsin(2 * k12 / jnp.sqrt((1 + 2 * k11) * (1 + 2 * k22)))


def _erf_dd(k11, k12, k22):
    # erf'(x) = 2/sqrt(pi) exp(-x^2); E[exp(-u^2 - v^2)] = det(I + 2 Sigma)^(-1/2).
    return 4 / jnp.pi / jnp.sqrt((1 + 2 * k11) * (1 + 2 * k22) - 4 * k12 * k12)


def _identity_pp(k11, k12, k22):
    return k12


def _identity_dd(k11, k12, k22):
    return jnp.ones_like(k12)


def _cos_pp(k11, k12, k22):
    # E[cos u cos v] = (E cos(u - v) + E cos(u + v)) / 2 = e^(-(k11 + k22)/2) cosh(k12), written with
    # the variances of u -+ v so that no exponent is positive (no overflow at any variance).
    return (jnp.exp(-(k11 + k22 - 2 * k12) / 2) + jnp.exp(-(k11 + k22 + 2 * k12) / 2)) / 2


def _sin_pp(k11, k12, k22):
    # E[sin u sin v] = (E cos(u - v) - E cos(u + v)) / 2 = e^(-(k11 + k22)/2) sinh(k12).
    return (jnp.exp(-(k11 + k22 - 2 * k12) / 2) - jnp.exp(-(k11 + k22 + 2 * k12) / 2)) / 2


def _cos_dd(k11, k12, k22):
    return _sin_pp(k11, k12, k22)  # cos' = -sin


def _gaussian_pp(k11, k12, k22):
    # phi = exp(-x^2): E[exp(-u^2 - v^2)] = det(I + 2 Sigma)^(-1/2).
    return 1 / jnp.sqrt((1 + 2 * k11) * (1 + 2 * k22) - 4 * k12 * k12)


def _gaussian_dd(k11, k12, k22):
    # phi' = -2x exp(-x^2): 4 E[u v exp(-u^2 - v^2)] = 4 det(I + 2 Sigma)^(-1/2) [Sigma (I + 2 Sigma)^-1]_12
    # and [Sigma (I + 2 Sigma)^-1]_12 = k12 / det(I + 2 Sigma).
    det = (1 + 2 * k11) * (1 + 2 * k22) - 4 * k12 * k12
    return 4 * k12 / det ** 1.5


def _snake_pp(a):
    # snake_a(x) = x + sin^2(a x) / a = x + (1 - cos(2 a x)) / (2 a); E[u cos(2 a v)] = 0 (odd), so
    # E = k12 + (1 - E cos(2a u) - E cos(2a v) + E cos(2a u) cos(2a v)) / (4 a^2).
    s = 4 * a * a

    def pp(k11, k12, k22):
        return k12 + (1 - jnp.exp(-s * k11 / 2) - jnp.exp(-s * k22 / 2) + _cos_pp(s * k11, s * k12, s * k22)) / s

    return pp


def _snake_dd(a):
    # snake_a' = 1 + sin(2 a x): E = 1 + E sin(2a u) sin(2a v).
    s = 4 * a * a
    return lambda k11, k12, k22: 1 + _sin_pp(s * k11, s * k12, s * k22)


def _closed_form(name: str):
    """``(phi_phi, dphi_dphi)`` closed forms for a canonical activation name, or None."""
    m = re.fullmatch(r"(leaky_relu|snake)\((.+)\)", name)
    if m:
        a = float(m.group(2))
        return (_leaky_pp(a), _leaky_dd(a)) if m.group(1) == "leaky_relu" else (_snake_pp(a), _snake_dd(a))
    return _CLOSED.get(name)


_CLOSED = {
    "relu": (_relu_pp, _relu_dd),
    "step": (_step_pp, _step_dd),
    "abs": (_leaky_pp(-1.0), _leaky_dd(-1.0)),
    "centred_relu": (_centred_relu_pp, _relu_dd),
    "erf": (_erf_pp, _erf_dd),
    "identity": (_identity_pp, _identity_dd),
    "sin": (_sin_pp, _cos_pp),
    "cos": (_cos_pp, _cos_dd),
    "gaussian": (_gaussian_pp, _gaussian_dd),
}

CLOSED_FORMS: tuple[str, ...] = tuple(sorted(_CLOSED)) + ("leaky_relu(a)", "snake(a)")
"""Activations with closed-form kernels; every other one uses :func:`gauss_expect`."""


def _resolve(activation: str | Callable | Activation) -> tuple[Activation, tuple | None]:
    """The activation and its closed forms (None for callables and quadrature activations).

    Closed forms are chosen by name: for a string or an :class:`Activation` (whose name is trusted),
    never for a bare callable, which might merely share a name with a library activation.
    """
    act = get_activation(activation)
    if isinstance(activation, (str, Activation)):
        return act, _closed_form(act.name)
    return act, None


def has_closed_form(activation: str | Callable | Activation) -> bool:
    """Whether :func:`phi_phi` and :func:`dphi_dphi` use a closed form for ``activation`` (never for a bare callable)."""
    return _resolve(activation)[1] is not None


@bounded_cache(maxsize=512)
def _integrand(phi: Callable, kind: str) -> Callable:
    """One stable ``f(u, v)`` per activation function and kind, so jit caches are reused across calls."""
    if kind == "pp":
        return lambda u, v: phi(u) * phi(v)
    if kind == "dd":
        dphi = _derivative(phi)
        return lambda u, v: dphi(u) * dphi(v)
    # one-variable integrands of u alone (k12^2 = k11 k22: the 1-D rule)
    if kind == "sq":
        return lambda u: phi(u) * phi(u)
    if kind == "dsq":
        dphi = _derivative(phi)
        return lambda u: dphi(u) * dphi(u)
    return phi  # "mean"


@bounded_cache(maxsize=512)
def _on_diagonal(fn: Callable) -> Callable:
    """``u -> fn(u, u)``: the integrand at ``u = v`` (one stable function per ``fn``, for the jit caches)."""
    return lambda u: fn(u, u)


def _derivative(phi: Callable) -> Callable:
    """Elementwise a.e. derivative of an elementwise ``phi`` (jax's derivative)."""
    return lambda x: jax.jvp(phi, (x,), (jnp.ones_like(x),))[1]


# ---------------------------------------------------------------------------------------------
# Public expectations


def phi_phi(activation: str | Callable, k11, k12, k22) -> jax.Array:
    """``E[phi(u) phi(v)]`` for ``(u, v) ~ N(0, [[k11, k12], [k12, k22]])``: the NNGP layer map.

    Closed forms (module docstring) for relu, step, leaky_relu(a), abs, centred_relu, erf, identity,
    sin, cos, gaussian and snake(a); :func:`gauss_expect` (accurate to :data:`RTOL`) otherwise.

    Args:
      activation: name (see :mod:`jaxbias.nets.activations`), :class:`Activation` or elementwise callable.
      k11, k12, k22: covariance entries, broadcasting together (shape ``S``).

    Returns:
      Array of shape ``S``.

    Raises:
      ValueError: an invalid covariance, or (concrete arguments) an activation the quadrature cannot
        resolve to :data:`RTOL` there.

    Example:
      >>> import jaxbias as jb
      >>> round(float(jb.kernels.phi_phi("erf", 1.0, 1.0, 1.0)), 6)  # (2/pi) arcsin(2/3)
      0.464559
    """
    act, closed = _resolve(activation)
    same = k11 is k12 and k12 is k22  # u = v: one variable
    k11, k12, k22 = _kernel_args(k11, k12, k22)
    if closed is not None:
        return closed[0](k11, k12, k22)
    what = f"E[phi(u) phi(v)] for activation {act.name!r}"
    if same:
        return _evaluate_1d(_integrand(act.fn, "sq"), k11, what)
    return _evaluate(_integrand(act.fn, "pp"), k11, k12, k22, what)


def dphi_dphi(activation: str | Callable, k11, k12, k22, *, distributional: bool = False) -> jax.Array:
    """``E[phi'(u) phi'(v)]``: the factor multiplying the previous NTK in the NTK recursion.

    ``phi'`` is the almost-everywhere derivative (what ``jax.grad`` computes); for ``step`` that is 0.
    With ``distributional=True``, ``step`` uses its distributional derivative, the Dirac delta:
    ``E[delta(u) delta(v)] = 1 / (2 pi sqrt(k11 k22 - k12^2))`` (infinite when singular).

    Args:
      activation: name, :class:`Activation` or elementwise callable.
      k11, k12, k22: covariance entries, broadcasting together (shape ``S``).
      distributional: see above (only changes ``step``).

    Returns:
      Array of shape ``S``.

    Raises:
      ValueError: as :func:`phi_phi`.

    Example:
      >>> import jaxbias as jb
      >>> round(float(jb.kernels.dphi_dphi("relu", 1.0, 0.0, 1.0)), 6)  # P(u > 0, v > 0) = 1/4
      0.25
    """
    act, closed = _resolve(activation)
    same = k11 is k12 and k12 is k22  # u = v: one variable
    k11, k12, k22 = _kernel_args(k11, k12, k22)
    if closed is not None:
        if distributional and act.name == "step":
            return _step_dd_distributional(k11, k12, k22)
        return closed[1](k11, k12, k22)
    what = f"E[phi'(u) phi'(v)] for activation {act.name!r}"
    if same:
        return _evaluate_1d(_integrand(act.fn, "dsq"), k11, what)
    return _evaluate(_integrand(act.fn, "dd"), k11, k12, k22, what)


def phi_sq(activation: str | Callable, k) -> jax.Array:
    """``E[phi(u)^2]`` for ``u ~ N(0, k)``: :func:`phi_phi` at ``(k, k, k)`` (the length map; a 1-D rule)."""
    return phi_phi(activation, k, k, k)


def dphi_sq(activation: str | Callable, k, *, distributional: bool = False) -> jax.Array:
    """``E[phi'(u)^2]`` for ``u ~ N(0, k)``: :func:`dphi_dphi` at ``(k, k, k)`` (``chi_perp / C_W``)."""
    return dphi_dphi(activation, k, k, k, distributional=distributional)


def phi_mean(activation: str | Callable, k) -> jax.Array:
    """``E[phi(u)]`` for ``u ~ N(0, k)`` (needed by residual connections and layer norm after phi).

    Closed forms for the relu family (``E[relu(u)] = sqrt(k / (2 pi))``), step (1/2 for k > 0), the
    odd activations erf, identity and sin (0), cos (``e^(-k/2)``), gaussian (``(1 + 2k)^(-1/2)``) and
    snake(a) (``(1 - e^(-2 a^2 k)) / (2a)``); quadrature (to :data:`RTOL`) otherwise.
    """
    act, closed = _resolve(activation)
    k, _, _ = _kernel_args(k, k, k, names=("k", "k", "k"))
    name = act.name if closed is not None else None
    if name in ("relu", "abs", "centred_relu") or (name or "").startswith("leaky_relu("):
        m = _safe_sqrt(k) * _INV_SQRT_2PI
        if name == "relu":
            return m
        if name == "abs":
            return 2 * m
        if name == "centred_relu":
            return m - _INV_SQRT_2PI
        return (1 - float(name[len("leaky_relu(") : -1])) * m
    if name == "step":
        return jnp.where(k > 0, 0.5, 0).astype(k.dtype)
    if name in ("erf", "identity", "sin"):
        return jnp.zeros_like(k)
    if name == "cos":
        return jnp.exp(-k / 2)
    if name == "gaussian":
        return 1 / jnp.sqrt(1 + 2 * k)
    if (name or "").startswith("snake("):
        a = float(name[len("snake(") : -1])
        return (1 - jnp.exp(-2 * a * a * k)) / (2 * a)
    return _evaluate_1d(_integrand(act.fn, "mean"), k, f"E[phi(u)] for activation {act.name!r}")
