"""The jaxbias command end to end: files written, contents equal to the Python API, one-line errors."""

import subprocess
import sys

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.cli import main


def test_sample_writes_results_and_plot(tmp_path):
    out, png = tmp_path / "r.nc", tmp_path / "f.png"
    rc = main(["sample", "--width", "16", "--depth", "2", "--activation", "tanh", "--n", "12",
               "--inputs", "grid:2:8", "--out", str(out), "--plot", str(png), "--quiet", "--key", "3"])
    assert rc == 0 and out.exists() and png.stat().st_size > 1000
    ds = jb.load(out)
    assert ds["outputs"].dims == ("net", "point", "out") and ds["outputs"].shape == (12, 64, 1)
    config = jb.io.config_of(ds)
    assert config["net"]["width"] == [16, 16] and config["run"]["n"] == 12 and ds.attrs["key"] == 3
    net = jb.io.net_of(ds)  # the file says how to regenerate itself
    assert net == jb.nets.MLP(16, 2, "tanh")
    expected = jb.sample(net, jb.inputs.grid(2, 8), n=12, key=3, progress=False)
    np.testing.assert_allclose(ds["outputs"].values, expected, rtol=1e-6)


def test_sweep_has_one_dim_per_swept_option(tmp_path):
    args = ["sample", "--width", "8", "--depth", "1", "2", "--activation", "relu", "tanh", "--n", "4",
            "--inputs", "grid:1:16", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "a.nc"), "--plot", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 1000
    ds = jb.load(tmp_path / "a.nc")
    assert ds["outputs"].dims == ("depth", "activation", "net", "point", "out")
    assert ds["x"].dims == ("point", "feature")  # inputs stored once, not per cell
    np.testing.assert_array_equal(ds["x"].values[:, 0], np.asarray(jb.inputs.grid(1, 16))[:, 0])
    np.testing.assert_array_equal(
        ds["outputs"].sel(depth=2, activation="tanh").values,
        jb.sample(jb.nets.mlp(8, 2, "tanh"), jb.inputs.grid(1, 16), n=4, key=0, progress=False),
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0"], "--n 0"),
        (["--activation", "nope"], "activation='nope'"),
        (["--weight-var", "-1"], "weight_var=-1.0"),
        (["--weight-law", "sparse(3)"], "weight_law='sparse(3)'"),
        (["--inputs", "grid:2"], "grid:2"),
        (["--out", "/nonexistent-dir/r.nc"], "/nonexistent-dir"),
        (["--memory-budget", "10"], "too small for one network"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys, args, message):
    base = ["sample", "--n", "2", "--inputs", "grid:2:4", "--out", str(tmp_path / "r.nc"), "--quiet"]
    rc = main(base + args)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("jaxbias: error:") and message in err and "\n" not in err


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, "-m", "jaxbias.cli", "sample", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for option in ["--arch", "--width", "--depth", "--activation", "--weight-var", "--bias-var", "--weight-law",
                   "--parameterization", "--n", "--inputs", "--out", "--plot", "--resume", "--chunk-size",
                   "--memory-budget", "--quiet", "--coordinator"]:
        assert option in out


def test_bugs_keep_their_traceback(monkeypatch):
    """Only bad input (ValueError, OSError) becomes a one-line message; a programming error propagates."""
    import jaxbias.commands.info as info

    def broken(args):
        raise TypeError("a bug, not bad input")

    monkeypatch.setattr(info, "run", broken)
    with pytest.raises(TypeError, match="a bug"):
        main(["info"])
