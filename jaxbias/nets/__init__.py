"""Networks as frozen, hashable specs with pure ``init`` / ``apply``; activations, weight laws, flax adapters.

Built-in families: :class:`MLP`, :class:`CNN`, :class:`ResNet`, :class:`Transformer` (the
lower-case functions ``mlp``, ``cnn``, ... build the same specs). Any ``Net(init, apply)`` pair and
adapted flax modules are networks too.
"""

from jaxbias.nets.activations import ACTIVATIONS, Activation, get_activation
from jaxbias.nets.cnn import CNN, cnn
from jaxbias.nets.core import layer_norm
from jaxbias.nets.flax_adapters import FlaxNet, from_linen, from_nnx
from jaxbias.nets.legacy import from_config
from jaxbias.nets.mlp import MLP, mlp
from jaxbias.nets.options import NORMS, POOLS, Norm, Pool
from jaxbias.nets.resnet import ResNet, resnet
from jaxbias.nets.spec import Net, Spec, describe, from_dict, to_dict
from jaxbias.nets.transformer import Transformer, transformer
from jaxbias.nets.weight_laws import WEIGHT_LAWS, WeightLaw, get_weight_law

__all__ = [
    "Spec",
    "Net",
    "MLP",
    "CNN",
    "ResNet",
    "Transformer",
    "mlp",
    "cnn",
    "resnet",
    "transformer",
    "Norm",
    "Pool",
    "NORMS",
    "POOLS",
    "to_dict",
    "from_dict",
    "describe",
    "from_config",
    "FlaxNet",
    "from_linen",
    "from_nnx",
    "layer_norm",
    "Activation",
    "get_activation",
    "ACTIVATIONS",
    "WeightLaw",
    "get_weight_law",
    "WEIGHT_LAWS",
]
