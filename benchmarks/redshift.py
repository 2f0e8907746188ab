"""Redshift cell throughput: jaxbias against a per-network loop in the style of the public Neural Redshift code.

One process, float32, every figure measured in this run (see benchmarks/README.md, section
"Function complexity"):

* workload: MLP 2 -> 64 x 4 hidden -> 1, tanh, weights and biases U(-1, 1) (the absolute law of
  the Neural Redshift code), on a 128 x 128 grid over [-1, 1]^2 (16384 points), each network
  scored by the Fourier mean frequency (full FFT, DC dropped);
* jaxbias: ``jb.reduce`` with ``jb.measures.mean_frequency`` as the stat (init, forward and FFT in
  one compiled program, only the score leaves it); also ``redshift_cell`` scoring 6 weight scales
  of each network in one program (network-scales per second);
* baseline: a per-network loop as the public code runs it: a ``torch.nn.Sequential`` built per
  network, weights and biases re-drawn U(-1, 1), forward under ``no_grad``, outputs to numpy,
  mean frequency by ``numpy.fft.fft2`` (at ``torch.set_num_threads`` = cores and 1; the faster counts);
* the limit: the XLA dense matmul rate (2048^2), FLOPs counted as ``2 * points * sum(fan_in * fan_out)``.

    python -m benchmarks.redshift             # about 2 minutes on 2 cores
    python -m benchmarks.redshift --quick     # smoke run
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

import jaxbias as jb
from benchmarks.harness import (forward_flops, interleaved_best, layer_fans, log, machine_info, matmul_rate, now, timed,
                                target_line, write_json)
from benchmarks.torch_reference import thread_settings, torch, torch_threads
from jaxbias.experiments import redshift_cell, unit_scale_mlp

R, WIDTH, DEPTH, A = 128, 64, 4, 1.0
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def stat(y):  # module level: the engine caches its program per (net, stat)
    return jb.measures.mean_frequency(y[:, 0].reshape(R, R))


def numpy_mean_frequency(f: np.ndarray) -> float:
    """The full-FFT mean frequency in numpy (what the loop baseline computes per network)."""
    mag = np.abs(np.fft.fft2(f))
    k = jb.measures.radial_frequencies(f.shape)
    mag[0, 0] = 0.0
    return float((mag * k).sum() / mag.sum())


def torch_loop_rate(x_np: np.ndarray, n: int) -> float:
    x = torch.from_numpy(x_np)

    def one():
        layers, fan = [], 2
        for _ in range(DEPTH):
            layers += [torch.nn.Linear(fan, WIDTH), torch.nn.Tanh()]
            fan = WIDTH
        layers.append(torch.nn.Linear(fan, 1))
        model = torch.nn.Sequential(*layers)
        with torch.no_grad():
            for p in model.parameters():
                p.uniform_(-A, A)
            return numpy_mean_frequency(model(x).numpy()[:, 0].reshape(R, R))

    one()
    t = now()
    for _ in range(n):
        one()
    return n / (now() - t)


def jax_rate(net, x, n: int, stat_fn, repeats: int) -> float:
    """Networks/s of ``jb.reduce``: best of ``repeats`` calls (keys 1, 2, ...) after a compiling one (key 0)."""
    keys = itertools.count()
    _, best, _ = timed(lambda: jb.reduce(net, x, n=n, key=next(keys), stat=stat_fn, progress=False), repeats)
    return n / best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = ap.parse_args(argv)
    n, loop_n, repeats = (64, 8, 1) if args.quick else (512, 48, 2)
    info = machine_info("quick" if args.quick else "full")
    log(f"redshift benchmark {info['date']}: {info['cpu_model']}, {info['cpu_cores']} cores, jax {info['jax']} "
        f"({info['jax_backend']}), torch {info['torch']}, load average {info['loadavg_start']}")
    limit = matmul_rate(2048, 3)
    x = jb.inputs.grid(2, R)
    x_np = np.asarray(x)
    flops = forward_flops(R * R, layer_fans(2, WIDTH, DEPTH))
    net = jb.nets.mlp(WIDTH, DEPTH, "tanh", weight_law=f"absolute({A})")
    rows = []

    def add(name, rate, per=1):
        gflops = rate * per * flops / 1e9
        rows.append((name, rate, gflops))
        log(f"  {name:58s} {rate:9.1f} /s  {gflops:7.1f} GFLOP/s  {100 * gflops / limit:5.1f} % of matmul")

    log(f"[limit] XLA dense matmul 2048^2: {limit:.1f} GFLOP/s; {flops / 1e6:.0f} MFLOP per network")
    rounds = 1 if args.quick else 2
    methods = {"jax": lambda: jax_rate(net, x, n, stat, repeats)}
    if torch is not None:
        for threads in thread_settings():
            def loop(threads=threads):
                with torch_threads(threads):
                    return torch_loop_rate(x_np, loop_n)
            methods[f"torch{threads}"] = loop
    best = interleaved_best(methods, rounds)  # each method sees the same load
    add("jaxbias reduce, mean_frequency stat (networks/s)", best["jax"])
    torch_best = 0.0
    for key in sorted(k for k in best if k.startswith("torch")):
        add(f"PyTorch per-network loop + numpy FFT [{key[5:]} thread(s)]", best[key])
        torch_best = max(torch_best, best[key])
    # Six weight scales of each network in one program (the redshift command's cell).
    cell_net = unit_scale_mlp("tanh", DEPTH, scale_kind="absolute", width=WIDTH)
    redshift_cell(cell_net, SCALES, scale_kind="absolute", n=n // 4, resolution=R, progress=False)
    t = now()
    redshift_cell(cell_net, SCALES, scale_kind="absolute", n=n // 4, resolution=R, key=1, progress=False)
    cell_rate = (n // 4) * len(SCALES) / (now() - t)
    add(f"jaxbias redshift_cell, {len(SCALES)} scales per network (network-scales/s)", cell_rate)
    log("\nTargets (jaxbias against the faster PyTorch thread setting):")
    if torch_best:
        log(target_line("redshift cell >= 2x the per-network loop:", best["jax"] / torch_best, 2.0))
        log(f"  redshift_cell (6 scales) against the loop: {cell_rate / torch_best:.2f}x")
    log(f"  jaxbias at {100 * best['jax'] * flops / 1e9 / limit:.1f} % of the matmul rate")
    info["loadavg_end"] = os.getloadavg()
    log(f"load average at end {info['loadavg_end']}")
    if args.json:
        write_json(args.json, dict(machine=info, matmul_gflops=limit, flops_per_net=flops,
                                   rows=[dict(method=name, per_s=rate, gflops=gf) for name, rate, gf in rows]))


if __name__ == "__main__":
    main()
