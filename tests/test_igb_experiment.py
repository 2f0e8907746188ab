"""IGB measured on sampled networks against the theory, within 5 bootstrap standard errors; the CLI."""

import math

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.cli import main
from jaxbias.experiments import igb

N, POINTS, DIM, WIDTH = 600, 200, 64, 256
X = igb.igb_inputs("blobs", POINTS, DIM, 0.0, key=1)


@pytest.fixture(scope="module")
def relu_cell():
    return _cell()


def _cell(x=X, n=N, **options):
    net = igb.igb_net(**{"activation": "relu", "depth": 1, "width": WIDTH, **options})
    return igb.igb_cell(net, x, n=n, key=2, n_boot=400)


def _close(ds, k=5.0):
    """|gamma_hat - gamma_theory| within k bootstrap standard errors (interval half-width / 1.96)."""
    se = (float(ds["gamma_high"]) - float(ds["gamma_low"])) / (2 * 1.96)
    return abs(float(ds["gamma"]) - float(ds["gamma_theory"])) <= k * se, (float(ds["gamma"]), float(
        ds["gamma_theory"]), se)


def test_one_hidden_layer_relu_matches_theory_and_its_law(relu_cell):
    ds = relu_cell
    ok, info = _close(ds)
    assert ok, info
    assert 0.3 < float(ds["gamma_theory"]) < 0.6  # E[relu]^2 / Var[relu] = 0.467 for centred inputs
    assert float(ds["ks_pvalue"]) > 1e-3
    assert ds["fractions"].shape == (N, 2) and ds["out_mean"].shape == (N, 1)
    np.testing.assert_array_equal(ds["g0_hist"], np.histogram(ds["g0"], bins=20, range=(0, 1))[0])


def test_odd_activation_has_no_bias_beyond_binomial_noise():
    ds = _cell(activation="tanh")
    # Var(G_0) with the binomial noise 1/(4 n) removed is zero within its interval
    assert float(ds["var_g0_low"]) <= 0.0 <= float(ds["var_g0_high"]) or abs(float(ds["var_g0"])) < 1e-3
    assert abs(float(ds["gamma"])) < 0.02 and abs(float(ds["gamma_theory"])) < 0.01
    assert float(ds["max_g"]) < 0.5 + 3 * math.sqrt(0.25 / POINTS)


def test_max_pooling_raises_gamma_as_predicted(relu_cell):
    plain, pooled = relu_cell, _cell(pool="max(2)")
    ok, info = _close(pooled)
    assert ok, info
    assert float(pooled["gamma_theory"]) > float(plain["gamma_theory"])
    assert float(pooled["gamma_low"]) > float(plain["gamma_high"])


def test_input_mean_matches_theory():
    x = igb.igb_inputs("blobs", POINTS, DIM, 0.7, key=1)
    ds = _cell(x, activation="tanh")
    ok, info = _close(ds)
    assert ok, info
    assert float(ds["gamma_theory"]) > 0.3  # the mean alone makes an odd activation biased


@pytest.mark.slow
def test_batch_norm_after_the_activation_leaves_only_the_readout_bias():
    ds = _cell(norm="batch_post", weight_var=2.0, bias_var=0.5)
    assert float(ds["gamma_theory"]) == pytest.approx(0.25)  # C_b / C_W
    ok, info = _close(ds)
    assert ok, info


def test_cli_writes_dataset_histograms_and_table(tmp_path, capsys):
    out, png = tmp_path / "igb.nc", tmp_path / "igb.png"
    rc = main(["igb", "--activation", "tanh", "relu", "--n", "40", "--n-points", "50", "--dim", "16", "--width", "32",
               "--n-boot", "50", "--out", str(out), "--plot", str(png), "--key", "3"])
    assert rc == 0 and png.stat().st_size > 5000
    ds = jb.load(out)
    assert ds["g0"].dims == ("activation", "net") and ds["gamma"].dims == ("activation",)
    table = capsys.readouterr().out
    assert "activation=relu" in table and "gamma" in table
    # the per-net fractions are those of the engine run with the same key (network i = fold_in(key, i))
    x = igb.igb_inputs("blobs", 50, 16, 0.0, key=3)
    direct = jb.reduce(jb.nets.mlp(32, 1, "relu"), x, n=40, key=3, stat=jb.measures.guessing_stats, progress=False)
    np.testing.assert_allclose(ds["g0"].sel(activation="relu").values, direct.g0)


def test_cli_pool_is_the_spec_spelling(tmp_path):
    out = tmp_path / "igb.nc"
    assert main(["igb", "--pool", "none", "max(2)", "--n", "8", "--n-points", "20", "--dim", "8", "--width", "16",
                 "--n-boot", "10", "--out", str(out), "--quiet"]) == 0
    ds = jb.load(out)
    assert ds["gamma"].dims == ("pool",) and list(ds["pool"].values) == ["none", "max(2)"]
    x = igb.igb_inputs("blobs", 20, 8, 0.0, key=0)
    direct = jb.reduce(jb.nets.MLP(16, 1, "relu", pool="max(2)"), x, n=8, key=0, stat=jb.measures.guessing_stats,
                       progress=False)
    np.testing.assert_allclose(ds["g0"].sel(pool="max(2)").values, direct.g0)


def test_net_and_cell_arguments():
    assert igb.igb_net(activation="tanh", depth=2, width=8, pool="avg", norm="none") == jb.nets.MLP(
        8, 2, "tanh", pool="avg(2)")
    with pytest.raises(ValueError, match="norm='sideways'"):
        igb.igb_net(norm="sideways")
    with pytest.raises(ValueError, match="pool='min"):
        igb.igb_net(pool="min(2)")
    with pytest.raises(ValueError, match="confidence=1.5"):
        igb.igb_cell(igb.igb_net(width=8), X[:10], n=4, confidence=1.5)


@pytest.mark.parametrize("args, message", [
    (["--norm", "sideways"], "--norm"),
    (["--pool", "max(3)"], "pool='max(3)'"),
    (["--n", "1"], "--n 1"),
    (["--activation", "nope"], "activation='nope'"),
    (["--inputs", "cifar"], "inputs='cifar'"),
    (["--depth", "2", "2"], "values repeat"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, message):
    base = ["igb", "--n", "4", "--n-points", "8", "--dim", "4", "--width", "8", "--out", str(tmp_path / "r.nc"),
            "--quiet"]
    try:
        rc = main(base + args)
    except SystemExit as e:  # argparse choices
        rc = e.code
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err


def _finite_width_rows(x, n, depths, average="moments", **options):
    """Per depth: measured gamma, its bootstrap standard error, infinite-width and leading-1/n predictions
    (and the infinite-width gamma of the averaged moments, ``predict_gamma``)."""
    rows = []
    for depth in depths:
        net = igb.igb_net(depth=depth, **options)
        ds = igb.igb_cell(net, x, n=n, key=5, n_boot=300)
        pred = jb.theory.predict_gamma_finite_width(net, x, average=average)
        se = (float(ds["gamma_high"]) - float(ds["gamma_low"])) / (2 * 1.96)
        if average == "moments":
            assert pred.gamma_inf == pytest.approx(float(ds["gamma_theory"]), rel=1e-4)  # same infinite-width value
        rows.append((float(ds["gamma"]), se, pred.gamma_inf, pred.gamma, float(ds["gamma_theory"])))
    return rows


@pytest.mark.slow
def test_finite_width_relu_gamma_falls_as_the_mean_shift_predicts():
    # gamma_hat estimates Qo / (Qd - Qo) with Q = E_init f f the kernel at the actual width: K + K1/n
    # (jaxbias.theory.predict_gamma_finite_width). Depth 1: no shift (one average over iid units). Deeper,
    # relu's K1 of the pair entry is negative: gamma falls below the infinite-width value, more so with depth.
    x = igb.igb_inputs("blobs", POINTS, 256, 0.0, key=1)
    (g1, se1, inf1, fin1, _), (g4, se4, inf4, fin4, _) = _finite_width_rows(x, 3000, (1, 4), activation="relu",
                                                                            width=32)
    assert fin1 == pytest.approx(inf1, rel=1e-6) and abs(g1 - fin1) < 3 * se1
    assert fin4 < inf4 and abs(g4 - fin4) < 3 * se4  # the leading-order prediction, within its interval
    assert inf4 - g4 > 3 * se4 and (inf4 - fin4) / inf4 > 0.1  # the fall is significant and about 14%


@pytest.mark.slow
def test_finite_width_tanh_with_bias_gamma_rises_as_predicted():
    # tanh with a bias: the shift of the pair entry is positive relative to the diagonal's, so gamma rises
    # above the infinite-width value (the rise SCIENCE.md section 2 states), more so with depth.
    x = igb.igb_inputs("blobs", POINTS, 256, 0.0, key=1)
    rows = _finite_width_rows(x, 4000, (4, 8), activation="tanh", width=16, weight_var=3.0, bias_var=0.3)
    for g, se, inf, fin, _ in rows:
        assert fin > inf and abs(g - fin) < 3 * se
    (_, _, inf4, fin4, _), (g8, se8, inf8, fin8, _) = rows
    assert g8 - inf8 > 3 * se8 and (fin8 - inf8) / inf8 > (fin4 - inf4) / inf4


@pytest.mark.slow
def test_small_input_dimension_lowers_relu_gamma_through_the_pair_average():
    # d0 = 8 against width 128: the points' norms and overlaps spread, so the kernel averaged over the actual
    # pairs (average="pairs") is below that of the averaged moments (predict_gamma); the 1/n shift lowers it more
    x = igb.igb_inputs("blobs", POINTS, 8, 0.0, key=1)
    ((g, se, inf, fin, moments),) = _finite_width_rows(x, 2000, (4,), average="pairs", activation="relu", width=128)
    assert fin < inf < moments and abs(g - fin) < 3 * se and moments - g > 3 * se


@pytest.mark.slow
def test_ten_digit_classes_match_multiclass_theory():
    x = igb.igb_inputs("digits")
    ds = igb.igb_cell(igb.igb_net(activation="relu", depth=1, width=512, out=10), x, n=1000, key=4, n_boot=300)
    assert ds["fractions"].shape == (1000, 10)
    lo, hi = float(ds["max_g_low"]), float(ds["max_g_high"])
    half = (hi - lo) / 2
    assert abs(float(ds["max_g"]) - float(ds["max_g_theory"])) < 2.5 * half + 0.02


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["none", "batch_post"])
def test_cnn_cells_measure_without_theory(norm):
    x, _ = jb.inputs.digits(classes=(0, 1))
    net = igb.igb_net(arch="cnn", activation="relu", depth=2, width=8, pool="max(2)", norm=norm)
    ds = igb.igb_cell(net, np.asarray(x).reshape(-1, 8, 8, 1), n=100, n_boot=100)
    assert math.isnan(float(ds["gamma_theory"])) and math.isfinite(float(ds["gamma"]))


def test_phase_diagram_shows_its_own_progress_and_matches_its_theory(capsys):
    ds = igb.phase_dataset(("relu",), weight_vars=[1.0, 2.0], bias_vars=[0.0, 0.5], depth=1,
                           measured_weight_vars=(2.0,), measured_bias_vars=(0.0,), n=64, width=32, n_points=50,
                           dim=8, n_boot=50, progress=True)
    err = capsys.readouterr().err
    assert "phase diagram" in err and "2/2" in err, err  # one theory panel and one measured cell
    point = ds.sel(activation="relu", measured_weight_var=2.0, measured_bias_var=0.0)
    theory = ds["gamma_theory"].sel(activation="relu", weight_var=2.0, bias_var=0.0)
    np.testing.assert_allclose(point["gamma_point_theory"], theory, rtol=1e-6)
