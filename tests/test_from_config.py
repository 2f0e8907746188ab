"""jb.nets.from_config rebuilds the network of a results file, and of each cell of a sweep (issue 20)."""

import pytest

import jaxbias as jb
from jaxbias.cli import main
from jaxbias.experiments import redshift

NET = ["--width", "8", "--activation", "tanh", "--weight-var", "1.5", "--bias-var", "0.2", "--n", "2",
       "--inputs", "grid:2:4", "--quiet"]


def test_single_run_and_sweep_cells_from_the_command_line(tmp_path):
    assert main(["sample", "--depth", "3", "--out", str(tmp_path / "one.nc")] + NET) == 0
    expected = jb.nets.MLP(8, 3, "tanh", weight_var=1.5, bias_var=0.2)  # what the options say, built by hand
    assert jb.nets.from_config(jb.load(tmp_path / "one.nc")) == expected

    assert main(["sample", "--depth", "1", "2", "--out", str(tmp_path / "sweep.nc")] + NET) == 0
    ds = jb.load(tmp_path / "sweep.nc")
    with pytest.raises(ValueError, match=r"a sweep with one network per cell \(dims depth\): select one cell first, "
                                         r"e.g. jb.nets.from_config\(ds.sel\(depth=1\)\)"):
        jb.nets.from_config(ds)
    for depth in (1, 2):
        assert jb.nets.from_config(ds.sel(depth=depth)) == jb.nets.MLP(8, depth, "tanh", weight_var=1.5, bias_var=0.2)


def test_redshift_sweep_cells(tmp_path):
    ds = redshift(tmp_path / "r.nc", activations=("relu", "tanh"), depths=(1, 2), scales=(1.0,), widths=(8,),
                  bias_var=0.1, n=2, resolution=4, progress=False)
    for act in ("relu", "tanh"):
        for depth in (1, 2):
            assert jb.nets.from_config(ds.sel(activation=act, depth=depth)) == \
                jb.nets.MLP(8, depth, act, weight_var=1.0, bias_var=0.1)


def test_what_cannot_be_rebuilt_says_why(tmp_path):
    import xarray as xr

    with pytest.raises(ValueError, match="not a jaxbias results file"):
        jb.nets.from_config(xr.Dataset())
    with pytest.raises(ValueError, match="expected a results Dataset"):
        jb.nets.from_config("results.nc")
    spec = jb.nets.MLP(8, 2, "relu")
    assert jb.nets.from_config(jb.nets.to_dict(spec)) == spec
