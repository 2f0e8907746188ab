"""Kernels of random networks: infinite-width NNGP and NTK (analytic), Gaussian expectations.

>>> import jaxbias as jb
>>> net = jb.nets.mlp(width=256, depth=2, activation="relu", weight_var=2.0)
>>> jb.kernels.infinite(net, jb.inputs.grid(dim=2, resolution=3)).nngp.shape
(9, 9)
"""

from jaxbias.kernels.analytic import Kernels, infinite, infinite_kernels, nngp_step, ntk_step
from jaxbias.kernels.gaussian import (
    CLOSED_FORMS,
    ORDERS,
    RTOL,
    check_accuracy,
    dphi_dphi,
    dphi_sq,
    gauss_expect,
    phi_mean,
    phi_phi,
    phi_sq,
)

# Empirical kernels, kernels over inits, spectra.
from jaxbias.kernels import empirical, monte_carlo, spectra
from jaxbias.kernels.empirical import empirical_ntk, ntk_fn, ntk_matvec
from jaxbias.kernels.empirical import auto_method
from jaxbias.kernels.monte_carlo import KernelMoments, nngp_monte_carlo, ntk_moments
from jaxbias.kernels.spectra import (
    Spectrum,
    WalshSpectrum,
    condition_number,
    effective_rank,
    eigen,
    kernel_alignment,
    lanczos,
    power_law_fit,
    target_alignment,
    walsh_spectrum,
)

__all__ = [
    "Kernels",
    "infinite",
    "infinite_kernels",
    "nngp_step",
    "ntk_step",
    "gauss_expect",
    "phi_phi",
    "dphi_dphi",
    "phi_sq",
    "dphi_sq",
    "phi_mean",
    "CLOSED_FORMS",
    "ORDERS",
    "RTOL",
    "check_accuracy",
    # empirical kernels, kernels over inits, spectra
    "empirical",
    "monte_carlo",
    "spectra",
    "empirical_ntk",
    "ntk_fn",
    "ntk_matvec",
    "auto_method",
    "KernelMoments",
    "ntk_moments",
    "nngp_monte_carlo",
    "Spectrum",
    "WalshSpectrum",
    "eigen",
    "lanczos",
    "effective_rank",
    "condition_number",
    "power_law_fit",
    "target_alignment",
    "kernel_alignment",
    "walsh_spectrum",
]
