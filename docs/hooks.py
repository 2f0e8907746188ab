"""MkDocs hooks of the jaxbias site (``hooks:`` in mkdocs.yml).

* ``on_startup`` / ``on_config``: every public name has a docstring and a place in the API
  reference (:func:`undocumented`), or the build stops with the list.
* ``on_pre_build``: the figures of the capability pages are made by the build itself, by the
  small scripts in ``docs/figures/`` (each defines ``figure(path)``), at sizes that keep the
  whole set under two minutes on two cores; ``on_files`` adds the PNGs to the site.
* Griffe warnings about grouped parameters (``chunk_size, memory_budget: ...``, a convention of
  these docstrings) are dropped; every other warning stays, and ``strict: true`` fails on it.

``python docs/hooks.py`` prints the public names without a docstring (exit status 1 if any).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pathlib
import re
import runpy
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURE_SCRIPTS = DOCS / "figures"
# The subpackages whose __all__ is the public API; each must be rendered in docs/api/.
PUBLIC_PACKAGES = ("jaxbias", "jaxbias.nets", "jaxbias.inputs", "jaxbias.summaries", "jaxbias.measures",
                   "jaxbias.kernels", "jaxbias.theory", "jaxbias.experiments", "jaxbias.datasets",
                   "jaxbias.training", "jaxbias.caches")
# Public names whose docstring is owed by a module being rewritten, with the reason; keep it short.
PENDING: dict[str, str] = {}  # public names exempted while another change writes their docstrings
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*\n(?:(?:    .*)?\n)*?", re.MULTILINE)
MEMBERS = re.compile(r"^\s+members:\s*\[([^\]]*)\]", re.MULTILINE)

_log = logging.getLogger("mkdocs.hooks.jaxbias")


def rendered() -> dict[str, set[str] | None]:
    """``{module: members}`` for every ``::: module`` of docs/api/*.md (None: all its public members)."""
    out: dict[str, set[str] | None] = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        text = page.read_text()
        starts = [m.start() for m in re.finditer(r"^::: ", text, re.MULTILINE)] + [len(text)]
        for a, b in zip(starts, starts[1:]):
            block = text[a:b]
            module = block.split()[1]
            members = MEMBERS.search(block)
            out[module] = {m.strip() for m in members.group(1).split(",")} if members else None
    return out


def _exports(module) -> list[str]:
    return list(getattr(module, "__all__", ()))


def undocumented() -> list[str]:
    """Public names without a docstring or without a place in the API reference.

    Public names: each name in the ``__all__`` of :data:`PUBLIC_PACKAGES` and of every module
    the API reference renders; for a public class, also its public methods and properties.
    Docstrings are read by griffe (statically, as mkdocstrings does), so attributes count as
    documented by the string literal that follows them.
    """
    import griffe

    pkg = griffe.load("jaxbias", search_paths=[str(ROOT)], resolve_aliases=True, resolve_external=False)
    pages = rendered()
    shown: set[int] = set()  # the objects the API pages render
    for name, members in pages.items():
        module = importlib.import_module(name)
        for export in (_exports(module) if members is None else members):
            shown.add(id(getattr(module, export, None)))
    problems = [f"{name}: not rendered by any docs/api/*.md page" for name in PUBLIC_PACKAGES if name not in pages]
    for name in sorted(set(PUBLIC_PACKAGES) | set(pages)):
        module = importlib.import_module(name)
        gmod = pkg if name == "jaxbias" else pkg[name[len("jaxbias."):]]
        for export in _exports(module):
            full, value = f"{name}.{export}", getattr(module, export)
            if inspect.ismodule(value):
                if value.__name__ not in pages and not inspect.getdoc(value):
                    problems.append(f"{full}: module without a docstring")
                continue
            if full in PENDING:
                continue
            if export != "__version__" and id(value) not in shown:
                problems.append(f"{full}: public, on no API page (add it to a page's members)")
            try:
                obj = gmod[export]
                target = obj.final_target if obj.is_alias else obj
            except Exception as e:  # noqa: BLE001  (any failure to resolve is reported)
                problems.append(f"{full}: griffe cannot resolve it ({type(e).__name__})")
                continue
            if not target.docstring or not target.docstring.value.strip():
                problems.append(f"{full}: no docstring")
            if inspect.isclass(value):
                for mname, member in vars(value).items():
                    if mname.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    if not inspect.getdoc(getattr(value, mname)):  # a docstring inherited from a base counts
                        problems.append(f"{full}.{mname}: public method without a docstring")
    return sorted(set(problems))


# ---------------------------------------------------------------------------------------------
# MkDocs events


class _GroupedParameters(logging.Filter):
    """Drops griffe's warning for a Google-style entry that documents several parameters at once."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("does not appear in the function signature" in message and re.search(r"Parameter '[^']*, ", message))


_FIGURES: dict[str, pathlib.Path] = {}
_FIGURE_DIR = pathlib.Path(tempfile.mkdtemp(prefix="jaxbias-docs-figures-"))


def on_startup(command: str, dirty: bool) -> None:
    filt = _GroupedParameters()
    for name in ("mkdocs.plugins.griffe", "mkdocs.plugins.mkdocstrings_handlers", "griffe"):
        logging.getLogger(name).addFilter(filt)
    sys.path.insert(0, str(ROOT))  # the working tree's jaxbias, whatever site-packages holds


def on_config(config):
    problems = undocumented()
    if problems:
        from mkdocs.exceptions import PluginError

        raise PluginError("public names without a docstring or an API page:\n  " + "\n  ".join(problems))
    return config


def on_pre_build(config) -> None:
    """Runs docs/figures/*.py, each writing one PNG (the first build only; ``mkdocs serve`` reuses them)."""
    if _FIGURES:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    for script in sorted(FIGURE_SCRIPTS.glob("*.py")):
        t = time.perf_counter()
        path = _FIGURE_DIR / f"{script.stem}.png"
        runpy.run_path(str(script), run_name="jaxbias_docs_figure")["figure"](path)
        plt.close("all")
        if not path.exists():
            from mkdocs.exceptions import PluginError

            raise PluginError(f"{script} wrote no figure")
        _FIGURES[script.stem] = path
        _log.info("figure %s: %.1f s", script.stem, time.perf_counter() - t)
    _log.info("figures: %d in %.1f s", len(_FIGURES), time.perf_counter() - start)


def on_files(files, config):
    from mkdocs.structure.files import File

    for stem, path in _FIGURES.items():
        files.append(File.generated(config, f"figures/{stem}.png", abs_src_path=str(path)))
    return files


if __name__ == "__main__":
    found = undocumented()
    print("\n".join(found) or "every public name has a docstring and an API page")
    sys.exit(1 if found else 0)
