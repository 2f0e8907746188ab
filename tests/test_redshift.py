"""The redshift experiment: scale sweep equals separately built nets, statistics, trends, the CLI."""

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.cli import main
from jaxbias.experiments import redshift, redshift_cell, scaled_net, unit_scale_mlp

X = jb.inputs.grid(2, 8)


@pytest.mark.parametrize("kind, scales", [("weight_var", (0.5, 3.0)), ("absolute", (0.2, 1.5))])
def test_scaled_net_equals_nets_built_at_each_scale(kind, scales):
    law = "absolute(1)" if kind == "absolute" else "normal"
    base = jb.nets.mlp(8, 2, "tanh", weight_var=1.0, bias_var=0.3, weight_law=law)
    y = jb.sample(scaled_net(base, scales, kind), X, n=4, key=2, progress=False)
    for j, s in enumerate(scales):
        net = (jb.nets.mlp(8, 2, "tanh", weight_law=f"absolute({s})") if kind == "absolute"
               else jb.nets.mlp(8, 2, "tanh", weight_var=s, bias_var=0.3))
        np.testing.assert_allclose(y[..., j], jb.sample(net, X, n=4, key=2, progress=False)[..., 0], rtol=2e-5,
                                   atol=1e-6)


def test_scaled_net_needs_a_unit_scale_net():
    with pytest.raises(ValueError, match="weight_var=1"):
        scaled_net(jb.nets.mlp(8, 2, "tanh", weight_var=2.0), (1.0, 2.0))
    with pytest.raises(ValueError, match="absolute"):
        scaled_net(jb.nets.mlp(8, 2, "tanh"), (1.0, 2.0), "absolute")
    with pytest.raises(ValueError, match="scale_kind='sideways'"):
        scaled_net(jb.nets.mlp(8, 2, "tanh"), (1.0,), "sideways")


def test_cell_scores_every_network_and_summarizes_them():
    scales = (0.5, 8.0)
    ds = redshift_cell(unit_scale_mlp("tanh", 2, width=8), scales, n=6, resolution=8, key=1,
                       measures=("mean_frequency", "lz"), progress=False)
    assert ds["mean_frequency"].dims == ("scale", "net") and ds["mean_frequency"].shape == (2, 6)
    for j, s in enumerate(scales):  # independent path: sample the outputs, score them on the host
        y = jb.sample(jb.nets.mlp(8, 2, "tanh", weight_var=s, bias_var=0.1), X, n=6, key=1, progress=False)
        ref = [float(jb.measures.mean_frequency(f.reshape(8, 8))) for f in y[..., 0]]
        np.testing.assert_allclose(ds["mean_frequency"].values[j], ref, rtol=1e-4, atol=1e-6)
    v = ds["mean_frequency"].values.astype(np.float64)
    half = 1.959964 * v.std(1, ddof=1) / np.sqrt(6)
    np.testing.assert_allclose(ds["mean_frequency_mean"], v.mean(1), rtol=1e-12)
    np.testing.assert_allclose(ds["mean_frequency_ci_high"] - ds["mean_frequency_ci_low"], 2 * half, rtol=1e-5)
    assert ds.attrs["scale_kind"] == "weight_var" and "C_W" in ds.attrs["scale_meaning"]


def test_near_constant_networks_are_counted_and_scored_as_constants():
    ds = redshift_cell(jb.nets.MLP(16, 10, "sigmoid"), (0.3, 4.0), n=8, resolution=8, progress=False)
    y = jb.sample(jb.nets.mlp(16, 10, "sigmoid", weight_var=0.3, bias_var=0.0), X, n=8, progress=False)[..., 0]
    y = y.astype(np.float64)
    flat = np.ptp(y, axis=1) <= 64 * np.finfo(np.float32).eps * np.abs(y).max(1)  # the threshold, in numpy
    assert flat.all() and int(ds["near_constant_count"].sel(scale=0.3)) == 8
    assert (ds["mean_frequency"].sel(scale=0.3) == 0).all()
    assert int(ds["near_constant_count"].sel(scale=4.0)) == 0


@pytest.mark.slow
def test_trends_relu_flat_tanh_rises_with_scale_and_depth(tmp_path):
    """Teney et al. 2024, Fig. 2: ReLU stays low whatever the scale; tanh climbs with scale and depth."""
    ds = redshift(tmp_path / "r.nc", activations=("relu", "tanh"), depths=(1, 6), scales=(0.5, 32.0), widths=(32,),
                  n=16, resolution=32, progress=False)
    assert ds["mean_frequency"].dims == ("activation", "depth", "scale", "net")
    mean, std = ds["mean_frequency_mean"], ds["mean_frequency_std"]
    se = lambda a, d, s: float(std.sel(activation=a, depth=d, scale=s)) / 4.0  # noqa: E731 (n = 16)
    for d in (1, 6):
        lo, hi = (float(mean.sel(activation="relu", depth=d, scale=s)) for s in (0.5, 32.0))
        assert abs(hi - lo) < 5 * np.hypot(se("relu", d, 0.5), se("relu", d, 32.0)) + 0.01
    t = lambda d, s: float(mean.sel(activation="tanh", depth=d, scale=s))  # noqa: E731
    assert t(6, 32.0) - t(6, 0.5) > 5 * np.hypot(se("tanh", 6, 32.0), se("tanh", 6, 0.5))
    assert t(6, 32.0) - t(1, 32.0) > 5 * np.hypot(se("tanh", 6, 32.0), se("tanh", 1, 32.0))
    assert ds.attrs["ramp_mean_frequency"] < t(6, 32.0) < ds.attrs["noise_mean_frequency"]


def test_cli_writes_results_and_figures(tmp_path, capsys):
    out = tmp_path / "r.nc"
    rc = main(["redshift", "--activation", "tanh", "--depth", "2", "--scale", "1", "4", "--width", "8",
               "--n", "4", "--resolution", "8", "--out", str(out), "--residual", "off", "on",
               "--measure", "mean_frequency", "mean_frequency_redshift_code"])
    assert rc == 0
    ds = jb.load(out)
    assert ds["mean_frequency"].dims == ("activation", "depth", "residual", "scale", "net")
    nr = ds["mean_frequency_redshift_code"].values
    assert ((nr >= 0) & (nr <= 1)).all() and "noise_mean_frequency_redshift_code" in ds.attrs
    for suffix in ("heatmaps", "curves"):
        assert (tmp_path / f"r_{suffix}.png").stat().st_size > 5000
    text = capsys.readouterr().out
    assert "ramp" in text and "white noise" in text and "tanh" in text


def test_cell_takes_the_spec_and_stores_it():
    net = jb.nets.MLP(8, 2, "tanh", bias_var=0.1, weight_law="absolute(1)", norm="layer_pre")
    ds = redshift_cell(net, (0.5, 2.0), scale_kind="absolute", n=3, resolution=8, progress=False)
    assert jb.io.net_of(ds) == net == unit_scale_mlp("tanh", 2, scale_kind="absolute", width=8, norm="layer_pre")
    with pytest.raises(ValueError, match="weight_var=1"):
        redshift_cell(jb.nets.MLP(8, 2, "tanh", weight_var=2.0), (1.0,), n=2, resolution=8)


def test_cli_norm_is_the_spec_spelling(tmp_path):
    out = tmp_path / "r.nc"
    assert main(["redshift", "--activation", "relu", "--depth", "2", "--scale", "1", "--width", "8", "--n", "3",
                 "--resolution", "8", "--norm", "none", "layer_post", "--no-plot", "--quiet", "--out", str(out)]) == 0
    ds = jb.load(out)
    assert list(ds["norm"].values) == ["none", "layer_post"]
    # the command's defaults: C_b = 0 and the Hann window
    cell = redshift_cell(unit_scale_mlp("relu", 2, width=8, norm="layer_post", bias_var=0.0), (1.0,), n=3,
                         resolution=8, window="hann", progress=False)
    np.testing.assert_array_equal(ds["mean_frequency"].sel(norm="layer_post").squeeze().values,
                                  cell["mean_frequency"].squeeze().values)


@pytest.mark.parametrize("args, message", [
    (["--scale", "-1"], "scales="),
    (["--activation", "nope"], "activation='nope'"),
    (["--scale-kind", "absolute", "--weight-law", "uniform"], "weight_law='uniform'"),
    (["--depth", "2", "2"], "values repeat"),
    (["--n", "0"], "--n 0"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, message):
    rc = main(["redshift", "--n", "2", "--resolution", "4", "--out", str(tmp_path / "r.nc"), "--quiet"] + args)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("jaxbias: error:") and message in err and "\n" not in err



def test_overflowing_networks_are_counted_and_left_out_of_the_statistics():
    """Issue 20: networks whose outputs overflow (C_W = 1e30 over 6 ReLU layers: ~1e90 > float32's 3e38)
    are counted in ``non_finite_count`` and left out of the cell's mean, not scored as constants."""
    ds = redshift_cell(unit_scale_mlp("relu", 6, width=8), (1.0, 1e30), n=5, resolution=8, key=3, progress=False)
    y = jb.sample(jb.nets.mlp(8, 6, "relu", weight_var=1e30, bias_var=0.1), X, n=5, key=3, progress=False)[..., 0]
    bad = ~np.isfinite(y).all(1)  # independent: which sampled networks overflowed
    assert bad.any()
    assert ds["non_finite"].sel(scale=1e30).values.tolist() == bad.tolist()
    assert int(ds["non_finite_count"].sel(scale=1e30)) == bad.sum()
    assert np.isnan(ds["mean_frequency"].sel(scale=1e30).values[bad]).all()
    good = ds["mean_frequency"].sel(scale=1e30).values[~bad].astype(np.float64)
    if good.size:
        np.testing.assert_allclose(float(ds["mean_frequency_mean"].sel(scale=1e30)), good.mean(), rtol=1e-12)
    assert int(ds["non_finite_count"].sel(scale=1.0)) == 0


def test_cell_statistics_skip_unscored_networks():
    from jaxbias.experiments.redshift import cell_statistics

    s = cell_statistics(np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]]), "m")
    # hand-computed over [1, 3]: mean 2, std sqrt(2), half width 1.959964 * sqrt(2) / sqrt(2)
    np.testing.assert_allclose(s["m_mean"][0], 2.0)
    np.testing.assert_allclose(s["m_std"][0], np.sqrt(2.0))
    np.testing.assert_allclose(s["m_ci_high"][0] - s["m_mean"][0], 1.959963984540054, rtol=1e-12)
    assert np.isnan(s["m_mean"][1]) and np.isnan(s["m_std"][1])
