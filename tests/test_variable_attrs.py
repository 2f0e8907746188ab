"""Every results file says what it holds: CF attributes on every variable (jaxbias.variables) and the run's provenance.

Each command runs once at tiny size; every data variable and coordinate of the file it writes must have a
``long_name``, ``units`` and a ``description``, and the file its provenance. The commands whose programs take
longest to compile are in the slow suite.
"""

import re
import shlex
import sys

import jax
import numpy as np
import pytest
import xarray as xr

import jaxbias as jb
from jaxbias import io, variables
from jaxbias.cli import main
from jaxbias.commands import train as train_command
from jaxbias.experiments.redshift import MEASURES as REDSHIFT_MEASURES
from jaxbias.sweep import run_sweep
from jaxbias.variables import MEANINGS, Meaning, annotate, meaning_of

slow = pytest.mark.slow
quadrature = pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # scipy's own, as in its CLI test

# command -> arguments at tiny size (the CLI tests' argument sets, made smaller); --out is added
COMMANDS = {
    "sample": ["sample", "--width", "4", "--depth", "1", "--weight-var", "1", "2", "--n", "2", "--inputs", "grid:2:4",
               "--quiet"],
    "ntk": ["ntk", "--width", "4", "--depth", "1", "--n", "2", "--inputs", "sphere:3:6", "--quiet"],
    "train": ["train", "--width", "4", "--depth", "1", "--n", "2", "--steps", "3", "--batch-size", "8",
              "--dataset", "gaussian-mixture:3:2:16:8", "--record", "2", "--lr-sweep", "0.05", "0.5",
              "--ntk-points", "4", "--measures", "mean_frequency", "class_fractions", "outputs", "--probe", "grid:2:4",
              "--quiet"],
    "inductive-bias": pytest.param(["inductive-bias", "--dataset", "gaussian-mixture:2:3:24:16", "--kernel", "rbf:2",
                                    "--epsilon", "0.05", "0.3", "4", "--methods", "inversion", "chernoff",
                                    "--n-train-sizes", "8", "24"], marks=quadrature),
    "task-difficulty": ["task-difficulty", "--dataset", "digits:0,1", "--n-boot", "5", "--eps", "0.01"],
    "task-difficulty-paper": ["task-difficulty", "--paper-table"],
    "check": ["check", "criticality", "--n", "50", "--width", "4", "--depths", "1", "--quiet"],
    # heavier programs to compile (a minute or more together on two cores): the slow suite
    "redshift": pytest.param(["redshift", "--activation", "relu", "--depth", "1", "--scale", "1", "--width", "4",
                              "--n", "2", "--resolution", "8", "--degree", "3", "--residual", "off", "on",
                              "--measure", "mean_frequency", "polynomial_order", "lz", "mean_frequency_redshift_code",
                              "--no-plot", "--quiet"], marks=slow),
    "boolean-prior": pytest.param(["boolean-prior", "--n", "20", "--n-inputs", "3", "--width", "4", "--top", "2",
                                   "--bias-std", "0.5", "1", "--no-plot", "--quiet"], marks=slow),
    "train-measures": pytest.param(["train", "--width", "4", "--depth", "1", "--n", "2", "--steps", "3",
                                    "--dataset", "gaussian-mixture:3:2:16:8", "--record", "2", "--measures",
                                    "polynomial_order", "lz", "--probe", "grid:2:4", "--degree", "2", "--quiet"],
                                   marks=slow),
    "igb": pytest.param(["igb", "--activation", "tanh", "--pool", "none", "max(2)", "--n", "4", "--n-points", "10",
                         "--dim", "4", "--width", "4", "--n-boot", "5", "--quiet"], marks=slow),
    "inductive-bias-network": pytest.param(["inductive-bias", "--mode", "network", "--dataset",
                                            "gaussian-mixture:2:3:24:16", "--width", "8", "--depth", "1", "--n", "12",
                                            "--steps", "20", "--epsilon", "0.2", "2", "3", "--min-count", "2",
                                            "--quiet"], marks=slow),
    "simplicity": pytest.param(["simplicity", "--dataset", "cumulants:2:32:16", "--n", "2", "--steps", "4",
                                "--record", "2", "--width", "4", "--depth", "1", "--n-boot", "5"], marks=slow),
    "spectral-bias": pytest.param(["spectral-bias", "--dim", "2", "--points", "8", "--frequencies", "1,0", "1,2",
                                   "--widths", "8", "--n", "2", "--steps", "4", "--record", "2", "--quiet"],
                                  marks=slow),
    "redshift-training": pytest.param(["redshift-training", "--activation", "relu", "--scale", "1", "--depth", "1",
                                       "--width", "4", "--n-train", "8", "--n-test", "8", "--steps", "3",
                                       "--record", "2", "--resolution", "4", "--degree", "2", "--n", "2",
                                       "--optimizer", "sgd", "--lr", "0.01", "--quiet"],  # adam: not strict-dtype
                                      marks=slow),
    "ntk-motion": pytest.param(["ntk-motion", "--width", "4", "8", "--n-train", "4", "--steps", "2", "--lam-nets",
                                "1", "--n", "2", "--n-boot", "5", "--quiet"], marks=slow),
    "igb-training": pytest.param(["igb-training", "--width", "4", "--depth", "1", "--dim", "4", "--n-train", "8",
                                  "--n-test", "8", "--steps", "2", "--batch-size", "4", "--n", "2", "--n-boot", "5",
                                  "--quiet"], marks=slow),
}


def _files(tmp_path, args) -> list:
    out = tmp_path / "r.nc"
    assert main(args + ["--out", str(out)]) in (0, 3)  # 3: a check too small to conclude, its file written
    return sorted(tmp_path.glob("*.nc"))  # inductive-bias writes a second file (.n_train.nc)


@pytest.mark.parametrize("args", list(COMMANDS.values()), ids=list(COMMANDS))
def test_every_variable_of_every_command_says_what_it_is(tmp_path, args, monkeypatch):
    command_line = ["jaxbias", *args, "--out", str(tmp_path / "r.nc")]
    monkeypatch.setattr(sys, "argv", command_line)  # what the console script would see
    for path in _files(tmp_path, args):
        ds = jb.load(path)
        for name, var in ds.variables.items():
            assert var.attrs.get("long_name") and var.attrs.get("units"), f"{path.name}: {name} has no meaning"
            assert var.attrs.get("description"), f"{path.name}: {name}"
        assert ds.attrs["history"].endswith(": " + shlex.join(command_line))
        assert ds.attrs["devices"] == f"{jax.device_count()} x cpu; 1 process"


def test_the_registry_is_complete_and_well_formed():
    meanings = [m for entry in MEANINGS.values() for m in (entry.values() if isinstance(entry, dict) else [entry])]
    assert all(isinstance(m, Meaning) for m in meanings)
    for m in meanings:
        assert m.long_name.strip() and m.units.strip() and m.description.strip(), m
        assert m.attrs() == {"long_name": m.long_name, "units": m.units, "description": m.description}
    # every measure whose statistics the commands name after it has a meaning
    assert set(REDSHIFT_MEASURES) <= set(variables.COMPLEXITY_MEASURES)
    assert all(meaning_of(name) for name in train_command.MEASURES)


def test_names_that_carry_a_convention():
    assert meaning_of("g0").description == "fraction of the input points the network puts in class 0"
    assert "95 %" in meaning_of("gamma_low").description and "bootstrap" in meaning_of("gamma_high").description
    assert "0.5 * mean" in meaning_of("test_loss").description
    assert "after this many optimizer updates" in meaning_of("step").description
    assert meaning_of("bits").units == "bit"


def test_generated_names_follow_their_measure():
    assert meaning_of("lz_mean").long_name == "LZ complexity: mean over networks"
    assert meaning_of("mean_frequency_ci_high").long_name == "mean frequency: upper 95 % confidence limit"
    assert meaning_of("target_polynomial_order").long_name == "polynomial order of the target"
    for unknown in ("target_lz_mean", "lz_median", "my_measure", "loss_mean"):
        assert meaning_of(unknown) is None


def test_a_name_can_mean_two_things_by_type():
    assert meaning_of("residual", np.bool_).long_name == "residual connections"
    assert meaning_of("residual", np.float32).long_name == "normalised residual"
    assert meaning_of("estimate", np.dtype("<U9")).long_name == "estimate kind"
    assert meaning_of("estimate", object).long_name == "estimate kind"  # strings as loaded
    assert meaning_of("estimate").long_name == "estimate"


def test_annotate_fills_without_overwriting():
    ds = xr.Dataset({"g0": (("net",), np.zeros(2), {"units": "percent", "note": "mine"}),
                     "mine": (("net",), np.ones(2))}, coords={"net": [0, 1]})
    out = annotate(ds)
    assert out["g0"].attrs == {"long_name": "class-0 fraction G_0", "units": "percent",
                               "description": meaning_of("g0").description, "note": "mine"}
    assert out["mine"].attrs == {}  # unknown: nothing invented
    assert out["net"].attrs["long_name"] == "network index"
    assert ds["g0"].attrs == {"units": "percent", "note": "mine"} and ds["net"].attrs == {}  # ds untouched
    assert annotate(xr.Dataset({"step": (("t",), np.array([0], "datetime64[ns]"))}))["step"].attrs == {}


def test_provenance_is_recorded_unless_asked_not_to(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["jaxbias", "sample", "--out", "a b.nc"])
    ds = xr.Dataset({"g0": (("net",), np.full(3, 0.5, np.float32))}, attrs=io.result_attrs({"n": 3}, key=0))
    with_it = io.load(io.save(ds, tmp_path / "a.nc"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: jaxbias sample --out 'a b.nc'", with_it.attrs["history"])
    assert re.fullmatch(r"\d+ x cpu; 1 process", with_it.attrs["devices"])
    assert with_it.attrs.get("git_commit") == ds.attrs.get("git_commit")  # from result_attrs, kept
    without = io.load(io.save(ds, tmp_path / "b.nc", provenance=False))
    assert not {"history", "devices"} & set(without.attrs)
    assert set(with_it.attrs) - set(without.attrs) == {"history", "devices"}
    assert io.content_bytes(tmp_path / "a.nc") == io.content_bytes(tmp_path / "b.nc") == io.content_bytes(ds)
    # a result without result_attrs gets the commit too (when jaxbias runs from a checkout)
    bare = io.load(io.save(xr.Dataset({"g0": (("net",), np.zeros(1))}), tmp_path / "c.nc"))
    assert bare.attrs.get("git_commit") == jb.version.git_commit()


def test_a_loaded_file_round_trips(tmp_path, monkeypatch):
    ds = xr.Dataset({"g0": (("net",), np.array([0.25, np.nan], np.float32)), "no_igb": ((), True)},
                    coords={"net": [0, 1]}, attrs=io.result_attrs({"n": 2}, key=1))
    first = io.save(ds, tmp_path / "a.nc")
    loaded = io.load(first)
    assert loaded["g0"].attrs == meaning_of("g0").attrs() and loaded["no_igb"].dtype == bool
    again = io.save(loaded, tmp_path / "b.nc", provenance=False)
    assert again.read_bytes() == io.save(io.load(again), tmp_path / "c.nc", provenance=False).read_bytes()
    xr.testing.assert_identical(io.load(again), loaded)  # nothing lost or added, the provenance kept
    monkeypatch.setattr(sys, "argv", ["rerun"])
    history = io.load(io.save(loaded, tmp_path / "d.nc")).attrs["history"].split("\n")
    assert history[0] == loaded.attrs["history"] and history[1].endswith(": rerun")  # CF: one line per run


def test_a_sweep_resumes_whatever_its_provenance(tmp_path):
    def cell(c):
        if c["depth"] == 2 and not resumed:
            raise RuntimeError("killed")
        return xr.Dataset({"g0": (("net",), np.full(2, c["depth"] / 4))})

    grid, path, resumed = {"depth": [1, 2]}, tmp_path / "s.nc", False
    with pytest.raises(RuntimeError, match="killed"):
        run_sweep(grid, cell, path, attrs=io.result_attrs({}, 0), progress=False)
    cell_file = tmp_path / "s.nc.cells" / "cell_00000.nc"
    assert "history" not in io.load(cell_file).attrs and io.load(cell_file)["g0"].attrs["units"] == "1"
    resumed = True
    ds = run_sweep(grid, cell, path, attrs=io.result_attrs({}, 0), progress=False, resume=True)
    assert ds["depth"].attrs["long_name"] == "depth" and "history" in ds.attrs
    again = run_sweep(grid, cell, path, attrs=io.result_attrs({}, 0), progress=False, resume=True)
    xr.testing.assert_identical(again, ds)  # the finished file is recognised despite its history
