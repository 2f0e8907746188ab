"""Tests for jaxbias.inputs against independent references (numpy meshgrid, itertools, sklearn)."""

import hashlib
import itertools
import math
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbias import inputs

# One sample size for every random test: shapes repeat, so each sampler compiles few times.
N_SAMPLES = 4000

# ---------------------------------------------------------------- grid


@pytest.mark.parametrize("dim,resolution", [(1, 2), (1, 7), (2, 5), (3, 4)])
def test_grid_matches_meshgrid(dim, resolution):
    x = inputs.grid(dim, resolution, low=-2.0, high=3.0)
    chex.assert_shape(x, (resolution**dim, dim))
    chex.assert_type(x, jnp.float32)
    axis = np.linspace(-2.0, 3.0, resolution)
    mesh = np.meshgrid(*([axis] * dim), indexing="ij")
    for i in range(dim):
        chex.assert_trees_all_close(np.asarray(x)[:, i].reshape((resolution,) * dim), mesh[i], rtol=1e-6)


def test_grid_endpoints_and_ordering():
    x = np.asarray(inputs.grid(2, 3))
    assert x.min() == -1.0 and x.max() == 1.0
    chex.assert_trees_all_equal(x[0], np.asarray([-1.0, -1.0]))
    chex.assert_trees_all_equal(x[-1], np.asarray([1.0, 1.0]))
    # Last coordinate varies fastest.
    chex.assert_trees_all_equal(x[:3], np.asarray([[-1.0, -1.0], [-1.0, 0.0], [-1.0, 1.0]]))
    # A per-point function reshaped to (R, R) has axis i along coordinate i.
    values = x[:, 0] + 10.0 * x[:, 1]
    # Axis 0 moves coordinate 0 with coordinate 1 fixed at -1; axis 1 moves coordinate 1.
    chex.assert_trees_all_equal(values.reshape(3, 3)[:, 0], np.asarray([-11.0, -10.0, -9.0]))
    chex.assert_trees_all_equal(values.reshape(3, 3)[0, :], np.asarray([-11.0, -1.0, 9.0]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(dim=0, resolution=4), r"dim=0: expected an integer >= 1"),
        (dict(dim=2.0, resolution=4), r"dim=2.0: expected an integer >= 1"),
        (dict(dim=True, resolution=4), r"dim=True: expected an integer"),
        (dict(dim=2, resolution=1), r"resolution=1: expected an integer >= 2"),
        (dict(dim=2, resolution=4, low=1.0, high=1.0), r"low=1.0, high=1.0: expected low < high"),
        (dict(dim=2, resolution=4, low=float("nan")), r"low=nan: expected a finite real number"),
        (dict(dim=2, resolution=4, high=float("inf")), r"high=inf: expected a finite real number"),
        (dict(dim=27, resolution=2), r"dim=27, resolution=2: .*134217728 points.*2\*\*26"),
        (dict(dim=10**9, resolution=3), r"more than 2\*\*64"),
    ],
)
def test_grid_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inputs.grid(**kwargs)


# ---------------------------------------------------------------- sphere


@pytest.mark.parametrize("dim,radius", [(1, 1.0), (3, 1.0), (10, 2.5)])
def test_sphere_norms_and_mean(dim, radius):
    n = N_SAMPLES
    x = inputs.sphere(dim, n, key=3, radius=radius)
    chex.assert_shape(x, (n, dim))
    chex.assert_type(x, jnp.float32)
    chex.assert_trees_all_close(np.linalg.norm(np.asarray(x), axis=1), radius, rtol=1e-5)
    # Each coordinate has variance radius**2 / dim, so the mean has std radius / sqrt(dim n).
    tol = 5.0 * radius / math.sqrt(dim * n)
    assert np.all(np.abs(np.asarray(x).mean(axis=0)) < tol)
    # Second moment: E[x x^T] = radius**2 / dim * I.
    second = np.asarray(x).T @ np.asarray(x) / n
    tol = 5.0 * radius**2 / math.sqrt(n)
    chex.assert_trees_all_close(second, radius**2 / dim * np.eye(dim), rtol=1e-7, atol=tol)


def test_sphere_key_forms_agree():
    # Same shape as test_sphere_norms_and_mean, so nothing new is compiled.
    a = inputs.sphere(3, N_SAMPLES, key=7)
    b = inputs.sphere(3, N_SAMPLES, key=jax.random.key(7))
    c = inputs.sphere(3, N_SAMPLES, key=jax.random.PRNGKey(7))
    d = inputs.sphere(3, N_SAMPLES, key=np.int64(7))
    chex.assert_trees_all_equal(a, b)
    chex.assert_trees_all_equal(a, c)
    chex.assert_trees_all_equal(a, d)
    assert not np.array_equal(a, inputs.sphere(3, N_SAMPLES, key=8))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(dim=0, n=4), r"dim=0: expected an integer >= 1"),
        (dict(dim=3, n=0), r"n=0: expected an integer >= 1"),
        (dict(dim=3, n=4, radius=0.0), r"radius=0.0: expected a positive number"),
        (dict(dim=3, n=4, radius=float("nan")), r"radius=nan: expected a finite real number"),
        (dict(dim=3, n=4, key="seed"), r"key='seed': expected an integer seed"),
        (dict(dim=3, n=4, key=True), r"key=True: expected an integer seed"),
        (dict(dim=3, n=4, key=jax.random.wrap_key_data(np.zeros((2, 2), np.uint32))), r"key with shape \(2,\)"),
    ],
)
def test_sphere_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inputs.sphere(**kwargs)


# ---------------------------------------------------------------- hypercube


@pytest.mark.parametrize("n_bits", [1, 2, 3, 4, 5])
def test_hypercube_enumeration(n_bits):
    x = inputs.hypercube(n_bits)
    chex.assert_shape(x, (2**n_bits, n_bits))
    chex.assert_type(x, jnp.float32)
    expected = np.array(list(itertools.product((0, 1), repeat=n_bits)), dtype=np.float32)
    chex.assert_trees_all_equal(x, expected)
    pm = inputs.hypercube(n_bits, values="pm1")
    chex.assert_trees_all_equal(pm, 2.0 * expected - 1.0)


def test_hypercube_row_is_binary_expansion():
    x = np.asarray(inputs.hypercube(6)).astype(int)
    weights = 2 ** np.arange(5, -1, -1)
    chex.assert_trees_all_equal(x @ weights, np.arange(64))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_bits=0), r"n_bits=0: expected an integer in \[1, 20\].*2\*\*n_bits"),
        (dict(n_bits=21), r"n_bits=21: expected an integer in \[1, 20\].*2\*\*n_bits"),
        (dict(n_bits=3.0), r"n_bits=3.0: expected an integer"),
        (dict(n_bits=3, values="+-1"), r"values='\+-1': expected '01' or 'pm1'"),
    ],
)
def test_hypercube_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inputs.hypercube(**kwargs)


# ---------------------------------------------------------------- gaussian blobs


def _check_blob_moments(x, labels, means, covs, n):
    x = np.asarray(x, dtype=np.float64)
    k, d = means.shape
    chex.assert_trees_all_equal(labels, np.repeat(np.arange(k), n))
    chex.assert_type(labels, np.int32)
    for c in range(k):
        xc = x[labels == c]
        scale = np.sqrt(np.diag(covs[c]))
        # Sample mean has std sqrt(var / n); sample covariance entries have std <= sqrt(2) var / sqrt(n).
        np.testing.assert_array_less(np.abs(xc.mean(axis=0) - means[c]), 5.0 * scale / math.sqrt(n) + 1e-6)
        emp = np.cov(xc, rowvar=False).reshape(d, d)
        tol = 5.0 * math.sqrt(2.0) * np.outer(scale, scale) / math.sqrt(n) + 1e-6
        np.testing.assert_array_less(np.abs(emp - covs[c]), tol)


MEANS = np.array([[1.0, 1.0], [-1.0, 0.0], [0.0, 3.0]])  # k = 3 classes in d = 2


def test_blobs_identity_default():
    n = N_SAMPLES
    x, labels = inputs.gaussian_blobs(n, MEANS, key=0)
    chex.assert_shape(x, (3 * n, 2))
    chex.assert_type(x, jnp.float32)
    _check_blob_moments(x, labels, MEANS, np.stack([np.eye(2)] * 3), n)


@pytest.mark.parametrize(
    "covs,expected",
    [
        (0.25, np.stack([0.25 * np.eye(2)] * 3)),
        (np.array([0.5, 1.0, 4.0]), np.stack([v * np.eye(2) for v in (0.5, 1.0, 4.0)])),
        (np.array([[2.0, 0.6], [0.6, 1.0]]), np.stack([[[2.0, 0.6], [0.6, 1.0]]] * 3)),
        (
            np.array([[[1.0, 0.9], [0.9, 1.0]], [[3.0, -1.0], [-1.0, 2.0]], [[0.1, 0.0], [0.0, 5.0]]]),
            None,
        ),
    ],
)
def test_blobs_covariance_forms(covs, expected):
    n = N_SAMPLES
    x, labels = inputs.gaussian_blobs(n, MEANS, covs=covs, key=jax.random.key(11))
    _check_blob_moments(x, labels, MEANS, covs if expected is None else expected, n)


def test_blobs_degenerate_psd_covariance():
    cov = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank 1: x - mean lies on the diagonal
    x, labels = inputs.gaussian_blobs(N_SAMPLES, MEANS, covs=cov, key=2)
    centred = np.asarray(x) - MEANS[labels]
    chex.assert_trees_all_close(centred[:, 0], centred[:, 1], rtol=1e-7, atol=1e-5)
    x0, labels = inputs.gaussian_blobs(N_SAMPLES, MEANS, covs=0.0, key=2)
    chex.assert_trees_all_equal(x0, MEANS[labels].astype(np.float32))


def test_blobs_int_means_and_keys():
    x, labels = inputs.gaussian_blobs(N_SAMPLES, 3, dim=2, key=1)
    chex.assert_shape(x, (3 * N_SAMPLES, 2))
    chex.assert_trees_all_equal(labels, np.repeat([0, 1, 2], N_SAMPLES))
    y, _ = inputs.gaussian_blobs(N_SAMPLES, np.zeros((3, 2)), key=jax.random.PRNGKey(1))
    chex.assert_trees_all_equal(x, y)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_per_class=0, means=[[0.0]]), r"n_per_class=0: expected an integer >= 1"),
        (dict(n_per_class=2, means=[0.0, 1.0]), r"means with shape \(2,\): expected shape \(k, d\)"),
        (dict(n_per_class=2, means=[[0.0, float("nan")]]), r"means=.*expected finite values"),
        (dict(n_per_class=2, means=3), r"means=3, dim=None: .*dim is required"),
        (dict(n_per_class=2, means=0, dim=2), r"means=0: expected an integer >= 1"),
        (dict(n_per_class=2, means=[[0.0, 1.0]], dim=3), r"dim=3: does not match means"),
        (dict(n_per_class=2, means=[[0.0, 1.0]], covs=-1.0), r"covs=-1.0: isotropic variances must be >= 0"),
        (dict(n_per_class=2, means=[[0.0, 1.0]], covs=[1.0, 2.0]), r"covs with shape \(2,\): expected"),
        (dict(n_per_class=2, means=[[0.0, 1.0]], covs=np.eye(3)), r"covs with shape \(3, 3\): expected"),
        (dict(n_per_class=2, means=[[0.0, 1.0]], covs=[[1.0, 0.5], [0.0, 1.0]]), r"class 0 is not symmetric"),
        (
            dict(n_per_class=2, means=[[0.0, 1.0]], covs=[[1.0, 2.0], [2.0, 1.0]]),
            r"class 0 is not positive semidefinite",
        ),
        (dict(n_per_class=2, means=[[0.0, 1.0]], covs="big"), r"covs='big': expected None"),
    ],
)
def test_blobs_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inputs.gaussian_blobs(**kwargs)


# ---------------------------------------------------------------- digits


# The shipped file's arrays (pixels then labels, as uint8 bytes), as scripts/make_digits_data.py
# printed them from scikit-learn 1.9.1's load_digits(): a changed file fails here, sklearn or not.
DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


@pytest.fixture(scope="module")
def digits_ref():
    """The shipped digits read straight from the file: ``(1797, 64)`` float64 pixels, ``(1797,)`` int64 labels."""
    with np.load(pathlib.Path(inputs.__file__).parent / "data" / "digits.npz") as data:
        pixels, labels = data["pixels"], data["labels"]
    return pixels.astype(np.float64), labels.astype(np.int64)


def test_digits_file_is_the_uci_test_set():
    with np.load(pathlib.Path(inputs.__file__).parent / "data" / "digits.npz") as data:
        assert sorted(data.files) == ["labels", "pixels"]
        pixels, labels = data["pixels"], data["labels"]
    chex.assert_shape([pixels, labels], [(1797, 64), (1797,)])
    chex.assert_type([pixels, labels], np.uint8)
    assert hashlib.sha256(pixels.tobytes() + labels.tobytes()).hexdigest() == DIGITS_SHA256
    assert pixels.max() == 16 and labels.max() == 9
    # Class sizes of the UCI optdigits test set (optdigits.tes).
    chex.assert_trees_all_equal(np.bincount(labels), np.array([178, 182, 177, 183, 181, 182, 181, 179, 174, 180]))


def test_digits_match_sklearn_load_digits(digits_ref):
    """The shipped data are load_digits() exactly: same values, dtypes and order (skipped without sklearn)."""
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    chex.assert_trees_all_equal(digits_ref, (ref.data, ref.target), strict=True)
    raw, labels = inputs.digits(standardize=False)
    chex.assert_trees_all_equal(raw, ref.data.astype(np.float32), strict=True)
    chex.assert_trees_all_equal(labels, ref.target.astype(np.int32), strict=True)
    x, _ = inputs.digits()
    mean, std = ref.data.mean(axis=0), ref.data.std(axis=0)
    expected = np.where(std > 0, (ref.data - mean) / np.where(std > 0, std, 1.0), 0.0).astype(np.float32)
    chex.assert_trees_all_equal(x, expected, strict=True)


def test_digits_all_standardized(digits_ref):
    data, target = digits_ref
    x, labels = inputs.digits()
    chex.assert_shape(x, (1797, 64))
    chex.assert_type(x, jnp.float32)
    chex.assert_trees_all_equal(labels, target)
    chex.assert_type(labels, np.int32)
    x = np.asarray(x, dtype=np.float64)
    assert not np.any(np.isnan(x))
    chex.assert_trees_all_close(x.mean(axis=0), 0.0, atol=1e-5)
    std = x.std(axis=0)
    constant = data.std(axis=0) == 0
    assert constant.any()  # e.g. the top-left corner pixel
    chex.assert_trees_all_close(std[~constant], 1.0, rtol=1e-7, atol=1e-5)
    chex.assert_trees_all_equal(x[:, constant], 0.0)


def test_digits_classes_subset_and_order(digits_ref):
    data, target = digits_ref
    expected_n = int(np.isin(target, (0, 1)).sum())
    assert expected_n == 360
    x, labels = inputs.digits(classes=(0, 1))
    chex.assert_shape(x, (expected_n, 64))
    chex.assert_trees_all_equal(labels, target[np.isin(target, (0, 1))])
    x = np.asarray(x, dtype=np.float64)
    chex.assert_trees_all_close(x.mean(axis=0), 0.0, atol=1e-5)
    assert set(np.round(x.std(axis=0), 4)) <= {0.0, 1.0}
    # Labels follow the order given: (7, 3) maps 7 -> 0 and 3 -> 1.
    raw, relabelled = inputs.digits(classes=(7, 3), standardize=False)
    keep = np.isin(target, (7, 3))
    chex.assert_trees_all_equal(relabelled, np.where(target[keep] == 7, 0, 1))
    chex.assert_trees_all_equal(raw, data[keep].astype(np.float32))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(classes=()), r"classes=\(\): expected at least one digit"),
        (dict(classes=(0, 10)), r"classes=\(0, 10\): expected digits 0..9, got 10"),
        (dict(classes=(1, 1)), r"classes=\(1, 1\): expected distinct digits"),
        (dict(classes="01"), r"classes='01': expected None or a sequence"),
        (dict(classes=3), r"classes=3: expected None or a sequence"),
        (dict(standardize="yes"), r"standardize='yes': expected True or False"),
    ],
)
def test_digits_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inputs.digits(**kwargs)


# ---------------------------------------------------------------- parse_inputs


def test_parse_grid():
    x, meta = inputs.parse_inputs("grid:2:8")
    chex.assert_trees_all_equal(x, inputs.grid(2, 8))
    assert meta == {"kind": "grid", "dim": 2, "resolution": 8, "low": -1.0, "high": 1.0, "grid_shape": (8, 8)}


def test_parse_sphere():
    x, meta = inputs.parse_inputs(f"sphere:3:{N_SAMPLES}", key=5)
    chex.assert_trees_all_equal(x, inputs.sphere(3, N_SAMPLES, key=5))
    assert meta == {"kind": "sphere", "dim": 3, "n": N_SAMPLES, "radius": 1.0}


@pytest.mark.parametrize("spec,values", [("hypercube:4", "01"), ("hypercube:4:pm1", "pm1"), ("hypercube:4:01", "01")])
def test_parse_hypercube(spec, values):
    x, meta = inputs.parse_inputs(spec)
    chex.assert_trees_all_equal(x, inputs.hypercube(4, values=values))
    assert meta == {"kind": "hypercube", "n_bits": 4, "values": values}


@pytest.mark.parametrize("spec,classes", [("digits", None), ("digits:0,1", (0, 1))])
def test_parse_digits(spec, classes):
    x, meta = inputs.parse_inputs(spec)
    x_ref, labels_ref = inputs.digits(classes=classes)
    chex.assert_trees_all_equal(x, x_ref)
    chex.assert_trees_all_equal(meta.pop("labels"), labels_ref)
    assert meta == {"kind": "digits", "classes": classes, "standardize": True}


def test_parse_blobs():
    x, meta = inputs.parse_inputs(f"blobs:3:2:{N_SAMPLES}", key=2)
    x_ref, labels_ref = inputs.gaussian_blobs(N_SAMPLES, 3, dim=2, key=2)
    chex.assert_shape(x, (3 * N_SAMPLES, 2))
    chex.assert_trees_all_equal(x, x_ref)
    chex.assert_trees_all_equal(meta.pop("labels"), labels_ref)
    assert meta == {"kind": "blobs", "n_classes": 3, "dim": 2, "n_per_class": N_SAMPLES}


@pytest.mark.parametrize(
    "spec,match",
    [
        ("", r"spec='': unknown input spec"),
        ("cube:3", r"spec='cube:3': unknown input spec \(unknown kind 'cube'\)"),
        ("grid:2", r"spec='grid:2': .*takes 2 integer field"),
        ("grid:2:x", r"spec='grid:2:x': .*must be integers"),
        ("grid:2:1", r"spec='grid:2:1': resolution=1: expected an integer >= 2"),
        ("sphere:3:0", r"spec='sphere:3:0': n=0"),
        ("hypercube:4:pm2", r"spec='hypercube:4:pm2': .*'01' or 'pm1'"),
        ("hypercube:25", r"spec='hypercube:25': n_bits=25"),
        ("digits:0,a", r"spec='digits:0,a': .*comma-separated integers"),
        ("digits:0:1", r"spec='digits:0:1': .*at most one field"),
        ("blobs:2:3", r"spec='blobs:2:3': .*takes 3 integer field"),
        (42, r"spec=42: expected a string"),
    ],
)
def test_parse_errors(spec, match):
    with pytest.raises(ValueError, match=match) as info:
        inputs.parse_inputs(spec)
    assert "grid:D:R" in str(info.value) and "blobs:K:D:N" in str(info.value)
