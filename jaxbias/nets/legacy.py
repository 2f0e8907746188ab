"""Rebuilding the network a result was computed with: :func:`from_config`.

``jb.nets.from_config(ds)`` takes a results Dataset (``jb.load(path)``): the network of a single
run, or of one cell of a sweep (every sweep stores each cell's spec in the variable ``net_spec``,
so select the cell first: ``jb.nets.from_config(ds.sel(activation="tanh", depth=4))``).

Results files written before network specs (jaxbias 0.1.0) stored a config dict with an ``"arch"``
key; :func:`from_config` rebuilds the spec such a dict describes too, so old files stay reproducible:

>>> import jaxbias as jb
>>> old = {"arch": "mlp", "width": [8, 8], "depth": 2, "activation": "tanh", "out": 1,
...        "weight_var": [1.0, 1.0, 1.0], "bias_var": [0.0, 0.0, 0.0], "bias": True,
...        "parameterization": "standard", "weight_law": "normal", "residual": False,
...        "residual_scale": 1.0, "layer_norm_position": "pre", "batch_norm_position": None,
...        "pooling": None, "pool_size": None, "in_dim": None}
>>> jb.nets.from_config(old) == jb.nets.MLP(8, 2, "tanh", norm="layer_pre")
True
"""

from __future__ import annotations

import json
from typing import Any

from jaxbias.nets.cnn import CNN
from jaxbias.nets.mlp import MLP
from jaxbias.nets.resnet import ResNet
from jaxbias.nets.spec import Spec, from_dict
from jaxbias.nets.transformer import Transformer

__all__ = ["from_config"]


def _norm(kind, position):
    return None if kind is None else f"{kind}_{position}"


def _pool(kind, size):
    return None if kind is None else f"{kind}({size or 2})"


def _from_dataset(ds: Any) -> Spec:
    """The spec of a results Dataset: its ``net_spec`` (one sweep cell) or its config's ``"net"``."""
    if "net_spec" in ds.variables:
        spec = ds["net_spec"]
        if spec.size != 1:
            example = ", ".join(f"{d}={spec[d].values[0].item()!r}" for d in spec.dims if d in spec.coords) or \
                ", ".join(f"{d}=0" for d in spec.dims)
            raise ValueError(f"this result is a sweep with one network per cell (dims {', '.join(spec.dims)}): "
                             f"select one cell first, e.g. jb.nets.from_config(ds.sel({example}))")
        return from_dict(json.loads(str(spec.values.reshape(-1)[0])))
    text = ds.attrs.get("config")
    if text is None:
        raise ValueError(f"the Dataset has no 'config' attribute (attrs: {sorted(ds.attrs)}) and no 'net_spec': "
                         "not a jaxbias results file")
    net = json.loads(text).get("net")
    if isinstance(net, dict) and net.get("rebuildable") is False:
        raise ValueError(f"the result's network ({net.get('type')}) was not a jaxbias spec and cannot be rebuilt")
    if isinstance(net, dict) and "type" in net:
        return from_dict(net)
    if isinstance(net, dict) and "arch" in net and "swept" not in net:
        return from_config(net)
    raise ValueError("the result's config holds no single network (config['net'] is "
                     f"{'missing' if net is None else 'a sweep description'}) and the file has no per-cell "
                     "'net_spec' (written before jaxbias stored one): rebuild the cell's network from the sweep's "
                     "config['grid'] and config['fixed']")


def from_config(config: Any) -> Spec:
    """The network spec a result was computed with, rebuilt (equal to the one that ran).

    Args:
      config: a results Dataset (``jb.load(path)``) of a single run, or one cell of a sweep
        (``ds.sel(depth=4, activation="tanh")``: sweeps store each cell's spec in ``net_spec``);
        a spec dict of :func:`jaxbias.nets.to_dict`; or an old (0.1.0) config dict with ``"arch"``.

    Raises:
      ValueError: a whole sweep (the message says how to select a cell), a result whose network
        was not a jaxbias spec (a flax module, user functions), no known ``"arch"``, or a setting
        the specs do not express (a ResNet with ``norm_position="post"`` and no normalization).

    Example:
      >>> import jaxbias as jb
      >>> net = jb.nets.MLP(8, 2, "tanh")
      >>> ds = jb.outputs_dataset(jb.sample(net, jb.inputs.grid(2, 4), n=2, progress=False),
      ...                         jb.inputs.grid(2, 4), {"net": net}, key=0)
      >>> jb.nets.from_config(ds) == net
      True
    """
    if hasattr(config, "attrs") and hasattr(config, "variables"):
        return _from_dataset(config)
    if isinstance(config, dict) and "type" in config:
        return from_dict(config)
    if not isinstance(config, dict):
        raise ValueError(f"config of type {type(config).__name__}: expected a results Dataset (jb.load(path)), "
                         "a spec dict or a 0.1.0 config dict")
    c = {k: v for k, v in dict(config).items() if k != "arch"}
    arch = config.get("arch") if isinstance(config, dict) else None
    if arch == "mlp":
        ln, bn = c.pop("layer_norm_position", None), c.pop("batch_norm_position", None)
        c["norm"] = _norm("layer", ln) if ln else _norm("batch", bn) if bn else None
        c["pool"] = _pool(c.pop("pooling", None), c.pop("pool_size", None))
        return MLP(**c)
    if arch == "cnn":
        c["norm"] = _norm(c.pop("normalization", None), c.pop("norm_position", None))
        c["pool"] = _pool(c.pop("pooling", None), c.pop("pool_size", None))
        c["kernel_size"] = tuple(tuple(k) for k in c["kernel_size"])
        c["stride"] = tuple(tuple(s) for s in c["stride"])
        return CNN(**c)
    if arch == "resnet":
        kind, position = c.pop("normalization", None), c.pop("norm_position", "pre")
        if kind is None and position == "post":
            raise ValueError("config: a ResNet with norm_position='post' and no normalization has no spec; "
                             "ResNet blocks without norm are pre-activation")
        c["norm"] = _norm(kind, position)
        if c.get("kernel_size") is not None:
            c["kernel_size"] = tuple(c["kernel_size"])
        return ResNet(**c)
    if arch == "transformer":
        c["norm"] = _norm("layer", c.pop("norm_position", "pre"))
        c["readout"] = c.pop("pool", "mean")
        return Transformer(**c)
    raise ValueError(f"config arch={arch!r}: expected one of 'mlp', 'cnn', 'resnet', 'transformer' "
                     "(a 0.1.0 results file's network)")
