"""Empirical neural tangent kernel of one network, three ways, blocked to a memory budget.

The empirical NTK of a network ``f(params, x) in R^O`` is (Jacot et al., NeurIPS 2018)

    T(x, x')_{o o'} = sum over parameters p of  df_o(x)/dp  df_o'(x')/dp,

``J(x) J(x')^T`` with ``J`` the Jacobian with respect to the parameters as they are stored (under
the "ntk" parameterization the forward-pass scales multiply it).
``trace=True`` returns the mean over the output axis, ``(1/O) sum_o T_{oo}`` (neural-tangents'
``trace_axes=(-1,)`` convention, which is what infinite-width theory compares to); ``trace=False``
keeps both output axes.

Three methods compute it (Novak, Sohl-Dickstein & Schoenholz, "Fast finite width neural tangent
kernel", ICML 2022), all with public JAX transforms:

* ``"jacobian"``: materialize ``J`` (reverse mode, one point at a time when points are
  independent) and contract it. Works for any :class:`~jaxbias.nets.Net`.
* ``"ntvp"``: NTK-vector products: for each output entry of ``x2`` a vjp gives a parameter
  cotangent and a jvp pushes it through ``f(x1)``, so ``J`` is never stored. Any Net.
* ``"structured"``: for networks whose parameters all sit in dense layers ``z = w_s h W + b_s b``
  and convolutions ``z[p] = w_s patch(h)[p] . W + b_s b`` (``patch(h)[p]``: the window of the
  layer input seen by output position ``p``, at the layer's stride, padding and dilation), each
  layer contributes

      sum_{p, q} <g_l(x)[p], g_l(x')[q]> (w_s^2 <patch_l(x)[p], patch_l(x')[q]> + b_s^2)

  with ``g_l = df/dz_l`` its output cotangents (a dense layer has one position and patch ``h``:
  ``(g_l(x) . g_l(x')) (w_s^2 h_l(x) . h_l(x') + b_s^2)``). The cotangents of every layer come from
  ONE vjp with respect to zero perturbations added to each layer's output; the inputs are returned
  by the same forward pass (:func:`jaxbias.nets.core.affine_taps`). Each layer is contracted in
  the cheaper of two orders by estimated flops: the Gram products above (dense layers, and convs
  with few output positions) or the per-point weight gradients ``sum_p patch[p] (x) g[p]``
  contracted like Jacobians (convs over many positions, where ``P^2`` position pairs cost more
  than ``K C`` weights). Parameter-free maps (activations, pooling, layer norm without gain, skip
  connections) only shape the cotangents. Built-in mlp, cnn and resnet nets, and any net that
  defines ``tapped`` (:func:`jaxbias.nets.core.affine_taps`), whose points are
  independent: batch statistics couple them, and then it is refused.

``"auto"`` picks, when the kernel is traced for given shapes, the method with the fewest estimated
flops (:func:`auto_method`, the cost comparison of Novak et al. 2022, section 4): the Jacobian
contraction costs ``~n1 n2 O^2 P``, the vector products ``~n1 n2 O F`` with ``F`` the forward flops
of one point (``~2 P`` for dense layers, much more for convolutions, whose weights are shared over
positions), the structured method ``~F O`` per point plus each layer's cheaper order. Dense nets
take the structured method where it is available (its Gram order is cheaper than either other
method by about a factor ``O K``); CNNs take it when it saves more than it costs (the Jacobian's
full backward passes, layers with few positions), else the Jacobian contraction or the vector
products.

Large point sets are computed in blocks of points whose size comes from a memory budget (the
peak live bytes of the block program, read off its jaxpr without compiling).

>>> import jax, jaxbias as jb
>>> net = jb.nets.mlp(32, 2, "relu")
>>> x = jb.inputs.sphere(3, 10)
>>> params = net.init(jax.random.key(0), x)
>>> jb.kernels.empirical_ntk(net, params, x).shape
(10, 10)
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.caches import bounded_cache, by_value
from jaxbias.memory import jaxpr_peak_bytes
from jaxbias.nets import CNN, MLP, FlaxNet, Net, ResNet, Transformer
from jaxbias.nets.core import AffineTap, ConvTap, affine_taps
from jaxbias.nets.layers import BatchNorm, Layer, sublayers
from jaxbias.validation import check_points as _check_points

__all__ = ["METHODS", "empirical_ntk", "ntk_fn", "ntk_matvec", "choose_method", "auto_method", "default_wrt"]

METHODS = ("auto", "jacobian", "ntvp", "structured")
"""The ``method=`` values of :func:`empirical_ntk`: ``auto`` picks the cheapest of the others (:func:`auto_method`)."""


# ---------------------------------------------------------------------------------------------
# Which parameters, which points.


def default_wrt(net: Net) -> Callable[[tuple, Any], bool]:
    """Which leaves of ``params`` the NTK differentiates by default: every floating leaf, and for
    a flax linen net only those of its ``"params"`` collection (not ``"batch_stats"``)."""
    linen = isinstance(net, FlaxNet) and net.api == "linen"
    return _linen_params if linen else _floating


def _floating(path: tuple, leaf: Any) -> bool:
    return jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)


def _linen_params(path: tuple, leaf: Any) -> bool:
    first = path[0] if path else None
    return getattr(first, "key", None) == "params" and _floating(path, leaf)


def _independent_points(net: Net) -> bool:
    """Whether each point's output depends on that point alone (false under batch statistics)."""
    if isinstance(net, Layer):
        return not any(isinstance(layer, BatchNorm) for layer in sublayers(net))
    if not isinstance(net, (MLP, CNN, ResNet, Transformer)):
        return False
    return net.norm is None or net.norm.kind != "batch"


def _partition(params: Any, wrt: Callable) -> tuple[list, Callable[[list], Any]]:
    """Splits ``params`` into the differentiated leaves and a function rebuilding the whole tree."""
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(params)
    mask = [bool(wrt(path, leaf)) for path, leaf in leaves_with_path]
    leaves = [leaf for _, leaf in leaves_with_path]
    diff = [leaf for leaf, m in zip(leaves, mask) if m]

    def rebuild(new_diff: list) -> Any:
        it = iter(new_diff)
        return jax.tree_util.tree_unflatten(treedef, [next(it) if m else leaf for leaf, m in zip(leaves, mask)])

    return diff, rebuild


# ---------------------------------------------------------------------------------------------
# The three methods. Each returns (n1, n2, O, O) or, traced, (n1, n2); diagonal: (n1, O, O) / (n1,).


def _gram(m: jax.Array) -> jax.Array:
    """``m @ m.T`` for ``m (r, P)`` from the upper triangle of row blocks only (up to ~half the flops)."""
    r = m.shape[0]
    n_blocks = max(1, min(8, r // 64))
    size = -(-r // n_blocks)
    rows = [m[i:i + size] for i in range(0, r, size)]
    upper = {(i, j): jnp.dot(rows[i], rows[j].T) for i in range(len(rows)) for j in range(i, len(rows))}
    return jnp.block([[upper[i, j] if i <= j else upper[j, i].T for j in range(len(rows))] for i in range(len(rows))])


def _contract(a: jax.Array, b: jax.Array | None, trace: bool, diagonal: bool) -> jax.Array:
    """Contracts Jacobians ``(n1, O, P)`` and ``(n2, O, P)`` over parameters (see module docstring);
    ``b=None`` for ``a`` against itself.

    The off-diagonal kernel is one plain matrix product of the flattened Jacobians
    (``(n1 O, P) @ (P, n2 O)``, or ``(n1, O P) @ (O P, n2)`` traced), XLA's fastest contraction;
    against itself only its upper triangle of blocks is computed (:func:`_gram`).
    """
    n1, n_out = a.shape[0], a.shape[1]
    if diagonal:
        return jnp.einsum("aop,aop->a", a, a) / n_out if trace else jnp.einsum("aop,aqp->aoq", a, a)
    n2 = n1 if b is None else b.shape[0]
    rows = (n1, -1) if trace else (n1 * n_out, -1)
    cols = (n2, -1) if trace else (n2 * n_out, -1)
    k = _gram(a.reshape(rows)) if b is None else jnp.dot(a.reshape(rows), b.reshape(cols).T)
    if trace:
        return k / n_out
    return jnp.transpose(k.reshape(n1, n_out, n2, n_out), (0, 2, 1, 3))


def _jacobian_kernel(f, diff, x1, x2, trace, diagonal, per_point):
    def jac(x):
        if per_point:
            single = jax.jacrev(lambda d, xi: f(d, xi[None])[0])
            j = jax.vmap(single, in_axes=(None, 0))(diff, x)
        else:
            j = jax.jacrev(lambda d: f(d, x))(diff)
        return [leaf.reshape(leaf.shape[0], leaf.shape[1], -1) for leaf in j]

    j1 = jac(x1)
    j2 = [None] * len(j1) if x2 is None else jac(x2)
    return sum(_contract(a, b, trace, diagonal) for a, b in zip(j1, j2))


def _ntvp_columns(f, diff, x1, x2, per_point):
    """``T(x1, x2)`` as ``[b, p, a, o]``: one vjp and one jvp per output entry of ``x2``.

    With independent points (``per_point``) each vjp runs on its own point of ``x2`` (as
    neural-tangents does under ``vmap_axes``); otherwise on all of ``x2`` with a one-hot cotangent.
    """
    n_out = jax.eval_shape(f, diff, x2[:1]).shape[1]
    basis = jnp.eye(n_out, dtype=x2.dtype)

    if per_point:
        def column(xj, ct):
            _, vjp_j = jax.vjp(lambda d: f(d, xj[None]), diff)
            (tangent,) = vjp_j(ct[None])
            return jax.jvp(lambda d: f(d, x1), (diff,), (tangent,))[1]  # (n1, O)

        per_output = jax.vmap(column, in_axes=(None, 0))
        return jax.vmap(per_output, in_axes=(0, None))(x2, basis)  # [b, p, a, o]

    n2 = x2.shape[0]
    _, vjp2 = jax.vjp(lambda d: f(d, x2), diff)
    cts = (jnp.eye(n2, dtype=x2.dtype)[:, None, :, None] * basis[None, :, None, :])  # [b, p, n2, O]

    def column(ct):
        (tangent,) = vjp2(ct)
        return jax.jvp(lambda d: f(d, x1), (diff,), (tangent,))[1]

    return jax.vmap(jax.vmap(column))(cts)


def _ntvp_block(f, diff, x1, x2, trace, per_point):
    """``T(x1, x2)`` from NTK-vector products (never stores J)."""
    cols = _ntvp_columns(f, diff, x1, x2, per_point)
    if trace:
        return jnp.einsum("boao->ab", cols) / cols.shape[1]
    return jnp.transpose(cols, (2, 0, 3, 1))


def _ntvp_kernel(f, diff, x1, x2, trace, diagonal, per_point):
    if diagonal:
        if per_point:
            one = lambda xi: _ntvp_block(f, diff, xi[None], xi[None], trace, True)[0, 0]  # noqa: E731
            return jax.vmap(one)(x1)
        full = _ntvp_block(f, diff, x1, x1, trace, False)
        return jnp.diagonal(full) if trace else jnp.moveaxis(jnp.diagonal(full, axis1=0, axis2=1), -1, 0)
    return _ntvp_block(f, diff, x1, x1 if x2 is None else x2, trace, per_point)


def _layer_features(tapped, params, x):
    """Taps of every group (inputs ``(L, n, ...)``) and output cotangents ``(O, L, n, ..., fan_out)``."""
    shapes = jax.eval_shape(lambda: tapped(params, x, None)[1])
    zeros = [jnp.zeros(t.outputs.shape, t.outputs.dtype) for t in shapes]
    y, vjp_fn, taps = jax.vjp(lambda eps: tapped(params, x, eps), zeros, has_aux=True)
    n_out = y.shape[1]
    basis = jnp.broadcast_to(jnp.eye(n_out, dtype=y.dtype)[:, None, :], (n_out,) + y.shape)
    (cotangents,) = jax.vmap(vjp_fn)(basis)
    return taps, cotangents, n_out


def _patches(tap) -> jax.Array:
    """A group's layer inputs as windows ``(L, n, positions, patch)``: im2col of a conv tap at its
    stride, padding and dilation, ``(L, n, 1, fan_in)`` for a dense one.

    The windows are strided slices of the padded input, one per kernel offset (the same windows as
    ``lax.conv_general_dilated_patches``, which computes them by a convolution with a one-hot
    kernel: several times slower on CPU), stacked in ``(*kernel, c_in)`` order.
    """
    if isinstance(tap, AffineTap):
        return tap.inputs[:, :, None, :]
    n_layers, n = tap.inputs.shape[:2]
    h = tap.inputs.reshape((n_layers * n,) + tap.inputs.shape[2:])
    rank = len(tap.kernel)
    dilation = tuple(tap.dilation) or (1,) * rank
    spatial = h.shape[1:-1]
    reach = [(k - 1) * d + 1 for k, d in zip(tap.kernel, dilation)]  # dilated kernel extent
    pads = (jax.lax.padtype_to_pads(spatial, reach, tap.stride, tap.padding) if isinstance(tap.padding, str)
            else [tuple(p) for p in tap.padding])
    h = jnp.pad(h, [(0, 0), *pads, (0, 0)])
    out = [(size + lo + hi - r) // s + 1 for size, (lo, hi), r, s in zip(spatial, pads, reach, tap.stride)]
    windows = []
    for offset in np.ndindex(*tap.kernel):
        start = [0] + [o * d for o, d in zip(offset, dilation)] + [0]
        limit = [h.shape[0]] + [b + (m - 1) * s + 1 for b, m, s in zip(start[1:], out, tap.stride)] + [h.shape[-1]]
        windows.append(jax.lax.slice(h, start, limit, (1, *tap.stride, 1)))
    stacked = jnp.stack(windows, axis=-2)  # (L n, *out, kernel offsets, c_in)
    return stacked.reshape(n_layers, n, math.prod(out), -1)


def _group_dims(tap) -> tuple[int, int, int, int]:
    """``(L, positions, patch size, fan_out)`` of a group (from arrays or shapes)."""
    out = tap.outputs.shape
    patch = tap.inputs.shape[-1] * (math.prod(tap.kernel) if isinstance(tap, ConvTap) else 1)
    return out[0], math.prod(out[2:-1]), patch, out[-1]


def _order_flops(dims, n1, n2, n_out, trace, diagonal, symmetric) -> dict[str, float]:
    """Estimated flops of the two contraction orders of one group (see :func:`_structured_kernel`).

    ``dims = (L, P, K, C)``: layers, output positions, patch size, fan-out. "jacobian": building the
    weight gradients ``2 L n O P K C`` (once per distinct point set) plus contracting them
    ``2 n1 n2 O^2 L (K + 1) C`` (``O`` instead of ``O^2`` traced, ``n1`` instead of ``n1 n2`` on the
    diagonal). "gram": patch Gram ``2 n1 n2 L P^2 K`` plus cotangent
    products ``2 n1 n2 L (O P^2 C + P^2)`` traced or ``2 n1 n2 L (O P^2 C + O^2 P C)`` kept.
    """
    n_layers, pos, patch, fan_out = dims
    pairs = n1 if diagonal else n1 * n2
    outs = n_out if trace else n_out**2
    points = n1 + (0 if symmetric or diagonal else n2)
    build = 2.0 * n_layers * pos * patch * fan_out * n_out * points
    contract = 2.0 * pairs * outs * n_layers * (patch + 1) * fan_out
    cot = n_out * pos * pos * fan_out + (pos * pos if trace else n_out**2 * pos * fan_out)
    gram = 2.0 * pairs * n_layers * (pos * pos * patch + cot)
    return {"jacobian": build + contract, "gram": gram}


def _structured_order(tap, n1, n2, n_out, trace, diagonal, symmetric) -> str:
    """The cheaper contraction order of one group by estimated flops ("gram" on ties: dense layers)."""
    flops = _order_flops(_group_dims(tap), n1, n2, n_out, trace, diagonal, symmetric)
    return "jacobian" if flops["jacobian"] < flops["gram"] else "gram"


def _layer_jacobian(u, g, w_scale, b_scale) -> jax.Array:
    """A group's Jacobian ``(n, O, L (K + 1) C)`` from its windows ``u (L, n, P, K)`` and cotangents
    ``g (O, L, n, P, C)``: the weight gradients ``w_s sum_p patch[p] (x) g[p]`` of each point and
    output, with the bias gradients ``b_s sum_p g[p]`` as one more patch entry (a constant 1)."""
    scale = lambda s: s[:, None, None, None]  # noqa: E731  (L,) -> (L, 1, 1, 1)
    ones = jnp.ones(u.shape[:-1] + (1,), u.dtype)
    u = jnp.concatenate([u * scale(w_scale), ones * scale(b_scale)], axis=-1)
    jac = jnp.einsum("lapk,olapc->aolkc", u, g)
    return jac.reshape(jac.shape[0], jac.shape[1], -1)


def _gram_order(u1, g1, u2, g2, w_scale, b_scale, trace, diagonal):
    """One group by Gram matrices: ``sum_{p,q} <cot_a[p], cot_b[q]> (w_s^2 <patch_a[p], patch_b[q]> + b_s^2)``."""
    ws2, bs2 = jnp.square(w_scale), jnp.square(b_scale)
    n_out = g1.shape[0]
    if diagonal:
        weight = ws2[:, None, None, None] * jnp.einsum("lapk,laqk->lapq", u1, u1) + bs2[:, None, None, None]
        if trace:
            return jnp.einsum("olapc,olaqc,lapq->a", g1, g1, weight) / n_out
        return jnp.einsum("olapc,rlaqc,lapq->aor", g1, g1, weight)
    weight = ws2[:, None, None, None, None] * jnp.einsum("lapk,lbqk->labpq", u1, u2) + bs2[:, None, None, None, None]
    if trace:
        return jnp.einsum("labpq,labpq->ab", jnp.einsum("olapc,olbqc->labpq", g1, g2), weight) / n_out
    return jnp.einsum("olapc,rlbqc,labpq->abor", g1, g2, weight)


def _structured_kernel(tapped, params, x1, x2, trace, diagonal):
    """Sum over groups of layers of the per-layer NTK, each in its cheaper contraction order.

    A layer ``z[p] = w_s W . patch(h)[p] + b_s b`` (a dense layer has one position and patch ``h``)
    contributes ``sum_{p,q} <g_a[p], g_b[q]> (w_s^2 <patch_a[p], patch_b[q]> + b_s^2)`` with ``g``
    the output cotangents; "gram" evaluates this directly (``~n1 n2 P^2 (K + O C)`` flops; always
    the cheaper for dense layers), "jacobian" forms the weight gradient ``sum_p patch[p] (x) g[p]``
    of each point first and contracts those (``~n O P K C + n1 n2 O^2 K C``; the cheaper for
    convolutions over many positions).
    """
    taps1, g1, n_out = _layer_features(tapped, params, x1)
    taps2, g2, _ = (taps1, g1, n_out) if x2 is None else _layer_features(tapped, params, x2)
    n1 = x1.shape[0]
    n2 = n1 if x2 is None else x2.shape[0]
    total = 0.0
    for t1, t2, c1, c2 in zip(taps1, taps2, g1, g2):
        u1 = _patches(t1)
        c1 = c1.reshape(c1.shape[:3] + (u1.shape[2], c1.shape[-1]))  # (O, L, n, positions, fan_out)
        if x2 is None:
            u2, c2 = (None, None) if diagonal else (u1, c1)
        else:
            u2 = _patches(t2)
            c2 = c2.reshape(c2.shape[:3] + (u2.shape[2], c2.shape[-1]))
        order = _structured_order(t1, n1, n2, n_out, trace, diagonal, x2 is None)
        if order == "jacobian":
            j2 = None if x2 is None else _layer_jacobian(u2, c2, t2.w_scale, t2.b_scale)
            total = total + _contract(_layer_jacobian(u1, c1, t1.w_scale, t1.b_scale), j2, trace, diagonal)
        else:
            total = total + _gram_order(u1, c1, u2, c2, t1.w_scale, t1.b_scale, trace, diagonal)
    return total


# ---------------------------------------------------------------------------------------------
# Public pieces.


def _structured_unavailable(net: Net, wrt: Callable | None, per_point: bool) -> str | None:
    """Why the structured method cannot compute ``net``'s NTK, or None when it can."""
    if affine_taps(net) is None:
        return (f"net ({type(net).__name__}) does not expose its dense and conv layers; it is available for the "
                "built-in MLP, CNN and ResNet specs")
    if wrt is not None:
        return "wrt is given (it differentiates every parameter)"
    if not per_point:
        return ("the net's points are coupled (batch statistics, or per_point=False), and it takes each point's "
                "layer cotangents on their own")
    return None


def choose_method(net: Net, method: str = "auto", wrt: Callable | None = None, per_point: bool | None = None) -> str:
    """Checks ``method`` for ``net``: "structured" only where the net exposes every parameter in
    its dense and conv layers (built-in mlp, cnn and resnet nets, all parameters, independent
    points); "auto" stays "auto" (chosen by cost for the shapes at trace time: :func:`auto_method`).

    Raises:
      ValueError: an unknown method, or "structured" where it is not available (the message says why).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {', '.join(map(repr, METHODS))}")
    if method == "structured":
        why = _structured_unavailable(net, wrt, _independent_points(net) if per_point is None else bool(per_point))
        if why is not None:
            raise ValueError(f"method='structured': not available because {why}; use 'jacobian' or 'ntvp'")
    return method


def ntk_fn(net: Net, *, method: str = "auto", trace: bool = True, diagonal: bool = False,
           wrt: Callable | None = None, per_point: bool | None = None) -> Callable:
    """The empirical NTK as a pure, jittable function ``fn(params, x1, x2=None)``.

    Use it inside ``jit``/``vmap`` (e.g. over networks); :func:`empirical_ntk` adds input checks
    and blocking. Arguments as in :func:`empirical_ntk`.
    """
    method = choose_method(net, method, wrt, per_point)
    per_point = _independent_points(net) if per_point is None else bool(per_point)
    tapped = method in ("auto", "structured") and _structured_unavailable(net, wrt, per_point) is None
    return _ntk_fn(by_value(net), tapped, method, bool(trace), bool(diagonal),
                   wrt if wrt is not None else default_wrt(net), per_point)


@bounded_cache(maxsize=128)
def _ntk_fn(net, use_tapped: bool, method, trace, diagonal, wrt, per_point):
    """The NTK function of ``net`` (one per net value and options, so equal specs share its jit cache).

    ``use_tapped``: whether the net's tapped forward pass may be used ("structured" is available).
    """
    apply = net.apply
    tapped = affine_taps(net) if use_tapped else None

    def fn(params, x1, x2=None):
        diff, rebuild = _partition(params, wrt)
        chosen = method
        if method == "auto":
            chosen = _cheaper(apply, tapped, params, diff, x1, x2, trace, diagonal, per_point)
        if chosen == "structured":
            return _structured_kernel(tapped, params, x1, x2, trace, diagonal)
        f = lambda d, x: apply(rebuild(d), x)  # noqa: E731
        kernel = _jacobian_kernel if chosen == "jacobian" else _ntvp_kernel
        return kernel(f, diff, x1, x2, trace, diagonal, per_point)

    return fn


def _forward_flops(apply, params, x) -> float | None:
    """Flops of ``apply(params, x)`` from XLA's cost analysis of the lowered (not compiled) program."""
    try:
        cost = jax.jit(apply).lower(_abstract(params), _abstract(x)).cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        flops = float(cost.get("flops", 0.0))
    except Exception:  # noqa: BLE001 - a backend without cost analysis: fall back to the dense estimate
        return None
    return flops if flops > 0 else None


def _method_flops(apply, tapped, params, diff, x1, x2, trace, diagonal, per_point) -> dict[str, float]:
    """Estimated flops of each method for these shapes (see :func:`auto_method`)."""
    n1 = x1.shape[0]
    n2 = n1 if x2 is None else x2.shape[0]
    n_params = sum(int(np.prod(jnp.shape(leaf))) for leaf in diff)
    per_vjp = 1 if per_point else n2  # points one vjp runs on (all of x2 when points are coupled)
    measured = x1[:1] if per_point else x1
    n_out = jax.eval_shape(apply, _abstract(params), _abstract(measured)).shape[1]
    flops = _forward_flops(apply, params, measured)
    point = 2.0 * n_params if flops is None else flops / measured.shape[0]  # forward flops of one point
    points = n1 + (0 if x2 is None or diagonal else n2)  # points whose features are computed
    if diagonal:  # n1 Jacobians and their squared norms, or per point O vjps and O jvps
        cost = {"jacobian": n1 * n_out * (3 * point + 2 * n_out * n_params),
                "ntvp": n1 * n_out * (3 * point * per_vjp + 2 * point)}
    else:
        cost = {"jacobian": 3 * point * n_out * points + 2.0 * n1 * n2 * n_out**2 * n_params,
                "ntvp": n2 * n_out * (3 * point * per_vjp + 2 * point * n1)}
    if tapped is not None:
        # one forward pass and O backward passes for the layer cotangents only (no weight gradients:
        # about F each) per point, then each group's cheaper order (the Jacobian order builds the
        # weight gradients, another ~F per output and point)
        groups = jax.eval_shape(lambda p, x: tapped(p, x, None)[1], _abstract(params), _abstract(x1[:1]))
        contract = sum(min(_order_flops(_group_dims(g), n1, n2, n_out, trace, diagonal, x2 is None).values())
                       for g in groups)
        cost["structured"] = point * (1 + n_out) * points + contract
    return cost


def _cheaper(apply, tapped, params, diff, x1, x2, trace, diagonal, per_point) -> str:
    """The method with the fewest estimated flops for these shapes (structured on ties)."""
    cost = _method_flops(apply, tapped, params, diff, x1, x2, trace, diagonal, per_point)
    return min(sorted(cost, key=lambda m: m != "structured"), key=cost.__getitem__)


def auto_method(net: Net, params: Any, x1: Any, x2: Any = None, *, trace: bool = True, diagonal: bool = False,
                wrt: Callable | None = None, per_point: bool | None = None) -> str:
    """The method ``method="auto"`` uses for these shapes: the one with the fewest estimated flops
    (the cost comparison of Novak, Sohl-Dickstein & Schoenholz, ICML 2022, section 4), with
    ``P`` the differentiated parameters, ``F`` the forward flops of one point (XLA's cost analysis
    of the lowered forward pass; ``2 P`` if unavailable) and ``O`` the outputs:

    * Jacobian contraction: ``3 F O (n1 + n2)`` to build the Jacobians (``O`` vjps per point) plus
      ``2 n1 n2 O^2 P`` to contract them;
    * NTK-vector products: per output entry of ``x2`` one vjp (``3 F``) and one jvp over ``x1``
      (``2 F n1``): ``n2 O (3 F + 2 F n1)``;
    * structured (nets exposing their dense and conv layers, independent points): one forward and
      ``O`` backward passes per point, ``F (1 + 2 O) (n1 + n2)``, plus for each layer the cheaper
      of its two contraction orders: the Gram products
      ``~2 n1 n2 P_l^2 (K_l + O C_l)`` (``P_l`` output positions, ``K_l`` patch size, ``C_l``
      channels: one position for a dense layer) or the per-layer Jacobians ``~2 n1 n2 O^2 K_l C_l``.

    Dense layers make the structured method the cheapest by far (its Gram order costs
    ``n1 n2 (K + O C)`` per layer against ``n1 n2 O^2 K C`` for the contraction); in a CNN it
    saves the Jacobian's ``O`` forward passes and uses the Gram order on layers with few positions,
    so it wins unless the vector products are cheaper still (few points, many parameters). Dense
    nets with several outputs favour the vector products over the contraction; convolutions
    (``F >> P``) the contraction.

    Args:
      net, params: the network and its parameters.
      x1, x2: points ``(n1, ...)`` and ``(n2, ...)`` or None, as in :func:`empirical_ntk`.
      trace, diagonal, wrt, per_point: as in :func:`empirical_ntk`.

    Returns:
      "structured", "jacobian" or "ntvp".
    """
    choose_method(net, "auto", wrt, per_point)
    x1 = _check_points("x1", x1)
    x2 = None if x2 is None else _check_points("x2", x2)
    diff, _ = _partition(params, wrt if wrt is not None else default_wrt(net))
    per_point = _independent_points(net) if per_point is None else bool(per_point)
    tapped = None if _structured_unavailable(net, wrt, per_point) else affine_taps(net)
    return _cheaper(net.apply, tapped, params, diff, x1, x2, bool(trace), bool(diagonal), per_point)


@bounded_cache(maxsize=128)
def _jit(fn: Callable) -> Callable:
    return jax.jit(fn)


def ntk_matvec(net: Net, params: Any, x: Any, *, wrt: Callable | None = None) -> Callable[[jax.Array], jax.Array]:
    """Matrix-free product ``v -> T v`` with the traced empirical NTK on ``x`` (``T`` never formed).

    ``T v = (1/O) sum_o J_o (J_o^T v)``: one vjp and one jvp per output unit, memory linear in the
    number of points; what :func:`jaxbias.kernels.spectra.lanczos` needs beyond ~10^4 points.

    Args:
      net, params: the network and its parameters.
      x: points ``(n, *input_shape)``.
      wrt: which leaves to differentiate (see :func:`empirical_ntk`).

    Returns:
      A jitted ``matvec(v)``, ``v`` of shape ``(n,)`` -> ``(n,)``.
    """
    x = _check_points("x", x)
    diff, rebuild = _partition(params, wrt if wrt is not None else default_wrt(net))
    f = lambda d: net.apply(rebuild(d), x)  # noqa: E731
    y, vjp_fn = jax.vjp(f, diff)
    n_out = y.shape[1]

    @jax.jit
    def matvec(v):
        def one(o):
            ct = v[:, None] * jax.nn.one_hot(o, n_out, dtype=y.dtype)[None, :]
            (tangent,) = vjp_fn(ct)
            return jax.jvp(f, (diff,), (tangent,))[1][:, o]

        return jnp.sum(jax.vmap(one)(jnp.arange(n_out)), axis=0) / n_out

    return matvec


def _pad_rows(x: jax.Array, size: int) -> jax.Array:
    """Pads ``x`` to ``size`` rows by repeating its last row (blocks keep one compiled shape)."""
    extra = size - x.shape[0]
    return x if extra == 0 else jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)], axis=0)


def _block_bytes(program, params, x1, x2, b: int, diagonal: bool) -> int:
    xa = jax.ShapeDtypeStruct((min(b, x1.shape[0]),) + x1.shape[1:], x1.dtype)
    xb = None if (x2 is None or diagonal) else jax.ShapeDtypeStruct((min(b, x2.shape[0]),) + x2.shape[1:], x2.dtype)
    return jaxpr_peak_bytes(jax.make_jaxpr(program)(params, xa, xb).jaxpr)


def _abstract(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), tree)


def _cached_block_size(program, params, x1, x2, budget: int, diagonal: bool) -> int:
    """:func:`block_size_for` memoized on shapes, so repeated calls do not trace again."""
    leaves, treedef = jax.tree_util.tree_flatten(_abstract(params))
    return _block_size(program, treedef, tuple(leaves), _abstract(x1), _abstract(x2), budget, diagonal)


@bounded_cache(maxsize=256)
def _block_size(program, treedef, leaves: tuple, x1, x2, budget: int, diagonal: bool) -> int:
    """:func:`block_size_for` on abstract (hashable) parameters and points."""
    return block_size_for(program, jax.tree_util.tree_unflatten(treedef, leaves), x1, x2, budget, diagonal)


def block_size_for(program, params, x1, x2, budget: int, diagonal: bool) -> int:
    """Largest block of points whose program fits ``budget`` bytes (peak live bytes of its jaxpr)."""
    n_max = max(x1.shape[0], 0 if x2 is None else x2.shape[0])
    full = _block_bytes(program, params, x1, x2, n_max, diagonal)
    if full <= budget:
        return n_max
    b0 = min(8, n_max)
    small = _block_bytes(program, params, x1, x2, b0, diagonal)
    if small > budget:
        small = _block_bytes(program, params, x1, x2, 1, diagonal)
        if small > budget:
            raise ValueError(f"memory_budget={budget} bytes is too small for one point (it needs about {small} "
                             f"bytes); raise it")
        b0 = 1
    # Peak bytes grow at least linearly in the block: the chord from b0 to n_max bounds them from above.
    slope = (full - small) / max(n_max - b0, 1)
    b = b0 + int((budget - small) / max(slope, 1e-9))
    while b > b0 and _block_bytes(program, params, x1, x2, b, diagonal) > budget:
        b = max(b0, b // 2)
    return max(1, min(b, n_max))


def empirical_ntk(net: Net, params: Any, x1: Any, x2: Any = None, *, method: str = "auto", trace: bool = True,
                  diagonal: bool = False, wrt: Callable | None = None, per_point: bool | None = None,
                  block_size: int | None = None, memory_budget: int | str | None = None) -> np.ndarray:
    """Empirical NTK of one network between two sets of points (see module docstring).

    Args:
      net: any :class:`~jaxbias.nets.Net` (built-in, flax adapter, user code).
      params: its parameters (e.g. ``net.init(key, x1)``).
      x1: points ``(n1, *input_shape)``.
      x2: points ``(n2, *input_shape)``; None for ``x1`` against itself (symmetry is used).
      method: "auto", "jacobian", "ntvp" or "structured" (module docstring).
      trace: mean over the output axis (True) or keep both output axes.
      diagonal: only ``T(x_i, x_i)`` (needs ``x2=None``).
      wrt: ``wrt(path, leaf) -> bool`` picks the differentiated leaves; default every floating
        leaf (flax linen: the ``"params"`` collection).
      per_point: whether each point's output depends on that point alone (enables per-point
        Jacobians and blocking); default True for built-in nets without batch statistics, False
        for others (adapted flax modules, user nets), which then run on all points at once.
      block_size: points per block (rows and columns); default from ``memory_budget``.
      memory_budget: peak bytes for one block (int or e.g. ``"2GB"``); default that of the engine
        (half the accelerator memory, or an eighth of host RAM up to 4 GiB on CPU).

    Returns:
      float array: ``(n1, n2)`` traced, ``(n1, n2, O, O)`` kept; diagonal ``(n1,)`` / ``(n1, O, O)``.

    Raises:
      ValueError: bad method/options, inputs of the wrong shape, blocking a net whose points are
        not independent, or a budget too small for one point.
    """
    from jaxbias.engine import default_budget, parse_bytes

    x1 = _check_points("x1", x1)
    if x2 is not None:
        x2 = _check_points("x2", x2)
        if x2.shape[1:] != x1.shape[1:]:
            raise ValueError(f"x2 with shape {tuple(x2.shape)}: expected points of the same shape as x1 "
                             f"{tuple(x1.shape[1:])}")
        if diagonal:
            raise ValueError("diagonal=True: the diagonal T(x_i, x_i) needs x2=None")
    for name, flag in (("trace", trace), ("diagonal", diagonal)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}={flag!r}: expected True or False")
    program = ntk_fn(net, method=method, trace=trace, diagonal=diagonal, wrt=wrt, per_point=per_point)
    try:
        y = jax.eval_shape(net.apply, params, x1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"params do not fit net on x1 with shape {tuple(x1.shape)}: {e}") from e
    if len(y.shape) != 2:
        raise ValueError(f"net returned shape {tuple(y.shape)}: expected (n_points, n_out)")
    per_point = _independent_points(net) if per_point is None else per_point
    n1, n2 = x1.shape[0], (x1 if x2 is None else x2).shape[0]
    if block_size is None:
        budget = default_budget() if memory_budget is None else parse_bytes(memory_budget)
        block = _cached_block_size(program, params, x1, x2, budget, diagonal)
    else:
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ValueError(f"block_size={block_size!r}: expected a positive integer number of points")
        block = int(block_size)
    jitted = _jit(program)
    if block >= max(n1, n2):
        return np.asarray(jitted(params, x1, x2))
    if not per_point:
        raise ValueError(f"block_size={block}: blocking needs points whose outputs are independent (per_point=True); "
                         f"this net's points are coupled, so give a memory_budget for all {max(n1, n2)} at once")
    return _blocked(jitted, params, x1, x2, block, trace, diagonal, y.shape[1])


def _blocked(jitted, params, x1, x2, block, trace, diagonal, n_out) -> np.ndarray:
    """Assembles the kernel from fixed-size blocks of points (the last one padded, then cut)."""
    starts1 = range(0, x1.shape[0], block)
    if diagonal:
        parts = [np.asarray(jitted(params, _pad_rows(x1[s:s + block], block), None))[: min(block, x1.shape[0] - s)]
                 for s in starts1]
        return np.concatenate(parts, axis=0)
    other = x1 if x2 is None else x2
    tail = () if trace else (n_out, n_out)
    out = np.empty((x1.shape[0], other.shape[0]) + tail, np.float32)
    for i in starts1:
        xa = _pad_rows(x1[i:i + block], block)
        ra = min(block, x1.shape[0] - i)
        for j in range(0, other.shape[0], block):
            rb = min(block, other.shape[0] - j)
            if x2 is None and j < i:
                continue
            if x2 is None and j == i:
                k = jitted(params, xa, None)
            else:
                k = jitted(params, xa, _pad_rows(other[j:j + block], block))
            k = np.asarray(k)[:ra, :rb]
            out[i:i + ra, j:j + rb] = k
            if x2 is None and j > i:
                out[j:j + rb, i:i + ra] = np.swapaxes(k, 0, 1) if trace else np.transpose(k, (1, 0, 3, 2))
    return out
