"""Flax modules as pure ``Net(init, apply)`` pairs, adapted once at the boundary.

A flax module (linen or nnx) is turned into the two pure functions of :class:`~jaxbias.nets.Net`;
after that only jax transforms touch it, so the engine can ``jax.vmap`` ``init`` over thousands of
keys and ``apply`` over the stacked parameters inside one ``jax.jit``:

    params = jax.vmap(net.init, in_axes=(0, None))(keys, x)   # leaves (n_nets, ...)
    y = jax.vmap(net.apply, in_axes=(0, None))(params, x)      # (n_nets, n_points, n_out)

* :func:`from_linen` wraps ``module.init`` / ``module.apply``: with the same key the adapted net is
  the same function as ``module.apply(module.init(key, x), x)``. Parameters are flax's own
  variables dict, e.g. ``{"params": ..., "batch_stats": ...}``.
* :func:`from_nnx` takes a factory ``rngs -> nnx.Module``. It splits the module once (abstractly, with
  ``nnx.eval_shape``, so no arrays are allocated) to keep its graph definition; ``init`` builds the
  module from ``nnx.Rngs(key)`` and returns its state as a plain nested dict
  (``nnx.to_pure_dict``); ``apply`` merges graph and state back into a module and calls it. With the
  same key the adapted net is the same function as ``factory(nnx.Rngs(key))(x)``.

Both accept typed keys (``jax.random.key``) and legacy ``uint32`` keys (``jax.random.PRNGKey``).

Outputs must be ``(n_points, n_out)``; a module returning ``(n_points,)`` is reshaped to
``(n_points, 1)`` and any other shape raises ValueError at trace time.

Flax code runs under JAX's default promotion rules (``jax.numpy_rank_promotion("allow")`` and
``jax.numpy_dtype_promotion("standard")``): flax layers and the user's modules are written for
them, while jaxbias's own tests run with strict promotion (tests/conftest.py). The rules are read
when jax traces, so the context also holds inside ``jit`` and ``vmap``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp


__all__ = ["FlaxNet", "from_linen", "from_nnx"]


class FlaxNet(NamedTuple):
    """A flax module adapted to pure ``init`` / ``apply`` (equal when it holds the same functions).

    Attributes:
      init: ``init(key, x) -> variables``.
      apply: ``apply(variables, x) -> y (n_points, n_out)``.
      name: label written into results files (default: the module's class name).
      api: ``"linen"`` or ``"nnx"``.
      module: ``repr`` of the linen module, or the nnx module's class name.
    """

    init: Callable
    apply: Callable
    name: str
    api: str
    module: str

# Collections that flax fills during ``init`` as outputs (``Module.sow``) and never reads in ``apply``.
_OUTPUT_COLLECTIONS = ("intermediates",)


@contextlib.contextmanager
def _flax_promotion() -> Iterator[None]:
    """JAX's default promotion rules, which flax code is written for (see module docstring)."""
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        yield


def _check_x(x: jax.Array, adapter: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x with shape {tuple(x.shape)}: {adapter} expects inputs of shape (n_points, *input_shape)")
    return x


def _as_output(y: Any, x: jax.Array, what: str) -> Any:
    """Checks ``y`` is ``(n_points, n_out)``; reshapes ``(n_points,)`` to ``(n_points, 1)``.

    ``y`` may be an array or, from ``jax.eval_shape``, a ``jax.ShapeDtypeStruct`` (only checked).
    """
    if not isinstance(y, (jax.Array, jax.ShapeDtypeStruct)):
        raise ValueError(
            f"{what} returned {type(y).__name__}: expected one array of shape (n_points, n_out) "
            f"(n_points={x.shape[0]})"
        )
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{what} returned shape {tuple(y.shape)} for x with shape {tuple(x.shape)}: expected "
            f"(n_points, n_out) or (n_points,) with n_points={x.shape[0]}; flatten or reduce the "
            f"other axes inside the module"
        )
    if y.ndim == 1 and isinstance(y, jax.Array):
        y = y.reshape(y.shape[0], 1)
    return y


def _call(fn: Callable[[], Any], x: jax.Array, what: str, shape_errors: tuple[type, ...] = ()) -> Any:
    """Runs ``fn`` and turns a shape error from tracing into a ValueError that names ``x``'s shape."""
    try:
        with _flax_promotion():
            return fn()
    except (TypeError, *shape_errors) as e:
        # jax reports incompatible operand shapes (dot_general, conv, add) as TypeError at trace time;
        # linen checks stored parameters against the shapes the input implies (ScopeParamShapeError).
        raise ValueError(
            f"x with shape {tuple(x.shape)}: calling {what} on inputs of shape {tuple(x.shape[1:])} "
            f"failed while tracing (does the module expect another input shape?): "
            f"{type(e).__name__}: {e}"
        ) from e


def _method_name(method: Any) -> str | None:
    if method is None or isinstance(method, str):
        return method
    return getattr(method, "__qualname__", repr(method))


def from_linen(
    module: Any,
    *,
    method: str | Callable | None = None,
    collections: str | Sequence[str] | None = None,
    name: str | None = None,
) -> FlaxNet:
    """Adapts a ``flax.linen`` module to a :class:`FlaxNet`.

    ``init(key, x)`` is ``module.init(key, x)`` (the key seeds the ``"params"`` rng stream, as in flax)
    and ``apply(variables, x)`` is ``module.apply(variables, x)``: with the same key the adapted net is
    exactly the function flax gives. Collections other than ``"params"`` (e.g. ``"batch_stats"``) are
    passed to ``apply`` as mutable and their updates discarded, so a module that writes state in its
    forward pass, such as ``BatchNorm(use_running_average=False)``, runs and normalizes with the
    statistics of ``x`` (one batch of ``n_points`` for each network).

    Args:
      module: an unbound ``flax.linen.Module``; it fixes everything but the input shape, which
        ``module.init`` infers from ``x``.
      method: the module method to call (name or function), as in ``module.apply(..., method=...)``;
        None calls ``__call__``.
      collections: variable collections kept from ``module.init``. None keeps every collection it
        creates except ``"intermediates"`` (values ``sow``-n during init, which ``apply`` never
        reads). Give a name or sequence of names to keep only those; each must be created by the
        module, and ``apply`` needs every collection the module reads (e.g. ``"batch_stats"``).
      name: label written into results files; defaults to the module's class name.

    Returns:
      A :class:`FlaxNet`: ``init(key, x)`` with ``x`` of shape ``(n_points, *input_shape)`` returns the
      variables dict ``{collection: {...}}``; ``apply(variables, x)`` returns ``(n_points, n_out)``
      (a module output ``(n_points,)`` is reshaped to ``(n_points, 1)``; other shapes raise
      ValueError).

    Raises:
      ValueError: ``module`` is not a linen module, an unknown collection is requested, ``apply``
        receives inputs of a shape the variables do not fit, or the output is not
        ``(n_points, n_out)`` or ``(n_points,)``.

    Example:
      >>> import jax, jax.numpy as jnp, flax.linen as nn, jaxbias as jb
      >>> class MLP(nn.Module):
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         return nn.Dense(1)(jnp.tanh(nn.Dense(64)(x)))
      >>> net = jb.nets.from_linen(MLP())
      >>> x = jnp.ones((8, 2))
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (8, 1)
    """
    import flax.errors
    import flax.linen as nn

    if not isinstance(module, nn.Module):
        raise ValueError(f"module={module!r}: expected a flax.linen.Module (for nnx modules use from_nnx)")
    if collections is not None:
        collections = (collections,) if isinstance(collections, str) else tuple(collections)
        if not collections or not all(isinstance(c, str) for c in collections):
            raise ValueError(f"collections={collections!r}: expected None or one or more collection names")
    what = f"linen module {type(module).__name__}"

    def init(key, x):
        x = _check_x(x, "from_linen")
        # init_with_output runs the forward pass module.init runs anyway; its output is only checked.
        y, variables = _call(lambda: module.init_with_output(key, x, method=method), x, what)
        _as_output(y, x, what)
        variables = dict(variables)
        if collections is None:
            return {c: v for c, v in variables.items() if c not in _OUTPUT_COLLECTIONS}
        missing = [c for c in collections if c not in variables]
        if missing:
            raise ValueError(
                f"collections={collections!r}: {what} does not create {missing}; "
                f"module.init created {sorted(variables)}"
            )
        return {c: variables[c] for c in collections}

    def apply(variables, x):
        x = _check_x(x, "from_linen")
        mutable = [c for c in variables if c != "params"]
        shape_errors = (flax.errors.ScopeParamShapeError,)
        if mutable:
            y = _call(lambda: module.apply(variables, x, method=method, mutable=mutable)[0], x, what, shape_errors)
        else:
            y = _call(lambda: module.apply(variables, x, method=method), x, what, shape_errors)
        return _as_output(y, x, what)

    return FlaxNet(init, apply, name if name is not None else type(module).__name__, "linen", repr(module))


def from_nnx(factory: Callable[[Any], Any], *, name: str | None = None) -> FlaxNet:
    """Adapts a ``flax.nnx`` module, built by ``factory(rngs)``, to a :class:`FlaxNet`.

    The module is split once, at construction: ``nnx.eval_shape`` builds it abstractly (no arrays
    are allocated) and ``nnx.split`` keeps its graph definition. ``init(key, x)`` builds the module
    from ``nnx.Rngs(key)`` and returns its state as a plain nested dict of arrays
    (``nnx.to_pure_dict``; includes every variable: params, batch statistics, rng counters);
    ``apply(state, x)`` merges graph and state into a fresh module and calls it. Changes the forward
    pass makes to the module's variables (e.g. ``nnx.BatchNorm`` running averages) are discarded.
    With the same key, the adapted net is exactly ``factory(nnx.Rngs(key))(x)``.

    The factory fixes the input shape (nnx layers take their input size in ``__init__``); ``init``
    checks with an abstract forward pass (no FLOPs) that ``x`` fits, and ``apply`` raises
    ValueError naming the shapes rather than an XLA error when it does not.

    Args:
      factory: ``factory(rngs: nnx.Rngs) -> nnx.Module``; the module maps
        ``(n_points, *input_shape)`` to ``(n_points, n_out)`` or ``(n_points,)``. It must draw all of
        its randomness from ``rngs``.
      name: label written into results files; defaults to the module's class name.

    Returns:
      A :class:`FlaxNet`: ``init(key, x)`` returns the state dict, ``apply(state, x)`` returns
      ``(n_points, n_out)`` (a module output ``(n_points,)`` is reshaped to ``(n_points, 1)``).

    Raises:
      ValueError: ``factory`` does not return an nnx module, ``x`` does not fit the module's input
        shape, or the output is not ``(n_points, n_out)`` or ``(n_points,)``.

    Example:
      >>> import jax, jax.numpy as jnp, jaxbias as jb
      >>> from flax import nnx
      >>> class MLP(nnx.Module):
      ...     def __init__(self, rngs):
      ...         self.hidden = nnx.Linear(2, 64, rngs=rngs)
      ...         self.out = nnx.Linear(64, 1, rngs=rngs)
      ...     def __call__(self, x):
      ...         return self.out(jax.nn.relu(self.hidden(x)))
      >>> net = jb.nets.from_nnx(MLP)
      >>> x = jnp.ones((8, 2))
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (8, 1)
    """
    from flax import nnx

    if not callable(factory):
        raise ValueError(f"factory={factory!r}: expected a callable rngs -> nnx.Module")

    def build(rngs):
        module = factory(rngs)
        if not isinstance(module, nnx.Module):
            raise ValueError(
                f"factory={factory!r} returned {type(module).__name__}: expected an nnx.Module "
                f"(for linen modules use from_linen)"
            )
        return module

    with _flax_promotion():
        abstract = nnx.eval_shape(lambda: build(nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    abstract_pure = nnx.to_pure_dict(abstract_state)
    what = f"nnx module {type(abstract).__name__}"

    def merge(state):
        # The documented restore path: fill a fresh copy of the abstract state with the arrays, so
        # every variable keeps its nnx type and metadata, then merge with the graph definition.
        filled = jax.tree.map(lambda v: v, abstract_state)
        nnx.replace_by_pure_dict(filled, state)
        return nnx.merge(graphdef, filled)

    def forward(state, x):
        return _call(lambda: merge(state)(x), x, what)

    def init(key, x):
        x = _check_x(x, "from_nnx")
        with _flax_promotion():
            _, state = nnx.split(build(nnx.Rngs(key)))
        state = nnx.to_pure_dict(state)
        # Checks at trace time that x fits the module and the output shape is usable.
        _as_output(jax.eval_shape(forward, abstract_pure, jax.ShapeDtypeStruct(x.shape, x.dtype)), x, what)
        return state

    def apply(state, x):
        x = _check_x(x, "from_nnx")
        return _as_output(forward(state, x), x, what)

    return FlaxNet(init, apply, name if name is not None else type(abstract).__name__, "nnx", type(abstract).__name__)
