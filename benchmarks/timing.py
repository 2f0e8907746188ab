"""Timing helper shared by the benchmark scripts, including workers that run in other environments
(it needs only jax)."""

from __future__ import annotations

import time

import jax


def timed(fn, repeats: int):
    """Call ``fn()`` once (compile + run), then ``repeats`` more times.

    Returns:
      ``(first call in s, best of the later calls in s, value of the first call)``.
    """
    t = time.perf_counter()
    value = jax.block_until_ready(fn())
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return first, min(times), value
