"""Griffe extension for the API reference: jaxbias docstrings as mkdocstrings renders them.

The docstrings are Google style with a few Sphinx habits that mkdocstrings does not read:

* ``:func:`name```, ``:class:`~jaxbias.x.Y``` and the other roles become cross-references
  (optional ones: a link where the object has a page, code otherwise). A role that names no
  object of the package is a broken reference: it is logged as a warning, which fails
  ``mkdocs build --strict``.
* An ``Example:`` section becomes ``Examples:``, so that its ``>>>`` lines render as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|data|attr|meth|obj|exc|const):`(~?)([^`]+)`")
EXAMPLE = re.compile(r"^(\s*)Example::?\s*$", re.MULTILINE)


def _lookup(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    if path == pkg.path:
        return pkg
    if not path.startswith(pkg.path + "."):
        return None
    try:
        return pkg[path[len(pkg.path) + 1:]]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def resolve(pkg: griffe.Module, obj: griffe.Object, target: str) -> str | None:
    """The full path of the object a role in ``obj``'s docstring names, or None."""
    target = target.strip().removesuffix("()")
    candidates = [target] if target.startswith(pkg.path + ".") or target == pkg.path else []
    scope: Any = obj
    while scope is not None:  # relative names: the object's members, then each enclosing scope
        candidates.append(f"{scope.path}.{target}")
        scope = scope.parent
    for path in candidates:
        if _lookup(pkg, path) is not None:
            return path
    return None


def rewrite(pkg: griffe.Module, obj: griffe.Object, text: str) -> str:
    """``text`` with its roles as optional cross-references and ``Example:`` as ``Examples:``."""

    def role(match: re.Match) -> str:
        short, target = match.group(1), match.group(2)
        shown = target.strip().rsplit(".", 1)[-1] if short else target.strip()
        path = resolve(pkg, obj, target)
        if path is None:
            where = f"{obj.relative_filepath}:{obj.docstring.lineno}" if obj.docstring else obj.path
            griffe.logger.warning(f"{where}: {match.group(0)} names no object of {pkg.path}")
            return f"`{shown}`"
        return f'<autoref optional identifier="{path}"><code>{shown}</code></autoref>'

    return EXAMPLE.sub(r"\1Examples:", ROLE.sub(role, text))


class JaxbiasDocstrings(griffe.Extension):
    """Rewrites the docstrings of the whole package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "jaxbias":
            return
        seen: set[int] = set()

        def walk(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = rewrite(pkg, obj, obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)

        walk(pkg)
