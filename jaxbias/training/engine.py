"""The ensemble training engine: ``n`` networks trained at once, measured inside the compiled step.

Network ``i`` starts as ``jb.sample``'s network ``i`` (``net.init(fold_in(key, i), x)``) and is
trained on its own data order (drawn from its index, or shared by all networks) with its own
hyperparameters. Every training step of a micro-batch of networks is one ``vmap``; steps run in
``lax.scan`` in segments of at most :data:`SEGMENT` steps; at the recorded steps the measurements (losses,
accuracies, probe measures, distance from init, tangent-kernel motion) are taken inside the same
program, and only they leave the device. Networks are chunked to the memory budget and sharded over
every device (of every process under ``jax.distributed``), as in :func:`jaxbias.sample`.

Reproducibility: networks are trained ``micro_batch`` at a time (a fixed number, chosen from the
network's size, never from ``n``, the chunk size or the device count), so a network's result is
bitwise the same whatever ``n``, the chunk size, the device count or the process count, and a run
resumed from a checkpoint equals an uninterrupted one bitwise.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from jaxbias.caches import bounded_cache, by_value
from jaxbias.datasets import Dataset
from jaxbias.engine import (RunOptions, check_net, cpu_micro_batch, default_budget, global_array, parse_bytes,
                            resolve_options, run_devices, shardings, to_host)
from jaxbias.kernels.empirical import ntk_fn
from jaxbias.keys import as_key
from jaxbias.memory import jaxpr_peak_bytes
from jaxbias.results import result_attrs
from jaxbias.training import checkpoints
from jaxbias.training.kernel_motion import centered_alignment, kernel_distance, relative_change
from jaxbias.training.losses import accuracy, resolve_loss
from jaxbias.training.optimizers import Optimizer, resolve_optimizer
from jaxbias.validation import check_int, check_n

__all__ = ["train", "record_steps", "segment_length", "SEGMENT"]

SEGMENT = 64
"""Most training steps per compiled call (the granularity of checkpoints and of the progress bar).

A run of ``steps`` steps takes ``steps + 1`` iterations (a measurement may follow the last step),
cut into the fewest segments of at most ``SEGMENT``, all of one length (:func:`segment_length`).
"""

_DATA_STREAM = 0x64617461  # "data": data keys derive from fold_in(key, _DATA_STREAM), apart from network keys
_NET_AXIS = "net"
_GPU_MICRO_BATCH = 256
_CPU_MICRO_BATCH = 8


def segment_length(steps: int) -> int:
    """Iterations per compiled segment for a run of ``steps`` steps: ``steps + 1`` iterations in
    ``ceil((steps + 1) / SEGMENT)`` equal segments, so that at most one iteration per segment is padding.

    >>> segment_length(1000), segment_length(20), segment_length(63)
    (63, 21, 64)
    """
    iterations = steps + 1
    return -(-iterations // -(-iterations // SEGMENT))


def record_steps(steps: int, record: int | Sequence[int] | None = None) -> np.ndarray:
    """The steps at which measurements are taken: sorted, unique, in ``[0, steps]``.

    Step ``t`` is the state after ``t`` updates (step 0: the initial networks).

    Args:
      steps: training steps of the run.
      record: None: 20 log-spaced steps; an int ``r``: about ``r`` log-spaced steps (always 0, 1 and
        ``steps``; fewer where rounding merges them); a sequence: exactly those steps.

    >>> record_steps(1000, 5).tolist()
    [0, 1, 6, 32, 178, 1000]
    """
    if record is None or isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        count = 20 if record is None else check_int("record", record, 1)
        if steps == 0:
            return np.zeros(1, np.int64)
        grid = np.unique(np.round(np.geomspace(1, steps, max(count, 2))).astype(np.int64))
        return np.unique(np.concatenate([[0], grid, [steps]]))
    try:
        values = np.asarray(record)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        values = None
    if values is None or values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"record={record!r}: expected None, a count, or a sequence of integer steps")
    if values.min() < 0 or values.max() > steps:
        raise ValueError(f"record={record!r}: steps must lie in [0, steps={steps}]")
    return np.unique(values.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class _Setup:
    """Everything static about a run: the compiled programs are cached by this value."""

    net: Any
    optimizer: Any  # optax GradientTransformation (compared by identity) or Optimizer-built (by value)
    optimizer_key: Any
    loss: Callable
    classification: bool
    n_classes: int
    steps: int
    batch_size: int | None
    steps_per_epoch: int
    shared_order: bool
    varied: tuple[str, ...]
    probe_stats: tuple[tuple[str, Callable], ...]
    ntk: bool
    eval_train: bool
    micro_batch: int | None
    segment: int

    def __hash__(self):
        return hash((self.net, self.optimizer_key, self.loss, self.classification, self.n_classes, self.steps,
                     self.batch_size, self.steps_per_epoch, self.shared_order, self.varied, self.probe_stats,
                     self.ntk, self.eval_train, self.micro_batch, self.segment))

    def __eq__(self, other):
        return isinstance(other, _Setup) and hash(self) == hash(other) and all(
            getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(self) if f.name != "optimizer")


def _set_hyperparams(opt_state, hyper: dict):
    if not hyper:
        return opt_state
    values = dict(opt_state.hyperparams)
    for name, value in hyper.items():
        values[name] = jnp.asarray(value, dtype=jnp.result_type(values[name]))
    return opt_state._replace(hyperparams=values)


def _one_network(setup: _Setup):
    """``(init, measure, step, batch_table)`` of one network, pure functions of its state and the data."""
    net, opt, loss_fn = setup.net, setup.optimizer, setup.loss
    ntk = ntk_fn(net, trace=True) if setup.ntk else None

    def data_key(base, index):
        root = jax.random.fold_in(base, _DATA_STREAM)
        return root if setup.shared_order else jax.random.fold_in(root, index)

    def permutation(base, index, epoch, n_train):
        # One sort of random 32-bit words (ties keep index order): a uniform permutation up to ties of
        # probability ~ n_train^2 / 2^33, and far less to compile than jax.random.permutation's rounds.
        words = jax.random.bits(jax.random.fold_in(data_key(base, index), epoch), (n_train,), jnp.uint32)
        return jnp.argsort(words, stable=True).astype(jnp.int32)

    def init(base, index, hyper, data):
        params = net.init(jax.random.fold_in(base, index), data["x_train"])
        state = {"params": params, "params0": params,
                 "opt": _set_hyperparams(opt.init(params), hyper),
                 "diverged": jnp.int32(-1), "last_record": jnp.int32(0)}
        if ntk is not None:
            k0 = ntk(params, data["x_ntk"])
            state["k0"], state["k_last"] = k0, k0
        return state

    def batch_table(base, index, t0, n_train):
        """Minibatch indices of steps ``t0 .. t0 + segment - 1``: ``(segment, batch_size)``.

        Step ``t`` takes batch ``t % steps_per_epoch`` of the permutation of epoch ``t // steps_per_epoch``;
        the segment's epochs are drawn at once, so no step carries or tests a permutation.
        """
        per_epoch, size, length = setup.steps_per_epoch, setup.batch_size, setup.segment
        first = t0 // per_epoch
        perms = jax.vmap(lambda e: permutation(base, index, first + e, n_train))(jnp.arange(length // per_epoch + 2))
        epoch, b = jnp.divmod(t0 + jnp.arange(length), per_epoch)
        return perms[(epoch - first)[:, None], b[:, None] * size + jnp.arange(size)[None, :]]

    def measure(params, state, t, data):
        """``(updates of last_record and k_last, measurements)`` of a network with parameters ``params``."""
        out, updates = {}, {"last_record": t.astype(jnp.int32)}
        splits = (("train", "x_train", "y_train"),) if setup.eval_train else ()
        for split, xk, yk in splits + (("test", "x_test", "y_test"),):
            f = net.apply(params, data[xk])
            out[f"{split}_loss"] = loss_fn(f, data[yk])
            if setup.classification:
                out[f"{split}_accuracy"] = accuracy(f, data[yk])
        diff = jax.tree_util.tree_map(lambda a, b: a - b, params, state["params0"])
        out["param_distance"] = optax.global_norm(diff)
        out["param_distance_relative"] = out["param_distance"] / optax.global_norm(state["params0"])
        if setup.probe_stats:
            y = net.apply(params, data["probe"])
            for name, stat in setup.probe_stats:
                out[name] = stat(y)
        if ntk is not None:
            k = ntk(params, data["x_ntk"])
            elapsed = jnp.maximum(t - state["last_record"], 1).astype(k.dtype)
            out["ntk_distance"] = kernel_distance(state["k0"], k)
            out["ntk_relative_change"] = relative_change(state["k0"], k)
            out["ntk_velocity"] = jnp.where(t > 0, kernel_distance(state["k_last"], k) / elapsed, jnp.nan)
            out["ntk_alignment"] = centered_alignment(k, data["y_ntk"])
            updates["k_last"] = k
        return updates, out

    def step(state, t, idx, data):
        """One update of ``state`` (params, opt, diverged) on the minibatch ``idx`` (None: the full batch).

        Steps ``t >= setup.steps`` (the padding of the last segment) are computed and discarded by the
        same select that freezes a diverged network: one select per step instead of a branch.
        """
        x, y = data["x_train"], data["y_train"]
        if idx is not None:
            x, y = x[idx], y[idx]
        value, grads = jax.value_and_grad(lambda p: loss_fn(net.apply(p, x), y))(state["params"])
        updates, opt_state = opt.update(grads, state["opt"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        finite = jnp.isfinite(value) & jnp.isfinite(optax.global_norm(grads))
        running = (state["diverged"] < 0) & (t < setup.steps)
        ok = finite & running
        # A network whose loss or gradient is not finite stops at its last finite state; the others go on.
        keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
        diverged = jnp.where(running & ~finite, t.astype(jnp.int32), state["diverged"])
        return {"params": keep(params, state["params"]), "opt": keep(opt_state, state["opt"]), "diverged": diverged}

    return init, measure, step, batch_table


def _map_networks(fn, micro_batch):
    """``fn`` over a leading axis of networks: one vmap, or ``micro_batch`` networks at a time."""
    batched = jax.vmap(fn)
    if micro_batch is None:
        return batched

    def mapped(*args):
        leading = jax.tree_util.tree_leaves(args)[0].shape[0]
        groups = jax.tree_util.tree_map(lambda a: a.reshape((leading // micro_batch, micro_batch) + a.shape[1:]), args)
        out = jax.lax.map(lambda g: batched(*g), groups)
        return jax.tree_util.tree_map(lambda a: a.reshape((leading,) + a.shape[2:]), out)

    return mapped


@bounded_cache(maxsize=16)
def _programs(setup: _Setup, devices: tuple):
    """``(init_program, segment_program)`` of a run, jitted with the network axis sharded over ``devices``."""
    init_one, measure_one, step_one, batch_table = _one_network(setup)
    shard, replicated = shardings(devices)

    def per_device(fn):
        # The leading (device) axis is the sharded one; each device maps its networks in micro-batches.
        mapped = _map_networks(fn, setup.micro_batch)
        return lambda *args: jax.vmap(mapped)(*args)

    def init_program(base, indices, hyper, data):
        return per_device(lambda i, h: init_one(base, i, h, data))(indices, hyper)

    def segment_program(base, t0, states, indices, recording, data):
        def train_segment(state, index):
            # Only what a step changes is carried through the scan; the rest (initial parameters and
            # kernel) is read, and the measuring branch returns only its measurements and two small updates.
            trained = ("params", "opt", "diverged")
            fixed = {k: v for k, v in state.items() if k not in trained}
            measured = jax.eval_shape(lambda: measure_one(state["params"], fixed, t0, data))

            def body(carry, xs):
                dt, idx = xs
                fixed_now, trained_now = carry
                t = t0 + dt
                updates, rec = jax.lax.cond(
                    recording[dt], lambda: measure_one(trained_now["params"], fixed_now, t, data),
                    lambda: ({k: fixed_now[k] for k in measured[0]},
                             jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), measured[1])))
                trained_now = step_one(trained_now, t, idx, data)
                return ({**fixed_now, **updates}, trained_now), rec

            table = None if setup.batch_size is None else batch_table(base, index, t0, data["x_train"].shape[0])
            (fixed, trained_state), rec = jax.lax.scan(
                body, (fixed, {k: state[k] for k in trained}), (jnp.arange(setup.segment), table))
            return {**fixed, **trained_state}, rec

        return per_device(train_segment)(states, indices)

    init_jit = jax.jit(init_program, in_shardings=(replicated, shard, shard, replicated), out_shardings=shard)
    segment_jit = jax.jit(segment_program, in_shardings=(replicated, replicated, shard, shard, replicated, replicated),
                          out_shardings=(shard, shard), donate_argnums=() if devices[0].platform == "cpu" else (2,))
    return init_jit, segment_jit


def _check_data(data: Any) -> Dataset:
    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__}: expected a jaxbias.datasets.Dataset, e.g. "
                         "jb.datasets.digits() or jb.datasets.from_arrays(x_train, y_train, x_test, y_test)")
    return data


def _check_probe_stats(measures: Any) -> tuple[tuple[str, Callable], ...]:
    if measures is None:
        return ()
    if not isinstance(measures, Mapping):
        raise ValueError(f"measures={measures!r}: expected a dict name -> measure of one network's probe outputs "
                         "(e.g. {'mean_frequency': jb.measures.MeanFrequency(shape=(64, 64)), 'outputs': None})")
    out = []
    for name, stat in measures.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"measures key {name!r}: expected a name such as 'mean_frequency'")
        if stat is None:
            stat = _outputs
        if not callable(stat):
            raise ValueError(f"measures[{name!r}]={stat!r}: expected a function of one network's outputs (P, k), or None")
        try:
            hash(stat)
        except TypeError:
            raise ValueError(f"measures[{name!r}]={stat!r}: expected a hashable function (compiled programs are "
                             "cached by it)") from None
        out.append((name, stat))
    return tuple(out)


def _outputs(y):
    """The probe outputs themselves (the measure ``None`` stands for)."""
    return y


def _check_vary(vary: Any, n: int, hyper_defaults: dict) -> dict[str, np.ndarray]:
    if vary is None:
        return {}
    if not isinstance(vary, Mapping):
        raise ValueError(f"vary={vary!r}: expected a dict hyperparameter -> one value per network")
    out = {}
    for name, values in vary.items():
        if name not in hyper_defaults:
            known = ", ".join(sorted(hyper_defaults)) or "none (build the optimizer with jb.training.Optimizer or " \
                                                          "optax.inject_hyperparams)"
            raise ValueError(f"vary[{name!r}]: the optimizer has no injected hyperparameter {name!r}; it has: {known}")
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"vary[{name!r}] with shape {arr.shape}: expected one value per network, shape ({n},)")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"vary[{name!r}] contains non-finite values")
        out[name] = arr.astype(np.float32)
    return out


def _schedule(data: Dataset, steps, epochs, batch_size) -> tuple[int, int | None, int]:
    """``(steps, batch_size or None for full batch, steps per epoch)``."""
    n_train = data.n_train
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
        if batch_size > n_train:
            raise ValueError(f"batch_size={batch_size}: the training set has only {n_train} points")
        if batch_size == n_train:
            batch_size = None
    per_epoch = 1 if batch_size is None else n_train // batch_size
    if (steps is None) == (epochs is None):
        raise ValueError(f"steps={steps!r}, epochs={epochs!r}: give exactly one of them")
    if steps is None:
        steps = check_int("epochs", epochs, 0) * per_epoch
    return check_int("steps", steps, 0), batch_size, per_epoch


def _auto_micro_batch(per_net: int, platform: str, budget: int) -> int:
    """Networks trained at once: a function of the network's size only (never of ``n`` or the devices).

    On CPU at most :data:`_CPU_MICRO_BATCH`: XLA's CPU kernels were measured to round identically for
    batches of 1, 2 and 8 networks but not 32, and a fixed small batch keeps every network's arithmetic
    the same whatever the chunking.
    """
    if platform == "cpu":
        return min(cpu_micro_batch(per_net), _CPU_MICRO_BATCH)
    fit = max(1, budget // max(per_net, 1))
    return min(_GPU_MICRO_BATCH, 1 << (fit.bit_length() - 1))


def train(net, data: Dataset, optimizer, *, n: int, key=0, loss="mse", steps: int | None = None,
          epochs: int | None = None, batch_size: int | None = None, data_order: str = "per_net",
          vary: Mapping[str, Any] | None = None, record=None, probe=None, measures: Mapping | None = None,
          ntk_points: int | None = None, eval_train: bool = True, checkpoint=None, checkpoint_every: float = 60.0,
          options: RunOptions | None = None, progress: bool | None = None) -> xr.Dataset:
    """Trains ``n`` networks at once and measures them during training, in one compiled program per chunk.

    Args:
      net: a network spec (as for :func:`jaxbias.sample`); network ``i`` starts as ``jb.sample``'s network ``i``.
      data: a :class:`jaxbias.datasets.Dataset` (digits, synthetic tasks, MNIST / CIFAR-10 files, user
        arrays); it is placed on every device once.
      optimizer: a :class:`jaxbias.training.Optimizer` (e.g. ``Optimizer("sgd", learning_rate=0.1,
        momentum=0.9)``) or any optax ``GradientTransformation``.
      n: number of networks (keyword).
      key: int seed or PRNG key: initialisation ``fold_in(key, i)`` as in ``jb.sample``; data orders
        from a separate stream of the same key.
      loss: ``"mse"`` (``0.5 * mean`` over points and outputs; integer labels one-hot), ``"cross_entropy"``
        (integer labels), or ``loss(outputs (B, k), targets) -> scalar``.
      steps, epochs: length of training (exactly one; an epoch is ``n_train // batch_size`` steps).
      batch_size: minibatch size; None (or ``n_train``): full-batch gradient descent.
      data_order: ``"per_net"``: each network draws its own epoch permutations from its index;
        ``"shared"``: all networks see the same order.
      vary: hyperparameter name -> ``(n,)`` values, one per network (e.g. ``{"learning_rate": lrs}``):
        a sweep of learning rate x seed is one compiled run. The optimizer must inject the
        hyperparameter (every :class:`Optimizer` does).
      record: steps to measure at: None (20 log-spaced), a count (log-spaced) or a sequence of steps.
      probe: inputs ``(P, *input_shape)`` on which ``measures`` are evaluated.
      measures: name -> measure of one network's probe outputs ``(P, k)`` (e.g.
        ``jb.measures.MeanFrequency(shape=(64, 64))``), or None for the outputs themselves.
      ntk_points: measure the tangent kernel's motion on the first ``ntk_points`` training points:
        ``ntk_distance`` (1 - cosine to the initial kernel, Fort et al. 2020), ``ntk_relative_change``
        (``|K_t - K_0|_F / |K_0|_F``), ``ntk_velocity`` (kernel distance between consecutive recorded
        steps per step) and ``ntk_alignment`` (centred kernel-target alignment, Cortes et al. 2012). The
        kernel is traced over outputs, ``(P, P)``.
      eval_train: measure loss and accuracy on the whole training set (with the test set, always).
      checkpoint: a file path: progress is saved there atomically (every ``checkpoint_every`` seconds
        and after every chunk); a run started again with the same arguments resumes from it and
        returns bitwise the same result as an uninterrupted run. A checkpoint of other arguments is
        an error.
      checkpoint_every: seconds between checkpoints within a chunk.
      options: :class:`jaxbias.RunOptions` (chunk size, memory budget, devices, micro-batch: networks
        trained at once within a device's share; "auto" picks from the network's size).
      progress: True, False or None (a bar over chunks x steps with ETA when the run is long).

    Returns:
      An ``xarray.Dataset`` with dims ``net`` and ``step`` (and each measure's own dims):
      ``train_loss``, ``train_accuracy`` (classification), ``test_loss``, ``test_accuracy``,
      ``param_distance`` (``|theta_t - theta_0|_2``), ``param_distance_relative``, the ``ntk_*``
      variables, each probe measure; ``diverged_step (net)`` (-1: never; else the step whose loss
      or gradient was not finite, after which that network stays at its last finite state); the
      varied hyperparameters as coordinates on ``net``. Attrs: the full config (net spec, optimizer,
      loss, data description with its standardisation) and versions.

    Raises:
      ValueError: arguments that do not fit (named): data that is not a Dataset, inputs of the wrong
        shape for the net, an unknown loss or optimizer, a varied hyperparameter the optimizer does not
        inject, a checkpoint of another run, an unwritable checkpoint path.
    """
    net = check_net(net)
    data = _check_data(data)
    n = check_n(n)
    base = as_key(key)
    opts = resolve_options(options, None, None, None, None, "auto")
    show = opts.progress if progress is None else progress
    loss_fn, loss_name = resolve_loss(loss, data.task == "classification")
    transformation, optimizer_description = resolve_optimizer(optimizer)
    steps, batch_size, per_epoch = _schedule(data, steps, epochs, batch_size)
    if data_order not in ("per_net", "shared"):
        raise ValueError(f"data_order={data_order!r}: expected 'per_net' or 'shared'")
    recorded = record_steps(steps, record)
    probe_stats = _check_probe_stats(measures)
    if probe_stats and probe is None:
        raise ValueError("measures= given without probe=: pass the probe inputs the measures are evaluated on")
    if probe is not None and not probe_stats:
        probe_stats = (("outputs", _outputs),)
    if ntk_points is not None:
        ntk_points = check_int("ntk_points", ntk_points, 2, data.n_train)
    if not isinstance(eval_train, (bool, np.bool_)):
        raise ValueError(f"eval_train={eval_train!r}: expected True or False")
    checkpoint_every = float(checkpoint_every)

    devices = run_devices(opts)
    device_data = _device_arrays(data, probe, ntk_points, net)
    probe_shape = None if probe is None else tuple(np.shape(probe))
    hyper_defaults = _injected_hyperparams(transformation, net, device_data, base)
    varied = _check_vary(vary, n, hyper_defaults)
    if not varied and isinstance(optimizer, Optimizer):  # constants in the program: no per-step state reads
        transformation, _ = resolve_optimizer(optimizer, inject=False)

    setup_args = dict(net=net, optimizer=transformation,
                      optimizer_key=optimizer if not isinstance(optimizer, optax.GradientTransformation) else transformation,
                      loss=loss_fn, classification=data.task == "classification", n_classes=data.out_dim,
                      steps=steps, batch_size=batch_size, steps_per_epoch=per_epoch, shared_order=data_order == "shared",
                      varied=tuple(sorted(varied)), probe_stats=probe_stats, ntk=ntk_points is not None,
                      eval_train=bool(eval_train))
    segment = segment_length(steps)
    per_net = _per_net_bytes(_Setup(**setup_args, micro_batch=None, segment=segment), base, device_data, varied)
    budget = default_budget() if opts.memory_budget is None else parse_bytes(opts.memory_budget)
    micro = opts.micro_batch
    if micro == "auto":
        micro = _auto_micro_batch(per_net, devices[0].platform, budget)
    setup = _Setup(**setup_args, micro_batch=micro, segment=segment)
    if micro is not None and jax.process_count() == 1:  # no more devices than micro-batches (padding trains too)
        devices = devices[:min(len(devices), -(-n // micro))]
    chunk, n_devices = _chunking(n, per_net, budget, opts, devices, micro, data_bytes=sum(
        a.nbytes for a in jax.tree_util.tree_leaves(device_data)))

    config = {
        "net": net, "data": data.describe(), "optimizer": optimizer_description, "loss": loss_name, "n": n,
        "steps": steps, "batch_size": batch_size, "steps_per_epoch": per_epoch, "data_order": data_order,
        "vary": sorted(varied), "record": recorded.tolist(), "probe_shape": probe_shape,
        "measures": [name for name, _ in probe_stats], "ntk_points": ntk_points, "eval_train": bool(eval_train),
        "micro_batch": micro, "segment": segment,
        "conventions": {"mse": "0.5 * mean over points and outputs of (f - y)^2; integer labels one-hot",
                        "accuracy": "argmax of the outputs (one output: its sign) equals the label",
                        "ntk": "empirical NTK traced over outputs on the first ntk_points training points",
                        "step": "state after that many updates (0: initialisation)"},
    }
    attrs = result_attrs(config, key)
    fingerprint = json.dumps({"config": attrs["config"], "key": attrs["key"],
                              "vary": {k: v.tolist() for k, v in varied.items()}}, sort_keys=True)

    init_jit, segment_jit = _programs(setup, devices)
    shard, replicated = shardings(devices)
    data_dev = jax.tree_util.tree_map(lambda a: global_array(a, replicated), device_data)
    base_dev = base
    padded_iters = -(-(steps + 1) // segment) * segment
    is_recorded = np.zeros(padded_iters, bool)
    is_recorded[recorded] = True
    n_chunks = -(-n // chunk)
    n_segments = padded_iters // segment

    store = checkpoints.Store(checkpoint, fingerprint) if checkpoint is not None else None
    progress_state = store.load() if store is not None else None
    results = progress_state.results if progress_state else None
    first_chunk = progress_state.chunk if progress_state else 0

    with _bar(n_chunks * padded_iters, show, first_chunk * padded_iters) as bar:
        last_save = time.monotonic()
        for c in range(first_chunk, n_chunks):
            idx = np.arange(c * chunk, (c + 1) * chunk, dtype=np.int64)
            valid = idx < n
            idx = np.where(valid, idx, n - 1).astype(np.uint32)
            hyper = {k: v[idx].reshape(n_devices, -1) for k, v in varied.items()}
            idx_dev = global_array(idx.reshape(n_devices, -1), shard)
            hyper_dev = {k: global_array(v, shard) for k, v in hyper.items()}
            if progress_state is not None and progress_state.resumable and c == progress_state.chunk:
                template = jax.eval_shape(init_jit, base_dev, idx_dev, hyper_dev, data_dev)
                states = jax.tree_util.tree_map(lambda a, t: global_array(np.asarray(a, t.dtype), shard),
                                                progress_state.unflatten(template), template)
                first_segment, rows = progress_state.segment, progress_state.rows
            else:
                states = init_jit(base_dev, idx_dev, hyper_dev, data_dev)
                first_segment, rows = 0, []
            for s in range(first_segment, n_segments):
                t0 = s * segment
                rec_mask = is_recorded[t0:t0 + segment]
                states, rec = segment_jit(base_dev, global_array(np.asarray(t0, np.int32), replicated), states, idx_dev,
                                          global_array(rec_mask, replicated), data_dev)
                if rec_mask.any():
                    host = to_host(rec)
                    rows.append(jax.tree_util.tree_map(
                        lambda a: a.reshape((chunk,) + a.shape[2:])[:, rec_mask], host))
                bar.update(segment)
                if store is not None and time.monotonic() - last_save >= checkpoint_every and s + 1 < n_segments:
                    store.save(checkpoints.Progress(c, s + 1, to_host(states), rows, results))
                    last_save = time.monotonic()
            final = to_host(states)
            chunk_result = _chunk_result(rows, final, valid)
            results = _append(results, chunk_result)
            if store is not None:
                store.save(checkpoints.Progress(c + 1, 0, None, [], results))
                last_save = time.monotonic()
    ds = _dataset(results, recorded, varied, attrs, {name for name, stat in probe_stats if stat is _outputs})
    _warn_diverged(ds)
    return ds


def _device_arrays(data: Dataset, probe, ntk_points, net) -> dict:
    arrays = {"x_train": np.asarray(data.x_train, np.float32), "y_train": np.asarray(data.y_train),
              "x_test": np.asarray(data.x_test, np.float32), "y_test": np.asarray(data.y_test)}
    if probe is not None:
        probe = np.asarray(probe)
        if probe.ndim < 1 or probe.shape[1:] != data.input_shape:
            raise ValueError(f"probe with shape {probe.shape}: expected (n_points, *{data.input_shape}) like the data")
        if not np.all(np.isfinite(probe)):
            raise ValueError("probe contains non-finite values")
        arrays["probe"] = probe.astype(np.float32)
    if ntk_points is not None:
        arrays["x_ntk"] = arrays["x_train"][:ntk_points]
        y = arrays["y_train"][:ntk_points]
        if np.issubdtype(y.dtype, np.integer):
            y = np.eye(data.out_dim, dtype=np.float32)[y]
        arrays["y_ntk"] = y.astype(np.float32)
    return arrays


def _injected_hyperparams(transformation, net, data: dict, base) -> dict:
    """The hyperparameters an optimizer keeps in its state (``optax.inject_hyperparams``), with their values."""
    try:
        shapes = jax.eval_shape(lambda k: transformation.init(net.init(k, data["x_train"])), base)
    except (TypeError, IndexError, jax.errors.JAXIndexError) as e:
        raise ValueError(f"net could not be initialised on data of input shape {data['x_train'].shape[1:]}: {e}") from e
    hyper = getattr(shapes, "hyperparams", None)
    return dict(hyper) if isinstance(hyper, Mapping) else {}


def _per_net_bytes(setup: _Setup, base, data: dict, varied: dict) -> int:
    """Peak bytes of one network's init, measurement and training step, plus a second copy of its state
    (a segment's input state stays alive beside its output where buffers are not donated); data not counted."""
    init, measure, step, batch_table = _one_network(setup)
    hyper = {k: jnp.float32(1.0) for k in varied}

    def one(d):
        state = init(base, jnp.uint32(0), hyper, d)
        updates, out = measure(state["params"], state, jnp.int32(0), d)
        idx = None
        if setup.batch_size is not None:
            idx = batch_table(base, jnp.uint32(0), jnp.int32(0), d["x_train"].shape[0])[0]
        return step(state, jnp.int32(0), idx, d), out, updates

    try:
        closed = jax.make_jaxpr(one)(data)
        state = jax.eval_shape(lambda d: init(base, jnp.uint32(0), hyper, d), data)
    except (TypeError, IndexError, jax.errors.JAXIndexError) as e:
        raise ValueError(f"net, loss or measures could not be applied to the data (inputs {data['x_train'].shape[1:]}, "
                         f"targets {data['y_train'].shape[1:]}): {e}") from e
    data_bytes = sum(a.nbytes for a in data.values())
    state_bytes = sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree_util.tree_leaves(state))
    return max(1, jaxpr_peak_bytes(closed.jaxpr) - data_bytes + state_bytes)


def _chunking(n: int, per_net: int, budget: int, opts: RunOptions, devices: tuple, micro: int | None,
              data_bytes: int) -> tuple[int, int]:
    """``(chunk size, device count)``: a chunk is a multiple of devices x micro-batch."""
    n_dev = len(devices)
    unit = n_dev * (micro or 1)
    fit = (budget - data_bytes) // max(per_net, 1)
    if fit < (micro or 1):
        raise ValueError(f"memory_budget={budget} bytes is too small: one micro-batch of {micro or 1} network(s) "
                         f"needs about {(micro or 1) * per_net + data_bytes} bytes (data included)")
    if opts.chunk_size is not None:
        chunk = -(-opts.chunk_size // unit) * unit
    else:
        per_dev = max(micro or 1, min(fit // n_dev, -(-n // n_dev)))
        chunk = -(-per_dev * n_dev // unit) * unit
    return chunk, n_dev


def _chunk_result(rows: list, final: dict, valid: np.ndarray) -> dict:
    """One chunk's measurements ``(valid networks, recorded steps, ...)`` and final per-network state."""
    measured = {k: np.concatenate([r[k] for r in rows], axis=1)[valid] for k in rows[0]}
    measured["diverged_step"] = final["diverged"].reshape(-1)[valid]
    return measured


def _append(results: dict | None, chunk: dict) -> dict:
    if results is None:
        return chunk
    return {k: np.concatenate([results[k], chunk[k]]) for k in results}


def _dataset(results: dict, recorded: np.ndarray, varied: dict, attrs: dict, output_names: set) -> xr.Dataset:
    variables = {}
    for name, values in results.items():
        if name == "diverged_step":
            variables[name] = (("net",), values.astype(np.int64))
            continue
        extra = tuple(f"{name}_dim_{i}" for i in range(values.ndim - 2))
        if name in output_names:
            extra = ("point", "out")
        variables[name] = (("net", "step") + extra, values)
    coords = {"net": np.arange(len(results["diverged_step"])), "step": recorded}
    coords.update({k: ("net", v) for k, v in varied.items()})
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _warn_diverged(ds: xr.Dataset) -> None:
    bad = np.flatnonzero(ds["diverged_step"].values >= 0)
    if bad.size:
        import warnings

        shown = ", ".join(map(str, bad[:10])) + (" ..." if bad.size > 10 else "")
        warnings.warn(f"{bad.size} of {ds.sizes['net']} networks diverged (loss or gradient not finite): {shown}; "
                      "each stays at its last finite state, see ds['diverged_step']", RuntimeWarning, stacklevel=3)


def _bar(total: int, progress: bool | None, initial: int):
    from tqdm.auto import tqdm

    disable = progress is False or (progress is None and jax.process_index() != 0)
    return tqdm(total=total, initial=initial, unit="step", desc="train (chunks x steps)",
                disable=disable, delay=0 if progress else 3.0, dynamic_ncols=True, leave=False)
