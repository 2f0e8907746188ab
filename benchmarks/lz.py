"""Cost of the LZ complexity measure against the Fourier mean frequency and a Python LZ76 loop.

One process, float32, every figure measured in this run (benchmarks/README.md, section "LZ
complexity"). Workload: the redshift experiment's setting, MLP 2 -> 64 x 4 hidden -> 1 (tanh,
C_W = 4) on a 64 x 64 grid of [-1, 1]^2 (4,096 points), each network scored by

* nothing (``jb.sample``-like forward pass reduced to one number: the cost floor),
* ``jb.measures.MeanFrequency(shape=(64, 64), window="hann")`` (the headline Fourier measure),
* ``jb.measures.LZComplexity()`` (the function thresholded at the midpoint of its range, LZ76
  phrase counts of the 4,096-symbol string and its reverse, Valle-Perez et al.'s symmetric form),

each as the engine's ``stat`` (init, forward pass and measure in one compiled program). The measures
alone are also timed on fixed outputs (vmapped over networks, jitted), beside the peer a user would
otherwise write: Kaspar & Schuster's LZ76 loop in pure Python on the same bit strings (the form of
Valle-Perez et al.'s public code), whose counts must equal jaxbias's.

    python -m benchmarks.lz            # about a minute on 2 idle cores
    python -m benchmarks.lz --quick    # smoke run
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import jaxbias as jb
from benchmarks.harness import interleaved_best, log, machine_info, matmul_rate, now, target_line, timed, write_json

R = 64
FREQ = jb.measures.MeanFrequency(shape=(R, R), window="hann")
LZ = jb.measures.LZComplexity()


def python_lz76(s: list[int]) -> int:
    """Kaspar & Schuster's (Phys. Rev. A 36, 842, 1987) LZ76 phrase count, the textbook loop."""
    n = len(s)
    if n == 1:
        return 1
    c, l, i, k, k_max = 1, 1, 0, 1, 1
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:
                c += 1
                break
        else:
            k_max = max(k, k_max)
            i += 1
            if i == l:
                c += 1
                l += k_max
                if l + 1 > n:
                    break
                i, k, k_max = 0, 1, 1
            else:
                k = 1
    return c


def python_lz_complexity(bits: np.ndarray) -> float:
    """Valle-Perez et al.'s symmetric form with the Python loop (constant strings: log2 n)."""
    s = bits.astype(int).tolist()
    n = len(s)
    if all(v == s[0] for v in s):
        return float(np.log2(n))
    return float(np.log2(n) * (python_lz76(s) + python_lz76(s[::-1])) / 2)


def wall(fn) -> float:
    """Seconds of one call of ``fn()`` run to completion."""
    t = now()
    jax.block_until_ready(fn())
    return now() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    n, n_python = (64, 8) if args.quick else (1024, 32)
    info = machine_info("cpu")
    log(f"machine: {info}")
    limit = matmul_rate(1024 if args.quick else 2048, 3)
    net = jb.nets.MLP(64, 4, "tanh", weight_var=4.0, bias_var=0.0)
    x = jb.inputs.grid(2, R)

    def floor(y):
        return y[:, 0].sum()

    figures = {"n": n, "matmul_gflops": limit}
    engine = {}
    for name, stat in (("forward only", floor), ("mean frequency (hann)", FREQ), ("LZ complexity", LZ)):
        first, best, value = timed(lambda s=stat: jb.reduce(net, x, n=n, key=0, stat=s, progress=False), 1)
        engine[name] = lambda s=stat: n / wall(lambda: jb.reduce(net, x, n=n, key=0, stat=s, progress=False))
        figures[f"first_call_s[{name}]"] = first
    rates = interleaved_best(engine, args.rounds)
    for name, rate in rates.items():
        figures[f"engine_nets_per_s[{name}]"] = rate
        log(f"engine, stat = {name:24s} {rate:10.0f} networks/s")

    outputs = np.asarray(jb.sample(net, x, n=n, key=0, progress=False))[:, :, 0]  # (n, 4096)
    y = jnp.asarray(outputs)
    freq_alone = jax.jit(jax.vmap(lambda f: FREQ(f[:, None])))
    lz_alone = jax.jit(jax.vmap(lambda f: LZ(f[:, None])))
    freq_alone(y).block_until_ready()
    lz_values = np.asarray(lz_alone(y))
    alone = interleaved_best({
        "mean frequency (hann)": lambda: n / wall(lambda: freq_alone(y)),
        "LZ complexity": lambda: n / wall(lambda: lz_alone(y)),
    }, args.rounds)
    bits = outputs[:n_python] > (outputs[:n_python].min(1, keepdims=True) + outputs[:n_python].max(1, keepdims=True)) / 2
    t = now()
    python_values = np.array([python_lz_complexity(b) for b in bits])
    alone["Python LZ76 loop"] = n_python / (now() - t)
    agree = np.allclose(python_values, lz_values[:n_python], rtol=0, atol=1e-3)
    for name, rate in alone.items():
        figures[f"measure_alone_per_s[{name}]"] = rate
        log(f"measure alone, {name:24s} {rate:10.0f} functions/s")
    log(f"LZ values equal the Python loop's on {n_python} functions: {agree}")
    figures["python_agrees"] = bool(agree)

    lz_vs_freq = rates["LZ complexity"] / rates["mean frequency (hann)"]
    log(target_line("engine with LZ / engine with the Fourier measure (networks/s)", lz_vs_freq, 0.5))
    log(target_line("LZ alone / Python LZ76 loop", alone["LZ complexity"] / alone["Python LZ76 loop"], 1.0))
    log(f"matmul limit {limit:.1f} GFLOP/s")
    figures.update(lz_vs_freq=lz_vs_freq, lz_vs_python=alone["LZ complexity"] / alone["Python LZ76 loop"])
    if args.json:
        write_json(args.json, figures)
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
