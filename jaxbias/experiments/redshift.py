"""The neural redshift: complexity of random networks' functions against activation, depth and weight scale.

Teney et al., "Neural Redshift: Random Networks are not Random Functions", CVPR 2024: networks
with ReLU, residual connections or layer norm compute low-frequency functions whatever their
weight scale; with tanh, sin, the Gaussian and others the complexity climbs with scale and depth.

:func:`redshift_cell` takes one network spec built at unit scale, samples ``n`` networks on a
``resolution^d`` grid over ``[-1, 1]^d`` and scores every one of them at every weight scale, inside
one compiled program: the scales are applied to the same random draw (:func:`scaled_net`), so the
scale axis costs no extra compilation and the curves along it compare the same networks.
:func:`redshift` sweeps cells over MLP fields (activation, depth, and optionally width, weight law,
residual, norm), building each cell's spec in one place (:func:`unit_scale_mlp`).

"Weight scale" is ambiguous in the literature, so ``scale_kind`` names it:

* ``"weight_var"``: ``scale`` is C_W, weights ``N(0, C_W / fan_in)`` (or the chosen fan-in
  ``weight_law`` at that variance), biases at fixed variance ``bias_var``;
* ``"absolute"``: weights and biases ``U(-scale, scale)`` whatever the fan-in, as in the
  Neural Redshift code (``weight_law="absolute(scale)"``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxbias import engine, inputs
from jaxbias import measures as jm
from jaxbias.grid import cells, split
from jaxbias.nets.mlp import MLP
from jaxbias.nets.options import NORMS
from jaxbias.nets.weight_laws import get_weight_law
from jaxbias.results import result_attrs, to_json
from jaxbias.sweep import run_sweep
from jaxbias.validation import check_int, check_n

__all__ = ["SCALE_KINDS", "MEASURES", "ScaledNet", "scaled_net", "unit_scale_mlp", "redshift_cell", "redshift",
           "baselines", "cell_statistics"]

SCALE_KINDS = ("weight_var", "absolute")
"""What a weight scale means: ``weight_var`` (C_W, weights N(0, C_W / fan_in)) or ``absolute`` (weights and biases U(-a, a), the Neural Redshift code's law)."""
MEASURES = ("mean_frequency", "polynomial_order", "lz", "mean_frequency_redshift_code")
"""Per-network measures :func:`redshift_cell` can compute (``lz``: :func:`jaxbias.measures.lz_grid`, 2 levels;
``mean_frequency_redshift_code``: the public Neural Redshift code's variant, 2-D grids, to reproduce its heatmaps)."""

Z95 = 1.959963984540054
"""Normal 97.5 % quantile: the confidence interval of a cell mean is mean +- Z95 * std / sqrt(n)."""


def _check_scales(scales, scale_kind) -> tuple[float, ...]:
    if scale_kind not in SCALE_KINDS:
        raise ValueError(f"scale_kind={scale_kind!r}: expected one of {SCALE_KINDS}")
    try:
        out = tuple(float(s) for s in scales)
    except (TypeError, ValueError):
        raise ValueError(f"scales={scales!r}: expected a sequence of positive numbers") from None
    if not out or any(not (math.isfinite(s) and s > 0) for s in out) or len(set(out)) != len(out):
        raise ValueError(f"scales={scales!r}: expected distinct positive finite numbers")
    return out


class ScaledNet(NamedTuple):
    """The same random network at several weight scales: outputs ``(n_points, n_scales * n_out)``.

    ``net`` must be built at unit scale: ``weight_var=1`` for ``scale_kind="weight_var"`` (weights
    are then multiplied by ``sqrt(scale)``, biases kept), ``weight_law="absolute(1)"`` for
    ``"absolute"`` (weights and biases multiplied by ``scale``). Since every weight law draws
    ``std * eps`` with ``eps`` independent of the scale, column block ``j`` equals the outputs of
    the network built at ``scales[j]`` from the same key (up to float rounding). Works for any net
    whose parameter leaves are named ``"w"`` (weights) and ``"b"`` (biases), as in every
    built-in family without batch norm. Hashable: equal scaled nets share one compiled program.
    """

    net: Any
    scales: tuple[float, ...]
    scale_kind: str = "weight_var"

    def init(self, key, x):
        return self.net.init(key, x)

    def apply(self, params, x):
        w_mult = np.asarray([math.sqrt(s) if self.scale_kind == "weight_var" else s for s in self.scales], np.float32)
        b_mult = np.asarray([1.0 if self.scale_kind == "weight_var" else s for s in self.scales], np.float32)

        def rescale(params, wm, bm):
            def leaf(path, p):
                name = getattr(path[-1], "key", None)
                if name not in ("w", "b"):
                    raise ValueError(f"scaled_net: parameter {jax.tree_util.keystr(path)} is neither a weight 'w' nor "
                                     "a bias 'b'; only nets of affine layers can be rescaled")
                return p * (wm if name == "w" else bm).astype(p.dtype)

            return jax.tree_util.tree_map_with_path(leaf, params)

        # One scale after the other (lax.map): one copy of the net in the program, one scale's activations in memory.
        y = jax.lax.map(lambda m: self.net.apply(rescale(params, m[0], m[1]), x),
                        (jnp.asarray(w_mult), jnp.asarray(b_mult)))
        return jnp.moveaxis(y, 0, 1).reshape(y.shape[1], -1)  # (points, scales * out), scale-major


def scaled_net(net, scales: Sequence[float], scale_kind: str = "weight_var") -> ScaledNet:
    """:class:`ScaledNet` after checking that ``net`` is built at unit scale (see there)."""
    scales = _check_scales(scales, scale_kind)
    law = getattr(net, "weight_law", None)
    if scale_kind == "absolute" and law is not None and law != "absolute(1)":
        raise ValueError(f"net with weight_law={law!r}: scale_kind='absolute' needs a net built with "
                         "weight_law='absolute(1)'")
    weight_var = getattr(net, "weight_var", (1.0,))
    if scale_kind == "weight_var" and (any(v != 1.0 for v in weight_var)
                                       or (law is not None and get_weight_law(law).absolute)):
        raise ValueError(f"net with weight_var={weight_var}, weight_law={law!r}: "
                         "scale_kind='weight_var' needs a net built with weight_var=1 and a fan-in law")
    return ScaledNet(net, tuple(scales), scale_kind)


def _measure_fns(names: Sequence[str], window, degree: int):
    unknown = [m for m in names if m not in MEASURES]
    if unknown or not names:
        raise ValueError(f"measures={list(names)!r}: expected a non-empty subset of {MEASURES}")
    table = {
        "mean_frequency": lambda f: jm.mean_frequency(f, window=window),
        "polynomial_order": lambda f: jm.polynomial_order(f, degree),
        "lz": lambda f: jm.lz_grid(f),
        "mean_frequency_redshift_code": lambda f: jm.mean_frequency_redshift_code(f),
    }
    return {m: table[m] for m in names}


def baselines(dim: int, resolution: int, measures=("mean_frequency",), *, window=None, degree: int = 8,
              samples: int = 64, key: int = 12345) -> dict:
    """Scores of a linear ramp ``f(x) = x_1`` (the floor) and of white noise (the ceiling, mean of ``samples``).

    Returns:
      ``{"ramp_<measure>": float, "noise_<measure>": float}`` for each measure.
    """
    fns = _measure_fns(measures, window, degree)
    shape = (resolution,) * dim
    ramp = jnp.broadcast_to(jnp.linspace(-1.0, 1.0, resolution).reshape((resolution,) + (1,) * (dim - 1)), shape)
    noise = jax.random.normal(jax.random.key(key), (samples,) + shape)
    out = {}
    for name, fn in fns.items():
        out[f"ramp_{name}"] = float(fn(ramp))
        out[f"noise_{name}"] = float(jnp.mean(jax.vmap(fn)(noise)))
    return out


def cell_statistics(values: np.ndarray, name: str) -> dict:
    """Mean, std (ddof 1), 95 % normal confidence interval over the last (net) axis of ``values``.

    NaN entries (networks whose outputs were not finite, which have no score) are left out: the
    statistics are over the scored networks only (NaN where fewer than 1, resp. 2, are left).
    """
    values = np.asarray(values, np.float64)
    n = np.sum(~np.isnan(values), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(values, -1) / np.where(n > 0, n, np.nan)
        sq = np.nansum(np.square(values - mean[..., None]), -1)
        std = np.sqrt(sq / np.where(n > 1, n - 1, np.nan))
        half = Z95 * std / np.sqrt(n)
    return {f"{name}_mean": mean, f"{name}_std": std, f"{name}_ci_low": mean - half, f"{name}_ci_high": mean + half}


@dataclasses.dataclass(frozen=True)
class _CellStat:
    """The per-network stat of a cell: every measure at every scale (a hashable value: one compiled program)."""

    measures: tuple[str, ...]
    window: str | None
    degree: int
    shape: tuple[int, ...]
    n_scales: int

    def __call__(self, y):  # y: (points, n_scales), one network at every scale
        f = y.T.reshape((self.n_scales,) + self.shape)
        out = {name: jax.vmap(fn)(f) for name, fn in _measure_fns(self.measures, self.window, self.degree).items()}
        out["near_constant"] = jax.vmap(jm.near_constant)(f)
        out["non_finite"] = jax.vmap(jm.non_finite)(f)
        return out


def unit_scale_mlp(activation="relu", depth: int = 4, *, scale_kind: str = "weight_var", width: int = 64,
                   weight_law: str = "normal", bias_var: float = 0.1, residual: bool = False, norm=None,
                   parameterization: str = "standard") -> MLP:
    """The MLP of a redshift cell at unit scale, as :func:`redshift_cell` takes it.

    ``scale_kind="weight_var"``: ``weight_var=1`` under the fan-in law ``weight_law``, biases of
    variance ``bias_var``; ``"absolute"``: ``weight_law="absolute(1)"`` (leave ``weight_law`` at
    ``"normal"``). The other arguments are :class:`jaxbias.nets.MLP` fields.

    Raises:
      ValueError: an absolute law with ``scale_kind="weight_var"`` or another law with ``"absolute"``.
    """
    if scale_kind not in SCALE_KINDS:
        raise ValueError(f"scale_kind={scale_kind!r}: expected one of {SCALE_KINDS}")
    if scale_kind == "absolute":
        if weight_law not in ("normal", None) and not str(weight_law).startswith("absolute"):
            raise ValueError(f"weight_law={weight_law!r}: scale_kind='absolute' sets the law to absolute(scale); "
                             "leave weight_law at 'normal'")
        law = "absolute(1)"
    else:
        law = get_weight_law(weight_law).label
        if get_weight_law(law).absolute:
            raise ValueError(f"weight_law={weight_law!r}: use scale_kind='absolute' for the absolute law")
    return MLP(width, depth, activation, weight_var=1.0, bias_var=bias_var, weight_law=law, residual=residual,
               norm=norm, parameterization=parameterization)


def redshift_cell(net, scales: Sequence[float] = (1.0,), *, scale_kind: str = "weight_var", n: int = 100, key=0,
                  resolution: int = 64, dim: int = 2, measures=("mean_frequency",), window=None, degree: int = 8,
                  chunk_size=None, memory_budget=None, progress=None) -> xr.Dataset:
    """Complexity of ``n`` random networks of one architecture at every weight scale.

    Args:
      net: the network spec at unit scale (see :class:`ScaledNet`), e.g. from :func:`unit_scale_mlp`
        or ``jb.nets.MLP(64, 4, "tanh", weight_var=1.0, bias_var=0.1)``; its input dimension is ``dim``.
      scales: weight scales; their meaning is ``scale_kind`` (module docstring).
      scale_kind: ``"weight_var"`` (scale = C_W) or ``"absolute"`` (weights, biases U(-scale, scale)).
      n: networks (the same ``n`` networks at every scale: network ``i`` uses ``fold_in(key, i)``).
      key: int seed or JAX key.
      resolution, dim: the grid, ``resolution^dim`` points over ``[-1, 1]^dim``.
      measures: names from :data:`MEASURES`.
      window: Fourier window (None or ``"hann"``), degree: Legendre degree per axis.
      chunk_size, memory_budget, progress: engine options (:func:`jaxbias.reduce`).

    Returns:
      Dataset with dims ``(scale, net)``: per network ``<measure>``, ``near_constant`` (bool:
      the function was constant up to float32 rounding and got the constant's score) and
      ``non_finite`` (bool: an output was NaN or infinite; the network has no score, ``<measure>``
      is NaN), and per scale ``<measure>_mean``, ``_std``, ``_ci_low``, ``_ci_high`` over the
      scored networks, ``near_constant_count`` and ``non_finite_count``.

    Example:
      >>> ds = redshift_cell(unit_scale_mlp("tanh", 2, width=8), (1.0, 4.0), n=3, resolution=8, progress=False)
      >>> ds["mean_frequency"].dims
      ('scale', 'net')
    """
    scaled = scaled_net(net, scales, scale_kind)
    scales = scaled.scales
    resolution = check_int("resolution", resolution, 2)
    dim = check_int("dim", dim, 1)
    fns = _measure_fns(measures, window, degree)
    x = inputs.grid(dim, resolution)
    stat = _CellStat(tuple(fns), window, degree, (resolution,) * dim, len(scales))
    values = engine.reduce(scaled, x, n=n, key=key, stat=stat, chunk_size=chunk_size, memory_budget=memory_budget,
                           progress=progress)
    data = {}
    for name in list(fns) + ["near_constant", "non_finite"]:
        data[name] = (("scale", "net"), np.asarray(values[name]).T)
    for name in fns:
        for stat_name, v in cell_statistics(data[name][1].astype(np.float64), name).items():
            data[stat_name] = (("scale",), v)
    data["near_constant_count"] = (("scale",), data["near_constant"][1].sum(-1).astype(np.int64))
    data["non_finite_count"] = (("scale",), data["non_finite"][1].sum(-1).astype(np.int64))
    config = {"net": net, "scales": list(scales), "scale_kind": scale_kind, "n": n, "resolution": resolution,
              "dim": dim, "measures": list(fns), "window": window, "degree": degree}
    ds = xr.Dataset(data, coords={"scale": np.asarray(scales), "net": np.arange(n)})
    ds.attrs = {**result_attrs(config, key), "scale_kind": scale_kind,
                "scale_meaning": SCALE_MEANING[scale_kind]}
    return ds


SCALE_MEANING = {
    "weight_var": "scale = C_W: weights N(0, C_W / fan_in) (fan-in law), biases variance bias_var",
    "absolute": "scale = a: weights and biases U(-a, a) whatever the fan-in (Neural Redshift code)",
}
"""What the ``scale`` axis means for each ``scale_kind`` (stored in results as ``attrs["scale_meaning"]``)."""


NORM_VALUES = ("none",) + NORMS
"""Values of the ``norms`` axis of :func:`redshift` (spec spellings, ``"none"`` for no normalisation)."""


def redshift(path, *, activations=("relu", "gelu", "tanh", "gaussian"), depths=(1, 2, 4, 8),
             scales=(0.5, 1.0, 2.0, 4.0, 8.0), scale_kind="weight_var", widths=(64,), weight_laws=("normal",),
             residuals=(False,), norms=("none",), bias_var: float = 0.1, parameterization: str = "standard",
             n: int = 100, resolution: int = 64, dim: int = 2, key=0, measures=("mean_frequency",), window=None,
             degree: int = 8, resume: bool = False, progress: bool = True, chunk_size=None,
             memory_budget=None, overwrite: bool = False) -> xr.Dataset:
    """The redshift sweep: activation x depth (x width, weight law, residual, norm) x scale, saved to ``path``.

    Resumable (:func:`jaxbias.run_sweep`: each finished cell is saved; ``resume=True`` continues
    a killed sweep; an existing ``path`` is refused unless ``overwrite=True``). Activation and depth are always dimensions; width, weight law, residual and
    norm become dimensions when given several values. Each cell is :func:`redshift_cell` of
    :func:`unit_scale_mlp` with that cell's fields and ``bias_var``, ``parameterization``.

    Args:
      norms: values of :data:`NORM_VALUES` (``"none"`` or a norm's spec spelling, e.g. ``"layer_pre"``).
      the others: see :func:`redshift_cell` and :func:`unit_scale_mlp`.

    Returns:
      The Dataset of :func:`redshift_cell` cells stacked along ``activation, depth, ...``, with
      attrs ``scale_kind``, ``scale_meaning`` and the baselines ``ramp_<measure>``,
      ``noise_<measure>`` (:func:`baselines`).
    """
    _check_scales(scales, scale_kind)
    check_n(n)
    check_int("resolution", resolution, 2)
    check_int("dim", dim, 1)
    _measure_fns(measures, window, degree)
    norms = [_norm_value(v) for v in norms]
    grid, fixed = split({"activation": list(activations), "depth": [int(d) for d in depths],
                         "width": [int(w) for w in widths], "weight_law": list(weight_laws),
                         "residual": list(residuals), "norm": norms},
                        always=("activation", "depth"))

    def net_of(cell: dict) -> MLP:  # the one place a cell's spec is built
        c = {**fixed, **cell}
        return unit_scale_mlp(c["activation"], c["depth"], scale_kind=scale_kind, width=c["width"],
                              weight_law=c["weight_law"], bias_var=bias_var, residual=c["residual"],
                              norm=None if c["norm"] == "none" else c["norm"], parameterization=parameterization)

    for cell in cells(grid):  # bad options fail before anything runs
        net_of(cell)
    base = baselines(dim, resolution, measures, window=window, degree=degree)

    def cell_fn(cell):
        ds = redshift_cell(net_of(cell), scales, scale_kind=scale_kind, n=n, key=key, resolution=resolution,
                           dim=dim, measures=measures, window=window, degree=degree, chunk_size=chunk_size,
                           memory_budget=memory_budget, progress=None if progress else False)
        ds.attrs = {}  # the cell's own bar (networks) appears under the sweep's once a cell lasts a few seconds
        return ds.assign(net_spec=((), to_json(net_of(cell))))  # jb.nets.from_config(ds.sel(...)) rebuilds it

    config = {"experiment": "redshift", "grid": grid, "fixed": fixed, "scales": list(scales),
              "scale_kind": scale_kind, "bias_var": bias_var, "parameterization": parameterization, "n": n,
              "resolution": resolution, "dim": dim, "measures": list(measures), "window": window, "degree": degree,
              "arch": "mlp"}
    attrs = {**result_attrs(config, key), "scale_kind": scale_kind, "scale_meaning": SCALE_MEANING[scale_kind],
             **base}
    return run_sweep(grid, cell_fn, path, resume=resume, attrs=attrs, progress=progress, overwrite=overwrite)


def _norm_value(value) -> str:
    """A ``norms`` entry as its spec spelling, ``"none"`` for None."""
    value = "none" if value is None else str(value)
    if value not in NORM_VALUES:
        raise ValueError(f"norms entry {value!r}: expected one of {', '.join(map(repr, NORM_VALUES))}")
    return value
