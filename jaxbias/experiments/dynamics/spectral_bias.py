"""Spectral bias: networks fit the low frequencies of a target first (Rahaman et al., ICML 2019).

A target ``y(x) = sum_j a_j sin(pi <k_j, x> + phi_j)`` with integer wave vectors ``k_1 < ... < k_m`` is
sampled on the periodic grid ``x_p = -1 + 2 p / r`` (``r`` points per axis, ``[-1, 1)^d``, ``d = 1`` or
``2``), so each sinusoid lies in exactly one pair of DFT bins ``+-k_j``. Many networks are trained at
once by full-batch gradient descent on MSE (:func:`jaxbias.train`); at about 100 log-spaced steps
each network's outputs on the grid are reduced *inside the compiled program* to their DFT
coefficients at the ``m`` target bins (:class:`FourierCoefficients`), so only ``(m, 2)`` numbers
per network and step leave the device. The normalised residual at ``k_j`` is ``|c_j(f_t - y)| /
|c_j(y)|``: 1 (plus the initial function's share) before training, 0 once ``k_j`` is learned.

The prediction (Jacot et al. 2018; Lee et al. 2019, NeurIPS): with ``mse = 0.5 * mean`` over ``N``
targets, a wide network trained by gradient descent with learning rate ``eta`` evolves on the
training points as ``r_t = (I - eta Theta / N)^t r_0`` (``exp(-eta Theta t / N) r_0`` in the flow
limit), ``Theta`` the infinite-width NTK of the same architecture (:func:`jaxbias.kernels.infinite`;
NTK parameterisation makes it width-independent). The ensemble mean starts from ``E r_0 = -y``,
so ``E r_t = -(I - eta Theta / N)^t y``: along each NTK eigenvector the residual decays by ``(1 -
eta lambda / N)`` per step. With ``embedding="periodic"`` each axis enters as ``(cos pi x, sin pi x)``;
the kernel is then a function of ``x - x'`` alone, its eigenvectors are the Fourier modes, and the
residual at ``k_j`` decays exactly as ``(1 - eta lambda_(k_j) / N)^t``: the larger eigenvalues of the
low frequencies are the spectral bias. With ``embedding="none"`` (raw ``x``, as Rahaman et al.) the
eigenvectors are not Fourier modes and the prediction is the full matrix formula.

Agreement is reported per width as the largest absolute difference, over recorded steps and
frequencies, between the measured ensemble-mean normalised residual and the prediction, beside the
Monte Carlo error of the mean (3 standard errors); at finite width the difference is
``O(1/width)`` (Dyer & Gur-Ari 2020).

>>> import jaxbias as jb
>>> from jaxbias.experiments.dynamics.spectral_bias import target_grid
>>> x, y, bins = target_grid((1, 3), points=16)
>>> x.shape, y.shape, bins
((16, 1), (16,), ((1,), (3,)))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxbias.datasets import from_arrays
from jaxbias.results import result_attrs
from jaxbias.validation import check_float, check_int

__all__ = ["EMBEDDINGS", "FourierCoefficients", "target_grid", "embed", "ntk_prediction", "spectral_bias"]

EMBEDDINGS = ("periodic", "none")
"""Input maps: each axis as ``(cos pi x, sin pi x)`` (a stationary kernel), or the raw coordinates."""


@dataclasses.dataclass(frozen=True)
class FourierCoefficients:
    """DFT coefficients of one output on a periodic grid at chosen bins: ``(m, 2)`` (real, imaginary).

    ``c_k = (1 / P) sum_p f_p exp(-2 pi i <k, p> / r)`` over the ``P = r^d`` grid points (C order),
    for each bin ``k`` in ``bins``: a measure of one network's outputs ``(P, n_out)`` for
    :func:`jaxbias.train` (hashable, so it keys the compile cache).

    Attributes:
      shape: the grid ``(r,)`` or ``(r, r)``.
      bins: one integer tuple of length ``d`` per frequency.
      output: the output unit.

    Example:
      >>> import numpy as np
      >>> x = -1 + 2 * np.arange(8) / 8
      >>> m = FourierCoefficients((8,), ((1,),))
      >>> (np.round(np.asarray(m(np.cos(np.pi * x)[:, None].astype(np.float32))), 6) + 0.0).tolist()
      [[-0.5, 0.0]]
    """

    shape: tuple[int, ...]
    bins: tuple[tuple[int, ...], ...]
    output: int = 0

    def __post_init__(self):
        shape = tuple(check_int("shape", r, 2) for r in self.shape)
        bins = tuple(tuple(int(b) for b in k) for k in self.bins)
        if not shape or any(len(k) != len(shape) for k in bins) or not bins:
            raise ValueError(f"bins={self.bins!r}: expected one {len(shape)}-tuple of integers per frequency")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "bins", bins)
        check_int("output", self.output, 0)

    def __call__(self, y: jax.Array) -> jax.Array:
        f = y[:, self.output]
        grids = np.meshgrid(*[np.arange(r) for r in self.shape], indexing="ij")
        phase = sum(np.outer(g.reshape(-1), [k[i] / self.shape[i] for k in self.bins]) for i, g in enumerate(grids))
        angle = 2 * np.pi * phase  # (P, m), float64 on the host: exact phases, then float32
        basis = jnp.asarray(np.stack([np.cos(angle), -np.sin(angle)], axis=-1) / f.shape[0], dtype=f.dtype)
        return jnp.einsum("p,pmc->mc", f, basis)


def _wave_vectors(frequencies, dim: int) -> tuple[tuple[int, ...], ...]:
    out = []
    for k in frequencies:
        vec = (k,) if np.ndim(k) == 0 else tuple(k)
        if len(vec) != dim:
            raise ValueError(f"frequencies={frequencies!r}: expected {'integers' if dim == 1 else 'pairs of integers'}"
                             f" for dim={dim}")
        try:
            ints = tuple(int(v) for v in vec)
        except (TypeError, ValueError):
            raise ValueError(f"frequencies={frequencies!r}: expected integer frequencies (periodic on the grid)") from None
        if any(i != v for i, v in zip(ints, vec)):
            raise ValueError(f"frequencies={frequencies!r}: expected integer frequencies (periodic on the grid)")
        out.append(ints)
    return tuple(out)


def target_grid(frequencies: Sequence, *, amplitudes: Sequence[float] | None = None, points: int = 64, dim: int = 1,
                key: Any = 0) -> tuple[np.ndarray, np.ndarray, tuple[tuple[int, ...], ...]]:
    """The grid, the target on it, and each sinusoid's DFT bin.

    ``y(x) = sum_j a_j sin(pi <k_j, x> + phi_j)`` on the grid ``x_p = -1 + 2 p / points`` per axis
    (``[-1, 1)^dim``, C order); phases ``phi_j`` uniform on ``[0, 2 pi)`` from ``key`` (numpy). Each
    sinusoid has ``|k_j|`` periods over the domain and sits in the DFT bin ``k_j mod points``.

    Args:
      frequencies: ``dim == 1``: integers ``k_j >= 1``; ``dim == 2``: integer pairs ``(k_j1, k_j2)``.
        Distinct up to sign, each component below ``points / 2`` (Nyquist).
      amplitudes: ``a_j``; None gives 1 each.
      points: grid points per axis.
      dim: 1 or 2.
      key: int seed of the phases.

    Returns:
      ``(x (points^dim, dim) float64, y (points^dim,) float64, bins)``.
    """
    dim = check_int("dim", dim, 1, 2)
    points = check_int("points", points, 4)
    if isinstance(frequencies, (str, bytes)) or not hasattr(frequencies, "__len__") or not len(frequencies):
        raise ValueError(f"frequencies={frequencies!r}: expected a non-empty sequence")
    ks = _wave_vectors(frequencies, dim)
    seen = set()
    for k in ks:
        if all(v == 0 for v in k) or any(2 * abs(v) >= points for v in k):
            raise ValueError(f"frequencies={frequencies!r}: {k} must be non-zero with every component below "
                             f"points / 2 = {points / 2:g} (Nyquist)")
        if k in seen or tuple(-v for v in k) in seen:
            raise ValueError(f"frequencies={frequencies!r}: {k} repeats (up to sign)")
        seen.add(k)
    amps = np.ones(len(ks)) if amplitudes is None else np.asarray(amplitudes, np.float64)
    if amps.shape != (len(ks),) or not np.all(np.isfinite(amps)) or np.any(amps == 0):
        raise ValueError(f"amplitudes={amplitudes!r}: expected {len(ks)} finite non-zero numbers")
    rng = np.random.default_rng(np.random.SeedSequence(int(key) if isinstance(key, (int, np.integer)) else 0))
    phases = rng.uniform(0, 2 * np.pi, len(ks))
    axis = -1 + 2 * np.arange(points) / points
    x = np.stack(np.meshgrid(*([axis] * dim), indexing="ij"), axis=-1).reshape(-1, dim)
    y = sum(a * np.sin(np.pi * (x @ np.asarray(k, np.float64)) + p) for a, k, p in zip(amps, ks, phases))
    bins = tuple(tuple(v % points for v in k) for k in ks)
    return x, y, bins


def embed(x: np.ndarray, embedding: str) -> np.ndarray:
    """Network inputs: ``(cos pi x_i, sin pi x_i)`` per axis (``"periodic"``, ``(P, 2 d)``) or ``x`` (``"none"``)."""
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding={embedding!r}: expected one of {', '.join(map(repr, EMBEDDINGS))}")
    if embedding == "none":
        return x
    return np.concatenate([np.cos(np.pi * x), np.sin(np.pi * x)], axis=1)


def _dft(values: np.ndarray, shape: tuple[int, ...], bins) -> np.ndarray:
    """Complex DFT coefficients ``(..., m)`` of ``values (..., P)`` on the grid at ``bins`` (float64)."""
    f = np.fft.fftn(values.reshape(values.shape[:-1] + shape), axes=tuple(range(-len(shape), 0)))
    return np.stack([f[(...,) + tuple(k)] for k in bins], axis=-1) / math.prod(shape)


def ntk_prediction(theta: np.ndarray, y: np.ndarray, eta: float, steps: np.ndarray) -> np.ndarray:
    """Infinite-width mean residual ``-(I - eta Theta / N)^t y`` on the training points, ``(len(steps), N)``.

    Lee et al. 2019 with discrete-time gradient descent (``mse = 0.5 * mean`` over ``N`` targets), by
    eigendecomposition in float64: along eigenvector ``v`` the residual is multiplied by
    ``(1 - eta lambda / N)^t``.
    """
    lam, v = np.linalg.eigh(np.asarray(theta, np.float64))
    rate = eta * lam / y.shape[0]
    coef = v.T @ y
    decay = (1 - rate)[None, :] ** np.asarray(steps, np.float64)[:, None]
    return -(decay * coef) @ v.T


def _learned(curve: np.ndarray, steps: np.ndarray, threshold: float) -> np.ndarray:
    """First step (of ``steps``) where ``curve (..., n_steps, m)`` falls below ``threshold`` and stays; inf if none."""
    below = curve < threshold
    stays = np.flip(np.logical_and.accumulate(np.flip(below, axis=-2), axis=-2), axis=-2)
    idx = np.where(stays.any(axis=-2), stays.argmax(axis=-2), -1)
    return np.where(idx >= 0, steps[np.maximum(idx, 0)].astype(np.float64), np.inf)


def spectral_bias(net, *, frequencies: Sequence = (1, 2, 4, 8), amplitudes: Sequence[float] | None = None,
                  dim: int = 1, points: int = 64, embedding: str = "periodic", widths: Sequence[int] | None = None,
                  n: int = 16, steps: int | None = None, learning_rate: float | None = None, lr_scale: float = 1.0,
                  record: int | Sequence[int] = 100, threshold: float = 0.1, key: Any = 0, target_key: int = 0,
                  max_steps: int = 100_000, options=None, progress: bool | None = None) -> xr.Dataset:
    """Fits a sum of sinusoids with many networks per width; residual spectrum over steps beside the NTK prediction.

    Rahaman et al. 2019 (ICML), section 3: the residual's Fourier amplitude at each target frequency
    over training; the low frequencies are fitted first. Here with the prediction of the infinite-
    width NTK of the same architecture (module docstring) and its agreement as the width grows.

    Args:
      net: an :class:`jaxbias.nets.MLP` spec with one output (``in_dim`` unset); its width is replaced by
        each of ``widths``.
      frequencies, amplitudes, points, dim: the target (:func:`target_grid`); the training set is the
        grid, the test set the grid shifted by half a cell.
      embedding: ``"periodic"`` (Fourier modes are the NTK's eigenvectors) or ``"none"``.
      widths: hidden widths (None: the net's own width, which must then be one number).
      n: networks per width.
      steps: gradient-descent steps; None: 1.5 times the step at which the NTK prediction has every
        frequency below ``threshold`` (at most ``max_steps``).
      learning_rate: None: ``eta = lr_scale * N / lambda_max`` of the infinite-width NTK on the grid
        (``eta lambda_max / N = lr_scale``; stable for ``lr_scale < 2``), per width.
      record: about this many log-spaced steps, or the steps.
      threshold: a frequency counts as learned from the first recorded step after which its
        normalised residual stays below this.
      key: seed of the networks (the same initial networks at every width up to the width itself).
      target_key: seed of the target's phases.
      options, progress: as :func:`jaxbias.train`.

    Returns:
      ``xarray.Dataset`` with coords ``width``, ``net``, ``step``, ``frequency`` (``|k_j|``) and
      ``wave_vector (frequency, axis)``: ``residual (width, net, step, frequency)`` (per-network
      normalised residual amplitude), ``mean_residual`` and ``mean_residual_se (width, step,
      frequency)`` (of the ensemble-mean residual), ``ntk_residual (width, step, frequency)`` (the
      prediction), ``learned_step (width, frequency)`` (median network), ``ntk_learned_step (width,
      frequency)`` (prediction, every integer step), ``eigenvalue (width, frequency)`` (Rayleigh
      quotient ``e_k^* Theta e_k`` of the unit Fourier mode: the exact eigenvalue when the embedding
      is periodic), ``decay_rate (width, frequency)`` (``eta lambda / N``), ``ntk_deviation (width)``
      (max over steps and frequencies of ``|mean_residual - ntk_residual|``), ``ntk_mc_error (width)``
      (max of 3 ``mean_residual_se``), ``ntk_excess (width)`` (max of ``|mean_residual - ntk_residual| - 3
      mean_residual_se``: <= 0 when every difference is within the Monte Carlo error), ``learning_rate (width)``, ``train_loss``, ``test_loss (width, net,
      step)``; attrs: the config (target, embedding, net, widths, learning rates, record steps).
    """
    from jaxbias.kernels import infinite
    from jaxbias.nets import MLP
    from jaxbias.training import Optimizer, train

    if not isinstance(net, MLP):
        raise ValueError(f"net={type(net).__name__}: expected a jaxbias.nets.MLP (the prediction needs its analytic NTK)")
    if net.out != 1:
        raise ValueError(f"net with out={net.out}: expected one output (the target is scalar)")
    if widths is None:
        if len(set(net.width)) != 1:
            raise ValueError("widths=None with per-layer widths: give widths= explicitly")
        widths = (net.width[0],) if net.width else (1,)
    widths = tuple(check_int("widths", w, 1) for w in widths)
    if len(set(widths)) != len(widths):
        raise ValueError(f"widths={widths!r}: values repeat")
    n = check_int("n", n, 2)
    threshold = check_float("threshold", threshold, 0.0, strict=True)
    lr_scale = check_float("lr_scale", lr_scale, 0.0, strict=True)
    max_steps = check_int("max_steps", max_steps, 1)
    x, y, bins = target_grid(frequencies, amplitudes=amplitudes, points=points, dim=dim, key=target_key)
    shape = (points,) * dim
    x_in = embed(x, embedding)
    axis = -1 + 2 * np.arange(points) / points + 1.0 / points  # the test grid: half a cell off the training grid
    x_shift = np.stack(np.meshgrid(*([axis] * dim), indexing="ij"), axis=-1).reshape(-1, dim)
    y_test = _target_at(x_shift, frequencies, amplitudes, dim, target_key)
    data = from_arrays(x_in.astype(np.float32), y.astype(np.float32)[:, None],
                       embed(x_shift, embedding).astype(np.float32), y_test.astype(np.float32)[:, None],
                       standardize=False, name="sinusoid-grid")
    c_y = _dft(y, shape, bins)  # (m,)
    n_targets = y.shape[0]
    measure = FourierCoefficients(shape, bins)
    modes = np.exp(2j * np.pi * sum(np.outer(g.reshape(-1), [k[i] / points for k in bins])
                                    for i, g in enumerate(np.meshgrid(*[np.arange(points)] * dim, indexing="ij"))))
    modes /= math.sqrt(n_targets)  # (P, m) unit Fourier vectors

    nets = [net.replace(width=w) if net.depth else net for w in widths]
    thetas = [np.asarray(infinite(m, x_in.astype(np.float64)).ntk, np.float64) for m in nets]
    etas = []
    for theta in thetas:
        lam_max = np.linalg.eigvalsh(theta)[-1]
        etas.append(float(learning_rate) if learning_rate is not None else lr_scale * n_targets / lam_max)
    if steps is None:
        grid = np.unique(np.round(np.geomspace(1, max_steps, 400)).astype(np.int64))
        curve = np.abs(_dft(ntk_prediction(thetas[-1], y, etas[-1], grid), shape, bins)) / np.abs(c_y)
        done = np.flatnonzero((curve < threshold).all(axis=1))
        steps = int(min(max_steps, math.ceil(1.5 * grid[done[0]]))) if done.size else max_steps
    steps = check_int("steps", steps, 1)

    per_width = []
    for m, theta, eta in zip(nets, thetas, etas):
        run = train(m, data, Optimizer("sgd", learning_rate=eta), n=n, key=key, loss="mse", steps=steps,
                    record=record, probe=data.x_train, measures={"coefficients": measure}, eval_train=True,
                    options=options, progress=progress)
        recorded = run["step"].values
        coef = run["coefficients"].values.astype(np.float64)  # (net, step, m, 2)
        c_f = coef[..., 0] + 1j * coef[..., 1]
        resid = c_f - c_y
        amp = np.abs(resid) / np.abs(c_y)
        mean = resid.mean(axis=0)
        se = np.sqrt(coef[..., 0].var(axis=0, ddof=1) + coef[..., 1].var(axis=0, ddof=1)) / math.sqrt(n)
        pred = np.abs(_dft(ntk_prediction(theta, y, eta, recorded), shape, bins)) / np.abs(c_y)
        every = np.arange(steps + 1)
        pred_all = np.abs(_dft(ntk_prediction(theta, y, eta, every), shape, bins)) / np.abs(c_y)
        eig = np.real(np.einsum("pm,pq,qm->m", modes.conj(), theta, modes))
        per_width.append(xr.Dataset({
            "residual": (("net", "step", "frequency"), amp),
            "mean_residual": (("step", "frequency"), np.abs(mean) / np.abs(c_y)),
            "mean_residual_se": (("step", "frequency"), se / np.abs(c_y)),
            "ntk_residual": (("step", "frequency"), pred),
            "learned_step": (("frequency",), _learned(np.median(amp, axis=0), recorded, threshold)),
            "ntk_learned_step": (("frequency",), _learned(pred_all, every, threshold)),
            "eigenvalue": (("frequency",), eig),
            "decay_rate": (("frequency",), eta * eig / n_targets),
            "ntk_deviation": ((), float(np.max(np.abs(np.abs(mean) / np.abs(c_y) - pred)))),
            "ntk_mc_error": ((), float(np.max(3 * se / np.abs(c_y)))),
            "ntk_excess": ((), float(np.max(np.abs(np.abs(mean) / np.abs(c_y) - pred) - 3 * se / np.abs(c_y)))),
            "learning_rate": ((), eta),
            "train_loss": (("net", "step"), run["train_loss"].values),
            "test_loss": (("net", "step"), run["test_loss"].values),
            "diverged_step": (("net",), run["diverged_step"].values),
        }, coords={"step": recorded, "net": np.arange(n)}))
    ds = xr.concat(per_width, dim="width").assign_coords(width=list(widths))
    radial = [float(np.linalg.norm(k)) for k in _wave_vectors(frequencies, dim)]
    ds = ds.assign_coords(frequency=radial, wave_vector=(("frequency", "axis"), np.asarray(_wave_vectors(frequencies, dim))))
    config = {
        "experiment": "spectral bias (Rahaman et al., ICML 2019) against the infinite-width NTK (Lee et al. 2019)",
        "data": {"name": "sinusoid-grid", "target": "sum_j a_j sin(pi <k_j, x> + phi_j)",
                 "frequencies": [list(k) for k in _wave_vectors(frequencies, dim)],
                 "amplitudes": None if amplitudes is None else [float(a) for a in amplitudes],
                 "phases_key": target_key, "points_per_axis": points, "dim": dim,
                 "train": "the periodic grid -1 + 2 p / points per axis", "test": "the grid shifted by half a cell",
                 "sha256": data.fingerprint},
        "preprocessing": {"periodic": "each axis x -> (cos pi x, sin pi x)", "none": "raw x"}[embedding],
        "embedding": embedding,
        "net": net, "widths": list(widths), "n": n,
        "optimizer": {"name": "sgd (full-batch gradient descent)", "learning_rate": etas,
                      "rule": "given" if learning_rate is not None else f"lr_scale * N / lambda_max(NTK), lr_scale={lr_scale}"},
        "loss": "mse: 0.5 * mean over points of (f - y)^2",
        "steps": steps, "record": [int(s) for s in ds["step"].values],
        "residual": "|c_k(f_t - y)| / |c_k(y)|, c_k the DFT coefficient (1/P) sum_p f_p exp(-2 pi i <k, p> / points)",
        "learned": "first recorded step after which the residual stays below threshold", "threshold": threshold,
        "prediction": "mean residual -(I - eta Theta / N)^t y, Theta = jaxbias.kernels.infinite(net).ntk on the grid",
    }
    ds.attrs = result_attrs(config, key)
    return ds


def _target_at(x: np.ndarray, frequencies, amplitudes, dim: int, key: int) -> np.ndarray:
    """The target of :func:`target_grid` at arbitrary points ``x (P, dim)`` (same phases)."""
    ks = _wave_vectors(frequencies, dim)
    amps = np.ones(len(ks)) if amplitudes is None else np.asarray(amplitudes, np.float64)
    rng = np.random.default_rng(np.random.SeedSequence(int(key) if isinstance(key, (int, np.integer)) else 0))
    phases = rng.uniform(0, 2 * np.pi, len(ks))
    return sum(a * np.sin(np.pi * (x @ np.asarray(k, np.float64)) + p) for a, k, p in zip(amps, ks, phases))
