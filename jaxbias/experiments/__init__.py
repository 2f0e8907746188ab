"""Named experiments: recipes over the engine, the measures and the theory, each returning an ``xarray.Dataset``.

Used by the ``jaxbias`` subcommands and the notebooks. Theory against simulation lives here too:
:mod:`~jaxbias.experiments.checks` (a prediction against a Monte Carlo estimate, with a verdict),
:mod:`~jaxbias.experiments.catalogue` (the named checks of ``jaxbias check``) and
:mod:`~jaxbias.experiments.ntk_fluctuations` (the diagonal NTK of sampled networks).
"""

from jaxbias.experiments import igb, inductive_bias, inductive_bias_networks
from jaxbias.experiments.boolean_prior import boolean_prior, boolean_prior_cell, boolean_prior_net
from jaxbias.experiments.catalogue import (
    CATALOGUE, CheckOptions, CheckReport, check_options, confront, run_check, to_dataset,
)
from jaxbias.experiments.checks import (
    CheckResult, DistributionResult, Estimator, check, check_distribution, compare, critical_z, merge,
)
from jaxbias.experiments.ntk import ntk_spectrum
from jaxbias.experiments.ntk_fluctuations import ntk_diagonal_net, ntk_diagonal_samples
from jaxbias.experiments.redshift import SCALE_KINDS, baselines, redshift, redshift_cell, scaled_net, unit_scale_mlp
from jaxbias.experiments.task_difficulty import paper_table, task_difficulty

__all__ = ["redshift", "redshift_cell", "scaled_net", "unit_scale_mlp", "baselines", "SCALE_KINDS", "boolean_prior",
           "boolean_prior_cell", "boolean_prior_net", "igb", "ntk_spectrum",
           "Estimator", "CheckResult", "DistributionResult", "critical_z", "compare", "merge", "check",
           "check_distribution", "CATALOGUE", "CheckOptions", "CheckReport", "check_options", "confront", "run_check",
           "to_dataset", "ntk_diagonal_net", "ntk_diagonal_samples", "task_difficulty", "paper_table", "inductive_bias",
           "inductive_bias_networks"]
