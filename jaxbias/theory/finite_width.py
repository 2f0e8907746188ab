"""Leading finite-width corrections: the four-point vertex and the 1/n mean shift of an MLP.

Roberts, Yaida & Hanin, "The Principles of Deep Learning Theory" (2022), ch. 4-5. Given layer ``l``, the pre-activations of layer ``l+1`` are exactly Gaussian and iid
over units, with the random Gram matrix

    G(l+1)_ab = C_b + (C_W / n_l) sum_j phi(z(l)_j;a) phi(z(l)_j;b),

``n_l`` the width of layer ``l``. Its mean and covariance, to leading order in ``1/n``, follow
from the infinite-width layer map ``F(K) = C_b + C_W E_K[phi phi]`` (its Jacobian ``J`` and
Hessian ``H`` taken by ``jax.jacfwd`` and ``jax.hessian`` where that is exact, and by Richardson
finite differences of accurate values where ``phi'`` jumps (selu) or may (callables)):

    Cov G(l+1) = (C_W^2 / n_l) Cov_K(l)[phi_a phi_b, phi_c phi_d] + J Cov G(l) J^T,
    E G(l+1) - K(l+1) = J (E G(l) - K(l)) + 1/2 H : Cov G(l),

starting from ``Cov G(1) = 0`` and ``E G(1) = K(1)`` (the first layer is exactly Gaussian). With
equal widths ``n`` these are ``V(l)/n`` (the four-point vertex) and ``K1(l)/n``; the unequal-width
form above keeps each layer's own ``1/n_l``. Measurable consequences, with ``z | G ~ N(0, G)``:

* excess kurtosis of one unit at input ``a``: ``E z^4 / (E z^2)^2 - 3 = 3 Var G_aa / (E G_aa)^2``,
  to leading order ``3 V / (n K^2)``;
* ``Cov(z_i;a^2, z_j;b^2) = Cov(G_aa, G_bb)`` for two different units ``i != j``;
* ``E z_a z_b = K_ab + K1_ab / n``.

The neglected terms are O(1/n^2): e.g. for relu at criticality the exact kurtosis is
``3((1 + 5/n)^L - 1)`` against the leading ``15 L / n``.

State vectors hold the independent Gram entries: ``(aa,)`` for one input, ``(aa, ab, bb)`` for two.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.caches import bounded_cache
from jaxbias.kernels.gaussian import fixed_rule_expect, has_closed_form, phi_phi
from jaxbias.nets.activations import ACTIVATIONS, Activation, get_activation
from jaxbias.nets.core import Net, per_layer
from jaxbias.nets.mlp import plain_mlp
from jaxbias.theory.recursions import scale_invariant_slopes
from jaxbias.validation import check_int, check_kernel

__all__ = ["FiniteWidth", "finite_width", "mlp_finite_width", "excess_kurtosis", "square_covariance", "layer_map"]


_FD_ORDER = 64
"""Nodes per piece of the fixed quadrature rule behind the derivatives of the layer map (~1e-13 relative at
moderate variance; its error estimate is checked at every layer)."""

_FD_STEP = 2e-3
"""Finite-difference step relative to the distance from the edge of the PSD cone (and to the variances)."""

_FD_MIN_MARGIN = 1e-2
"""Smallest distance ``sqrt(aa bb) - |ab|`` to a singular covariance, relative to ``sqrt(aa bb)``, at which
finite differences are taken (correlation at most 0.99): closer, value rounding dominates them."""

_FD_RTOL = 1e-10
"""Largest relative error estimate of the fixed rule accepted for finite differences: a Hessian from
second differences at step ``h`` amplifies value errors by ``1 / h^2``."""


_KINKED = ("selu",)
"""Built-in activations without closed-form kernels whose derivative jumps."""


class FiniteWidth(NamedTuple):
    """Layer-by-layer Gram statistics to leading order in 1/width, for layers ``l = 1 .. L+1``.

    Attributes:
      kernel: ``(L+1, M)`` infinite-width kernel entries ``K(l)`` (``M = 1``: ``(aa,)``; ``M = 3``: ``(aa, ab, bb)``).
      covariance: ``(L+1, M, M)`` covariance of the Gram entries, ``V(l) / n`` for equal widths.
      mean_shift: ``(L+1, M)`` ``E G(l) - K(l)``, ``K1(l) / n`` for equal widths.
    """

    kernel: np.ndarray
    covariance: np.ndarray
    mean_shift: np.ndarray


def _phi_sq(phi: Activation, k):
    """``E[phi(u)^2]``, ``u ~ N(0, k)``, with clean derivatives of every order in ``k``.

    Closed forms written as functions of the correlation are singular at correlation 1 (their
    second derivative there is ``inf * 0``); positively homogeneous activations avoid that:
    ``E[phi(sqrt(k) z)^2] = k E[phi(z)^2]`` (degree 1: relu, leaky relu, abs, identity), constant
    for the step.
    """
    one = jnp.ones_like(k)
    if scale_invariant_slopes(phi) is not None:
        return k * phi_phi(phi, one, one, one)
    if phi.name == "step":
        return phi_phi(phi, one, one, one) * (k > 0)
    return _pp(phi, k, k, k)


def _pp(phi: Activation, k11, k12, k22):
    """``E[phi(u) phi(v)]``: the closed form, or the fixed rule of ``_FD_ORDER`` nodes (smooth in the kernel)."""
    if has_closed_form(phi):
        return phi_phi(phi, k11, k12, k22)
    return fixed_rule_expect(_product(phi), k11, k12, k22, _FD_ORDER, estimate=False)


def layer_map(phi: Activation, cw, cb, k):
    """One layer of the infinite-width recursion, ``F(K) = C_b + C_W E_K[phi phi]`` (jax-traceable).

    Args:
      phi: the activation (:func:`jaxbias.nets.get_activation`).
      cw, cb: ``C_W`` and ``C_b`` of the layer.
      k: Gram entries of the previous layer, ``(aa,)`` for one input or ``(aa, ab, bb)`` for a pair.

    Returns:
      The next layer's entries, same shape as ``k``.
    """
    if k.shape[0] == 1:
        return cb + cw * _phi_sq(phi, k[0])[None]
    aa, ab, bb = k[0], k[1], k[2]
    return cb + cw * jnp.stack([_phi_sq(phi, aa), _pp(phi, aa, ab, bb), _phi_sq(phi, bb)])


def _product_covariance(phi: Activation, k):
    """``(Cov_K[phi_a phi_b, phi_c phi_d] (M, M), relative error estimate)`` over the state's index pairs."""
    def moment(i, j, a, b, c):
        return fixed_rule_expect(lambda u, v: phi.fn(u) ** i * phi.fn(v) ** j, a, b, c, _FD_ORDER)

    if k.shape[0] == 1:
        q = k[0]
        (m2, e2), (m4, e4) = moment(2, 0, q, q, q), moment(4, 0, q, q, q)
        return (m4 - m2 ** 2)[None, None], jnp.maximum(e2, e4)
    aa, ab, bb = k[0], k[1], k[2]
    # moments E[phi(u)^i phi(v)^j]; index pairs (aa, ab, bb) hold (2, 0), (1, 1), (0, 2) powers of (u, v)
    powers = [(2, 0), (1, 1), (0, 2)]
    fourth = {p: moment(p, 4 - p, aa, ab, bb) for p in range(5)}
    second = {p: moment(*p, aa, ab, bb) for p in powers}
    error = jnp.max(jnp.stack([e for _, e in list(fourth.values()) + list(second.values())]))
    second_v = jnp.stack([second[p][0] for p in powers])
    rows = [[fourth[p[0] + r[0]][0] for r in powers] for p in powers]
    return jnp.stack([jnp.stack(row) for row in rows]) - second_v[:, None] * second_v[None, :], error


def _exact_autodiff(phi: Activation) -> bool:
    """Whether autodiff of the layer map is exact: closed forms, or built-in activations with continuous ``phi'``.

    Autodiff of the quadrature takes ``phi''`` almost everywhere and so misses the Dirac delta where
    ``phi'`` jumps (selu at 0); a callable's smoothness is unknown. Those take finite differences of
    accurate values instead (:func:`_fd_derivatives`).
    """
    if has_closed_form(phi):
        return True
    if phi.name not in ACTIVATIONS or phi.name in _KINKED:
        return False
    return get_activation(phi.name).fn is phi.fn


def _product(phi: Activation):
    return lambda u, v: phi.fn(u) * phi.fn(v)


def _fd_derivatives(phi: Activation, cw, cb, k):
    """``(J, H, error)`` of the layer map at the state ``k (M,)`` by Richardson-extrapolated central differences.

    Steps ``h_j = _FD_STEP * s``, ``s`` the smallest of the variances and the margin
    ``sqrt(aa bb) - |ab|`` to a singular covariance (so every stencil point is a valid kernel); the
    extrapolation from ``h`` and ``h/2`` leaves ``O(h^4)`` truncation. ``error``: ``inf`` at a singular
    state (no valid stencil), else 0.
    """
    m = k.shape[0]
    if m == 1:
        scale = k[0]
    else:
        scale = jnp.minimum(jnp.minimum(k[0], k[2]), jnp.sqrt(k[0] * k[2]) - jnp.abs(k[1]))
    h = _FD_STEP * scale
    eye = jnp.eye(m, dtype=k.dtype)

    def stencil(step):
        points = [k]
        for j in range(m):
            points += [k + step * eye[j], k - step * eye[j]]
        for j in range(m):
            for i in range(j):
                for a in (1, -1):
                    for b in (1, -1):
                        points.append(k + step * (a * eye[i] + b * eye[j]))
        return jnp.stack(points)

    def differences(values, step):
        centre, rest = values[0], values[1:]
        jac, hess, t = [], [[None] * m for _ in range(m)], 0
        for j in range(m):
            plus, minus = rest[t], rest[t + 1]
            t += 2
            jac.append((plus - minus) / (2 * step))
            hess[j][j] = (plus - 2 * centre + minus) / step ** 2
        for j in range(m):
            for i in range(j):
                pp_, pm, mp, mm = rest[t], rest[t + 1], rest[t + 2], rest[t + 3]
                t += 4
                hess[i][j] = hess[j][i] = (pp_ - pm - mp + mm) / (4 * step ** 2)
        jac = jnp.stack(jac, axis=-1)  # (M_out, M_in)
        hess = jnp.stack([jnp.stack(row, axis=-1) for row in hess], axis=-2)  # (M_out, M_in, M_in)
        return jac, hess

    both = jax.vmap(functools.partial(layer_map, phi, cw, cb))(jnp.concatenate([stencil(h), stencil(h / 2)]))
    half = both.shape[0] // 2
    j1, h1 = differences(both[:half], h)
    j2, h2 = differences(both[half:], h / 2)
    # Values carry ~1e-13 relative rounding, which second differences amplify by (size / h)^2: beyond
    # correlation 1 - _FD_MIN_MARGIN (or at a zero variance) the Hessian is not resolved; say so.
    size = k[0] if m == 1 else jnp.sqrt(k[0] * k[2])
    resolved = scale >= _FD_MIN_MARGIN * size
    return (4 * j2 - j1) / 3, (4 * h2 - h1) / 3, jnp.where(resolved & (scale > 0), 0, jnp.inf).astype(k.dtype)


def _step(phi: Activation, k, cov, shift, cw, cb, n):
    """One layer of the recursion: (K, Cov, shift) of layer l -> layer l+1, and the largest relative error
    estimate of the quadrature behind them (0 for closed forms)."""
    f = functools.partial(layer_map, phi, cw, cb)
    if _exact_autodiff(phi):
        jac = jax.jacfwd(f)(k)  # (M, M)
        hess = jax.hessian(f)(k)  # (M, M, M)
        error = jnp.zeros((), k.dtype)
    else:
        jac, hess, error = _fd_derivatives(phi, cw, cb, k)
    if not has_closed_form(phi):
        pairs = ((k[0], k[0], k[0]),) if k.shape[0] == 1 else ((k[0], k[0], k[0]), (k[0], k[1], k[2]), (k[2], k[2], k[2]))
        error = jnp.maximum(error, jnp.max(jnp.stack([fixed_rule_expect(_product(phi), *p, _FD_ORDER)[1] for p in pairs])))
    k_next = f(k)
    product_cov, cov_error = _product_covariance(phi, k)
    cov_next = cw ** 2 * product_cov / n + jac @ cov @ jac.T
    shift_next = jac @ shift + 0.5 * jnp.einsum("mpr,pr->m", hess, cov)
    return k_next, cov_next, shift_next, jnp.maximum(error, cov_error)


@bounded_cache(maxsize=32)
def _step_program(phi: Activation, batched: bool = False):
    """One layer of the recursion, jitted: (K, Cov, shift, C_W, C_b, n) -> next (K, Cov, shift); ``batched``
    maps it over a leading axis of (K, Cov, shift)."""
    step = functools.partial(_step, phi)
    return jax.jit(jax.vmap(step, in_axes=(0, 0, 0, None, None, None)) if batched else step)


def finite_width(activation, widths: Sequence[int], kernel1, weight_var, bias_var) -> FiniteWidth:
    """Runs the finite-width recursion from the first layer's kernel.

    Args:
      activation: name or callable.
      widths: hidden widths ``(n_1, ..., n_L)`` (``L >= 0``).
      kernel1: first-layer kernel entries ``K(1)``: ``(aa,)`` or ``(aa, ab, bb)``; or a batch ``(B, 1)`` /
        ``(B, 3)`` of such states, run together (one compiled program mapped over the batch).
      weight_var, bias_var: ``C_W``, ``C_b`` of layers ``2 .. L+1`` (a number or ``L`` values).

    Returns:
      :class:`FiniteWidth` over layers ``1 .. L+1`` (with a leading batch axis for a batch of states:
      ``kernel (B, L+1, M)`` etc.).
    """
    phi = get_activation(activation)
    widths = tuple(check_int("width", w, 1) for w in widths)
    depth = len(widths)
    cws = per_layer("weight_var", weight_var, depth) if depth else ()
    cbs = per_layer("bias_var", bias_var, depth) if depth else ()
    kernel1 = np.asarray(kernel1, np.float64)
    batched = kernel1.ndim == 2
    kernel1 = kernel1 if batched else kernel1.reshape(-1)
    if kernel1.shape[-1] not in (1, 3) or (batched and kernel1.shape[0] == 0):
        raise ValueError(f"kernel1 with shape {tuple(kernel1.shape)}: expected (aa,) or (aa, ab, bb), or a batch "
                         "(B, 1) or (B, 3)")
    m = kernel1.shape[-1]
    if m == 1:
        check_kernel(kernel1[..., 0], 0.0, 0.0, names=("kernel1 (aa)", "0", "0"))
    else:
        check_kernel(kernel1[..., 0], kernel1[..., 1], kernel1[..., 2], names=("kernel1 (aa)", "kernel1 (ab)", "kernel1 (bb)"))
    step = _step_program(phi, batched)
    with jax.enable_x64(True):  # finite differences and 1/n shifts need float64
        k = jnp.asarray(kernel1)
        cov, shift = jnp.zeros(k.shape + (m,), k.dtype), jnp.zeros(k.shape, k.dtype)
        ks, covs, shifts = [k], [cov], [shift]
        for layer, (n, cw, cb) in enumerate(zip(widths, cws, cbs)):
            k, cov, shift, error = step(k, cov, shift, jnp.float64(cw), jnp.float64(cb), jnp.float64(n))
            if not np.all(np.asarray(error) <= _FD_RTOL):
                raise ValueError(
                    f"activation={phi.name!r}: the 1/n recursion needs second derivatives of its layer map, taken "
                    f"here by finite differences (phi' may jump, so autodiff would miss the delta in phi''), and "
                    f"the quadrature is not accurate enough for them at layer {layer + 1} (relative error "
                    f"estimate {float(np.max(np.asarray(error))):.2g} > {_FD_RTOL:g}; kernel {np.asarray(k).tolist()} "
                    f"has a correlation above {1 - _FD_MIN_MARGIN:g} or a zero variance, or the activation is not "
                    f"piecewise smooth with kinks only at 0)")
            ks.append(k)
            covs.append(cov)
            shifts.append(shift)
        layer_axis = 1 if batched else 0
        out = FiniteWidth(*(np.asarray(jnp.stack(a, axis=layer_axis), np.float64) for a in (ks, covs, shifts)))
    if not all(np.all(np.isfinite(a)) for a in out):
        raise ValueError(f"finite-width recursion for {phi.name} overflowed or hit NaN (C_W={weight_var}, "
                         f"C_b={bias_var}, widths={widths}): the kernel diverges with depth, or a Gaussian "
                         f"expectation missed its accuracy (jaxbias.kernels.RTOL)")
    return out


def mlp_finite_width(net: Net, x) -> FiniteWidth:
    """:func:`finite_width` for a built-in MLP at each input of ``x`` (one input at a time).

    Args:
      net: ``jaxbias.nets.mlp(...)`` with Gaussian weights, no residuals, layer or batch norm, or pooling.
      x: inputs ``(n_points, d0)``.

    Returns:
      :class:`FiniteWidth` with a leading point axis: ``kernel (n_points, L+1, 1)`` etc.
    """
    net = plain_mlp(net, "the finite-width recursion")
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"x with shape {x.shape}: expected (n_points, d0)")
    depth = net.depth
    cws = list(net.weight_var)
    cbs = list(net.bias_var) if net.bias else [0.0] * (depth + 1)
    k1 = cbs[0] + cws[0] * np.sum(x * x, axis=1) / x.shape[1]
    return finite_width(net.activation, list(net.width), k1[:, None], cws[1:], cbs[1:])


def excess_kurtosis(net: Net, x) -> np.ndarray:
    """Leading-order 1/width prediction of each output unit's excess kurtosis at each input.

    ``E z^4 / (E z^2)^2 - 3 = 3 V / (n K^2)`` at the output layer (RYH eq. 4.45), widths equal or
    not. Exact for one hidden layer; O(1/n^2) off beyond.

    Args:
      net: a built-in ``jaxbias.nets.mlp`` with Gaussian weights (see :func:`mlp_finite_width`).
      x: inputs ``(n_points, d0)``.

    Returns:
      ``(n_points, out)`` float64.

    Example:
      >>> import jaxbias as jb, numpy as np
      >>> net = jb.nets.mlp(width=100, depth=3, activation="relu", weight_var=2.0)
      >>> np.round(excess_kurtosis(net, np.ones((1, 4))), 4)  # 15 L / n
      array([[0.45]])
    """
    fw = mlp_finite_width(net, x)
    k = fw.kernel[:, -1, 0]
    kurt = 3.0 * fw.covariance[:, -1, 0, 0] / k ** 2
    return np.repeat(kurt[:, None], net.out, axis=1)


def square_covariance(net: Net, x) -> np.ndarray:
    """``Cov(z_i^2, z_j^2)`` for two different output units at each input: ``V / n``, shape ``(n_points,)``."""
    return mlp_finite_width(net, x).covariance[:, -1, 0, 0]
