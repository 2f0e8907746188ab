"""``jaxbias inductive-bias`` and ``jaxbias task-difficulty`` end to end at tiny size; bad input is one line."""

import numpy as np
import pytest

import jaxbias as jb
from jaxbias import datasets
from jaxbias.cli import main
from jaxbias.experiments.inductive_bias import RBF, inductive_bias

MIX = ["--dataset", "gaussian-mixture:2:3:24:16"]


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # the quadrature's own, reported as error
def test_kernel_mode_writes_the_result_the_library_computes(tmp_path, capsys):
    out, figures = tmp_path / "ib.nc", tmp_path / "figs"
    rc = main(["inductive-bias", *MIX, "--kernel", "rbf:2", "--epsilon", "0.05", "0.3", "4", "--methods",
               "inversion", "chernoff", "--n-train-sizes", "8", "24", "--out", str(out), "--figures", str(figures)])
    assert rc == 0
    ds = jb.load(out)
    assert ds["bits"].dims == ("epsilon", "tail_method") and ds.sizes["epsilon"] == 4
    np.testing.assert_allclose(ds["epsilon"].values, np.geomspace(0.05, 0.3, 4))
    data = datasets.gaussian_mixture(n_classes=2, dim=3, n_train=24, n_test=16, key=0)
    ref = inductive_bias(data, RBF(2.0), np.geomspace(0.05, 0.3, 4), methods=("inversion", "chernoff"))
    np.testing.assert_allclose(ds["bits"].values, ref["bits"].values)
    config = jb.io.config_of(ds)
    assert config["kernel"] == "rbf" and config["command"]["dataset"] == "gaussian-mixture:2:3:24:16"
    per_n = jb.load(tmp_path / "ib.n_train.nc")
    assert per_n["n_train"].values.tolist() == [8, 24]
    assert (figures / "bits_vs_epsilon.png").exists() and (figures / "bits_vs_n_train.png").exists()
    assert "inversion" in capsys.readouterr().out


def test_network_mode_end_to_end(tmp_path):
    out, figures = tmp_path / "net.nc", tmp_path / "figs"
    rc = main(["inductive-bias", "--mode", "network", *MIX, "--width", "8", "--depth", "1", "--n", "12",
               "--steps", "20", "--epsilon", "0.2", "2", "3", "--min-count", "2", "--out", str(out),
               "--figures", str(figures), "--quiet"])
    assert rc == 0
    ds = jb.load(out)
    assert ds.sizes["net"] == 12 and ds["test_mse"].dims == ("net",)
    assert set(ds["estimate"].values) <= {"empirical", "extrapolation", "bound"}
    assert jb.io.config_of(ds)["error"] == "mse" and (figures / "bits_vs_epsilon.png").exists()


def test_task_difficulty_and_the_paper_table(tmp_path, capsys):
    out = tmp_path / "td.nc"
    assert main(["task-difficulty", "--dataset", "digits:0,1", "--n-boot", "5", "--eps", "0.01", "--out",
                 str(out)]) == 0
    ds = jb.load(out)
    assert ds["eps"].values.tolist() == [0.01] and float(ds["m"]) > 1
    assert main(["task-difficulty", "--paper-table", "--out", str(tmp_path / "p.nc")]) == 0
    assert jb.load(tmp_path / "p.nc")["dataset"].values.tolist() == ["MNIST", "SVHN", "CIFAR10", "ImageNet"]
    assert "MNIST" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["inductive-bias", "--epsilon", "0", "1"], "--epsilon 0 1: expected one value or LO HI"),
    (["inductive-bias", "--epsilon", "-0.1"], "--epsilon -0.1"),
    (["inductive-bias", "--epsilon", "0.5", "0.1"], "expected LO <= HI"),
    (["inductive-bias", "--kernel", "rbf:-1"], "--kernel rbf:-1"),
    (["inductive-bias", "--kernel", "laplace"], "--kernel laplace: unknown kernel"),
    (["inductive-bias", "--dataset", "nope"], "--dataset nope: unknown data set"),
    (["inductive-bias", "--mode", "network", "--n-train-sizes", "4"], "kernel mode only"),
    (["inductive-bias", *MIX, "--kernel", "rbf:1", "--out-dim", "3", "--mode", "network", "--n", "2", "--steps",
      "1"], "net with 3 outputs: the data's targets have 2 columns"),
    (["task-difficulty", "--eps", "0"], "eps"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    assert main(argv + ["--out", str(tmp_path / "x.nc")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxbias: error: ") and err.count("\n") == 1 and message in err
