"""The quickstart's redshift figure shows the paper's finding and says how it was measured (issue 20)."""

import numpy as np

import jaxbias.plot_complexity as pc
from jaxbias.cli import _parser
from jaxbias.experiments import redshift


def test_quickstart_defaults_use_the_hann_window():
    args = _parser().parse_args(["redshift"])
    assert args.window == "hann" and args.scale_kind == "weight_var"


def _titles(monkeypatch, ds, measure):
    figures = []
    monkeypatch.setattr(pc, "save_figure", lambda fig, path: figures.append(fig) or path)
    pc.plot_redshift_heatmaps(ds, "h.png", measure=measure)
    pc.plot_redshift_curves(ds, "c.png", measure=measure)
    return [fig._suptitle.get_text() for fig in figures]


def test_figures_state_window_and_scale_kind(monkeypatch, tmp_path):
    ds = redshift(tmp_path / "r.nc", activations=("tanh",), depths=(1,), scales=(1.0, 4.0), widths=(8,), n=3,
                  resolution=8, window="hann", measures=("mean_frequency", "lz"), progress=False)
    for title in _titles(monkeypatch, ds, "mean_frequency"):
        assert "Fourier window: hann" in title and "scale kind weight_var" in title
    for title in _titles(monkeypatch, ds, "lz"):  # the window plays no part in LZ
        assert "window" not in title and "scale kind weight_var" in title
    ds = redshift(tmp_path / "a.nc", activations=("tanh",), depths=(1,), scales=(0.5, 2.0), widths=(8,), n=3,
                  resolution=8, scale_kind="absolute", progress=False)
    for title in _titles(monkeypatch, ds, "mean_frequency"):
        assert "Fourier window: none" in title and "scale kind absolute" in title


def test_hann_separates_tanh_from_relu_where_no_window_crowds_them(tmp_path):
    """The finding the quickstart's figure must show: with the Hann window deep tanh climbs far above ReLU and
    the ramp floor with scale; without a window the grid's edges lift every function near the ramp's score."""
    common = dict(activations=("relu", "tanh"), depths=(4,), scales=(1.0, 16.0), widths=(32,), n=8, resolution=32,
                  progress=False)
    hann = redshift(tmp_path / "h.nc", window="hann", **common)
    none = redshift(tmp_path / "n.nc", window=None, **common)
    m = hann["mean_frequency_mean"].sel(depth=4)
    tanh_rise = float(m.sel(activation="tanh", scale=16.0) - m.sel(activation="tanh", scale=1.0))
    assert tanh_rise > 0.1
    assert float(m.sel(activation="tanh", scale=16.0)) > 1.5 * float(m.sel(activation="relu", scale=16.0))
    # the ramp floor sits far lower with the window (the reference is the ramp's own score, a closed-form input)
    assert hann.attrs["ramp_mean_frequency"] < 0.5 * none.attrs["ramp_mean_frequency"]
    assert np.isfinite(none["mean_frequency_mean"]).all()
