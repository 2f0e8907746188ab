"""Imports point one way (STYLE.md, issue 15): a module never imports a higher layer, nor another's ``_private`` name.

Layers, lowest first (a module may import its own layer and any lower one):

    0 nets, validation, keys, random_bits, memory, cpu_devices, grid, version, caches
    1 engine, summaries, inputs, datasets
    2 kernels, measures
    3 theory        (pure predictions: no engine, no io, no xarray, never samples networks)
    4 experiments, sweep, results, io, training, variables   (io reads and writes results files: sweeps and
                    experiments save; variables says what each variable of a file means)
    5 plot, plot_complexity, plot_training
    6 commands, cli, the top-level jaxbias/__init__.py

Every ``import`` in a module is read with ``ast``, at module level and inside functions alike (a
function-local import is still a dependency). A package's ``__init__.py`` belongs to its package's
layer; the top-level ``jaxbias/__init__.py`` may import everything.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxbias"

LAYERS = {
    "nets": 0, "validation": 0, "keys": 0, "random_bits": 0, "memory": 0, "cpu_devices": 0, "grid": 0, "version": 0,
    "caches": 0,
    "engine": 1, "summaries": 1, "inputs": 1, "datasets": 1,
    "kernels": 2, "measures": 2,
    "theory": 3,
    "experiments": 4, "sweep": 4, "results": 4, "io": 4, "training": 4, "variables": 4,
    "plot": 5, "plot_complexity": 5, "plot_training": 5, "plot_dynamics": 5, "plot_inductive_bias": 5,
    "commands": 6, "cli": 6,
}
TOP = max(LAYERS.values())

# Modules a layer may not import although they lie below it or outside the package: theory is pure
# prediction, so it neither samples nor evaluates networks (engine, empirical and Monte Carlo kernels)
# nor builds datasets or figures.
FORBIDDEN = {"theory": ("jaxbias.engine", "jaxbias.kernels.empirical", "jaxbias.kernels.monte_carlo",
                        "xarray", "h5netcdf", "matplotlib")}
_EXTERNAL_ROOTS = {name for names in FORBIDDEN.values() for name in names if not name.startswith("jaxbias")}

# Violations left in files being rewritten by another change; remove an entry once its import is fixed.
# Each entry: (path relative to the repository root, imported module, private name or None for a layer violation).
ALLOWLIST: set[tuple[str, str, str | None]] = set()


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> tuple[str, int]:
    """(layer name, rank) of a ``jaxbias...`` module name; the package itself is the top layer."""
    parts = module.split(".")
    if len(parts) == 1:
        return "jaxbias", TOP
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: no layer assigned; add jaxbias.{parts[1]} to LAYERS in this test")
    return parts[1], LAYERS[parts[1]]


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from ... import`` (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: pathlib.Path, source: str | None = None):
    """Yields ``(line, imported module, imported name or None)`` for every jaxbias import in ``path``.

    ``from jaxbias.a import b`` yields ``jaxbias.a.b`` when ``b`` is a module, else ``(jaxbias.a, "b")``.
    Attribute uses ``alias._name`` of an imported jaxbias module yield ``(module, "_name")``.
    """
    module = _module_name(path)
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    aliases: dict[str, str] = {}  # local name -> jaxbias module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ("jaxbias", *_EXTERNAL_ROOTS):
                    yield node.lineno, a.name, None
                if a.name.startswith("jaxbias"):
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else "jaxbias"
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(node, module, path.name == "__init__.py")
            if src.split(".")[0] in _EXTERNAL_ROOTS:
                yield node.lineno, src, None
                continue
            if not src.startswith("jaxbias"):
                continue
            for a in node.names:
                full = f"{src}.{a.name}"
                if full in MODULES:
                    aliases[a.asname or a.name] = full
                    yield node.lineno, full, None
                else:
                    yield node.lineno, src, a.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            target = _dotted(node.value, aliases)
            if target is not None:
                yield node.lineno, target, node.attr


def _dotted(node: ast.AST, aliases: dict) -> str | None:
    """The jaxbias module an expression like ``jb.engine`` or ``engine`` names, or None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        if base is not None and f"{base}.{node.attr}" in MODULES:
            return f"{base}.{node.attr}"
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _forbidden(layer: str, target: str) -> bool:
    return any(target == f or target.startswith(f + ".") for f in FORBIDDEN.get(layer, ()))


def violations(path: pathlib.Path, source: str | None = None) -> list[str]:
    """Messages ``file:line: ...`` for each import of ``path`` that breaks the layer order or privacy."""
    module = _module_name(path)
    rel = str(path.relative_to(ROOT))
    layer, rank = layer_of(module)
    out = []
    for line, target, name in imports_of(path, source):
        if _forbidden(layer, target) and (rel, target, None) not in ALLOWLIST:
            out.append(f"{rel}:{line}: {layer} imports {target}, which it must not use")
        if not target.startswith("jaxbias"):
            continue
        if name is not None and _is_private(name) and target != module and (rel, target, name) not in ALLOWLIST:
            out.append(f"{rel}:{line}: imports the private name {name} of {target}")
        if module == "jaxbias":
            continue  # the package's face may re-export from every layer
        tlayer, trank = layer_of(target)
        if trank > rank and (rel, target, None) not in ALLOWLIST:
            out.append(f"{rel}:{line}: {layer} (layer {rank}) imports {target} ({tlayer}, layer {trank})")
    return out


@pytest.mark.parametrize("path", sorted(MODULES.values()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    found = violations(path)
    assert not found, "imports against the layer order (STYLE.md):\n" + "\n".join(found)


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_allowlist_is_current():
    """Every allowlisted import still exists, so a fixed file drops out of the list."""
    present = set()
    for path in MODULES.values():
        rel = str(path.relative_to(ROOT))
        for _, target, name in imports_of(path):
            present.add((rel, target, name if name is not None and _is_private(name) else None))
    stale = sorted(set(ALLOWLIST) - present)
    assert not stale, f"allowlist entries no longer needed, remove them: {stale}"


def test_checker_catches_violations():
    """The checker itself: upward, forbidden, function-local and private imports are all caught."""
    probe = PACKAGE / "theory" / "probe.py"
    source = ("import numpy as np\n"
              "from jaxbias.engine import reduce\n"
              "def f():\n"
              "    from jaxbias.experiments import igb\n"
              "    import xarray\n"
              "from jaxbias.kernels.gaussian import _private_helper, phi_phi\n"
              "import jaxbias.nets.core as core\n"
              "core._hidden\n"
              "from jaxbias import io\n")
    found = violations(probe, source)
    lines = sorted(int(m.split(":")[1]) for m in found)
    assert lines == [2, 4, 5, 6, 8, 9], found
    assert "phi_phi" not in "".join(found) and "_private_helper" in "".join(found)
