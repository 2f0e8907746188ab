"""Labelled results: network outputs and per-network statistics as ``xarray.Dataset``.

Dimension names are fixed across jaxbias: ``net`` (the network index ``i``, whose key is
``fold_in(key, i)``), ``point`` (the input), ``out`` (the output unit), ``feature`` (input
coordinates), plus one dimension per swept parameter (added by :func:`jaxbias.run_sweep`).
Attributes carry the full config as JSON, the key and the library versions
(:func:`jaxbias.io.result_attrs`), so a file says how to regenerate itself.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from jaxbias.io import result_attrs

__all__ = ["outputs_dataset", "inputs_dataset"]


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
