"""NTK and its spectrum at finite width (mean and band over inits) next to infinite width.

For a network and an input set: the empirical NTK of ``n`` random networks (its mean and standard
deviation entry by entry, :func:`jaxbias.kernels.ntk_moments`), the eigenvalues of each network's
NTK (their mean and a 5-95 % band over networks, rank by rank), the eigenvalues of the mean
kernel, and for built-in MLPs the infinite-width NNGP and NTK (:func:`jaxbias.kernels.infinite`)
with their spectra; plus summaries (effective rank, condition number, power-law exponent).
On the whole Boolean hypercube, the eigenvalues by Walsh degree too (:func:`jaxbias.kernels.walsh_spectrum`;
O'Donnell 2014, Yang & Salman 2019): exact per-degree eigenvalues on ``{-1,+1}^n`` (``hypercube:N:pm1``),
where an MLP kernel depends only on the Hamming distance; on ``{0,1}^n`` the true eigenvalues grouped by
the degree that dominates each eigenvector, with ``exact`` 0 and the off-diagonal Walsh mass in ``attrs``.

>>> import jaxbias as jb
>>> from jaxbias.experiments.ntk import ntk_spectrum
>>> ds = ntk_spectrum(jb.nets.mlp(32, 2, "relu"), jb.inputs.sphere(3, 16), n=4, progress=False)
>>> ds["eig_mean_kernel"].dims
('rank',)
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxbias.engine import reduce
from jaxbias.kernels import spectra
from jaxbias.kernels.analytic import infinite
from jaxbias.kernels.empirical import ntk_fn
from jaxbias.kernels.monte_carlo import ntk_moments
from jaxbias.nets import MLP, Net
from jaxbias.results import result_attrs

__all__ = ["ntk_spectrum"]

_BAND = (0.05, 0.95)


@dataclasses.dataclass(frozen=True)
class _EigApply:
    """``apply(params, x)`` returning the eigenvalues of the network's NTK on ``x``, descending (hashable)."""

    kernel: Callable

    def __call__(self, params, x):
        return jnp.linalg.eigvalsh(self.kernel(params, x))[::-1]


def rounding_level(values: np.ndarray, dtype) -> float:
    """``n eps max|lambda|``: eigenvalues of an ``n x n`` kernel in ``dtype`` at or below it are rounding noise."""
    values = np.asarray(values, np.float64)
    return float(values.size * np.finfo(dtype).eps * np.max(np.abs(values)))


def _summaries(values: np.ndarray, prefix: str, dtype) -> dict:
    """Effective rank, condition number, numerical rank and power-law exponent of one spectrum.

    Eigenvalues at or below :func:`rounding_level` are zero to working precision: the numerical rank
    counts the others, and when there are any the kernel is singular: the condition number is stored
    as inf (a finite ratio would be a ratio of rounding noise) and a :class:`~jaxbias.kernels.spectra.KernelWarning`
    says so.
    """
    level = rounding_level(values, dtype)
    rank = int(np.sum(values > level))
    positive = values[values > level]
    out = {f"{prefix}_effective_rank": spectra.effective_rank(values),
           f"{prefix}_condition_number": spectra.condition_number(values) if rank == values.size else math.inf,
           f"{prefix}_numerical_rank": rank, f"{prefix}_rounding_level": level}
    if rank < values.size:
        warnings.warn(f"{prefix}-width NTK on {values.size} points: {values.size - rank} eigenvalue(s) at or below the "
                      f"{np.dtype(dtype).name} rounding level {level:.3g} (n eps lambda_max; smallest "
                      f"{float(values.min()):.3g}): the kernel is singular to working precision (repeated or "
                      f"degenerate inputs?); {prefix}_condition_number is stored as inf, "
                      f"{prefix}_numerical_rank = {rank}", spectra.KernelWarning, stacklevel=3)
    if positive.size >= 3:
        out[f"{prefix}_power_law_exponent"] = spectra.power_law_fit(positive).exponent
    return out


def ntk_spectrum(net: Net, x: Any, *, n: int = 16, key: Any = 0, method: str = "auto", with_infinite: bool | None = None,
                 hypercube: bool | None = None, config: dict | None = None, progress: bool | None = None) -> xr.Dataset:
    """Finite-width NTK over ``n`` inits and its spectrum, next to the infinite-width kernels.

    Args:
      net: a :class:`~jaxbias.nets.Net`.
      x: points ``(n_points, d)``.
      n: number of random networks.
      key: seed; network ``i`` is ``net.init(fold_in(key, i), x)``.
      method: empirical NTK method (see :func:`jaxbias.kernels.empirical_ntk`).
      with_infinite: add the infinite-width kernels; default: when ``net`` is a built-in MLP.
      hypercube: add Walsh-degree eigenvalues; default: when ``x`` is a whole hypercube (use the
        ``{-1,+1}`` coding for exact per-degree eigenvalues, see :func:`jaxbias.kernels.walsh_spectrum`).
      config: extra entries stored in the result's config (e.g. the input spec).
      progress: progress bars (see :func:`jaxbias.reduce`).

    Returns:
      Dataset with ``x (point, feature)``, ``ntk_mean``, ``ntk_std`` ``(point, point_b)``,
      ``eig_mean_kernel``, ``eig_init_mean``, ``eig_init_lo``, ``eig_init_hi`` ``(rank,)``; with
      infinite width ``ntk_infinite``, ``nngp_infinite`` and ``eig_infinite_ntk``,
      ``eig_infinite_nngp``; on the cube ``walsh_finite``, ``walsh_infinite`` ``(degree,)`` (the
      :class:`~jaxbias.kernels.WalshSpectrum` ``eigenvalue``: mean of the eigenvalues assigned to
      each degree, NaN where none is) with ``walsh_finite_count``, ``walsh_infinite_count``
      (eigenvectors per degree), and in ``attrs`` ``walsh_*_off_diagonal`` and ``walsh_*_exact``
      (1 when the per-degree values are the exact eigenvalues with multiplicities ``C(n, d)``).
      Summaries are in ``attrs``: ``<finite|infinite>_effective_rank``, ``_condition_number`` (inf, with a
      :class:`~jaxbias.kernels.spectra.KernelWarning`, when an eigenvalue is at the rounding level),
      ``_numerical_rank`` (eigenvalues above ``_rounding_level`` = n eps max eigenvalue),
      ``_power_law_exponent``.
    """
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2:
        raise ValueError(f"x with shape {tuple(x.shape)}: expected points (n_points, d)")
    with_infinite = isinstance(net, MLP) if with_infinite is None else bool(with_infinite)
    moments = ntk_moments(net, x, n=n, key=key, method=method, progress=progress)
    kernel = ntk_fn(net, method=method)
    eigs = reduce(Net(net.init, _EigApply(kernel), "ntk_eigenvalues"), x, n=n, key=key,
                  progress=progress).astype(np.float64)
    lo, hi = np.quantile(eigs, _BAND, axis=0)
    mean_spec = spectra.eigen(moments.mean, vectors=False, check="ignore").values
    n_points = x.shape[0]
    data = {
        "x": (("point", "feature"), np.asarray(x)),
        "ntk_mean": (("point", "point_b"), moments.mean),
        "ntk_std": (("point", "point_b"), moments.std),
        "eig_mean_kernel": (("rank",), mean_spec),
        "eig_init_mean": (("rank",), eigs.mean(axis=0)),
        "eig_init_lo": (("rank",), lo),
        "eig_init_hi": (("rank",), hi),
    }
    summary = {"n_nets": int(n), "method": method, **_summaries(mean_spec, "finite", moments.mean.dtype)}
    if with_infinite:
        kernels = infinite(net, x)
        ntk_inf, nngp_inf = np.asarray(kernels.ntk, np.float64), np.asarray(kernels.nngp, np.float64)
        inf_spec = spectra.eigen(ntk_inf, vectors=False, check="ignore").values
        data.update({
            "ntk_infinite": (("point", "point_b"), ntk_inf),
            "nngp_infinite": (("point", "point_b"), nngp_inf),
            "eig_infinite_ntk": (("rank",), inf_spec),
            "eig_infinite_nngp": (("rank",), spectra.eigen(nngp_inf, vectors=False, check="ignore").values),
        })
        rel = np.linalg.norm(moments.mean - ntk_inf) / np.linalg.norm(ntk_inf)
        summary.update({"relative_distance_mean_to_infinite": float(rel),
                        **_summaries(inf_spec, "infinite", np.asarray(kernels.ntk).dtype)})
    cube = _is_hypercube(np.asarray(x)) if hypercube is None else bool(hypercube)
    if cube:
        walsh = {"finite": moments.mean}
        if with_infinite:
            walsh["infinite"] = np.asarray(kernels.ntk)  # its own dtype: the tolerance follows its rounding
        for name, kernel_matrix in walsh.items():
            w = spectra.walsh_spectrum(kernel_matrix, x)
            data[f"walsh_{name}"] = (("degree",), w.eigenvalue)
            data[f"walsh_{name}_count"] = (("degree",), w.count)
            summary.update({f"walsh_{name}_off_diagonal": w.off_diagonal, f"walsh_{name}_exact": int(w.exact)})
    coords = {"point": np.arange(n_points), "point_b": np.arange(n_points), "rank": np.arange(1, n_points + 1)}
    if cube:
        coords["degree"] = np.arange(x.shape[1] + 1)
    run = {"net": net, "n": int(n), "method": method, **(config or {})}
    attrs = result_attrs(run, key)
    attrs.update({k: v for k, v in summary.items() if k not in ("n_nets", "method")})
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _is_hypercube(x: np.ndarray) -> bool:
    n_bits = x.shape[1]
    if n_bits > 20 or x.shape[0] != 2**n_bits:
        return False
    values = set(np.unique(x).tolist())
    if not (values <= {0.0, 1.0} or values <= {-1.0, 1.0}):
        return False
    return np.unique(x, axis=0).shape[0] == x.shape[0]
