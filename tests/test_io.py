"""Tests for jaxbias.io: round trips, provenance attrs, atomic and reproducible writes."""

import json
import os

import numpy as np
import pytest
import xarray as xr

from jaxbias import io
from jaxbias.variables import annotate


def _dataset(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    config = {"width": 64, "depth": 3, "activation": "tanh", "shape": (2, 3)}
    config["var"] = np.float32(1.5)
    return xr.Dataset(
        {
            "y": (("net", "point", "out"), rng.normal(size=(4, 5, 2)).astype(np.float32)),
            "count": (("net",), rng.integers(0, 100, size=4)),
        },
        coords={"net": np.arange(4), "point": np.linspace(-1.0, 1.0, 5), "out": ["a", "b"]},
        attrs=io.result_attrs(config, key=seed),
    )


def _written(ds: xr.Dataset) -> xr.Dataset:
    """What a file saved from ``ds`` holds, provenance aside: ``ds`` with its variables' meanings."""
    return annotate(ds)


def _leftovers(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if ".tmp." in name)


def test_round_trip_is_identical(tmp_path):
    ds = _dataset()
    path = io.save(ds, tmp_path / "r.nc")
    loaded = io.load(path)
    xr.testing.assert_identical(io.without_provenance(loaded), _written(io.without_provenance(ds)))
    assert set(loaded.attrs) - set(ds.attrs) == {"history", "devices"}  # when and where (tests/test_variable_attrs.py)
    assert loaded.y.dtype == np.float32
    assert loaded["count"].dtype == np.int64
    assert _leftovers(tmp_path) == []


def test_result_attrs_and_config_of():
    attrs = io.result_attrs({"b": (1, 2), "a": np.int32(3), "c": {"z": None}}, key=7)
    assert set(attrs) - {"git_commit"} == {  # git_commit: in a checkout only (tests/test_version.py)
        "config",
        "key",
        "jaxbias_version",
        "jax_version",
        "jaxlib_version",
        "numpy_version",
        "xarray_version",
    }
    assert attrs["config"] == '{"a": 3, "b": [1, 2], "c": {"z": null}}'
    assert attrs["key"] == 7
    assert attrs["numpy_version"] == np.__version__
    assert io.config_of(xr.Dataset(attrs=attrs)) == {"a": 3, "b": [1, 2], "c": {"z": None}}
    assert io.result_attrs({}, key=np.array([0, 7], np.uint32))["key"] == "[0, 7]"


def test_config_of_survives_save(tmp_path):
    ds = _dataset()
    assert io.config_of(io.load(io.save(ds, tmp_path / "c.nc"))) == io.config_of(ds)


def test_bad_config_and_missing_config():
    with pytest.raises(ValueError, match="config must be a dict"):
        io.result_attrs([1, 2], key=0)
    with pytest.raises(ValueError, match="JSON"):
        io.result_attrs({"f": object()}, key=0)
    with pytest.raises(ValueError, match="no 'config'"):
        io.config_of(xr.Dataset())


def test_unstorable_attrs_are_encoded(tmp_path):
    ds = xr.Dataset({"x": (("a",), np.arange(3.0), {"flag": np.bool_(True), "none": None})})
    ds.attrs = {"d": {"k": [1, 2]}, "flag": False, "mixed": [1, "a"], "bools": [True, False]}
    loaded = io.load(io.save(ds, tmp_path / "a.nc"))
    assert json.loads(loaded.attrs["d"]) == {"k": [1, 2]}
    assert loaded.attrs["flag"] == 0
    assert loaded.attrs["mixed"] == '[1, "a"]'
    assert list(loaded.attrs["bools"]) == [1, 0]
    assert loaded.x.attrs["flag"] == 1
    assert loaded.x.attrs["none"] == "null"
    assert ds.attrs["flag"] is False  # the caller's dataset is not modified


def test_two_saves_give_identical_bytes(tmp_path):
    ds = _dataset()
    first = io.save(ds, tmp_path / "one.nc", provenance=False).read_bytes()
    second = io.save(ds.copy(deep=True), tmp_path / "two.nc", provenance=False).read_bytes()
    assert first == second
    # Saving what was loaded reproduces the file too.
    third = io.save(io.load(tmp_path / "one.nc"), tmp_path / "three.nc", provenance=False).read_bytes()
    assert third == first


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = io.save(_dataset(0), tmp_path / "keep.nc")
    old = path.read_bytes()
    real = xr.Dataset.to_netcdf

    def half_write_then_fail(self, target, *args, **kwargs):
        real(self, target, *args, **kwargs)  # the temporary file is complete on disk ...
        raise RuntimeError("disk on fire")  # ... and then the write fails.

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_write_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        io.save(_dataset(1), path, overwrite=True)
    assert path.read_bytes() == old
    assert _leftovers(tmp_path) == []


def test_load_closes_file_so_it_can_be_replaced(tmp_path):
    path = io.save(_dataset(0), tmp_path / "r.nc")
    loaded = io.load(path)
    io.save(_dataset(1), path, overwrite=True, provenance=False)
    xr.testing.assert_identical(io.load(path), _written(_dataset(1)))
    xr.testing.assert_identical(io.without_provenance(loaded), _written(io.without_provenance(_dataset(0))))


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file at .*missing.nc"):
        io.load(tmp_path / "missing.nc")


def test_unwritable_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="parent directory .* does not exist"):
        io.check_writable(tmp_path / "nope" / "r.nc")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        io.check_writable(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        io.check_writable(tmp_path / "file" / "r.nc")
    with pytest.raises(ValueError, match="empty"):
        io.check_writable("")
    with pytest.raises(FileNotFoundError):
        io.save(_dataset(), tmp_path / "nope" / "r.nc")
    assert io.check_writable(tmp_path / "ok.nc") == tmp_path / "ok.nc"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only directories")
def test_read_only_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            io.check_writable(locked / "r.nc")
    finally:
        locked.chmod(0o700)


def test_save_refuses_an_existing_file_unless_overwrite(tmp_path):
    path = io.save(_dataset(0), tmp_path / "r.nc")
    old = path.read_bytes()
    with pytest.raises(FileExistsError, match="r.nc' exists; pass --overwrite"):
        io.save(_dataset(1), path)
    assert path.read_bytes() == old  # untouched
    with pytest.raises(FileExistsError):
        io.check_writable(path, overwrite=False)
    io.save(_dataset(1), path, overwrite=True, provenance=False)
    xr.testing.assert_identical(io.load(path), _written(_dataset(1)))


def test_load_says_which_file_and_what_is_wrong(tmp_path):
    text = tmp_path / "README.md"
    text.write_text("# jaxbias\n\nWhat functions do neural networks compute?\n")
    with pytest.raises(ValueError, match=r"cannot load '.*README.md': a text file .*'# jaxbias.*not netCDF"):
        io.load(text)
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.nc': the file is empty"):
        io.load(empty)
    png = tmp_path / "figure.nc"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"figure.nc': not a netCDF4/HDF5 file"):
        io.load(png)
    whole = io.save(_dataset(0), tmp_path / "whole.nc").read_bytes()
    for keep in (len(whole) // 2, len(whole) - 100):  # an interrupted copy: the HDF5 signature is there
        cut = tmp_path / f"cut{keep}.nc"
        cut.write_bytes(whole[:keep])
        with pytest.raises(ValueError, match=rf"cannot load '.*cut{keep}.nc' \({keep:,} bytes\).*truncated or corrupted"):
            io.load(cut)
