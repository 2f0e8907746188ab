"""Slow: a million networks in bounded memory; a killed CLI sweep resumed to the same file."""

import os
import resource
import signal
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias import io


@pytest.mark.slow
def test_a_million_networks_with_a_scalar_stat():
    net = jb.nets.mlp(8, 1, "relu")
    x = np.asarray(jb.inputs.grid(2, 4))  # 16 points
    n = 10**6
    plan = jb.plan(net, x, n=n, stat=jnp.mean)
    assert plan.chunk_size < 10**5  # the chunk, not n, bounds device memory
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = jb.summarize(net, x, n=n, key=0, stat=jnp.mean, summary=jb.summaries.moments(), progress=False)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert got["count"] == n
    assert grown_mib < 512, f"peak RSS grew by {grown_mib:.0f} MiB"
    # Output mean over networks is 0 by symmetry (w -> -w of the readout): within 5 standard errors.
    assert abs(got["mean"]) < 5 * got["sem"]


@pytest.mark.slow
def test_killed_cli_sweep_resumes_to_the_same_file(tmp_path):
    args = [sys.executable, "-m", "jaxbias.cli", "sample", "--width", "32", "--depth", "1", "2", "3", "4",
            "--activation", "relu", "tanh", "--n", "64", "--inputs", "grid:2:16", "--quiet"]
    full = tmp_path / "full.nc"
    subprocess.run(args + ["--out", str(full)], check=True, capture_output=True)
    killed = tmp_path / "killed.nc"
    proc = subprocess.Popen(args + ["--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells = tmp_path / "killed.nc.cells"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cells.glob("cell_*.nc"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not killed.exists() and len(list(cells.glob("cell_*.nc"))) < 8
    subprocess.run(args + ["--out", str(killed), "--resume"], check=True, capture_output=True)
    assert io.content_bytes(killed) == io.content_bytes(full)  # the same file but for its provenance
