"""Lempel-Ziv complexity of strings, Boolean truth tables and quantized grid functions.

* :func:`lz76` counts the phrases of the exhaustive LZ76 parse (Lempel & Ziv, IEEE Trans. Inf.
  Theory 22, 1976) with the algorithm of Kaspar & Schuster (Phys. Rev. A 36, 842, 1987). The
  parse is sequential; here it is a ``lax.while_loop`` over the string, so it is jit- and
  vmap-able and runs inside the engine's compiled program (a vmapped while loop runs until the
  slowest string of the batch is parsed).
* :func:`lz_complexity` is the symmetric, log2-scaled form of Valle-Perez, Camargo & Louis,
  "Deep learning generalizes because the parameter-function map is biased towards simple
  functions", ICLR 2019: ``log2(n) * (N(s) + N(reverse(s))) / 2`` for a string ``s`` of length
  ``n``, and ``log2(n)`` for the all-0 and all-1 strings. LZ78/LZW variants give other numbers
  for the same string: this is LZ76.
* :func:`lz_grid` is the LZ complexity of a grid function quantized to a few levels and
  flattened in C order.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxbias.measures.constant import near_constant, non_finite

__all__ = ["lz76", "lz_complexity", "lz_grid"]


def _check_string(s, name="bits"):
    s = jnp.asarray(s)
    if s.ndim != 1 or s.shape[0] < 1:
        raise ValueError(f"{name} with shape {tuple(s.shape)}: expected a 1-D string of length >= 1")
    if jnp.issubdtype(s.dtype, jnp.floating) or jnp.issubdtype(s.dtype, jnp.complexfloating):
        raise ValueError(f"{name} with dtype {s.dtype}: expected bool or integer symbols")
    return s.astype(jnp.int32)


def lz76(symbols):
    """Number of phrases of the LZ76 exhaustive parse (Kaspar & Schuster's algorithm).

    Args:
      symbols: ``(n,)`` bool or integer string, ``n >= 1``.

    Returns:
      int32 scalar ``N(s)``, jit- and vmap-able.

    Example:
      >>> import jax.numpy as jnp
      >>> s = jnp.array([int(c) for c in "0001101001000101"])  # 0.001.10.100.1000.101 (Lempel & Ziv 1976)
      >>> int(lz76(s))
      6
    """
    s = _check_string(symbols, "symbols")
    if s.shape[0] == 1:
        return jnp.int32(1)
    return _lz76_phrases(s)


@jax.jit
def _lz76_phrases(s: jax.Array) -> jax.Array:
    """The parse of :func:`lz76` for a checked int32 string of length >= 2.

    Jitted once at module level: called outside ``jit``, a ``lax.while_loop`` would trace new loop
    bodies and compile again on every call; through this function it compiles once per length.
    """
    n = s.shape[0]
    one = jnp.int32(1)

    # Kaspar & Schuster: i scans earlier starts, l is where the current phrase begins, k its
    # candidate length, k_max the longest match found so far for it; c counts phrases.
    def cond(state):
        return ~state[5]

    def body(state):
        i, c, l, k, k_max, _ = state
        same = s[jnp.minimum(i + k - 1, n - 1)] == s[jnp.minimum(l + k - 1, n - 1)]
        # match: extend; the string ends inside a copy -> one last phrase
        k_same = k + one
        end_same = l + k_same > n
        # mismatch: try the next start; all starts tried -> the phrase ends, next phrase
        k_max_new = jnp.maximum(k, k_max)
        i_next = i + one
        closes = i_next == l
        l_closed = l + k_max_new
        end_diff = closes & (l_closed + one > n)
        new = (
            jnp.where(same, i, jnp.where(closes, 0, i_next)),
            c + jnp.where(same, end_same, closes).astype(jnp.int32),
            jnp.where(same | ~closes, l, l_closed),
            jnp.where(same, k_same, one),
            jnp.where(same, k_max, jnp.where(closes, one, k_max_new)),
            jnp.where(same, end_same, end_diff),
        )
        return new

    state = (jnp.int32(0), one, one, one, one, jnp.bool_(False))
    return jax.lax.while_loop(cond, body, state)[1]


def lz_complexity(bits):
    """Valle-Perez et al.'s symmetric LZ complexity ``log2(n) * (N(s) + N(reverse s)) / 2``.

    All-0 and all-1 strings get ``log2(n)`` (their LZ76 count would be 2); a string of length 1
    gets 0 (log2(1)).

    Args:
      bits: ``(n,)`` bool or integer string (e.g. a truth table).

    Returns:
      float32 scalar, jit- and vmap-able.

    Example:
      >>> import jax.numpy as jnp
      >>> float(lz_complexity(jnp.array([0, 1, 0, 1, 0, 1, 0, 1])))  # 3 phrases both ways: 3 * 3
      9.0
    """
    s = _check_string(bits)
    n = s.shape[0]
    log_n = jnp.float32(math.log2(n))
    both = (lz76(s) + lz76(s[::-1])).astype(jnp.float32)
    constant = jnp.all(s == s[0])
    return jnp.where(constant, log_n, log_n * both / 2)


def lz_grid(values, levels: int = 2, *, guard: bool = True, rtol: float | None = None):
    """LZ complexity (:func:`lz_complexity`) of a function quantized to ``levels`` levels.

    The range ``[min, max]`` is cut into ``levels`` equal bins; the symbols are flattened in C
    order (for ``jb.inputs.grid`` outputs: the point order). Near-constant functions
    (:func:`~jaxbias.measures.near_constant`) become the constant string.

    Args:
      values: one function's outputs, any shape (e.g. ``(r, r)`` on a grid).
      levels: quantization levels (>= 2); 2 thresholds at the midpoint of the range.
      guard: apply the near-constant guard.
      rtol: the guard's threshold.

    Returns:
      float32 scalar; NaN when ``values`` has a NaN or infinite entry (no score,
      :func:`~jaxbias.measures.non_finite`).
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels={levels!r}: expected an integer >= 2")
    v = jnp.asarray(values)
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.float32)
    v = v.reshape(-1)
    lo, hi = jnp.min(v), jnp.max(v)
    width = jnp.where(hi > lo, hi - lo, 1)
    symbols = jnp.clip(jnp.floor((v - lo) / width * levels), 0, levels - 1).astype(jnp.int32)
    if guard:
        symbols = jnp.where(near_constant(v, rtol=rtol), 0, symbols)
    return jnp.where(non_finite(v), jnp.nan, lz_complexity(symbols))
