"""Results files written before network specs (jaxbias 0.1.0) stored a config dict with an ``"arch"`` key.

:func:`from_config` rebuilds the spec such a dict describes, so old files stay reproducible:

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

from jaxbias.nets.cnn import CNN
from jaxbias.nets.mlp import MLP
from jaxbias.nets.resnet import ResNet
from jaxbias.nets.spec import Spec
from jaxbias.nets.transformer import Transformer

__all__ = ["from_config"]


def _norm(kind, position):
    return None if kind is None else f"{kind}_{position}"


def _pool(kind, size):
    return None if kind is None else f"{kind}({size or 2})"


def from_config(config: dict) -> Spec:
    """The spec an old (0.1.0) config dict describes; for files written since, use :func:`jaxbias.nets.from_dict`.

    Raises:
      ValueError: no known ``"arch"``, or a setting the specs do not express (a ResNet with
        ``norm_position="post"`` and no normalization).
    """
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
