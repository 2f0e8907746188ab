"""Estimates of the memory one network needs inside the compiled program.

The engine sizes chunks from this number. It is read off the jaxpr of one network (init, apply,
stat) by a liveness walk: each value is alive from the equation that makes it to the last one that
reads it, and the estimate is the peak of the sum of live bytes, recursing into sub-programs
(``jit``, ``scan``, ``cond``, custom derivatives). XLA fuses and reuses buffers, so this is an upper
bound in practice; it costs one trace, no compile, and works on every backend.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.extend.core as jex
import numpy as np

__all__ = ["per_net_bytes", "jaxpr_peak_bytes"]


def _nbytes(aval) -> int:
    shape = getattr(aval, "shape", None)
    dtype = getattr(aval, "dtype", None)
    if shape is None or dtype is None:
        return 0
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:  # PRNG key dtypes
        itemsize = 8
    return math.prod(shape) * itemsize


def _sub_jaxprs(eqn):
    for sub in jex.jaxprs_in_params(eqn.params):
        yield sub.jaxpr if isinstance(sub, jex.ClosedJaxpr) else sub


def jaxpr_peak_bytes(jaxpr) -> int:
    """Peak bytes of simultaneously live values while running ``jaxpr`` (see module docstring)."""
    last_use: dict = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for v in eqn.invars:
            if isinstance(v, jex.Var):
                last_use[v] = i
    n_eqns = len(jaxpr.eqns)
    for v in jaxpr.outvars:
        if isinstance(v, jex.Var):
            last_use[v] = n_eqns
    live = {v: _nbytes(v.aval) for v in list(jaxpr.invars) + list(jaxpr.constvars)}
    current = sum(live.values())
    peak = current
    for i, eqn in enumerate(jaxpr.eqns):
        inner = max((jaxpr_peak_bytes(sub) for sub in _sub_jaxprs(eqn)), default=0)
        produced = sum(_nbytes(v.aval) for v in eqn.outvars)
        peak = max(peak, current + max(inner, produced))
        for v in eqn.outvars:
            if v in last_use:
                live[v] = _nbytes(v.aval)
                current += live[v]
        for v in {v for v in eqn.invars if isinstance(v, jex.Var)}:
            if last_use.get(v) == i and v in live:
                current -= live.pop(v)
        peak = max(peak, current)
    return peak


def per_net_bytes(one_net: Callable, key: jax.Array, x: np.ndarray) -> int:
    """Bytes one network needs: peak live bytes of ``one_net(key, x)``, not counting ``x`` itself."""
    closed = jax.make_jaxpr(one_net)(key, x)
    return max(1, jaxpr_peak_bytes(closed.jaxpr) - x.nbytes)
