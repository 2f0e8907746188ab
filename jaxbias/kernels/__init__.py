"""Kernels of random networks: infinite-width NNGP and NTK (analytic), Gaussian expectations.

>>> import jaxbias as jb
>>> net = jb.nets.mlp(width=256, depth=2, activation="relu", weight_var=2.0)
>>> jb.kernels.infinite(net, jb.inputs.grid(dim=2, resolution=3)).nngp.shape
(9, 9)
"""

from jaxbias.kernels.analytic import Kernels, infinite, infinite_kernels, nngp_step, ntk_step
from jaxbias.kernels.gaussian import (
    CLOSED_FORMS,
    DEFAULT_ORDER,
    dphi_dphi,
    dphi_sq,
    gauss_expect,
    phi_mean,
    phi_phi,
    phi_sq,
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
    "DEFAULT_ORDER",
]
