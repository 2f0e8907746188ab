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
the same file but for its provenance (the time and command line of the run that finished it:
:func:`jaxbias.io.content_bytes` are equal). Cell files carry no provenance.

Under ``jax.distributed`` every process runs the same sweep (the engine's programs span
all processes, so every process computes every cell and gets its results), but only
process 0 touches the files: it decides which cells are finished, writes the cell files
and the result, and hands the result's bytes to the other processes at the end, so that
``run_sweep`` returns the same Dataset everywhere and the processes need no shared disk.

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

import json
import math
import os
import pathlib
import shutil
from collections.abc import Callable, Sequence
from io import BytesIO
from typing import Any

import jax
import numpy as np
import xarray as xr
from jax.experimental import multihost_utils
from tqdm import tqdm

from jaxbias import io
from jaxbias.grid import cells as grid_cells

__all__ = ["run_sweep", "SweepInterrupted"]

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
    # The provenance attrs say when and where a result was computed, not what it is: a sweep resumed
    # later, elsewhere or at another commit is the same sweep (its result records the finishing run's).
    attrs = {k: v for k, v in attrs.items() if k not in io.PROVENANCE}
    text = io.to_json({"format": _FORMAT, "parameters": list(grid), "grid": grid, "attrs": attrs})
    return json.loads(text)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _as_json_object(value: Any) -> Any:
    """A JSON object's text (such as ``attrs['config']``) as its dict, anything else as it is."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _differences(old: Any, new: Any, where: str, out: list[str]) -> None:
    """Appends 'where was X and is now Y' for each leaf where ``old`` and ``new`` differ."""
    old, new = _as_json_object(old), _as_json_object(new)
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if key not in old:
                out.append(f"{where}.{key} is new ({_short(new[key])})")
            elif key not in new:
                out.append(f"{where}.{key} was {_short(old[key])} and is now missing")
            else:
                _differences(old[key], new[key], f"{where}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and \
            any(isinstance(v, (dict, list)) for v in old + new):
        for i, (a, b) in enumerate(zip(old, new)):
            _differences(a, b, f"{where}[{i}]", out)
    elif io.to_json(old) != io.to_json(new):
        out.append(f"{where} was {_short(old)} and is now {_short(new)}")


def _describe_difference(old: dict, new: dict, limit: int = 5) -> str:
    """The settings that differ, each named by its key path (``attrs.config.n was 50 and is now 100``)."""
    parts = []
    if old.get("format") != new["format"]:
        parts.append(f"manifest format {old.get('format')!r} != {new['format']!r}")
    if old.get("parameters") != new["parameters"]:
        parts.append(f"swept parameters were {old.get('parameters')} and are now {new['parameters']}")
    old_grid, new_grid = old.get("grid", {}), new["grid"]
    for name in new_grid:
        if name in old_grid and io.to_json(old_grid[name]) != io.to_json(new_grid[name]):
            parts.append(f"grid[{name!r}] was {old_grid[name]} and is now {new_grid[name]}")
    _differences(old.get("attrs", {}), new["attrs"], "attrs", parts)
    if len(parts) > limit:
        parts = parts[:limit] + [f"and {len(parts) - limit} more"]
    return "; ".join(parts) or "contents differ"


def _finished_here(path: pathlib.Path, manifest: dict) -> bool:
    """Whether ``path`` is the finished result of the sweep ``manifest`` describes (same grid and attrs)."""
    try:
        attrs = io.load(path).attrs
    except (OSError, ValueError):
        return False
    grid = json.loads(attrs.get("sweep_grid", "null") or "null")
    rest = {k: v for k, v in attrs.items() if k != "sweep_grid" and k not in io.PROVENANCE}
    return io.to_json(grid) == io.to_json(manifest["grid"]) and io.to_json(rest) == io.to_json(manifest["attrs"])


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
            f"({_describe_difference(old, manifest)}); rerun with the original settings and --resume, "
            "or delete the directory to start again"
        )


def _check_finished(directory: pathlib.Path, cells: list[dict], done: Sequence[bool]) -> None:
    """Reads every finished cell file before anything is computed; a corrupted one is named."""
    reference = None
    for index, finished in enumerate(done):
        if not finished:
            continue
        path = _cell_file(directory, index)
        try:
            ds = io.load(path)
        except (OSError, ValueError) as err:
            raise ValueError(
                f"cannot resume the sweep at '{directory}': the file of cell {index} {cells[index]}, '{path}', "
                f"cannot be read ({str(err).splitlines()[0]}); delete that file and rerun with --resume "
                "(resume=True) to compute that cell again"
            ) from None
        layout = _layout(ds)
        if reference is not None and layout != reference[0]:
            raise ValueError(
                f"cannot resume the sweep at '{directory}': the file of cell {index} {cells[index]}, '{path}', "
                f"holds other variables, dims or shapes than cell {reference[1]}'s; delete that file and rerun "
                "with --resume (resume=True) to compute that cell again"
            )
        reference = reference or (layout, index)


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (or SIGINT); its message says where the finished cells are and how to go on."""


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
    positions = grid_cells({name: range(len(values)) for name, values in grid.items()})
    for ds, position in zip(cells, positions, strict=True):
        new = {name: coords[name][p : p + 1] for name, p in position.items()}
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


_MAX_SHARED_BYTES = 2**31 - 1


def _from_process_0(make: Callable[[], bytes]) -> bytes:
    """Runs ``make()`` on process 0 alone and returns its bytes on every process.

    With one process this is ``make()``. Under ``jax.distributed`` the other processes wait
    for process 0's bytes (a broadcast, so no shared disk is needed); if ``make`` raises on
    process 0, it is re-raised there and the others raise a RuntimeError instead of waiting
    for a sweep that process 0 has abandoned.
    """
    if jax.process_count() == 1:
        return make()
    data, error = b"", None
    if jax.process_index() == 0:
        try:
            data = make()
            if len(data) > _MAX_SHARED_BYTES:
                raise ValueError(f"the sweep's result is {len(data)} bytes; at most {_MAX_SHARED_BYTES} can be "
                                 "handed to the other processes")
        except BaseException as err:  # re-raised below, once the other processes know
            error = err
    size = np.array([-1 if error is not None else len(data)], np.int32)
    size = int(np.asarray(multihost_utils.broadcast_one_to_all(size))[0])
    if error is not None:
        raise error
    if size < 0:
        raise RuntimeError("the sweep failed on process 0, which writes its files; its error is in its output")
    if size == 0:
        return b""
    buffer = np.frombuffer(data, np.uint8) if jax.process_index() == 0 else np.zeros(size, np.uint8)
    # The broadcast sums over processes and may widen the integers: back to one byte each.
    return np.asarray(multihost_utils.broadcast_one_to_all(buffer)).astype(np.uint8).tobytes()


def _load_bytes(data: bytes) -> xr.Dataset:
    """The Dataset of a results file's bytes (what ``io.load`` returns for the file)."""
    with xr.open_dataset(BytesIO(data), engine="h5netcdf") as ds:
        return ds.load()


def run_sweep(
    grid: dict[str, Sequence],
    cell_fn: Callable[[dict], xr.Dataset],
    path: str | os.PathLike,
    *,
    resume: bool = False,
    attrs: dict | None = None,
    progress: bool = True,
    shared: xr.Dataset | None = None,
    overwrite: bool = False,
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
    they are. Dataset attrs are ``attrs`` plus ``"sweep_grid"`` (the grid as JSON) and the
    provenance :func:`jaxbias.io.save` adds; cell dataset attrs are dropped, variable attrs come
    from the first cell (the swept coordinates get theirs from :mod:`jaxbias.variables`). Resuming
    ignores the :data:`jaxbias.io.PROVENANCE` attrs: a sweep continued later, on other devices or at
    another commit is the same sweep.

    Under ``jax.distributed`` call it on every process with the same arguments: every
    process computes every cell that is not finished, and process 0 alone checks ``path``,
    reads and writes the cells directory and writes ``path``; the other processes never touch
    them and get the result's bytes from process 0 (so they need not see its disk).

    Args:
        grid: parameter name -> sequence of distinct str/int/float/bool values.
        cell_fn: computes one cell, returning an ``xarray.Dataset``.
        path: the file to write the combined result to.
        resume: continue an interrupted sweep of the same grid and attrs, loading its
            finished cells instead of recomputing them. Without an interrupted sweep,
            the sweep simply starts.
        attrs: dataset attrs of the result (e.g. from ``jaxbias.results.result_attrs``); they must be
            JSON-serializable, as they are recorded in the manifest.
        progress: show a tqdm progress bar over cells on stderr (on process 0).
        shared: variables that are the same in every cell (e.g. the inputs ``x``), merged
            once into the result instead of being repeated along the swept dims. Cells must
            not return them.
        overwrite: replace an existing file at ``path``. Without it an existing ``path`` is
            refused before any cell runs, except when an interrupted sweep of it is resumed; and
            ``resume=True`` on a finished sweep with the same grid and attrs returns that file.

    Returns:
        The combined Dataset, as loaded back from ``path`` (on every process).

    Raises:
        ValueError: if the grid is invalid; if a cells directory exists and ``resume``
            is False; if ``resume`` is True and the interrupted sweep has another grid
            or other attrs (the message names the settings that differ), or one of its cell
            files cannot be read (named; checked before any cell is computed); if a cell returns
            something other than a Dataset, or a Dataset whose variables, dims or shapes differ
            from the first cell's.
        FileExistsError: ``path`` exists, ``overwrite`` is False and no interrupted sweep of it
            is resumed (checked before any cell runs).
        OSError: if ``path`` cannot be written (checked before any cell runs).
        SweepInterrupted: a KeyboardInterrupt while cells run; the message says how to resume.
        RuntimeError: on a process other than 0, when process 0 failed to start the sweep
            or to write its result (process 0 raises the error itself).
    """
    grid = _check_grid(grid)
    attrs = dict(attrs or {})
    if "sweep_grid" in attrs:
        raise ValueError("attrs must not contain 'sweep_grid'; run_sweep sets it")
    writer = jax.process_index() == 0  # the one process that reads and writes files
    path = io.check_writable(path) if writer else pathlib.Path(path).expanduser()
    directory = cells_dir(path)
    manifest = _manifest(grid, attrs)
    cells = list(grid_cells(grid))

    def prepare() -> bytes:
        """Starts or resumes the cells directory; one byte per cell: 1 if finished (b"" if ``path`` is
        this sweep's finished result, to be returned as it is)."""
        if directory.exists():
            if not resume:
                n_done = sum(_cell_file(directory, i).exists() for i in range(len(cells)))
                raise ValueError(
                    f"an interrupted sweep of '{path}' exists at '{directory}' ({n_done} of {len(cells)} cells "
                    "finished): rerun with --resume (resume=True) to continue it, or delete the directory to "
                    "start again"
                )
            if not directory.is_dir():
                raise NotADirectoryError(f"'{directory}' exists and is not a directory; delete it")
            _resume(directory, manifest)
            done = [_cell_file(directory, i).exists() for i in range(len(cells))]
            _check_finished(directory, cells, done)  # before any cell is computed
            return bytes(done)
        if path.exists() and not overwrite:
            if resume and _finished_here(path, manifest):
                return b""
            raise FileExistsError(
                f"'{path}' exists" + (" and is not the finished result of this sweep" if resume else "")
                + "; pass --overwrite (overwrite=True) to replace it, or choose another file"
            )
        _start(directory, manifest)
        return bytes(len(cells))

    done = _from_process_0(prepare)  # every process skips the same cells
    if not done:  # resume=True and path is this sweep's finished result
        data = _from_process_0(lambda: path.read_bytes() if jax.process_count() > 1 else b"")
        return io.load(path) if writer else _load_bytes(data)
    finished = [i for i in range(len(cells)) if done[i]]
    reference = _layout(io.load(_cell_file(directory, finished[0]))) if finished and writer else None
    with tqdm(
        total=len(cells), initial=len(finished), disable=not (progress and writer), desc="sweep", unit="cell"
    ) as bar:
        computed = 0
        for index, cell in enumerate(cells):
            if done[index]:
                continue
            try:
                ds = cell_fn(dict(cell))
            except KeyboardInterrupt:
                raise SweepInterrupted(
                    f"the sweep was interrupted; {len(finished) + computed} of its {len(cells)} cells are finished "
                    f"and kept in '{directory}': rerun the same command with --resume (resume=True) to continue"
                ) from None
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
            if writer:
                io.save(ds, _cell_file(directory, index), overwrite=True, provenance=False)
            computed += 1
            bar.update(1)

    def finish() -> bytes:
        """Combines the cell files into ``path``; its bytes when other processes need them."""
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
        io.save(combined, path, overwrite=True)  # checked before the first cell ran
        shutil.rmtree(directory)
        return path.read_bytes() if jax.process_count() > 1 else b""

    data = _from_process_0(finish)
    return io.load(path) if writer else _load_bytes(data)
