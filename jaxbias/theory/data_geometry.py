"""Geometry of a data set that the generalization-difficulty closed form reads: ``m``, ``delta`` and ``R``.

* :func:`intrinsic_dimension`: Levina & Bickel's (NIPS 2004) nearest-neighbour maximum likelihood.
  With ``T_j(x)`` the distance from ``x`` to its ``j``-th nearest neighbour, a point's estimate of
  ``1/m`` is ``s(x) = 1/(k-1) sum_{j<k} log(T_k(x) / T_j(x))`` (for locally uniform data the
  ``log(T_k/T_j)`` are exponential with mean ``1/m``). Averaged over points as MacKay & Ghahramani
  (2005) advise, ``m = 1 / mean_x s(x)`` (the default, and what Boopathy et al. 2023's code computes
  with ``k = 5``); ``average="levina-bickel"`` gives the original ``m = mean_x 1/s(x)``, biased upward
  by about ``(k-1)/(k-2)``. Uncertainty: a percentile bootstrap over points (fixed seed), which
  treats the points' ``s(x)`` as independent although neighbourhoods overlap.
* :func:`nearest_other_class` and :func:`class_separation`: ``delta``, the smallest distance between
  two points of different classes (exact), or a ``q``-quantile of each point's distance to the
  nearest point of another class (robust to a few mislabelled or duplicated points).
* :func:`data_radius`: ``R = max_i |x_i|``, the paper's choice ("the maximum norm of the training
  data points"), not centred; ``center=True`` measures from the mean instead.

Inputs ``x`` are ``(N, *feature_shape)`` arrays, flattened to ``(N, p)`` float64. Neighbours come from
``scipy.spatial.cKDTree`` for ``p <= 16`` and from chunked exact Euclidean distances otherwise (a k-d
tree visits nearly every leaf in high dimension); both are exact. Pure numpy/scipy.

>>> import numpy as np
>>> from jaxbias.theory.data_geometry import class_separation, data_radius
>>> x = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]]); y = np.array([0, 1, 1])
>>> class_separation(x, y), data_radius(x)
(1.0, 5.0)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from jaxbias.validation import check_confidence, check_float, check_int

__all__ = ["IntrinsicDimension", "intrinsic_dimension", "nearest_distances", "nearest_other_class",
           "class_separation", "data_radius", "AVERAGES"]

AVERAGES = ("mackay-ghahramani", "levina-bickel")
_TREE_MAX_DIM = 16
_CHUNK_BYTES = 1 << 27  # 128 MiB of squared distances per chunk


class IntrinsicDimension(NamedTuple):
    """A Levina-Bickel intrinsic-dimension estimate with its bootstrap uncertainty.

    Attributes:
      m: the estimate on all points used.
      se: bootstrap standard error.
      low, high: percentile bootstrap interval at ``level``.
      k: neighbours per point.
      n_used: points whose ``k`` neighbours were all at positive distance (exact duplicates are dropped).
      average: ``"mackay-ghahramani"`` or ``"levina-bickel"``.
      level: confidence level of ``[low, high]``.
    """

    m: float
    se: float
    low: float
    high: float
    k: int
    n_used: int
    average: str
    level: float


def _as_points(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim < 2 or a.shape[0] < 1 or math.prod(a.shape[1:]) < 1:
        raise ValueError(f"{name} has shape {a.shape}: expected (N, *feature_shape) with N >= 1 points")
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has {int(a.size - np.count_nonzero(np.isfinite(a)))} non-finite entries")
    return a


def _as_labels(x: np.ndarray, y: Any) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != x.shape[0]:
        raise ValueError(f"y has shape {labels.shape}: expected ({x.shape[0]},), one label per point of x")
    classes = np.unique(labels)
    if classes.size < 2:
        raise ValueError(f"y has {classes.size} class ({classes.tolist()}): expected at least 2 classes")
    return labels


def nearest_distances(queries: Any, points: Any, k: int) -> np.ndarray:
    """Distances from each query to its ``k`` nearest points, ascending: ``(Q, k)`` float64 (exact).

    A query that is itself among ``points`` finds itself at distance 0.
    """
    q = _as_points("queries", queries)
    p = _as_points("points", points)
    k = check_int("k", k, 1, p.shape[0])
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} features, points {p.shape[1]}: expected the same")
    if p.shape[1] <= _TREE_MAX_DIM:
        d, _ = cKDTree(p).query(q, k=k)
        return np.asarray(d, dtype=np.float64).reshape(q.shape[0], k)
    sq_p = np.einsum("ij,ij->i", p, p)
    rows = max(1, _CHUNK_BYTES // (8 * p.shape[0]))
    out = np.empty((q.shape[0], k))
    for start in range(0, q.shape[0], rows):
        qc = q[start:start + rows]
        d2 = np.einsum("ij,ij->i", qc, qc)[:, None] + sq_p[None, :] - 2.0 * (qc @ p.T)
        # Candidates from the expanded form, then exact distances for them (no cancellation error).
        kk = min(k + 2, p.shape[0])
        idx = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
        exact = np.linalg.norm(qc[:, None, :] - p[idx], axis=-1)
        out[start:start + rows] = np.sort(exact, axis=1)[:, :k]
    return out


def intrinsic_dimension(x: Any, *, k: int = 5, n_boot: int = 200, key: int = 0,
                        average: str = "mackay-ghahramani", confidence: float = 0.95,
                        n_queries: int | None = None) -> IntrinsicDimension:
    """Levina-Bickel maximum-likelihood intrinsic dimension of the points ``x``, with a bootstrap interval.

    Args:
      x: ``(N, *feature_shape)`` points; ``N >= k + 1``.
      k: neighbours per point (``>= 2``; Boopathy et al.'s code uses 5, Levina & Bickel 10-20).
      n_boot: bootstrap resamples of the points (``>= 2``).
      key: int seed of the bootstrap (and of the query subset).
      average: ``"mackay-ghahramani"`` (``1 / mean s(x)``) or ``"levina-bickel"`` (``mean 1/s(x)``).
      confidence: level of the percentile interval, in ``(0, 1)``.
      n_queries: estimate from this many points drawn without replacement (their neighbours searched
        among all ``N``), as the authors do with 10,000 on image data; ``None`` uses every point.

    Returns:
      :class:`IntrinsicDimension`.

    Raises:
      ValueError: naming the value, for ``k < 2``, fewer than ``k + 1`` points, an unknown ``average``,
        or data whose points all have duplicates.

    Example:
      >>> import numpy as np
      >>> t = np.random.default_rng(0).uniform(0, 2 * np.pi, 2000)
      >>> est = intrinsic_dimension(np.stack([np.cos(t), np.sin(t), 0 * t], 1), k=10, n_boot=50)
      >>> round(est.m, 1)
      1.0
    """
    pts = _as_points("x", x)
    k = check_int("k", k, 2)
    if pts.shape[0] < k + 1:
        raise ValueError(f"x has {pts.shape[0]} points: expected at least k + 1 = {k + 1} for k={k} neighbours")
    n_boot = check_int("n_boot", n_boot, 2)
    key = check_int("key", key, 0)
    level = check_confidence(confidence, "confidence")
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}: expected one of {AVERAGES}")
    rng = np.random.default_rng(key)
    queries = pts
    if n_queries is not None:
        n_queries = check_int("n_queries", n_queries, 1, pts.shape[0])
        queries = pts[np.sort(rng.choice(pts.shape[0], n_queries, replace=False))]
    t = nearest_distances(queries, pts, k + 1)[:, 1:]  # drop the point itself
    keep = t[:, 0] > 0
    if not np.any(keep):
        raise ValueError("x: every point has an exact duplicate; the nearest-neighbour estimator needs distinct points")
    logs = np.log(t[keep])
    s = np.mean(logs[:, -1:] - logs[:, :-1], axis=1)  # per-point estimate of 1/m, (n_used,)

    def aggregate(v: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return 1.0 / v.mean(axis=-1) if average == "mackay-ghahramani" else (1.0 / v).mean(axis=-1)

    m = float(aggregate(s))
    per_chunk = max(1, (1 << 24) // s.size)  # bootstrap resamples drawn together (16 M indices at most)
    boot = np.concatenate([aggregate(s[rng.integers(0, s.size, size=(min(per_chunk, n_boot - b), s.size))])
                           for b in range(0, n_boot, per_chunk)])
    alpha = 0.5 * (1.0 - level)
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return IntrinsicDimension(m=m, se=float(np.std(boot, ddof=1)), low=float(low), high=float(high), k=k,
                              n_used=int(s.size), average=average, level=level)


def nearest_other_class(x: Any, y: Any) -> np.ndarray:
    """``(N,)`` distance from each point to the nearest point with another label (exact, one search per class)."""
    pts = _as_points("x", x)
    labels = _as_labels(pts, y)
    out = np.empty(pts.shape[0])
    for c in np.unique(labels):
        inside = labels == c
        out[inside] = nearest_distances(pts[inside], pts[~inside], 1)[:, 0]
    return out


def class_separation(x: Any, y: Any, *, quantile: float | None = None) -> float:
    """``delta``: the smallest distance between points of different classes, or a robust quantile of it.

    Args:
      x: ``(N, *feature_shape)`` points.
      y: ``(N,)`` labels, at least two distinct.
      quantile: ``None`` for the exact minimum; ``q`` in ``[0, 1]`` for the ``q``-quantile of
        :func:`nearest_other_class` (``q = 0`` is the minimum).

    Returns:
      ``delta`` as a float (0 when two points with different labels coincide).
    """
    d = nearest_other_class(x, y)
    if quantile is None:
        return float(d.min())
    q = check_float("quantile", quantile, 0.0)
    if q > 1.0:
        raise ValueError(f"quantile={quantile!r}: expected a number in [0, 1]")
    return float(np.quantile(d, q))


def data_radius(x: Any, *, center: bool = False) -> float:
    """``R = max_i |x_i|`` (Euclidean norm of the flattened points); ``center=True`` subtracts their mean first."""
    pts = _as_points("x", x)
    if center:
        pts = pts - pts.mean(axis=0)
    return float(np.sqrt(np.max(np.einsum("ij,ij->i", pts, pts))))
