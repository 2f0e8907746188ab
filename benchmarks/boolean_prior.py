"""Boolean prior throughput: networks/s with truth tables counted on device, against PyTorch.

One process, float32, every figure measured in this run (see benchmarks/README.md, section
"Function complexity"):

* workload: MLP 7 -> 40 -> 40 -> 1, relu, weights N(0, 1/fan_in), biases N(0, 1), on the 128
  points of {0,1}^7; each network's truth table ``y > 0`` is packed and counted;
* jaxbias: ``jb.summarize(..., summary=count_distinct())`` (packing and de-duplication inside the
  compiled program), and ``boolean_prior_cell`` end to end (counting plus LZ, sensitivity and
  entropy of every distinct function);
* baselines: a per-network PyTorch loop (a module per network, re-drawn like ours, forward under
  ``no_grad``, the table's bytes counted in a ``collections.Counter``), at cores and 1 thread,
  the faster counts; and the peer a careful PyTorch user would write: weights drawn for a batch
  of networks at once and applied with ``torch.bmm``, tables counted with ``numpy.unique``;
* ``--big``: 10^7 networks end to end through ``boolean_prior_cell``, with the peak resident
  memory after 10^6 and after 10^7 networks (bounded memory: the two should be close).

    python -m benchmarks.boolean_prior           # about 3 minutes on 2 cores
    python -m benchmarks.boolean_prior --big     # plus 10^7 networks (5-10 minutes more)
    python -m benchmarks.boolean_prior --quick
    python -m benchmarks.boolean_prior --cpu-devices 1   # the host as one XLA device (default: one per core)
"""

from __future__ import annotations

import argparse
import collections
import itertools
import math
import os
import resource

import jax
import numpy as np

import jaxbias as jb
from benchmarks.harness import interleaved_best, log, machine_info, now, target_line, timed, write_json
from benchmarks.torch_reference import thread_settings, torch, torch_mlp, torch_threads
from jaxbias.cpu_devices import parse_cpu_devices
from jaxbias.experiments import boolean_prior_cell, boolean_prior_net

N_IN, WIDTH, DEPTH, CW, SB = 7, 40, 2, 1.0, 1.0
CELL_NET = boolean_prior_net(WIDTH, DEPTH, "relu", CW, SB)


def truth_table(y):  # module level: the engine caches its program per (net, stat)
    return y[:, 0] > 0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def jax_rate(n: int, repeats: int) -> float:
    net = jb.nets.mlp(WIDTH, DEPTH, "relu", weight_var=CW, bias_var=SB**2)
    x = jb.inputs.hypercube(N_IN)
    summary = jb.summaries.count_distinct()
    keys = itertools.count()  # key 0 compiles, keys 1, 2, ... are timed
    _, best, _ = timed(lambda: jb.summarize(net, x, n=n, key=next(keys), stat=truth_table, summary=summary,
                                            progress=False), repeats)
    return n / best


def torch_loop_rate(n: int) -> float:
    x = torch.from_numpy(np.array(jb.inputs.hypercube(N_IN)))
    counts = collections.Counter()

    def one():
        model = torch_mlp(N_IN, WIDTH, DEPTH, "relu", CW, SB)
        with torch.no_grad():
            counts[(model(x)[:, 0] > 0).numpy().tobytes()] += 1

    one()
    t = now()
    for _ in range(n):
        one()
    return n / (now() - t)


def torch_batched_rate(n: int, batch: int) -> float:
    """Weights for ``batch`` networks drawn at once, applied with bmm; tables counted by numpy.unique."""
    x = torch.from_numpy(np.array(jb.inputs.hypercube(N_IN)))
    dims = [N_IN] + [WIDTH] * DEPTH + [1]
    tables = []

    def chunk():
        with torch.no_grad():
            h = x.expand(batch, *x.shape)
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
                w = torch.randn(batch, a, b) * math.sqrt(CW / a)
                bias = torch.randn(batch, 1, b) * SB
                h = torch.bmm(h, w) + bias
                if i < DEPTH:
                    h = torch.relu(h)
            bits = (h[:, :, 0] > 0).numpy()
            tables.append(np.packbits(bits, axis=1))

    chunk()
    t = now()
    for _ in range(max(1, n // batch)):
        chunk()
    np.unique(np.concatenate(tables), axis=0, return_counts=True)
    return max(1, n // batch) * batch / (now() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--big", action="store_true", help="also run 10^7 networks end to end")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    ap.add_argument("--cpu-devices", default="cores", type=parse_cpu_devices,
                    help="jb.use_cpu_devices before anything runs: 'cores' (the boolean-prior command's default) or N")
    args = ap.parse_args(argv)
    jb.use_cpu_devices(args.cpu_devices)
    n, loop_n, repeats = (20_000, 300, 1) if args.quick else (200_000, 3000, 2)
    info = machine_info("quick" if args.quick else "full")
    log(f"boolean prior benchmark {info['date']}: {info['cpu_model']}, {info['cpu_cores']} cores, jax {info['jax']} "
        f"({info['jax_backend']}, {len(jax.devices())} devices), torch {info['torch']}, "
        f"load average {info['loadavg_start']}")
    rounds = 1 if args.quick else 2
    methods = {"jaxbias summarize count_distinct": lambda: jax_rate(n, repeats)}
    if torch is not None:
        for threads in thread_settings():
            def loop(threads=threads):
                with torch_threads(threads):
                    return torch_loop_rate(loop_n)

            def batched(threads=threads):
                with torch_threads(threads):
                    return torch_batched_rate(n // 4, 4096)
            methods[f"PyTorch per-network loop [{threads} thread(s)]"] = loop
            methods[f"PyTorch batched bmm + numpy.unique [{threads} thread(s)]"] = batched
    rows = interleaved_best(methods, rounds)  # each method sees the same load
    t = now()
    ds = boolean_prior_cell(CELL_NET, n=10**6 if not args.quick else 10**5, progress=False)
    end_to_end = int(ds["n_networks"]) / (now() - t)
    rows["jaxbias boolean_prior_cell end to end (incl. compile, complexities)"] = end_to_end
    for name, rate in rows.items():
        log(f"  {name:70s} {rate:12,.0f} networks/s")
    loop = max((r for k, r in rows.items() if k.startswith("PyTorch per-network")), default=0)
    peer = max((r for k, r in rows.items() if k.startswith("PyTorch batched")), default=0)
    jax_r = rows["jaxbias summarize count_distinct"]
    log("\nTargets (against the faster PyTorch thread setting):")
    if loop:
        log(target_line(">= 50x the PyTorch per-network loop:", jax_r / loop, 50.0))
        log(f"  against batched PyTorch (bmm): {jax_r / peer:.2f}x")
    log(f"  {int(ds['n_networks']):,} networks: {int(ds['n_distinct']):,} distinct functions, "
        f"peak RSS {peak_rss_mib():.0f} MiB")
    if args.big:
        t = now()
        big = boolean_prior_cell(CELL_NET, n=10**7, progress=True)
        wall = now() - t
        log(f"  10^7 networks end to end: {wall:.0f} s ({1e7 / wall:,.0f} networks/s), "
            f"{int(big['n_distinct']):,} distinct functions, P(constant) {float(big['p_constant']):.4f}, "
            f"peak RSS {peak_rss_mib():.0f} MiB")
    info["loadavg_end"] = os.getloadavg()
    log(f"load average at end {info['loadavg_end']}")
    if args.json:
        write_json(args.json, dict(machine=info, networks_per_s=rows, n_networks=int(ds["n_networks"]),
                                   n_distinct=int(ds["n_distinct"]), peak_rss_mib=peak_rss_mib()))


if __name__ == "__main__":
    main()
