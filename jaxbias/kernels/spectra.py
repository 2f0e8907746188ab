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
* :func:`walsh_spectrum`: on the Boolean cube {0,1}^n a kernel that depends only on Hamming
  distance (any MLP kernel) is diagonalized by the Walsh characters ``chi_S(x) = (-1)^(sum_{i in S} x_i)``
  and its eigenvalue depends only on ``|S|`` (O'Donnell 2014; Yang & Salman 2019; Valle-Perez et
  al., ICLR 2019): low degrees get the large eigenvalues.

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
    """Eigenvalues of a hypercube kernel by Walsh degree.

    Attributes:
      degree: ``(n_bits + 1,)`` degrees ``0..n_bits``.
      eigenvalue: mean over the characters of each degree of ``chi_S^T K chi_S / 2^n``.
      multiplicity: ``C(n_bits, degree)`` characters per degree.
      spread: max minus min of the eigenvalue within each degree (0 for Hamming-distance kernels).
      off_diagonal: ``|offdiag(H K H)|_F / |H K H|_F`` in the Walsh basis: 0 when the characters
        are exact eigenvectors.
    """

    degree: np.ndarray
    eigenvalue: np.ndarray
    multiplicity: np.ndarray
    spread: np.ndarray
    off_diagonal: float


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


def walsh_spectrum(k: Any, x: Any) -> WalshSpectrum:
    """Eigenvalue of each Walsh degree of a kernel on the whole Boolean cube.

    Args:
      k: kernel ``(2^n, 2^n)`` between the points of ``x``.
      x: the ``2^n`` distinct points of ``{0,1}^n`` or ``{-1,+1}^n``, in any order
        (e.g. :func:`jaxbias.inputs.hypercube`).

    Returns:
      :class:`WalshSpectrum`: for each degree ``d`` the mean over ``|S| = d`` of
      ``chi_S^T K chi_S / 2^n`` (an exact eigenvalue when ``off_diagonal`` is 0), computed with a
      fast Walsh-Hadamard transform on both axes, ``O(4^n n)``.
    """
    k = _square("k", k).astype(np.float64)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != k.shape[0]:
        raise ValueError(f"x with shape {x.shape}: expected ({k.shape[0]}, n_bits) points of the hypercube")
    n_bits = x.shape[1]
    if x.shape[0] != 2**n_bits:
        raise ValueError(f"x with shape {x.shape}: expected all 2**{n_bits} = {2**n_bits} points of the cube")
    values = set(np.unique(x).tolist())
    if values <= {0.0, 1.0}:
        bits = x.astype(np.int64)
    elif values <= {-1.0, 1.0}:
        bits = ((x + 1) // 2).astype(np.int64)
    else:
        raise ValueError(f"x has values {sorted(values)[:5]}: expected {{0, 1}} or {{-1, +1}} coordinates")
    index = bits @ (1 << np.arange(n_bits - 1, -1, -1))
    if np.unique(index).size != index.size:
        raise ValueError("x: points repeat; expected every point of the cube once")
    order = np.empty_like(index)
    order[index] = np.arange(index.size)
    k = k[np.ix_(order, order)]  # rows in lexicographic order of the bits
    size = k.shape[0]
    walsh = _hadamard(_hadamard(k, 0), 1) / size  # (chi_S^T K chi_T) / 2^n
    diag = np.diagonal(walsh)
    degree_of = np.array([bin(s).count("1") for s in range(size)])
    degrees = np.arange(n_bits + 1)
    eig = np.array([diag[degree_of == d].mean() for d in degrees])
    spread = np.array([np.ptp(diag[degree_of == d]) for d in degrees])
    total = np.linalg.norm(walsh)
    off = np.linalg.norm(walsh - np.diag(diag)) / total if total > 0 else 0.0
    multiplicity = np.array([math.comb(n_bits, int(d)) for d in degrees])
    return WalshSpectrum(degrees, eig, multiplicity, spread, float(off))
