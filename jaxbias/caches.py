"""Every cache jaxbias keeps, in one place: bounded, listed, and cleared together.

Hyperparameters are hashable values (STYLE.md habit 2), so the engine's compiled programs and the
theory's jitted solvers are keyed by value: equal specs, equal stats and equal activations share one
entry whatever object holds them. The few caches that remain memoize work that depends only on such
values (a jitted program per network structure, quadrature nodes per order, a Fourier grid per
shape). Each is made by :func:`bounded_cache`, which bounds it (least recently used entries go
first) and registers it here: :func:`cache_info` lists them with their bounds and sizes, and
:func:`clear_caches` empties them all together with JAX's own compilation caches, so the next call
compiles again. :func:`count_compiles` shows what compiles, through JAX's monitoring events.

>>> import jaxbias as jb
>>> all(info.maxsize is not None for info in jb.caches.cache_info().values())
True
>>> jb.clear_caches()
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import Any, Callable, Iterator, NamedTuple, TypeVar

import jax
import jax.monitoring

__all__ = ["bounded_cache", "clear_caches", "cache_info", "CacheInfo", "count_compiles", "by_value"]

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
"""The monitoring event JAX records once per XLA compilation (``jax._src.dispatch.BACKEND_COMPILE_EVENT``)."""

F = TypeVar("F", bound=Callable)

_REGISTRY: dict[str, Callable] = {}
"""Every cache made by :func:`bounded_cache`, by ``module.qualname`` of the function it wraps."""


class CacheInfo(NamedTuple):
    """One registered cache: its bound and how full it is (as ``functools.lru_cache`` counts)."""

    maxsize: int
    currsize: int
    hits: int
    misses: int


def bounded_cache(maxsize: int) -> Callable[[F], F]:
    """Decorator: memoizes a function of hashable arguments in a registered LRU cache of ``maxsize`` entries.

    Args:
      maxsize: the most entries kept (a positive integer: every jaxbias cache is bounded).

    Returns:
      A decorator; the wrapped function is ``functools.lru_cache(maxsize)(fn)``, registered under
      ``fn.__module__ + "." + fn.__qualname__`` for :func:`cache_info` and :func:`clear_caches`.

    Raises:
      ValueError: ``maxsize`` is not a positive integer.
    """
    if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
        raise ValueError(f"maxsize={maxsize!r}: expected a positive integer (caches are bounded)")

    def decorate(fn: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(fn)
        _REGISTRY[f"{fn.__module__}.{fn.__qualname__}"] = cached
        return cached  # type: ignore[return-value]

    return decorate


def cache_info() -> dict[str, CacheInfo]:
    """Every registered cache by name (``module.function``), with its bound and current size."""
    out = {}
    for name, cached in sorted(_REGISTRY.items()):
        info = cached.cache_info()
        out[name] = CacheInfo(info.maxsize, info.currsize, info.hits, info.misses)
    return out


def clear_caches() -> None:
    """Empties every jaxbias cache and JAX's compilation caches (``jax.clear_caches``).

    Afterwards the next run of any network compiles again; results are unchanged (every cache
    holds only what its arguments determine). Useful to free memory in a long session that
    visited many structures, and to measure compile times.
    """
    for cached in _REGISTRY.values():
        cached.cache_clear()
    jax.clear_caches()


@contextlib.contextmanager
def count_compiles() -> Iterator[list[str]]:
    """Records every XLA compilation inside the ``with`` block: yields a list that fills with the
    names of the compiled functions (the engine's per-chunk program is ``"jit(chunk_program)"``).

    Compilations are read from JAX's monitoring events (one backend-compile event per compiled
    program, cache hits record none), so it sees jit, eager operations and the engine alike.

    >>> import jax.numpy as jnp
    >>> x = jnp.ones(3)  # eager operations compile too: made before the block
    >>> with count_compiles() as compiled:
    ...     _ = jax.jit(lambda v: v * 3.0)(x)
    >>> len(compiled)
    1
    """
    names: list[str] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == _COMPILE_EVENT:
            names.append(str(kwargs.get("fun_name", "?")))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


@dataclasses.dataclass(frozen=True)
class _BoundMethod:
    """``getattr(owner, method)`` as a value: equal (and hashed alike) for equal owners.

    Python compares bound methods by the identity of their object, so ``spec.init`` of two equal
    specs built separately are different keys; this one compares the specs themselves.
    """

    owner: Any
    method: str

    def __call__(self, *args, **kwargs):
        return getattr(self.owner, self.method)(*args, **kwargs)


def _method_by_value(fn: Any) -> Any:
    owner, func = getattr(fn, "__self__", None), getattr(fn, "__func__", None)
    if owner is None or func is None or getattr(owner, func.__name__, None) != fn:
        return fn
    try:
        hash(owner)
    except TypeError:
        return fn
    return _BoundMethod(owner, func.__name__)


def by_value(net: Any) -> Any:
    """A network as a cache key that compares by value, and runs as ``net`` does.

    Specs hash by value already and come back unchanged. In a NamedTuple of functions such as
    :class:`jaxbias.nets.Net`, methods of a hashable value (``Net(spec.init, kernel_apply)``)
    become values compared through that value, so wrapping equal specs gives equal keys. Any
    other unhashable network is keyed by its two functions (compared by identity) and its name.

    Args:
      net: anything with ``init`` and ``apply``.

    Returns:
      A hashable network with the same ``init`` and ``apply`` behaviour.
    """
    if isinstance(net, tuple) and hasattr(net, "_replace"):  # a NamedTuple network such as Net
        net = net._replace(**{f: _method_by_value(getattr(net, f)) for f in net._fields if callable(getattr(net, f))})
    try:
        hash(net)
    except TypeError:
        return _Functions(_method_by_value(net.init), _method_by_value(net.apply), str(getattr(net, "name", "net")))
    return net


@dataclasses.dataclass(frozen=True)
class _Functions:
    """An unhashable network's ``init`` and ``apply`` as a hashable network (see :func:`by_value`)."""

    init: Callable
    apply: Callable
    name: str = "net"
