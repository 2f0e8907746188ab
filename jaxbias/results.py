"""Labelled results: network outputs and per-network statistics as ``xarray.Dataset``.

Dimension names are fixed across jaxbias: ``net`` (the network index ``i``, whose key is
``fold_in(key, i)``), ``point`` (the input), ``out`` (the output unit), ``feature`` (input
coordinates), plus one dimension per swept parameter (added by :func:`jaxbias.run_sweep`).
Attributes carry the full config as JSON, the key and the library versions
(:func:`result_attrs`, read back by :func:`config_of`), so a file says how to regenerate itself;
:mod:`jaxbias.io` writes and reads the files, adding when saving the run's provenance (:func:`provenance_attrs`:
the CF ``history`` line with the time and command line, the devices) and each variable's meaning
(:mod:`jaxbias.variables`). :data:`PROVENANCE` names the attributes that say when and where a result was
made rather than what it is; :func:`without_provenance` drops them, so two runs of the same computation
compare equal.
"""

from __future__ import annotations

import collections
import datetime
import importlib.metadata
import json
import numbers
import os
import shlex
import sys
from typing import Any

import jax
import numpy as np
import xarray as xr

from jaxbias.nets.spec import Spec, describe, from_dict
from jaxbias.version import __version__, git_commit

__all__ = ["outputs_dataset", "inputs_dataset", "result_attrs", "config_of", "net_of", "to_json", "PROVENANCE",
           "provenance_attrs", "without_provenance"]

_INT64 = np.iinfo(np.int64)


def _json_default(value: Any) -> Any:
    """``json.dumps`` hook for numpy scalars and arrays, sets and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"value {value!r} of type {type(value).__name__} is not JSON-serializable; "
        "expected plain Python or numpy values"
    )


def _networks_described(value: Any) -> Any:
    """``value`` with every network in it replaced by :func:`jaxbias.nets.describe` (a spec by its dict)."""
    if isinstance(value, Spec) or (callable(getattr(value, "init", None)) and callable(getattr(value, "apply", None))):
        return describe(value)
    if isinstance(value, dict):
        return {k: _networks_described(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_networks_described(v) for v in value]
    return value


def net_of(ds: xr.Dataset, name: str = "net") -> Spec:
    """The network spec a results Dataset was computed with, rebuilt (equal to the one that ran).

    Args:
        ds: a Dataset whose attrs came from ``result_attrs`` with the network under ``config[name]``.
        name: where the network sits in the config.

    Raises:
        ValueError: no such entry, or a network that cannot be rebuilt (user functions, flax modules).
    """
    config = config_of(ds)
    if name not in config:
        raise ValueError(f"name={name!r}: the result's config has no network there (keys: {sorted(config)})")
    data = config[name]
    if isinstance(data, dict) and data.get("rebuildable") is False:
        raise ValueError(f"the result's network ({data.get('type')}) was not a jaxbias spec and cannot be rebuilt")
    return from_dict(data)


def to_json(value: Any) -> str:
    """Canonical JSON text of ``value``: sorted keys, numpy values as Python values.

    Args:
        value: plain Python data (dicts, lists, tuples, str, numbers, bool, None),
            numpy scalars and arrays allowed anywhere inside.

    Returns:
        The JSON text. Equal inputs give equal text, so it can be compared and hashed.

    Raises:
        ValueError: if ``value`` holds something JSON cannot represent.
    """
    try:
        return json.dumps(_networks_described(value), sort_keys=True, default=_json_default)
    except TypeError as err:
        raise ValueError(f"cannot serialize {value!r} to JSON: {err}") from None


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _key_attr(key: Any) -> int | str:
    """An int seed stays an int; anything else (a JAX key array, None) becomes a string."""
    if isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_)):
        if _INT64.min <= int(key) <= _INT64.max:
            return int(key)
        return str(int(key))
    try:
        data = np.asarray(key)
    except Exception:  # typed JAX keys refuse conversion; their repr shows the key data.
        return repr(key)
    if data.dtype.kind in "iub":
        return json.dumps(data.tolist())
    return repr(key)


def result_attrs(config: dict, key: Any) -> dict:
    """The attributes that say how to rerun a result: its config, key and library versions.

    Holds everything needed to rerun the computation and nothing that changes between
    two identical runs but the checkout's commit (no timestamps, hostnames or paths). When and where the
    run happened (time, command line, devices) is added by :func:`jaxbias.io.save` (:func:`provenance_attrs`).

    Args:
        config: the plain-Python settings of the run (JSON-serializable; tuples and
            numpy scalars are converted). Stored as canonical JSON under ``"config"``.
        key: the random seed: an int is stored as an int; anything else, such as a
            JAX key array, as a string.

    Returns:
        A dict with keys ``"config"``, ``"key"``, ``"jaxbias_version"``,
        ``"jax_version"``, ``"jaxlib_version"``, ``"numpy_version"`` and
        ``"xarray_version"``, and ``"git_commit"`` when jaxbias runs from a git checkout
        (:func:`jaxbias.version.git_commit`: the commit, ``-dirty`` if tracked files differ).

    Raises:
        ValueError: if ``config`` is not a dict or is not JSON-serializable.
    """
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict, got {type(config).__name__}: {config!r}")
    return {
        "config": to_json(config),
        "key": _key_attr(key),
        "jaxbias_version": __version__,
        "jax_version": _package_version("jax"),
        "jaxlib_version": _package_version("jaxlib"),
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        **({"git_commit": commit} if (commit := git_commit()) else {}),
    }


PROVENANCE = ("history", "devices", "git_commit")
"""Dataset attrs that say when, where and by what command a result was made, not what it is: two runs of
the same computation differ only in these (:func:`without_provenance` drops them)."""


def _command_line() -> str:
    """The command line of this process (``sys.argv``, shell-quoted), or where it ran without one."""
    if not sys.argv or not sys.argv[0]:
        return "interactive python"
    return shlex.join(["python", *sys.argv] if sys.argv[0] == "-c" else sys.argv)


def _devices() -> str:
    """The devices JAX computes on, e.g. ``"8 x cpu; 1 process"`` or ``"16 x NVIDIA H100 80GB HBM3; 2 processes"``."""
    kinds = collections.Counter(d.device_kind for d in jax.devices())
    processes = jax.process_count()
    return ", ".join(f"{count} x {kind}" for kind, count in kinds.items()) + \
        f"; {processes} process{'es' if processes > 1 else ''}"


def provenance_attrs(attrs: dict | None = None) -> dict:
    """``attrs`` with this run's provenance added: when, by what command and on which devices.

    * ``history`` (CF): a line ``"<UTC time, ISO 8601>: <command line>"``, e.g.
      ``"2025-03-01T12:00:00Z: jaxbias sample --n 100"``, appended to the ``history`` already in
      ``attrs`` (a result loaded and saved again keeps the lines of the runs before);
    * ``devices``: the devices JAX computes on and the process count, e.g. ``"8 x cpu; 1 process"``,
      unless ``attrs`` has it (the devices that computed the data, kept when a loaded result is saved again);
    * ``git_commit``: as in :func:`result_attrs`, when running from a git checkout and ``attrs`` has none.

    These change between two runs of the same computation (all are in :data:`PROVENANCE`);
    :func:`jaxbias.io.save` adds them unless ``provenance=False``.

    Args:
        attrs: a Dataset's attrs (None: none); not modified.

    Returns:
        A new dict.
    """
    out = dict(attrs or {})
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{stamp}: {_command_line()}"
    out["history"] = f"{out['history']}\n{line}" if out.get("history") else line
    out.setdefault("devices", _devices())
    if (commit := git_commit()) and "git_commit" not in out:
        out["git_commit"] = commit
    return out


def without_provenance(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` without the :data:`PROVENANCE` attrs: what two runs of the same computation share.

    Args:
        ds: a results Dataset, e.g. loaded by :func:`jaxbias.io.load`.

    Returns:
        The copy (data shared); ``ds`` is not modified.
    """
    out = ds.copy(deep=False)
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in PROVENANCE}
    return out


def config_of(ds: xr.Dataset) -> dict:
    """The config a results Dataset was computed with (the inverse of ``result_attrs``).

    Args:
        ds: a Dataset whose attrs came from ``result_attrs``, in memory or loaded.

    Returns:
        The config dict (tuples come back as lists, as JSON has no tuples).

    Raises:
        ValueError: if ``ds.attrs`` has no ``"config"`` or it is not a JSON object.
    """
    text = ds.attrs.get("config")
    if text is None:
        raise ValueError(
            f"ds.attrs has no 'config' (attrs: {sorted(ds.attrs)}); "
            "expected attrs made by jaxbias.results.result_attrs"
        )
    try:
        config = json.loads(text)
    except (TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"ds.attrs['config'] is not valid JSON ({err}): {text!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"ds.attrs['config'] must be a JSON object, got {text!r}")
    return config




def outputs_dataset(outputs, x, config: dict, key, *, grid_shape: tuple[int, ...] | None = None) -> xr.Dataset:
    """Wraps sampled outputs and their inputs into a Dataset.

    Args:
      outputs: ``(n_nets, n_points, n_out)`` outputs of :func:`jaxbias.sample`.
      x: inputs ``(n_points, *input_shape)``; stored as variable ``x`` with dims
        ``(point, feature)`` (flattened per point).
      config: run config (network config, inputs, n, ...), stored as JSON in ``attrs["config"]``.
      key: the run's seed or key.
      grid_shape: for grid inputs, the grid's shape ``(r,) * d``, stored so plots can reshape.

    Returns:
      Dataset with ``outputs (net, point, out)`` and ``x (point, feature)``.
    """
    outputs = np.asarray(outputs)
    if outputs.ndim != 3:
        raise ValueError(f"outputs with shape {outputs.shape}: expected (n_nets, n_points, n_out)")
    x = np.asarray(x)
    if x.shape[0] != outputs.shape[1]:
        raise ValueError(f"x with shape {x.shape}: expected {outputs.shape[1]} points to match outputs")
    attrs = result_attrs(config, key)
    if grid_shape is not None:
        attrs["grid_shape"] = list(grid_shape)
    ds = inputs_dataset(x).assign(outputs=(("net", "point", "out"), outputs))
    ds = ds.assign_coords(net=np.arange(outputs.shape[0]))[["outputs", "x"]]
    ds.attrs = attrs
    return ds


def inputs_dataset(x) -> xr.Dataset:
    """The inputs alone: ``x (point, feature)`` (flattened per point), with the ``point`` coordinate."""
    x = np.asarray(x)
    return xr.Dataset({"x": (("point", "feature"), x.reshape(x.shape[0], -1))}, coords={"point": np.arange(x.shape[0])})
