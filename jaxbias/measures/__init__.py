"""Measures of one function (one network's outputs), pure and jit/vmap-able; the engine maps them over networks.

Function complexity (Teney et al., CVPR 2024; Valle-Perez et al., ICLR 2019): Fourier mean frequency and radial spectrum
(:mod:`~jaxbias.measures.spectral`), Legendre polynomial order (:mod:`~jaxbias.measures.polynomial`),
LZ76 and the Valle-Perez LZ complexity (:mod:`~jaxbias.measures.lz`), Boolean sensitivity, entropy and
truth tables (:mod:`~jaxbias.measures.boolean`), and the near-constant guard
(:mod:`~jaxbias.measures.constant`). Initial guessing bias (section 2): per-network class
fractions (:mod:`~jaxbias.measures.guessing`).

The same measures as hashable values for the engine's ``stat=`` (:mod:`~jaxbias.measures.values`):
``MeanFrequency``, ``MeanFrequencyRedshiftCode``, ``PolynomialOrder``, ``LZComplexity``,
``NearConstant``, each taking one network's outputs ``(n_points, n_out)``; equal settings share
one compiled program.

>>> import jax.numpy as jnp, jaxbias as jb
>>> float(jb.measures.mean_frequency(jnp.ones((8, 8))))
0.0
>>> float(jb.measures.MeanFrequency(shape=(8, 8))(jnp.ones((64, 1))))
0.0
"""

from jaxbias.measures.boolean import (
    entropy,
    pack_truth_table,
    sensitivity,
    sensitivity_walsh,
    truth_table,
    truth_table_hex,
    walsh_fourier,
)
from jaxbias.measures.constant import near_constant, non_finite
from jaxbias.measures.guessing import GuessingStats, class_fractions, guessing_stats
from jaxbias.measures.lz import lz76, lz_complexity, lz_grid
from jaxbias.measures.polynomial import legendre_coefficients, polynomial_order
from jaxbias.measures.spectral import mean_frequency, mean_frequency_redshift_code, radial_frequencies, radial_spectrum
from jaxbias.measures.values import (
    LZComplexity,
    MeanFrequency,
    MeanFrequencyRedshiftCode,
    NearConstant,
    PolynomialOrder,
)

__all__ = [
    "near_constant",
    "non_finite",
    "mean_frequency",
    "mean_frequency_redshift_code",
    "radial_spectrum",
    "radial_frequencies",
    "legendre_coefficients",
    "polynomial_order",
    "lz76",
    "lz_complexity",
    "lz_grid",
    "truth_table",
    "pack_truth_table",
    "truth_table_hex",
    "sensitivity",
    "sensitivity_walsh",
    "walsh_fourier",
    "entropy",
    "class_fractions",
    "guessing_stats",
    "GuessingStats",
    "MeanFrequency",
    "MeanFrequencyRedshiftCode",
    "PolynomialOrder",
    "LZComplexity",
    "NearConstant",
]
