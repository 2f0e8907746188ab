"""Training throughput: ``jb.train`` against a hand-written JAX loop, ``torch.func`` and a PyTorch loop.

One process, float32, every figure measured in this run (see benchmarks/README.md, "Training"):
256 MLPs 64 -> 64 x 2 (tanh) -> 10 on the UCI digits (``jb.datasets.digits()``: 1347 training and
450 test points), cross-entropy, SGD with momentum 0.9 (learning rate 0.05), minibatches of 128 in
a per-network order (a new permutation every epoch of 10 steps), 1,000 steps, test loss and
accuracy every 100 steps. Network ``i`` starts as ``jb.sample``'s network ``i`` in every method.

1. jaxbias: ``jb.train(..., record=range(0, 1001, 100), eval_train=False)`` with the engine's
   default options (on CPU micro-batches of at most 8 networks) and with ``micro_batch=None``
   (one vmap over all networks of a device);
2. the ceiling: a hand-written ``jax.jit`` of ``lax.scan`` over ``jax.vmap(step)`` with optax,
   doing the same work (same initial networks, same permutations, same measurements);
3. ``torch.func``: ``stack_module_state`` + ``torch.vmap(grad(...))``, ``torch.optim.SGD`` on
   the stacked tensors, per-network minibatches gathered by an index tensor;
4. the PyTorch per-network loop: one ``nn.Module`` and one ``torch.optim.SGD`` per network,
   timed on a few networks and reported per network;

plus the machine's dense matmul rate (the limit), the compile time (first call against later
calls), peak memory against n (each n in a fresh process), and ``--profile``: the hand-written
loop with the engine's features added one at a time, to show where the engine's time goes.

Rates are networks x steps per second; FLOPs are the matmuls of the forward and backward passes
(weights and inputs' gradients, not the first layer's input gradient) plus the test evaluations.

    python -m benchmarks.train            # full run, ~10 minutes on 2 shared CPU cores
    python -m benchmarks.train --quick    # smoke run, under 2 minutes
    python -m benchmarks.train --big      # also n = 10,000 for the full 1,000 steps
    python -m benchmarks.train --profile  # the engine's features one at a time on the hand-written loop
    python -m benchmarks.train --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxbias as jb
from benchmarks.harness import interleaved_best, log, machine_info, matmul_rate, now, target_line, write_json
from benchmarks.torch_reference import load_jax_mlp, thread_settings, torch, torch_mlp, torch_threads

WORKLOAD = dict(width=64, depth=2, activation="tanh", out=10, learning_rate=0.05, momentum=0.9, batch_size=128)
_DATA_STREAM = 0x64617461  # the engine's data stream (jaxbias/training/engine.py): same permutations here


def setup():
    """``(net, data, optimizer)`` of the workload."""
    net = jb.nets.mlp(WORKLOAD["width"], WORKLOAD["depth"], WORKLOAD["activation"], out=WORKLOAD["out"])
    data = jb.datasets.digits()
    opt = jb.training.Optimizer("sgd", learning_rate=WORKLOAD["learning_rate"], momentum=WORKLOAD["momentum"])
    return net, data, opt


def flops_per_net_step(data, steps: int, every: int) -> float:
    """Matmul FLOPs of one network's training step, test evaluations amortised over the steps."""
    dims = [data.input_shape[0]] + [WORKLOAD["width"]] * WORKLOAD["depth"] + [WORKLOAD["out"]]
    fans = list(zip(dims[:-1], dims[1:]))
    macs = sum(a * b for a, b in fans)
    b = WORKLOAD["batch_size"]
    train = 2 * b * macs * 2 + 2 * b * (macs - dims[0] * dims[1])  # forward, weight grads, input grads
    evals = (steps // every + 1) * 2 * data.n_test * macs
    return train + evals / steps


# ---------------------------------------------------------------------------------------------
# jaxbias


def jaxbias_run(net, data, opt, n: int, steps: int, every: int, micro_batch="auto", memory_budget=None):
    """``jb.train`` on the workload; returns the Dataset."""
    options = jb.RunOptions(micro_batch=micro_batch, memory_budget=memory_budget)
    return jb.train(net, data, opt, n=n, key=0, loss="cross_entropy", steps=steps, batch_size=WORKLOAD["batch_size"],
                    data_order="per_net", record=range(0, steps + 1, every), eval_train=False, options=options,
                    progress=False)


# ---------------------------------------------------------------------------------------------
# The ceiling: a hand-written jit(scan(vmap(step))) with optax


def handwritten_program(net, data, n: int, steps: int, every: int, variant: frozenset = frozenset()):
    """``run(indices) -> (test_loss, test_accuracy)``, each ``(steps // every + 1, n)``: the loop a JAX user
    writes. Epochs of ``n_train // batch`` steps, each on a fresh per-network permutation (the engine's:
    one stable sort of random words from ``fold_in(fold_in(fold_in(key, DATA), i), epoch)``).

    ``variant`` adds the engine's features one at a time (``--profile``): "inject" (optax.inject_hyperparams,
    hyperparameters in the state), "guard" (the divergence check: global gradient norm, isfinite and a
    select of params and state), "cond_perm" (the permutation drawn under a per-step ``lax.cond`` on the
    step index), "cond_measure" (a per-step ``lax.cond`` that measures or returns zeros), "micro8" (networks
    8 at a time through ``lax.map``), "segments" (64 steps a call, from the host).
    """
    b = WORKLOAD["batch_size"]
    x_train, y_train = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    n_train = x_train.shape[0]
    spe = n_train // b
    lr, mu = WORKLOAD["learning_rate"], WORKLOAD["momentum"]
    tx = optax.inject_hyperparams(optax.sgd)(lr, momentum=mu) if "inject" in variant else optax.sgd(lr, momentum=mu)
    base = jax.random.key(0)
    if steps % every or every % spe:
        raise ValueError(f"steps={steps}, every={every}: the hand-written loop needs whole epochs of {spe} steps")

    def loss_fn(p, xb, yb):
        return jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(net.apply(p, xb), yb))

    def perm(i, epoch):
        k = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(base, _DATA_STREAM), i), epoch)
        return jnp.argsort(jax.random.bits(k, (n_train,), jnp.uint32), stable=True).astype(jnp.int32)

    def evaluate(p):
        f = net.apply(p, x_test)
        loss = jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(f, y_test))
        return loss, jnp.mean((jnp.argmax(f, -1) == y_test).astype(jnp.float32))

    def step(state, xb, yb):  # one network, one minibatch
        params, opt_state = state
        value, g = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, new_opt = tx.update(g, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        if "guard" in variant:
            ok = jnp.isfinite(value) & jnp.isfinite(optax.global_norm(g))
            keep = lambda a, c: jax.tree_util.tree_map(lambda u, v: jnp.where(ok, u, v), a, c)  # noqa: E731
            return keep(new_params, params), keep(new_opt, opt_state)
        return new_params, new_opt

    def init(i):
        params = net.init(jax.random.fold_in(base, i), x_train)
        return params, tx.init(params)

    if not variant & {"cond_perm", "cond_measure", "micro8", "segments"}:
        vstep = jax.vmap(step)

        def run(indices):
            state = jax.vmap(init)(indices)

            def epoch(state, e):
                order = jax.vmap(perm, in_axes=(0, None))(indices, e)[:, :spe * b].reshape(-1, spe, b)

                def one_step(state, idx):  # idx (n, b)
                    return vstep(state, x_train[idx], y_train[idx]), None

                return jax.lax.scan(one_step, state, jnp.swapaxes(order, 0, 1))[0], None

            def block(state, blk):
                state = jax.lax.scan(epoch, state, blk * (every // spe) + jnp.arange(every // spe))[0]
                return state, jax.vmap(evaluate)(state[0])

            first = jax.vmap(evaluate)(state[0])
            _, recs = jax.lax.scan(block, state, jnp.arange(steps // every))
            return jax.tree_util.tree_map(lambda a, r: jnp.concatenate([a[None], r]), first, recs)

        return jax.jit(run)

    # The engine's loop shape: per network a scan over steps, epoch permutation and measuring under conds.
    segment = 64 if "segments" in variant else -(-(steps + 1) // 64) * 64
    n_iters = -(-(steps + 1) // segment) * segment
    recorded = np.zeros(n_iters, bool)
    recorded[np.arange(0, steps + 1, every)] = True

    def net_state(i):
        state = init(i)
        return {"state": state, "perm": perm(i, 0)}

    def train_segment(s, i, t0, rec_mask):
        def body(s, dt):
            t = t0 + dt
            if "cond_measure" in variant:
                rec = jax.lax.cond(rec_mask[dt], lambda: evaluate(s["state"][0]),
                                   lambda: (jnp.float32(0), jnp.float32(0)))
            else:
                rec = (jnp.float32(0), jnp.float32(0))  # not measured: only the cost of the training steps
            epoch, j = jnp.divmod(t, spe)
            if "cond_perm" in variant:
                p = jax.lax.cond(j == 0, lambda: perm(i, epoch), lambda: s["perm"])
            else:
                p = perm(i, epoch)
            idx = jax.lax.dynamic_slice(p, (j * b,), (b,))
            new = step(s["state"], x_train[idx], y_train[idx])
            if "cond_step" in variant:  # the engine's step under lax.cond(t < steps): padded steps are no-ops
                new = jax.lax.cond(t < steps, lambda: step(s["state"], x_train[idx], y_train[idx]), lambda: s["state"])
            else:
                new = jax.tree_util.tree_map(lambda a, c: jnp.where(t < steps, a, c), new, s["state"])
            return {"state": new, "perm": p}, rec

        return jax.lax.scan(body, s, jnp.arange(segment))

    def mapped(fn):
        v = jax.vmap(fn, in_axes=(0, 0, None, None))
        if "micro8" not in variant:
            return v

        def m(s, i, t0, rec):
            g = jax.tree_util.tree_map(lambda a: a.reshape((-1, 8) + a.shape[1:]), (s, i))
            out = jax.lax.map(lambda gi: v(gi[0], gi[1], t0, rec), g)
            return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), out)

        return m

    seg_jit = jax.jit(mapped(train_segment))
    init_jit = jax.jit(jax.vmap(net_state))

    def run(indices):
        s = init_jit(indices)
        recs = []
        for t0 in range(0, n_iters, segment):
            s, rec = seg_jit(s, indices, jnp.int32(t0), jnp.asarray(recorded[t0:t0 + segment]))
            recs.append(jax.tree_util.tree_map(lambda a: a[:, recorded[t0:t0 + segment]], rec))
        return tuple(jnp.concatenate([r[k] for r in recs], axis=1).T for k in range(2))

    return run


# ---------------------------------------------------------------------------------------------
# PyTorch peers (same initial networks: the jaxbias parameters copied in)


def initial_layers(net, data, n: int) -> list[dict]:
    """``jb.sample``'s first ``n`` networks' parameters as stacked numpy arrays, per layer."""
    x = jnp.asarray(data.x_train)
    params = jax.jit(jax.vmap(lambda i: net.init(jax.random.fold_in(jax.random.key(0), i), x)))(jnp.arange(n))
    return jax.tree_util.tree_map(np.asarray, params)["layers"]


def torch_data(data):
    return tuple(torch.from_numpy(np.array(a)) for a in (data.x_train, data.y_train.astype(np.int64),
                                                             data.x_test, data.y_test.astype(np.int64)))


def torch_model(data):
    return torch_mlp(data.input_shape[0], WORKLOAD["width"], WORKLOAD["depth"], WORKLOAD["activation"], 1.0, 0.0,
                     out=WORKLOAD["out"])


def torch_func_run(layers, data, n: int, steps: int, every: int, seed: int = 0) -> np.ndarray:
    """``torch.func`` ensemble: returns test accuracy ``(steps // every + 1, n)``."""
    from torch.func import functional_call, grad, stack_module_state

    F = torch.nn.functional
    xtr, ytr, xte, yte = torch_data(data)
    b = WORKLOAD["batch_size"]
    spe = xtr.shape[0] // b
    models = []
    for i in range(n):
        m = torch_model(data)
        load_jax_mlp(m, [{k: v[i] for k, v in layer.items()} for layer in layers])
        models.append(m)
    params, buffers = stack_module_state(models)
    base = torch_model(data).to("meta")

    def loss_one(p, xb, yb):
        return F.cross_entropy(functional_call(base, (p, buffers), (xb,)), yb)

    grads = torch.vmap(grad(loss_one))
    logits = torch.vmap(lambda p, x: functional_call(base, (p, buffers), (x,)), in_dims=(0, None))
    opt = torch.optim.SGD(list(params.values()), lr=WORKLOAD["learning_rate"], momentum=WORKLOAD["momentum"])
    gen = torch.Generator().manual_seed(seed)
    accs = []
    with torch.no_grad():
        for t in range(steps + 1):
            if t % every == 0:
                accs.append((logits(params, xte).argmax(-1) == yte).float().mean(1).numpy())
            if t == steps:
                break
            j = t % spe
            if j == 0:
                order = torch.argsort(torch.rand(n, xtr.shape[0], generator=gen), dim=1)
            idx = order[:, j * b:(j + 1) * b]
            g = grads(params, xtr[idx], ytr[idx])
            for name, p in params.items():
                p.grad = g[name]
            opt.step()
    return np.stack(accs)


def torch_loop_run(layers, data, n: int, steps: int, every: int, seed: int = 0) -> np.ndarray:
    """One ``nn.Module`` and one ``torch.optim.SGD`` per network: test accuracy ``(steps // every + 1, n)``."""
    F = torch.nn.functional
    xtr, ytr, xte, yte = torch_data(data)
    b = WORKLOAD["batch_size"]
    spe = xtr.shape[0] // b
    gen = torch.Generator().manual_seed(seed)
    out = np.zeros((steps // every + 1, n), np.float32)
    for i in range(n):
        model = torch_model(data)
        load_jax_mlp(model, [{k: v[i] for k, v in layer.items()} for layer in layers])
        opt = torch.optim.SGD(model.parameters(), lr=WORKLOAD["learning_rate"], momentum=WORKLOAD["momentum"])
        for t in range(steps + 1):
            if t % every == 0:
                with torch.no_grad():
                    out[t // every, i] = (model(xte).argmax(-1) == yte).float().mean().item()
            if t == steps:
                break
            j = t % spe
            if j == 0:
                order = torch.randperm(xtr.shape[0], generator=gen)
            idx = order[j * b:(j + 1) * b]
            opt.zero_grad()
            F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    return out


# ---------------------------------------------------------------------------------------------
# Memory against n (each n in a fresh process: the RSS high-water mark is per process)


def peak_rss_bytes() -> int:
    """This process's RSS high-water mark (``VmHWM``), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(n: int, steps: int, budget: str | None) -> dict:
    """Runs ``jb.train`` on ``n`` networks for ``steps`` steps in this process; RSS before and after."""
    net, data, opt = setup()
    jax.block_until_ready(jnp.zeros(1))
    before = peak_rss_bytes()
    t = now()
    ds = jaxbias_run(net, data, opt, n, steps, steps, memory_budget=budget)
    wall = now() - t
    out = dict(n=n, steps=steps, budget=budget, wall_s=wall, rate=n * steps / wall, rss_before=before,
               rss_peak=peak_rss_bytes(), final_test_accuracy=float(ds["test_accuracy"].values[:, -1].mean()))
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        out["device_peak_bytes"] = int(stats["peak_bytes_in_use"])
    return out


def memory_rows(runs, steps: int) -> list[dict]:
    rows = []
    for n, budget in runs:
        cmd = [sys.executable, "-m", "benchmarks.train", "--memory-probe", str(n), "--probe-steps", str(steps)]
        if budget:
            cmd += ["--probe-budget", budget]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)) or ".")
        if r.returncode != 0:
            log(f"  memory probe n={n} failed: {r.stderr[-2000:]}")
            continue
        row = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append(row)
        dev = f", device peak {row['device_peak_bytes'] / 2**20:.0f} MiB" if "device_peak_bytes" in row else ""
        log(f"  memory n={n:6d} steps={steps} budget={budget or 'default'}: peak RSS {row['rss_peak'] / 2**20:7.0f} MiB "
            f"(before train {row['rss_before'] / 2**20:.0f} MiB){dev}; {row['rate']:,.0f} net-steps/s incl. compile, "
            f"{row['wall_s']:.1f} s; final test acc {row['final_test_accuracy']:.3f}")
    return rows


# ---------------------------------------------------------------------------------------------
# The run


def sizes(args) -> dict:
    if args.quick:
        return dict(n=32, steps=200, every=100, loop_n=1, rounds=1, probe_steps=20, matmul_n=2048, matmul_rep=3,
                    mem_runs=[(256, None), (512, None)], mem_steps=20, big_n=None)
    return dict(n=256, steps=1000, every=100, loop_n=4, rounds=2, probe_steps=50, matmul_n=2048, matmul_rep=5,
                mem_runs=[(1000, None), (3000, None), (10_000, None), (10_000, "128MiB")], mem_steps=20,
                big_n=10_000 if args.big else None)


def summary(acc: np.ndarray) -> str:
    final = acc[-1]
    return f"final test accuracy mean {final.mean():.4f}, min {final.min():.3f}, max {final.max():.3f}"


def profile(net, data, S, F) -> dict:
    """The hand-written loop with the engine's features added one at a time (interleaved best rates)."""
    n, steps, every = S["n"], min(S["steps"], 200), S["every"]  # 200 steps: the same per-step costs, sooner
    idx = jnp.arange(n, dtype=jnp.uint32)
    shape = {"cond_perm", "cond_measure", "cond_step"}
    variants = {
        "hand-written (plain)": frozenset(),
        "+ inject_hyperparams": frozenset({"inject"}),
        "+ divergence guard": frozenset({"guard"}),
        "engine loop shape (perm carry + 3 conds a step)": frozenset(shape),
        "  + micro-batches of 8 (lax.map)": frozenset(shape | {"micro8"}),
        "  + segments of 64 steps": frozenset(shape | {"micro8", "segments"}),
        "  + inject + guard (= the engine's work)": frozenset(shape | {"micro8", "segments", "inject", "guard"}),
    }
    methods, out = {}, {}
    for name, v in variants.items():
        run = handwritten_program(net, data, n, steps, every, v)
        t = now()
        acc = np.asarray(jax.block_until_ready(run(idx))[1])
        first = now() - t
        out[name] = dict(first_s=first, final_acc=float(acc[-1].mean()))
        methods[name] = lambda run=run: n * steps / _timed_once(lambda: jax.block_until_ready(run(idx)))
    best = interleaved_best(methods, S["rounds"])
    ref = best["hand-written (plain)"]
    for name, rate in best.items():
        out[name]["rate"] = rate
        log(f"  profile {name:48s} {rate:>10,.0f} net-steps/s  {rate / ref:5.2f} of plain  "
            f"(first call {out[name]['first_s']:.1f} s, final acc {out[name]['final_acc']:.4f})")
    return out


def _timed_once(fn) -> float:
    t = now()
    fn()
    return now() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="32 networks, 200 steps, one round: under 2 minutes")
    mode.add_argument("--big", action="store_true", help="also n = 10,000 networks for the full 1,000 steps")
    ap.add_argument("--profile", action="store_true", help="the engine's features one at a time on the hand-written loop")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3; 1 with --quick)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory-against-n probes")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    ap.add_argument("--memory-probe", type=int, metavar="N", help=argparse.SUPPRESS)
    ap.add_argument("--probe-steps", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--probe-budget", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, args.probe_steps, args.probe_budget)), flush=True)
        return

    S = sizes(args)
    if args.rounds is not None:
        S["rounds"] = args.rounds
    info = machine_info("quick" if args.quick else ("big" if args.big else "full"))
    log(f"jaxbias training benchmark ({info['mode']}) {info['date']}: {info['cpu_model']}, {info['cpu_cores']} cores, "
        f"jax {info['jax']} on {info['jax_backend']} ({info['jax_device']} x{info['n_devices']}), "
        f"torch {info['torch'] or 'not installed (torch rows skipped)'}, load average {info['loadavg_start']}")
    t_start = now()
    limit = matmul_rate(S["matmul_n"], S["matmul_rep"])
    log(f"[limit] XLA dense matmul {S['matmul_n']}^2 f32: {limit:.1f} GFLOP/s")

    net, data, opt = setup()
    n, steps, every = S["n"], S["steps"], S["every"]
    F = flops_per_net_step(data, steps, every)
    work = n * steps
    log(f"[workload] {n} MLPs 64->{WORKLOAD['width']}x{WORKLOAD['depth']}->10 {WORKLOAD['activation']}, digits "
        f"({data.n_train} train / {data.n_test} test), batch {WORKLOAD['batch_size']}, {steps} steps, test every {every}; "
        f"{F / 1e6:.2f} MFLOP per network-step")
    idx = jnp.arange(n, dtype=jnp.uint32)
    first, acc, methods, first_rate, probe_only = {}, {}, {}, {}, {}

    def first_call(name, fn):
        t = now()
        a = fn()
        first[name] = now() - t
        acc[name] = a
        log(f"  first call {name:40s} {first[name]:6.1f} s; {summary(a)}")

    # Each method once (compile + run; its accuracies), then the interleaved timed rounds.
    for label, micro in (("jaxbias (default options)", "auto"), ("jaxbias (micro_batch=None)", None)):
        def go(micro=micro, label=label):
            ds = jaxbias_run(net, data, opt, n, steps, every, micro)
            info[f"{label} micro_batch"] = json.loads(ds.attrs["config"])["micro_batch"]
            return ds["test_accuracy"].values.T
        first_call(label, go)
        methods[label] = lambda micro=micro: work / _timed_once(lambda: jaxbias_run(net, data, opt, n, steps, every, micro))
    log(f"  engine micro-batch: {info['jaxbias (default options) micro_batch']} (default options)")
    hand = handwritten_program(net, data, n, steps, every)
    first_call("hand-written jit(scan(vmap(step)))", lambda: np.asarray(jax.block_until_ready(hand(idx))[1]))
    methods["hand-written jit(scan(vmap(step)))"] = lambda: work / _timed_once(lambda: jax.block_until_ready(hand(idx)))
    if torch is not None:
        layers = initial_layers(net, data, n)
        loop_layers = [{k: v[:S["loop_n"]] for k, v in layer.items()} for layer in layers]
        peers = {  # name -> (networks, run(n_nets, steps, every) -> accuracies); each at a chosen thread count
            "torch.func vmap + SGD": (n, lambda m, st, ev: torch_func_run(layers, data, m, st, ev)),
            "PyTorch per-network loop": (S["loop_n"], lambda m, st, ev: torch_loop_run(loop_layers, data, m, st, ev)),
        }
        for peer, (m, run) in peers.items():
            # Thread probe: a short run at each setting (all cores, 1); the faster one does the full work. On a
            # shared machine 2 OpenMP threads can be 10x slower than 1 for these tiny ops.
            probe = {}
            for threads in thread_settings():
                name = f"{peer} [{threads} thread{'s' if threads > 1 else ''}]"
                with torch_threads(threads):
                    probe_steps = S["probe_steps"]
                    probe[name] = (threads, min(m, 32) * probe_steps / _timed_once(
                        lambda: run(min(m, 32), probe_steps, probe_steps)))
                log(f"  thread probe {name:40s} {probe[name][1]:,.0f} net-steps/s ({min(m, 32)} nets, {probe_steps} steps)")
            name = max(probe, key=lambda k: probe[k][1])
            threads = probe[name][0]
            with torch_threads(threads):
                first_call(name, lambda: run(m, steps, every))

            def timed_run(threads=threads, m=m, run=run):
                with torch_threads(threads):
                    return m * steps / _timed_once(lambda: run(m, steps, every))

            methods[name] = timed_run
            first_rate[name] = m * steps / first[name]  # no compilation in torch: the first run is a timing too
            for other, (_, rate) in probe.items():
                if other != name:
                    probe_only[other] = rate
    else:
        log("  torch not installed: torch rows skipped")
    log(f"[rounds] {S['rounds']} interleaved rounds")
    best = interleaved_best(methods, S["rounds"])
    limit = max(limit, matmul_rate(S["matmul_n"], max(2, S["matmul_rep"] // 2)))  # the limit again, after
    info["matmul_gflops"] = limit

    for name, rate in first_rate.items():
        best[name] = max(best[name], rate)
    ours = best["jaxbias (default options)"]
    rows = []
    for name, rate in best.items():
        row = dict(method=name, net_steps_per_s=rate, gflops=rate * F / 1e9, pct_matmul=100 * rate * F / 1e9 / limit,
                   first_call_s=first[name], jaxbias_over=ours / rate,
                   final_acc_mean=float(acc[name][-1].mean()), networks=acc[name].shape[1])
        if name.startswith(("jaxbias", "hand")):
            row["steady_s"] = work / rate
            row["compile_s"] = first[name] - work / rate
        elif name.startswith("torch.func"):
            row["steady_s"] = work / rate
        rows.append(row)

    for name, rate in probe_only.items():
        rows.append(dict(method=name, net_steps_per_s=rate, gflops=rate * F / 1e9, pct_matmul=100 * rate * F / 1e9 / limit,
                         jaxbias_over=ours / rate, probe_only=True, networks=None))

    # Same work: jaxbias and the hand-written loop start from the same networks and see the same
    # minibatches, so their accuracies agree network by network up to rounding; torch's draw their own orders.
    same = np.abs(acc["jaxbias (default options)"] - acc["hand-written jit(scan(vmap(step)))"])
    sanity = dict(max_abs_diff_vs_handwritten=float(same.max()), frac_equal=float(np.mean(same == 0)))

    big = None
    if S["big_n"]:
        log(f"[big] n = {S['big_n']} for {steps} steps")
        t = now()
        bd = jaxbias_run(net, data, opt, S["big_n"], steps, every)
        wall = now() - t
        big = dict(n=S["big_n"], steps=steps, wall_s=wall, rate=S["big_n"] * steps / wall, rss_peak=peak_rss_bytes(),
                   final_acc_mean=float(bd["test_accuracy"].values[:, -1].mean()))
        log(f"  jaxbias n={S['big_n']}: {big['rate']:,.0f} net-steps/s (incl. compile), {wall:.0f} s, "
            f"process peak RSS {big['rss_peak'] / 2**20:.0f} MiB, final test acc {big['final_acc_mean']:.4f}")
    mem = []
    if not args.no_memory:
        log(f"[memory] peak RSS against n ({S['mem_steps']} steps, each n in a fresh process)")
        mem = memory_rows(S["mem_runs"], S["mem_steps"])
    prof = None
    if args.profile:
        log("[profile] the hand-written loop with the engine's features, one at a time")
        prof = profile(net, data, S, F)

    info["loadavg_end"] = os.getloadavg()
    info["wall_s"] = now() - t_start
    table = print_table(rows, limit, S, F, sanity, info)
    if args.json:
        write_json(args.json, dict(machine=info, workload=dict(WORKLOAD, n=n, steps=steps, every=every,
                                                              flops_per_net_step=F), matmul_gflops=limit,
                                   rows=rows, sanity=sanity, big=big, memory=mem, profile=prof, table=table))


def print_table(rows, limit, S, F, sanity, info) -> str:
    lines = []
    head = (f"{'method':42s} {'net-steps/s':>12s} {'GFLOP/s':>8s} {'% matmul':>9s} {'first call s':>12s} "
            f"{'compile s':>9s} {'final acc':>9s} {'jaxbias/it':>10s}")
    lines += [head, "-" * len(head),
              f"{'XLA dense matmul ' + str(S['matmul_n']) + '^2 f32 (limit)':42s} {'':>12s} {limit:8.1f} {100.0:8.1f}%"]
    for r in rows:
        if r.get("probe_only"):
            lines.append(f"{r['method']:42s} {r['net_steps_per_s']:12,.0f} {r['gflops']:8.2f} {r['pct_matmul']:8.2f}% "
                         f"{'':>12s} {'':>9s} {'':>9s} {r['jaxbias_over']:9.2f}x (thread probe only: slower setting)")
            continue
        comp = f"{r['compile_s']:9.1f}" if "compile_s" in r else f"{'':>9s}"
        nets = "" if r["networks"] == S["n"] else f" ({r['networks']} nets)"
        lines.append(f"{r['method']:42s} {r['net_steps_per_s']:12,.0f} {r['gflops']:8.2f} {r['pct_matmul']:8.2f}% "
                     f"{r['first_call_s']:12.1f} {comp} {r['final_acc_mean']:9.4f} {r['jaxbias_over']:9.2f}x{nets}")
    lines.append("")
    lines.append(f"{F / 1e6:.2f} MFLOP per network-step; rates: best of {S['rounds']} interleaved rounds (torch: and its "
                 "first run); compile = first call - a later call; jaxbias/it: the default-options jaxbias row over the row")
    lines.append(f"same work: jaxbias vs hand-written, per-network test accuracy at every record: max |diff| "
                 f"{sanity['max_abs_diff_vs_handwritten']:.4f}, {100 * sanity['frac_equal']:.1f}% equal")
    by = {r["method"]: r["net_steps_per_s"] for r in rows if not r.get("probe_only")}
    ours = by["jaxbias (default options)"]
    lines.append("Targets:")
    lines.append(target_line(f"{'jaxbias (default) / hand-written jit(scan(vmap))':60s}", ours /
                             by["hand-written jit(scan(vmap(step)))"], 0.9, against="hand-written"))
    lines.append(target_line(f"{'jaxbias (micro_batch=None) / hand-written':60s}", by["jaxbias (micro_batch=None)"] /
                             by["hand-written jit(scan(vmap(step)))"], 0.9, against="hand-written"))
    for prefix in ("torch.func vmap + SGD", "PyTorch per-network loop"):
        cands = {k: v for k, v in by.items() if k.startswith(prefix)}
        if cands:
            k = max(cands, key=cands.get)
            lines.append(target_line(f"{'jaxbias (default) / ' + prefix + ' (faster threads)':60s}", ours / cands[k], 1.0,
                                     against=k))
    lines.append(f"\nwall time {info['wall_s']:.0f} s; load average at start {info['loadavg_start']}, "
                 f"at end {info['loadavg_end']}")
    text = "\n".join(lines)
    print("\n" + text, flush=True)
    return text


if __name__ == "__main__":
    main()
