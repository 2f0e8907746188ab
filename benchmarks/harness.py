"""What every benchmark script shares: timing, the machine's matmul rate, the per-network loop
baseline, FLOP counts, ratio lines and the JSON of figures.

The scripts run as modules from the repository root (``python -m benchmarks.sampling``), so
``from benchmarks.harness import ...`` needs no ``sys.path`` edits. This module needs only jax,
numpy and the standard library, not jaxbias or torch: ``benchmarks/nt_worker.py`` imports it in
the neural-tangents environment (jax 0.4.25).

Timing conventions (benchmarks/README.md): the first call (compilation + one run) is reported
apart from the steady state, which is the *best* of the later calls (on a shared machine the
minimum is the least noisy); methods compared with each other run in interleaved rounds, each
keeping its best rate, so that all see the same moments of machine load.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np

# ---------------------------------------------------------------------------------------------
# Timing


def now() -> float:
    """Wall clock for intervals (``time.perf_counter``), in s."""
    return time.perf_counter()


def log(msg: str) -> None:
    """Prints at once (runs take minutes; output goes to logs)."""
    print(msg, flush=True)


def timed(fn, repeats: int):
    """Calls ``fn()`` once (compile + run), then ``repeats`` more times, each to completion.

    Returns:
      ``(first call in s, best of the later calls in s, value of the first call)``.
    """
    t = now()
    value = jax.block_until_ready(fn())
    first = now() - t
    times = []
    for _ in range(repeats):
        t = now()
        jax.block_until_ready(fn())
        times.append(now() - t)
    return first, min(times), value


def best_of(fn, repeats: int) -> float:
    """Minimum wall time of ``repeats`` calls of ``fn()`` in s (no warm-up call: warm up first)."""
    times = []
    for _ in range(repeats):
        t = now()
        fn()
        times.append(now() - t)
    return min(times)


def rate_of(fn, n: int) -> float:
    """``n`` / the wall time of one call of ``fn()``: items per second."""
    t = now()
    fn()
    return n / (now() - t)


def interleaved_best(methods: dict, rounds: int) -> dict:
    """Calls each method once per round, round-robin, and keeps each one's best rate.

    On a shared machine the load changes from minute to minute; interleaving gives every method
    the same chances at a quiet moment, so ratios of these best rates are steadier than ratios of
    runs made minutes apart.

    Args:
      methods: name -> callable returning its rate (warm-up excluded), called in this order.
      rounds: how many times each is called.

    Returns:
      name -> best rate, in the order of ``methods``.
    """
    best = {name: 0.0 for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            best[name] = max(best[name], fn())
    return best


# ---------------------------------------------------------------------------------------------
# References measured in the same process


def matmul_rate(n: int, repeats: int) -> float:
    """The limit: best dense float32 rate through XLA (GFLOP/s) of an ``n x n`` by ``n x n`` product."""
    k1, k2 = jax.random.split(jax.random.key(0))
    a = jax.random.normal(k1, (n, n), jnp.float32)
    b = jax.random.normal(k2, (n, n), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    f(a, b).block_until_ready()
    t = best_of(lambda: f(a, b).block_until_ready(), repeats)
    return 2 * n**3 / t / 1e9


def per_network_loop_rate(net, x, n: int, stat_host) -> float:
    """The per-network loop a user would write: jitted ``net.init`` and ``net.apply`` called once
    per key (``fold_in(key(0), i)``), the outputs handed to ``stat_host`` on the host side.

    Two networks warm up (compile) first; returns networks/s over the next ``n``.
    """
    init = jax.jit(net.init)
    apply = jax.jit(net.apply)
    x = jnp.asarray(x)
    base = jax.random.key(0)
    stat_host(apply(init(jax.random.fold_in(base, 0), x), x))  # compile
    stat_host(apply(init(jax.random.fold_in(base, 1), x), x))
    t = now()
    for i in range(n):
        stat_host(apply(init(jax.random.fold_in(base, i), x), x))
    return n / (now() - t)


def layer_fans(d0: int, width: int, depth: int, out: int = 1) -> list[tuple[int, int]]:
    """``(fan_in, fan_out)`` of each dense layer of an MLP ``d0 -> width x depth -> out``."""
    dims = [d0] + [width] * depth + [out]
    return list(zip(dims[:-1], dims[1:]))


def forward_flops(n_points: int, fans) -> int:
    """Matmul FLOPs of one forward pass: ``2 * points * sum(fan_in * fan_out)``."""
    return 2 * n_points * sum(a * b for a, b in fans)


# ---------------------------------------------------------------------------------------------
# The machine


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None (without importing it)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(mode: str) -> dict:
    """Date, CPU model (``lscpu``), cores, JAX backend and devices, versions, load average."""
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    dev = jax.devices()[0]
    return {
        "date": datetime.date.today().isoformat(),
        "cpu_model": model,
        "cpu_cores": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "jax_device": str(getattr(dev, "device_kind", dev.platform)),
        "n_devices": jax.device_count(),
        "jax": jax.__version__,
        "torch": package_version("torch"),
        "python": platform.python_version(),
        "mode": mode,
        "loadavg_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------
# Reporting


def target_line(label: str, value: float | None, threshold: float, unit: str = "x", against: str | None = None) -> str:
    """One target: ``label``, the measured ``value`` (a ratio, unit "x", or a percentage, "%"),
    PASS when it reaches ``threshold``, and the baseline it was measured ``against``."""
    if value is None:
        return f"  {label}   n/a   (baseline skipped)"
    vs = f"  (vs {against})" if against else ""
    return f"  {label} {value:8.2f}{unit}  {'PASS' if value >= threshold else 'FAIL'}{vs}"


def _plain(value):
    """JSON for numpy scalars and arrays; anything else as text."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return str(value)


def write_json(path: str, figures: dict) -> None:
    """Writes ``figures`` (numbers, strings, lists, dicts; numpy values allowed) to ``path``."""
    with open(path, "w") as f:
        json.dump(figures, f, indent=2, default=_plain)
    log(f"wrote {path}")
