"""Named recipes used by the CLI and the notebooks, each returning an ``xarray.Dataset``."""

from jaxbias.experiments import igb
from jaxbias.experiments.ntk import ntk_spectrum

__all__ = ["igb", "ntk_spectrum"]
