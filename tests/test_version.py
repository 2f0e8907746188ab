"""Provenance: ``jaxbias --version`` and the git commit results files record."""

import re
import subprocess
import sys

import pytest

import jaxbias as jb
from jaxbias import io
from jaxbias.cli import main
from jaxbias.sweep import run_sweep
from jaxbias.version import git_commit


def test_version_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"jaxbias {jb.__version__}"


def test_git_commit_of_this_checkout():
    commit = git_commit()
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                         cwd=jb.__path__[0])
    if top.returncode != 0:
        assert commit is None  # an installed copy: nothing to record
        pytest.skip("jaxbias does not run from a git checkout")
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit), commit
    assert io.result_attrs({}, key=0)["git_commit"] == commit


def test_git_commit_outside_a_checkout(tmp_path):
    """A copy of the package outside any git work tree records no commit."""
    import shutil

    shutil.copytree(jb.__path__[0], tmp_path / "jaxbias", ignore=shutil.ignore_patterns("__pycache__", "data"))
    code = "from jaxbias.version import git_commit; print(git_commit())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def test_resume_at_another_commit(tmp_path):
    """The commit says where a result was computed: a sweep resumed at another commit is the same sweep."""
    import xarray as xr

    path = tmp_path / "s.nc"
    cell = lambda p: xr.Dataset({"y": ((), float(p["a"]))})  # noqa: E731
    first = run_sweep({"a": [1, 2]}, cell, path, attrs={"config": "{}", "git_commit": "a" * 40}, progress=False)
    again = run_sweep({"a": [1, 2]}, cell, path, attrs={"config": "{}", "git_commit": "b" * 40}, resume=True,
                      progress=False)
    xr.testing.assert_identical(first, again)
