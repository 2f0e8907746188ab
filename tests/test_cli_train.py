"""``jaxbias train`` end to end at tiny size: a complete, loadable result; resume equals an uninterrupted run;
one-line errors; figures."""

import json

import numpy as np
import pytest

import jaxbias as jb
from jaxbias import datasets, io
from jaxbias.cli import main
from jaxbias.training import checkpoints

# 130 steps are three segments of 64: a checkpoint inside the chunk can be written and resumed from.
TINY = ["train", "--width", "8", "--depth", "1", "--n", "4", "--steps", "130", "--batch-size", "16",
        "--dataset", "gaussian-mixture:3:2:64:32", "--record", "6", "--quiet"]


def test_train_writes_a_complete_result_and_figures(tmp_path):
    out, figures = tmp_path / "r.nc", tmp_path / "figs"
    rc = main(TINY + ["--lr-sweep", "0.05", "0.5", "--momentum", "0.9", "--ntk-points", "8",
                      "--measures", "mean_frequency", "class_fractions", "--probe", "grid:2:8",
                      "--out", str(out), "--figures", str(figures), "--key", "3"])
    assert rc == 0 and out.exists() and not (tmp_path / "r.nc.ckpt").exists()
    ds = jb.load(out)
    for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "param_distance", "ntk_distance",
                 "mean_frequency", "class_fractions"):
        assert ds[name].dims[:2] == ("net", "step") and ds.sizes["net"] == 4
    assert ds["learning_rate"].values.tolist() == pytest.approx([0.05, 0.05, 0.5, 0.5])
    assert ds["step"].values[0] == 0 and ds["step"].values[-1] == 130
    config = jb.io.config_of(ds)
    assert jb.io.net_of(ds) == jb.nets.MLP(8, 1, "tanh", out=3)
    assert config["optimizer"] == {"name": "sgd", "hyperparams": {"learning_rate": 0.05, "momentum": 0.9}}
    assert config["data"]["name"] == "gaussian_mixture" and config["data"]["n_train"] == 64
    assert config["steps"] == 130 and config["batch_size"] == 16 and config["n"] == 4 and ds.attrs["key"] == 3
    assert config["ntk_points"] == 8 and config["measures"] == ["mean_frequency", "class_fractions"]
    assert config["command"]["dataset"] == "gaussian-mixture:3:2:64:32"
    assert config["command"]["lr_sweep"] == [0.05, 0.5] and config["command"]["probe"] == "grid:2:8"
    # The config rebuilds the data set: the fingerprint matches.
    data = datasets.gaussian_mixture(n_classes=3, dim=2, n_train=64, n_test=32, key=config["command"]["data_key"])
    assert config["data"]["sha256"] == data.fingerprint
    assert (figures / "curves.png").stat().st_size > 10_000 and (figures / "measures.png").stat().st_size > 10_000


def test_resume_writes_the_same_file_as_an_uninterrupted_run(tmp_path, monkeypatch):
    args = TINY + ["--checkpoint-every", "0"]
    assert main(args + ["--out", str(tmp_path / "a.nc")]) == 0

    save = checkpoints.Store.save

    def save_then_die(self, progress):
        save(self, progress)
        raise KeyboardInterrupt  # killed right after the first checkpoint (inside the chunk: segment 1 of 3)

    monkeypatch.setattr(checkpoints.Store, "save", save_then_die)
    b = tmp_path / "b.nc"
    assert main(args + ["--out", str(b)]) == 130
    assert (tmp_path / "b.nc.ckpt").exists() and not b.exists()
    monkeypatch.setattr(checkpoints.Store, "save", save)
    assert main(args + ["--out", str(b)]) == 2  # a checkpoint is there: --resume or remove it
    assert main(args + ["--out", str(b), "--resume"]) == 0
    assert not (tmp_path / "b.nc.ckpt").exists()
    assert io.content_bytes(b) == io.content_bytes(tmp_path / "a.nc")  # the same file but for its provenance


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0"], "--n 0"),
        (["--dataset", "nope"], "--dataset nope: unknown data set"),
        (["--dataset", "gaussian-mixture:x"], "K='x'"),
        (["--dataset", "mnist:/nonexistent-dir"], "/nonexistent-dir"),
        (["--optimizer", "nope"], "name='nope'"),
        (["--measures", "mean_frequency", "--probe", "test"], "needs a grid probe"),
        (["--probe", "grid:2:8"], "give --measures"),
        (["--lr-sweep", "0.1", "0.1"], "values repeat"),
        (["--out-dim", "2"], "needs 3 output(s)"),
        (["--batch-size", "1000"], "batch_size=1000"),
        (["--out", "/nonexistent-dir/r.nc"], "/nonexistent-dir"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys, args, message):
    rc = main(TINY + ["--out", str(tmp_path / "r.nc")] + args)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("jaxbias: error:") and message in err and "\n" not in err


def test_checkpoint_of_other_arguments_is_refused(tmp_path, capsys):
    ckpt = tmp_path / "r.nc.ckpt"
    checkpoints.Store(ckpt, json.dumps({"config": "{}", "key": 0})).save(checkpoints.Progress(1, 0, None, [], None))
    rc = main(TINY + ["--out", str(tmp_path / "r.nc"), "--resume"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "belongs to a run with other arguments" in err and "\n" not in err
    assert ckpt.exists()


def test_dataset_specs():
    from jaxbias.commands.train import learning_rates, parse_dataset

    assert parse_dataset("digits:0,1").n_classes == 2
    parity = parse_dataset("parity:4")
    assert parity.input_shape == (4,) and set(np.unique(parity.x_train)) == {-1.0, 1.0}
    assert parse_dataset("majority:3:01").x_train.min() == 0.0
    assert parse_dataset("sinusoids:2:16:8:1,5").describe()["attrs"]["frequencies"] == [1.0, 5.0]
    teacher = parse_dataset("teacher:3:16:8", teacher_net=jb.nets.MLP(8, 1, "relu"))
    assert teacher.task == "regression" and teacher.input_shape == (3,)
    assert learning_rates([1.0, 2.0, 3.0], 7).tolist() == [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
