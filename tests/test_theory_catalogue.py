"""The check catalogue and the ``jaxbias check`` command: right predictions pass, wrong ones are rejected."""

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.cli import main
from jaxbias.experiments.catalogue import CATALOGUE, check_options, confront


def test_list_names_every_check(capsys):
    assert main(["check", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CATALOGUE)


@pytest.mark.slow
def test_criticality_relu_flat_at_critical_and_wrong_flat_prediction_rejected_away(tmp_path):
    o = check_options("criticality", n=1500, depths=(1, 3), width=64)
    entry = CATALOGUE["criticality"]
    crit = confront("criticality", o, entry.predict(o), entry.measure(o))
    assert crit.passed
    np.testing.assert_allclose(entry.predict(o)[0], 2.0, rtol=1e-5)  # flat signal at C_W = 2
    off = check_options("criticality", n=1500, depths=(1, 3), width=64, weight_var=1.4)
    measured = entry.measure(off)
    assert confront("criticality", off, entry.predict(off), measured).passed  # shrinks as predicted
    flat = [np.full(2, 1.4), np.full(2, 1.4)]  # the critical (flat) answer away from criticality
    assert not confront("criticality", off, flat, measured).passed


def test_cli_check_writes_dataset_and_exit_status(tmp_path):
    out = tmp_path / "c.nc"
    rc = main(["check", "criticality", "--n", "400", "--depths", "1", "2", "--width", "32", "--out", str(out),
               "--quiet"])
    assert rc == 0
    ds = jb.load(out)
    assert ds.attrs["verdict"] == "consistent" and ds.sizes["row"] == 4
    assert set(ds.data_vars) >= {"prediction", "estimate", "ci_low", "ci_high", "z", "passed"}


@pytest.mark.parametrize("args, message", [(["nope"], "check 'nope'"), (["criticality", "--n", "1"], "--n 1")])
def test_bad_input(capsys, args, message):
    assert main(["check"] + args) == 2
    assert message in capsys.readouterr().err
