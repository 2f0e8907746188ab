"""Theory: predictions to set beside what the sampled networks measure."""

from jaxbias.theory import guessing
from jaxbias.theory.guessing import (
    Estimate,
    KSResult,
    estimate_g0_var,
    estimate_gamma,
    estimate_max_fraction,
    expected_max_fraction,
    fractions_given_centres,
    g0_cdf,
    g0_pdf,
    g0_var,
    gamma_from_kernel,
    ks_test,
)

__all__ = [
    "guessing",
    "gamma_from_kernel",
    "g0_cdf",
    "g0_pdf",
    "g0_var",
    "expected_max_fraction",
    "fractions_given_centres",
    "Estimate",
    "estimate_gamma",
    "estimate_g0_var",
    "estimate_max_fraction",
    "ks_test",
    "KSResult",
]
