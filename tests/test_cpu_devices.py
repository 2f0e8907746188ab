"""use_cpu_devices and --cpu-devices: the host as several XLA devices, the same networks on any count."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.cli import main


def _fresh_env():
    """The environment of a new process without this suite's 8 forced host devices."""
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    return env


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "all"])
def test_bad_count(n):
    with pytest.raises(ValueError, match=f"n={n!r}"):
        jb.use_cpu_devices(n)


def test_after_jax_started_the_count_is_fixed():
    have = len(jax.devices("cpu"))  # 8 in this suite (tests/conftest.py)
    assert jb.use_cpu_devices(have) == have
    with pytest.raises(RuntimeError, match="right after import"):
        jb.use_cpu_devices(have + 1)


def test_sets_the_count_in_a_new_process():
    code = "import jaxbias as jb; n = jb.use_cpu_devices(3); import jax; print(n, len(jax.devices()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_fresh_env())
    assert out.stdout.split() == ["3", "3"]


def test_cli_flag_sets_the_count():
    out = subprocess.run([sys.executable, "-m", "jaxbias.cli", "info", "--cpu-devices", "2"], capture_output=True,
                         text=True, check=True, env=_fresh_env())
    assert json.loads(out.stdout)["devices"] == ["cpu:0", "cpu:1"]


def test_cli_flag_too_late_is_a_one_line_error(tmp_path, capsys):
    assert len(jax.devices("cpu")) == 8  # JAX has started (tests/conftest.py forces 8 host devices)
    rc = main(["info", "--cpu-devices", "3"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--cpu-devices 3" in err and "\n" not in err
    rc = main(["info", "--cpu-devices", "none"])
    assert rc == 2 and "expected a positive integer or 'cores'" in capsys.readouterr().err


def test_boolean_prior_counts_the_same_functions_on_two_devices(tmp_path):
    """The command's default ('cores') is skipped in-process (JAX runs already, 8 devices here);
    a new process with --cpu-devices 2 must count the same functions."""
    args = ["boolean-prior", "--n", "3000", "--n-inputs", "4", "--width", "8", "--keep", "64", "--no-plot", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "here.nc")]) == 0
    assert len(jax.devices()) == 8  # the default never overrides XLA_FLAGS (tests/conftest.py)
    out = subprocess.run([sys.executable, "-m", "jaxbias.cli", *args, "--out", str(tmp_path / "two.nc"),
                          "--cpu-devices", "2"], capture_output=True, text=True, env=_fresh_env())
    assert out.returncode == 0, out.stderr
    here, two = jb.load(tmp_path / "here.nc"), jb.load(tmp_path / "two.nc")
    for name in here.data_vars:
        np.testing.assert_array_equal(here[name].values, two[name].values, err_msg=name)
    assert json.loads(here.attrs["config"]) == json.loads(two.attrs["config"])
