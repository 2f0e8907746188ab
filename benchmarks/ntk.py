"""Kernels side by side with neural-tangents 0.6.5, same machine, same run, float32.

    bash benchmarks/nt_env.sh            # once: .venv-nt with jax 0.4.25 + neural-tangents 0.6.5
    python benchmarks/ntk.py [--repeats 5] [--json out.json]

jaxbias runs here (current JAX); neural-tangents runs in a subprocess in its own environment
(benchmarks/nt_worker.py) on the same points and the same parameters, written to a temporary
directory. Workloads (issue 5):

1. empirical NTK of a 3 x 512 ReLU MLP on 128 points in d = 64, 1 output (traced) and 10 outputs
   (full kernel), every implementation of each library;
2. analytic NNGP + NTK of a depth-10 ReLU MLP (C_W = 2, bias std 0.1, NTK parameterization) on
   2,048 points;
3. Monte Carlo NNGP with 256 networks of a 2 x 512 ReLU MLP on 256 points.

Times exclude compilation (one warm-up call) and are the best of ``--repeats`` calls. jaxbias's
empirical NTK is timed as a user calls it in a loop, ``jax.jit(jb.kernels.ntk_fn(...))``, and
also end to end through ``jb.kernels.empirical_ntk`` (input checks, blocking decision). Values:
the largest relative difference ``max |a - b| / max |b|`` against neural-tangents (the Monte Carlo
kernels use different random networks, so there the difference is given in standard errors).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import jaxbias as jb  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def best(fn, repeats):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--nt-python", default=None, help="python of the neural-tangents venv (default: nt_env.sh)")
    args = parser.parse_args(argv)
    nt_python = args.nt_python or subprocess.run(["bash", str(ROOT / "benchmarks" / "nt_env.sh")], check=True,
                                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]

    key = jax.random.key(0)
    emp_x = jax.random.normal(jax.random.fold_in(key, 1), (128, 64), jnp.float32)
    ana_x = jax.random.normal(jax.random.fold_in(key, 2), (2048, 64), jnp.float32)
    mc_x = jax.random.normal(jax.random.fold_in(key, 3), (256, 64), jnp.float32)
    inputs = {"emp_x": np.asarray(emp_x), "ana_x": np.asarray(ana_x), "mc_x": np.asarray(mc_x)}
    emp_nets = {}
    for out in (1, 10):
        net = jb.nets.mlp(512, 3, "relu", out=out, weight_var=2.0, bias_var=0.01)
        params = net.init(jax.random.fold_in(key, 10 + out), emp_x)
        emp_nets[out] = (net, params)
        inputs[f"emp{out}_n_layers"] = np.asarray(len(params["layers"]))
        for i, layer in enumerate(params["layers"]):
            inputs[f"emp{out}_w{i}"], inputs[f"emp{out}_b{i}"] = np.asarray(layer["w"]), np.asarray(layer["b"])

    with tempfile.TemporaryDirectory() as work:
        np.savez(pathlib.Path(work) / "inputs.npz", **inputs)
        env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "PYTHONPATH")}
        t0 = time.perf_counter()
        subprocess.run([nt_python, str(ROOT / "benchmarks" / "nt_worker.py"), work, str(args.repeats)], check=True,
                       env=env)
        nt_wall = time.perf_counter() - t0
        nt_times = json.loads((pathlib.Path(work) / "nt_times.json").read_text())
        nt_values = dict(np.load(pathlib.Path(work) / "nt_values.npz"))

    rows = []  # (workload, implementation, jaxbias s, neural-tangents s, max rel diff)
    for out in (1, 10):
        net, params = emp_nets[out]
        trace = out == 1
        for method in ("jacobian", "ntvp", "structured"):
            fn = jax.jit(jb.kernels.ntk_fn(net, method=method, trace=trace))
            t = best(lambda: fn(params, emp_x), args.repeats)
            value = np.asarray(fn(params, emp_x))
            ref = nt_values[f"empirical_{out}_{method}"]
            if ref.shape != value.shape:  # (n1, O, n2, O) -> (n1, n2, O, O)
                ref = np.transpose(ref, (0, 2, 1, 3))
            rows.append((f"empirical NTK, {out} output{'s' if out > 1 else ''}", method, t,
                         nt_times[f"empirical_{out}_{method}"], rel(value, ref)))
        end_to_end = best(lambda: jb.kernels.empirical_ntk(net, params, emp_x, trace=trace), args.repeats)
        rows.append((f"empirical NTK, {out} output{'s' if out > 1 else ''}", "empirical_ntk() auto, end to end",
                     end_to_end, min(nt_times[f"empirical_{out}_{m}"] for m in ("jacobian", "ntvp", "structured")),
                     None))

    ana_net = jb.nets.mlp(512, 10, "relu", weight_var=2.0, bias_var=0.01, parameterization="ntk")
    if hasattr(jb.kernels, "infinite"):
        t = best(lambda: tuple(jb.kernels.infinite(ana_net, ana_x)), args.repeats)
        k = jb.kernels.infinite(ana_net, ana_x)
        diff = max(rel(k.nngp, nt_values["analytic_nngp"]), rel(k.ntk, nt_values["analytic_ntk"]))
        rows.append(("analytic NNGP + NTK, depth 10, 2048 points", "infinite()", t, nt_times["analytic"], diff))
    else:
        rows.append(("analytic NNGP + NTK, depth 10, 2048 points", "(jb.kernels.infinite not on this branch)",
                     None, nt_times["analytic"], None))

    mc_net = jb.nets.mlp(512, 2, "relu", weight_var=2.0, bias_var=0.01, parameterization="ntk")
    t = best(lambda: jb.kernels.nngp_monte_carlo(mc_net, mc_x, n=256, key=0, progress=False).mean,
             max(1, args.repeats // 2))
    mc = jb.kernels.nngp_monte_carlo(mc_net, mc_x, n=256, key=0, progress=False)
    z = np.abs(mc.mean - nt_values["monte_carlo_nngp"]) / (np.sqrt(2.0) * mc.sem + 1e-12)
    rows.append(("Monte Carlo NNGP, 256 nets, 256 points", "nngp_monte_carlo()", t, nt_times["monte_carlo"],
                 f"median {np.median(z):.2f} sd, max {z.max():.1f} sd (different nets)"))

    print(f"jaxbias on jax {jax.__version__} ({jax.devices()[0].platform}, {os.cpu_count()} cores); "
          f"neural-tangents {nt_times['neural_tangents']} on jax {nt_times['jax']}; worker wall {nt_wall:.0f} s")
    print("| workload | implementation | jaxbias (ms) | neural-tangents (ms) | speed-up | max rel. diff |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for workload, impl, t_jb, t_nt, diff in rows:
        fmt = lambda t: "-" if t is None else f"{1e3 * t:.1f}"  # noqa: E731
        speed = "-" if (t_jb is None or t_nt is None) else f"{t_nt / t_jb:.1f}x"
        d = "-" if diff is None else (diff if isinstance(diff, str) else f"{diff:.1e}")
        print(f"| {workload} | {impl} | {fmt(t_jb)} | {fmt(t_nt)} | {speed} | {d} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"rows": rows, "nt": nt_times}, indent=2, default=str))


if __name__ == "__main__":
    main()
