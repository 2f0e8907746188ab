"""Initial guessing bias, measured and predicted side by side (Francazi et al., ICML 2024).

One *cell* is a network (a spec: activation, depth, pooling, normalization placement, ``C_W``, ``C_b``)
evaluated on one input set by ``n`` random networks. Per network it keeps the class fractions and
the output mean and variance over the inputs (:func:`jaxbias.measures.guessing_stats`, computed
inside the engine's compiled program); per cell it adds the finite-``n`` corrected ``gamma`` with a
bootstrap interval, ``Var(G_0)`` and ``E[max G]`` with intervals, a KS test of ``G_0`` against the
predicted law, and the theory values from the NNGP recursion (:func:`jaxbias.theory.predict_gamma`;
NaN where the theory does not cover the network).

:func:`run_igb` sweeps cells (resumable, via :func:`jaxbias.run_sweep`), building each cell's spec
with :func:`igb_net`; :func:`phase_dataset` puts the predicted ``gamma`` and regimes over
``(C_W, C_b)`` beside measured points. :func:`jaxbias.plot.plot_g0_histograms` and
:func:`jaxbias.plot.plot_igb_phase` draw them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import numpy as np
import xarray as xr

from jaxbias.engine import progress_bar, reduce
from jaxbias.grid import cells
from jaxbias.inputs import gaussian_blobs, parse_inputs
from jaxbias.io import check_writable, save
from jaxbias.measures.guessing import guessing_stats, n_classes
from jaxbias.nets import CNN, MLP
from jaxbias.nets.options import NORMS, Norm, Pool
from jaxbias.results import result_attrs, to_json
from jaxbias.sweep import run_sweep
from jaxbias.theory import guessing as th
from jaxbias.validation import check_confidence, check_int

__all__ = ["NORM_VALUES", "SWEEPABLE", "igb_inputs", "igb_net", "igb_cell", "run_igb", "phase_dataset"]

NORM_VALUES = ("none",) + NORMS
"""Normalization placements as cells spell them: none, or layer/batch norm before (pre) or after (post) the activation."""
HIST_BINS = 20
"""Bins of the stored histogram of ``G_0`` over networks (``g0_hist``, bin centres ``g0_bin``)."""


def igb_inputs(inputs: str = "blobs", n_points: int = 1000, dim: int = 64, input_mean: float = 0.0,
               key: Any = 0) -> np.ndarray:
    """The input set of an IGB run, ``(n_points, dim)`` float32.

    Args:
      inputs: ``"blobs"``: ``n_points`` points from ``N(input_mean * 1, I_dim)`` (so ``|m|^2 / tr S =
        input_mean^2``); or any spec of :func:`jaxbias.inputs.parse_inputs`, the same strings as
        ``--inputs`` in every command (``"digits"``, ``"digits:0,1"``, ``"sphere:D:N"``,
        ``"grid:D:R"``, ...; ``n_points``, ``dim`` and ``input_mean`` are then unused).
      key: int seed or JAX key of the blob sample.
    """
    if inputs == "blobs":
        mean = float(input_mean)
        if not math.isfinite(mean):
            raise ValueError(f"input_mean={input_mean!r}: expected a finite number")
        x, _ = gaussian_blobs(n_points, means=[[mean] * check_int("dim", dim, 1)], key=key)
        return np.asarray(x)
    if isinstance(inputs, str) and inputs.strip().lower() != "blobs":
        try:
            x, _ = parse_inputs(inputs, key=key)
        except ValueError as e:
            raise ValueError(f"inputs={inputs!r}: expected 'blobs' or an input spec ({e})") from None
        return np.asarray(x)
    raise ValueError(f"inputs={inputs!r}: expected 'blobs' or an input spec such as 'digits:0,1' or 'sphere:64:1000'")


def _pool_value(pool) -> str:
    """A pooling option as a cell spells it: ``"none"`` or the :class:`~jaxbias.nets.Pool` spelling ``"max(2)"``."""
    return "none" if pool in (None, "none") else str(Pool.parse(pool))


def _norm_value(norm) -> str:
    """A normalization option as a cell spells it: ``"none"`` or the :class:`~jaxbias.nets.Norm` spelling."""
    if norm in (None, "none"):
        return "none"
    try:
        return str(Norm.parse(norm))
    except ValueError:
        raise ValueError(f"norm={norm!r}: expected one of {', '.join(NORM_VALUES)}") from None


def igb_net(*, activation="relu", depth: int = 1, width: int = 256, pool=None, norm=None, weight_var: float = 1.0,
            bias_var: float = 0.0, out: int = 1, arch: str = "mlp"):
    """The network of one cell: an MLP, or a CNN on 8x8 images with ``arch="cnn"``.

    Args:
      activation, depth, width, weight_var, bias_var, out: the spec's fields (``depth`` hidden
        layers of ``width`` units, or ``depth`` conv layers of ``width`` channels).
      pool: None, ``"none"``, a :class:`~jaxbias.nets.Pool` or its spelling ``"max(p)"`` / ``"avg(p)"``
        (``"max"``, ``"avg"``: window 2): pooling after each activation.
      norm: None, ``"none"``, a :class:`~jaxbias.nets.Norm` or one of :data:`jaxbias.nets.NORMS`.
      arch: ``"mlp"`` or ``"cnn"``.

    Returns:
      A :class:`jaxbias.nets.MLP` or :class:`jaxbias.nets.CNN`.
    """
    pool = None if _pool_value(pool) == "none" else Pool.parse(pool)
    norm = None if _norm_value(norm) == "none" else Norm.parse(norm)
    if arch == "cnn":
        return CNN((width,) * depth, activation=activation, out=out, pool=pool, weight_var=weight_var,
                   bias_var=bias_var, norm=norm)
    if arch != "mlp":
        raise ValueError(f"arch={arch!r}: expected 'mlp' or 'cnn'")
    return MLP(width, depth, activation, out=out, weight_var=weight_var, bias_var=bias_var, pool=pool, norm=norm)


def _theory(net, x, classes: int) -> dict:
    """Theory values of a cell, NaN where the recursion does not cover the network."""
    try:
        pred = th.predict_gamma(net, x)
    except NotImplementedError:
        return {"gamma_theory": math.nan, "gamma_theory_n": math.nan, "var_g0_theory": math.nan,
                "max_g_theory": math.nan}
    try:  # batch norm standardizes over this input set: its finite-set value (the others do not depend on it)
        batch_norm = net.norm is not None and net.norm.kind == "batch"
        gamma_n = th.predict_gamma(net, x, n_points=x.shape[0]).gamma if batch_norm else pred.gamma
    except NotImplementedError:
        gamma_n = math.nan
    # A finite input sample can make the average pair kernel slightly negative: the law then uses 0.
    gamma = max(pred.gamma, 0.0)
    finite = math.isfinite(gamma) or classes == 2
    return {
        "gamma_theory": pred.gamma,
        "gamma_theory_n": gamma_n,
        "var_g0_theory": th.g0_var(gamma, classes) if finite else math.nan,
        "max_g_theory": th.expected_max_fraction(gamma, classes) if finite else math.nan,
    }


def igb_cell(net, x, *, n: int, key: Any = 0, n_boot: int = 1000, confidence: float = 0.95,
             chunk_size: int | None = None, progress: bool | None = False) -> xr.Dataset:
    """Measures one cell and sets the theory beside it.

    Args:
      net: the network spec (e.g. from :func:`igb_net`).
      x: inputs ``(n_points, d)`` (``(n_points, 8, 8, 1)`` images for a CNN).
      n: networks.
      key: int seed or JAX key; network ``i`` is ``fold_in(key, i)``.
      n_boot, confidence: bootstrap resamples and confidence level of the intervals.
      chunk_size, progress: engine options (:func:`jaxbias.reduce`).

    Returns:
      Dataset with per-network ``fractions (net, class)``, ``g0 (net)``, ``max_fraction (net)``,
      ``sorted_fractions (net, class)``, ``out_mean (net, out)``, ``out_var (net, out)``, the histogram
      ``g0_hist (g0_bin)`` of ``G_0`` over networks (counts, 20 bins on [0, 1]) and per-cell
      ``gamma``, ``gamma_low``, ``gamma_high``, ``var_g0`` (binomial noise removed), ``var_g0_low/high``,
      ``max_g``, ``max_g_low/high``, ``ks_stat``, ``ks_pvalue``, ``gamma_theory``, ``var_g0_theory``,
      ``max_g_theory``, and ``gamma_theory_n``: the theory at this input set's ``n_points``, what
      ``gamma`` estimates. It differs from ``gamma_theory`` (the ``n_points -> inf`` limit) only with
      batch norm, which standardizes over the input set: after the activation it is exactly
      ``gamma_theory (1 - 1/n) - 1/n`` (:func:`jaxbias.theory.predict_gamma`, ``n_points``; -1.5 % at
      ``n = 200``, ``gamma = 0.5``); before it, NaN (not covered). ``no_igb`` (bool) is True when the
      whole interval of ``gamma`` lies at or below 0: the cell has no guessing bias (``gamma = 0``; a
      negative estimate is the finite-input-set offset ``~ -1/n_points``, e.g. batch norm after the
      activation fixes each network's mean output over the inputs to its readout bias, exactly 0 without
      bias), not a negative variance ratio; ``gamma`` is ``inf`` (undefined) when every network is
      constant over the inputs. ``non_finite (net)`` marks networks with a NaN or infinite output
      (overflow): they assign no classes, their fractions are NaN, and they are left out of every
      per-cell statistic and the histogram; ``n_non_finite`` counts them (a ``RuntimeWarning`` too).
    """
    level = check_confidence(confidence)
    x = np.asarray(x, np.float32)
    stats = reduce(net, x, n=n, key=key, stat=guessing_stats, chunk_size=chunk_size, progress=progress)
    n_points = x.shape[0]
    classes = n_classes(stats.mean.shape[-1])
    # A network with a NaN or infinite output assigns no classes (its fractions are NaN): counted, left out.
    finite = (np.isfinite(stats.g0) & np.all(np.isfinite(stats.mean), axis=-1)
              & np.all(np.isfinite(stats.var), axis=-1))
    n_non_finite = int(n - finite.sum())
    if n_non_finite:
        warnings.warn(f"igb_cell: {n_non_finite} of {n} networks had NaN or infinite outputs; they assign no classes "
                      "and are left out of gamma, Var(G0), E[max G] and the KS test (non_finite, n_non_finite)",
                      RuntimeWarning, stacklevel=2)
    flat = x.reshape(n_points, -1)
    theory = _theory(net, flat, classes)
    if finite.sum() >= 2:
        g0 = stats.g0[finite]
        gamma = th.estimate_gamma(stats.mean[finite], stats.var[finite], n_points, n_boot=n_boot, level=level)
        var = th.estimate_g0_var(g0, n_points, n_boot=n_boot, level=level)
        mx = th.estimate_max_fraction(stats.max_fraction[finite], n_boot=n_boot, level=level)
        ks = (th.ks_test(g0, max(theory["gamma_theory"], 0.0), n_points) if classes == 2 and not math.isnan(
            theory["gamma_theory"]) else th.KSResult(math.nan, math.nan, len(g0)))
    else:  # fewer than two scored networks: nothing to estimate
        g0 = stats.g0[finite]
        gamma = var = mx = th.Estimate(math.nan, math.nan, math.nan, math.nan, len(g0), level)
        ks = th.KSResult(math.nan, math.nan, len(g0))
    per_cell = {
        "gamma": gamma.value, "gamma_low": gamma.low, "gamma_high": gamma.high,
        "var_g0": var.value, "var_g0_low": var.low, "var_g0_high": var.high,
        "max_g": mx.value, "max_g_low": mx.low, "max_g_high": mx.high,
        "ks_stat": ks.statistic, "ks_pvalue": ks.pvalue, **theory,
    }
    no_igb = bool(gamma.high <= 0.0)
    ds = xr.Dataset(
        {
            "fractions": (("net", "class"), stats.fractions),
            "g0": (("net",), stats.g0),
            "max_fraction": (("net",), stats.max_fraction),
            "sorted_fractions": (("net", "class"), stats.sorted_fractions),
            "out_mean": (("net", "out"), stats.mean),
            "out_var": (("net", "out"), stats.var),
            "g0_hist": (("g0_bin",), np.histogram(g0, bins=HIST_BINS, range=(0.0, 1.0))[0]),
            "non_finite": (("net",), ~finite),
            "n_non_finite": ((), np.int64(n_non_finite)),
            **{k: ((), np.float64(v)) for k, v in per_cell.items()},
            "no_igb": ((), np.bool_(no_igb)),
        },
        coords={"net": np.arange(n), "class": np.arange(classes),
                "g0_bin": (np.arange(HIST_BINS) + 0.5) / HIST_BINS},
    )
    ds.attrs["n_points"] = n_points
    return ds


SWEEPABLE = ("activation", "depth", "pool", "norm", "input_mean", "weight_var", "bias_var")
"""Parameters :func:`run_igb` sweeps: the fields of :func:`igb_net` that vary between cells, and the input mean."""

_DEFAULTS = {"activation": "relu", "depth": 1, "pool": "none", "norm": "none", "input_mean": 0.0, "weight_var": 1.0,
             "bias_var": 0.0}


def run_igb(path, grid: dict, *, fixed: dict | None = None, n: int = 1000, width: int = 256, n_points: int = 1000,
            dim: int = 64, inputs: str = "blobs", out: int = 1, key: int = 0, n_boot: int = 1000,
            resume: bool = False, progress: bool = True, overwrite: bool = False) -> xr.Dataset:
    """Sweeps IGB cells over ``grid`` (resumable) and saves the Dataset at ``path``.

    Args:
      path: netCDF result file.
      grid: swept parameter -> values, parameters from :data:`SWEEPABLE` (``pool`` and ``norm`` in
        their spec spellings, ``"none"`` for none: ``{"pool": ["none", "max(2)"]}``).
      fixed: values of the unswept parameters (defaults: relu, depth 1, no pooling, no norm, input
        mean 0, ``C_W = 1``, ``C_b = 0``).
      n: networks per cell; width, n_points, dim, inputs, out: the network and input set.
      key: int seed of networks and inputs. The inputs depend only on ``input_mean``.
      n_boot: bootstrap resamples of the intervals.
      resume: continue an interrupted sweep (:func:`jaxbias.run_sweep`).
      overwrite: replace an existing ``path`` (refused otherwise, before anything runs).

    Returns:
      The Dataset with one dimension per swept parameter (see :func:`igb_cell` for variables).
    """
    fixed = {**_DEFAULTS, **(fixed or {})}
    unknown = set(grid) - set(SWEEPABLE) or set(fixed) - set(SWEEPABLE)
    if unknown:
        raise ValueError(f"grid/fixed parameters {sorted(unknown)}: expected some of {', '.join(SWEEPABLE)}")
    canonical = {"pool": _pool_value, "norm": _norm_value}
    grid = {k: [canonical[k](v) for v in values] if k in canonical else list(values) for k, values in grid.items()}
    fixed = {k: canonical[k](v) if k in canonical else v for k, v in fixed.items()}

    def net_of(c: dict):  # the one place a cell's spec is built
        return igb_net(activation=c["activation"], depth=c["depth"], width=width, pool=c["pool"], norm=c["norm"],
                       weight_var=c["weight_var"], bias_var=c["bias_var"], out=out)

    for c in cells(grid, fixed):  # every net is built first: bad options fail early
        net_of(c)
    config = {"n": n, "width": width, "n_points": n_points, "dim": dim, "inputs": inputs, "out": out,
              "n_boot": n_boot, "fixed": {k: v for k, v in fixed.items() if k not in grid}}

    def cell_fn(cell: dict) -> xr.Dataset:
        c = {**fixed, **cell}
        x = igb_inputs(inputs, n_points, dim, c["input_mean"], key=key)
        net = net_of(c)  # stored per cell: jb.nets.from_config(ds.sel(...)) rebuilds it
        # The cell's own bar (networks) appears under the sweep's bar once a cell lasts a few seconds.
        return igb_cell(net, x, n=n, key=key, n_boot=n_boot, progress=None if progress else False).assign(
            net_spec=((), to_json(net)))

    attrs = result_attrs(config, key)
    attrs["n_points"] = int(igb_inputs(inputs, n_points, dim, 0.0, key=key).shape[0])
    if not grid:
        if jax.process_index() == 0:
            check_writable(path, overwrite=overwrite)
        ds = cell_fn({})
        ds.attrs.update(attrs)
        if jax.process_index() == 0:  # under jax.distributed every process computes, process 0 writes
            save(ds, path, overwrite=overwrite)
        return ds
    return run_sweep(grid, cell_fn, path, resume=resume, attrs=attrs, progress=progress, overwrite=overwrite)


def phase_dataset(activations=("tanh", "relu"), weight_vars=None, bias_vars=None, *, depth: int = 3,
                  measured_weight_vars=(0.5, 1.5, 3.0), measured_bias_vars=(0.0, 0.3, 1.0), n: int = 200,
                  width: int = 256, n_points: int = 200, dim: int = 64, key: int = 0, n_boot: int = 300,
                  progress: bool | None = False) -> xr.Dataset:
    """Phase diagram of IGB over ``(C_W, C_b)``: theory on a fine grid, measured ``gamma`` at a few points.

    Args:
      activations: activations, one panel each (the published diagram uses tanh and ReLU).
      weight_vars, bias_vars: theory grid (default 40 x 40 over ``[0.25, 4] x [0, 2]``).
      depth: hidden layers of the measured networks and of the reported ``gamma``.
      measured_weight_vars, measured_bias_vars: where networks are sampled (``n`` each, ``n_points``
        centred Gaussian inputs in ``dim`` dimensions, width ``width``).
      progress: a bar over the theory panels and the measured cells (True, False, or None: shown
        once the work has lasted a few seconds).

    Returns:
      Dataset with ``gamma_theory (activation, weight_var, bias_var)``, ``regime`` (index into
      :data:`jaxbias.theory.REGIMES`), ``c_deep``, and ``gamma``, ``gamma_low``, ``gamma_high``,
      ``gamma_point_theory`` over ``(activation, measured_weight_var, measured_bias_var)``.
    """
    weight_vars = np.linspace(0.25, 4.0, 40) if weight_vars is None else np.asarray(weight_vars, np.float64)
    bias_vars = np.linspace(0.0, 2.0, 40) if bias_vars is None else np.asarray(bias_vars, np.float64)
    x = igb_inputs("blobs", n_points, dim, 0.0, key=key)
    moments = th.input_moments(x)
    points = {"activation": activations, "weight_var": measured_weight_vars, "bias_var": measured_bias_vars}
    todo = list(cells(points))
    with progress_bar(len(activations) + len(todo), progress, "phase diagram (theory panels, measured cells)",
                      unit="part") as bar:
        theory = []
        for act in activations:
            theory.append(th.phase_diagram(act, weight_vars, bias_vars, depth, moments=moments))
            bar.update()
        measured = []
        for c in todo:
            net = igb_net(activation=c["activation"], depth=depth, width=width, weight_var=float(c["weight_var"]),
                          bias_var=float(c["bias_var"]))
            st = reduce(net, x, n=n, key=key, stat=guessing_stats, progress=False)
            est = th.estimate_gamma(st.mean, st.var, n_points, n_boot=n_boot)
            measured.append((est.value, est.low, est.high, th.predict_gamma(net, x).gamma))
            bar.update()
    m = np.asarray(measured, np.float64).reshape(*(len(v) for v in points.values()), 4)  # (act, mw, mb, 4)
    dims = ("activation", "weight_var", "bias_var")
    mdims = ("activation", "measured_weight_var", "measured_bias_var")
    ds = xr.Dataset(
        {
            "gamma_theory": (dims, np.stack([t["gamma"] for t in theory])),
            "c_deep": (dims, np.stack([t["c_deep"] for t in theory])),
            "regime": (dims, np.stack([t["regime"] for t in theory]).astype(np.int32)),
            "gamma": (mdims, m[..., 0]), "gamma_low": (mdims, m[..., 1]), "gamma_high": (mdims, m[..., 2]),
            "gamma_point_theory": (mdims, m[..., 3]),
        },
        coords={"activation": list(activations), "weight_var": weight_vars, "bias_var": bias_vars,
                "measured_weight_var": np.asarray(measured_weight_vars, np.float64),
                "measured_bias_var": np.asarray(measured_bias_vars, np.float64)},
    )
    ds.attrs.update(result_attrs({"depth": depth, "n": n, "width": width, "n_points": n_points, "dim": dim,
                                  "regimes": list(th.REGIMES)}, key))
    ds.attrs["depth"] = depth
    return ds
