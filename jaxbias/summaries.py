"""Streaming summaries over networks: combine chunk after chunk without keeping per-net values.

A summary is a :class:`Summary` of three functions, in the manner of optax's
``GradientTransformation``:

* ``partial(values, mask) -> pytree`` runs **inside** the compiled chunk program on the stat values
  of one chunk of networks (``values``: ``(chunk, ...)``, ``mask``: ``(chunk,)`` bool, False for
  padding) and returns a small pytree: the only thing that leaves the device.
* ``merge(state, partial) -> state`` folds it into host state (numpy, float64 where it matters).
  ``state`` starts as ``None``.
* ``result(state) -> dict`` turns the state into named numpy results.

Factories are memoized in bounded caches (:mod:`jaxbias.caches`: same arguments, same Summary
object), so the engine's compiled programs are reused across runs. Merging is exact up to float
rounding whatever the chunk size or device count: moments use the pairwise update of Chan, Golub &
LeVeque (1979), histograms and distinct-value counts are integer sums.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange

from jaxbias.caches import bounded_cache

__all__ = ["Summary", "moments", "histogram", "count_distinct", "pack_bits"]


class Summary(NamedTuple):
    """A streaming reduction over networks (see module docstring)."""

    partial: Callable[[jax.Array, jax.Array], Any]
    merge: Callable[[Any, Any], Any]
    result: Callable[[Any], dict]


@bounded_cache(maxsize=1)
def moments() -> Summary:
    """Count, mean, variance (unbiased) and standard error of the mean of each stat entry.

    Within a chunk the mean and the centred sum of squares are computed in two passes on device;
    across chunks they are merged on the host in float64 with Chan et al.'s formula, so the result
    does not drift over a million networks.

    Result: ``{"count": int, "mean": (...), "var": (...), "sem": (...)}`` over the net axis.
    """

    def partial(values, mask):
        v = values.astype(jnp.float32)
        w = mask.astype(jnp.float32).reshape(mask.shape + (1,) * (v.ndim - 1))
        count = jnp.sum(mask.astype(jnp.float32))
        mean = jnp.sum(v * w, axis=0) / jnp.maximum(count, 1.0)
        m2 = jnp.sum(jnp.square(v - mean[None]) * w, axis=0)
        return count, mean, m2

    def merge(state, part):
        nb, mb, m2b = (np.asarray(a, np.float64) for a in part)
        nb = float(nb)
        if nb == 0:
            return state
        if state is None:
            return nb, mb, m2b
        na, ma, m2a = state
        n = na + nb
        delta = mb - ma
        return n, ma + delta * (nb / n), m2a + m2b + np.square(delta) * (na * nb / n)

    def result(state):
        if state is None:
            return {"count": 0, "mean": np.nan, "var": np.nan, "sem": np.nan}
        n, mean, m2 = state
        var = m2 / (n - 1) if n > 1 else np.full_like(m2, np.nan)
        return {"count": int(n), "mean": mean, "var": var, "sem": np.sqrt(var / n)}

    return Summary(partial, merge, result)


def histogram(bins: int = 50, range: tuple[float, float] = (0.0, 1.0)) -> Summary:
    """Counts of a scalar stat in ``bins`` equal bins over ``range`` (plus under/overflow and NaN).

    Result: ``{"counts": (bins,) int64, "edges": (bins + 1,), "underflow", "overflow", "nan"}``.
    The right edge is included in the last bin, as in ``numpy.histogram``.
    """
    try:
        lo, hi = (float(r) for r in range)
    except (TypeError, ValueError):
        raise ValueError(f"range={range!r}: expected finite (low, high) with low < high") from None
    return _histogram(bins, lo, hi)


@bounded_cache(maxsize=64)
def _histogram(bins: int, lo: float, hi: float) -> Summary:
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins={bins!r}: expected an integer >= 1")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"range={(lo, hi)!r}: expected finite (low, high) with low < high")
    edges = np.linspace(lo, hi, bins + 1)

    def partial(values, mask):
        v = rearrange(values, "net ... -> net (...)").astype(jnp.float32)
        if v.shape[1] != 1:
            raise ValueError(f"histogram summary expects a scalar stat per network, got shape {values.shape[1:]}")
        v = v[:, 0]
        nan = jnp.isnan(v)
        idx = jnp.floor((v - lo) / (hi - lo) * bins).astype(jnp.int32)
        idx = jnp.where(v == hi, bins - 1, idx)
        # slot 0: underflow, 1..bins: bins, bins+1: overflow, bins+2: NaN
        slot = jnp.clip(idx, -1, bins) + 1
        slot = jnp.where(nan, bins + 2, slot)
        slot = jnp.where(mask, slot, bins + 3)
        return jnp.zeros(bins + 4, jnp.int32).at[slot].add(1)

    def merge(state, part):
        part = np.asarray(part, np.int64)
        return part if state is None else state + part

    def result(state):
        state = np.zeros(bins + 4, np.int64) if state is None else state
        return {
            "counts": state[1 : bins + 1],
            "edges": edges,
            "underflow": int(state[0]),
            "overflow": int(state[bins + 1]),
            "nan": int(state[bins + 2]),
        }

    return Summary(partial, merge, result)


def pack_bits(bits: jax.Array) -> jax.Array:
    """Packs a Boolean vector ``(m,)`` into ``ceil(m / 32)`` uint32 words, bit j of word k = bits[32k + j]."""
    bits = bits.reshape(-1).astype(jnp.uint32)
    m = bits.shape[0]
    words = -(-m // 32)
    bits = rearrange(jnp.pad(bits, (0, words * 32 - m)), "(word bit) -> word bit", bit=32)
    return jnp.sum(bits << jnp.arange(32, dtype=jnp.uint32)[None, :], axis=1, dtype=jnp.uint32)


_HASH_WORDS = 4
_EXACT_MAX_WORDS = 32


def _mix(words: jax.Array, seed: int) -> jax.Array:
    """A 32-bit hash of a uint32 vector (multiply-xorshift mixing per word, then combined)."""
    h = jnp.uint32(seed * 0x9E3779B1 % 2**32)

    def body(h, w):
        w = w * jnp.uint32(0xCC9E2D51)
        w = (w << 15) | (w >> 17)
        w = w * jnp.uint32(0x1B873593)
        h = h ^ w
        h = (h << 13) | (h >> 19)
        h = h * jnp.uint32(5) + jnp.uint32(0xE6546B64)
        return h, None

    h, _ = jax.lax.scan(body, h, words)
    h = h ^ jnp.uint32(words.shape[0] * 4)
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


@bounded_cache(maxsize=1)
def count_distinct() -> Summary:
    """Counts how often each distinct Boolean output pattern (truth table) occurs.

    The stat must be Boolean (e.g. ``outputs > 0``) of any shape per network, or a pair
    ``(pattern, valid)`` with ``valid`` a Boolean scalar: networks with ``valid`` False (e.g.
    non-finite outputs, whose ``outputs > 0`` would read as the all-zeros pattern) are not counted
    but tallied in ``"excluded"``. Patterns of at most
    1024 bits are packed exactly into uint32 words (no collisions); longer ones are hashed to 128
    bits (four independent MurmurHash3-style 32-bit hashes), whose collision probability over
    10^7 functions is below 10^-24. Packing and de-duplication within a chunk run on device
    (``jnp.unique`` with a static size); only the distinct patterns and their counts leave it.

    Result: ``{"keys": (n_distinct, words) uint32 sorted by decreasing count, "counts": (n_distinct,)
    int64, "exact": bool, "total": int, "excluded": int}`` (``total`` counts the valid networks
    only). With ``exact`` the keys unpack to truth tables (see :func:`unpack_bits`).
    """
    def partial(values, mask):
        excluded = jnp.zeros((), jnp.int32)
        if isinstance(values, tuple):
            values, valid = values
            excluded = jnp.sum(mask & ~valid.astype(bool)).astype(jnp.int32)
            mask = mask & valid.astype(bool)
        chunk = values.shape[0]
        flat = rearrange(values, "net ... -> net (...)")
        if flat.dtype != jnp.bool_:
            raise ValueError(f"count_distinct expects a Boolean stat (e.g. outputs > 0), got dtype {flat.dtype}")
        words = jax.vmap(pack_bits)(flat)
        exact = words.shape[1] <= _EXACT_MAX_WORDS
        if not exact:
            words = jnp.stack([jax.vmap(lambda w, s=s: _mix(w, s))(words) for s in range(1, _HASH_WORDS + 1)], axis=1)
        # Padding rows become a sentinel pattern and are dropped by the mask count.
        keys, inverse = jnp.unique(words, axis=0, size=chunk, fill_value=0, return_inverse=True)
        counts = jnp.zeros(chunk, jnp.int32).at[inverse.reshape(-1)].add(mask.astype(jnp.int32))
        return keys, counts, jnp.asarray(exact), excluded

    def consolidate(keys, counts):
        uniq, inv = np.unique(np.concatenate(keys), axis=0, return_inverse=True)
        summed = np.zeros(len(uniq), np.int64)
        np.add.at(summed, inv.reshape(-1), np.concatenate(counts))
        return uniq, summed

    def merge(state, part):
        # Partials are buffered and de-duplicated only when the buffer outgrows the table, so the
        # host cost stays linear in the number of networks however many functions are distinct.
        keys, counts, exact, excluded = (np.asarray(a) for a in part)
        keep = counts > 0
        pending_keys, pending_counts, table_rows = state[:3] if state is not None else ([], [], 0)
        excluded = int(excluded) + (state[4] if state is not None else 0)
        pending_keys = pending_keys + [keys[keep]]
        pending_counts = pending_counts + [counts[keep].astype(np.int64)]
        if sum(len(k) for k in pending_keys) > 2 * table_rows + 65536:
            table = consolidate(pending_keys, pending_counts)
            pending_keys, pending_counts, table_rows = [table[0]], [table[1]], len(table[0])
        return pending_keys, pending_counts, table_rows, bool(exact), excluded

    def result(state):
        if state is None:
            return {"keys": np.zeros((0, 1), np.uint32), "counts": np.zeros(0, np.int64), "exact": True, "total": 0,
                    "excluded": 0}
        keys, counts = consolidate(state[0], state[1])
        order = np.lexsort((np.arange(len(counts)), -counts))
        return {"keys": keys[order], "counts": counts[order], "exact": state[3], "total": int(counts.sum()),
                "excluded": state[4]}

    return Summary(partial, merge, result)


def unpack_bits(words: np.ndarray, n_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``(..., words)`` uint32 -> ``(..., n_bits)`` bool."""
    words = np.asarray(words, np.uint32)
    bits = (words[..., :, None] >> np.arange(32, dtype=np.uint32)) & 1
    return rearrange(bits, "... word bit -> ... (word bit)")[..., :n_bits].astype(bool)
