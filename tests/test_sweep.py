"""Tests for jaxbias.sweep and jaxbias.grid: grid layout, resuming after an exception and after SIGKILL.

Sweeps run by several processes (jax.distributed) are tested in tests/test_distributed.py."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from jaxbias import io
from jaxbias.grid import cells, n_cells, split
from jaxbias.sweep import run_sweep

REPO = pathlib.Path(__file__).resolve().parents[1]
GRID = {"a": [1, 2], "b": [0.5, 1.5, 2.5]}
ATTRS = {"config": '{"what": "test"}', "key": 0}

# One source for the cell function, run both in this process and in a subprocess.
CELL_SRC = textwrap.dedent(
    """
    import time
    import numpy as np
    import xarray as xr

    def make_cell_fn(delay=0.0):
        def cell_fn(cell):
            time.sleep(delay)
            net = np.arange(3, dtype=np.float32)[:, None]
            point = np.arange(4, dtype=np.float32)[None, :]
            y = np.float32(cell["a"]) * net + np.float32(cell["b"]) * point
            return xr.Dataset(
                {"y": (("net", "point"), y), "n": ((), np.int64(cell["a"] * 10))},
                coords={"point": np.arange(4) * 0.25},
            )
        return cell_fn
    """
)
_namespace: dict = {}
exec(CELL_SRC, _namespace)
make_cell_fn = _namespace["make_cell_fn"]


def _expected_y() -> np.ndarray:
    a = np.array(GRID["a"], np.float32)[:, None, None, None]
    b = np.array(GRID["b"], np.float32)[None, :, None, None]
    net = np.arange(3, dtype=np.float32)[None, None, :, None]
    point = np.arange(4, dtype=np.float32)[None, None, None, :]
    return a * net + b * point


def _counting(fn, fail_at=None):
    calls = []

    def cell_fn(cell):
        calls.append(dict(cell))
        if len(calls) == fail_at:
            raise RuntimeError("cell failed")
        return fn(cell)

    return cell_fn, calls


def _reference(tmp_path) -> pathlib.Path:
    path = tmp_path / "reference" / "sweep.nc"
    path.parent.mkdir()
    run_sweep(GRID, make_cell_fn(), path, attrs=ATTRS, progress=False)
    return path


def test_grid_layout_and_values(tmp_path):
    path = tmp_path / "sweep.nc"
    ds = run_sweep(GRID, make_cell_fn(), path, attrs=ATTRS, progress=False)
    assert ds.y.dims == ("a", "b", "net", "point")
    assert ds.n.dims == ("a", "b")
    assert ds.sizes == {"a": 2, "b": 3, "net": 3, "point": 4}
    np.testing.assert_array_equal(ds.a.values, [1, 2])
    np.testing.assert_array_equal(ds.b.values, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(ds.point.values, np.arange(4) * 0.25)
    assert ds.y.dtype == np.float32
    np.testing.assert_array_equal(ds.y.values, _expected_y())
    np.testing.assert_array_equal(ds.n.values, [[10, 10, 10], [20, 20, 20]])
    assert ds.attrs["config"] == ATTRS["config"]
    assert ds.attrs["sweep_grid"] == '{"a": [1, 2], "b": [0.5, 1.5, 2.5]}'
    xr.testing.assert_identical(io.load(path), ds)
    assert os.listdir(tmp_path) == ["sweep.nc"]  # cells directory removed


def test_cells_see_plain_values_in_grid_order(tmp_path):
    cell_fn, calls = _counting(make_cell_fn())
    run_sweep(GRID, cell_fn, tmp_path / "s.nc", progress=False)
    assert calls == [{"a": a, "b": b} for a in GRID["a"] for b in GRID["b"]]


def test_string_and_bool_parameters(tmp_path):
    def cell_fn(cell):
        return xr.Dataset({"v": (("net",), np.full(2, len(cell["name"]) + int(cell["flag"])))})

    ds = run_sweep(
        {"flag": [True, False], "name": ["x", "yyy"]}, cell_fn, tmp_path / "s.nc", progress=False
    )
    assert ds.v.dims == ("flag", "name", "net")
    assert ds.flag.dtype == bool
    assert list(ds.name.values) == ["x", "yyy"]
    np.testing.assert_array_equal(ds.v.values[:, :, 0], [[2, 4], [1, 3]])


def test_resume_after_exception_recomputes_only_missing_cells(tmp_path):
    reference = _reference(tmp_path)
    path = tmp_path / "sweep.nc"
    failing, calls = _counting(make_cell_fn(), fail_at=4)
    with pytest.raises(RuntimeError, match="cell failed"):
        run_sweep(GRID, failing, path, attrs=ATTRS, progress=False)
    cells = path.with_name("sweep.nc.cells")
    assert sorted(os.listdir(cells)) == [
        "cell_00000.nc",
        "cell_00001.nc",
        "cell_00002.nc",
        "manifest.json",
    ]
    assert not path.exists()

    resumed, calls = _counting(make_cell_fn())
    ds = run_sweep(GRID, resumed, path, attrs=ATTRS, resume=True, progress=False)
    assert calls == [{"a": 2, "b": 0.5}, {"a": 2, "b": 1.5}, {"a": 2, "b": 2.5}]
    assert not cells.exists()
    xr.testing.assert_identical(io.without_provenance(ds), io.without_provenance(io.load(reference)))
    assert io.content_bytes(path) == io.content_bytes(reference)  # the same file but for when it was written


def test_resume_after_sigkill(tmp_path):
    reference = _reference(tmp_path)
    path = tmp_path / "sweep.nc"
    script = CELL_SRC + textwrap.dedent(
        f"""
        from jaxbias.sweep import run_sweep
        run_sweep({GRID!r}, make_cell_fn(delay=0.3), {str(path)!r}, attrs={ATTRS!r},
                  progress=False)
        """
    )
    pythonpath = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)
    cells = path.with_name("sweep.nc.cells")
    try:
        deadline = time.monotonic() + 60
        while not (cells / "cell_00000.nc").exists():
            assert proc.poll() is None, "the sweep subprocess ended before writing a cell"
            assert time.monotonic() < deadline, "no cell written within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = sorted(name for name in os.listdir(cells) if name.startswith("cell_"))
    assert 1 <= len(done) < 6
    assert not path.exists()

    resumed, calls = _counting(make_cell_fn())
    ds = run_sweep(GRID, resumed, path, attrs=ATTRS, resume=True, progress=False)
    assert len(calls) == 6 - len(done)
    assert not cells.exists()
    xr.testing.assert_identical(io.without_provenance(ds), io.without_provenance(io.load(reference)))
    assert io.content_bytes(path) == io.content_bytes(reference)  # the same file but for when it was written


def test_manifest_mismatch_raises(tmp_path):
    path = tmp_path / "sweep.nc"
    failing, _ = _counting(make_cell_fn(), fail_at=2)
    with pytest.raises(RuntimeError):
        run_sweep(GRID, failing, path, attrs=ATTRS, progress=False)
    with pytest.raises(ValueError, match=r"grid\['b'\] was \[0.5, 1.5, 2.5\] and is now \[0.5\]"):
        run_sweep({"a": [1, 2], "b": [0.5]}, make_cell_fn(), path, attrs=ATTRS, resume=True)
    with pytest.raises(ValueError, match=r"swept parameters were \['a', 'b'\]"):
        run_sweep({"b": GRID["b"], "a": GRID["a"]}, make_cell_fn(), path, attrs=ATTRS, resume=True)
    with pytest.raises(ValueError, match=r"attrs.key was 0 and is now 1"):
        run_sweep(GRID, make_cell_fn(), path, attrs={**ATTRS, "key": 1}, resume=True)
    assert not path.exists()


def test_existing_cells_without_resume_raises(tmp_path):
    path = tmp_path / "sweep.nc"
    failing, _ = _counting(make_cell_fn(), fail_at=3)
    with pytest.raises(RuntimeError):
        run_sweep(GRID, failing, path, progress=False)
    with pytest.raises(ValueError, match=r"an interrupted sweep of .*sweep.nc' exists at .*\(2 of 6 cells finished\): "
                                         r"rerun with --resume \(resume=True\)"):
        run_sweep(GRID, make_cell_fn(), path, progress=False)


def test_settings_mismatch_names_the_nested_key_that_differs(tmp_path):
    path = tmp_path / "sweep.nc"
    config = {"net": {"width": 64, "depth": 4, "activation": "tanh" * 40}, "n": 50, "inputs": "grid:2:64" * 20}
    attrs = {"config": io.to_json(config), "key": 0}
    failing, _ = _counting(make_cell_fn(), fail_at=2)
    with pytest.raises(RuntimeError):
        run_sweep(GRID, failing, path, attrs=attrs, progress=False)
    changed = {**config, "n": 100, "net": {**config["net"], "width": 32}}
    with pytest.raises(ValueError) as err:
        run_sweep(GRID, make_cell_fn(), path, attrs={**attrs, "config": io.to_json(changed)}, resume=True)
    message = str(err.value)
    assert "attrs.config.n was 50 and is now 100" in message
    assert "attrs.config.net.width was 64 and is now 32" in message
    assert "tanhtanh" not in message and len(message) < 400  # the keys, not two JSON dumps
    assert "rerun with the original settings and --resume" in message


def test_corrupted_cell_is_named_before_any_cell_is_computed(tmp_path):
    path = tmp_path / "sweep.nc"
    failing, _ = _counting(make_cell_fn(), fail_at=4)
    with pytest.raises(RuntimeError):
        run_sweep(GRID, failing, path, attrs=ATTRS, progress=False)
    bad = path.with_name("sweep.nc.cells") / "cell_00001.nc"
    bad.write_bytes(bad.read_bytes()[:300])  # truncated, as by a full disk
    resumed, calls = _counting(make_cell_fn())
    with pytest.raises(ValueError, match=r"file of cell 1 \{'a': 1, 'b': 1.5\}, '.*cell_00001.nc', cannot be read "
                                         r"\(.*truncated or corrupted.*delete that file and rerun with --resume"):
        run_sweep(GRID, resumed, path, attrs=ATTRS, resume=True, progress=False)
    assert calls == []  # found before recomputing the missing cells
    bad.unlink()
    ds = run_sweep(GRID, resumed, path, attrs=ATTRS, resume=True, progress=False)
    assert len(calls) == 4  # cell 1 and the three never computed
    np.testing.assert_array_equal(ds["y"].values, _expected_y())


def test_existing_result_is_refused_unless_overwrite_or_resumed(tmp_path):
    path = tmp_path / "sweep.nc"
    path.write_bytes(b"precious")
    cell_fn, calls = _counting(make_cell_fn())
    with pytest.raises(FileExistsError, match="sweep.nc' exists; pass --overwrite"):
        run_sweep(GRID, cell_fn, path, attrs=ATTRS, progress=False)
    assert calls == [] and path.read_bytes() == b"precious"
    ds = run_sweep(GRID, cell_fn, path, attrs=ATTRS, progress=False, overwrite=True)
    np.testing.assert_array_equal(ds["y"].values, _expected_y())
    # --resume on the finished sweep returns it without computing anything
    again, calls = _counting(make_cell_fn())
    xr.testing.assert_identical(run_sweep(GRID, again, path, attrs=ATTRS, resume=True, progress=False), ds)
    assert calls == []
    # ... but not another sweep's file
    with pytest.raises(FileExistsError, match="is not the finished result of this sweep"):
        run_sweep(GRID, again, path, attrs={**ATTRS, "key": 1}, resume=True, progress=False)
    # resuming an interrupted sweep replaces the old file
    failing, _ = _counting(make_cell_fn(), fail_at=3)
    with pytest.raises(RuntimeError):
        run_sweep(GRID, failing, path, attrs={**ATTRS, "key": 2}, progress=False, overwrite=True)
    run_sweep(GRID, make_cell_fn(), path, attrs={**ATTRS, "key": 2}, resume=True, progress=False)
    assert io.load(path).attrs["key"] == 2


def test_ctrl_c_says_how_to_resume(tmp_path):
    from jaxbias.sweep import SweepInterrupted

    def cell_fn(cell):
        if cell == {"a": 2, "b": 0.5}:
            raise KeyboardInterrupt
        return make_cell_fn()(cell)

    with pytest.raises(SweepInterrupted, match=r"3 of its 6 cells are finished and kept in .*rerun the same command "
                                               r"with --resume"):
        run_sweep(GRID, cell_fn, tmp_path / "sweep.nc", attrs=ATTRS, progress=False)


def test_cells_with_different_dims_raise(tmp_path):
    def cell_fn(cell):
        return xr.Dataset({"y": (("net",), np.zeros(cell["size"]))})

    with pytest.raises(ValueError, match="cell 1 .* expected the same variables"):
        run_sweep({"size": [2, 3]}, cell_fn, tmp_path / "s.nc", progress=False)


@pytest.mark.parametrize(
    "grid, match",
    [
        ({}, "non-empty dict"),
        ({"a": []}, "is empty"),
        ({"a": [1, 1]}, "repeated values"),
        ({"a": "xyz"}, "sequence of values"),
        ({"a": [None]}, "expected str, int, float or bool"),
        ({"a": [1, "x"]}, "mix types"),
    ],
)
def test_bad_grids(tmp_path, grid, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(grid, make_cell_fn(), tmp_path / "s.nc", progress=False)


def test_unwritable_path_fails_before_any_cell(tmp_path):
    cell_fn, calls = _counting(make_cell_fn())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_sweep(GRID, cell_fn, tmp_path / "missing" / "s.nc", progress=False)
    assert calls == []


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    run_sweep({"a": [1], "b": [0.5]}, make_cell_fn(), tmp_path / "s.nc")
    out, err = capsys.readouterr()
    assert out == ""
    assert "sweep" in err


def test_shared_variables_are_stored_once(tmp_path):
    shared = xr.Dataset({"x": (("point",), np.arange(3.0))})

    def cell_fn(cell):
        return xr.Dataset({"y": (("point",), np.arange(3.0) * cell["a"])})

    ds = run_sweep({"a": [1, 2]}, cell_fn, tmp_path / "s.nc", progress=False, shared=shared)
    assert ds["x"].dims == ("point",) and ds["y"].dims == ("a", "point")
    np.testing.assert_array_equal(ds["y"].sel(a=2).values, [0.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="shared variables"):
        run_sweep({"a": [1]}, lambda c: shared, tmp_path / "t.nc", progress=False, shared=shared)


def test_cells_are_in_run_sweep_order(tmp_path):
    """grid.cells walks the grid in the order run_sweep numbers and stacks cells (last parameter fastest)."""
    cell_fn, calls = _counting(make_cell_fn())
    ds = run_sweep(GRID, cell_fn, tmp_path / "s.nc", progress=False)
    assert calls == list(cells(GRID)) == [{"a": a, "b": b} for a in GRID["a"] for b in GRID["b"]]
    assert len(calls) == n_cells(GRID) == ds["y"].shape[0] * ds["y"].shape[1]
    # cell i is stored at position i of the swept dims, in C order
    np.testing.assert_array_equal(ds["n"].values.ravel(), [cell["a"] * 10 for cell in cells(GRID)])


def test_cells_add_fixed_values_and_empty_grid_has_one_cell():
    assert list(cells({"a": [1, 2]}, {"b": 0, "a": 9})) == [{"b": 0, "a": 1}, {"b": 0, "a": 2}]
    assert list(cells({}, {"b": 0})) == [{"b": 0}]
    assert n_cells({}) == 1


def test_split_sweeps_options_with_several_values_in_order():
    grid, fixed = split({"depth": [3, 1], "width": [64], "activation": ("relu", "tanh"), "norm": ["none"]},
                        always=("norm",))
    assert grid == {"depth": [3, 1], "activation": ["relu", "tanh"], "norm": ["none"]}
    assert list(grid) == ["depth", "activation", "norm"]
    assert fixed == {"width": 64}


@pytest.mark.parametrize("options, always, match", [
    ({"a": []}, (), "a: expected at least one value"),
    ({"a": [1]}, ("b",), r"\['b'\] are not among the options"),
])
def test_split_rejects_bad_options(options, always, match):
    with pytest.raises(ValueError, match=match):
        split(options, always=always)
