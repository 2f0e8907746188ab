"""Theory: predictions for random networks and checks of them against Monte Carlo (SCIENCE.md section 4)."""

from jaxbias.theory.checks import (  # noqa: F401
    CheckResult, DistributionResult, Estimator, check, check_distribution, compare, critical_z, merge,
)
from jaxbias.theory.finite_width import (  # noqa: F401
    FiniteWidth, excess_kurtosis, finite_width, mlp_finite_width, square_covariance,
)
from jaxbias.theory.order_chaos import (  # noqa: F401
    OrderChaos, PhaseDiagram, correlation_map, critical_line, order_chaos, phase_diagram,
)
from jaxbias.theory.recursions import (  # noqa: F401
    chi_parallel, chi_perp, critical_weight_var, fixed_point, length_map,
)
from jaxbias.theory.catalogue import CATALOGUE, CheckReport, run_check, to_dataset  # noqa: F401
