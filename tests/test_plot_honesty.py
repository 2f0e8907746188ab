"""Figures and summaries that must not mislead (issue 20): rounding-level eigenvalues, all IGB cells, signs of gamma."""

import math

import numpy as np
import pytest
import xarray as xr

import jaxbias as jb
import jaxbias.plot as jplot
from jaxbias.kernels.spectra import KernelWarning


def _capture(monkeypatch):
    figures = []

    def save(fig, path):
        figures.append(fig)
        return path

    monkeypatch.setattr(jplot, "save_figure", save)
    return figures


def test_ntk_plot_axis_is_not_stretched_by_a_rounding_level_eigenvalue(monkeypatch, tmp_path):
    lam = np.geomspace(10.0, 0.1, 32)
    lam[-1] = 1e-11  # one eigenvalue at rounding noise: it used to pull the log axis down to 1e-11
    ds = xr.Dataset({k: ("rank", lam) for k in ("eig_init_lo", "eig_init_hi", "eig_init_mean", "eig_mean_kernel")},
                    coords={"rank": np.arange(1, 33), "point": np.arange(32)})
    figures = _capture(monkeypatch)
    jplot.plot_ntk_spectrum(ds, tmp_path / "n.png")
    ax = figures[0].axes[0]
    floor = 32 * np.finfo(np.float32).eps * 10.0  # n eps lambda_max, by hand: 3.8e-5
    assert ax.get_ylim()[0] >= floor / 3 and ax.get_ylim()[0] < 0.1  # the real spectrum is shown, 1e-11 is not
    assert any("rounding" in t.get_text() for t in ax.get_legend().get_texts())


def test_singular_ntk_warns_and_stores_an_infinite_condition_number():
    """Two identical inputs: the NTK has an exact zero eigenvalue (rank = number of distinct points)."""
    from jaxbias.experiments.ntk import ntk_spectrum

    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]], np.float32)
    net = jb.nets.mlp(16, 2, "tanh", bias_var=0.1, parameterization="ntk")
    with pytest.warns(KernelWarning, match="singular to working precision"):
        ds = ntk_spectrum(net, x, n=2, progress=False, hypercube=False)
    assert math.isinf(ds.attrs["finite_condition_number"]) and ds.attrs["finite_numerical_rank"] == 3
    assert math.isinf(ds.attrs["infinite_condition_number"]) and ds.attrs["infinite_numerical_rank"] == 3


def test_batch_norm_cell_without_bias_reports_no_igb_not_rounding_noise(tmp_path, capsys):
    """Issue 20: batch norm after the activation, C_b = 0: each network's mean output over the inputs is
    exactly its readout bias, 0, so gamma = 0. The estimator (Var_chi(mean) - E var / n) / E var is then
    exactly -1/n (between-network variance 0): the finite-input offset, printed as "no IGB", never as -0.025."""
    from jaxbias.cli import main

    out = tmp_path / "igb.nc"
    assert main(["igb", "--norm", "batch_post", "--bias-var", "0", "--n", "30", "--n-points", "40", "--dim", "8",
                 "--width", "16", "--n-boot", "50", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    ds = jb.load(out)
    assert float(ds["gamma"].squeeze()) == pytest.approx(-1 / 40, rel=0.05) and bool(ds["no_igb"].squeeze())
    assert "0 (none)*" in table and "no guessing bias" in table and "-0.0" not in table
    row = [line for line in table.splitlines() if "0 (none)*" in line][0]
    assert not any(tok.startswith("-") for tok in row.split()[1:])  # no negative gamma or Var(G0) printed


def test_g0_histograms_draw_every_cell(monkeypatch, tmp_path):
    """Issue 20: 12 of 16 cells were drawn and the rest dropped silently."""
    rng = np.random.default_rng(0)
    acts, depths = ["a", "b", "c", "d"], [1, 2, 3, 4]
    shape = (4, 4)
    scalar = {k: (("activation", "depth"), rng.uniform(0.1, 1.0, shape))
              for k in ("gamma", "gamma_low", "gamma_high", "gamma_theory")}
    scalar["gamma_low"] = (("activation", "depth"), scalar["gamma"][1] * 0.5)
    scalar["gamma_high"] = (("activation", "depth"), scalar["gamma"][1] * 2.0)
    ds = xr.Dataset({"g0": (("activation", "depth", "net"), rng.uniform(0, 1, shape + (50,))), **scalar},
                    coords={"activation": acts, "depth": depths, "net": np.arange(50)}, attrs={"n_points": 20})
    figures = _capture(monkeypatch)
    jplot.plot_g0_histograms(ds, tmp_path / "h.png")
    titles = [ax.get_title() for ax in figures[0].axes if ax.axison]
    assert len(titles) == 16 and any("activation=d, depth=4" in t for t in titles)
    with pytest.warns(UserWarning, match="draws 12 of 16 cells"):
        jplot.plot_g0_histograms(ds, tmp_path / "h.png", max_cells=12)
    assert "first 12 of 16 cells" in figures[1]._suptitle.get_text()


def test_phase_diagram_keeps_gamma_le_0_off_the_log_colour_bar(monkeypatch, tmp_path):
    ds = xr.Dataset(
        {"regime": (("activation", "weight_var", "bias_var"), np.zeros((1, 3, 3))),
         "gamma_theory": (("activation", "weight_var", "bias_var"), np.full((1, 3, 3), 0.5)),
         "gamma": (("activation", "measured_weight_var", "measured_bias_var"), np.array([[[-0.001, 0.3]]]))},
        coords={"activation": ["relu"], "weight_var": [1.0, 2.0, 3.0], "bias_var": [0.0, 0.5, 1.0],
                "measured_weight_var": [2.0], "measured_bias_var": [0.0, 0.5]}, attrs={"depth": 3})
    figures = _capture(monkeypatch)
    jplot.plot_igb_phase(ds, tmp_path / "p.png")
    ax = figures[0].axes[0]
    coloured = [c for c in ax.collections if getattr(c, "get_array", lambda: None)() is not None
                and c.get_offsets().shape[0] and c.get_array().size == c.get_offsets().shape[0]]
    assert [list(c.get_array()) for c in coloured] == [[pytest.approx(0.3)]]  # only gamma > 0 is coloured
    texts = [t.get_text() for t in ax.texts]
    assert "0" in texts and not any(t.startswith("-") for t in texts)
