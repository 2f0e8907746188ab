"""Parameter sweeps that survive being killed: one file per finished cell, then one result.

A sweep runs a function on every cell of a Cartesian grid of parameters. Each finished
cell is saved at once to ``{path}.cells/cell_{i:05d}.nc``, beside a ``manifest.json``
that records the grid and the attrs. A sweep that was interrupted (an exception,
Ctrl-C, a killed job) is continued with ``resume=True``: finished cells are loaded,
only the missing ones are computed. At the end the cells are combined into one
Dataset with one new leading dimension per swept parameter, saved to ``path``, and
the cells directory is removed.

The final file does not depend on how the sweep got there: it is built from the
cell files in both cases, so an uninterrupted run and a killed-and-resumed run write
the same bytes.

Example:
    >>> import numpy as np, xarray as xr
    >>> def cell_fn(cell):
    ...     return xr.Dataset({"y": (("net",), np.full(4, cell["width"] * cell["depth"]))})
    >>> ds = run_sweep({"width": [8, 16], "depth": [1, 2, 3]}, cell_fn,
    ...                "/tmp/sweep.nc", progress=False)   # doctest: +SKIP
    >>> ds.y.dims                                          # doctest: +SKIP
    ('width', 'depth', 'net')
"""

from __future__ import annotations

import itertools
import json
import math
import os
import pathlib
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from tqdm import tqdm

from jaxbias import io

__all__ = ["run_sweep"]

_MANIFEST = "manifest.json"
_FORMAT = 1


def cells_dir(path: str | os.PathLike) -> pathlib.Path:
    """The directory holding the finished cells of the sweep that writes ``path``."""
    path = pathlib.Path(path).expanduser()
    return path.with_name(path.name + ".cells")


def _cell_file(directory: pathlib.Path, index: int) -> pathlib.Path:
    return directory / f"cell_{index:05d}.nc"


def _plain_value(name: str, value: Any) -> str | int | float | bool:
    """A grid value as a plain Python str/int/float/bool, or a ValueError."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool, int, float)):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"grid[{name!r}] contains NaN; expected comparable values")
        return value
    raise ValueError(
        f"grid[{name!r}] contains {value!r} of type {type(value).__name__}; "
        "expected str, int, float or bool values"
    )


def _check_grid(grid: dict[str, Sequence]) -> dict[str, list]:
    """Validates the grid and returns it with plain Python values, in the given order."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"grid must be a non-empty dict of parameter -> values, got {grid!r}")
    checked = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"grid keys must be non-empty strings, got {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise ValueError(
                f"grid[{name!r}] must be a sequence of values, got {type(values).__name__}: "
                f"{values!r}"
            )
        plain = [_plain_value(name, v) for v in values]
        if not plain:
            raise ValueError(f"grid[{name!r}] is empty; expected at least one value")
        keys = [(type(v) is bool, v) for v in plain]
        if len(set(keys)) != len(keys):
            raise ValueError(
                f"grid[{name!r}] has repeated values {plain}; expected distinct values"
            )
        _coordinate(plain)  # one kind of value per parameter
        checked[name] = plain
    return checked


def _coordinate(values: list) -> np.ndarray:
    """The coordinate array of one swept parameter (one dtype for all its values)."""
    kinds = {type(v) for v in values}
    if kinds <= {int, float} or kinds == {bool} or kinds == {str}:
        return np.asarray(values)
    raise ValueError(
        f"grid values {values!r} mix types {sorted(k.__name__ for k in kinds)}; "
        "expected values of one kind (numbers, bools or strings)"
    )


def _manifest(grid: dict[str, list], attrs: dict) -> dict:
    # Round trip through JSON so that a fresh manifest compares like a loaded one;
    # "parameters" keeps the grid order, which the sorted JSON keys of "grid" lose.
    text = io.to_json({"format": _FORMAT, "parameters": list(grid), "grid": grid, "attrs": attrs})
    return json.loads(text)


def _describe_difference(old: dict, new: dict) -> str:
    parts = []
    if old.get("format") != new["format"]:
        parts.append(f"manifest format {old.get('format')!r} != {new['format']!r}")
    old_grid, new_grid = old.get("grid", {}), new["grid"]
    if old.get("parameters") != new["parameters"]:
        parts.append(
            f"swept parameters were {old.get('parameters')} and are now {new['parameters']}"
        )
    for name in new_grid:
        if name in old_grid and io.to_json(old_grid[name]) != io.to_json(new_grid[name]):
            parts.append(f"grid[{name!r}] was {old_grid[name]} and is now {new_grid[name]}")
    old_attrs, new_attrs = old.get("attrs", {}), new["attrs"]
    for name in sorted(set(old_attrs) | set(new_attrs)):
        if io.to_json(old_attrs.get(name, "<missing>")) != io.to_json(
            new_attrs.get(name, "<missing>")
        ):
            parts.append(
                f"attrs[{name!r}] was {old_attrs.get(name, '<missing>')!r} "
                f"and is now {new_attrs.get(name, '<missing>')!r}"
            )
    return "; ".join(parts) or "contents differ"


def _start(directory: pathlib.Path, manifest: dict) -> None:
    """Creates the cells directory with its manifest in one atomic rename."""
    tmp = directory.with_name(f".{directory.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        io.atomic_write_bytes(
            (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode(), tmp / _MANIFEST
        )
        os.rename(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _resume(directory: pathlib.Path, manifest: dict) -> None:
    """Checks that the interrupted sweep in ``directory`` is the one asked for now."""
    manifest_path = directory / _MANIFEST
    try:
        old = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(
            f"cannot resume the sweep at '{directory}': unreadable {_MANIFEST} ({err}); "
            "delete the directory to start again"
        ) from None
    if io.to_json(old) != io.to_json(manifest):
        raise ValueError(
            f"cannot resume the sweep at '{directory}': it was started with other settings "
            f"({_describe_difference(old, manifest)}); rerun with the original settings "
            "or delete the directory to start again"
        )


def _layout(ds: xr.Dataset) -> dict:
    """What every cell must share: variable names with their dims and shapes."""
    return {name: (var.dims, var.shape) for name, var in ds.variables.items()}


def _check_layout(ds: xr.Dataset, reference: dict | None, index: int, cell: dict) -> dict:
    """Raises unless ``ds`` has the reference layout; returns the reference."""
    layout = _layout(ds)
    if reference is not None and layout != reference:
        raise ValueError(
            f"cell {index} {cell} returned variables (name: (dims, shape)) {layout}; expected "
            f"the same variables, dims and shapes as the earlier cells: {reference}"
        )
    return layout if reference is None else reference


def _combine(cells: list[xr.Dataset], grid: dict[str, list]) -> xr.Dataset:
    """Stacks cell datasets (in grid order) along one new leading dim per parameter."""
    coords = {name: _coordinate(values) for name, values in grid.items()}
    expanded = []
    positions = itertools.product(*(range(len(values)) for values in grid.values()))
    for ds, position in zip(cells, positions, strict=True):
        new = {name: coords[name][p : p + 1] for name, p in zip(grid, position)}
        expanded.append(ds.expand_dims(new))
    datasets: list = expanded
    # Concatenate the innermost parameter first, then outwards.
    for name, values in reversed(list(grid.items())):
        size = len(values)
        datasets = [
            xr.concat(
                datasets[i : i + size],
                dim=name,
                data_vars="all",
                coords="different",
                compat="equals",
                join="exact",
                combine_attrs="override",
            )
            for i in range(0, len(datasets), size)
        ]
    (combined,) = datasets
    return combined


def run_sweep(
    grid: dict[str, Sequence],
    cell_fn: Callable[[dict], xr.Dataset],
    path: str | os.PathLike,
    *,
    resume: bool = False,
    attrs: dict | None = None,
    progress: bool = True,
    shared: xr.Dataset | None = None,
) -> xr.Dataset:
    """Runs ``cell_fn`` on every cell of a parameter grid, resumably, and saves the result.

    Cells are the Cartesian product of ``grid`` in dict order (the last parameter varies
    fastest); ``cell_fn`` gets one cell as a dict ``{parameter: value}``. Each finished
    cell is saved atomically to ``{path}.cells/cell_{i:05d}.nc``; the directory also
    holds ``manifest.json`` with the grid and ``attrs``. When all cells are done they
    are combined, saved atomically to ``path`` and the cells directory is removed.

    Every cell must return the same variables with the same dims and shapes, and none
    of its dims or variables may be named like a swept parameter. In the result each
    data variable gets the swept parameters as leading dims, in grid order, with the
    grid values as coordinates: a variable ``(net, point)`` swept over ``{"a", "b"}``
    becomes ``(a, b, net, point)``. Coordinates that are the same in every cell stay as
    they are. Dataset attrs are ``attrs`` plus ``"sweep_grid"`` (the grid as JSON);
    cell dataset attrs are dropped, variable attrs come from the first cell.

    Args:
        grid: parameter name -> sequence of distinct str/int/float/bool values.
        cell_fn: computes one cell, returning an ``xarray.Dataset``.
        path: the file to write the combined result to.
        resume: continue an interrupted sweep of the same grid and attrs, loading its
            finished cells instead of recomputing them. Without an interrupted sweep,
            the sweep simply starts.
        attrs: dataset attrs of the result (e.g. from ``io.result_attrs``); they must be
            JSON-serializable, as they are recorded in the manifest.
        progress: show a tqdm progress bar over cells on stderr.
        shared: variables that are the same in every cell (e.g. the inputs ``x``), merged
            once into the result instead of being repeated along the swept dims. Cells must
            not return them.

    Returns:
        The combined Dataset, as loaded back from ``path``.

    Raises:
        ValueError: if the grid is invalid; if a cells directory exists and ``resume``
            is False; if ``resume`` is True and the interrupted sweep has another grid
            or other attrs; if a cell returns something other than a Dataset, or a
            Dataset whose variables, dims or shapes differ from the first cell's.
        OSError: if ``path`` cannot be written (checked before any cell runs).
    """
    grid = _check_grid(grid)
    attrs = dict(attrs or {})
    if "sweep_grid" in attrs:
        raise ValueError("attrs must not contain 'sweep_grid'; run_sweep sets it")
    path = io.check_writable(path)
    directory = cells_dir(path)
    manifest = _manifest(grid, attrs)

    if directory.exists():
        if not resume:
            raise ValueError(
                f"an interrupted sweep exists at '{directory}'; pass resume=True (--resume) "
                "to continue it or delete it"
            )
        if not directory.is_dir():
            raise NotADirectoryError(f"'{directory}' exists and is not a directory; delete it")
        _resume(directory, manifest)
    else:
        _start(directory, manifest)

    cells = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    finished = [i for i in range(len(cells)) if _cell_file(directory, i).exists()]
    reference = _layout(io.load(_cell_file(directory, finished[0]))) if finished else None
    with tqdm(
        total=len(cells), initial=len(finished), disable=not progress, desc="sweep", unit="cell"
    ) as bar:
        for index, cell in enumerate(cells):
            cell_path = _cell_file(directory, index)
            if cell_path.exists():
                continue
            ds = cell_fn(dict(cell))
            if not isinstance(ds, xr.Dataset):
                raise ValueError(
                    f"cell_fn({cell}) returned {type(ds).__name__}; expected an xarray.Dataset"
                )
            clash = sorted(set(grid) & (set(ds.dims) | set(ds.variables)))
            if clash:
                raise ValueError(
                    f"cell_fn({cell}) returned a Dataset with dims or variables named like "
                    f"swept parameters {clash}; rename them"
                )
            reference = _check_layout(ds, reference, index, cell)
            io.save(ds, cell_path)
            bar.update(1)

    # Build the result from the cell files in every case, so that an uninterrupted run
    # and a resumed one (whose cells partly come from disk) write identical files.
    loaded = [io.load(_cell_file(directory, i)).drop_encoding() for i in range(len(cells))]
    reference = None
    for index, ds in enumerate(loaded):
        reference = _check_layout(ds, reference, index, cells[index])
    combined = _combine(loaded, grid)
    if shared is not None:
        clash = sorted(set(shared.data_vars) & set(combined.data_vars))
        if clash:
            raise ValueError(f"shared variables {clash} are also returned by cell_fn; return them from one only")
        combined = combined.merge(shared.drop_encoding())
    combined.attrs = {**attrs, "sweep_grid": json.dumps(grid)}  # grid order kept
    io.save(combined, path)
    shutil.rmtree(directory)
    return io.load(path)

