"""neural-tangents side of benchmarks/ntk.py: runs in .venv-nt (jax 0.4.25, neural-tangents 0.6.5).

    python -m benchmarks.nt_worker WORKDIR REPEATS WORKLOAD     # from the repository root

Reads WORKDIR/inputs.npz (written by benchmarks/ntk.py: the same points and parameters jaxbias
uses), times one workload (``empirical_{1,10,cnn}_{jacobian,ntvp,structured}``, ``analytic`` or
``monte_carlo``) in float32: the first call (compilation + one run) and the best of REPEATS further
calls; writes WORKDIR/nt_WORKLOAD.json and WORKDIR/nt_WORKLOAD.npz (its value). benchmarks/ntk.py
starts one worker per workload right next to the jaxbias timing of the same workload, so both see
the same machine load.

neural_tangents/__init__.py imports its TensorFlow port (neural_tangents.experimental), which needs
tensorflow; nothing here uses it, so an empty module stands in for it.
"""

import json
import pathlib
import sys
import types

sys.modules["neural_tangents.experimental"] = types.ModuleType("neural_tangents.experimental")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402
from benchmarks.harness import timed  # noqa: E402  (needs only jax and numpy)

IMPLEMENTATIONS = {
    "jacobian": nt.NtkImplementation.JACOBIAN_CONTRACTION,
    "ntvp": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
    "structured": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
}


def mlp_apply(params, x):
    """The same standard-parameterization ReLU MLP as jaxbias's (weights stored with their scale)."""
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return h @ w + b


def cnn_apply(params, x):
    """The same ReLU CNN as jaxbias's (3x3 SAME convolutions, global average pooling, dense readout)."""
    h = x
    for w, b in params[:-1]:
        h = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + b)
    w, b = params[-1]
    return jnp.mean(h, axis=(1, 2)) @ w + b


def stax_mlp(depth, width, w_std, b_std, out=1):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=w_std, b_std=b_std), stax.Relu()]
    return stax.serial(*layers, stax.Dense(out, W_std=w_std, b_std=b_std))


def run(data, workload, repeats):
    if workload.startswith("empirical_cnn_"):  # 3 conv layers x 32 channels, 64 images 16x16x3, 10 outputs, full
        name = workload.rsplit("_", 1)[1]
        x = jnp.asarray(data["cnn_x"])
        n_layers = int(data["cnn_n_layers"])
        params = [(jnp.asarray(data[f"cnn_w{i}"]), jnp.asarray(data[f"cnn_b{i}"])) for i in range(n_layers)]
        fn = jax.jit(nt.empirical_ntk_fn(cnn_apply, trace_axes=(), vmap_axes=0, implementation=IMPLEMENTATIONS[name]))
        first, best, value = timed(lambda: fn(x, None, params), repeats)
        return first, best, {"value": np.asarray(value)}
    if workload.startswith("empirical_"):  # 3 x 512 ReLU MLP, 128 points, d = 64, 1 or 10 outputs
        _, out, name = workload.split("_")
        x = jnp.asarray(data["emp_x"])
        n_layers = int(data[f"emp{out}_n_layers"])
        params = [(jnp.asarray(data[f"emp{out}_w{i}"]), jnp.asarray(data[f"emp{out}_b{i}"])) for i in range(n_layers)]
        trace_axes = (-1,) if out == "1" else ()
        fn = jax.jit(nt.empirical_ntk_fn(mlp_apply, trace_axes=trace_axes, vmap_axes=0,
                                         implementation=IMPLEMENTATIONS[name]))
        first, best, value = timed(lambda: fn(x, None, params), repeats)
        return first, best, {"value": np.asarray(value)}
    if workload == "analytic":  # depth-10 ReLU MLP, C_W = 2, bias std 0.1, 2048 points
        xa = jnp.asarray(data["ana_x"])
        _, _, kernel_fn = stax_mlp(10, 512, np.sqrt(2.0), 0.1)
        kernel_fn = jax.jit(kernel_fn, static_argnames="get")
        first, best, k = timed(lambda: kernel_fn(xa, None, get=("nngp", "ntk")), repeats)
        return first, best, {"nngp": np.asarray(k.nngp), "ntk": np.asarray(k.ntk)}
    if workload == "monte_carlo":  # 256 networks of a 2 x 512 ReLU MLP, 256 points
        xm = jnp.asarray(data["mc_x"])
        init_fn, apply_fn, _ = stax_mlp(2, 512, np.sqrt(2.0), 0.1)
        mc = nt.monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.PRNGKey(0), n_samples=256, trace_axes=(-1,))
        first, best, value = timed(lambda: mc(xm, None, "nngp"), repeats)
        return first, best, {"value": np.asarray(value)}
    raise ValueError(f"unknown workload {workload!r}")


def main():
    work, repeats, workload = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    first, best, values = run(np.load(work / "inputs.npz"), workload, repeats)
    info = {"jax": jax.__version__, "neural_tangents": nt.__version__, "first_s": first, "best_s": best}
    (work / f"nt_{workload}.json").write_text(json.dumps(info, indent=2))
    np.savez(work / f"nt_{workload}.npz", **values)


if __name__ == "__main__":
    main()
