"""Input sets on which random networks are evaluated.

Every function returns the points ``x`` as a float32 ``jax.Array`` of shape ``(n_points, dim)``;
labelled sets also return their labels as an int32 numpy array of shape ``(n_points,)``. All
inputs are built outside ``jit`` from plain Python arguments, so they are validated with Python
exceptions before any compiled code runs (STYLE.md habit 8).

* :func:`grid`: a regular grid on ``[low, high]^dim`` (spectral and polynomial measures).
* :func:`sphere`: points uniform on the sphere ``S^(dim-1)`` (dot-product kernels).
* :func:`hypercube`: every point of ``{0, 1}^n`` or ``{-1, +1}^n`` (Boolean measures).
* :func:`gaussian_blobs`: Gaussian classes with chosen means and covariances (IGB).
* :func:`digits`: the UCI 8x8 handwritten digits (scikit-learn's ``load_digits``), shipped with
  the package.
* :func:`parse_inputs`: the same sets from a short string, for the CLI.

>>> from jaxbias import inputs
>>> inputs.grid(dim=2, resolution=3).shape
(9, 2)
>>> inputs.hypercube(2, values="pm1").tolist()
[[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange

from jaxbias.caches import bounded_cache
from jaxbias.keys import as_key
from jaxbias.validation import check_int

__all__ = ["grid", "sphere", "hypercube", "gaussian_blobs", "digits", "parse_inputs", "MAX_GRID_POINTS"]

MAX_GRID_POINTS = 2**26
"""Largest grid :func:`grid` builds (2**26 points, 256 MiB per coordinate in float32)."""

MAX_HYPERCUBE_BITS = 20
"""Largest hypercube :func:`hypercube` enumerates (2**20 points)."""

_SPEC_FORMS = (
    "'grid:D:R' (e.g. 'grid:2:64'), 'sphere:D:N', 'hypercube:N', 'hypercube:N:pm1', "
    "'digits', 'digits:0,1', 'blobs:K:D:N'"
)


def _check_float(name: str, value: Any) -> float:
    """Returns ``value`` as a finite float, or raises ValueError naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected a finite real number") from None
    if isinstance(value, (bool, np.bool_)) or not math.isfinite(out):
        raise ValueError(f"{name}={value!r}: expected a finite real number")
    return out


def grid(dim: int, resolution: int, low: float = -1.0, high: float = 1.0) -> jax.Array:
    """A regular grid on the cube ``[low, high]^dim``, endpoints included.

    Points are ordered as ``numpy.meshgrid(..., indexing="ij")`` flattened in C order: the last
    coordinate varies fastest, so ``values.reshape((resolution,) * dim)`` (for per-point
    ``values`` of shape ``(resolution**dim,)``) has axis ``i`` along coordinate ``i``, ready for
    an FFT.

    Args:
      dim: number of coordinates (>= 1).
      resolution: points per coordinate (>= 2), spaced as ``numpy.linspace(low, high, resolution)``.
      low: first coordinate value.
      high: last coordinate value (> low).

    Returns:
      ``(resolution**dim, dim)`` float32 array.

    Raises:
      ValueError: on a bad argument, or a grid of more than ``MAX_GRID_POINTS`` points.

    Example:
      >>> grid(dim=2, resolution=2).tolist()
      [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
    """
    dim = check_int("dim", dim, 1)
    resolution = check_int("resolution", resolution, 2)
    low = _check_float("low", low)
    high = _check_float("high", high)
    if not low < high:
        raise ValueError(f"low={low!r}, high={high!r}: expected low < high")
    # Compare in log space first so that a huge dim does not build a huge Python int.
    too_big = dim * math.log2(resolution) > 64
    n_points = "more than 2**64" if too_big else resolution**dim
    if too_big or n_points > MAX_GRID_POINTS:
        raise ValueError(
            f"dim={dim}, resolution={resolution}: the grid would have resolution**dim = {n_points} points, "
            f"more than the limit of 2**26 = {MAX_GRID_POINTS}; lower the resolution or the dimension"
        )
    axis = np.linspace(low, high, resolution, dtype=np.float64).astype(np.float32)
    mesh = np.meshgrid(*([axis] * dim), indexing="ij")
    # One row per grid point in C order (last coordinate fastest), one column per coordinate.
    return jnp.asarray(rearrange(np.stack(mesh), "dim ... -> (...) dim"), dtype=jnp.float32)


def sphere(dim: int, n: int, key: Any = 0, radius: float = 1.0) -> jax.Array:
    """Points uniform on the sphere ``S^(dim-1)`` of radius ``radius`` in ``R^dim``.

    Drawn as normalized standard Gaussian vectors, whose direction is uniform by rotation
    invariance (Muller 1959).

    Args:
      dim: ambient dimension (>= 1; dim = 1 gives the two points +-radius).
      n: number of points (>= 1).
      key: integer seed or jax PRNG key (typed or legacy).
      radius: sphere radius (> 0).

    Returns:
      ``(n, dim)`` float32 array whose rows have norm ``radius``.

    Example:
      >>> import jax.numpy as jnp
      >>> x = sphere(dim=3, n=5, key=0)
      >>> bool(jnp.allclose(jnp.linalg.norm(x, axis=1), 1.0))
      True
    """
    dim = check_int("dim", dim, 1)
    n = check_int("n", n, 1)
    radius = _check_float("radius", radius)
    if radius <= 0:
        raise ValueError(f"radius={radius!r}: expected a positive number")
    return _sphere_sample(as_key(key), n, dim, jnp.float32(radius))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sphere_sample(key: jax.Array, n: int, dim: int, radius: jax.Array) -> jax.Array:
    # One compiled program per shape instead of one per eager op.
    z = jax.random.normal(key, (n, dim), dtype=jnp.float32)
    norm = jnp.linalg.norm(z, axis=1, keepdims=True)
    # A Gaussian vector of exact norm 0 has probability 0 but is not impossible in float32.
    norm = jnp.where(norm > 0, norm, jnp.float32(1.0))
    return (z / norm) * radius


def hypercube(n_bits: int, values: str = "01") -> jax.Array:
    """Every point of the Boolean hypercube, in lexicographic order.

    Row ``i`` is the binary expansion of ``i`` with the most significant bit in column 0, as
    ``itertools.product((0, 1), repeat=n_bits)`` enumerates it.

    Args:
      n_bits: number of bits, 1 to 20 (the cube has ``2**n_bits`` points).
      values: ``"01"`` for {0, 1} coordinates or ``"pm1"`` for {-1, +1} (0 -> -1, 1 -> +1),
        the convention of Fourier analysis on the cube (O'Donnell 2014). The default stays
        ``"01"``, the coding of the Boolean-prior experiment (Valle-Perez et al., ICLR 2019) and
        of the truth-table measures; use ``"pm1"`` for kernel spectra, where every point has the
        same norm and an MLP kernel is diagonal in the Walsh basis
        (:func:`jaxbias.kernels.walsh_spectrum`).

    Returns:
      ``(2**n_bits, n_bits)`` float32 array.

    Example:
      >>> hypercube(2).tolist()
      [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    if isinstance(n_bits, (bool, np.bool_)) or not hasattr(n_bits, "__index__") or not (
        1 <= int(n_bits) <= MAX_HYPERCUBE_BITS
    ):
        raise ValueError(
            f"n_bits={n_bits!r}: expected an integer in [1, {MAX_HYPERCUBE_BITS}] "
            f"(the hypercube has 2**n_bits points; at most 2**{MAX_HYPERCUBE_BITS})"
        )
    n_bits = int(n_bits)
    if values not in ("01", "pm1"):
        raise ValueError(f"values={values!r}: expected '01' or 'pm1'")
    index = np.arange(2**n_bits, dtype=np.int64)
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
    bits = ((index[:, None] >> shifts[None, :]) & 1).astype(np.float32)
    if values == "pm1":
        bits = 2.0 * bits - 1.0
    return jnp.asarray(bits, dtype=jnp.float32)


def _cov_factors(covs: Any, k: int, d: int) -> np.ndarray:
    """Returns ``(k, d, d)`` float64 factors ``L`` with ``L @ L.T == cov`` for each class."""
    if covs is None:
        return np.broadcast_to(np.eye(d), (k, d, d)).copy()
    try:
        c = np.asarray(covs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"covs={covs!r}: expected None, a number, or an array of variances/covariances") from None
    shape_msg = (
        f"covs with shape {c.shape}: expected (), ({k},), ({d}, {d}) or ({k}, {d}, {d}) "
        f"for k={k} classes in d={d}"
    )
    if not np.all(np.isfinite(c)):
        raise ValueError(f"covs={covs!r}: expected finite values")
    if c.ndim <= 1:
        if c.ndim == 1 and c.shape != (k,):
            raise ValueError(shape_msg)
        variances = np.broadcast_to(c, (k,))
        if np.any(variances < 0):
            raise ValueError(f"covs={covs!r}: isotropic variances must be >= 0")
        return np.sqrt(variances)[:, None, None] * np.eye(d)[None, :, :]
    if c.ndim == 2:
        if c.shape != (d, d):
            raise ValueError(shape_msg)
        c = np.broadcast_to(c, (k, d, d))
    elif c.ndim != 3 or c.shape != (k, d, d):
        raise ValueError(shape_msg)
    factors = np.empty((k, d, d), dtype=np.float64)
    for i in range(k):
        ci = c[i]
        scale = max(float(np.max(np.abs(ci))), 1e-300)
        if not np.allclose(ci, ci.T, rtol=0.0, atol=1e-10 * scale):
            raise ValueError(f"covs: covariance of class {i} is not symmetric")
        ci = 0.5 * (ci + ci.T)
        try:
            factors[i] = np.linalg.cholesky(ci)
        except np.linalg.LinAlgError:
            # Not positive definite: accept it if it is positive semidefinite (a degenerate
            # Gaussian) and factor it through its eigendecomposition instead.
            w, v = np.linalg.eigh(ci)
            if w[0] < -1e-10 * scale:
                raise ValueError(
                    f"covs: covariance of class {i} is not positive semidefinite "
                    f"(Cholesky failed, smallest eigenvalue {w[0]:.3g})"
                ) from None
            factors[i] = v * np.sqrt(np.clip(w, 0.0, None))[None, :]
    return factors


def gaussian_blobs(
    n_per_class: int,
    means: Any,
    covs: Any = None,
    key: Any = 0,
    dim: int | None = None,
) -> tuple[jax.Array, np.ndarray]:
    """Gaussian classes: ``n_per_class`` points from ``N(means[c], covs[c])`` for each class ``c``.

    Args:
      n_per_class: points per class (>= 1).
      means: ``(k, d)`` class means, or an int ``k`` for ``k`` classes with mean zero in
        dimension ``dim`` (pure-noise classes).
      covs: ``None`` (identity), a number (isotropic variance shared by all classes), ``(k,)``
        isotropic variances per class, a ``(d, d)`` covariance shared by all classes, or
        ``(k, d, d)`` covariances per class. Matrices must be symmetric positive semidefinite.
      key: integer seed or jax PRNG key (typed or legacy).
      dim: dimension when ``means`` is an int (required then); otherwise, if given, it must
        equal ``d``.

    Returns:
      ``x``: ``(k * n_per_class, d)`` float32 points grouped by class, class 0 first.
      ``labels``: ``(k * n_per_class,)`` int32 numpy array of class indices ``0..k-1``.

    Example:
      >>> x, y = gaussian_blobs(10, means=[[0.0, 0.0], [3.0, 0.0]], covs=0.5, key=1)
      >>> x.shape, y.tolist()[8:12]
      ((20, 2), [0, 0, 1, 1])
    """
    n_per_class = check_int("n_per_class", n_per_class, 1)
    if isinstance(means, (int, np.integer)) and not isinstance(means, (bool, np.bool_)):
        k = check_int("means", means, 1)
        if dim is None:
            raise ValueError(f"means={means!r}, dim=None: with an integer number of classes, dim is required")
        d = check_int("dim", dim, 1)
        mu = np.zeros((k, d), dtype=np.float64)
    else:
        try:
            mu = np.asarray(means, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"means={means!r}: expected an array of shape (k, d) or an integer k") from None
        if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
            raise ValueError(f"means with shape {mu.shape}: expected shape (k, d) with k, d >= 1")
        if not np.all(np.isfinite(mu)):
            raise ValueError(f"means={means!r}: expected finite values")
        k, d = mu.shape
        if dim is not None and check_int("dim", dim, 1) != d:
            raise ValueError(f"dim={dim!r}: does not match means of shape {mu.shape} (expected dim={d})")
    factors = _cov_factors(covs, k, d)
    x = _blobs_sample(
        as_key(key), n_per_class, jnp.asarray(mu, dtype=jnp.float32), jnp.asarray(factors, dtype=jnp.float32)
    )
    labels = np.repeat(np.arange(k, dtype=np.int32), n_per_class)
    return x, labels


@functools.partial(jax.jit, static_argnums=1)
def _blobs_sample(key: jax.Array, n_per_class: int, mu: jax.Array, factors: jax.Array) -> jax.Array:
    """``(k * n_per_class, d)`` samples from ``mu (k, d)`` and factors ``L (k, d, d)``."""
    k, d = mu.shape
    z = jax.random.normal(key, (k, n_per_class, d), dtype=jnp.float32)
    # Row form of x = mu + L z: x[c, n, :] = mu[c] + z[c, n, :] @ L[c].T.
    x = mu[:, None, :] + jnp.einsum("kne,kde->knd", z, factors)
    return rearrange(x, "k n d -> (k n) d")  # grouped by class, class 0 first


@bounded_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The shipped digits as ``load_digits()`` returns them: ``(1797, 64)`` float64, ``(1797,)`` int64."""
    with resources.files("jaxbias").joinpath("data", "digits.npz").open("rb") as f, np.load(f) as data:
        x = data["pixels"].astype(np.float64)
        y = data["labels"].astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def digits(classes: Sequence[int] | None = None, standardize: bool = True) -> tuple[jax.Array, np.ndarray]:
    """The UCI 8x8 handwritten digits (1797 images, 64 pixel features with values 0..16).

    The test set of the UCI "Optical Recognition of Handwritten Digits" data (Alpaydin & Kaynak
    1998, CC BY 4.0), the same arrays in the same order as ``sklearn.datasets.load_digits``. The
    data ship inside jaxbias (``jaxbias/data/digits.npz``, read with numpy), so this works offline
    and without scikit-learn.

    Args:
      classes: ``None`` for all ten digits, or the digits to keep, e.g. ``(0, 1)``. Labels are
        remapped to ``0..len(classes)-1`` in the order given; samples keep the data set's order.
      standardize: scale each pixel to zero mean and unit variance over the kept samples.
        Pixels that are constant over them (e.g. corners) become 0.

    Returns:
      ``x``: ``(n, 64)`` float32 pixels (n = 1797 for all classes, 360 for ``(0, 1)``).
      ``labels``: ``(n,)`` int32 numpy array.

    Example:
      >>> x, y = digits(classes=(0, 1))
      >>> x.shape, sorted(set(y.tolist()))
      ((360, 64), [0, 1])
    """
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(f"standardize={standardize!r}: expected True or False")
    data, target = _load_digits()
    if classes is None:
        keep = tuple(range(10))
    else:
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
            raise ValueError(f"classes={classes!r}: expected None or a sequence of digits 0..9")
        keep = tuple(classes)
        if not keep:
            raise ValueError(f"classes={classes!r}: expected at least one digit")
        for c in keep:
            if isinstance(c, (bool, np.bool_)) or not hasattr(c, "__index__") or not 0 <= int(c) <= 9:
                raise ValueError(f"classes={classes!r}: expected digits 0..9, got {c!r}")
        keep = tuple(int(c) for c in keep)
        if len(set(keep)) != len(keep):
            raise ValueError(f"classes={classes!r}: expected distinct digits")
    remap = np.full(10, -1, dtype=np.int32)
    remap[list(keep)] = np.arange(len(keep), dtype=np.int32)
    labels = remap[target]
    mask = labels >= 0
    x = data[mask]
    labels = labels[mask]
    if standardize:
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        safe = np.where(std > 0, std, 1.0)
        x = np.where(std[None, :] > 0, (x - mean[None, :]) / safe[None, :], 0.0)
    return jnp.asarray(x, dtype=jnp.float32), labels.astype(np.int32)


def _spec_error(spec: str, why: str = "") -> ValueError:
    detail = f" ({why})" if why else ""
    return ValueError(f"spec={spec!r}: unknown input spec{detail}; expected one of {_SPEC_FORMS}")


def parse_inputs(spec: str, key: Any = 0) -> tuple[jax.Array, dict]:
    """Builds an input set from a short string, as the CLI accepts it.

    Accepted forms:

    * ``"grid:D:R"``: :func:`grid` with ``dim=D``, ``resolution=R`` on ``[-1, 1]^D``.
    * ``"sphere:D:N"``: :func:`sphere` with ``N`` points in ``R^D``.
    * ``"hypercube:N"`` or ``"hypercube:N:pm1"`` (also ``"hypercube:N:01"``): :func:`hypercube`.
    * ``"digits"`` or ``"digits:0,1"``: :func:`digits`, all classes or the listed ones.
    * ``"blobs:K:D:N"``: :func:`gaussian_blobs` with ``K`` zero-mean, identity-covariance
      classes of ``N`` points in ``R^D`` (pure-noise labels).

    Args:
      spec: the input spec.
      key: integer seed or jax PRNG key for the random sets (sphere, blobs).

    Returns:
      ``x``: ``(n_points, dim)`` float32 array.
      ``meta``: dict with ``"kind"`` and the parameters; ``"grid_shape"`` ``(R,) * D`` for
      grids; ``"labels"`` (numpy int32, ``(n_points,)``) for labelled sets.

    Raises:
      ValueError: naming the spec and listing the accepted forms.

    Example:
      >>> x, meta = parse_inputs("grid:2:4")
      >>> x.shape, meta["grid_shape"]
      ((16, 2), (4, 4))
    """
    if not isinstance(spec, str):
        raise ValueError(f"spec={spec!r}: expected a string; accepted forms: {_SPEC_FORMS}")
    parts = [p.strip() for p in spec.strip().split(":")]
    kind, args = parts[0].lower(), parts[1:]

    def ints(n_expected: int) -> list[int]:
        if len(args) != n_expected:
            raise _spec_error(spec, f"'{kind}' takes {n_expected} integer field(s), got {len(args)}")
        try:
            return [int(a) for a in args]
        except ValueError:
            raise _spec_error(spec, f"'{kind}' fields must be integers") from None

    try:
        if kind == "grid":
            dim, resolution = ints(2)
            x = grid(dim, resolution)
            meta = {
                "kind": "grid",
                "dim": dim,
                "resolution": resolution,
                "low": -1.0,
                "high": 1.0,
                "grid_shape": (resolution,) * dim,
            }
        elif kind == "sphere":
            dim, n = ints(2)
            x = sphere(dim, n, key=key)
            meta = {"kind": "sphere", "dim": dim, "n": n, "radius": 1.0}
        elif kind == "hypercube":
            values = "01"
            if len(args) == 2:
                values = args.pop().lower()
                if values not in ("01", "pm1"):
                    raise _spec_error(spec, f"hypercube values {values!r} must be '01' or 'pm1'")
            (n_bits,) = ints(1)
            x = hypercube(n_bits, values=values)
            meta = {"kind": "hypercube", "n_bits": n_bits, "values": values}
        elif kind == "digits":
            if len(args) > 1:
                raise _spec_error(spec, "'digits' takes at most one field, a comma-separated class list")
            classes = None
            if args:
                try:
                    classes = tuple(int(c) for c in args[0].split(","))
                except ValueError:
                    raise _spec_error(spec, "digit classes must be comma-separated integers") from None
            x, labels = digits(classes=classes)
            meta = {"kind": "digits", "classes": classes, "standardize": True, "labels": labels}
        elif kind == "blobs":
            n_classes, dim, n_per_class = ints(3)
            x, labels = gaussian_blobs(n_per_class, n_classes, key=key, dim=dim)
            meta = {
                "kind": "blobs",
                "n_classes": n_classes,
                "dim": dim,
                "n_per_class": n_per_class,
                "labels": labels,
            }
        else:
            raise _spec_error(spec, f"unknown kind {kind!r}")
    except ValueError as err:
        if str(err).startswith(f"spec={spec!r}"):
            raise
        raise ValueError(f"spec={spec!r}: {err}; accepted forms: {_SPEC_FORMS}") from err
    return x, meta
