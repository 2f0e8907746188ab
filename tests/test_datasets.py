"""jaxbias.datasets: the Dataset value, loaders of tiny generated files, synthetic tasks, every error path."""

from __future__ import annotations

import gzip
import itertools
import json
import pickle
import struct

import chex
import jax
import numpy as np
import numpy.testing as npt
import pytest

import jaxbias as jb
from jaxbias import datasets

# ------------------------------------------------------------------------------------------------
# Helpers: tiny files in the real formats
# ------------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian uint32 sizes, big-endian data."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + np.asarray(array, dtype=dtype).tobytes()


def write(path, data: bytes, gz: bool = False):
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def mnist_arrays(n_train=5, n_test=3, h=4, w=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, h, w), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, h, w), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8))


def write_mnist(directory, arrays, gz=False):
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    for name, a in zip(names, arrays):
        write(directory / name, idx_bytes(a), gz=gz)


def cifar_arrays(sizes=(2, 1, 3, 1, 2), n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    train = [(rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()) for n in sizes]
    test = (rng.integers(0, 256, (n_test, 3072), dtype=np.uint8), rng.integers(0, 10, n_test).tolist())
    return train, test


def write_cifar(directory, train, test, protocol=pickle.DEFAULT_PROTOCOL):
    directory.mkdir(parents=True, exist_ok=True)
    for i, (data, labels) in enumerate(train, start=1):
        (directory / f"data_batch_{i}").write_bytes(
            pickle.dumps({b"batch_label": b"training", b"data": data, b"labels": labels}, protocol=protocol))
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": test[0], b"labels": test[1]}, protocol=protocol))


def standardized(x_train, x_test, axes=(0,)):
    """Reference z-score in float64 with train statistics; constant features 0."""
    x_train, x_test = x_train.astype(np.float64), x_test.astype(np.float64)
    mean, std = x_train.mean(axis=axes, keepdims=True), x_train.std(axis=axes, keepdims=True)
    const = x_train.max(axis=axes, keepdims=True) == x_train.min(axis=axes, keepdims=True)
    safe = np.where(const, 1.0, std)
    return np.where(const, 0.0, (x_train - mean) / safe), np.where(const, 0.0, (x_test - mean) / safe)


# ------------------------------------------------------------------------------------------------
# Dataset and from_arrays
# ------------------------------------------------------------------------------------------------


def test_dataset_converts_validates_and_freezes():
    x = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2], dtype=np.int64)
    data = datasets.Dataset(x, y, x[:2], y[:2], n_classes=3, name="toy", attrs={"a": (1, 2)})
    chex.assert_type([data.x_train, data.x_test], np.float32)
    chex.assert_type([data.y_train, data.y_test], np.int32)
    assert (data.task, data.input_shape, data.n_train, data.n_test, data.out_dim) == ("classification", (2,), 6, 2, 3)
    assert not data.x_train.flags.writeable and not data.y_test.flags.writeable
    x[0, 0] = 99.0  # the caller's array is copied, not shared
    assert data.x_train[0, 0] == 0.0
    assert data.attrs["a"] == [1, 2]  # plain JSON data
    with pytest.raises(TypeError):
        data.attrs["b"] = 1
    with pytest.raises(dataclasses_frozen_error()):
        data.name = "other"
    assert "toy" in repr(data) and len(repr(data)) < 200


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_pickle_and_copy_round_trip():
    import copy

    data = datasets.boolean("parity", n_bits=3, key=0)
    for other in (pickle.loads(pickle.dumps(data)), copy.deepcopy(data)):
        assert other.describe() == data.describe()
        assert not other.x_train.flags.writeable and isinstance(other.attrs, type(data.attrs))


def test_describe_is_json_and_fingerprints_the_arrays():
    x, y = np.ones((4, 3)), np.array([[1.0], [2.0], [3.0], [4.0]])
    a = datasets.Dataset(x, y, x[:1], y[:1], n_classes=None, name="r", attrs={"s": 1})
    b = datasets.Dataset(x, y, x[:1], y[:1], n_classes=None, name="r", attrs={"s": 1})
    y2 = y.copy()
    y2[3] = 5.0
    c = datasets.Dataset(x, y2, x[:1], y[:1], n_classes=None, name="r", attrs={"s": 1})
    d = a.describe()
    assert json.loads(json.dumps(d)) == d
    assert d["task"] == "regression" and d["out_dim"] == 1 and d["n_classes"] is None
    assert d["shapes"] == {"x_train": [4, 3], "y_train": [4, 1], "x_test": [1, 3], "y_test": [1, 1]}
    assert d["sha256"] == b.describe()["sha256"] != c.describe()["sha256"]
    assert len(d["sha256"]) == 64


@pytest.mark.parametrize("bad, match", [
    (dict(x_train=np.array([[0.0], [np.nan], [np.inf]])), r"x_train contains 2 non-finite"),
    (dict(x_test=np.array([[np.nan]])), r"x_test contains 1 non-finite"),
    (dict(y_train=np.array([0, 1, 3])), r"y_train has the label 3: expected labels in 0\.\.2"),
    (dict(y_test=np.array([-1])), r"y_test has the label -1"),
    (dict(y_train=np.array([0.0, 0.5, 1.0])), r"y_train has 1 non-integral"),
    (dict(y_train=np.array([0, 1])), r"x_train has 3 samples and y_train has 2"),
    (dict(x_test=np.zeros((1, 2))), r"x_train with shape \(3, 1\) and x_test with shape \(1, 2\)"),
    (dict(x_test=np.zeros((0, 1)), y_test=np.zeros(0, int)), r"x_test with shape \(0, 1\)"),
    (dict(x_train=np.zeros(3)), r"x_train with shape \(3,\)"),
    (dict(n_classes=1), r"n_classes=1"),
    (dict(name=""), r"name=''"),
    (dict(attrs={"f": object()}), r"attrs: expected JSON-able"),
    (dict(attrs={"f": float("nan")}), r"attrs: expected JSON-able"),
])
def test_dataset_errors(bad, match):
    args = dict(x_train=np.zeros((3, 1)), y_train=np.array([0, 1, 2]), x_test=np.zeros((1, 1)), y_test=np.array([2]),
                n_classes=3, name="d", attrs={})
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        datasets.Dataset(**args)


def test_regression_dataset_errors():
    x = np.zeros((2, 1))
    with pytest.raises(ValueError, match=r"y_train contains 1 non-finite"):
        datasets.Dataset(x, np.array([[0.0], [np.nan]]), x, np.zeros((2, 1)), n_classes=None, name="r")
    with pytest.raises(ValueError, match=r"y_train with shape \(2,\): expected regression targets"):
        datasets.Dataset(x, np.zeros(2), x, np.zeros((2, 1)), n_classes=None, name="r")
    with pytest.raises(ValueError, match=r"same number of targets"):
        datasets.Dataset(x, np.zeros((2, 1)), x, np.zeros((2, 2)), n_classes=None, name="r")


def test_from_arrays_standardizes_with_train_statistics():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, (50, 4))
    x_train[:, 2] = 7.0  # constant feature
    x_test = rng.normal(3.0, 2.0, (10, 4))
    y_train, y_test = rng.integers(0, 3, 50), np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    data = datasets.from_arrays(x_train, y_train, x_test, y_test)
    ref_train, ref_test = standardized(x_train, x_test)
    npt.assert_allclose(data.x_train, ref_train, rtol=1e-5, atol=1e-6)
    npt.assert_allclose(data.x_test, ref_test, rtol=1e-5, atol=1e-6)
    npt.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-6)
    npt.assert_allclose(data.x_train.std(axis=0), [1.0, 1.0, 0.0, 1.0], atol=1e-5)
    npt.assert_array_equal(data.x_test[:, 2], 0.0)
    assert data.n_classes == 3 and data.attrs["standardization"] == datasets.STANDARDIZATION_PER_FEATURE
    assert data.attrs["n_constant_features"] == 1
    npt.assert_array_equal(data.y_train, y_train)


def test_from_arrays_regression_and_raw():
    x = np.arange(6.0)
    data = datasets.from_arrays(x, x * 2, x[:2], x[:2] * 2, standardize=False, name="line")
    assert data.task == "regression" and data.x_train.shape == (6, 1) and data.y_train.shape == (6, 1)
    npt.assert_array_equal(data.x_train[:, 0], x)
    assert data.attrs["standardization"] == "none" and data.name == "line"
    # Explicit n_classes reads whole-number float labels as classes.
    data = datasets.from_arrays(np.zeros((3, 1)), np.array([0.0, 1.0, 3.0]), np.zeros((1, 1)), np.array([2.0]),
                                n_classes=4)
    assert data.task == "classification" and data.y_train.dtype == np.int32


def test_from_arrays_errors():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"x_train contains 3 non-finite"):
        datasets.from_arrays(np.array([[0.0, np.nan]] * 3), [0, 1, 0], x, [0, 1, 1])
    with pytest.raises(ValueError, match=r"y_test has the label 5: expected labels in 0\.\.2"):
        datasets.from_arrays(x, [0, 1, 2], x, [0, 1, 5], n_classes=3)
    with pytest.raises(ValueError, match=r"y_train has the label -1"):
        datasets.from_arrays(x, [0, -1, 2], x, [0, 1, 1])
    with pytest.raises(ValueError, match=r"n_classes inferred as 1"):
        datasets.from_arrays(x, [0, 0, 0], x, [0, 0, 0])
    with pytest.raises(ValueError, match=r"x_train has 3 samples and y_train has 2"):
        datasets.from_arrays(x, [0, 1], x, [0, 1, 1])
    with pytest.raises(ValueError, match=r"y_train contains 1 non-finite"):
        datasets.from_arrays(x, [0.0, np.nan, 1.0], x, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"standardize='yes'"):
        datasets.from_arrays(x, [0, 1, 1], x, [0, 1, 1], standardize="yes")


# ------------------------------------------------------------------------------------------------
# digits
# ------------------------------------------------------------------------------------------------


def test_digits_split_is_stratified_seeded_and_standardized():
    raw_x, raw_y = jb.inputs.digits(classes=(3, 5), standardize=False)
    raw_x = np.asarray(raw_x)
    a = datasets.digits(classes=(3, 5), key=1, test_fraction=0.2)
    b = datasets.digits(classes=(3, 5), key=1, test_fraction=0.2)
    c = datasets.digits(classes=(3, 5), key=2, test_fraction=0.2)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.n_train + a.n_test == len(raw_y) and a.n_classes == 2
    for label in (0, 1):  # stratified: each class's share of the test split is round(0.2 * n_c)
        assert np.sum(a.y_test == label) == round(0.2 * np.sum(raw_y == label))
    raw = datasets.digits(classes=(3, 5), key=1, test_fraction=0.2, standardize=False)
    # The splits partition the data: every raw row appears once, with its label.
    rows = {(tuple(r), int(l)) for r, l in zip(raw_x, raw_y)}
    got = [(tuple(r), int(l)) for r, l in itertools.chain(zip(raw.x_train, raw.y_train), zip(raw.x_test, raw.y_test))]
    assert len(got) == len(raw_y) and set(got) == rows
    ref_train, ref_test = standardized(raw.x_train, raw.x_test)
    npt.assert_allclose(a.x_train, ref_train, rtol=1e-5, atol=1e-5)
    npt.assert_allclose(a.x_test, ref_test, rtol=1e-5, atol=1e-5)
    npt.assert_allclose(a.x_train.mean(axis=0), 0.0, atol=1e-5)
    std = a.x_train.std(axis=0)
    npt.assert_allclose(std[std > 0], 1.0, atol=1e-5)
    assert a.attrs["key"] == 1 and a.attrs["classes"] == [3, 5]
    unstratified = datasets.digits(key=0, stratify=False)
    assert unstratified.n_test == round(0.25 * 1797)


def test_digits_errors():
    with pytest.raises(ValueError, match=r"test_fraction=1\.0"):
        datasets.digits(test_fraction=1.0)
    with pytest.raises(ValueError, match=r"classes="):
        datasets.digits(classes=(1, 11))
    with pytest.raises(ValueError, match=r"key=-1"):
        datasets.digits(key=-1)


# ------------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST IDX files
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files_exactly(tmp_path, gz):
    arrays = mnist_arrays()
    write_mnist(tmp_path, arrays, gz=gz)
    data = datasets.mnist(tmp_path, standardize=False)
    assert data.name == "mnist" and data.n_classes == 10 and data.x_train.shape == (5, 12)
    npt.assert_array_equal(data.x_train, arrays[0].reshape(5, 12).astype(np.float32) / np.float32(255))
    npt.assert_array_equal(data.y_train, arrays[1])
    npt.assert_array_equal(data.x_test, arrays[2].reshape(3, 12).astype(np.float32) / np.float32(255))
    npt.assert_array_equal(data.y_test, arrays[3])
    images = datasets.mnist(tmp_path, kind="fashion", standardize=False, flatten=False)
    assert images.name == "fashion" and images.x_train.shape == (5, 4, 3, 1)
    npt.assert_array_equal(images.x_train[..., 0], arrays[0] / np.float32(255))
    assert images.attrs["standardization"] == "none" and "Xiao" in images.attrs["source"]


def test_mnist_standardizes_with_train_statistics_and_limits(tmp_path):
    arrays = mnist_arrays(n_train=40, n_test=6)
    arrays[0][:, 0, 0] = 0  # a constant border pixel
    write_mnist(tmp_path, arrays, gz=True)
    data = datasets.mnist(tmp_path)
    ref_train, ref_test = standardized(arrays[0].reshape(40, -1) / 255.0, arrays[2].reshape(6, -1) / 255.0)
    npt.assert_allclose(data.x_train, ref_train, rtol=1e-5, atol=1e-5)
    npt.assert_allclose(data.x_test, ref_test, rtol=1e-5, atol=1e-5)
    npt.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)
    npt.assert_allclose(data.x_train.std(axis=0)[1:], 1.0, atol=1e-5)
    assert data.attrs["n_constant_features"] == 1 and np.all(data.x_test[:, 0] == 0)
    small = datasets.mnist(tmp_path, limit=4, standardize=False)
    assert (small.n_train, small.n_test) == (4, 4)
    npt.assert_array_equal(small.y_train, arrays[1][:4])


def test_mnist_finds_dotted_names_and_raw_subdirectory(tmp_path):
    arrays = mnist_arrays()
    raw = tmp_path / "raw"
    raw.mkdir()
    names = ("train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte")
    for name, a in zip(names, arrays):
        (raw / name).write_bytes(idx_bytes(a))
    npt.assert_array_equal(datasets.mnist(tmp_path, standardize=False).y_test, arrays[3])


def test_read_idx_types_and_byte_order(tmp_path):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 2, 2) * 1000
    write(tmp_path / "a", idx_bytes(a, 0x0C))
    out = datasets.read_idx(tmp_path / "a")
    npt.assert_array_equal(out, a)
    assert out.dtype.isnative
    f = np.array([0.5, -2.25])
    write(tmp_path / "f", idx_bytes(f, 0x0E), gz=True)
    npt.assert_array_equal(datasets.read_idx(tmp_path / "f.gz"), f)


def test_mnist_missing_file_names_the_files(tmp_path):
    arrays = mnist_arrays()
    write_mnist(tmp_path, arrays)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"no t10k-labels-idx1-ubyte.*train-images-idx3-ubyte, "
                                                r"train-labels-idx1-ubyte, t10k-images-idx3-ubyte"):
        datasets.mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no such directory"):
        datasets.mnist(tmp_path / "nowhere")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_bad_magic_and_truncated(tmp_path, gz):
    arrays = mnist_arrays()
    write_mnist(tmp_path, arrays, gz=gz)
    suffix = ".gz" if gz else ""
    good = idx_bytes(arrays[0])
    write(tmp_path / "train-images-idx3-ubyte", b"\x01\x02" + good[2:], gz=gz)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*bad magic number 0x01020803"):
        datasets.mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", good[:2] + b"\x07" + good[3:], gz=gz)  # unknown type code
    with pytest.raises(ValueError, match=r"bad magic number 0x00000703"):
        datasets.mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", good[:-5], gz=gz)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte" + suffix.replace(".", r"\.")
                       + r": truncated IDX file: 71 bytes, expected 76"):
        datasets.mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", good[:10], gz=gz)  # inside the header
    with pytest.raises(ValueError, match=r"truncated IDX file: 10 bytes, expected a header of 16"):
        datasets.mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", good + b"\x00", gz=gz)
    with pytest.raises(ValueError, match=r"trailing bytes"):
        datasets.mnist(tmp_path)


def test_mnist_damaged_gzip_and_bad_contents(tmp_path):
    arrays = mnist_arrays()
    write_mnist(tmp_path, arrays, gz=True)
    blob = (tmp_path / "train-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz: not a readable gzip file"):
        datasets.mnist(tmp_path)
    labels = arrays[1].copy()
    labels[2] = 12
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels), gz=True)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz has the label 12: expected labels in 0\.\.9"):
        datasets.mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(arrays[1][:4]), gz=True)
    with pytest.raises(ValueError, match=r"holds 5 images and .* 4 labels"):
        datasets.mnist(tmp_path)
    with pytest.raises(ValueError, match=r"kind='kmnist'"):
        datasets.mnist(tmp_path, kind="kmnist")
    with pytest.raises(ValueError, match=r"limit=0"):
        datasets.mnist(tmp_path, limit=0)


# ------------------------------------------------------------------------------------------------
# CIFAR-10 python batches
# ------------------------------------------------------------------------------------------------


def test_cifar10_reads_batches_exactly(tmp_path):
    train, test = cifar_arrays()
    write_cifar(tmp_path / "cifar-10-batches-py", train, test)
    data = datasets.cifar10(tmp_path, standardize=False)  # the directory holding cifar-10-batches-py/
    rows = np.concatenate([d for d, _ in train])
    assert data.x_train.shape == (9, 32, 32, 3) and data.n_classes == 10 and data.name == "cifar10"
    # Row layout: 1024 red, 1024 green, 1024 blue, each 32x32 row-major.
    n, r, c = 4, 5, 7
    for ch in range(3):
        assert data.x_train[n, r, c, ch] == np.float32(rows[n, ch * 1024 + r * 32 + c]) / np.float32(255)
    npt.assert_array_equal(data.x_train, rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) / np.float32(255))
    npt.assert_array_equal(data.y_train, sum((lab for _, lab in train), []))
    npt.assert_array_equal(data.y_test, test[1])
    flat = datasets.cifar10(tmp_path / "cifar-10-batches-py", standardize=False, flatten=True, limit=4)
    assert flat.x_train.shape == (4, 3072) and flat.n_test == 3
    npt.assert_array_equal(flat.x_train, data.x_train[:4].reshape(4, -1))


def test_cifar10_per_channel_standardization(tmp_path):
    sizes = (3, 2, 2, 2, 3)
    train, test = cifar_arrays(sizes)
    write_cifar(tmp_path, train, test, protocol=2)  # the Python-2-era pickle protocol of the real files
    data = datasets.cifar10(tmp_path)
    raw = datasets.cifar10(tmp_path, standardize=False)
    ref_train, ref_test = standardized(raw.x_train, raw.x_test, axes=(0, 1, 2))
    npt.assert_allclose(data.x_train, ref_train, rtol=1e-5, atol=1e-5)
    npt.assert_allclose(data.x_test, ref_test, rtol=1e-5, atol=1e-5)
    npt.assert_allclose(data.x_train.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    npt.assert_allclose(data.x_train.std(axis=(0, 1, 2)), 1.0, atol=1e-5)
    assert data.attrs["standardization"] == datasets.STANDARDIZATION_PER_CHANNEL
    npt.assert_allclose(data.attrs["channel_mean"], raw.x_train.mean(axis=(0, 1, 2)), rtol=1e-5)
    assert data.n_train == sum(sizes)


def test_cifar10_errors(tmp_path):
    train, test = cifar_arrays()
    write_cifar(tmp_path, train, test)
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match=r"no data_batch_4 .*data_batch_1, data_batch_2"):
        datasets.cifar10(tmp_path)
    write_cifar(tmp_path, train, test)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": test[0], b"labels": [1, 2, 10]}))
    with pytest.raises(ValueError, match=r"test_batch has the label 10: expected labels in 0\.\.9"):
        datasets.cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": test[0][:, :100], b"labels": test[1]}))
    with pytest.raises(ValueError, match=r"test_batch: data of shape \(3, 100\)"):
        datasets.cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": test[0], b"labels": test[1][:2]}))
    with pytest.raises(ValueError, match=r"test_batch: labels of shape \(2,\).*expected 3 integers"):
        datasets.cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"labels": test[1]}))
    with pytest.raises(ValueError, match=r"test_batch: no 'data' entry"):
        datasets.cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": test[0], b"labels": test[1]})[:100])
    with pytest.raises(ValueError, match=r"test_batch: not a readable CIFAR-10 python batch"):
        datasets.cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": test[0], b"labels": test[1], b"x": print}))
    with pytest.raises(ValueError, match=r"refusing to load builtins\.print"):
        datasets.cifar10(tmp_path)


# ------------------------------------------------------------------------------------------------
# Synthetic tasks
# ------------------------------------------------------------------------------------------------


def test_teacher_targets_are_jaxbias_sample_of_the_same_net_and_key():
    net = jb.nets.MLP(16, 2, "relu", out=2)
    data = datasets.teacher(net, n_train=12, n_test=5, dim=3, key=7)
    x = np.concatenate([data.x_train, data.x_test])
    y = jb.sample(net, x, n=1, key=7, progress=False)[0]
    npt.assert_array_equal(np.concatenate([data.y_train, data.y_test]), y)
    assert data.task == "regression" and data.out_dim == 2 and data.input_shape == (3,)
    assert data.attrs["teacher"] == jb.nets.to_dict(net)
    again = datasets.teacher(net, n_train=12, n_test=5, dim=3, key=7)
    other = datasets.teacher(net, n_train=12, n_test=5, dim=3, key=8)
    assert again.fingerprint == data.fingerprint != other.fingerprint
    noisy = datasets.teacher(net, n_train=12, n_test=5, dim=3, key=7, noise=0.1)
    npt.assert_array_equal(noisy.y_test, data.y_test)  # test targets stay exact
    assert 0 < np.abs(noisy.y_train - data.y_train).max() < 1.0
    sphere = datasets.teacher(jb.nets.MLP(8, 1, "tanh", in_dim=4), n_train=6, n_test=2, key=0, inputs="sphere")
    npt.assert_allclose(np.linalg.norm(sphere.x_train, axis=1), 2.0, rtol=1e-5)


def test_teacher_errors():
    net = jb.nets.MLP(8, 1, "relu")
    with pytest.raises(ValueError, match=r"dim=None"):
        datasets.teacher(net, n_train=4, n_test=2)
    with pytest.raises(ValueError, match=r"n_train=0"):
        datasets.teacher(net, n_train=0, n_test=2, dim=2)
    with pytest.raises(ValueError, match=r"inputs='cube'"):
        datasets.teacher(net, n_train=4, n_test=2, dim=2, inputs="cube")
    with pytest.raises(ValueError, match=r"noise=-1"):
        datasets.teacher(net, n_train=4, n_test=2, dim=2, noise=-1)
    with pytest.raises(ValueError, match=r"net=3"):
        datasets.teacher(3, n_train=4, n_test=2, dim=2)


def test_gaussian_mixture_means_and_determinism():
    data = datasets.gaussian_mixture(n_classes=3, dim=5, n_train=3000, n_test=30, separation=4.0, key=0)
    means = np.asarray(data.attrs["means"])
    dists = [np.linalg.norm(means[i] - means[j]) for i, j in itertools.combinations(range(3), 2)]
    npt.assert_allclose(dists, 4.0, rtol=1e-12)
    npt.assert_allclose(means.sum(axis=0), 0.0, atol=1e-12)
    assert np.all(np.bincount(data.y_train) == 1000) and np.all(np.bincount(data.y_test) == 10)
    for c in range(3):  # class means estimated from 1000 points each
        npt.assert_allclose(data.x_train[data.y_train == c].mean(axis=0), means[c], atol=0.15)
    same = datasets.gaussian_mixture(n_classes=3, dim=5, n_train=3000, n_test=30, separation=4.0, key=0)
    other = datasets.gaussian_mixture(n_classes=3, dim=5, n_train=3000, n_test=30, separation=4.0, key=1)
    assert same.fingerprint == data.fingerprint != other.fingerprint
    two = datasets.gaussian_mixture(dim=1, n_train=4, n_test=2, separation=2.0, key=jax.random.key(3))
    npt.assert_allclose(two.attrs["means"], [[1.0], [-1.0]])
    npt.assert_allclose(two.attrs["bayes_error"], 0.15865525393145707)
    assert two.attrs["key"]["data"] == np.asarray(jax.random.key_data(jax.random.key(3))).tolist()
    with pytest.raises(ValueError, match=r"n_classes=4, dim=2"):
        datasets.gaussian_mixture(n_classes=4, dim=2, n_train=4, n_test=2)


def test_sinusoids_formula_and_determinism():
    data = datasets.sinusoids(frequencies=(1, 3.5), amplitudes=(2.0, -0.5), dim=2, n_train=20, n_test=7, key=3)
    u, phase = np.asarray(data.attrs["directions"]), np.asarray(data.attrs["phases"])
    npt.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-6)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        ref = 2.0 * np.sin(np.pi * 1.0 * x @ u[0] + phase[0]) - 0.5 * np.sin(np.pi * 3.5 * x @ u[1] + phase[1])
        npt.assert_allclose(y[:, 0], ref, rtol=1e-5, atol=1e-5)
        assert np.all(np.abs(x) <= 1.0)
    same = datasets.sinusoids(frequencies=(1, 3.5), amplitudes=(2.0, -0.5), dim=2, n_train=20, n_test=7, key=3)
    other = datasets.sinusoids(frequencies=(1, 3.5), amplitudes=(2.0, -0.5), dim=2, n_train=20, n_test=7, key=4)
    assert same.fingerprint == data.fingerprint != other.fingerprint
    one = datasets.sinusoids(n_train=5, n_test=3, key=0)
    assert one.attrs["directions"] == [[1.0], [1.0]] and one.attrs["amplitudes"] == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"amplitudes=\(1\.0,\)"):
        datasets.sinusoids(frequencies=(1, 2), amplitudes=(1.0,), n_train=4, n_test=2)
    with pytest.raises(ValueError, match=r"frequencies=\(\)"):
        datasets.sinusoids(frequencies=(), n_train=4, n_test=2)
    with pytest.raises(ValueError, match=r"frequencies=nan"):
        datasets.sinusoids(frequencies=(float("nan"),), n_train=4, n_test=2)


@pytest.mark.parametrize("n_bits", [1, 3, 5])
def test_boolean_parity_truth_table_exact(n_bits):
    data = datasets.boolean("parity", n_bits=n_bits, test_fraction=0.25, key=0)
    points = list(itertools.product((0, 1), repeat=n_bits))
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    order = np.lexsort(x.T[::-1])
    npt.assert_array_equal(x[order], np.array(points, dtype=np.float32))
    npt.assert_array_equal(y[order], [sum(p) % 2 for p in points])
    assert data.attrs["truth_table"] == "".join(str(sum(p) % 2) for p in points)
    assert data.n_test == max(1, min(2**n_bits - 1, round(0.25 * 2**n_bits)))
    for split in (data.x_train, data.x_test):  # each split keeps the lexicographic order
        keys = [tuple(r) for r in split]
        assert keys == sorted(keys)


def test_boolean_functions_codings_and_determinism():
    maj = datasets.boolean("majority", n_bits=4, key=1, values="pm1")
    x = np.concatenate([maj.x_train, maj.x_test])
    y = np.concatenate([maj.y_train, maj.y_test])
    assert set(np.unique(x).tolist()) == {-1.0, 1.0}
    npt.assert_array_equal(y, (np.sum(x > 0, axis=1) > 2).astype(np.int32))  # ties give 0
    first = datasets.boolean("first_bit", n_bits=3, key=1)
    npt.assert_array_equal(first.y_train, first.x_train[:, 0])
    table = np.array([0, 1, 1, 1, 0, 0, 1, 0])
    from_table = datasets.boolean(table, n_bits=3, key=5)
    from_callable = datasets.boolean(lambda b: table[b @ np.array([4, 2, 1])], n_bits=3, key=5)
    assert from_table.fingerprint == from_callable.fingerprint
    assert from_table.attrs["truth_table"] == "01110010"
    assert datasets.boolean(table, n_bits=3, key=6).fingerprint != from_table.fingerprint
    assert datasets.boolean("parity", n_bits=4, key=jax.random.key(2)).fingerprint \
        == datasets.boolean("parity", n_bits=4, key=jax.random.PRNGKey(2)).fingerprint


def test_boolean_errors():
    with pytest.raises(ValueError, match=r"function='xor'"):
        datasets.boolean("xor", n_bits=2)
    with pytest.raises(ValueError, match=r"truth table of shape \(3,\): expected \(4,\)"):
        datasets.boolean([0, 1, 1], n_bits=2)
    with pytest.raises(ValueError, match=r"truth table holds 2: expected labels 0 or 1"):
        datasets.boolean([0, 1, 2, 1], n_bits=2)
    with pytest.raises(ValueError, match=r"n_bits=21"):
        datasets.boolean("parity", n_bits=21)
    with pytest.raises(ValueError, match=r"values='\+-'"):
        datasets.boolean("parity", n_bits=2, values="+-")
    with pytest.raises(ValueError, match=r"test_fraction=0"):
        datasets.boolean("parity", n_bits=2, test_fraction=0)
