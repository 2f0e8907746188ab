"""Two processes on one machine over loopback (jax.distributed) compute the same networks as one process."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jaxbias as jb

WORKER = Path(__file__).parent / "scripts" / "two_process_worker.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    port, out = free_port(), tmp_path / "two.npz"
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(i), str(port), str(out)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        logs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)[-3000:]
    got = np.load(out)
    net = jb.nets.mlp(16, 2, "tanh", bias_var=0.1)
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    y = jb.sample(net, x, 37, key=3, progress=False)
    np.testing.assert_allclose(got["y"], y, rtol=1e-5, atol=1e-6)
    means = y.astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(got["mean"], means.mean(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["var"], means.var(ddof=1), rtol=1e-4)
