"""Named experiments: recipes over the engine, the measures and the theory, each returning an ``xarray.Dataset``.

Used by the ``jaxbias`` subcommands and the notebooks.
"""

from jaxbias.experiments import igb
from jaxbias.experiments.boolean_prior import boolean_prior, boolean_prior_cell
from jaxbias.experiments.ntk import ntk_spectrum
from jaxbias.experiments.redshift import SCALE_KINDS, baselines, redshift, redshift_cell, scaled_net

__all__ = ["redshift", "redshift_cell", "scaled_net", "baselines", "SCALE_KINDS", "boolean_prior",
           "boolean_prior_cell", "igb", "ntk_spectrum"]
