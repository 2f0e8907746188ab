"""The sampling engine: many random networks, one compiled program.

Network ``i`` of a run is ``net.init(fold_in(key, i), x)``: a pure function of the run's key and
its index, so a run gives the same networks whatever the chunk size, the number of devices or
the number of processes. For each chunk of indices one jitted program draws the parameters,
applies the networks to the inputs and evaluates the per-network ``stat``; only the stat leaves
the device. Chunks are sized to a memory budget and sharded over every device (all processes'
devices under ``jax.distributed``); on CPUs each device's share is evaluated a cache-sized
micro-batch at a time (``lax.map``), which measured 1.5-2.3x faster than one vmap. The next
chunk is dispatched before the previous one is copied back, so the host never starves the device.

>>> import jaxbias as jb
>>> net = jb.nets.mlp(width=32, depth=2, activation="tanh")
>>> x = jb.inputs.grid(dim=2, resolution=8)
>>> jb.sample(net, x, n=10, key=0).shape
(10, 64, 1)
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxbias.caches import bounded_cache, by_value
from jaxbias.keys import as_key
from jaxbias.memory import per_net_bytes
from jaxbias.nets.core import Net
from jaxbias.summaries import Summary
from jaxbias.validation import check_n as _check_n

__all__ = ["sample", "reduce", "summarize", "RunOptions", "RunPlan", "plan"]

_NET_AXIS = "net"
_DEFAULT_MAX_CHUNK_PER_DEVICE = 1024
# CPU tuning, measured in benchmarks/README.md on a 2-core Xeon: networks are evaluated in
# cache-sized batches of <= 16 MiB. Networks of more than 8 MiB therefore run one at a time: their
# layers are then plain matmuls, which XLA's CPU backend runs 10-25 % faster than the same
# matmuls batched; small networks gain from batching (many tiny matmuls per step).
_CPU_CACHE_BYTES = 16 * 2**20
_CPU_MAX_MICRO_BATCH = 256
_CPU_MICRO_BATCHES_PER_CHUNK = 16


def cpu_micro_batch(per_net: int) -> int:
    """Networks evaluated at once on a CPU: the largest power of 2 whose batch fits 16 MiB (at least 1)."""
    fit = max(1, _CPU_CACHE_BYTES // max(per_net, 1))
    return min(_CPU_MAX_MICRO_BATCH, 1 << (fit.bit_length() - 1))


class RunPlan(NamedTuple):
    """How a run is split: chunk size (a multiple of the device count), chunk count, devices, bytes.

    ``micro_batch``: networks evaluated at once within each device's share of a chunk (None: all of
    them in one vmap).
    """

    n: int
    chunk_size: int
    n_chunks: int
    n_devices: int
    bytes_per_net: int
    budget: int
    micro_batch: int | None = None


_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
          "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40, "tib": 2**40}


def parse_bytes(budget: int | float | str) -> int:
    """Parses a memory budget: bytes as a number, or a string like ``"512MB"``, ``"2 GiB"``."""
    if isinstance(budget, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", budget)
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(f"memory_budget={budget!r}: expected bytes, e.g. 2000000000, '512MB' or '2GiB'")
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    elif isinstance(budget, (int, float)) and not isinstance(budget, bool):
        value = float(budget)
    else:
        raise ValueError(f"memory_budget={budget!r}: expected bytes, e.g. 2000000000, '512MB' or '2GiB'")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"memory_budget={budget!r}: expected a positive number of bytes")
    return int(value)


def default_budget() -> int:
    """Half the memory of this process's first accelerator, or an eighth of host RAM (at most 4 GiB) on CPU.

    Static sizes (device memory limit, total RAM) rather than free memory: every process of a
    multi-host run must arrive at the same chunk size.
    """
    device = jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(0.5 * stats["bytes_limit"])
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return int(min(total / 8, 4 * 2**30))


def _check_chunk_size(chunk_size: Any) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r}: expected a positive integer number of networks")
    return int(chunk_size)


def _check_micro_batch(micro_batch: Any) -> int | str | None:
    if micro_batch == "auto" or micro_batch is None:
        return micro_batch
    if isinstance(micro_batch, (int, np.integer)) and not isinstance(micro_batch, bool) and micro_batch >= 1:
        return int(micro_batch)
    raise ValueError(f"micro_batch={micro_batch!r}: expected 'auto', None or a positive integer")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How the engine runs: chunking, memory, devices, progress bar. One typed, hashable value.

    Options change how networks are evaluated, never which networks or what they compute: network
    ``i`` is ``init(fold_in(key, i), x)`` whatever the options. Pass ``options=RunOptions(...)`` to
    :func:`sample`, :func:`reduce`, :func:`summarize` and :func:`plan` (or the same fields as
    keywords; not both).

    Attributes:
      chunk_size: networks per compiled call (rounded up to a multiple of the device count);
        None: as many as fit ``memory_budget``, at most 1024 per device.
      memory_budget: peak bytes for one chunk (int, or a string like ``"2GB"``); None: half the
        accelerator's memory, or an eighth of host RAM (at most 4 GiB) on CPU (:func:`default_budget`).
      devices: devices to shard the network axis over (stored as a tuple); None: all devices (of all
        processes).
      progress: True shows a progress bar, False is quiet, None shows one if the run takes more than
        a few seconds.
      micro_batch: networks evaluated at once within a device's share of a chunk; "auto" picks, on
        CPU, the largest power of 2 whose estimated working set fits 16 MiB (one at a time for
        networks of more than 8 MiB), and one vmap over the whole share on GPU; None: one vmap.

    Raises:
      ValueError: a field of the wrong type or range, named.

    >>> RunOptions(chunk_size=64, progress=False) == RunOptions(chunk_size=64, progress=False)
    True
    """

    chunk_size: int | None = None
    memory_budget: int | str | None = None
    devices: Sequence[Any] | None = None
    progress: bool | None = None
    micro_batch: int | str | None = "auto"

    def __post_init__(self):
        object.__setattr__(self, "chunk_size", _check_chunk_size(self.chunk_size))
        if self.memory_budget is not None:
            parse_bytes(self.memory_budget)
        if self.devices is not None:
            try:
                devices = tuple(self.devices)
            except TypeError:  # not a sequence
                devices = None
            if not devices or not all(isinstance(d, jax.Device) for d in devices):
                raise ValueError(f"devices={self.devices!r}: expected a non-empty sequence of jax devices")
            object.__setattr__(self, "devices", devices)
        if not (self.progress is None or isinstance(self.progress, (bool, np.bool_))):
            raise ValueError(f"progress={self.progress!r}: expected True, False or None")
        object.__setattr__(self, "micro_batch", _check_micro_batch(self.micro_batch))


_DEFAULT_OPTIONS = RunOptions()


def resolve_options(options: RunOptions | None, chunk_size, memory_budget, devices, progress, micro_batch) -> RunOptions:
    """The run's options: ``options``, or the same fields given as keywords (not both)."""
    given = RunOptions(chunk_size, memory_budget, devices, progress, micro_batch)
    if options is None:
        return given
    if not isinstance(options, RunOptions):
        raise ValueError(f"options={options!r}: expected a jaxbias RunOptions")
    if given != _DEFAULT_OPTIONS:
        both = [f.name for f in dataclasses.fields(RunOptions)
                if getattr(given, f.name) != getattr(_DEFAULT_OPTIONS, f.name)]
        raise ValueError(f"options= and {', '.join(f'{name}=' for name in both)} given together: pass the engine "
                         "options either as one RunOptions or as keywords")
    return options


def _identity(y):
    """The default stat: the outputs themselves (one function object, so compiled programs are reused)."""
    return y


def check_x(x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x with shape {x.shape}: expected inputs of shape (n_points, *input_shape), n_points >= 1")
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise ValueError(f"x contains {bad} non-finite values (NaN or inf): expected finite inputs")
        x = x.astype(np.float32)
    elif np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        x = x.astype(np.int32)
    else:
        raise ValueError(f"x with dtype {x.dtype}: expected a float or integer array")
    return x


def check_net(net: Any) -> Any:
    """``net`` as a key of the compiled programs that compares by value (:func:`jaxbias.caches.by_value`)."""
    if not (callable(getattr(net, "init", None)) and callable(getattr(net, "apply", None))):
        raise ValueError(f"net={net!r}: expected a network with init(key, x) and apply(params, x), e.g. a "
                         "jaxbias spec or jb.nets.Net(init, apply)")
    return by_value(net)


def _check_stat(stat: Any) -> Callable:
    if stat is None:
        return _identity
    if not callable(stat):
        raise ValueError(f"stat={stat!r}: expected a function of one network's outputs (n_points, n_out)")
    try:
        hash(stat)
    except TypeError:
        raise ValueError(f"stat={stat!r}: expected a hashable function (a function, or a frozen dataclass such as "
                         "jb.measures.MeanFrequency): compiled programs are cached by stat") from None
    return stat


def _one_net(net: Net, stat: Callable) -> Callable:
    def run(key, x):
        params = net.init(key, x)
        return stat(net.apply(params, x))

    return run


# What tracing raises when a net or a stat does not fit its inputs: shape and dtype errors of lax and
# jnp (TypeError, and jax.errors' tracer and concretization errors, which subclass it) and indexing
# beyond a static shape. Other exceptions are bugs and propagate unchanged.
_MISFIT_ERRORS = (TypeError, IndexError, jax.errors.JAXIndexError)


def _check_structure(net: Net, x: np.ndarray, stat: Callable, key: jax.Array):
    """Traces one network abstractly: shape errors surface here, before anything is compiled.

    A ValueError from the net or stat (their own checks, with their own messages) passes through; a
    shape or type error from tracing becomes a ValueError that names the inputs; anything else (a bug)
    propagates as it is.
    """
    x_abs = jax.ShapeDtypeStruct(x.shape, x.dtype)
    try:
        y = jax.eval_shape(lambda k, xx: net.apply(net.init(k, xx), xx), key, x_abs)
    except _MISFIT_ERRORS as e:
        raise ValueError(f"net could not be applied to x of shape {x.shape} ({x.dtype}): {e}") from e
    try:
        out = jax.eval_shape(stat, y)
    except _MISFIT_ERRORS as e:
        raise ValueError(f"stat could not be applied to one network's outputs of shape {y.shape}: {e}") from e
    return y, out


def plan(net: Net, x, *, n: int, key=0, stat: Callable | None = None, options: RunOptions | None = None,
         chunk_size: int | None = None, memory_budget: int | str | None = None, devices=None,
         micro_batch: int | None | str = "auto") -> RunPlan:
    """Works out chunking for a run without running it (see :func:`reduce` for the arguments).

    On GPUs a chunk is one vmap over as many networks as fit. On CPUs a device's share of a
    chunk is evaluated ``micro_batch`` networks at a time (``lax.map``), sized to the cache.
    """
    opts = resolve_options(options, chunk_size, memory_budget, devices, None, micro_batch)
    return _plan(check_net(net), check_x(x), _check_n(n), as_key(key), _check_stat(stat), opts)


def run_devices(opts: RunOptions) -> tuple:
    return tuple(jax.devices()) if opts.devices is None else opts.devices


def _plan(net, x: np.ndarray, n: int, k: jax.Array, stat: Callable, opts: RunOptions) -> RunPlan:
    """:func:`plan` for arguments already checked."""
    devices = run_devices(opts)
    n_dev = len(devices)
    _check_structure(net, x, stat, k)
    per_net = per_net_bytes(_one_net(net, stat), k, x)
    memory_budget, chunk_size, micro_batch = opts.memory_budget, opts.chunk_size, opts.micro_batch
    budget = default_budget() if memory_budget is None else parse_bytes(memory_budget)
    x_bytes = x.nbytes
    fit = (budget - x_bytes) // max(per_net, 1)
    if chunk_size is None:
        if fit < 1:
            raise ValueError(
                f"memory_budget={budget} bytes is too small for one network: it needs about "
                f"{per_net + x_bytes} bytes (parameters, activations and stat for x of shape {x.shape})"
            )
        cpu = devices[0].platform == "cpu"
        cap = _DEFAULT_MAX_CHUNK_PER_DEVICE
        if cpu and micro_batch == "auto":
            cap = cpu_micro_batch(per_net) * _CPU_MICRO_BATCHES_PER_CHUNK
        per_dev = max(1, min(fit // n_dev, cap, -(-n // n_dev)))
        chunk = per_dev * n_dev
    else:
        chunk = -(-chunk_size // n_dev) * n_dev
        if memory_budget is not None and chunk * per_net + x_bytes > budget:
            raise ValueError(
                f"chunk_size={chunk_size}: needs about {chunk * per_net + x_bytes} bytes, over "
                f"memory_budget={budget}; lower chunk_size or leave it unset"
            )
    per_dev = chunk // n_dev
    if micro_batch == "auto":
        micro = cpu_micro_batch(per_net) if devices[0].platform == "cpu" else None
    else:
        micro = micro_batch
    if micro is not None and micro >= per_dev:
        micro = None
    return RunPlan(n, chunk, -(-n // chunk), n_dev, per_net, budget, micro)


def shardings(devices: tuple) -> tuple[NamedSharding, NamedSharding]:
    """(sharded over the net axis, replicated) on a 1-D mesh of ``devices``."""
    mesh = Mesh(np.asarray(devices), (_NET_AXIS,))
    return NamedSharding(mesh, PartitionSpec(_NET_AXIS)), NamedSharding(mesh, PartitionSpec())


@bounded_cache(maxsize=64)
def _chunk_program(net, stat, summary, devices: tuple, micro_batch: int | None = None):
    """The jitted per-chunk program, one per (net, stat, summary, devices, micro_batch) value.

    Equal specs and equal stat values share it (and jit's cache within it compiles once per input
    shape and dtype), so repeated runs of one structure compile once, whatever objects hold it.

    ``program(base_key, indices (n_devices, per_device), mask (chunk,), x) -> stat values (chunk, ...)`` or the
    summary's partial. Network ``i`` is ``init(fold_in(base_key, i), x)``. With ``micro_batch``
    the networks of a device's share are mapped ``micro_batch`` at a time (``lax.map``) instead of
    all at once: on CPU, large networks run faster in small batches that stay in cache.
    """
    one = _one_net(net, stat)
    shard, replicated = shardings(devices)

    def chunk_program(base, indices, mask, x):
        def share(idx):  # one device's networks
            keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(idx)
            if micro_batch is None:
                return jax.vmap(one, in_axes=(0, None))(keys, x)
            return jax.lax.map(lambda k: one(k, x), keys, batch_size=micro_batch)

        values = jax.vmap(share)(indices)  # the leading (device) axis is the sharded one
        values = jax.tree_util.tree_map(lambda v: v.reshape((-1,) + v.shape[2:]), values)
        return values if summary is None else summary.partial(values, mask)

    return jax.jit(
        chunk_program,
        in_shardings=(replicated, shard, shard, replicated),
        out_shardings=shard if summary is None else replicated,
    )


def global_array(value: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """Places a host array (the same on every process) as a global array with ``sharding``."""
    return jax.make_array_from_callback(value.shape, sharding, lambda idx: value[idx])


def to_host(tree):
    """Copies a (possibly multi-process) global pytree to host numpy on every process."""
    leaves = jax.tree_util.tree_leaves(tree)
    if all(getattr(a, "is_fully_addressable", True) for a in leaves):
        return jax.tree_util.tree_map(np.asarray, tree)
    return jax.tree_util.tree_map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def progress_bar(total: int, progress: bool | None, desc: str, unit: str = "net"):
    """A tqdm bar on process 0 named ``desc``: always shown for ``progress=True``, never for False, and
    for None only once the work has lasted a few seconds."""
    from tqdm.auto import tqdm

    disable = progress is False or (progress is None and jax.process_index() != 0)
    # progress=None: the bar shows only if the run lasts longer than a few seconds.
    return tqdm(total=total, unit=unit, desc=desc, disable=disable, delay=0 if progress else 3.0,
                dynamic_ncols=True, leave=False)


def host_memory_bytes() -> int:
    """Memory available to this process now (Linux: free and reclaimable pages), or the total RAM elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return 2**63 - 1


def format_bytes(nbytes: float) -> str:
    """``1.49 TiB``-style text of a byte count."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"


def check_result_fits(nbytes: int, what: str, advice: str) -> None:
    """Raises a ValueError naming ``what``, its size and ``advice`` when ``nbytes`` exceed the host's memory.

    Checked before anything is computed, so that a run too large for memory fails at once instead of
    after its first chunk.
    """
    available = host_memory_bytes()
    if nbytes > available:
        raise ValueError(f"{what} would take {format_bytes(nbytes)} in memory, more than the "
                         f"{format_bytes(available)} available: {advice}")


def _run(net, x, n, key, stat, summary, opts: RunOptions, desc: str):
    net = check_net(net)
    n = _check_n(n)
    x = check_x(x)
    stat = _check_stat(stat)
    base = as_key(key)
    if summary is None:  # every network's result is kept on the host: check that it fits before computing
        _, out = _check_structure(net, x, stat, base)
        per_net = sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree_util.tree_leaves(out))
        shapes = " + ".join(str(tuple(a.shape)) for a in jax.tree_util.tree_leaves(out))
        check_result_fits(n * per_net, f"{desc}: the results of n={n:,} networks ({shapes} each)",
                          "use fewer networks, or keep a few numbers per network (jb.reduce with a stat such as "
                          "jb.measures.MeanFrequency), or stream statistics over the networks with jb.summarize "
                          "(memory bounded by one chunk, e.g. summary=jb.summaries.moments())")
    run_plan = _plan(net, x, n, base, stat, opts)
    devices = run_devices(opts)
    chunk = run_plan.chunk_size
    shard, replicated = shardings(devices)
    compiled = _chunk_program(net, stat, summary, devices, run_plan.micro_batch)
    x_dev = global_array(x, replicated)

    def launch(c):
        start = c * chunk
        idx = np.arange(start, start + chunk, dtype=np.int64)
        mask = idx < n
        idx = np.where(mask, idx, n - 1).astype(np.uint32)  # padding repeats a real net, masked out
        idx = idx.reshape(run_plan.n_devices, -1)
        return compiled(base, global_array(idx, shard), global_array(mask, shard), x_dev), int(mask.sum())

    stacked, state = None, None
    with progress_bar(n, opts.progress, desc) as bar:
        pending = launch(0)
        for c in range(run_plan.n_chunks):
            nxt = launch(c + 1) if c + 1 < run_plan.n_chunks else None
            out, valid = pending
            host = to_host(out)
            if summary is None:
                if stacked is None:
                    stacked = jax.tree_util.tree_map(lambda a: np.empty((n,) + a.shape[1:], a.dtype), host)
                start = c * chunk
                jax.tree_util.tree_map(lambda dst, src: dst.__setitem__(slice(start, start + valid), src[:valid]),
                                       stacked, host)
            else:
                state = summary.merge(state, host)
            bar.update(valid)
            pending = nxt
    return stacked if summary is None else summary.result(state)


def reduce(net: Net, x, *, n: int, key=0, stat: Callable | None = None, options: RunOptions | None = None,
           chunk_size: int | None = None, memory_budget: int | str | None = None, devices=None,
           progress: bool | None = None, micro_batch: int | None | str = "auto"):
    """Samples ``n`` networks and returns ``stat`` of each one's outputs, stacked over networks.

    Init, forward pass and ``stat`` compile into one program per chunk; only ``stat``'s results
    leave the device. Compiled programs are cached by value: one per (net, stat, summary,
    devices, micro-batch) and input shape and dtype, so equal specs built separately and equal
    stat values (the measures of :mod:`jaxbias.measures` such as
    ``jb.measures.MeanFrequency(shape=(64, 64))``, frozen dataclasses) share one compile. A plain
    function is compared by identity: a ``lambda`` written inline is a new function on every call,
    so each call compiles again; define it once, or use a measure value. ``jb.clear_caches()``
    empties the caches.

    Args:
      net: a network: a spec such as :class:`~jaxbias.nets.MLP`, or a :class:`~jaxbias.nets.Net`.
      x: inputs ``(n_points, *input_shape)``, shared by all networks (float, or int token ids).
      n: number of networks (keyword).
      key: int seed or jax PRNG key; network ``i`` uses ``fold_in(key, i)``.
      stat: ``stat(y) -> pytree`` of one network's outputs ``y (n_points, n_out)``, hashable; identity if None.
      options: a :class:`RunOptions` (chunk size, memory budget, devices, progress, micro-batch);
        or give its fields as the keywords below (not both).
      chunk_size, memory_budget, devices, progress, micro_batch: as in :class:`RunOptions`.

    Returns:
      The pytree of ``stat`` with a leading axis ``(n, ...)``, as numpy arrays.

    Raises:
      ValueError: ``n <= 0``, non-finite ``x``, inputs that do not fit the network or the stat (a
        shape or type error while tracing, named), a memory budget too small for one network, a
        bad key, option or chunk size. Other exceptions raised by the net or stat propagate.

    Example:
      >>> import jaxbias as jb
      >>> net, x = jb.nets.MLP(16, 2, "tanh"), jb.inputs.grid(dim=2, resolution=8)
      >>> jb.reduce(net, x, n=4, stat=jb.measures.MeanFrequency(shape=(8, 8)), progress=False).shape
      (4,)
    """
    opts = resolve_options(options, chunk_size, memory_budget, devices, progress, micro_batch)
    return _run(net, x, n, key, stat, None, opts, "reduce")


def sample(net: Net, x, *, n: int, key=0, options: RunOptions | None = None, chunk_size: int | None = None,
           memory_budget: int | str | None = None, devices=None, progress: bool | None = None,
           micro_batch: int | None | str = "auto") -> np.ndarray:
    """Outputs of ``n`` random networks on ``x``: ``(n, n_points, n_out)`` float32.

    Arguments as in :func:`reduce` (without ``stat``).
    """
    opts = resolve_options(options, chunk_size, memory_budget, devices, progress, micro_batch)
    return _run(net, x, n, key, None, None, opts, "sample")


def summarize(net: Net, x, *, n: int, key=0, stat: Callable | None = None, summary: Summary | None = None,
              options: RunOptions | None = None, chunk_size: int | None = None,
              memory_budget: int | str | None = None, devices=None, progress: bool | None = None,
              micro_batch: int | None | str = "auto") -> dict:
    """Streams ``summary`` (see :mod:`jaxbias.summaries`) over ``stat`` of ``n`` networks.

    No per-network value is kept: memory is bounded by one chunk whatever ``n``. Arguments as in
    :func:`reduce`.

    Returns:
      ``summary.result(...)``: a dict of numpy results.
    """
    if not isinstance(summary, Summary):
        raise ValueError(f"summary={summary!r}: expected a jaxbias Summary, e.g. jb.summaries.moments()")
    opts = resolve_options(options, chunk_size, memory_budget, devices, progress, micro_batch)
    return _run(net, x, n, key, stat, summary, opts, "summarize")
