"""neural-tangents side of benchmarks/ntk.py: runs in .venv-nt (jax 0.4.25, neural-tangents 0.6.5).

    python benchmarks/nt_worker.py WORKDIR REPEATS

Reads WORKDIR/inputs.npz (written by benchmarks/ntk.py: the same points and parameters jaxbias
uses), times every neural-tangents implementation on each workload (compile excluded, best of
REPEATS, float32) and writes WORKDIR/nt_times.json and WORKDIR/nt_values.npz.

neural_tangents/__init__.py imports its TensorFlow port (neural_tangents.experimental), which needs
tensorflow; nothing here uses it, so an empty module stands in for it.
"""

import json
import pathlib
import sys
import time
import types

sys.modules["neural_tangents.experimental"] = types.ModuleType("neural_tangents.experimental")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

IMPLEMENTATIONS = {
    "jacobian": nt.NtkImplementation.JACOBIAN_CONTRACTION,
    "ntvp": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
    "structured": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
}


def best(fn, repeats):
    jax.block_until_ready(fn())  # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def mlp_apply(params, x):
    """The same standard-parameterization ReLU MLP as jaxbias's (weights stored with their scale)."""
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return h @ w + b


def stax_mlp(depth, width, w_std, b_std, out=1):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=w_std, b_std=b_std), stax.Relu()]
    return stax.serial(*layers, stax.Dense(out, W_std=w_std, b_std=b_std))


def main():
    work, repeats = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    data = np.load(work / "inputs.npz")
    times, values = {"jax": jax.__version__, "neural_tangents": nt.__version__}, {}

    # 1. empirical NTK, 3 x 512 ReLU MLP, 128 points, d = 64, 1 and 10 outputs.
    x = jnp.asarray(data["emp_x"])
    for out in (1, 10):
        n_layers = int(data[f"emp{out}_n_layers"])
        params = [(jnp.asarray(data[f"emp{out}_w{i}"]), jnp.asarray(data[f"emp{out}_b{i}"])) for i in range(n_layers)]
        trace_axes = (-1,) if out == 1 else ()
        for name, impl in IMPLEMENTATIONS.items():
            fn = jax.jit(nt.empirical_ntk_fn(mlp_apply, trace_axes=trace_axes, vmap_axes=0, implementation=impl))
            times[f"empirical_{out}_{name}"] = best(lambda: fn(x, None, params), repeats)
            values[f"empirical_{out}_{name}"] = np.asarray(fn(x, None, params))

    # 2. analytic NNGP + NTK, depth-10 ReLU MLP, C_W = 2, bias std 0.1, 2048 points.
    xa = jnp.asarray(data["ana_x"])
    _, _, kernel_fn = stax_mlp(10, 512, np.sqrt(2.0), 0.1)
    kernel_fn = jax.jit(kernel_fn, static_argnames="get")
    times["analytic"] = best(lambda: kernel_fn(xa, None, get=("nngp", "ntk")), repeats)
    k = kernel_fn(xa, None, get=("nngp", "ntk"))
    values["analytic_nngp"], values["analytic_ntk"] = np.asarray(k.nngp), np.asarray(k.ntk)

    # 3. Monte Carlo NNGP, 256 networks of a 2 x 512 ReLU MLP, 256 points.
    xm = jnp.asarray(data["mc_x"])
    init_fn, apply_fn, _ = stax_mlp(2, 512, np.sqrt(2.0), 0.1)
    mc = nt.monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.PRNGKey(0), n_samples=256, trace_axes=(-1,))
    times["monte_carlo"] = best(lambda: mc(xm, None, "nngp"), max(1, repeats // 2))
    values["monte_carlo_nngp"] = np.asarray(mc(xm, None, "nngp"))

    (work / "nt_times.json").write_text(json.dumps(times, indent=2))
    np.savez(work / "nt_values.npz", **values)


if __name__ == "__main__":
    main()
