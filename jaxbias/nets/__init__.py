"""Networks as pure ``Net(init, apply)`` pairs: built-in families, activations, weight laws, flax adapters."""

from jaxbias.nets.activations import ACTIVATIONS, Activation, get_activation
from jaxbias.nets.cnn import cnn
from jaxbias.nets.core import Net, layer_norm
from jaxbias.nets.flax_adapters import from_linen, from_nnx
from jaxbias.nets.mlp import mlp
from jaxbias.nets.registry import from_config
from jaxbias.nets.resnet import resnet
from jaxbias.nets.transformer import transformer
from jaxbias.nets.weight_laws import WEIGHT_LAWS, WeightLaw, get_weight_law

__all__ = [
    "Net",
    "mlp",
    "cnn",
    "resnet",
    "transformer",
    "from_config",
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
