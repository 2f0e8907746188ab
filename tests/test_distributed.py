"""Two processes on one machine over loopback (jax.distributed) compute the same networks as one process,
and run one sweep together, process 0 alone writing its files."""

import socket
import subprocess
import sys
import textwrap
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
    y = jb.sample(net, x, n=37, key=3, progress=False)
    np.testing.assert_allclose(got["y"], y, rtol=1e-5, atol=1e-6)
    means = y.astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(got["mean"], means.mean(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["var"], means.var(ddof=1), rtol=1e-4)


# A sweep whose cells sample networks (so every cell runs collectives across the processes).
SWEEP_CELL_SRC = textwrap.dedent(
    """
    import numpy as np
    import xarray as xr
    import jaxbias as jb

    SWEEP_GRID = {"width": [4, 8], "depth": [1, 2]}
    SWEEP_ATTRS = {"key": 3}

    def sweep_cell_fn(cell, fail_at=None):
        if fail_at is not None and (cell["width"], cell["depth"]) == fail_at:
            raise RuntimeError("cell failed")
        x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
        net = jb.nets.mlp(cell["width"], cell["depth"], "tanh", bias_var=0.1)
        y = jb.sample(net, x, n=6, key=3, progress=False)
        return xr.Dataset({"y": (("net", "point", "out"), y)})
    """
)

# argv: process_id port sweep_path returned_dir mode (fresh | fail | again | resume)
SWEEP_WORKER_SRC = textwrap.dedent(
    """
    import os, sys
    process_id, port, path, returned, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    import numpy as np
    """
) + SWEEP_CELL_SRC + textwrap.dedent(
    """
    fail_at = (8, 1) if mode == "fail" else None
    try:
        ds = jb.run_sweep(SWEEP_GRID, lambda cell: sweep_cell_fn(cell, fail_at), path, resume=mode == "resume",
                          attrs=SWEEP_ATTRS, progress=False)
    except Exception as err:
        print(f"process {process_id}: {type(err).__name__}: {err}", flush=True)
        sys.exit(3)
    np.savez(os.path.join(returned, f"returned_{process_id}.npz"), y=ds["y"].values, width=ds["width"].values,
             depth=ds["depth"].values, sweep_grid=ds.attrs["sweep_grid"])
    print("ok", process_id, flush=True)
    """
)


def _two_processes(*args: str) -> list[tuple[int, str]]:
    """Runs the sweep worker as processes 0 and 1; (return code, output) of each."""
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, "-c", SWEEP_WORKER_SRC, str(i), port, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).parents[1]) for i in range(2)]
    try:
        logs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [(p.returncode, log) for p, log in zip(procs, logs)]


def _single_process_sweep(path):
    namespace: dict = {}
    exec(SWEEP_CELL_SRC, namespace)
    return jb.run_sweep(namespace["SWEEP_GRID"], namespace["sweep_cell_fn"], path, attrs=namespace["SWEEP_ATTRS"],
                        progress=False)


def _check_returned(returned: Path, expected) -> None:
    """Both processes returned the single-process result."""
    for i in range(2):
        got = np.load(returned / f"returned_{i}.npz")
        np.testing.assert_allclose(got["y"], expected["y"].values, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got["width"], expected["width"].values)
        np.testing.assert_array_equal(got["depth"], expected["depth"].values)
        assert str(got["sweep_grid"]) == expected.attrs["sweep_grid"]


@pytest.mark.slow
def test_two_process_sweep_writes_once(tmp_path):
    """Two processes run the same sweep on one path: process 0 alone writes, both get the result."""
    expected = _single_process_sweep(tmp_path / "one.nc")
    sweep_dir, returned = tmp_path / "two", tmp_path / "returned"
    sweep_dir.mkdir()
    returned.mkdir()
    runs = _two_processes(str(sweep_dir / "sweep.nc"), str(returned), "fresh")
    assert all(rc == 0 for rc, _ in runs), "\n".join(log for _, log in runs)[-3000:]
    assert sorted(p.name for p in sweep_dir.iterdir()) == ["sweep.nc"]  # no cells directory, no temporary files
    written = jb.load(sweep_dir / "sweep.nc")
    np.testing.assert_allclose(written["y"].values, expected["y"].values, rtol=1e-5, atol=1e-6)
    assert jb.io.without_provenance(written).attrs == jb.io.without_provenance(expected).attrs
    assert written.attrs["devices"].endswith("; 2 processes")  # where it ran: both processes' devices
    _check_returned(returned, expected)


@pytest.mark.slow
def test_two_process_sweep_resumes(tmp_path):
    """A two-process sweep killed by a failing cell is resumed by two processes from process 0's cell files."""
    expected = _single_process_sweep(tmp_path / "one.nc")
    path, returned = tmp_path / "sweep.nc", tmp_path / "returned"
    returned.mkdir()
    runs = _two_processes(str(path), str(returned), "fail")
    assert all(rc == 3 and "cell failed" in log for rc, log in runs), "\n".join(log for _, log in runs)[-3000:]
    cells = path.with_name("sweep.nc.cells")
    assert sorted(p.name for p in cells.iterdir()) == ["cell_00000.nc", "cell_00001.nc", "manifest.json"]
    # Without --resume process 0 refuses; process 1 learns it from process 0 instead of waiting.
    (rc0, log0), (rc1, log1) = _two_processes(str(path), str(returned), "again")
    assert rc0 == 3 and "an interrupted sweep of" in log0 and "rerun with --resume" in log0, log0[-3000:]
    assert rc1 == 3 and "RuntimeError: the sweep failed on process 0" in log1, log1[-3000:]
    runs = _two_processes(str(path), str(returned), "resume")
    assert all(rc == 0 for rc, _ in runs), "\n".join(log for _, log in runs)[-3000:]
    assert not cells.exists()
    np.testing.assert_allclose(jb.load(path)["y"].values, expected["y"].values, rtol=1e-5, atol=1e-6)
    _check_returned(returned, expected)
