"""One of two processes of a jax.distributed run on this machine (used by tests/test_distributed.py).

argv: process_id port out_path. Each process has 2 fake CPU devices; together 4.
"""

import os
import sys

process_id, port, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxbias as jb  # noqa: E402

assert jax.process_count() == 2 and len(jax.devices()) == 4
net = jb.nets.mlp(16, 2, "tanh", bias_var=0.1)
x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
y = jb.sample(net, x, n=37, key=3, chunk_size=8, progress=False)
m = jb.summarize(net, x, n=37, key=3, stat=lambda v: jnp.mean(v), summary=jb.summaries.moments(), chunk_size=8,
                 progress=False)
if process_id == 0:
    np.savez(out_path, y=y, mean=m["mean"], var=m["var"])
print("ok", process_id, flush=True)
