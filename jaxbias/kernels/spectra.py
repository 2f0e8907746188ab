"""Spectra of kernel matrices: eigenpairs, summaries, alignment, the Walsh spectrum on the hypercube.

* :func:`eigen`: eigenvalues (descending) and eigenvectors; dense ``eigh`` in float64 up to
  ``DENSE_MAX`` points, matrix-free :func:`lanczos` on kernel-vector products beyond (or when a
  ``matvec`` is given, e.g. :func:`jaxbias.kernels.ntk_matvec`). Every dense kernel is checked:
  asymmetry, negative eigenvalues beyond round-off (not PSD) and a condition number beyond
  ``1 / eps`` (ill-conditioned) are reported as a :class:`KernelWarning` (or raised), with the
  option to add a diagonal jitter.
* :func:`effective_rank` ``exp(H(lambda / sum lambda))`` (Roy & Vetterli 2007),
  :func:`condition_number`, :func:`power_law_fit` of ``lambda_k ~ c k^-alpha``.
* :func:`target_alignment`: the fraction of a target's energy on each eigenvector (the spectral
  bias picture of Bordelon, Canatar & Pehlevan, ICML 2020); :func:`kernel_alignment`
  ``y^T K y / (|K|_F |y|^2)`` (Cristianini et al., NeurIPS 2001).
* :func:`walsh_spectrum`: on the Boolean cube coded as ``{-1,+1}^n`` an MLP kernel depends only
  on the Hamming distance, so it is diagonalized by the Walsh characters
  ``chi_S(x) = (-1)^(sum_{i in S} x_i)`` (bits ``x_i`` in {0, 1}) and its eigenvalue depends only
  on ``|S|`` (O'Donnell 2014, "Analysis of Boolean Functions"; Yang & Salman 2019, "A fine-grained
  spectral perspective on neural networks"): low degrees get the large eigenvalues. On ``{0,1}^n``
  an MLP kernel is not diagonal in the Walsh basis (``x.x'`` depends on the Hamming weights), and
  the true eigenvectors are reported with the degree that carries most of their energy.

>>> import numpy as np, jaxbias as jb
>>> k = np.array([[2.0, 1.0], [1.0, 2.0]])
>>> jb.kernels.eigen(k).values.tolist()
[3.0, 1.0]
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = [
    "DENSE_MAX",
    "KernelWarning",
    "KernelCheck",
    "Spectrum",
    "PowerLaw",
    "WalshSpectrum",
    "check_kernel",
    "eigen",
    "lanczos",
    "effective_rank",
    "condition_number",
    "power_law_fit",
    "target_alignment",
    "kernel_alignment",
    "walsh_spectrum",
]

DENSE_MAX = 10_000
"""Above this many points :func:`eigen` switches from dense ``eigh`` to Lanczos."""

_CHECKS = ("warn", "raise", "ignore")


class KernelWarning(RuntimeWarning):
    """A kernel matrix is not symmetric, not positive semi-definite, or ill-conditioned."""


class KernelCheck(NamedTuple):
    """Numerical health of a kernel matrix (after any jitter).

    Attributes:
      symmetric_error: ``max |K - K^T| / max |K|``.
      symmetric: ``symmetric_error <= sqrt(eps)`` of the kernel's dtype (the symmetric part is used).
      min_eigenvalue, max_eigenvalue: extreme eigenvalues (of the symmetric part; Lanczos: of the
        computed ones only).
      condition: ``max / min`` eigenvalue (inf when ``min <= 0``).
      tolerance: eigenvalues above ``-tolerance`` count as round-off zeros (``n eps max|lambda|``).
      psd: no eigenvalue below ``-tolerance``.
      well_conditioned: ``condition < 1 / eps`` of the kernel's dtype.
    """

    symmetric_error: float
    symmetric: bool
    min_eigenvalue: float
    max_eigenvalue: float
    condition: float
    tolerance: float
    psd: bool
    well_conditioned: bool


class Spectrum(NamedTuple):
    """Eigenpairs of a kernel, eigenvalues in descending order.

    Attributes:
      values: ``(k,)`` eigenvalues, float64.
      vectors: ``(n, k)`` orthonormal eigenvectors (columns), or None when not asked for.
      check: the :class:`KernelCheck` of the matrix.
      jitter: the diagonal jitter that was added.
      residuals: Lanczos residual bounds ``|K v - lambda v|`` per pair; None for dense ``eigh``.
    """

    values: np.ndarray
    vectors: np.ndarray | None
    check: KernelCheck
    jitter: float
    residuals: np.ndarray | None = None


class PowerLaw(NamedTuple):
    """A least-squares fit ``log lambda_k = log amplitude - exponent log k`` over ranks ``k_min..k_max``."""

    exponent: float
    amplitude: float
    r2: float
    k_min: int
    k_max: int


class WalshSpectrum(NamedTuple):
    """Eigenvalues of a kernel on the whole Boolean cube, by Walsh degree.

    Eigenvalues are those of the ``(2^n, 2^n)`` kernel matrix ``K`` (as :func:`eigen` gives them):
    a character ``chi_S`` (``|chi_S|^2 = 2^n``) that is an eigenvector has eigenvalue
    ``chi_S^T K chi_S / 2^n``. The integral operator under the uniform measure on the cube,
    ``(T f)(x) = 2^-n sum_x' K(x, x') f(x')``, has the same eigenvectors and eigenvalues ``2^-n`` times these.

    Shapes: ``n_bits + 1`` per degree, ``2^n`` per eigenpair.

    Attributes:
      degree: ``(n_bits + 1,)`` degrees ``0..n_bits``.
      eigenvalue: ``(n_bits + 1,)`` mean of the eigenvalues assigned to each degree. When ``exact``,
        the eigenvalue of every character of that degree; NaN for a degree no eigenvector is assigned to.
      multiplicity: ``(n_bits + 1,)`` ``C(n_bits, degree)``, the number of characters per degree.
      spread: ``(n_bits + 1,)`` max minus min of the eigenvalues assigned to each degree (0 up to
        rounding when ``exact``; NaN where ``count`` is 0).
      off_diagonal: ``|offdiag(W)|_F / |W|_F`` with ``W = H K H / 2^n`` the kernel in the Walsh
        basis: 0 when the characters are eigenvectors. Each eigenvalue of ``K`` lies within
        ``off_diagonal * |K|_F`` of one of ``W``'s diagonal entries (Weyl).
      exact: True when ``off_diagonal <= tolerance`` and every ``spread <= tolerance * |K|_F``: the
        characters are eigenvectors, each degree has one eigenvalue, and ``eigenvalue`` repeated
        ``multiplicity`` times is the whole spectrum.
      count: ``(n_bits + 1,)`` eigenvectors assigned to each degree (``multiplicity`` when ``exact``).
      rayleigh: ``(n_bits + 1,)`` mean over the characters of each degree of ``chi_S^T K chi_S / 2^n``
        (the trace of ``K`` on the degree's span over its dimension). Equals ``eigenvalue`` when
        ``exact``; otherwise an energy-weighted average of eigenvalues, not an eigenvalue.
      values: ``(2^n,)`` all eigenvalues of ``K``, descending.
      assigned_degree: ``(2^n,)`` the Walsh degree carrying most of each eigenvector's energy
        ``sum_{|S| = d} (chi_S . v)^2 / 2^n``; within a cluster of eigenvalues closer than
        ``tolerance * |K|_F`` (a degenerate eigenspace, whose individual vectors are arbitrary) the
        energies are averaged over the cluster's eigenspace, so the assignment is basis-independent.
      dominant_fraction: ``(2^n,)`` fraction of each eigenvector's energy on ``assigned_degree``
        (1 when the characters are eigenvectors).
      tolerance: relative rounding tolerance used for ``off_diagonal`` (see :func:`walsh_spectrum`).
      coding: ``"01"`` or ``"pm1"``, the coding of ``x``.
    """

    degree: np.ndarray
    eigenvalue: np.ndarray
    multiplicity: np.ndarray
    spread: np.ndarray
    off_diagonal: float
    exact: bool
    count: np.ndarray
    rayleigh: np.ndarray
    values: np.ndarray
    assigned_degree: np.ndarray
    dominant_fraction: np.ndarray
    tolerance: float
    coding: str


def _square(name: str, k: Any) -> np.ndarray:
    k = np.asarray(k)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
        raise ValueError(f"{name} with shape {k.shape}: expected a square (n, n) kernel matrix, n >= 1")
    if not np.issubdtype(k.dtype, np.floating):
        raise ValueError(f"{name} with dtype {k.dtype}: expected a floating kernel matrix")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return k


def _check_choice(check: str) -> str:
    if check not in _CHECKS:
        raise ValueError(f"check={check!r}: expected one of {', '.join(map(repr, _CHECKS))}")
    return check


def _check_jitter(jitter: Any) -> float:
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float, np.floating)) or not (
            math.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter={jitter!r}: expected a finite number >= 0 added to the diagonal")
    return float(jitter)


def _health(values: np.ndarray, n: int, eps: float, symmetric_error: float) -> KernelCheck:
    lo, hi = float(np.min(values)), float(np.max(values))
    scale = max(abs(lo), abs(hi))
    tol = n * eps * scale
    condition = hi / lo if lo > 0 else math.inf
    return KernelCheck(symmetric_error, bool(symmetric_error <= math.sqrt(eps)), lo, hi, condition, tol,
                       bool(lo >= -tol), bool(condition < 1.0 / eps))


def _report(check: KernelCheck, mode: str, what: str) -> None:
    problems = []
    if not check.symmetric:
        problems.append(f"asymmetric (max |K - K^T| / max |K| = {check.symmetric_error:.3g})")
    if not check.psd:
        problems.append(f"not positive semi-definite (smallest eigenvalue {check.min_eigenvalue:.4g}, "
                        f"round-off tolerance {check.tolerance:.3g})")
    if not check.well_conditioned:
        problems.append(f"ill-conditioned (condition number {check.condition:.3g})")
    if not problems or mode == "ignore":
        return
    message = f"{what} is " + "; ".join(problems) + ": pass jitter=... (added to the diagonal) to regularize it"
    if mode == "raise":
        raise ValueError(message)
    warnings.warn(message, KernelWarning, stacklevel=3)


def check_kernel(k: Any) -> KernelCheck:
    """Symmetry, positive semi-definiteness and conditioning of a dense kernel matrix ``(n, n)``."""
    k = _square("k", k)
    eps = float(np.finfo(k.dtype).eps)
    k64 = k.astype(np.float64)
    scale = float(np.max(np.abs(k64))) or 1.0
    sym_err = float(np.max(np.abs(k64 - k64.T))) / scale
    values = np.linalg.eigvalsh(0.5 * (k64 + k64.T))
    return _health(values, k.shape[0], eps, sym_err)


def eigen(k: Any, *, top: int | None = None, vectors: bool = True, jitter: float = 0.0, check: str = "warn",
          method: str = "auto", n: int | None = None, num_iter: int | None = None, seed: int = 0) -> Spectrum:
    """Eigenvalues (descending) and eigenvectors of a kernel.

    Args:
      k: a kernel matrix ``(n, n)``, or a function ``matvec(v (n,)) -> (n,)`` (then ``n`` and
        ``top`` are required and Lanczos is used).
      top: keep the ``top`` largest eigenpairs (required for Lanczos); None keeps all.
      vectors: also return eigenvectors.
      jitter: added to the diagonal before anything else (``K + jitter I``).
      check: "warn" (a :class:`KernelWarning`), "raise" (ValueError) or "ignore" when the kernel is
        asymmetric, not PSD or ill-conditioned.
      method: "auto" (dense up to :data:`DENSE_MAX` points), "dense" or "lanczos".
      n: number of points, for a ``matvec``.
      num_iter, seed: Lanczos iterations and start-vector seed (see :func:`lanczos`).

    Returns:
      :class:`Spectrum`.
    """
    _check_choice(check)
    jitter = _check_jitter(jitter)
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method={method!r}: expected 'auto', 'dense' or 'lanczos'")
    if callable(k):
        if method == "dense":
            raise ValueError("method='dense': needs a kernel matrix, got a matvec function")
        if n is None or top is None:
            raise ValueError("k is a matvec function: pass n (number of points) and top (eigenpairs wanted)")
        return lanczos(k, n, top, jitter=jitter, num_iter=num_iter, seed=seed, vectors=vectors, check=check)
    k = _square("k", k)
    size = k.shape[0]
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= size):
        raise ValueError(f"top={top!r}: expected an integer in [1, {size}]")
    if method == "lanczos" or (method == "auto" and size > DENSE_MAX):
        if top is None:
            raise ValueError(f"k with {size} points: Lanczos (beyond {DENSE_MAX} points) needs top=number of eigenpairs")
        mat = k.astype(np.float64)
        return lanczos(lambda v: mat @ v, size, top, jitter=jitter, num_iter=num_iter, seed=seed, vectors=vectors,
                       check=check, eps=float(np.finfo(k.dtype).eps))
    eps = float(np.finfo(k.dtype).eps)
    k64 = k.astype(np.float64)
    scale = float(np.max(np.abs(k64))) or 1.0
    sym_err = float(np.max(np.abs(k64 - k64.T))) / scale
    k64 = 0.5 * (k64 + k64.T) + jitter * np.eye(size)
    if vectors:
        values, vecs = np.linalg.eigh(k64)
        vecs = vecs[:, ::-1]
    else:
        values, vecs = np.linalg.eigvalsh(k64), None
    values = values[::-1]
    health = _health(values, size, eps, sym_err)
    _report(health, check, f"kernel ({size} x {size})")
    keep = size if top is None else int(top)
    return Spectrum(values[:keep].copy(), None if vecs is None else vecs[:, :keep].copy(), health, jitter)


def lanczos(matvec: Callable, n: int, top: int, *, num_iter: int | None = None, jitter: float = 0.0,
            seed: int = 0, vectors: bool = True, check: str = "warn", eps: float = float(np.finfo(np.float32).eps),
            ) -> Spectrum:
    """Largest eigenpairs of a symmetric operator from matrix-vector products (Lanczos, 1950).

    Full reorthogonalization in float64 on the host (Golub & Van Loan, section 10.3), so memory is
    ``num_iter * n`` floats and the kernel is never formed: with
    :func:`jaxbias.kernels.ntk_matvec` each product is one vjp and one jvp.

    Args:
      matvec: ``v (n,) -> K v (n,)`` (numpy or jax arrays).
      n: dimension.
      top: number of largest eigenpairs.
      num_iter: Krylov dimension; default ``min(n, max(2 top + 20, top + 40))``.
      jitter: added to the diagonal (``K v + jitter v``).
      seed: seed of the random start vector.
      vectors: also return the Ritz vectors.
      check: as in :func:`eigen`, on the computed eigenvalues only.
      eps: round-off unit of the operator's arithmetic (float32 by default).

    Returns:
      :class:`Spectrum` with ``residuals``: the bound ``|beta_m s_mi|`` on ``|K v_i - lambda_i v_i|``.
    """
    _check_choice(check)
    jitter = _check_jitter(jitter)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r}: expected a positive integer dimension")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= n:
        raise ValueError(f"top={top!r}: expected an integer in [1, {n}]")
    m = min(n, max(2 * top + 20, top + 40)) if num_iter is None else int(num_iter)
    if not top <= m <= n:
        raise ValueError(f"num_iter={num_iter!r}: expected an integer in [top={top}, n={n}]")
    basis = np.zeros((m, n))
    alphas, betas = np.zeros(m), np.zeros(m)
    q = np.random.default_rng(seed).standard_normal(n)
    q /= np.linalg.norm(q)
    size = m
    for j in range(m):
        basis[j] = q
        w = np.asarray(matvec(q.astype(np.float32) if eps > 1e-10 else q), np.float64).reshape(n) + jitter * q
        alphas[j] = q @ w
        for _ in range(2):  # twice is enough (Kahan, Parlett)
            w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        betas[j] = np.linalg.norm(w)
        if j + 1 == m or betas[j] <= 1e-12 * max(abs(alphas[: j + 1]).max(), 1e-300):
            size = j + 1
            break
        q = w / betas[j]
    tri = np.diag(alphas[:size]) + np.diag(betas[: size - 1], 1) + np.diag(betas[: size - 1], -1)
    theta, s = np.linalg.eigh(tri)
    order = np.argsort(theta)[::-1][:top]
    values = theta[order]
    residuals = np.abs(betas[size - 1] * s[size - 1, order])
    vecs = basis[:size].T @ s[:, order] if vectors else None
    health = _health(values, n, eps, 0.0)
    # Lanczos sees the top of the spectrum only: report what is visible there (negative or tiny top values).
    _report(health._replace(well_conditioned=True), check, f"operator ({n} x {n})")
    return Spectrum(values, vecs, health, jitter, residuals)


def _values(values: Any) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"values with shape {values.shape}: expected a non-empty 1-D array of finite eigenvalues")
    return values


def effective_rank(values: Any) -> float:
    """``exp(H(p))`` with ``p = lambda / sum lambda`` (negative round-off values clipped to 0).

    Between 1 (one eigenvalue) and ``n`` (a flat spectrum); Roy & Vetterli (2007).
    """
    lam = np.clip(_values(values), 0.0, None)
    total = lam.sum()
    if total <= 0:
        raise ValueError("values: no positive eigenvalue, the effective rank is undefined")
    p = lam[lam > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def condition_number(values: Any) -> float:
    """``max lambda / min lambda``; inf when the smallest eigenvalue is <= 0."""
    lam = _values(values)
    lo = lam.min()
    return float(lam.max() / lo) if lo > 0 else math.inf


def power_law_fit(values: Any, k_min: int = 1, k_max: int | None = None) -> PowerLaw:
    """Fits ``lambda_k = amplitude * k^(-exponent)`` by least squares in log-log over ranks ``k_min..k_max``.

    Eigenvalues are sorted descending and ranked from 1; non-positive ones in the range are
    dropped (they have no logarithm). ``r2`` is the coefficient of determination of the fit.
    """
    lam = np.sort(_values(values))[::-1]
    k_max = lam.size if k_max is None else k_max
    if not (isinstance(k_min, (int, np.integer)) and isinstance(k_max, (int, np.integer)) and 1 <= k_min < k_max <= lam.size):
        raise ValueError(f"k_min={k_min!r}, k_max={k_max!r}: expected integers with 1 <= k_min < k_max <= {lam.size}")
    ranks = np.arange(k_min, k_max + 1, dtype=np.float64)
    sub = lam[k_min - 1:k_max]
    keep = sub > 0
    if keep.sum() < 2:
        raise ValueError(f"values: fewer than 2 positive eigenvalues between ranks {k_min} and {k_max}")
    lx, ly = np.log(ranks[keep]), np.log(sub[keep])
    slope, intercept = np.polyfit(lx, ly, 1)
    fitted = intercept + slope * lx
    ss_res, ss_tot = np.sum((ly - fitted) ** 2), np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerLaw(float(-slope), float(np.exp(intercept)), float(r2), int(k_min), int(k_max))


def target_alignment(vectors: Any, y: Any) -> np.ndarray:
    """Fraction of a target's energy on each eigenvector: ``(v_k . y)^2 / |y|^2``, ``(k,)``.

    With all ``n`` eigenvectors the fractions sum to 1; their cumulative sum over descending
    eigenvalues is the alignment curve of Canatar, Bordelon & Pehlevan (Nat. Commun. 2021).

    Args:
      vectors: ``(n, k)`` orthonormal eigenvectors (columns), e.g. ``eigen(K).vectors``.
      y: target ``(n,)``.
    """
    vecs = np.asarray(vectors, np.float64)
    y = np.asarray(y, np.float64).reshape(-1)
    if vecs.ndim != 2 or vecs.shape[0] != y.size:
        raise ValueError(f"vectors with shape {vecs.shape} and y with shape {y.shape}: expected (n, k) and (n,)")
    norm = y @ y
    if norm == 0:
        raise ValueError("y: the target is zero, its alignment is undefined")
    return (vecs.T @ y) ** 2 / norm


def kernel_alignment(k: Any, y: Any) -> float:
    """Kernel-target alignment ``y^T K y / (|K|_F |y|^2)`` (Cristianini et al., NeurIPS 2001), in [-1, 1]."""
    k = _square("k", k).astype(np.float64)
    y = np.asarray(y, np.float64).reshape(-1)
    if y.size != k.shape[0]:
        raise ValueError(f"y with {y.size} entries: expected {k.shape[0]} (one per point of k)")
    denom = np.linalg.norm(k) * (y @ y)
    if denom == 0:
        raise ValueError("k or y is zero: the alignment is undefined")
    return float(y @ k @ y / denom)


def _hadamard(a: np.ndarray, axis: int) -> np.ndarray:
    """Unnormalized Walsh-Hadamard transform along ``axis`` (length ``2^n``): ``H[S, x] = (-1)^popcount(S & x)``."""
    a = np.moveaxis(a, axis, 0)
    size = a.shape[0]
    rest = a.shape[1:]
    a = a.reshape(size, -1)
    h = 1
    while h < size:
        a = a.reshape(size // (2 * h), 2, h, -1)
        a = np.stack([a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]], axis=1)
        h *= 2
    return np.moveaxis(a.reshape((size,) + rest), 0, axis)


WALSH_ULPS = 64
"""Rounding units of the kernel's dtype under which :func:`walsh_spectrum` counts off-diagonal mass as zero."""


def walsh_spectrum(k: Any, x: Any) -> WalshSpectrum:
    """Eigenvalues of a kernel on the whole Boolean cube, by Walsh degree.

    On ``{-1,+1}^n`` every point has norm ``sqrt(n)`` and ``x.x' = n - 2 h`` with ``h`` the Hamming
    distance, so an MLP kernel (NNGP or NTK, any depth and activation) is a function of ``h``
    alone: the Walsh characters ``chi_S`` are its eigenvectors and the eigenvalue depends only on
    ``|S|`` (O'Donnell 2014, "Analysis of Boolean Functions", ch. 1-2; Yang & Salman 2019, "A
    fine-grained spectral perspective on neural networks"). Then the diagonal of the kernel in the
    Walsh basis is the spectrum, computed with a fast Walsh-Hadamard transform on both axes,
    ``O(4^n n)``. On ``{0,1}^n`` this is false: ``x.x' = (|x| + |x'| - h) / 2`` depends on the
    Hamming weights, the kernel is not diagonal in the Walsh basis (``off_diagonal`` about 0.31 for
    a 3-layer ReLU NTK on 6 bits, whose Walsh diagonal entry 169.1 of degree 0 is not its top
    eigenvalue 178.8), and the result is then the true eigendecomposition (dense ``eigh``, ``O(8^n)``)
    with each eigenvector assigned to the degree carrying most of its energy, ``exact=False`` and
    the off-diagonal mass stated. The coding of ``x`` is only used to identify the points (the
    kernel matrix is given); what makes the kernel diagonal or not is the coding the kernel was
    computed on.

    ``jb.inputs.hypercube`` keeps ``{0, 1}`` as its default coding: the Boolean-prior experiment
    (Valle-Perez, Camargo & Louis, ICLR 2019) and the truth-table measures use ``{0,1}^n`` in
    lexicographic order, and a network's distribution over functions depends on the coding. For
    kernel spectra pass ``jb.inputs.hypercube(n, values="pm1")``.

    Tolerance: the characters count as eigenvectors when ``off_diagonal <= tolerance`` with
    ``tolerance = 64 eps_k + 4 n eps_64`` (``eps_k`` the unit round-off of ``k``'s dtype,
    :data:`WALSH_ULPS`). A Hamming-distance kernel's entries may carry a few tens of ulps of
    rounding that differ between pairs at the same distance (a layer recursion); that is
    off-diagonal mass of the same relative size, and the float64 transform adds about ``n eps_64``
    per axis. Below it, Weyl's inequality puts every eigenvalue within ``tolerance * |K|_F`` of a
    Walsh diagonal entry: no further than the kernel's own rounding allows. Any MLP kernel on
    ``{0,1}^n`` is far above it, and so is a Monte Carlo (finite-width) kernel, whose sampling noise
    is not invariant under bit flips.

    Args:
      k: kernel ``(2^n, 2^n)`` between the points of ``x`` (its symmetric part is used).
      x: the ``2^n`` distinct points of ``{0,1}^n`` or ``{-1,+1}^n``, in any order
        (e.g. :func:`jaxbias.inputs.hypercube`).

    Returns:
      :class:`WalshSpectrum`: eigenvalues of the matrix ``K`` (``2^n`` times those of the integral
      operator under the uniform measure), per degree and per eigenpair.

    Example:
      >>> import jaxbias as jb
      >>> x = jb.inputs.hypercube(3, values="pm1")
      >>> w = walsh_spectrum(1.0 + x @ x.T, x)    # constant + linear kernel: degrees 0 and 1
      >>> w.exact, w.eigenvalue.round(6).tolist()
      (True, [8.0, 8.0, 0.0, 0.0])
    """
    k = _square("k", k)
    eps = float(np.finfo(k.dtype).eps)
    k = k.astype(np.float64)
    k = 0.5 * (k + k.T)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != k.shape[0]:
        raise ValueError(f"x with shape {x.shape}: expected ({k.shape[0]}, n_bits) points of the hypercube")
    n_bits = x.shape[1]
    if x.shape[0] != 2**n_bits:
        raise ValueError(f"x with shape {x.shape}: expected all 2**{n_bits} = {2**n_bits} points of the cube")
    levels = set(np.unique(x).tolist())
    if levels <= {0.0, 1.0}:
        bits, coding = x.astype(np.int64), "01"
    elif levels <= {-1.0, 1.0}:
        bits, coding = ((x + 1) // 2).astype(np.int64), "pm1"
    else:
        raise ValueError(f"x has values {sorted(levels)[:5]}: expected {{0, 1}} or {{-1, +1}} coordinates")
    index = bits @ (1 << np.arange(n_bits - 1, -1, -1))
    if np.unique(index).size != index.size:
        raise ValueError("x: points repeat; expected every point of the cube once")
    order = np.empty_like(index)
    order[index] = np.arange(index.size)
    k = k[np.ix_(order, order)]  # rows in lexicographic order of the bits
    size = k.shape[0]
    walsh = _hadamard(_hadamard(k, 0), 1) / size  # (chi_S^T K chi_T) / 2^n
    diag = np.diagonal(walsh).copy()
    degree_of = np.array([bin(s).count("1") for s in range(size)])
    degrees = np.arange(n_bits + 1)
    multiplicity = np.array([math.comb(n_bits, int(d)) for d in degrees])
    rayleigh = np.array([diag[degree_of == d].mean() for d in degrees])
    scale = float(np.linalg.norm(walsh))  # = |K|_F: H / sqrt(2^n) is orthogonal
    off = float(np.linalg.norm(walsh - np.diag(diag)) / scale) if scale > 0 else 0.0
    tol = WALSH_ULPS * eps + 4 * n_bits * float(np.finfo(np.float64).eps)
    if off <= tol:  # the characters are the eigenvectors
        values, assigned, fraction = diag, degree_of, np.ones(size)
    else:
        values, vecs = np.linalg.eigh(k)  # ascending
        coef = _hadamard(vecs, 0) ** 2 / size  # (S, j): energy of eigenvector j on chi_S
        energy = np.stack([coef[degree_of == d].sum(axis=0) for d in degrees], axis=1)  # (2^n, n_bits + 1)
        # Eigenvalues closer than the tolerance form one eigenspace: average its vectors' energies.
        cluster = np.concatenate([[0], np.cumsum(np.diff(values) > tol * scale)])
        sums = np.zeros((cluster[-1] + 1, degrees.size))
        np.add.at(sums, cluster, energy)
        energy = (sums / np.bincount(cluster)[:, None])[cluster]
        assigned, fraction = np.argmax(energy, axis=1), np.max(energy, axis=1)
    order = np.argsort(-values, kind="stable")
    values, assigned, fraction = values[order], assigned[order], fraction[order]
    count = np.bincount(assigned, minlength=degrees.size)
    eig = np.array([values[assigned == d].mean() if count[d] else np.nan for d in degrees])
    spread = np.array([np.ptp(values[assigned == d]) if count[d] else np.nan for d in degrees])
    exact = bool(off <= tol and np.all(spread <= tol * scale))
    return WalshSpectrum(degrees, eig, multiplicity, spread, off, exact, count, rayleigh, values, assigned,
                         fraction, float(tol), coding)
