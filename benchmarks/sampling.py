"""Sampling throughput: jaxbias against the machine's matmul rate, a per-network loop and PyTorch.

One process, float32, every figure measured in this run (see benchmarks/README.md):

1. the limit: the dense matmul rate of this device through XLA (best of several jitted matmuls);
2. "large": MLP 2 -> 256 x 4 hidden -> 1, tanh, on a 64 x 64 grid (4096 points), 2048 networks,
   compute-bound (``jb.reduce`` with the per-network mean, so no large host copies); chunk sizes swept;
3. "small": MLP 7 -> 40 -> 40 -> 1, relu, on the 128 points of {0,1}^7, 10^5 networks,
   overhead-bound; the truth table ``y[:, 0] > 0`` counted by ``count_distinct``; the share of
   random-number generation and of the forward pass measured separately;
4. baselines: a per-network JAX loop (jitted init and apply per key), a per-network PyTorch
   module loop, and ``torch.func`` (stack_module_state + functional_call under vmap).

FLOPs are counted analytically: ``2 * points * sum(fan_in * fan_out)`` per network (matmuls only).

    python -m benchmarks.sampling            # full run, 4-8 minutes on 2 CPU cores
    python -m benchmarks.sampling --quick    # smoke run, 15 s to a minute
    python -m benchmarks.sampling --gpu      # larger n for an accelerator (install jax[cuda12])
    python -m benchmarks.sampling --json results.json
"""

from __future__ import annotations

import argparse
import collections
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

import jaxbias as jb
from benchmarks import torch_reference
from benchmarks.harness import (best_of, forward_flops, interleaved_best, layer_fans, log, machine_info, matmul_rate,
                                now, per_network_loop_rate, rate_of, target_line, write_json)
from benchmarks.torch_reference import thread_settings, torch, torch_device, torch_threads
from jaxbias.nets.weight_laws import get_weight_law, unit_weight_noise
from jaxbias.random_bits import random_bits

# ---------------------------------------------------------------------------------------------
# Workloads

LARGE = dict(width=256, depth=4, activation="tanh", weight_var=1.0, bias_var=0.1, in_dim=2, resolution=64)
SMALL = dict(width=40, depth=2, activation="relu", weight_var=2.0, bias_var=0.1, n_bits=7)


# Stats are module-level objects: the engine caches its compiled program per (net, stat).
def stat_mean(y):
    return jnp.mean(y)


def stat_truth_table(y):
    return y[:, 0] > 0


# ---------------------------------------------------------------------------------------------
# Figures


class Results:
    def __init__(self, matmul_gflops: float):
        self.matmul = matmul_gflops
        self.rows: list[dict] = []
        self.notes: list[str] = []
        self.extra: dict = {}

    def add(self, workload, method, nets_per_s, flops_per_net=None, ref=None, note=""):
        row = dict(workload=workload, method=method, nets_per_s=nets_per_s, ref=ref, note=note)
        if nets_per_s is not None and flops_per_net:
            row["gflops"] = nets_per_s * flops_per_net / 1e9
        self.rows.append(row)
        rate = "skipped" if nets_per_s is None else f"{nets_per_s:,.1f} nets/s"
        log(f"  {workload:6s} {method:52s} {rate}" + (f"  ({note})" if note else ""))
        return row

    def finalize(self):
        """Fractions of the limit, once the limit is final (the best matmul rate seen in the run)."""
        for r in self.rows:
            if "gflops" in r:
                r["pct_matmul"] = 100.0 * r["gflops"] / self.matmul

    def get(self, workload, method):
        for r in self.rows:
            if r["workload"] == workload and r["method"] == method:
                return r
        return None


# ---------------------------------------------------------------------------------------------
# Machine


def layer_rates(points: int, width: int, repeats: int) -> dict:
    """GFLOP/s(-equivalent) of one hidden layer of the large workload, (points, width) @ (width, width):
    the product alone and with its bias and tanh, through XLA and (if installed) torch."""
    k1, k2 = jax.random.split(jax.random.key(1))
    a = jax.random.normal(k1, (points, width), jnp.float32)
    w = jax.random.normal(k2, (width, width), jnp.float32) / math.sqrt(width)
    b = jnp.zeros((1, width), jnp.float32)
    flops = 2 * points * width * width
    fns = {}
    for name, fn in (("xla matmul", lambda a, w, b: a @ w), ("xla tanh(matmul + bias)", lambda a, w, b: jnp.tanh(a @ w + b))):
        f = jax.jit(fn)
        fns[name] = lambda f=f: f(a, w, b).block_until_ready()
    if torch is not None and torch_device() == "cpu":
        at, wt, bt = (torch.from_numpy(np.array(v)) for v in (a, w, b))
        fns["torch matmul"] = lambda: at @ wt
        fns["torch tanh(matmul + bias)"] = lambda: torch.tanh(at @ wt + bt)
    best = {name: math.inf for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):  # interleaved, so that each sees the same load
        for name, fn in fns.items():
            t = now()
            fn()
            best[name] = min(best[name], now() - t)
    return {name: flops / t / 1e9 for name, t in best.items()}


# ---------------------------------------------------------------------------------------------
# Baselines: per-network loops


def torch_mlp(d0: int, width: int, depth: int, activation: str, cw: float, cb: float):
    """The shared torch reference MLP (torch_reference.py) with C_b as a variance, on torch's device."""
    return torch_reference.torch_mlp(d0, width, depth, activation, cw, math.sqrt(cb), torch_device())


def torch_loop_rate(cfg, d0, x_np, n: int, stat_host) -> float:
    x = torch.from_numpy(np.array(x_np, np.float32)).to(torch_device())
    build = lambda: torch_mlp(d0, cfg["width"], cfg["depth"], cfg["activation"], cfg["weight_var"], cfg["bias_var"])
    with torch.no_grad():
        for _ in range(2):  # warm-up
            stat_host(build()(x))
        t = now()
        for _ in range(n):
            stat_host(build()(x))
        return n / (now() - t)


def torch_func_rates(cfg, d0, x_np, n: int, batch: int, stat_batch) -> tuple[float, float]:
    """torch.func ensembles: (nets/s including module creation, nets/s of the vmapped forward alone)."""
    from torch.func import functional_call, stack_module_state

    x = torch.from_numpy(np.array(x_np, np.float32)).to(torch_device())
    build = lambda: torch_mlp(d0, cfg["width"], cfg["depth"], cfg["activation"], cfg["weight_var"], cfg["bias_var"])
    base = build().to("meta")

    def one(params, buffers, x):
        return functional_call(base, (params, buffers), (x,))

    batched = torch.vmap(one, in_dims=(0, 0, None))
    n_batches = max(1, n // batch)
    with torch.no_grad():
        params, buffers = stack_module_state([build() for _ in range(min(batch, 4))])
        stat_batch(batched(params, buffers, x))  # warm-up
        t_total = t_fwd = 0.0
        for _ in range(n_batches):
            t0 = now()
            params, buffers = stack_module_state([build() for _ in range(batch)])
            t1 = now()
            stat_batch(batched(params, buffers, x))
            t2 = now()
            t_total += t2 - t0
            t_fwd += t2 - t1
    done = n_batches * batch
    return done / t_total, done / t_fwd


def torch_rows(R, workload, cfg, d0, x, flops, loop_n, func_n, func_batch, loop_stat, func_stat):
    """PyTorch rows at torch.set_num_threads(cores) and at 1 thread (tiny ops can run faster on one
    thread: OpenMP workers wait on each other, worst on a shared machine). Targets use the faster."""
    names = ("PyTorch per-network loop", "torch.func vmap (incl. module creation)", "torch.func vmap (forward only)")
    if torch is None:
        for m in names:
            R.add(workload, m, None, flops, note="skipped: torch not installed")
        return
    for threads in thread_settings():
        tag = f" [{threads} thread{'s' if threads > 1 else ''}]"
        with torch_threads(threads):
            R.add(workload, names[0] + tag, torch_loop_rate(cfg, d0, x, loop_n, loop_stat()), flops,
                  note=f"{loop_n} nets, extrapolated")
            total, fwd = torch_func_rates(cfg, d0, x, func_n, func_batch, func_stat())
        R.add(workload, names[1] + tag, total, flops, note=f"{func_n} nets, batches of {func_batch}")
        R.add(workload, names[2] + tag, fwd, flops)


def sizes(args) -> dict:
    if args.quick:
        return dict(matmul_n=[2048], matmul_rep=3, large_n=16, large_sweep_n=16, large_chunks=[],
                    large_sample_n=8, large_loop_n=3, large_torch_n=3, large_func_n=4, large_func_batch=4,
                    small_n=4096, small_cd_n=4096, small_sweep_n=2048, small_chunks=[], small_loop_n=50,
                    small_torch_n=100, small_func_n=256, small_func_batch=128, repeats=1, rounds=0, pair_large_torch_n=2, pair_small_n=2048,
                    pair_small_torch_n=50)
    if args.gpu:
        return dict(matmul_n=[4096, 8192], matmul_rep=10, large_n=65536, large_sweep_n=8192,
                    large_chunks=[32, 128, 512, 2048, 8192], large_sample_n=4096, large_loop_n=32,
                    large_torch_n=16, large_func_n=64, large_func_batch=32, small_n=10_000_000, small_cd_n=10_000_000,
                    small_sweep_n=1 << 20, small_chunks=[1024, 8192, 65536], small_loop_n=300,
                    small_torch_n=1000, small_func_n=8192, small_func_batch=1024, repeats=2, rounds=3, pair_large_torch_n=16, pair_small_n=1 << 20,
                    pair_small_torch_n=300)
    return dict(matmul_n=[2048, 4096], matmul_rep=4, large_n=2048, large_sweep_n=128, large_chunks=[8, 32, 128, 512, 2048],
                large_sample_n=64, large_loop_n=16, large_torch_n=16, large_func_n=32, large_func_batch=16,
                small_n=100_000, small_cd_n=100_000, small_sweep_n=32_768, small_chunks=[64, 256, 1024, 4096], small_loop_n=300,
                small_torch_n=1000, small_func_n=8192, small_func_batch=1024, repeats=2, rounds=3, pair_large_torch_n=8, pair_small_n=16384,
                pair_small_torch_n=300)


def fits_memory(chunk: int, bytes_per_net: int, on_cpu: bool) -> tuple[bool, str]:
    """Whether a chunk's estimated working set is safe to run here (half the available host RAM on CPU)."""
    need = chunk * bytes_per_net
    if on_cpu:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 8 * 2**30
        limit = avail // 2
    else:
        stats = jax.devices()[0].memory_stats() or {}
        limit = int(0.8 * stats.get("bytes_limit", 16 * 2**30))
    return need <= limit, f"needs ~{need / 2**30:.1f} GiB (estimate), over {limit / 2**30:.1f} GiB here"


def run_large(args, S, R: Results, on_cpu: bool):
    cfg = LARGE
    net = jb.nets.mlp(cfg["width"], cfg["depth"], cfg["activation"], out=1, weight_var=cfg["weight_var"],
                      bias_var=cfg["bias_var"])
    x = np.asarray(jb.inputs.grid(cfg["in_dim"], cfg["resolution"]))
    fans = layer_fans(cfg["in_dim"], cfg["width"], cfg["depth"])
    flops = forward_flops(x.shape[0], fans)
    n = S["large_n"]
    p = jb.plan(net, x, n=n, stat=stat_mean)
    default_chunk = p.chunk_size
    R.extra["large"] = dict(points=int(x.shape[0]), flops_per_net=flops, n=n, default_chunk=default_chunk,
                            bytes_per_net=p.bytes_per_net, n_params=sum(a * b + b for a, b in fans))
    log(f"\n[large] MLP {cfg['in_dim']}->{cfg['width']}x{cfg['depth']}->1 {cfg['activation']}, {x.shape[0]} points, "
        f"{flops / 1e9:.3f} GFLOP/net, n={n}, default chunk {default_chunk} "
        f"(~{p.bytes_per_net / 2**20:.1f} MiB/net estimated)")

    # One hidden layer alone: the ceiling at this shape, and what bias + tanh cost on top of the dot.
    layer = layer_rates(x.shape[0], cfg["width"], 30)
    R.extra["large"]["layer_gflops"] = layer
    shape = f"{x.shape[0]}x{cfg['width']} @ {cfg['width']}x{cfg['width']}"
    for name, rate in layer.items():
        R.add("large", f"  one layer {shape}: {name}", rate * 1e9 / flops, flops,
              note="reference: as if every FLOP ran at this layer's rate")

    # Chunk sweep (each size on about sweep_n networks, whole chunks).
    sweep = {}
    for c in sorted(set(S["large_chunks"] + [default_chunk])):
        ok, why = fits_memory(c, p.bytes_per_net, on_cpu)
        label = f"jaxbias reduce, chunk {c}" + (" (default)" if c == default_chunk else "")
        if not ok:
            R.add("large", label, None, flops, note=f"skipped: {why}")
            continue
        m = c * max(1, round(S["large_sweep_n"] / c))  # whole chunks: no padded networks in the figure
        jb.reduce(net, x, n=c, key=0, stat=stat_mean, chunk_size=c, progress=False)  # compile
        t = best_of(lambda: jb.reduce(net, x, n=m, key=0, stat=stat_mean, chunk_size=c, progress=False), 1)
        sweep[c] = m / t
        R.add("large", label, m / t, flops, note=f"sweep, n={m}")
    best_chunk = max(sweep, key=sweep.get)
    R.extra["large"]["best_chunk"] = best_chunk
    R.extra["large"]["sweep"] = {str(k): v for k, v in sweep.items()}

    # The headline run: all n networks at the default chunk size.
    t = now()
    jb.reduce(net, x, n=n, key=0, stat=stat_mean, progress=False)
    rate = n / (now() - t)
    R.add("large", "jaxbias reduce (default chunk)", rate, flops, note=f"n={n}, chunk {default_chunk}")

    m = S["large_sample_n"]
    jb.sample(net, x, n=min(m, default_chunk), key=0, progress=False)
    t = best_of(lambda: jb.sample(net, x, n=m, key=0, progress=False), 1)
    R.add("large", "jaxbias sample (outputs to host)", m / t, flops, note=f"n={m}")

    # Baselines.
    R.add("large", "JAX per-network loop", per_network_loop_rate(net, x, S["large_loop_n"], lambda y: float(jnp.mean(y))),
          flops, note=f"{S['large_loop_n']} nets, extrapolated")
    torch_rows(R, "large", cfg, cfg["in_dim"], x, flops, S["large_torch_n"], S["large_func_n"], S["large_func_batch"],
               lambda: (lambda y: float(y.mean())), lambda: (lambda y: y.mean(dim=(1, 2)).cpu().numpy()))

    if S["rounds"] and torch is not None:
        methods = {"jaxbias": lambda: rate_of(
            lambda: jb.reduce(net, x, n=default_chunk, key=0, stat=stat_mean, progress=False), default_chunk)}
        for threads in thread_settings():
            def loop(threads=threads):
                with torch_threads(threads):
                    return torch_loop_rate(cfg, cfg["in_dim"], x, S["pair_large_torch_n"], lambda y: float(y.mean()))

            def func(threads=threads):
                with torch_threads(threads):
                    return torch_func_rates(cfg, cfg["in_dim"], x, S["large_func_batch"], S["large_func_batch"],
                                            lambda y: y.mean(dim=(1, 2)).cpu().numpy())[0]
            methods[f"PyTorch loop [{threads}]"] = loop
            methods[f"torch.func incl. creation [{threads}]"] = func
        paired_rounds(R, "large", S["rounds"], methods)

    # Where the time goes: random numbers for one chunk of networks.
    P = R.extra["large"]["n_params"]
    rng_rate = rng_rate_normals(P, min(default_chunk, 64), S["repeats"] + 1, engine=True)
    R.extra["large"]["rng_nets_per_s"] = rng_rate
    R.extra["large"]["rng_share"] = rate / rng_rate
    log(f"  large  RNG alone ({P} normals/net): {rng_rate:,.1f} nets/s -> {100 * rate / rng_rate:.0f}% of the "
        f"default-chunk run's time")

def rng_rate_normals(n_params: int, chunk: int, repeats: int, engine: bool = False) -> float:
    """Nets/s drawing ``n_params`` standard normals per network over fold_in keys (one jitted chunk).

    ``engine=False``: ``jax.random.normal`` (jax's threefry); ``engine=True``: the engine's words
    (``jaxbias.random_bits``, the same bits computed by an unrolled hash) turned into the same normals.
    """
    base = jax.random.key(0)
    if engine:
        def draw(k):
            return unit_weight_noise(random_bits(k, n_params), get_weight_law("normal"), (n_params, 1))[:, 0]
    else:
        def draw(k):
            return jax.random.normal(k, (n_params,))
    f = jax.jit(lambda idx: jax.vmap(lambda i: draw(jax.random.fold_in(base, i)))(idx))
    idx = jnp.arange(chunk, dtype=jnp.uint32)
    f(idx).block_until_ready()
    return chunk / best_of(lambda: f(idx).block_until_ready(), repeats)


def run_small(args, S, R: Results, on_cpu: bool):
    cfg = SMALL
    net = jb.nets.mlp(cfg["width"], cfg["depth"], cfg["activation"], out=1, weight_var=cfg["weight_var"],
                      bias_var=cfg["bias_var"])
    x = np.asarray(jb.inputs.hypercube(cfg["n_bits"]))
    fans = layer_fans(cfg["n_bits"], cfg["width"], cfg["depth"])
    flops = forward_flops(x.shape[0], fans)
    n = S["small_n"]
    p = jb.plan(net, x, n=n, stat=stat_truth_table)
    default_chunk = p.chunk_size
    shapes = jax.eval_shape(net.init, jax.random.key(0), jnp.asarray(x))
    n_params = sum(math.prod(a.shape) for a in jax.tree_util.tree_leaves(shapes))
    R.extra["small"] = dict(points=int(x.shape[0]), flops_per_net=flops, n=n, default_chunk=default_chunk,
                            n_params=n_params)
    log(f"\n[small] MLP {cfg['n_bits']}->{cfg['width']}x{cfg['depth']}->1 {cfg['activation']}, {x.shape[0]} points, "
        f"{flops / 1e6:.3f} MFLOP/net, {n_params} params/net, n={n}, default chunk {default_chunk}")
    cd = jb.summaries.count_distinct()

    # Headline: truth tables counted by count_distinct, default chunk.
    n_cd = S["small_cd_n"]
    jb.summarize(net, x, n=default_chunk, key=0, stat=stat_truth_table, summary=cd, progress=False)  # compile
    t = now()
    res = jb.summarize(net, x, n=n_cd, key=0, stat=stat_truth_table, summary=cd, progress=False)
    rate_cd = n_cd / (now() - t)
    R.add("small", "jaxbias summarize count_distinct (default chunk)", rate_cd, flops,
          note=f"n={n_cd}, {len(res['counts'])} distinct tables")
    R.extra["small"]["distinct"] = int(len(res["counts"]))

    jb.reduce(net, x, n=default_chunk, key=0, stat=stat_mean, progress=False)
    t = now()
    jb.reduce(net, x, n=n, key=0, stat=stat_mean, progress=False)
    rate_reduce = n / (now() - t)
    R.add("small", "jaxbias reduce mean (default chunk)", rate_reduce, flops, note=f"n={n}")

    sweep = {}
    m = S["small_sweep_n"]
    for c in sorted(set(S["small_chunks"] + [default_chunk])):
        jb.reduce(net, x, n=c, key=0, stat=stat_mean, chunk_size=c, progress=False)
        t = best_of(lambda: jb.reduce(net, x, n=m, key=0, stat=stat_mean, chunk_size=c, progress=False), S["repeats"])
        sweep[c] = m / t
        R.add("small", f"jaxbias reduce mean, chunk {c}" + (" (default)" if c == default_chunk else ""), m / t,
              flops, note=f"sweep, n={m}")
    best_chunk = max(sweep, key=sweep.get)
    R.extra["small"]["best_chunk"] = best_chunk
    R.extra["small"]["sweep"] = {str(k): v for k, v in sweep.items()}

    # Where the time goes, per chunk of the default size.
    rng = rng_rate_normals(n_params, default_chunk, S["repeats"] + 2)
    rng_engine = rng_rate_normals(n_params, default_chunk, S["repeats"] + 2, engine=True)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(default_chunk, dtype=jnp.uint32))
    xj = jnp.asarray(x)
    params = jax.jit(jax.vmap(net.init, in_axes=(0, None)))(keys, xj)
    fwd = jax.jit(lambda p: jnp.mean(jax.vmap(net.apply, in_axes=(0, None))(p, xj), axis=(1, 2)))
    fwd(params).block_until_ready()
    fwd_rate = default_chunk / best_of(lambda: fwd(params).block_until_ready(), S["repeats"] + 2)
    R.extra["small"].update(rng_nets_per_s=rng, rng_engine_nets_per_s=rng_engine, forward_nets_per_s=fwd_rate,
                            rng_share_of_reduce=rate_reduce / rng_engine, forward_share_of_reduce=rate_reduce / fwd_rate)
    log(f"  small  RNG alone ({n_params} normals/net, chunk {default_chunk}): {rng:,.0f} nets/s "
        f"= {1e9 / rng / n_params:.1f} ns/normal -> {100 * rate_reduce / rng_engine:.0f}% of reduce time (engine words)")
    log(f"  small  forward alone (params drawn beforehand): {fwd_rate:,.0f} nets/s "
        f"-> {100 * rate_reduce / fwd_rate:.0f}% of reduce time")
    init_fn = jax.jit(lambda ks: jax.vmap(net.init, in_axes=(0, None))(ks, xj))
    jax.block_until_ready(init_fn(keys))
    init_rate = default_chunk / best_of(lambda: jax.block_until_ready(init_fn(keys)), S["repeats"] + 2)
    R.extra["small"].update(init_nets_per_s=init_rate, init_share_of_reduce=rate_reduce / init_rate)
    log(f"  small  net.init alone (vmapped, params written out): {init_rate:,.0f} nets/s "
        f"-> {100 * rate_reduce / init_rate:.0f}% of reduce time")
    R.add("small", "  RNG alone: vmap jax.random.normal over fold_in keys", rng, None,
          note=f"{1e9 / rng / n_params:.1f} ns/normal")
    R.add("small", "  RNG alone: the engine's words (unrolled threefry) as normals", rng_engine, None,
          note=f"{1e9 / rng_engine / n_params:.1f} ns/normal, the same numbers")
    R.add("small", "  net.init alone (vmapped over fold_in keys)", init_rate, None)
    R.add("small", "  forward alone (params precomputed)", fwd_rate, flops)

    # Baselines (truth table counted in a Python Counter, as a user would).
    def counter_stat(counter):
        return lambda y: counter.update([np.asarray(y[:, 0] > 0).tobytes()])

    R.add("small", "JAX per-network loop", per_network_loop_rate(net, x, S["small_loop_n"], counter_stat(collections.Counter())),
          flops, note=f"{S['small_loop_n']} nets, extrapolated")
    def loop_stat():
        counter = collections.Counter()
        return lambda y: counter.update([(y[:, 0] > 0).cpu().numpy().tobytes()])

    def func_stat():
        counter = collections.Counter()
        return lambda y: counter.update(map(bytes, (y[:, :, 0] > 0).cpu().numpy()))

    torch_rows(R, "small", cfg, cfg["n_bits"], x, flops, S["small_torch_n"], S["small_func_n"], S["small_func_batch"],
               loop_stat, func_stat)

    if S["rounds"] and torch is not None:
        m = S["pair_small_n"]
        methods = {"jaxbias": lambda: rate_of(
            lambda: jb.summarize(net, x, n=m, key=0, stat=stat_truth_table, summary=cd, progress=False), m)}
        for threads in thread_settings():
            def loop(threads=threads):
                with torch_threads(threads):
                    return torch_loop_rate(cfg, cfg["n_bits"], x, S["pair_small_torch_n"], loop_stat())
            methods[f"PyTorch loop [{threads}]"] = loop
        paired_rounds(R, "small", S["rounds"], methods)

def paired_rounds(R: Results, workload: str, rounds: int, methods: dict) -> None:
    """The best nets/s of each method over interleaved rounds (:func:`benchmarks.harness.interleaved_best`),
    kept in ``R.extra["paired"]`` for the paired targets. ``methods``: name -> callable returning its
    nets/s (warm-up excluded)."""
    best = interleaved_best(methods, rounds)
    R.extra.setdefault("paired", {})[workload] = {"rounds": rounds, "nets_per_s": best}
    for name, rate in best.items():
        log(f"  {workload:6s} paired best of {rounds}: {name:44s} {rate:,.1f} nets/s")


def best_row(R: Results, workload: str, prefix: str):
    rows = [r for r in R.rows if r["workload"] == workload and r["method"].startswith(prefix) and r["nets_per_s"]]
    return max(rows, key=lambda r: r["nets_per_s"]) if rows else None


OURS = {"large": "jaxbias reduce (default chunk)", "small": "jaxbias summarize count_distinct (default chunk)"}
TARGETS = [  # (workload, target, baseline prefix or None for the matmul fraction, threshold, paired prefix)
    ("large", ">= 80% of the matmul rate", None, 80.0, None),
    ("large", ">= 1.5x the PyTorch loop", "PyTorch per-network loop", 1.5, "PyTorch loop"),
    ("large", ">= 2x torch.func (incl. module creation)", "torch.func vmap (incl. module creation)", 2.0,
     "torch.func incl. creation"),
    ("small", ">= 50x the PyTorch loop", "PyTorch per-network loop", 50.0, "PyTorch loop"),
]


def target(workload: str, desc: str, threshold: float, value, unit: str, against) -> dict:
    """One evaluated target (``value`` None: its baseline was skipped)."""
    return dict(workload=workload, target=desc, value=value, unit=unit,
                passed=None if value is None else value >= threshold, against=against, threshold=threshold)


def evaluate_paired(R: Results) -> list[dict]:
    """The targets from the interleaved rounds (see :func:`paired_rounds`)."""
    out = []
    for workload, desc, _, threshold, prefix in TARGETS:
        paired = R.extra.get("paired", {}).get(workload)
        if paired is None:
            continue
        rates = paired["nets_per_s"]
        ours = rates["jaxbias"]
        if prefix is None:
            value = 100.0 * ours * R.extra[workload]["flops_per_net"] / 1e9 / R.matmul
            out.append(target(workload, desc, threshold, value, "%", "matmul"))
            continue
        name = max((k for k in rates if k.startswith(prefix)), key=rates.get)
        out.append(target(workload, desc, threshold, ours / rates[name], "x", name))
    return out


def evaluate_targets(R: Results) -> list[dict]:
    """Each target against the default-chunk jaxbias row and the fastest configuration of the baseline."""
    out = []
    for workload, desc, prefix, threshold, _ in TARGETS:
        ours = R.get(workload, OURS[workload])
        if ours is None:
            continue
        if prefix is None:
            out.append(target(workload, desc, threshold, ours["pct_matmul"], "%", "matmul"))
            continue
        theirs = best_row(R, workload, prefix)
        if theirs is None:
            out.append(target(workload, desc, threshold, None, "x", None))
            continue
        out.append(target(workload, desc, threshold, ours["nets_per_s"] / theirs["nets_per_s"], "x", theirs["method"]))
    return out


def target_lines(targets: list[dict]) -> list[str]:
    return [target_line(f"{t['workload']:6s} {t['target']:44s}", t["value"], t["threshold"], t["unit"],
                        None if t["against"] == "matmul" else t["against"]) for t in targets]


def print_table(R: Results, info: dict, targets: list[dict], paired: list[dict]) -> str:
    lines = []
    head = f"{'workload':8s} {'method':56s} {'networks/s':>14s} {'GFLOP/s':>9s} {'% matmul':>9s} {'jaxbias/method':>15s}"
    lines.append(head)
    lines.append("-" * len(head))
    lines.append(f"{'limit':8s} {'XLA dense matmul (' + str(info['matmul_n']) + '^2, f32)':56s} {'':>14s} "
                 f"{R.matmul:9.1f} {100.0:8.1f}% {'':>15s}")
    ref = {w: R.get(w, m) for w, m in OURS.items()}
    for r in R.rows:
        rate = "skipped" if r["nets_per_s"] is None else f"{r['nets_per_s']:,.1f}"
        gf = f"{r['gflops']:9.2f}" if "gflops" in r else f"{'':>9s}"
        pct = f"{r['pct_matmul']:8.1f}%" if "pct_matmul" in r else f"{'':>9s}"
        base = ref[r["workload"]]
        is_baseline = r["method"].startswith(("JAX per", "PyTorch", "torch.func"))
        ratio = (f"{base['nets_per_s'] / r['nets_per_s']:14.2f}x" if is_baseline and r["nets_per_s"] else f"{'':>15s}")
        lines.append(f"{r['workload']:8s} {r['method']:56s} {rate:>14s} {gf} {pct} {ratio}")
    lines.append("")
    lines.append("jaxbias/method: the default-chunk jaxbias row of the workload (large: reduce; small: count_distinct)")
    lines.append("divided by the baseline.")
    lines.append("")
    lines.append("Targets (headline rows of this table, against the faster PyTorch thread setting):")
    lines += target_lines(targets)
    if paired:
        rounds = max(v["rounds"] for v in R.extra["paired"].values())
        lines.append(f"Targets (best of {rounds} interleaved rounds, same shared-machine conditions for each method):")
        lines += target_lines(paired)
    text = "\n".join(lines)
    print("\n" + text, flush=True)
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small n: a smoke run in under a minute")
    mode.add_argument("--gpu", action="store_true", help="larger n for an accelerator (65536 large nets, 10^7 small)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    ap.add_argument("--only", choices=("large", "small"), help="run one workload")
    ap.add_argument("--rounds", type=int, help="interleaved rounds for the paired targets (default 3; 0 with --quick)")
    args = ap.parse_args(argv)

    if args.gpu and jax.default_backend() == "cpu":
        log("warning: --gpu but jax sees only CPU devices (install jax[cuda12]); running the GPU sizes on CPU")
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    S = sizes(args)
    if args.rounds is not None:
        S["rounds"] = args.rounds
    info = machine_info("quick" if args.quick else ("gpu" if args.gpu else "full"))
    log(f"jaxbias sampling benchmark ({info['mode']}) {info['date']}: {info['cpu_model']}, {info['cpu_cores']} cores, "
        f"jax {info['jax']} on {info['jax_backend']} ({info['jax_device']} x{info['n_devices']}), "
        f"torch {info['torch'] or 'not installed (torch rows skipped)'}, load average {info['loadavg_start']}")
    t_start = now()
    rates = {}
    for mn in S["matmul_n"]:
        rates[mn] = matmul_rate(mn, S["matmul_rep"])
        log(f"[limit] XLA dense matmul {mn}x{mn} f32: {rates[mn]:.1f} GFLOP/s (best of {S['matmul_rep']})")
    best_n = max(rates, key=rates.get)
    rate = rates[best_n]
    info["matmul_n"] = best_n
    info["matmul_gflops_by_n"] = {str(k): v for k, v in rates.items()}
    R = Results(rate)
    on_cpu = jax.default_backend() == "cpu"
    for name, fn in (("large", run_large), ("small", run_small)):
        if args.only in (None, name):
            t = now()
            fn(args, S, R, on_cpu)
            info[f"{name}_wall_s"] = now() - t
            log(f"  ({name}: {info[f'{name}_wall_s']:.0f} s, load average {os.getloadavg()[0]:.2f})")
            if name == "large" and args.only is None:  # the machine may be shared: measure the limit again
                again = matmul_rate(best_n, max(2, S["matmul_rep"] // 2))
                info["matmul_gflops_after_large"] = again
                log(f"[limit] again after the large workload: {again:.1f} GFLOP/s")
                R.matmul = max(R.matmul, again)
    R.finalize()
    info["matmul_gflops"] = R.matmul
    info["loadavg_end"] = os.getloadavg()
    info["wall_s"] = now() - t_start
    targets = [t for t in evaluate_targets(R) if args.only in (None, t["workload"])]
    paired = evaluate_paired(R)
    table = print_table(R, info, targets, paired)
    log(f"\nwall time {info['wall_s']:.0f} s; load average at start {info['loadavg_start']}, at end {info['loadavg_end']}")
    if args.json:
        write_json(args.json, dict(machine=info, matmul_gflops=R.matmul, rows=R.rows, targets=targets,
                                   targets_paired=paired, extra=R.extra, table=table))


if __name__ == "__main__":
    main()
