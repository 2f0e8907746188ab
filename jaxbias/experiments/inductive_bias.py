"""Inductive bias of a kernel on a task, exactly: bits needed to reach test error ``eps`` (kernel mode).

Boopathy, Yue, Hwang, Iyer & Fiete, "Towards Exact Computation of Inductive Bias" (IJCAI 2024):
hypotheses are the functions of a Gaussian process conditioned on the training set, and the
inductive bias needed for test error ``eps`` is ``I(eps) = -log2 P(test MSE <= eps)`` over them.

For a kernel ``k`` (one GP per output, shared kernel), targets ``Y (n_train, k_out)`` (one-hot labels
for classification) and noise-free conditioning (``jitter`` adds ``jitter * I`` to the training block,
stated in the result), a posterior sample at the test points is ``mu + L z_o`` per output ``o`` with

    mu = K_*x K_xx^-1 Y,   Sigma = K_** - K_*x K_xx^-1 K_x*   (n_test, n_test),

so its test MSE over ``n_test x k_out`` entries is
``Q = (1 / (n_test k_out)) sum_o |mu_o - y_o + L z_o|^2 = sum_i w_i sum_o (z_io + b_io)^2 + c`` with
``Sigma = V diag(lambda) V^T``, ``w_i = lambda_i / (n_test k_out)``, ``b_io = v_i . (mu_o - y_o) / sqrt(lambda_i)``
and ``c`` the error of the mean in directions where ``lambda_i = 0`` (the sample is deterministic there).
Its lower tail comes from :mod:`jaxbias.theory.gchisq` by every method asked for, each with its error.

Kernels: :class:`RBF`, :class:`Infinite` (analytic NNGP or NTK of a :func:`jaxbias.nets.mlp`),
:class:`MonteCarloNNGP` (sampled networks), :class:`EmpiricalNTK` (one network at init), or a
precomputed joint kernel ``(n_train + n_test, n_train + n_test)`` (training points first).

>>> import numpy as np
>>> from jaxbias import datasets
>>> from jaxbias.experiments.inductive_bias import RBF, inductive_bias
>>> data = datasets.gaussian_mixture(n_classes=3, dim=4, n_train=30, n_test=20, key=0)
>>> ds = inductive_bias(data, RBF(2.0), epsilon=[0.2, 0.3], methods=("inversion", "chernoff"))
>>> bits = ds["bits"].sel(tail_method=["chernoff", "inversion"]).values
>>> ds["bits"].dims, bool((bits[:, 0] <= bits[:, 1]).all())
(('epsilon', 'tail_method'), True)
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Sequence

import numpy as np
import xarray as xr
from scipy import linalg

from jaxbias.datasets import Dataset
from jaxbias.kernels.analytic import infinite
from jaxbias.kernels.empirical import empirical_ntk
from jaxbias.kernels.monte_carlo import nngp_monte_carlo
from jaxbias.keys import as_key
from jaxbias.results import result_attrs
from jaxbias.theory import gchisq

__all__ = ["RBF", "Infinite", "MonteCarloNNGP", "EmpiricalNTK", "Posterior", "targets", "kernel_matrix",
           "posterior_gchisq", "inductive_bias", "bits_vs_n_train", "PSD_TOL"]

PSD_TOL = 1e-6
"""Default tolerance: eigenvalues down to ``-PSD_TOL`` times the kernel's scale are rounding and clipped to 0."""


@dataclasses.dataclass(frozen=True)
class RBF:
    """``k(x, x') = exp(-|x - x'|^2 / (2 bandwidth^2))`` on flattened inputs."""

    bandwidth: float

    def __post_init__(self):
        if not (isinstance(self.bandwidth, (int, float)) and np.isfinite(self.bandwidth) and self.bandwidth > 0):
            raise ValueError(f"bandwidth={self.bandwidth!r}: expected a finite number > 0")

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The kernel matrix ``(n_points, n_points)`` of the points ``x (n_points, ...)``."""
        x = x.reshape(x.shape[0], -1).astype(np.float64)
        sq = np.sum(x ** 2, axis=1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
        return np.exp(-d2 / (2 * float(self.bandwidth) ** 2))

    def config(self) -> dict:
        """The kernel's settings, as a results file stores them."""
        return {"kernel": "rbf", "bandwidth": float(self.bandwidth)}


@dataclasses.dataclass(frozen=True)
class Infinite:
    """Infinite-width ``"nngp"`` or ``"ntk"`` of a :func:`jaxbias.nets.mlp` (:func:`jaxbias.kernels.infinite`)."""

    net: Any
    which: str = "nngp"

    def __post_init__(self):
        if self.which not in ("nngp", "ntk"):
            raise ValueError(f"which={self.which!r}: expected 'nngp' or 'ntk'")

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The kernel matrix ``(n_points, n_points)`` of the points ``x (n_points, ...)``."""
        k = infinite(self.net, x.reshape(x.shape[0], -1))
        return np.asarray(k.nngp if self.which == "nngp" else k.ntk, dtype=np.float64)

    def config(self) -> dict:
        """The kernel's settings, as a results file stores them."""
        return {"kernel": f"infinite_{self.which}", "net": self.net}


@dataclasses.dataclass(frozen=True)
class MonteCarloNNGP:
    """NNGP averaged over ``n`` sampled networks (:func:`jaxbias.kernels.nngp_monte_carlo`), seed ``key``."""

    net: Any
    n: int = 256
    key: int = 0
    estimator: str = "networks"

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The kernel matrix ``(n_points, n_points)`` of the points ``x (n_points, ...)``."""
        k = nngp_monte_carlo(self.net, x, n=self.n, key=self.key, estimator=self.estimator, progress=False)
        return np.asarray(k.mean, dtype=np.float64)

    def config(self) -> dict:
        """The kernel's settings, as a results file stores them."""
        return {"kernel": "monte_carlo_nngp", "net": self.net, "n": int(self.n), "key": int(self.key),
                "estimator": self.estimator}


@dataclasses.dataclass(frozen=True)
class EmpiricalNTK:
    """Empirical NTK (:func:`jaxbias.kernels.empirical_ntk`, traced over outputs) of ``net.init(key, x)``."""

    net: Any
    key: int = 0

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The kernel matrix ``(n_points, n_points)`` of the points ``x (n_points, ...)``."""
        params = self.net.init(as_key(self.key), x[:1])
        return np.asarray(empirical_ntk(self.net, params, x), dtype=np.float64)

    def config(self) -> dict:
        """The kernel's settings, as a results file stores them."""
        return {"kernel": "empirical_ntk", "net": self.net, "key": int(self.key)}


class Posterior(NamedTuple):
    """The test MSE of a GP posterior sample as ``Q = sum_i weights_i sum_o (z_io + offsets_io)^2 + c``.

    ``weights (n_test,)`` (0 where the posterior variance is 0), ``offsets (n_test, k_out)``, ``c``; ``mean_mse``:
    test MSE of the posterior mean; ``expected_mse``: ``E[Q]``; ``min_eig_train``, ``min_eig_posterior``: the most
    negative eigenvalue of the training block (``nan`` when a Cholesky factorisation proved it positive definite)
    and of ``Sigma``, relative to ``scale`` (the largest prior variance); ``n_clipped``: eigenvalues in
    ``[-psd_tol scale, 0)`` set to 0; ``n_zero``:
    directions put into ``c`` (``lambda <= psd_tol scale``); ``n_dropped_train``: training eigen-directions
    left out of ``K_xx^-1`` when the training block is singular (``<= psd_tol scale``: a pseudo-inverse).
    """

    weights: np.ndarray
    offsets: np.ndarray
    c: float
    mean_mse: float
    expected_mse: float
    min_eig_train: float
    min_eig_posterior: float
    scale: float
    n_clipped: int
    n_zero: int
    n_dropped_train: int


def targets(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(Y_train (n_train, k_out), Y_test (n_test, k_out))`` float64: one-hot labels or the regression targets."""
    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__}: expected a jaxbias.datasets.Dataset")
    if data.task == "classification":
        eye = np.eye(data.n_classes)
        return eye[data.y_train], eye[data.y_test]
    return np.asarray(data.y_train, np.float64), np.asarray(data.y_test, np.float64)


def kernel_matrix(kernel: Any, x: np.ndarray) -> np.ndarray:
    """The joint kernel ``(N, N)`` float64 of ``kernel`` (a kernel value or a precomputed square array) on ``x``."""
    if isinstance(kernel, (RBF, Infinite, MonteCarloNNGP, EmpiricalNTK)):
        k = kernel.matrix(np.asarray(x))
    elif isinstance(kernel, np.ndarray):
        k = np.asarray(kernel, dtype=np.float64)
    else:
        raise ValueError(f"kernel={type(kernel).__name__}: expected RBF, Infinite, MonteCarloNNGP, EmpiricalNTK or a "
                         "precomputed (n_train + n_test, n_train + n_test) array")
    n = x.shape[0]
    if k.shape != (n, n):
        raise ValueError(f"kernel matrix with shape {k.shape}: expected ({n}, {n}) (training points, then test points)")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"kernel matrix has {int(np.sum(~np.isfinite(k)))} non-finite entries")
    asym = np.max(np.abs(k - k.T)) / max(np.max(np.abs(k)), 1e-300)
    if asym > 1e-6:
        raise ValueError(f"kernel matrix is not symmetric: max |K - K^T| / max |K| = {asym:.3g} (expected <= 1e-6)")
    return 0.5 * (k + k.T)


def posterior_gchisq(k_joint: np.ndarray, y_train: Any, y_test: Any, *, jitter: float = 0.0,
                     psd_tol: float = PSD_TOL) -> Posterior:
    """Weights, offsets and constant of the test MSE of a GP posterior sample (module docstring).

    Args:
      k_joint: ``(n_train + n_test, n_train + n_test)`` kernel, training points first.
      y_train: ``(n_train, k_out)`` targets; y_test: ``(n_test, k_out)``.
      jitter: added to the training block's diagonal (0: noise-free conditioning).
      psd_tol: eigenvalues down to ``-psd_tol * scale`` are clipped to 0; below, ValueError.

    Returns:
      :class:`Posterior`.

    Raises:
      ValueError: shapes that do not match, ``jitter < 0``, a kernel that is not PSD beyond ``psd_tol``
        (naming the most negative eigenvalue relative to the scale).
    """
    y_train = np.asarray(y_train, np.float64)
    y_test = np.asarray(y_test, np.float64)
    if y_train.ndim != 2 or y_test.ndim != 2 or y_train.shape[1] != y_test.shape[1]:
        raise ValueError(f"y_train with shape {y_train.shape}, y_test with shape {y_test.shape}: expected "
                         "(n_train, k) and (n_test, k) with the same k")
    n, m = y_train.shape[0], y_test.shape[0]
    k_joint = np.asarray(k_joint, np.float64)
    if k_joint.shape != (n + m, n + m):
        raise ValueError(f"k_joint with shape {k_joint.shape}: expected ({n + m}, {n + m}) for {n} training and "
                         f"{m} test points (labels and kernel must match)")
    if not (np.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter={jitter!r}: expected a finite number >= 0")
    if not (np.isfinite(psd_tol) and 0 <= psd_tol < 1):
        raise ValueError(f"psd_tol={psd_tol!r}: expected a number in [0, 1)")
    kxx = k_joint[:n, :n] + jitter * np.eye(n)
    kxs = k_joint[:n, n:]
    kss = k_joint[n:, n:]
    scale = max(float(np.max(np.diag(kxx))), float(np.max(np.diag(kss))), 1e-300)
    try:  # positive definite: K_xx = L L^T, K_*x K^-1 K_x* = a^T a with a = L^-1 K_x*
        chol = linalg.cholesky(kxx, lower=True, check_finite=False)
        a = linalg.solve_triangular(chol, kxs, lower=True, check_finite=False)
        mu = a.T @ linalg.solve_triangular(chol, y_train, lower=True, check_finite=False)
        min_train, n_dropped = float("nan"), 0
    except linalg.LinAlgError:  # singular or indefinite: eigenvalues, the PSD check, a pseudo-inverse
        lam_x, u = np.linalg.eigh(kxx)
        min_train = float(lam_x[0]) / scale
        if min_train < -psd_tol:
            raise ValueError(f"kernel is not positive semi-definite: the training block's most negative eigenvalue is "
                             f"{lam_x[0]:.3g}, {min_train:.3g} relative to the scale {scale:.3g} (tolerance "
                             f"psd_tol={psd_tol:g})") from None
        keep = lam_x > psd_tol * scale
        n_dropped = int(np.sum(~keep))
        a = (u[:, keep].T @ kxs) / np.sqrt(lam_x[keep])[:, None]  # (r, m)
        mu = a.T @ ((u[:, keep].T @ y_train) / np.sqrt(lam_x[keep])[:, None])
    sigma = kss - a.T @ a
    lam, v = np.linalg.eigh(0.5 * (sigma + sigma.T))
    min_post = float(lam[0]) / scale
    if min_post < -psd_tol:
        raise ValueError(f"kernel is not positive semi-definite: the posterior covariance's most negative eigenvalue "
                         f"is {lam[0]:.3g}, {min_post:.3g} relative to the scale {scale:.3g} (tolerance "
                         f"psd_tol={psd_tol:g}; an ill-conditioned training block may need jitter > 0)")
    n_clipped = int(np.sum(lam < 0))
    zero = lam <= psd_tol * scale
    err = mu - y_test
    proj = v.T @ err  # (m, k_out)
    nk = m * y_test.shape[1]
    c = float(np.sum(proj[zero] ** 2) / nk)
    weights = np.where(zero, 0.0, lam / nk)
    offsets = np.where(zero[:, None], 0.0, proj / np.sqrt(np.where(zero, 1.0, lam))[:, None])
    mean_mse = float(np.sum(err ** 2) / nk)
    expected = mean_mse + float(np.sum(np.where(zero, 0.0, lam)) * y_test.shape[1] / nk)
    return Posterior(weights, offsets, c, mean_mse, expected, min_train, min_post, scale, n_clipped,
                     int(np.sum(zero)), n_dropped)


def _check_methods(methods) -> tuple:
    methods = tuple(methods)
    bad = [m for m in methods if m not in gchisq.METHODS]
    if bad or not methods:
        raise ValueError(f"methods={methods!r}: expected a non-empty sequence from {gchisq.METHODS}")
    return methods


def _epsilon(epsilon, post: Posterior) -> np.ndarray:
    if epsilon is None:
        return post.expected_mse * np.geomspace(0.1, 1.0, 16)
    e = np.atleast_1d(np.asarray(epsilon, dtype=np.float64))
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(f"epsilon={epsilon!r}: expected a number or a 1-D array of finite values > 0")
    return e


def _kernel_config(kernel) -> dict:
    return kernel.config() if hasattr(kernel, "config") else {"kernel": "precomputed"}


def _check_key(key) -> int:
    if not isinstance(key, (int, np.integer)) or isinstance(key, bool) or key < 0:
        raise ValueError(f"key={key!r}: expected an integer seed >= 0")
    return int(key)


def _tails(post: Posterior, eps, methods, n_samples, key) -> gchisq.TailReport:
    return gchisq.lower_tail(post.weights, post.offsets, eps, post.c, methods=methods, n_samples=n_samples, seed=key)


def _report_vars(report: gchisq.TailReport, lead: tuple = ()) -> dict:
    dims = lead + ("epsilon", "tail_method")
    lo = np.stack([t.interval[:, 0] for t in report.tails], axis=1)
    hi = np.stack([t.interval[:, 1] for t in report.tails], axis=1)
    return {"bits": (dims, report.bits), "bits_error": (dims, report.error), "bits_lo": (dims, lo),
            "bits_hi": (dims, hi), "disagree": (dims, report.disagree),
            "recommended_bits": (lead + ("epsilon",), report.recommended_bits),
            "recommended_error": (lead + ("epsilon",), report.recommended_error),
            "recommended_method": (lead + ("epsilon",), np.array(report.recommended, dtype=str))}


def inductive_bias(data: Dataset, kernel: Any, epsilon: Any = None, *,
                   methods: Sequence[str] = gchisq.DEFAULT_METHODS, jitter: float = 0.0, psd_tol: float = PSD_TOL,
                   n_samples: int = 10_000, key: int = 0, config: dict | None = None) -> xr.Dataset:
    """Bits of inductive bias against test error ``eps``: a GP with ``kernel`` conditioned on ``data``'s training set.

    Args:
      data: a :class:`jaxbias.datasets.Dataset` (classification labels become one-hot targets).
      kernel: :class:`RBF`, :class:`Infinite`, :class:`MonteCarloNNGP`, :class:`EmpiricalNTK` or a precomputed
        joint kernel ``(n_train + n_test, n_train + n_test)``.
      epsilon: test MSE values > 0 (MSE over test points and outputs); default ``E[Q] * geomspace(0.1, 1, 16)``.
      methods: :data:`jaxbias.theory.gchisq.METHODS` to run.
      jitter: added to the training block's diagonal; 0 is noise-free conditioning.
      psd_tol: PSD tolerance relative to the kernel's scale (:func:`posterior_gchisq`).
      n_samples: posterior samples for ``"monte_carlo"`` and ``"ncx2_fit"`` (numpy seed ``key``).
      key: integer seed.
      config: extra entries stored in the result's config.

    Returns:
      Dataset: ``bits``, ``bits_error``, ``bits_lo``, ``bits_hi``, ``disagree`` ``(epsilon, tail_method)``;
      ``recommended_bits``, ``recommended_error``, ``recommended_method`` ``(epsilon,)``; ``weights (mode,)``
      (``w_i``, descending) and scalars ``c``, ``mean_mse``, ``expected_mse``; attrs: the config
      (:func:`jaxbias.results.result_attrs`), the PSD diagnostics and each method's note.
    """
    key = _check_key(key)
    methods = _check_methods(methods)
    y_train, y_test = targets(data)
    x = np.concatenate([np.asarray(data.x_train), np.asarray(data.x_test)])
    k = kernel_matrix(kernel, x)
    post = posterior_gchisq(k, y_train, y_test, jitter=jitter, psd_tol=psd_tol)
    eps = _epsilon(epsilon, post)
    report = _tails(post, eps, methods, n_samples, key)
    order = np.argsort(post.weights)[::-1]
    variables = _report_vars(report)
    variables.update({"weights": (("mode",), post.weights[order]), "c": ((), post.c),
                      "mean_mse": ((), post.mean_mse), "expected_mse": ((), post.expected_mse)})
    run = {**_kernel_config(kernel), "data": data.describe(), "methods": list(methods), "jitter": float(jitter),
           "psd_tol": float(psd_tol), "n_samples": int(n_samples),
           "targets": "one-hot" if data.n_classes else "regression",
           **(config or {})}
    attrs = result_attrs(run, key)
    attrs.update(_diagnostics(post))
    attrs.update({f"note_{t.method}": t.note for t in report.tails})
    attrs["paper"] = "Boopathy, Yue, Hwang, Iyer & Fiete, Towards Exact Computation of Inductive Bias, IJCAI 2024"
    coords = {"epsilon": eps, "tail_method": list(methods), "mode": np.arange(post.weights.size)}
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _diagnostics(post: Posterior) -> dict:
    return {"min_eig_train_relative": post.min_eig_train, "min_eig_posterior_relative": post.min_eig_posterior,
            "kernel_scale": post.scale, "n_clipped": post.n_clipped, "n_zero_weight": post.n_zero,
            "n_dropped_train": post.n_dropped_train}


def bits_vs_n_train(data: Dataset, kernel: Any, n_train: Sequence[int], epsilon: Any, *,
                    methods: Sequence[str] = ("inversion", "saddlepoint", "chernoff"), jitter: float = 0.0,
                    psd_tol: float = PSD_TOL, n_samples: int = 10_000, key: int = 0,
                    config: dict | None = None) -> xr.Dataset:
    """Bits against training-set size: nested subsets (the first ``n`` of one permutation of the training set, numpy
    seed ``key``) with the whole test set; the kernel is computed once on all points.

    Args:
      n_train: subset sizes, each in ``1 .. data.n_train``.
      epsilon: test MSE values > 0, shared by all sizes.
      data, kernel, methods, jitter, psd_tol, n_samples, key, config: as in :func:`inductive_bias`.

    Returns:
      Dataset with ``bits``, ``bits_error``, ``bits_lo``, ``bits_hi``, ``disagree`` ``(n_train, epsilon, tail_method)``,
      ``recommended_*`` ``(n_train, epsilon)``, ``mean_mse`` and ``expected_mse`` ``(n_train,)``.
    """
    key = _check_key(key)
    methods = _check_methods(methods)
    sizes = np.atleast_1d(np.asarray(n_train))
    if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1 \
            or sizes.max() > data.n_train:
        raise ValueError(f"n_train={n_train!r}: expected integers in 1..{data.n_train}")
    if epsilon is None:
        raise ValueError("epsilon=None: expected test MSE values > 0 (shared by all training-set sizes)")
    y_train, y_test = targets(data)
    x = np.concatenate([np.asarray(data.x_train), np.asarray(data.x_test)])
    k = kernel_matrix(kernel, x)
    perm = np.random.default_rng(key).permutation(data.n_train)
    test = np.arange(data.n_train, x.shape[0])
    reports, posts = [], []
    for size in sizes:
        idx = np.concatenate([perm[:size], test])
        post = posterior_gchisq(k[np.ix_(idx, idx)], y_train[perm[:size]], y_test, jitter=jitter, psd_tol=psd_tol)
        eps = _epsilon(epsilon, post)
        reports.append(_tails(post, eps, methods, n_samples, key))
        posts.append(post)
    variables = {}
    for name, (dims, _) in _report_vars(reports[0], ("n_train",)).items():
        variables[name] = (dims, np.stack([_report_vars(r)[name][1] for r in reports]))
    variables["mean_mse"] = (("n_train",), np.array([p.mean_mse for p in posts]))
    variables["expected_mse"] = (("n_train",), np.array([p.expected_mse for p in posts]))
    variables["c"] = (("n_train",), np.array([p.c for p in posts]))
    run = {**_kernel_config(kernel), "data": data.describe(), "methods": list(methods), "jitter": float(jitter),
           "psd_tol": float(psd_tol), "n_samples": int(n_samples), "subsets": "first n of permutation(seed=key)",
           **(config or {})}
    attrs = result_attrs(run, key)
    attrs["paper"] = "Boopathy, Yue, Hwang, Iyer & Fiete, Towards Exact Computation of Inductive Bias, IJCAI 2024"
    coords = {"n_train": sizes.astype(np.int64), "epsilon": reports[0].epsilon, "tail_method": list(methods)}
    return xr.Dataset(variables, coords=coords, attrs=attrs)
