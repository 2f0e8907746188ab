"""Kernels of random networks: empirical and infinite-width NTK/NNGP, their spectra (SCIENCE.md section 3)."""

from jaxbias.kernels import empirical, monte_carlo, spectra
from jaxbias.kernels.empirical import empirical_ntk, ntk_fn, ntk_matvec
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
    "empirical",
    "monte_carlo",
    "spectra",
    "empirical_ntk",
    "ntk_fn",
    "ntk_matvec",
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
