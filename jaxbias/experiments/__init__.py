"""Named recipes used by the CLI and the notebooks, each returning an ``xarray.Dataset``."""

from jaxbias.experiments import igb

__all__ = ["igb"]
