"""Parameter grids: which options are swept, and the cells of a sweep in one order.

A sweep's options each have one or several values. :func:`split` puts those with several
values (and those always swept) in the *grid* and keeps the others *fixed*; :func:`cells`
walks the Cartesian product of the grid in its dict order, the last parameter varying
fastest, which is the order :func:`jaxbias.run_sweep` computes, numbers and stacks cells in.

Example:
    >>> from jaxbias.grid import cells, split
    >>> grid, fixed = split({"activation": ["relu", "tanh"], "depth": [1, 2], "width": [64]})
    >>> grid, fixed
    ({'activation': ['relu', 'tanh'], 'depth': [1, 2]}, {'width': 64})
    >>> [(c["activation"], c["depth"]) for c in cells(grid, fixed)]
    [('relu', 1), ('relu', 2), ('tanh', 1), ('tanh', 2)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

__all__ = ["cells", "n_cells", "split"]


def split(options: Mapping[str, Sequence], *, always: Iterable[str] = ()) -> tuple[dict[str, list], dict[str, Any]]:
    """Splits sweep options into the grid (swept) and the fixed ones.

    Args:
      options: option name -> its values, in the order the grid's dims should take.
      always: options that are grid dims even with one value (e.g. the axes of a plot).

    Returns:
      ``(grid, fixed)``: ``grid`` maps each option given several values, or named in ``always``,
      to the list of its values, in the order of ``options``; ``fixed`` maps every other option
      to its one value.

    Raises:
      ValueError: if an option has no value, or ``always`` names an unknown option.
    """
    always = set(always)
    unknown = sorted(always - set(options))
    if unknown:
        raise ValueError(f"always={sorted(always)}: {unknown} are not among the options {list(options)}")
    grid, fixed = {}, {}
    for name, values in options.items():
        values = list(values)
        if not values:
            raise ValueError(f"{name}: expected at least one value")
        if len(values) > 1 or name in always:
            grid[name] = values
        else:
            fixed[name] = values[0]
    return grid, fixed


def cells(grid: Mapping[str, Iterable], fixed: Mapping[str, Any] | None = None) -> Iterator[dict]:
    """Every cell of ``grid``, in grid order: the Cartesian product, the last parameter varying fastest.

    Args:
      grid: parameter -> values (any iterables, each walked once).
      fixed: values added to every cell (a grid parameter of the same name takes precedence).

    Yields:
      ``{**fixed, parameter: value, ...}``, a new dict per cell. An empty grid has one cell, ``fixed``.
    """
    fixed = dict(fixed or {})
    names = list(grid)
    for values in itertools.product(*grid.values()):
        yield {**fixed, **dict(zip(names, values))}


def n_cells(grid: Mapping[str, Sequence]) -> int:
    """Number of cells of ``grid``: the product of its numbers of values (1 for an empty grid)."""
    return math.prod(len(values) for values in grid.values())
