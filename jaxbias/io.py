"""Saving and loading results: netCDF files written atomically and reproducibly, that say what they hold.

Every result in jaxbias is an ``xarray.Dataset``. This module gives it a file format
(netCDF4 through h5netcdf) and crash safety: a file on disk is either the old one or the
complete new one, never half written. :func:`save` writes into every file

* what each variable means: CF ``long_name``, ``units`` and a ``description`` on every variable
  and coordinate jaxbias knows (:func:`jaxbias.variables.annotate`; attributes already set are kept);
* how to rerun it: the config, key and library versions (:func:`jaxbias.results.result_attrs`,
  re-exported here, made when the result is computed);
* when and where it was made: CF ``history`` (UTC time and command line), ``devices`` and
  ``git_commit`` (:func:`jaxbias.results.provenance_attrs`), unless ``provenance=False``.

The rest of a file is deterministic: h5py does not record object modification times unless asked
(``track_times`` is off by default) and h5netcdf writes no dates, so two saves of the same dataset
with ``provenance=False`` give the same bytes, and two runs of the same computation have the same
:func:`content_bytes` (the file without its provenance).

Example:
    >>> import numpy as np, xarray as xr, jaxbias.io as jio
    >>> ds = xr.Dataset({"g0": (("net",), np.zeros(3, np.float32))},
    ...                 attrs=jio.result_attrs({"width": 8}, key=0))
    >>> path = jio.save(ds, "/tmp/example.nc")          # doctest: +SKIP
    >>> jio.config_of(jio.load(path)), jio.load(path)["g0"].attrs["long_name"]  # doctest: +SKIP
    ({'width': 8}, 'class-0 fraction G_0')
"""

from __future__ import annotations

import contextlib
import numbers
import os
import pathlib
from typing import Any, Callable

import numpy as np
import xarray as xr

from jaxbias.results import (PROVENANCE, config_of, net_of, provenance_attrs, result_attrs, to_json,
                             without_provenance)
from jaxbias.variables import annotate

__all__ = ["result_attrs", "config_of", "net_of", "to_json", "PROVENANCE", "without_provenance", "check_writable",
           "save", "load", "content_bytes"]

_ENGINE = "h5netcdf"
_INT64 = np.iinfo(np.int64)


def check_writable(path: str | os.PathLike, *, overwrite: bool = True) -> pathlib.Path:
    """Checks that a results file can be written at ``path``, before any computation.

    Args:
        path: the file to be written.
        overwrite: whether an existing file may be replaced; with False an existing file is
            refused (the default of :func:`save` and of the command line without ``--overwrite``).

    Returns:
        ``path`` as a ``pathlib.Path``.

    Raises:
        ValueError: if ``path`` is empty.
        IsADirectoryError: if ``path`` is an existing directory.
        FileNotFoundError: if the parent directory does not exist.
        NotADirectoryError: if the parent is not a directory.
        PermissionError: if the parent directory is not writable.
        FileExistsError: if ``path`` exists and ``overwrite`` is False.
    """
    if not os.fspath(path):
        raise ValueError("path must be a file path, got an empty string")
    path = pathlib.Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"path '{path}' is a directory; expected a file path to write")
    parent = path.parent
    if not parent.exists():
        raise FileNotFoundError(
            f"cannot write '{path}': parent directory '{parent}' does not exist"
        )
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write '{path}': parent '{parent}' is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write '{path}': directory '{parent}' is not writable")
    if not overwrite and path.exists():
        raise FileExistsError(f"'{path}' exists; pass --overwrite (overwrite=True in Python) to replace it, "
                              "or choose another file")
    return path


def _is_plain_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        return False
    if isinstance(value, numbers.Integral):
        return _INT64.min <= int(value) <= _INT64.max or isinstance(value, np.unsignedinteger)
    return True


def _json_or_str(value: Any) -> str:
    try:
        return to_json(value)
    except ValueError:
        return str(value)


def encode_attr(value: Any) -> Any:
    """An attribute value netCDF can store, equal or equivalent to ``value``.

    Strings, numbers and 1-D lists or arrays of only numbers or only strings are kept.
    Bools become ints 0/1 (also inside lists and arrays); numpy strings become ``str``.
    Everything else that netCDF cannot store (dicts, ``None``, mixed or nested lists,
    ints beyond 64 bits, arrays of more than one dimension) is replaced by its JSON
    text, e.g. ``{"a": 1}`` -> ``'{"a": 1}'`` and ``None`` -> ``'null'``.

    Args:
        value: any attribute value.

    Returns:
        The storable value.
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str):
        return str(value)  # np.str_ -> str
    if isinstance(value, bytes):
        return value
    if _is_plain_number(value):
        return value
    if isinstance(value, np.ndarray):
        if value.ndim <= 1 and value.dtype.kind == "b":
            return value.astype(np.int8)
        if value.ndim <= 1 and value.dtype.kind in "iuf":
            return value
        if value.ndim <= 1 and value.dtype.kind in "US":
            return [encode_attr(v) for v in value.tolist()]
        return _json_or_str(value)
    if isinstance(value, (list, tuple)):
        items = list(value)
        if all(isinstance(v, (str, np.str_)) for v in items):
            return [str(v) for v in items]
        if items and all(isinstance(v, (bool, np.bool_)) for v in items):
            return [int(v) for v in items]
        if all(_is_plain_number(v) for v in items):
            return items
        return _json_or_str(items)
    return _json_or_str(value)


def _encoded(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose dataset and variable attrs netCDF can store."""
    out = ds.copy(deep=False)
    out.attrs = {k: encode_attr(v) for k, v in ds.attrs.items()}
    for name, var in out.variables.items():
        var.attrs = {k: encode_attr(v) for k, v in ds.variables[name].attrs.items()}
    return out


def _fsync_path(path: pathlib.Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some filesystems do not let a directory be opened; best effort.
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> pathlib.Path:
    """Writes ``data`` to ``path`` atomically (temporary file, fsync, rename).

    Args:
        data: the file contents.
        path: the file to write or replace.

    Returns:
        ``path`` as a ``pathlib.Path``.
    """
    def write(tmp: pathlib.Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write)


def atomic_write(path: str | os.PathLike, write: Callable[[pathlib.Path], None], suffix: str = "") -> pathlib.Path:
    """Calls ``write(tmp)`` on a temporary file beside ``path``, syncs it and renames it onto ``path``.

    A crash or an error leaves either the old file or the new one, never a partial file; on
    error the temporary file is removed and the error re-raised. ``suffix`` is appended to the
    temporary name (for writers that pick the format from it, such as matplotlib).
    """
    path = check_writable(path)
    tmp = path.parent / f".{path.name}.tmp.{os.getpid()}{suffix}"
    try:
        write(tmp)
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_path(path.parent, directory=True)
    return path


def save(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False,
         provenance: bool = True) -> pathlib.Path:
    """Saves a results Dataset to a netCDF4 file, atomically, with what its variables mean and its provenance.

    An existing file is refused unless ``overwrite=True``, as data tools do: a results file is
    often hours of computation.

    The file is written to a temporary file in the same directory
    (``.{name}.tmp.{pid}``), synced to disk and renamed onto ``path``, so a crash or
    an error leaves either the old file or the new one, never a partial file. On any
    error the temporary file is removed and the error re-raised.

    Every variable and coordinate jaxbias knows gets CF ``long_name``, ``units`` and
    ``description`` attributes (:func:`jaxbias.variables.annotate`; attributes already set are
    kept). With ``provenance`` the dataset attrs also get CF ``history`` (a line with the UTC time
    and the command line, appended to any history already there), ``devices`` and ``git_commit``
    (:func:`jaxbias.results.provenance_attrs`). Attribute values netCDF cannot store are
    encoded first (see ``encode_attr``): bools become 0/1 and dicts, ``None`` and mixed lists
    become JSON strings, so saving never fails because of attrs. ``ds`` itself is not modified.
    Two saves of the same dataset with ``provenance=False`` give byte-identical files; with
    provenance they differ in the ``history`` line only (compare them with :func:`content_bytes`).

    Args:
        ds: the Dataset to save.
        path: the file to write.
        overwrite: replace ``path`` if it exists (atomically: the old file stays whole until the
            new one is complete).
        provenance: record when, by what command and on which devices the file was written.

    Returns:
        ``path`` as a ``pathlib.Path``.

    Raises:
        ValueError: if ``ds`` is not an ``xarray.Dataset``.
        FileExistsError: if ``path`` exists and ``overwrite`` is False.
        OSError: if ``path`` cannot be written (see ``check_writable``).
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    check_writable(path, overwrite=overwrite)
    described = annotate(ds)
    if provenance:
        described.attrs = provenance_attrs(described.attrs)
    encoded = _encoded(described)
    return atomic_write(path, lambda tmp: encoded.to_netcdf(tmp, engine=_ENGINE))


def content_bytes(result: xr.Dataset | str | os.PathLike) -> bytes:
    """A result's netCDF bytes without its provenance: equal for two runs of the same computation.

    Two runs with the same settings write files that differ only in the :data:`PROVENANCE` attrs
    (time, command line, devices, commit); these bytes leave them out, and are those of the dataset
    written afresh (no storage encodings carried over), so a file and the Dataset it was saved from
    compare equal. Values are compared bit for bit, dtypes and attributes included.

    Args:
        result: a Dataset or the path of a results file.

    Returns:
        The bytes of a netCDF4 file of the result without provenance.

    Example:
        >>> import jaxbias as jb
        >>> a = jb.save(ds, "/tmp/a.nc"); b = jb.save(ds, "/tmp/b.nc")       # doctest: +SKIP
        >>> a.read_bytes() == b.read_bytes(), content_bytes(a) == content_bytes(b)  # doctest: +SKIP
        (False, True)
    """
    ds = result if isinstance(result, xr.Dataset) else load(result)
    plain = _encoded(annotate(without_provenance(ds)).drop_encoding())
    return bytes(plain.to_netcdf(engine=_ENGINE))


def load(path: str | os.PathLike) -> xr.Dataset:
    """Loads a results file fully into memory and closes it.

    Because the file is closed on return, it may be replaced or deleted afterwards.

    Args:
        path: a file written by ``save``.

    Returns:
        The Dataset, with all data in memory.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        IsADirectoryError: if ``path`` is a directory.
        ValueError: if ``path`` is not a netCDF4/HDF5 file (a text file, an image), or is one
            that cannot be read (truncated by a full disk or an interrupted copy, corrupted);
            the message names the file and what is wrong.
    """
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no results file at '{path}'")
    if path.is_dir():
        raise IsADirectoryError(f"path '{path}' is a directory; expected a netCDF results file")
    problem = _not_hdf5(path)
    if problem:
        raise ValueError(f"cannot load '{path}': {problem}; expected a netCDF results file written by jaxbias "
                         "(jb.save or the jaxbias command)")
    try:
        with xr.open_dataset(path, engine=_ENGINE) as ds:
            return ds.load()
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        size = path.stat().st_size
        raise ValueError(f"cannot load '{path}' ({size:,} bytes): a netCDF/HDF5 file that cannot be read, "
                         f"probably truncated or corrupted ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                         "write it again") from None


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _not_hdf5(path: pathlib.Path) -> str:
    """Why ``path`` is not an HDF5 (netCDF4) file, or '' if it starts like one.

    HDF5 puts its signature at byte 0, 512, 1024, 2048, ... (a user block may precede it).
    """
    size = path.stat().st_size
    if size == 0:
        return "the file is empty (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(24)
        if head.startswith(b"CDF"):
            return "a netCDF3 (classic) file; jaxbias results are netCDF4 (HDF5)"
        offset = 0
        while offset < size:
            f.seek(offset)
            if f.read(8) == _HDF5_SIGNATURE:
                return ""
            offset = 512 if offset == 0 else 2 * offset
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"a text file (it starts with {head.decode('ascii')!r}), not netCDF"
    return f"not a netCDF4/HDF5 file (no HDF5 signature; it starts with {head[:8]!r})"

