"""One of two processes of a jax.distributed training run on this machine (used by tests/test_training.py).

argv: process_id port out_path checkpoint_path. Each process has 2 fake CPU devices; together 4.
"""

import os
import sys

process_id, port, out_path, checkpoint = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jaxbias as jb  # noqa: E402
from test_training import training_run  # noqa: E402  (tests/ is on the path: the same run as the test's)

assert jax.process_count() == 2 and len(jax.devices()) == 4
ds = training_run(checkpoint)
if process_id == 0:
    jb.save(ds, out_path)
print("ok", process_id, flush=True)
