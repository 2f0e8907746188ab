"""Kernels side by side with neural-tangents 0.6.5, same machine, same run, float32.

    bash benchmarks/nt_env.sh            # once: .venv-nt with jax 0.4.25 + neural-tangents 0.6.5
    python -m benchmarks.ntk [--repeats 5] [--rounds 2] [--only analytic] [--exclude ntvp] [--json out.json]

jaxbias runs here (current JAX); neural-tangents runs in its own environment (benchmarks/nt_worker.py),
one subprocess per workload started right next to the jaxbias timing of the same workload (the
order alternates between rounds), on the same points and parameters written to a temporary
directory, so both libraries are timed under the same machine load. Workloads (issue 5):

1. empirical NTK of a 3 x 512 ReLU MLP on 128 points in d = 64, 1 output (traced) and 10 outputs
   (full kernel), every implementation of each library;
2. analytic NNGP + NTK of a depth-10 ReLU MLP (C_W = 2, bias std 0.1, NTK parameterization) on
   2,048 points;
3. Monte Carlo NNGP with 256 networks of a 2 x 512 ReLU MLP on 256 points, by jaxbias's
   per-network estimator (neural-tangents' method) and by its conditional estimator (the last
   hidden layer and the readout integrated exactly) with 256 draws of the first layer and with 16
   (fewer draws, still a smaller standard error than 256 networks');
4. empirical NTK of a small CNN (3 conv layers x 32 channels, 3x3 SAME, ReLU, global average
   pooling, 10 outputs) on 64 images 16x16x3, full kernel, every implementation of each library.

Times exclude compilation: the first call (compile + one run) is reported apart, then the best of
``--repeats`` calls in each of ``--rounds`` rounds, best over rounds. jaxbias's
empirical NTK is timed as a user calls it in a loop, ``jax.jit(jb.kernels.ntk_fn(...))``, and
also end to end through ``jb.kernels.empirical_ntk`` (input checks, blocking decision). Values:
the largest relative difference ``max |a - b| / max |b|`` against neural-tangents (the Monte Carlo
kernels use different random networks, so there the difference is given in standard errors).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import subprocess
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

import jaxbias as jb
from benchmarks.harness import timed, write_json

ROOT = pathlib.Path(__file__).resolve().parent.parent


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def nt_run(nt_python, work, workload, repeats):
    """Times ``workload`` in a fresh neural-tangents process: (first s, best s, values).

    The worker runs as ``python -m benchmarks.nt_worker`` from the repository root, which is how it
    finds ``benchmarks.harness`` (jaxbias is not installed in its environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "PYTHONPATH")}
    subprocess.run([nt_python, "-m", "benchmarks.nt_worker", str(work), str(repeats), workload],
                   check=True, env=env, cwd=ROOT)
    info = json.loads((work / f"nt_{workload}.json").read_text())
    return info, dict(np.load(work / f"nt_{workload}.npz"))


def ref_kernels(ref):
    return jb.kernels.Kernels(ref["nngp"], ref["ntk"])


def workloads(key):
    """[(row label, implementation, nt workload, jaxbias thunk, compare(jaxbias value, nt values))], inputs."""
    emp_x = jax.random.normal(jax.random.fold_in(key, 1), (128, 64), jnp.float32)
    ana_x = jax.random.normal(jax.random.fold_in(key, 2), (2048, 64), jnp.float32)
    mc_x = jax.random.normal(jax.random.fold_in(key, 3), (256, 64), jnp.float32)
    inputs = {"emp_x": np.asarray(emp_x), "ana_x": np.asarray(ana_x), "mc_x": np.asarray(mc_x)}
    rows = []
    for out in (1, 10):
        net = jb.nets.mlp(512, 3, "relu", out=out, weight_var=2.0, bias_var=0.01)
        params = net.init(jax.random.fold_in(key, 10 + out), emp_x)
        inputs[f"emp{out}_n_layers"] = np.asarray(len(params["layers"]))
        for i, layer in enumerate(params["layers"]):
            inputs[f"emp{out}_w{i}"], inputs[f"emp{out}_b{i}"] = np.asarray(layer["w"]), np.asarray(layer["b"])
        trace = out == 1
        label = f"empirical NTK, {out} output" if out == 1 else f"empirical NTK, {out} outputs (full)"

        def compare(value, ref):
            ref = ref["value"]
            if ref.shape != np.shape(value):  # (n1, O, n2, O) -> (n1, n2, O, O)
                ref = np.transpose(ref, (0, 2, 1, 3))
            return f"{rel(value, ref):.1e}"

        for method in ("jacobian", "ntvp", "structured"):
            fn = jax.jit(jb.kernels.ntk_fn(net, method=method, trace=trace))
            rows.append((label, method, f"empirical_{out}_{method}",
                         functools.partial(fn, params, emp_x), compare))
        rows.append((label, "`empirical_ntk()` auto, end to end", f"empirical_{out}_structured",
                     functools.partial(jb.kernels.empirical_ntk, net, params, emp_x, trace=trace), compare))

    # a small CNN: 3 conv layers x 32 channels (3x3, SAME, ReLU), global average pooling, 10 outputs,
    # on 64 images 16x16x3; full kernel
    cnn = jb.nets.cnn([32, 32, 32], kernel_size=3, out=10, weight_var=2.0, bias_var=0.01)
    cnn_x = jax.random.normal(jax.random.fold_in(key, 4), (64, 16, 16, 3), jnp.float32)
    cnn_params = cnn.init(jax.random.fold_in(key, 30), cnn_x)
    inputs["cnn_x"] = np.asarray(cnn_x)
    layers = [*cnn_params["conv"], cnn_params["readout"]]
    inputs["cnn_n_layers"] = np.asarray(len(layers))
    for i, layer in enumerate(layers):
        inputs[f"cnn_w{i}"], inputs[f"cnn_b{i}"] = np.asarray(layer["w"]), np.asarray(layer["b"])

    cnn_label = "empirical NTK, CNN 3 x 32 ch., 64 images 16x16x3, 10 outputs (full)"
    for method in ("jacobian", "ntvp", "structured"):
        fn = jax.jit(jb.kernels.ntk_fn(cnn, method=method, trace=False))
        rows.append((cnn_label, method, f"empirical_cnn_{method}", functools.partial(fn, cnn_params, cnn_x),
                     compare))
    rows.append((cnn_label, f"`empirical_ntk()` auto ({jb.kernels.auto_method(cnn, cnn_params, cnn_x, trace=False)}), "
                 "end to end", "empirical_cnn_structured",
                 functools.partial(jb.kernels.empirical_ntk, cnn, cnn_params, cnn_x, trace=False), compare))

    ana_net = jb.nets.mlp(512, 10, "relu", weight_var=2.0, bias_var=0.01, parameterization="ntk")

    def compare_analytic(k, ref):
        with jax.enable_x64(True):  # float64 recursion: the reference both float32 results are off by
            k64 = jb.kernels.infinite(ana_net, np.asarray(ana_x, np.float64))
        to_nt = max(rel(k.nngp, ref["nngp"]), rel(k.ntk, ref["ntk"]))
        to_64 = [max(rel(a.nngp, k64.nngp), rel(a.ntk, k64.ntk)) for a in (k, ref_kernels(ref))]
        return f"{to_nt:.1e}; to float64: jaxbias {to_64[0]:.1e}, neural-tangents {to_64[1]:.1e}"

    rows.append(("analytic NNGP + NTK, depth 10, 2048 points", "`infinite()`", "analytic",
                 functools.partial(jb.kernels.infinite, ana_net, ana_x), compare_analytic))

    mc_net = jb.nets.mlp(512, 2, "relu", weight_var=2.0, bias_var=0.01, parameterization="ntk")

    def compare_mc(mc, ref):
        z = np.abs(mc.mean - ref["value"]) / (np.sqrt(2.0) * mc.sem + 1e-12)
        return f"median {np.median(z):.2f}, max {z.max():.1f} standard errors (different nets)"

    rows.append(("Monte Carlo NNGP, 256 nets, 256 points", "`nngp_monte_carlo()`", "monte_carlo",
                 functools.partial(jb.kernels.nngp_monte_carlo, mc_net, mc_x, n=256, key=0, progress=False),
                 compare_mc))

    def compare_conditional(mc, ref):
        # neural-tangents' error is that of 256 networks: estimated by jaxbias's per-network estimator
        networks = jb.kernels.nngp_monte_carlo(mc_net, mc_x, n=256, key=0, progress=False)
        z = np.abs(mc.mean - ref["value"]) / np.sqrt(mc.sem**2 + networks.sem**2)
        return (f"median {np.median(z):.2f}, max {z.max():.1f} standard errors; standard error "
                f"{np.median(networks.sem / mc.sem):.1f}x smaller than 256 networks' (median)")

    # the conditional estimator with 256 draws (equal n) and with 16 (still a smaller error than 256 networks')
    for draws in (256, 16):
        rows.append(("Monte Carlo NNGP, 256 nets, 256 points",
                     f"`nngp_monte_carlo(estimator=\"conditional\")`, {draws} draws", "monte_carlo",
                     functools.partial(jb.kernels.nngp_monte_carlo, mc_net, mc_x, n=draws, key=0,
                                       estimator="conditional", progress=False), compare_conditional))
    return rows, inputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="nt/jaxbias pairs per workload (order alternates)")
    parser.add_argument("--only", default=None, help="run only the workloads whose label contains this text")
    parser.add_argument("--exclude", default=None, help="skip the workloads whose label or implementation contains this")
    parser.add_argument("--json", default=None)
    parser.add_argument("--nt-python", default=None, help="python of the neural-tangents venv (default: nt_env.sh)")
    args = parser.parse_args(argv)
    nt_python = args.nt_python or subprocess.run(["bash", str(ROOT / "benchmarks" / "nt_env.sh")], check=True,
                                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
    rows, inputs = workloads(jax.random.key(0))
    if args.only:
        rows = [r for r in rows if args.only in r[0] or args.only in r[1]]
    if args.exclude:
        rows = [r for r in rows if args.exclude not in r[0] and args.exclude not in r[1]]
    results, nt_version = [], None
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        np.savez(work / "inputs.npz", **inputs)
        for label, impl, nt_workload, thunk, compare in rows:
            jb_first = nt_first = None
            jb_best = nt_best = float("inf")
            # Jacobian and NTK-vector products with 10 outputs take ~10-70 s a call: one timed call, one round.
            heavy = nt_workload in ("empirical_10_jacobian", "empirical_10_ntvp", "empirical_cnn_ntvp")
            repeats, rounds = (1, 1) if heavy else (args.repeats, args.rounds)
            for r in range(rounds):
                for side in (("nt", "jb") if r % 2 == 0 else ("jb", "nt")):
                    if side == "nt":
                        info, nt_values = nt_run(nt_python, work, nt_workload, repeats)
                        nt_version = f"{info['neural_tangents']} on jax {info['jax']}"
                        nt_first = info["first_s"] if nt_first is None else nt_first
                        nt_best = min(nt_best, info["best_s"])
                    else:
                        first, b, _ = timed(thunk, repeats)
                        jb_first = first if jb_first is None else jb_first
                        jb_best = min(jb_best, b)
            diff = compare(jax.block_until_ready(thunk()), nt_values)
            results.append((label, impl, jb_best, nt_best, jb_first, nt_first, diff))
            print(f"{label} | {impl}: jaxbias {1e3 * jb_best:.1f} ms, neural-tangents {1e3 * nt_best:.1f} ms",
                  flush=True)

    print(f"jaxbias on jax {jax.__version__} ({jax.devices()[0].platform}, {os.cpu_count()} cores); "
          f"neural-tangents {nt_version}; load average {os.getloadavg()[0]:.1f} (1 min) at the end")
    print("| workload | implementation | jaxbias (ms) | neural-tangents (ms) | nt / jaxbias | first call jaxbias / nt (s) "
          "| max rel. diff |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for label, impl, t_jb, t_nt, f_jb, f_nt, diff in results:
        print(f"| {label} | {impl} | {1e3 * t_jb:.1f} | {1e3 * t_nt:.1f} | {t_nt / t_jb:.2f}x | {f_jb:.2f} / {f_nt:.2f} "
              f"| {diff} |")
    if args.json:
        write_json(args.json, {"rows": results, "nt": nt_version})


if __name__ == "__main__":
    main()
