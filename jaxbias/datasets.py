"""Supervised data sets that a training run reads: train and test splits as host numpy arrays.

A :class:`Dataset` holds ``x_train (N_train, *input_shape)``, ``y_train``, ``x_test``, ``y_test``
(float32 inputs; int32 labels for classification, ``(N, k)`` float32 targets for regression), the
number of classes (``None`` for regression), a name and ``attrs``: a JSON-able record of the source,
the sizes, the standardisation, the seed and the generating parameters. Its arrays are validated
(shapes, finite values, labels in range) and read-only, and :meth:`Dataset.describe` gives what a
results file stores about the data, with a SHA-256 fingerprint of the four arrays.

Constructors, all validated with ValueErrors that name the argument, and all pure functions of
their arguments (``key`` is an int seed or a jax PRNG key; nothing is downloaded):

* :func:`from_arrays`: arrays the user already has.
* :func:`digits`: the UCI 8x8 handwritten digits shipped with jaxbias, split with a seed.
* :func:`mnist`: MNIST or Fashion-MNIST from the IDX files in a directory the user names.
* :func:`cifar10`: CIFAR-10 from its python batches in a directory the user names.
* :func:`teacher`: regression on the outputs of one random network.
* :func:`gaussian_mixture`: classes drawn from unit Gaussians with means on a regular simplex.
* :func:`sinusoids`: regression on a sum of plane waves on ``[-1, 1]^dim``.
* :func:`boolean`: a Boolean function on the hypercube, its points split into train and test.

Random draws (splits, synthetic inputs, noise) come from numpy generators seeded with the key's
data: ``numpy.random.SeedSequence(jax.random.key_data(key)).spawn(m)``, one stream per purpose.
They are a pure function of ``key``, computed on the host without compiling anything; only
:func:`teacher` runs a network, through :func:`jaxbias.sample` with the same ``key``.

Standardisation, where a constructor offers it, uses statistics of the training split only and
applies them to both splits, so nothing about the test split leaks into training; ``attrs``
says which (``"standardization"``).

>>> from jaxbias import datasets
>>> data = datasets.boolean("parity", n_bits=3, test_fraction=0.25, key=0)
>>> data.task, data.n_train, data.n_test, data.input_shape
('classification', 6, 2, (3,))
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import math
import pathlib
import pickle
import types
import zlib
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

from jaxbias import engine, inputs, nets
from jaxbias.keys import as_key
from jaxbias.validation import check_float, check_int

__all__ = [
    "Dataset",
    "from_arrays",
    "digits",
    "mnist",
    "cifar10",
    "teacher",
    "gaussian_mixture",
    "sinusoids",
    "boolean",
    "read_idx",
    "BOOLEAN_FUNCTIONS",
    "STANDARDIZATION_PER_FEATURE",
    "STANDARDIZATION_PER_CHANNEL",
]

STANDARDIZATION_PER_FEATURE = "per-feature z-score with train-split mean and std; constant features set to 0"
"""``attrs["standardization"]`` of a data set standardised feature by feature (every entry of ``input_shape``)."""

STANDARDIZATION_PER_CHANNEL = (
    "per-channel z-score with train-split mean and std over all pixels of each channel; constant channels set to 0"
)
"""``attrs["standardization"]`` of images standardised channel by channel (the last axis), as for CIFAR-10."""

_NO_STANDARDIZATION = "none"


# ----------------------------------------------------------------------------------------------
# The Dataset value
# ----------------------------------------------------------------------------------------------


def _n_nonfinite(a: np.ndarray) -> int:
    return int(a.size - np.count_nonzero(np.isfinite(a)))


def _owned(a: np.ndarray, source: Any) -> np.ndarray:
    """``a`` read-only, copied first if it may share memory with a writeable array the caller holds."""
    if isinstance(source, np.ndarray) and source.flags.writeable and np.may_share_memory(a, source):
        a = a.copy()
    a.setflags(write=False)
    return a


def _check_inputs(name: str, x: Any) -> np.ndarray:
    """``x`` as float32 ``(N, *input_shape)``, N >= 1, finite; else ValueError naming ``name``."""
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"{name} with dtype {a.dtype}: expected a real numeric array")
    if a.ndim < 2 or a.shape[0] < 1:
        raise ValueError(f"{name} with shape {a.shape}: expected (n_samples, *input_shape) with n_samples >= 1 "
                         "and at least one input axis (reshape a 1-D array to (n, 1))")
    if np.issubdtype(a.dtype, np.floating):
        bad = _n_nonfinite(a)
        if bad:
            raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf): expected finite inputs")
    out = a.astype(np.float32, copy=False)
    bad = _n_nonfinite(out)
    if bad:
        raise ValueError(f"{name} has {bad} values too large for float32: expected finite float32 inputs")
    return _owned(out, x)


def _check_labels(name: str, y: Any, n_classes: int) -> np.ndarray:
    """``y`` as int32 ``(N,)`` in ``0..n_classes-1``; else ValueError naming ``name``."""
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} with shape {a.shape}: expected class labels of shape (n_samples,)")
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    elif np.issubdtype(a.dtype, np.floating):
        bad = _n_nonfinite(a)
        if bad:
            raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf): expected integer class labels")
        frac = a != np.round(a)
        if np.any(frac):
            raise ValueError(f"{name} has {int(np.count_nonzero(frac))} non-integral values "
                             f"(first {a[frac][0].item()!r}): expected integer class labels")
    elif not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} with dtype {a.dtype}: expected integer class labels")
    if a.size:
        low, high = a.min(), a.max()
        if low < 0 or high >= n_classes:
            bad = (low if low < 0 else high).item()
            raise ValueError(f"{name} has the label {bad!r}: expected labels in 0..{n_classes - 1} "
                             f"(n_classes={n_classes})")
    return _owned(a.astype(np.int32, copy=False), y)


def _check_targets(name: str, y: Any) -> np.ndarray:
    """``y`` as float32 ``(N, k)``, finite; else ValueError naming ``name``."""
    a = np.asarray(y)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"{name} with dtype {a.dtype}: expected real regression targets")
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{name} with shape {a.shape}: expected regression targets of shape (n_samples, k), k >= 1")
    if np.issubdtype(a.dtype, np.floating):
        bad = _n_nonfinite(a)
        if bad:
            raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf): expected finite targets")
    out = a.astype(np.float32, copy=False)
    bad = _n_nonfinite(out)
    if bad:
        raise ValueError(f"{name} has {bad} values too large for float32: expected finite float32 targets")
    return _owned(out, y)


def _plain_attrs(attrs: Any) -> types.MappingProxyType:
    if not isinstance(attrs, Mapping):
        raise ValueError(f"attrs={attrs!r}: expected a mapping of JSON-able values")
    try:
        plain = json.loads(json.dumps(dict(attrs), allow_nan=False))
    except (TypeError, ValueError) as err:
        raise ValueError(f"attrs: expected JSON-able values (str keys; str, finite numbers, lists, dicts): {err}") \
            from None
    return types.MappingProxyType(plain)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A supervised task: train and test splits as host numpy arrays.

    Built by the constructors of this module, or directly; ``__post_init__`` validates and
    converts every field, and makes the arrays read-only (an array given by the caller is
    copied first unless it is already read-only and of the right dtype).

    Attributes:
      x_train: ``(N_train, *input_shape)`` float32 inputs, ``N_train >= 1``.
      y_train: classification: ``(N_train,)`` int32 labels in ``0..n_classes-1``; regression:
        ``(N_train, k)`` float32 targets.
      x_test: ``(N_test, *input_shape)`` float32, ``N_test >= 1``, same ``input_shape``.
      y_test: as ``y_train``, ``(N_test,)`` or ``(N_test, k)`` with the same ``k``.
      n_classes: number of classes (>= 2), or ``None`` for regression.
      name: short name, e.g. ``"digits"``, ``"mnist"``, ``"teacher"``.
      attrs: JSON-able description (source, sizes, ``"standardization"``, seed, generating
        parameters); stored as a read-only mapping of plain JSON data (tuples become lists).

    Raises:
      ValueError: naming the array: shapes that disagree, non-finite values (with their count),
        labels that are not integers or out of range, an empty split, attrs that are not JSON-able.

    Example:
      >>> import numpy as np
      >>> data = Dataset(np.zeros((4, 2)), np.array([0, 1, 0, 1]), np.ones((2, 2)), np.array([1, 0]),
      ...                n_classes=2, name="toy", attrs={})
      >>> data.task, data.input_shape, data.x_train.dtype, data.y_train.dtype, data.x_train.flags.writeable
      ('classification', (2,), dtype('float32'), dtype('int32'), False)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None
    name: str
    attrs: Mapping = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r}: expected a non-empty string")
        n_classes = self.n_classes
        if n_classes is not None:
            n_classes = check_int("n_classes", n_classes, 2)
        x_train = _check_inputs("x_train", self.x_train)
        x_test = _check_inputs("x_test", self.x_test)
        if x_train.shape[1:] != x_test.shape[1:]:
            raise ValueError(f"x_train with shape {x_train.shape} and x_test with shape {x_test.shape}: "
                             "expected the same input_shape (all axes after the first)")
        if n_classes is None:
            y_train, y_test = _check_targets("y_train", self.y_train), _check_targets("y_test", self.y_test)
            if y_train.shape[1] != y_test.shape[1]:
                raise ValueError(f"y_train with shape {y_train.shape} and y_test with shape {y_test.shape}: "
                                 "expected the same number of targets k")
        else:
            y_train = _check_labels("y_train", self.y_train, n_classes)
            y_test = _check_labels("y_test", self.y_test, n_classes)
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if len(x) != len(y):
                raise ValueError(f"x_{split} has {len(x)} samples and y_{split} has {len(y)}: expected equal lengths")
        set_("n_classes", n_classes)
        set_("x_train", x_train)
        set_("y_train", y_train)
        set_("x_test", x_test)
        set_("y_test", y_test)
        set_("attrs", _plain_attrs(self.attrs))

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return "regression" if self.n_classes is None else "classification"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, e.g. ``(64,)`` or ``(32, 32, 3)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.x_test.shape[0])

    @property
    def out_dim(self) -> int:
        """Outputs a network needs: ``n_classes`` (classification) or ``k`` (regression)."""
        return int(self.n_classes) if self.n_classes is not None else int(self.y_train.shape[1])

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the four arrays: for each, its name, dtype, shape and C-order bytes."""
        h = hashlib.sha256()
        for field in ("x_train", "y_train", "x_test", "y_test"):
            a = getattr(self, field)
            h.update(f"{field}:{a.dtype.str}:{list(a.shape)};".encode())
            h.update(np.ascontiguousarray(a).data)
        return h.hexdigest()

    def describe(self) -> dict:
        """What a results file records about the data: JSON-able, with a fingerprint of the arrays.

        Returns:
          dict with ``name``, ``task``, ``n_classes``, ``out_dim``, ``input_shape``, ``n_train``,
          ``n_test``, ``shapes`` (the four arrays' shapes), ``attrs`` and ``sha256`` (see
          :attr:`fingerprint`).
        """
        return {
            "name": self.name,
            "task": self.task,
            "n_classes": self.n_classes,
            "out_dim": self.out_dim,
            "input_shape": list(self.input_shape),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "shapes": {f: list(getattr(self, f).shape) for f in ("x_train", "y_train", "x_test", "y_test")},
            "attrs": json.loads(json.dumps(dict(self.attrs))),
            "sha256": self.fingerprint,
        }

    def __getstate__(self) -> dict:
        # Pickle (and copy) the fields as plain values; the cached fingerprint is recomputed.
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        state["attrs"] = json.loads(json.dumps(dict(self.attrs)))
        return state

    def __setstate__(self, state: dict) -> None:
        for field in ("x_train", "y_train", "x_test", "y_test"):
            state[field].setflags(write=False)  # unpickled arrays come back writeable
        state["attrs"] = types.MappingProxyType(state["attrs"])
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, task={self.task!r}, n_train={self.n_train}, n_test={self.n_test}, "
                f"input_shape={self.input_shape}, out_dim={self.out_dim})")


# ----------------------------------------------------------------------------------------------
# Shared helpers: keys, splits, standardisation
# ----------------------------------------------------------------------------------------------


def _key_attr(key: Any) -> Any:
    """The key as JSON-able data: the int seed, or the typed key's implementation and raw data."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    k = as_key(key)
    return {"impl": str(jax.random.key_impl(k)), "data": np.asarray(jax.random.key_data(k)).tolist()}


def _streams(key: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent numpy generators, a pure function of ``key`` (int seed or jax PRNG key).

    ``SeedSequence(entropy=key_data(as_key(key))).spawn(n)``: the key's raw uint32 words seed
    numpy's SeedSequence, whose spawned children are independent streams (numpy's recommended way).
    """
    words = np.asarray(jax.random.key_data(as_key(key)), dtype=np.uint32).ravel().tolist()
    return [np.random.default_rng(child) for child in np.random.SeedSequence(words).spawn(n)]


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r}: expected True or False")
    return bool(value)


def _check_fraction(name: str, value: Any) -> float:
    f = check_float(name, value)
    if not 0.0 < f < 1.0:
        raise ValueError(f"{name}={value!r}: expected a number strictly between 0 and 1")
    return f


def _check_limit(limit: Any) -> int | None:
    return None if limit is None else check_int("limit", limit, 1)


def _split_counts(n: int, test_fraction: float) -> int:
    """Test samples out of ``n``: ``round(test_fraction * n)``, kept in ``[1, n - 1]``."""
    return min(max(int(round(test_fraction * n)), 1), n - 1)


def _split(rng: np.random.Generator, labels: np.ndarray | None, n: int,
           test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices (each sorted) from one random permutation of ``range(n)``.

    Stratified when ``labels`` is given: each class with at least two members puts
    ``round(test_fraction * n_c)`` (at least 1, at most ``n_c - 1``) of them, the first in the
    permutation, into the test split; a class of one member goes to training.
    """
    perm = rng.permutation(n)
    if labels is None:
        n_test = _split_counts(n, test_fraction)
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    test = []
    permuted_labels = labels[perm]
    for c in np.unique(labels):
        members = perm[permuted_labels == c]
        if len(members) >= 2:
            test.append(members[: _split_counts(len(members), test_fraction)])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train_mask = np.ones(n, dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask), test_idx


_CHUNK_ROWS = 4096


def _moments(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std (population) and "constant" mask over ``axes`` (0 included), in float64, by row chunks.

    Two passes (mean, then squared deviations) so that large means do not cost precision; a
    feature is constant when its minimum equals its maximum, exactly.
    """
    rest = tuple(a for a in axes if a != 0)
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))[1:]
    count = x.shape[0] * math.prod(x.shape[a] for a in rest)
    total = np.zeros(shape, np.float64)
    low = np.full(shape, np.inf)
    high = np.full(shape, -np.inf)
    chunks = [x[i:i + _CHUNK_ROWS] for i in range(0, x.shape[0], _CHUNK_ROWS)]
    for c in chunks:
        total += np.sum(c, axis=axes, dtype=np.float64, keepdims=True)[0]
        low = np.minimum(low, np.min(c, axis=axes, keepdims=True)[0])
        high = np.maximum(high, np.max(c, axis=axes, keepdims=True)[0])
    mean = total / count
    sq = np.zeros(shape, np.float64)
    for c in chunks:
        sq += np.sum(np.square(c.astype(np.float64) - mean), axis=axes, keepdims=True)[0]
    return mean, np.sqrt(sq / count), low == high


def _standardize(x_train: np.ndarray, x_test: np.ndarray, *, per_channel: bool = False):
    """Z-scores both splits with the training split's statistics; constant features become 0.

    Returns:
      the two float32 arrays and a dict for ``attrs`` (method; per-channel means and stds, or the
      number of constant features).
    """
    axes = tuple(range(x_train.ndim - 1)) if per_channel else (0,)
    mean, std, constant = _moments(x_train, axes)
    safe = np.where(constant, 1.0, std)

    def apply(x):
        out = np.empty(x.shape, np.float32)
        for i in range(0, x.shape[0], _CHUNK_ROWS):
            z = (x[i:i + _CHUNK_ROWS] - mean) / safe
            out[i:i + _CHUNK_ROWS] = np.where(constant, 0.0, z)
        return out

    info: dict[str, Any] = {"standardization": STANDARDIZATION_PER_CHANNEL if per_channel
                            else STANDARDIZATION_PER_FEATURE}
    if per_channel:
        info["channel_mean"] = mean.reshape(-1).tolist()
        info["channel_std"] = std.reshape(-1).tolist()
    else:
        info["n_constant_features"] = int(np.count_nonzero(constant))
    return apply(x_train), apply(x_test), info


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Arrays this module made, marked read-only so that :class:`Dataset` does not copy them."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


# ----------------------------------------------------------------------------------------------
# User arrays and the shipped digits
# ----------------------------------------------------------------------------------------------


def from_arrays(x_train: Any, y_train: Any, x_test: Any, y_test: Any, *, n_classes: int | None = None,
                standardize: bool = True, name: str = "arrays") -> Dataset:
    """A data set from arrays the user already has.

    The task follows the labels: integer (or boolean) ``y`` is classification, float ``y`` is
    regression, unless ``n_classes`` is given (then float labels must be whole numbers).

    Args:
      x_train: ``(N_train, *input_shape)`` real inputs (a 1-D array is read as ``(N_train, 1)``).
      y_train: ``(N_train,)`` integer labels, or ``(N_train,)`` / ``(N_train, k)`` float targets
        (``(N,)`` becomes ``(N, 1)``).
      x_test: ``(N_test, *input_shape)``.
      y_test: as ``y_train``.
      n_classes: number of classes; ``None`` infers ``max label + 1`` over both splits for integer
        labels (at least 2), and regression for float targets.
      standardize: z-score every feature with the training split's mean and std, applied to both
        splits (features constant on the training split become 0); ``attrs["standardization"]``
        says so. ``False`` keeps the values (as float32).
      name: the data set's name.

    Returns:
      A :class:`Dataset`.

    Raises:
      ValueError: naming the argument: NaN or inf (with the count), labels out of range or not
        integral, lengths or input shapes that disagree, an empty split.

    Example:
      >>> import numpy as np
      >>> data = from_arrays(np.arange(8.0).reshape(4, 2), np.array([0, 1, 2, 1]),
      ...                    np.ones((2, 2)), np.array([2, 0]))
      >>> data.n_classes, [round(v, 3) for v in data.x_train[:, 0].tolist()], data.attrs["standardization"][:21]
      (3, [-1.342, -0.447, 0.447, 1.342], 'per-feature z-score w')
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r}: expected a non-empty string")
    standardize = _check_bool("standardize", standardize)
    xs = []
    for arg, x in (("x_train", x_train), ("x_test", x_test)):
        a = np.asarray(x)
        xs.append(_check_inputs(arg, a[:, None] if a.ndim == 1 else a))
    ys = [np.asarray(y_train), np.asarray(y_test)]
    for arg, y in zip(("y_train", "y_test"), ys):
        if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_) \
                or np.issubdtype(y.dtype, np.complexfloating):
            raise ValueError(f"{arg} with dtype {y.dtype}: expected integer labels or real targets")
    classification = n_classes is not None or all(
        np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ for y in ys)
    if classification:
        if n_classes is None:
            for arg, y in zip(("y_train", "y_test"), ys):
                if y.size and y.min() < 0:
                    raise ValueError(f"{arg} has the label {y.min().item()!r}: expected labels >= 0")
            n_classes = int(max(int(y.max()) if y.size else 0 for y in ys)) + 1
            if n_classes < 2:
                raise ValueError("y_train and y_test hold only the label 0: n_classes inferred as 1; "
                                 "expected at least 2 classes (pass n_classes= explicitly)")
        else:
            n_classes = check_int("n_classes", n_classes, 2)
        y_pair = ys
    else:
        y_pair = [y[:, None] if y.ndim == 1 else y for y in ys]
    attrs: dict[str, Any] = {"source": "user arrays", "n_train": len(xs[0]), "n_test": len(xs[1])}
    if standardize:
        x_tr, x_te, info = _standardize(*xs)
        attrs.update(info)
    else:
        x_tr, x_te = xs
        attrs["standardization"] = _NO_STANDARDIZATION
    return Dataset(x_tr, y_pair[0], x_te, y_pair[1], n_classes=n_classes if classification else None,
                   name=name, attrs=attrs)


_DIGITS_SOURCE = ("UCI Optical Recognition of Handwritten Digits, test set (Alpaydin & Kaynak 1998, "
                  "doi:10.24432/C50P49, CC BY 4.0), as sklearn.datasets.load_digits; "
                  "shipped as jaxbias/data/digits.npz")


def digits(*, classes: Sequence[int] | None = None, test_fraction: float = 0.25, key: Any = 0,
           standardize: bool = True, stratify: bool = True) -> Dataset:
    """The UCI 8x8 handwritten digits shipped with jaxbias, split into train and test with a seed.

    1797 images of 64 pixels (values 0..16) from :func:`jaxbias.inputs.digits` (Alpaydin &
    Kaynak 1998; the arrays of ``sklearn.datasets.load_digits``). Each split keeps the data set's
    order.

    Args:
      classes: ``None`` for all ten digits, or the digits to keep, e.g. ``(0, 1)``; labels are
        remapped to ``0..len(classes)-1`` in the order given.
      test_fraction: share of the samples held out for testing, in ``(0, 1)``.
      key: int seed or jax PRNG key of the split (one random permutation, see the module docstring).
      standardize: z-score each pixel with the training split's mean and std (pixels constant on
        the training split, such as corners, become 0); ``False`` keeps the raw 0..16 counts.
      stratify: split each class separately (``round(test_fraction * n_c)`` of class ``c``, at
        least one per split), so both splits keep the class proportions; ``False`` splits the
        pooled samples (``round(test_fraction * n)`` in the test split).

    Returns:
      A :class:`Dataset` named ``"digits"``: ``x (N, 64)`` float32, ``y (N,)`` int32.

    Example:
      >>> data = digits(classes=(0, 1), key=0)
      >>> data.n_train, data.n_test, data.n_classes
      (270, 90, 2)
    """
    test_fraction = _check_fraction("test_fraction", test_fraction)
    standardize = _check_bool("standardize", standardize)
    stratify = _check_bool("stratify", stratify)
    (rng,) = _streams(key, 1)
    x, y = inputs.digits(classes=classes, standardize=False)
    x = np.asarray(x, dtype=np.float32)
    train, test = _split(rng, y if stratify else None, len(y), test_fraction)
    kept = list(range(10)) if classes is None else [int(c) for c in classes]
    attrs: dict[str, Any] = {
        "source": _DIGITS_SOURCE,
        "classes": kept,
        "n_train": len(train),
        "n_test": len(test),
        "test_fraction": test_fraction,
        "stratified": stratify,
        "key": _key_attr(key),
        "split": "a random permutation of range(n); " + (
            "per class the first round(test_fraction * n_c) are test" if stratify
            else "the first round(test_fraction * n) are test"),
    }
    x_tr, x_te = x[train], x[test]
    if standardize:
        x_tr, x_te, info = _standardize(x_tr, x_te)
        attrs.update(info)
    else:
        attrs["standardization"] = _NO_STANDARDIZATION
    return Dataset(*_frozen(x_tr, y[train], x_te, y[test]), n_classes=len(kept), name="digits", attrs=attrs)


# ----------------------------------------------------------------------------------------------
# Files the user has: IDX (MNIST, Fashion-MNIST) and CIFAR-10 python batches
# ----------------------------------------------------------------------------------------------

# IDX type codes (LeCun et al., "THE MNIST DATABASE of handwritten digits", file formats): big-endian data.
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_MNIST_SOURCES = {
    "mnist": "MNIST (LeCun, Bottou, Bengio & Haffner 1998, Proc. IEEE 86(11) 2278-2324), IDX files read from disk",
    "fashion": "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747), IDX files read from disk",
}


def _read_bytes(path: pathlib.Path) -> bytes:
    """The file's bytes, decompressed if its name ends in .gz; ValueError for a damaged gzip stream."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a readable gzip file ({err}); expected a gzip-compressed IDX file") from None


def read_idx(path: str | pathlib.Path) -> np.ndarray:
    """Reads one IDX file (the format of MNIST and Fashion-MNIST), gzip-compressed if it ends in .gz.

    Format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D
    float32, 0x0E float64), the number of dimensions ``d``, then ``d`` big-endian uint32 sizes
    and the data, big-endian, in C order.

    Args:
      path: the file.

    Returns:
      The array, of the shape the header gives, in native byte order.

    Raises:
      ValueError: naming the file: a bad magic number, an unknown type code, a file shorter
        (truncated) or longer than its header says.
      FileNotFoundError: the file does not exist.
    """
    path = pathlib.Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX file ({len(raw)} bytes): expected a 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_DTYPES or ndim < 1:
        raise ValueError(f"{path}: bad magic number 0x{magic:08X}: expected 0x0000TTDD with a type code TT in "
                         f"{{{', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}}} and DD >= 1 dimensions "
                         "(e.g. 0x00000803 for MNIST images, 0x00000801 for labels)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX file: {len(raw)} bytes, expected a header of {header} bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated IDX file" if len(raw) < expected else "IDX file with trailing bytes"
        raise ValueError(f"{path}: {what}: {len(raw)} bytes, expected {expected} "
                         f"(header {header} + shape {shape} x {dtype.itemsize} bytes)")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_file(dirs: Sequence[pathlib.Path], names: Sequence[str]) -> pathlib.Path | None:
    for d in dirs:
        for name in names:
            if (d / name).is_file():
                return d / name
    return None


def _check_directory(directory: Any) -> pathlib.Path:
    if not isinstance(directory, (str, pathlib.PurePath)):
        raise ValueError(f"directory={directory!r}: expected a path (str or pathlib.Path)")
    path = pathlib.Path(directory).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"directory={str(directory)!r}: no such directory")
    return path


def _check_class_labels(what: str, labels: np.ndarray, n_classes: int) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(f"{what} has the label {int(bad)}: expected labels in 0..{n_classes - 1}")
    return labels.astype(np.int32)


def mnist(directory: str | pathlib.Path, *, kind: str = "mnist", standardize: bool = True, flatten: bool = True,
          limit: int | None = None) -> Dataset:
    """MNIST or Fashion-MNIST from the four IDX files in a directory the user names.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each optionally gzip-compressed (``.gz``) or spelled with a dot
    (``train-images.idx3-ubyte``), from ``directory``, ``directory/raw`` or torchvision's
    ``directory/MNIST/raw`` (``FashionMNIST/raw``). Nothing is downloaded. Sources: MNIST (LeCun
    et al. 1998), Fashion-MNIST (Xiao, Rasul & Vollgraf 2017); both use the same file format and
    names (60000 train and 10000 test images of 28x28 uint8 pixels, labels 0..9).

    Pixels are scaled to ``[0, 1]`` (divided by 255), then, if ``standardize``, z-scored pixel by
    pixel with the training split's mean and std (pixels constant on the training split, such as
    MNIST's borders, become 0).

    Args:
      directory: where the files are.
      kind: ``"mnist"`` or ``"fashion"``: names the data set and its source (the files look alike).
      standardize: per-pixel standardisation as above; ``False`` keeps the ``[0, 1]`` values.
      flatten: ``True`` gives ``x (N, H*W)`` (784 for MNIST); ``False`` keeps images
        ``(N, H, W, 1)``, NHWC as jaxbias CNNs take them.
      limit: keep only the first ``limit`` samples of each split (``None``: all); statistics are
        then those of the kept training samples.

    Returns:
      A :class:`Dataset` named ``kind`` with 10 classes.

    Raises:
      FileNotFoundError: no such directory, or a file missing (the message names the files
        expected and the directories searched).
      ValueError: naming the file: a bad magic number, a truncated file, images that are not
        3-D uint8 or labels that are not 1-D integers in 0..9, counts that disagree.
    """
    if kind not in _MNIST_SOURCES:
        raise ValueError(f"kind={kind!r}: expected 'mnist' or 'fashion'")
    standardize = _check_bool("standardize", standardize)
    flatten = _check_bool("flatten", flatten)
    limit = _check_limit(limit)
    root = _check_directory(directory)
    dirs = [root, root / "raw", root / ("MNIST" if kind == "mnist" else "FashionMNIST") / "raw"]
    paths = {}
    for role, base in _IDX_FILES.items():
        dotted = base.replace("-idx", ".idx")
        found = _find_file(dirs, [base, base + ".gz", dotted, dotted + ".gz"])
        if found is None:
            raise FileNotFoundError(
                f"directory={str(directory)!r}: no {base} (nor {base}.gz) in {', '.join(str(d) for d in dirs)}; "
                f"expected the four IDX files {', '.join(_IDX_FILES.values())} (each may end in .gz)")
        paths[role] = found
    splits = {}
    for split in ("train", "test"):
        images = read_idx(paths[f"{split}_images"])
        labels = read_idx(paths[f"{split}_labels"])
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{paths[f'{split}_images']}: images of shape {images.shape} and dtype {images.dtype}: "
                             "expected (n, height, width) unsigned bytes (type code 0x08)")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{paths[f'{split}_labels']}: labels of shape {labels.shape} and dtype {labels.dtype}: "
                             "expected (n,) integers")
        if len(images) != len(labels):
            raise ValueError(f"{paths[f'{split}_images']} holds {len(images)} images and "
                             f"{paths[f'{split}_labels']} {len(labels)} labels: expected equal counts")
        if len(images) == 0:
            raise ValueError(f"{paths[f'{split}_images']}: no images: expected at least one")
        labels = _check_class_labels(str(paths[f"{split}_labels"]), labels, 10)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        splits[split] = (images, labels)
    (x_tr, y_tr), (x_te, y_te) = splits["train"], splits["test"]
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ValueError(f"{paths['train_images']} has images of {x_tr.shape[1:]} pixels and "
                         f"{paths['test_images']} {x_te.shape[1:]}: expected the same image size")
    x_tr = x_tr.astype(np.float32) / np.float32(255.0)
    x_te = x_te.astype(np.float32) / np.float32(255.0)
    if flatten:
        x_tr, x_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    else:
        x_tr, x_te = x_tr[..., None], x_te[..., None]
    attrs: dict[str, Any] = {
        "source": _MNIST_SOURCES[kind],
        "directory": str(root.resolve()),
        "files": {role: str(p.relative_to(root)) for role, p in paths.items()},
        "n_train": len(x_tr),
        "n_test": len(x_te),
        "limit": limit,
        "layout": "(N, H*W) row-major pixels" if flatten else "(N, H, W, 1) NHWC",
        "scaling": "pixels / 255",
    }
    if standardize:
        x_tr, x_te, info = _standardize(x_tr, x_te)
        attrs.update(info)
    else:
        attrs["standardization"] = _NO_STANDARDIZATION
    return Dataset(*_frozen(x_tr, y_tr, x_te, y_te), n_classes=10, name=kind, attrs=attrs)


_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = "test_batch"
_CIFAR_SOURCE = ("CIFAR-10 (Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images, tech. report, "
                 "University of Toronto), python batches read from disk")

# What a CIFAR-10 batch may hold: numpy arrays (data), lists of ints and bytes. Anything else in a
# pickle (which could run code) is refused.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays and lists")


def _read_cifar_batch(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3072)`` uint8 rows and ``(N,)`` labels of one batch, validated."""
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path}: not a readable CIFAR-10 python batch ({type(err).__name__}: {err}); "
                         "expected a pickled dict with b'data' and b'labels'") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: holds a {type(batch).__name__}: expected a dict with b'data' and b'labels'")
    entries = {}
    for field in ("data", "labels"):
        value = batch.get(field.encode(), batch.get(field))
        if value is None:
            raise ValueError(f"{path}: no {field!r} entry (keys {sorted(map(repr, batch))}): expected b'data' and "
                             "b'labels'")
        entries[field] = np.asarray(value)
    data, labels = entries["data"], entries["labels"]
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{path}: data of shape {data.shape} and dtype {data.dtype}: expected (n, 3072) uint8 "
                         "(1024 red, 1024 green, 1024 blue values of a 32x32 image, row-major)")
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: labels of shape {labels.shape} and dtype {labels.dtype}: "
                         f"expected {len(data)} integers, one per image")
    return data, _check_class_labels(str(path), labels, 10)


def cifar10(directory: str | pathlib.Path, *, standardize: bool = True, flatten: bool = False,
            limit: int | None = None) -> Dataset:
    """CIFAR-10 from its python batches in a directory the user names (Krizhevsky 2009).

    Reads ``data_batch_1`` .. ``data_batch_5`` (training, in that order) and ``test_batch``, the
    pickled dicts of the "CIFAR-10 python version", from ``directory`` or
    ``directory/cifar-10-batches-py``. Each holds ``b"data"``, ``(n, 3072)`` uint8 rows of 1024
    red, 1024 green and 1024 blue values of a 32x32 image in row-major order, and ``b"labels"``
    (0..9). Nothing is downloaded. Only arrays and lists are unpickled: a file that asks for any
    other Python object is refused.

    Images become NHWC ``(32, 32, 3)`` and are scaled to ``[0, 1]`` (divided by 255); then, if
    ``standardize``, each channel is z-scored with the mean and std of that channel over all
    pixels of the training split (``attrs["channel_mean"]``, ``attrs["channel_std"]``).

    Args:
      directory: where the batches are.
      standardize: per-channel standardisation as above; ``False`` keeps the ``[0, 1]`` values.
      flatten: ``True`` gives ``x (N, 3072)``, the NHWC image flattened (``h, w, c`` order);
        ``False`` keeps ``(N, 32, 32, 3)``.
      limit: keep only the first ``limit`` samples of each split (``None``: all).

    Returns:
      A :class:`Dataset` named ``"cifar10"`` with 10 classes.

    Raises:
      FileNotFoundError: no such directory, or a batch missing (the message names the files
        expected and the directories searched).
      ValueError: naming the file: not a pickled dict, data not ``(n, 3072)`` uint8, labels of
        another length or out of 0..9.
    """
    standardize = _check_bool("standardize", standardize)
    flatten = _check_bool("flatten", flatten)
    limit = _check_limit(limit)
    root = _check_directory(directory)
    dirs = [root, root / "cifar-10-batches-py"]
    paths = []
    for name in (*_CIFAR_TRAIN, _CIFAR_TEST):
        found = _find_file(dirs, [name])
        if found is None:
            raise FileNotFoundError(
                f"directory={str(directory)!r}: no {name} in {' or '.join(str(d) for d in dirs)}; expected the "
                f"CIFAR-10 python batches {', '.join(_CIFAR_TRAIN)} and {_CIFAR_TEST}")
        paths.append(found)
    train = [_read_cifar_batch(p) for p in paths[:-1]]
    x_tr = np.concatenate([d for d, _ in train])
    y_tr = np.concatenate([y for _, y in train])
    x_te, y_te = _read_cifar_batch(paths[-1])
    if limit is not None:
        x_tr, y_tr, x_te, y_te = x_tr[:limit], y_tr[:limit], x_te[:limit], y_te[:limit]
    if len(x_tr) == 0 or len(x_te) == 0:
        raise ValueError(f"directory={str(directory)!r}: the {'training' if len(x_tr) == 0 else 'test'} batches hold "
                         "no images: expected at least one")

    def images(rows):
        # (n, 3072) as (n, c, h, w) planes -> NHWC, scaled to [0, 1].
        return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255.0)

    x_tr, x_te = images(x_tr), images(x_te)
    attrs: dict[str, Any] = {
        "source": _CIFAR_SOURCE,
        "directory": str(root.resolve()),
        "files": [str(p.relative_to(root)) for p in paths],
        "n_train": len(x_tr),
        "n_test": len(x_te),
        "limit": limit,
        "layout": "(N, 32*32*3) flattened NHWC (h, w, c order)" if flatten else "(N, 32, 32, 3) NHWC",
        "scaling": "pixels / 255",
    }
    if standardize:
        x_tr, x_te, info = _standardize(x_tr, x_te, per_channel=True)
        attrs.update(info)
    else:
        attrs["standardization"] = _NO_STANDARDIZATION
    if flatten:
        x_tr, x_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    return Dataset(*_frozen(x_tr, y_tr, x_te, y_te), n_classes=10, name="cifar10", attrs=attrs)


# ----------------------------------------------------------------------------------------------
# Synthetic tasks
# ----------------------------------------------------------------------------------------------


def _check_sizes(n_train: Any, n_test: Any) -> tuple[int, int]:
    return check_int("n_train", n_train, 1), check_int("n_test", n_test, 1)


def _noisy(rng: np.random.Generator, y: np.ndarray, noise: float) -> np.ndarray:
    if noise == 0.0:
        return y
    return (y.astype(np.float64) + noise * rng.standard_normal(y.shape)).astype(np.float32)


def teacher(net: Any, *, n_train: int, n_test: int, dim: int | None = None, key: Any = 0, noise: float = 0.0,
            inputs: str = "gaussian") -> Dataset:
    """Regression on the outputs of one random network, the teacher (Seung, Sompolinsky & Tishby 1992).

    Inputs ``x`` of the two splits (training first) are drawn on the host from ``key`` (see the
    module docstring); the targets are the outputs of network 0 of
    ``jaxbias.sample(net, x, n=1, key=key)`` on all of them (so a net with batch norm sees both
    splits together). Training targets get ``noise * N(0, 1)`` added; test targets stay the
    teacher's exact outputs, so test error measures distance to the teacher.

    Args:
      net: a network (a jaxbias spec such as ``jb.nets.MLP(64, 2, "relu")``, or any
        ``init``/``apply`` pair); its spec is recorded in ``attrs["teacher"]``.
      n_train: training samples (>= 1).
      n_test: test samples (>= 1).
      dim: input dimension; ``None`` takes the net's ``in_dim`` if it declares one.
      key: int seed or jax PRNG key.
      noise: standard deviation of the Gaussian noise on training targets (>= 0).
      inputs: ``"gaussian"`` (``x ~ N(0, I_dim)``) or ``"sphere"`` (uniform on the sphere of radius
        ``sqrt(dim)``, the same mean squared norm).

    Returns:
      A :class:`Dataset` named ``"teacher"``: ``x (N, dim)``, ``y (N, n_out)`` float32 (inputs
      are not standardised further).

    Example:
      >>> import jaxbias as jb
      >>> data = teacher(jb.nets.MLP(16, 1, "relu"), n_train=8, n_test=4, dim=3, key=0)
      >>> data.task, data.x_train.shape, data.y_test.shape
      ('regression', (8, 3), (4, 1))
    """
    n_train, n_test = _check_sizes(n_train, n_test)
    noise = check_float("noise", noise, 0.0)
    if inputs not in ("gaussian", "sphere"):
        raise ValueError(f"inputs={inputs!r}: expected 'gaussian' or 'sphere'")
    if not (callable(getattr(net, "init", None)) and callable(getattr(net, "apply", None))):
        raise ValueError(f"net={net!r}: expected a network with init(key, x) and apply(params, x), e.g. "
                         "jb.nets.MLP(64, 2, 'relu')")
    if dim is None:
        dim = getattr(net, "in_dim", None)
        if dim is None:
            raise ValueError("dim=None: the net declares no in_dim; expected the input dimension (an integer >= 1)")
    dim = check_int("dim", dim, 1)
    rng_x, rng_noise = _streams(key, 2)
    n = n_train + n_test
    z = rng_x.standard_normal((n, dim))
    if inputs == "sphere":  # a normalised Gaussian vector is uniform on the sphere (Muller 1959)
        norm = np.linalg.norm(z, axis=1, keepdims=True)
        z = math.sqrt(dim) * z / np.where(norm > 0, norm, 1.0)
    x = z.astype(np.float32)
    y = engine.sample(net, x, n=1, key=as_key(key), progress=False)[0]
    if y.ndim != 2:
        raise ValueError(f"net gives outputs of shape {y.shape} on x of shape {x.shape}: expected (n_points, n_out)")
    y = np.asarray(y, dtype=np.float32)
    y_train = _noisy(rng_noise, y[:n_train], noise)
    attrs = {
        "source": "synthetic: outputs of one random network (teacher)",
        "teacher": nets.describe(net),
        "n_train": n_train,
        "n_test": n_test,
        "dim": dim,
        "inputs": inputs,
        "noise": noise,
        "noise_on": "train targets only",
        "key": _key_attr(key),
        "targets": "jaxbias.sample(net, x, n=1, key=key)[0] on the train then test inputs",
        "standardization": _NO_STANDARDIZATION,
    }
    return Dataset(*_frozen(x[:n_train], y_train, x[n_train:], y[n_train:]), n_classes=None, name="teacher",
                   attrs=attrs)


def _simplex_means(n_classes: int, separation: float) -> np.ndarray:
    """``(n_classes, n_classes - 1)`` vertices of a regular simplex centred at 0, pairwise ``separation`` apart.

    Vertex ``c`` is ``separation / sqrt(2)`` times the coordinates of ``e_c`` in the Helmert basis
    ``h_j = (1, ..., 1, -j, 0, ...) / sqrt(j (j + 1))`` (``j`` ones) of the plane orthogonal to
    ``(1, ..., 1)``.
    """
    k = n_classes
    helmert = np.zeros((k - 1, k))
    for j in range(1, k):
        helmert[j - 1, :j] = 1.0
        helmert[j - 1, j] = -float(j)
        helmert[j - 1] /= math.sqrt(j * (j + 1))
    return separation / math.sqrt(2.0) * helmert.T


def gaussian_mixture(*, n_classes: int = 2, dim: int = 2, n_train: int, n_test: int, separation: float = 3.0,
                     key: Any = 0) -> Dataset:
    """Classes drawn from unit Gaussians whose means are the vertices of a regular simplex.

    Class ``c`` is ``N(mu_c, I_dim)``; the means ``mu_c`` are centred at 0, pairwise
    ``separation`` apart, in the first ``n_classes - 1`` coordinates (the remaining coordinates
    are pure noise). With two classes the means are ``(+-separation / 2, 0, ...)`` and the Bayes
    error is ``Phi(-separation / 2)`` (``attrs["bayes_error"]``). Labels in each split are
    balanced (``arange(n) % n_classes``, shuffled).

    Args:
      n_classes: number of classes, 2 to ``dim + 1``.
      dim: input dimension (>= ``n_classes - 1``).
      n_train: training samples (>= 1).
      n_test: test samples (>= 1).
      separation: distance between any two class means (>= 0).
      key: int seed or jax PRNG key.

    Returns:
      A :class:`Dataset` named ``"gaussian_mixture"``: ``x (N, dim)`` float32, ``y (N,)`` int32.

    Example:
      >>> data = gaussian_mixture(n_classes=3, dim=4, n_train=30, n_test=9, key=0)
      >>> data.x_train.shape, sorted(set(data.y_test.tolist()))
      ((30, 4), [0, 1, 2])
    """
    n_classes = check_int("n_classes", n_classes, 2)
    dim = check_int("dim", dim, 1)
    if n_classes > dim + 1:
        raise ValueError(f"n_classes={n_classes}, dim={dim}: expected n_classes <= dim + 1 (equidistant means "
                         "need n_classes - 1 dimensions)")
    n_train, n_test = _check_sizes(n_train, n_test)
    separation = check_float("separation", separation, 0.0)
    means = np.zeros((n_classes, dim))
    means[:, : n_classes - 1] = _simplex_means(n_classes, separation)
    splits = []
    for rng, n in zip(_streams(key, 2), (n_train, n_test)):
        y = rng.permutation(np.arange(n, dtype=np.int32) % n_classes)
        splits.append(((means[y] + rng.standard_normal((n, dim))).astype(np.float32), y.astype(np.int32)))
    (x_tr, y_tr), (x_te, y_te) = splits
    attrs = {
        "source": "synthetic: Gaussian mixture, unit covariance, means on a regular simplex",
        "n_classes": n_classes,
        "dim": dim,
        "n_train": n_train,
        "n_test": n_test,
        "separation": separation,
        "means": means.tolist(),
        "key": _key_attr(key),
        "standardization": _NO_STANDARDIZATION,
    }
    if n_classes == 2:
        attrs["bayes_error"] = 0.5 * math.erfc(separation / 2.0 / math.sqrt(2.0))
    return Dataset(*_frozen(x_tr, y_tr, x_te, y_te), n_classes=n_classes, name="gaussian_mixture", attrs=attrs)


def sinusoids(*, frequencies: Sequence[float] = (1, 3), amplitudes: Sequence[float] | None = None, dim: int = 1,
              n_train: int, n_test: int, key: Any = 0, noise: float = 0.0) -> Dataset:
    """Regression on a sum of plane waves on ``[-1, 1]^dim`` (a spectral-bias task, Rahaman et al. 2019).

    ``f(x) = sum_j a_j sin(pi f_j <u_j, x> + phi_j)`` for ``x`` uniform on ``[-1, 1]^dim``: ``f_j``
    the ``frequencies`` (half-periods per unit length along ``u_j``), ``a_j`` the ``amplitudes``,
    ``u_j`` directions uniform on the unit sphere (``u_j = 1`` when ``dim == 1``) and phases
    ``phi_j`` uniform on ``[0, 2 pi)``. The function (``u``, ``phi``) is shared by the splits and
    recorded in ``attrs``; training targets get ``noise * N(0, 1)`` added.

    Args:
      frequencies: one or more finite frequencies ``f_j`` (>= 0).
      amplitudes: one per frequency; ``None`` gives ``a_j = 1``.
      dim: input dimension (>= 1).
      n_train: training samples (>= 1).
      n_test: test samples (>= 1).
      key: int seed or jax PRNG key.
      noise: standard deviation of the Gaussian noise on training targets (>= 0).

    Returns:
      A :class:`Dataset` named ``"sinusoids"``: ``x (N, dim)``, ``y (N, 1)`` float32.

    Example:
      >>> data = sinusoids(frequencies=(1, 3), n_train=16, n_test=8, key=0)
      >>> data.x_train.shape, data.y_train.shape, bool(abs(data.y_train).max() <= 2)
      ((16, 1), (16, 1), True)
    """
    if isinstance(frequencies, (str, bytes)) or not hasattr(frequencies, "__len__") or len(frequencies) == 0:
        raise ValueError(f"frequencies={frequencies!r}: expected a non-empty sequence of numbers >= 0")
    freqs = [check_float("frequencies", f, 0.0) for f in frequencies]
    if amplitudes is None:
        amps = [1.0] * len(freqs)
    else:
        if isinstance(amplitudes, (str, bytes)) or not hasattr(amplitudes, "__len__") \
                or len(amplitudes) != len(freqs):
            raise ValueError(f"amplitudes={amplitudes!r}: expected None or {len(freqs)} numbers, one per frequency")
        amps = [check_float("amplitudes", a) for a in amplitudes]
    dim = check_int("dim", dim, 1)
    n_train, n_test = _check_sizes(n_train, n_test)
    noise = check_float("noise", noise, 0.0)
    rng_fn, rng_train, rng_test, rng_noise = _streams(key, 4)
    m = len(freqs)
    u = rng_fn.standard_normal((m, dim))
    u = np.ones((m, 1)) if dim == 1 else u / np.linalg.norm(u, axis=1, keepdims=True)
    phase = rng_fn.uniform(0.0, 2.0 * np.pi, m)
    f, a = np.asarray(freqs), np.asarray(amps)

    def target(x):
        return (np.sin(np.pi * f * (x.astype(np.float64) @ u.T) + phase) @ a)[:, None].astype(np.float32)

    x_tr, x_te = (rng.uniform(-1.0, 1.0, (n, dim)).astype(np.float32)
                  for rng, n in ((rng_train, n_train), (rng_test, n_test)))
    attrs = {
        "source": "synthetic: f(x) = sum_j a_j sin(pi f_j <u_j, x> + phi_j), x uniform on [-1, 1]^dim",
        "frequencies": freqs,
        "amplitudes": amps,
        "directions": u.tolist(),
        "phases": phase.tolist(),
        "dim": dim,
        "n_train": n_train,
        "n_test": n_test,
        "noise": noise,
        "noise_on": "train targets only",
        "key": _key_attr(key),
        "standardization": _NO_STANDARDIZATION,
    }
    y_tr = _noisy(rng_noise, target(x_tr), noise)
    return Dataset(*_frozen(x_tr, y_tr, x_te, target(x_te)), n_classes=None, name="sinusoids", attrs=attrs)


def _parity(bits: np.ndarray) -> np.ndarray:
    return np.sum(bits, axis=1) % 2


def _majority(bits: np.ndarray) -> np.ndarray:
    return (2 * np.sum(bits, axis=1) > bits.shape[1]).astype(np.int64)


def _first_bit(bits: np.ndarray) -> np.ndarray:
    return bits[:, 0]


BOOLEAN_FUNCTIONS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = types.MappingProxyType({
    "parity": _parity,
    "majority": _majority,
    "first_bit": _first_bit,
})
"""Named Boolean functions of :func:`boolean`, on ``(2**n, n)`` {0, 1} int arrays: ``parity`` (sum of the
bits mod 2), ``majority`` (1 when more than half the bits are 1; a tie gives 0) and ``first_bit`` (column 0,
the most significant bit of the lexicographic order)."""


def _truth_table(function: Any, bits: np.ndarray) -> tuple[np.ndarray, str]:
    """The ``(2**n,)`` int64 truth table of ``function`` and a JSON-able description of it."""
    n_points = bits.shape[0]
    if isinstance(function, str):
        if function not in BOOLEAN_FUNCTIONS:
            raise ValueError(f"function={function!r}: expected a callable, a truth table, or one of "
                             f"{sorted(BOOLEAN_FUNCTIONS)}")
        table, what = BOOLEAN_FUNCTIONS[function](bits), function
    elif callable(function):
        table = function(bits)
        what = f"callable {getattr(function, '__qualname__', type(function).__name__)}"
    else:
        table, what = function, "truth table"
    try:
        t = np.asarray(table)
    except (TypeError, ValueError):
        raise ValueError(f"function={function!r}: its truth table is not an array") from None
    if t.shape != (n_points,):
        raise ValueError(f"function={function!r}: truth table of shape {t.shape}: expected ({n_points},), one "
                         "label per hypercube point in lexicographic order")
    if t.dtype == object or not (np.issubdtype(t.dtype, np.number) or t.dtype == np.bool_) \
            or not np.all(np.isin(t, (0, 1))):
        bad = (t[~np.isin(t, (0, 1))] if t.dtype != object else t).flat[0]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise ValueError(f"function={function!r}: truth table holds {bad!r}: expected labels 0 or 1")
    return t.astype(np.int64), what


def boolean(function: str | Callable | Any, *, n_bits: int, test_fraction: float = 0.5, key: Any = 0,
            values: str = "01") -> Dataset:
    """A Boolean function on ``{0, 1}^n_bits``, its ``2**n_bits`` points split into train and test.

    The points are those of :func:`jaxbias.inputs.hypercube` (row ``i`` is the binary expansion of
    ``i``, most significant bit first); a random ``round(test_fraction * 2**n_bits)`` of them
    (at least one, and at least one left for training) form the test split, and each split keeps
    the lexicographic order. Generalisation on held-out points of a Boolean function is the
    setting of Valle-Perez, Camargo & Louis (ICLR 2019).

    Args:
      function: a name in :data:`BOOLEAN_FUNCTIONS` (``"parity"``, ``"majority"``,
        ``"first_bit"``), a callable taking the ``(2**n_bits, n_bits)`` int {0, 1} array and
        returning its ``(2**n_bits,)`` {0, 1} labels, or such a truth table directly.
      n_bits: number of bits, 1 to 20.
      test_fraction: share of the points held out for testing, in ``(0, 1)``.
      key: int seed or jax PRNG key of the split (one random permutation, see the module docstring).
      values: input coding, ``"01"`` or ``"pm1"`` (0 -> -1, 1 -> +1); the function always sees
        {0, 1} bits, and labels are the class indices 0 and 1.

    Returns:
      A :class:`Dataset` named ``"boolean"`` with 2 classes: ``x (N, n_bits)`` float32, ``y (N,)`` int32.

    Example:
      >>> data = boolean("parity", n_bits=2, test_fraction=0.5, key=0)
      >>> sorted(zip(data.x_train.tolist() + data.x_test.tolist(), data.y_train.tolist() + data.y_test.tolist()))
      [([0.0, 0.0], 0), ([0.0, 1.0], 1), ([1.0, 0.0], 1), ([1.0, 1.0], 0)]
    """
    if values not in ("01", "pm1"):
        raise ValueError(f"values={values!r}: expected '01' or 'pm1'")
    x = np.asarray(inputs.hypercube(n_bits, values=values))
    n_bits = x.shape[1]
    bits = np.asarray(inputs.hypercube(n_bits, values="01")).astype(np.int64)
    table, what = _truth_table(function, bits)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    (rng,) = _streams(key, 1)
    train, test = _split(rng, None, len(x), test_fraction)
    attrs: dict[str, Any] = {
        "source": "synthetic: Boolean function on the hypercube, points split into train and test",
        "function": what,
        "n_bits": n_bits,
        "values": values,
        "n_train": len(train),
        "n_test": len(test),
        "test_fraction": test_fraction,
        "key": _key_attr(key),
        "truth_table_sha256": hashlib.sha256(table.astype(np.uint8).tobytes()).hexdigest(),
        "standardization": _NO_STANDARDIZATION,
    }
    if len(table) <= 1024:
        attrs["truth_table"] = "".join("1" if b else "0" for b in table)
    y = table.astype(np.int32)
    return Dataset(*_frozen(x[train], y[train], x[test], y[test]), n_classes=2, name="boolean", attrs=attrs)
