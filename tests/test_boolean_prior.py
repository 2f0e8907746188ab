"""The Boolean prior: counts against a per-network loop, complexities against brute force, trends, the CLI."""

import collections

import numpy as np
import pytest
from test_measures_boolean import brute_sensitivity
from test_measures_lz import kaspar_schuster

import jaxbias as jb
from jaxbias.cli import main
from jaxbias.experiments import boolean_prior, boolean_prior_cell
from jaxbias.summaries import unpack_bits


def test_counts_match_a_per_network_loop():
    n = 400
    ds = boolean_prior_cell(jb.nets.MLP(8, 2, "relu", bias_var=0.25), n=n, n_inputs=4, keep=n, key=3, progress=False)
    y = jb.sample(jb.nets.mlp(8, 2, "relu", weight_var=1.0, bias_var=0.25), jb.inputs.hypercube(4), n=n, key=3,
                  progress=False)
    counter = collections.Counter(tuple(row) for row in (y[:, :, 0] > 0))
    assert int(ds["n_distinct"]) == len(counter) and int(ds["occurrences"].sum()) == n
    tables = unpack_bits(ds["table"].values[: len(counter)], 16)
    got = {tuple(t): int(c) for t, c in zip(tables, ds["occurrences"].values)}
    assert got == dict(counter)
    assert (np.diff(ds["occurrences"].values) <= 0).all()  # most frequent first
    np.testing.assert_allclose(ds["probability"], ds["occurrences"] / n)
    for t, lz, sens in zip(tables[:20], ds["lz_complexity"].values, ds["sensitivity"].values):
        s = list(t.astype(int))
        expected = 4.0 if len(set(s)) == 1 else 4 * (kaspar_schuster(s) + kaspar_schuster(s[::-1])) / 2
        assert lz == pytest.approx(expected) and sens == pytest.approx(brute_sensitivity(s, 4))
    constant = tables.all(1) | ~tables.any(1)
    assert float(ds["p_constant"]) == pytest.approx(ds["occurrences"].values[: len(counter)][constant].sum() / n)


@pytest.mark.slow
def test_large_bias_favours_constants_and_frequent_functions_are_simple(tmp_path):
    """Valle-Perez et al. 2019: P(f) falls with complexity; constants dominate at large bias variance."""
    ds = boolean_prior(tmp_path / "b.nc", bias_stds=(0.1, 4.0), n=3000, keep=3000, progress=False)
    assert ds["probability"].dims == ("bias_std", "function")
    p_const = ds["p_constant"].values
    assert p_const[1] > p_const[0] + 0.3
    cell = ds.sel(bias_std=0.1)
    count, lz = cell["occurrences"].values, cell["lz_complexity"].values
    frequent, rare = lz[count >= 5], lz[count == 1]
    assert len(frequent) >= 5 and len(rare) >= 100
    assert frequent.mean() < rare.mean() - 5 * rare.std() / np.sqrt(len(rare))


def test_cli_prints_top_functions_and_writes_the_plot(tmp_path, capsys):
    out = tmp_path / "b.nc"
    assert main(["boolean-prior", "--n", "500", "--keep", "64", "--top", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "distinct functions" in text and "ffffffffffffffffffffffffffffffff" in text
    assert jb.load(out)["table"].shape == (1, 64, 4)
    assert out.with_suffix(".png").stat().st_size > 5000


@pytest.mark.parametrize("args, message", [(["--n", "0"], "--n 0"), (["--n-inputs", "21"], "n_inputs=21"),
                                           (["--bias-std", "-1"], "bias_std=-1")])
def test_cli_bad_input(tmp_path, capsys, args, message):
    rc = main(["boolean-prior", "--n", "10", "--out", str(tmp_path / "b.nc"), "--quiet"] + args)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and "\n" not in err


def test_only_functions_that_occurred_are_stored(tmp_path):
    """Issue 20: 20,000 `function` rows of which 3,504 were real; the padding had table 0, the real
    all-zeros function's table. Now a run stores exactly the distinct functions counted by a plain loop."""
    n = 300
    out = tmp_path / "b.nc"
    assert main(["boolean-prior", "--n", str(n), "--n-inputs", "5", "--top", "3", "--out", str(out), "--no-plot",
                 "--quiet"]) == 0
    ds = jb.load(out)
    y = jb.sample(jb.nets.mlp(40, 2, "relu", weight_var=1.0, bias_var=1.0), jb.inputs.hypercube(5), n=n, key=0,
                  progress=False)
    distinct = len({tuple(row) for row in (y[:, :, 0] > 0)})
    assert ds.sizes["function"] == distinct == int(ds["n_distinct"].squeeze())
    assert (ds["occurrences"].values > 0).all() and int(ds["occurrences"].sum()) == n
    assert np.isfinite(ds["lz_complexity"].values).all()


def test_sweep_padding_is_marked_not_passed_off_as_functions(tmp_path):
    ds = boolean_prior(tmp_path / "b.nc", bias_stds=(0.1, 8.0), n=200, n_inputs=4, keep=200, progress=False)
    for b in (0.1, 8.0):
        cell = ds.sel(bias_std=b)
        real = cell["is_function"].values
        assert real.sum() == int(cell["n_distinct"]) and real[: real.sum()].all()  # real rows first
        assert int(cell["occurrences"].values[real].sum()) == 200 and (cell["occurrences"].values[real] > 0).all()
        assert np.isnan(cell["probability"].values[~real]).all() and np.isnan(cell["lz_complexity"].values[~real]).all()
    assert not ds.sel(bias_std=8.0)["is_function"].values.all()  # large bias: few distinct functions, padding
