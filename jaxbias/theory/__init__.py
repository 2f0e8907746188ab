"""Theory: predictions for random networks and checks of them against Monte Carlo (SCIENCE.md section 4)."""

from jaxbias.theory.checks import (  # noqa: F401
    CheckResult, DistributionResult, Estimator, check, check_distribution, compare, critical_z, merge,
)
