"""Lempel-Ziv complexity of strings, Boolean truth tables and quantized grid functions.

* :func:`lz76` counts the phrases of the exhaustive LZ76 parse (Lempel & Ziv, IEEE Trans. Inf.
  Theory 22, 1976), the count of Kaspar & Schuster's algorithm (Phys. Rev. A 36, 842, 1987)
  computed phrase by phrase, each phrase's longest previous factor found for all earlier starts at
  once on the bit-packed string (32 bits compared per vector step) instead of their symbol-by-symbol
  scan: jit- and vmap-able inside the engine's compiled program.
* :func:`lz_complexity` is the symmetric, log2-scaled form of Valle-Perez, Camargo & Louis,
  "Deep learning generalizes because the parameter-function map is biased towards simple
  functions", ICLR 2019: ``log2(n) * (N(s) + N(reverse(s))) / 2`` for a string ``s`` of length
  ``n``, and ``log2(n)`` for the all-0 and all-1 strings. LZ78/LZW variants give other numbers
  for the same string: this is LZ76.
* :func:`lz_grid` is the LZ complexity of a grid function quantized to a few levels and
  flattened in C order.
"""

from __future__ import annotations

import functools
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


def lz76(symbols, alphabet: int | None = None):
    """Number of phrases of the LZ76 exhaustive parse (Kaspar & Schuster's algorithm).

    Args:
      symbols: ``(n,)`` bool or integer string, ``n >= 1``.
      alphabet: optional static bound: the symbols are known to lie in ``[0, alphabet)`` (they are
        then packed ``ceil(log2(alphabet))`` bits each; bool strings use 1 bit). None: any integers
        (relabelled by rank first, which costs one sort).

    Returns:
      int32 scalar ``N(s)``, jit- and vmap-able.

    Example:
      >>> import jax.numpy as jnp
      >>> s = jnp.array([int(c) for c in "0001101001000101"])  # 0.001.10.100.1000.101 (Lempel & Ziv 1976)
      >>> int(lz76(s))
      6
    """
    s, bits = _packable(symbols, alphabet, "symbols")
    if s.shape[0] == 1:
        return jnp.int32(1)
    return _lz76_phrases(s, bits)


def _packable(symbols, alphabet, name):
    """``(int32 string with values in [0, 2^bits), bits)`` of a checked string."""
    raw = jnp.asarray(symbols)
    s = _check_string(raw, name)
    n = s.shape[0]
    if alphabet is None and raw.dtype == jnp.bool_:
        alphabet = 2
    if alphabet is None:  # relabel by rank: ids in [0, n)
        s = jnp.searchsorted(jnp.sort(s), s, side="left").astype(jnp.int32)
        alphabet = n
    elif isinstance(alphabet, bool) or not isinstance(alphabet, int) or alphabet < 1:
        raise ValueError(f"alphabet={alphabet!r}: expected None or a positive integer")
    return s, max(1, (alphabet - 1).bit_length())


def _ctz(x: jax.Array) -> jax.Array:
    """Trailing zero bits of uint32 ``x`` (32 for 0), as int32."""
    return jax.lax.population_count((x & (~x + jnp.uint32(1))) - jnp.uint32(1)).astype(jnp.int32)


@functools.partial(jax.jit, static_argnums=1)
def _lz76_phrases(s: jax.Array, bits: int) -> jax.Array:
    """The parse of :func:`lz76` for a string of length >= 2 with symbols in ``[0, 2^bits)``.

    A phrase starting at ``l`` is the longest prefix of ``s[l:]`` that also starts at some ``i < l``
    (overlap allowed), plus one new symbol: its length is ``LPF[l] + 1`` with the longest previous
    factor ``LPF[l] = max_{i < l} LCP(s[i:], s[l:])`` (Crochemore & Ilie, Inf. Process. Lett. 106,
    2008), cut at the end of the string. The phrases are walked one by one; at each, every earlier
    start ``i`` is compared with ``l`` at once, ``32 // bits`` symbols per step: the string is packed
    ``bits`` bits a symbol into uint32 words, and the first differing symbol of two 32-bit windows is
    found by counting trailing zeros of their xor. Cost: ``O(n)`` vector work per step and
    ``1 + LPF[l] // (32 // bits)`` steps per phrase; no sort, and a small program to compile. It
    reproduces Kaspar & Schuster's count (tests/test_measures_lz.py checks it against their
    sequential algorithm).
    """
    n = s.shape[0]
    per_window = 32 // bits  # whole symbols compared per 32-bit window
    # bit t of symbol p is bit p * bits + t of the stream, packed LSB first; zero words of padding
    stream = ((s[:, None] >> jnp.arange(bits, dtype=jnp.int32)[None, :]) & 1).reshape(-1).astype(jnp.uint32)
    n_words = -(-stream.shape[0] // 32) + 2
    stream = jnp.pad(stream, (0, n_words * 32 - stream.shape[0]))
    words = (stream.reshape(n_words, 32) << jnp.arange(32, dtype=jnp.uint32)[None, :]).sum(axis=1, dtype=jnp.uint32)
    # windows[p]: the 32 bits from symbol p on, for p in [0, 2n) (zeros past the end)
    q = jnp.minimum(jnp.arange(2 * n, dtype=jnp.int32), n) * bits
    w, r = q >> 5, (q & 31).astype(jnp.uint32)
    windows = (words[w] >> r) | jnp.where(r == 0, jnp.uint32(0), words[w + 1] << (jnp.uint32(32) - r))
    windows = jnp.where(jnp.arange(2 * n) < n, windows, jnp.uint32(0))
    starts = jnp.arange(n, dtype=jnp.int32)

    def step(carry):
        # One comparison of 32-bit windows per iteration, for the phrase starting at l: every start
        # still matching has matched the same ``offset`` symbols, so its next window is one contiguous
        # slice of ``windows``, compared with the single window of ``s[l + offset:]``. A phrase whose
        # matches all end here is closed and the next one starts at the next iteration (one flat loop,
        # so that under vmap each string advances at its own pace).
        l, offset, alive, count = carry
        ahead = jax.lax.dynamic_slice(windows, (offset,), (n,)) ^ windows[l + offset]
        same = jnp.where(alive, jnp.minimum(_ctz(ahead) // bits, per_window), -1)
        alive = alive & (same == per_window)
        go_on = jnp.any(alive) & (l + offset + per_window < n)
        factor = jnp.clip(offset + jnp.max(same), 0, n - l)  # the longest previous factor, once closed
        next_l = jnp.where(go_on, l, l + factor + 1)
        return (next_l, jnp.where(go_on, offset + per_window, 0), jnp.where(go_on, alive, starts < next_l),
                count + jnp.where(go_on, 0, 1))

    _, _, _, count = jax.lax.while_loop(lambda c: c[0] < n, step,
                                        (jnp.int32(0), jnp.int32(0), starts < 0, jnp.int32(0)))
    return count


def lz_complexity(bits, alphabet: int | None = None):
    """Valle-Perez et al.'s symmetric LZ complexity ``log2(n) * (N(s) + N(reverse s)) / 2``.

    All-0 and all-1 strings get ``log2(n)`` (their LZ76 count would be 2); a string of length 1
    gets 0 (log2(1)).

    Args:
      bits: ``(n,)`` bool or integer string (e.g. a truth table).
      alphabet: optional static bound on the symbols, as for :func:`lz76`.

    Returns:
      float32 scalar, jit- and vmap-able.

    Example:
      >>> import jax.numpy as jnp
      >>> float(lz_complexity(jnp.array([0, 1, 0, 1, 0, 1, 0, 1])))  # 3 phrases both ways: 3 * 3
      9.0
    """
    raw = jnp.asarray(bits)
    s = _check_string(raw)
    if alphabet is None and raw.dtype == jnp.bool_:
        alphabet = 2
    n = s.shape[0]
    log_n = jnp.float32(math.log2(n))
    # both directions in one loop (vmapped): it runs as long as the longer parse, not the two in turn
    both = jnp.sum(jax.vmap(lambda t: lz76(t, alphabet))(jnp.stack([s, s[::-1]]))).astype(jnp.float32)
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
    return jnp.where(non_finite(v), jnp.nan, lz_complexity(symbols, alphabet=levels))
