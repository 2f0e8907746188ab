"""One XLA device per CPU core, so the engine runs a share of each chunk on every core.

XLA shows a CPU host as a single device, and the engine shards its network axis over devices.
Many small networks are evaluated on that device mostly one small matmul at a time, on about
one core. Exposing the host as several devices gives each device its own share of the
networks and its own thread. Large networks gain nothing: their matmuls already use every core.

Measured on a 2-core Xeon (benchmarks/README.md): 7 -> 40 -> 40 -> 1 networks on 128 inputs
ran 1.05-1.4x faster, and ``jaxbias boolean-prior`` 1.22-1.26x faster end to end. The redshift cell
(width 64 on 16384 points) ran 0.75x. Results do not depend on the device count: network ``i``
is a function of the key and ``i`` only.

Call it right after import, before any JAX computation:

>>> import jaxbias as jb
>>> jb.use_cpu_devices("cores")  # doctest: +SKIP
2
"""

from __future__ import annotations

import os

import jax

__all__ = ["use_cpu_devices", "usable_cores", "parse_cpu_devices"]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_cpu_devices(text: str) -> int | str:
    """Command-line text for :func:`use_cpu_devices`: ``"cores"`` or a positive integer."""
    if text == "cores":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"--cpu-devices {text}: expected a positive integer or 'cores'")
    return n


def use_cpu_devices(n: int | str = "cores") -> int:
    """Exposes the host CPU to XLA as ``n`` devices; call it before JAX computes anything.

    Args:
      n: number of CPU devices (a positive int), or ``"cores"`` for :func:`usable_cores`.

    Returns:
      The number of CPU devices set.

    Raises:
      ValueError: ``n`` is neither a positive integer nor ``"cores"``.
      RuntimeError: JAX has already started its backends with another number of CPU devices.
        The count is fixed then; call this right after ``import jaxbias``.

    Only CPU devices change. On a host with a GPU, ``jax.devices()`` still lists the GPU, and the
    engine uses it.
    """
    if n == "cores":
        n = usable_cores()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r}: expected a positive number of CPU devices or 'cores'")
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError as e:  # backends already initialized
        have = len(jax.devices("cpu"))
        if have == n:
            return n
        raise RuntimeError(
            f"use_cpu_devices({n}): JAX already runs with {have} CPU device(s), and the count cannot change "
            "once it has computed anything; call jaxbias.use_cpu_devices right after import") from e
    return n
