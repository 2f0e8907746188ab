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
    assert rc == 3  # no row rejects, but 400 networks cannot tell a 10% error of the gradient: inconclusive
    ds = jb.load(out)
    assert ds.attrs["verdict"] == "inconclusive" and ds.sizes["row"] == 4 and ds["power"].min() < 0.8
    assert set(ds.data_vars) >= {"prediction", "estimate", "ci_low", "ci_high", "z", "passed"}


@pytest.mark.parametrize("args, message", [(["nope"], "check 'nope'"), (["criticality", "--n", "1"], "--n 1")])
def test_bad_input(capsys, args, message):
    assert main(["check"] + args) == 2
    assert message in capsys.readouterr().err


def test_tiny_n_is_inconclusive_not_consistent(capsys):
    """Issue 20: 10 networks "passed" finite-width at 0.99. The power against the alternative the check
    is for (no 1/n effect) is printed, and a pass without power is INCONCLUSIVE (exit 3)."""
    rc = main(["check", "finite-width", "--n", "10", "--depths", "1"])
    out = capsys.readouterr().out
    assert rc == 3 and "INCONCLUSIVE" in out and "consistent" not in out and "use about n >=" in out
    assert "tolerance of excess kurtosis" in out and "power" in out and "Bonferroni" in out


def test_report_p_values_are_bonferroni_adjusted_z_p_values():
    """The dataset's p_value is each component's two-sided normal p of its z, times rows x components."""
    import math

    from jaxbias.experiments.catalogue import Measurement, to_dataset

    o = check_options("weight-laws", n=400, depths=(1, 3))
    v = np.random.default_rng(0).normal(1.0, 1.0, size=(400, 2))
    pred = v.mean(0) + np.array([0.5, -0.1]) * v.std(0, ddof=1) / 20  # z = -0.5 and +0.1 (stderr = std / 20)
    rows = [Measurement("a", v, alternative=lambda p: 2 * p), Measurement("b", v[:, :1], alternative=0.0)]
    report = confront("weight-laws", o, [pred, pred[:1]], rows)
    ds = to_dataset(report)
    z = ds["z"].values
    expect = [min(1.0, 2 * 2 * math.erfc(abs(t) / math.sqrt(2))) for t in z[:2]] + \
             [min(1.0, 2 * 1 * math.erfc(abs(z[2]) / math.sqrt(2)))]
    np.testing.assert_allclose(ds["p_value"].values, expect, rtol=1e-9)
    assert report.verdict == "consistent" and ds.attrs["verdict"] == "consistent"
    assert (ds["power"].values > 0.8).all() and list(ds["status"].values) == ["ok"] * 3


def test_confidence_message_reports_the_number_typed(capsys):
    assert main(["check", "finite-width", "--confidence", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "confidence=1.5:" in err and "1.25" not in err
