"""The library's version, kept in the lowest layer so that every module can record it."""

import functools
import pathlib
import subprocess

__version__ = "0.1.0"
"""The version of the installed jaxbias (PEP 440); results files record it."""


@functools.cache
def git_commit() -> str | None:
    """The git commit of the jaxbias checkout this package runs from, or None when there is none.

    ``"<40 hex digits>"``, with ``"-dirty"`` appended when tracked files differ from that commit.
    None for an installed copy (site-packages), when git is missing, or when the package's
    directory is not the top of a git work tree's ``jaxbias/`` (so a copy inside some other
    repository is not mistaken for a checkout). Computed once per process.
    """
    package = pathlib.Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        if pathlib.Path(git("rev-parse", "--show-toplevel")).resolve() != package.parent:
            return None
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")
