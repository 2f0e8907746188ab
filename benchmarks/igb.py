"""Initial guessing bias throughput: class fractions of many random classifiers, jaxbias vs per-network loops.

Workload (issue 4): 10,000 MLPs 512 -> 256 -> 256 -> 256 -> 1 (depth 3, relu, C_W = 2, C_b = 0) on the
same 1,000 Gaussian inputs (d = 512); per network the class fractions G_i, G_0, max G and the output
mean and variance over the inputs (``jb.measures.guessing_stats``, inside the compiled program), then
gamma with a bootstrap interval. Every figure is measured in this process:

1. jaxbias: ``jb.reduce(net, x, n, stat=guessing_stats)``, all n networks (one compile, timed apart);
2. a per-network JAX loop: ``jax.jit(net.init)``, ``jax.jit(net.apply)`` and the stat per key, as a
   user would write it (timed on a subset, reported per network);
3. a per-network PyTorch loop like the public IGB code (Francazi et al.): a fresh ``nn.Sequential``
   per network, re-initialized N(0, C_W / fan_in), forward under ``no_grad``, argmax counted.
   Needs torch (benchmarks/requirements.txt); skipped if absent.

FLOPs: ``2 * points * sum(fan_in * fan_out)`` per network (0.524 GFLOP here).

    python -m benchmarks.igb            # full run (10,000 networks)
    python -m benchmarks.igb --quick    # 500 networks, smaller loop subsets
    python -m benchmarks.igb --n 100000 # larger n on an accelerator
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import jaxbias as jb
from benchmarks.harness import (forward_flops, interleaved_best, layer_fans, log, machine_info, now,
                                per_network_loop_rate, write_json)
from benchmarks.torch_reference import thread_settings, torch, torch_mlp

D0, WIDTH, DEPTH, POINTS, CW = 512, 256, 3, 1000, 2.0


def flops_per_net() -> int:
    return forward_flops(POINTS, layer_fans(D0, WIDTH, DEPTH))


def jaxbias_rate(net, x, n: int) -> tuple[float, float, dict]:
    t0 = now()
    jb.reduce(net, x, n=min(n, 64), key=1, stat=jb.measures.guessing_stats, progress=False)  # compile + warm
    compile_s = now() - t0
    t0 = now()
    stats = jb.reduce(net, x, n=n, key=0, stat=jb.measures.guessing_stats, progress=False)
    elapsed = now() - t0
    est = jb.theory.estimate_gamma(stats.mean, stats.var, POINTS, n_boot=200)
    return n / elapsed, compile_s, {"gamma": est.value, "gamma_ci": [est.low, est.high],
                                    "var_g0": float(np.var(stats.g0))}


def jax_loop_rate(net, x, n: int) -> float:
    """The per-network JAX loop with the stat jitted apart, as a user would write it."""
    stat = jax.jit(jb.measures.guessing_stats)
    return per_network_loop_rate(net, x, n, lambda y: jax.block_until_ready(stat(y)))


def torch_loop_rate(x, n: int, threads: int) -> float:
    torch.set_num_threads(threads)
    xt = torch.from_numpy(np.array(x))

    def one(seed):
        torch.manual_seed(seed)
        model = torch_mlp(D0, WIDTH, DEPTH, "relu", CW, 0.0)
        with torch.no_grad():
            y = model(xt)[:, 0]
            g1 = (y > 0).float().mean()
            return float(1 - g1), float(y.mean()), float(y.var())

    one(0), one(1)
    t0 = now()
    for i in range(n):
        one(i)
    return n / (now() - t0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="networks for jaxbias")
    p.add_argument("--loop-n", type=int, default=100, help="networks timed in each per-network loop")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds for the ratios")
    p.add_argument("--quick", action="store_true", help="500 networks, 20 per loop, 1 round")
    p.add_argument("--json", default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.loop_n, args.rounds = 500, 20, 1
    x = np.asarray(jb.inputs.gaussian_blobs(POINTS, means=1, dim=D0, key=0)[0])
    net = jb.nets.mlp(WIDTH, DEPTH, "relu", weight_var=CW, bias=False)
    gflop = flops_per_net() / 1e9
    info = machine_info("quick" if args.quick else "full")
    log(f"# IGB benchmark: {info['cpu_model']}, {info['cpu_cores']} cores, jax {info['jax']} on {info['jax_backend']} "
        f"({info['n_devices']} devices), torch {info['torch']}")
    log(f"# workload: MLP {D0} -> {WIDTH} x{DEPTH} -> 1, relu, {POINTS} inputs; {gflop:.3f} GFLOP per network")
    rate, compile_s, result = jaxbias_rate(net, x, args.n)
    log(f"jaxbias reduce      {args.n:>7} nets  {rate:10.1f} nets/s  {rate * gflop:8.1f} GFLOP/s  "
        f"(compile {compile_s:.1f} s; gamma {result['gamma']:.3f} [{result['gamma_ci'][0]:.3f}, "
        f"{result['gamma_ci'][1]:.3f}], theory {jb.theory.predict_gamma(net, x).gamma:.3f})")
    # Interleaved rounds (best rate of each method): on a shared machine, ratios of runs made one
    # after the other are steadier than ratios of runs minutes apart.
    methods = {"jaxbias reduce": lambda: jaxbias_rate(net, x, max(args.loop_n, 64))[0],
               "jax per-net loop": lambda: jax_loop_rate(net, x, args.loop_n)}
    if torch is not None:
        for threads in thread_settings():
            methods[f"torch loop ({threads} thread{'s' if threads > 1 else ''})"] = (
                lambda threads=threads: torch_loop_rate(x, args.loop_n, threads))
    best = interleaved_best(methods, args.rounds)
    log(f"# interleaved: {args.rounds} rounds, best of each; per-network loops on {args.loop_n} networks")
    for name, r in best.items():
        ratio = "" if name == "jaxbias reduce" else f"  jaxbias is {best['jaxbias reduce'] / r:5.2f}x faster"
        log(f"{name:<26} {r:10.1f} nets/s  {r * gflop:8.1f} GFLOP/s{ratio}")
    rows = {"headline jaxbias": rate, **best}
    if args.json:
        write_json(args.json, {"machine": info, "n": args.n, "loop_n": args.loop_n, "gflop_per_net": gflop,
                               "nets_per_s": rows, "compile_s": compile_s, **result})


if __name__ == "__main__":
    main()
