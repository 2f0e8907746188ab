"""jaxbias: the functions random neural networks compute, sampled by the thousand in JAX."""

__version__ = "0.1.0"

from jaxbias import nets

__all__ = ["nets", "__version__"]
