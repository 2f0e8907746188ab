"""Distributional simplicity bias: networks first use the class means, then the covariances, then the rest.

Refinetti, Ingrosso & Goldt, "Neural networks trained with SGD learn distributions of increasing
complexity", ICML 2023. The test of the claim: build *clones* of a data set that keep only its
low-order statistics, train the same initial networks (same keys, same data order) on each clone and
on the real data, and evaluate every network on the **real** test data. Early in training the
networks trained on a clone are as good on real data as those trained on the data itself (they use
only the statistics the clone kept); the curves separate once the real-data networks use more.

* :func:`clone` -- a clone of a :class:`~jaxbias.datasets.Dataset`'s training split: per-class mean
  only (isotropic Gaussian, ``"mean"``) or per-class mean and covariance (``"gaussian"``), an
  option for images (per-channel covariance without cross-channel terms, as the authors do for
  CIFAR-10), values clamped to the data's range, the real labels (so the real class frequencies),
  and the real test split as its test split; ``exact=True`` matches the sample mean and covariance
  of every class exactly.
* :func:`cumulant_task` -- a synthetic task whose classes share mean, covariance and third cumulant
  and differ in the fourth: its Gaussian clone holds no information at all.
* :func:`separation` -- the step at which two ensembles' curves separate, with a bootstrap interval.
* :func:`simplicity` -- the experiment: one :func:`jaxbias.train` run per training distribution,
  same key, returned as one labelled Dataset with dims ``(distribution, net, step)``.

Why a linear model cannot tell a moment-matched clone from the data (the exact check in the tests):
with ``f(x) = W x + b`` and the MSE loss ``L = (1 / 2NK) sum_i |W x_i + b - y_i|^2`` (``K`` outputs,
one-hot ``y``), ``dL/dW = (1/NK) (W S_xx + b s_x^T - S_yx)`` and ``dL/db = (1/NK) (W s_x + N b - s_y)``
with ``s_x = sum_i x_i``, ``S_xx = sum_i x_i x_i^T``, ``S_yx = sum_i y_i x_i^T`` (row ``c``:
``N_c mu_c``) and ``s_y`` the class counts. Since ``S_xx = sum_c [(N_c - 1) Sigma_c + N_c mu_c mu_c^T]``,
every full-batch gradient, hence the whole trajectory of gradient descent from a given
initialisation, depends on the data only through the class counts, means and covariances. A hidden
layer (the gradient involves ``phi(W x)``, all moments of ``x``) or the cross-entropy loss (the
softmax of ``W x`` is not quadratic in ``x``) break this.

>>> import numpy as np
>>> from jaxbias import datasets
>>> from jaxbias.experiments.dynamics.simplicity import clone
>>> real = datasets.digits(classes=(0, 1), key=0)
>>> fake = clone(real, "gaussian", key=0)
>>> fake.n_train == real.n_train, bool((fake.y_train == real.y_train).all()), fake.x_test is real.x_test
(True, True, True)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import xarray as xr

from jaxbias.datasets import Dataset
from jaxbias.keys import as_key
from jaxbias.results import result_attrs
from jaxbias.validation import check_float, check_int

__all__ = ["CLONES", "CLAMPS", "clone", "cumulant_task", "separation", "simplicity", "bonferroni_k"]

CLONES = ("mean", "gaussian")
"""Clone kinds: ``"mean"`` (per-class mean, isotropic covariance), ``"gaussian"`` (mean and covariance)."""

CLAMPS = ("global", "feature", "none")
"""Clamping of clone values: to the data's overall ``[min, max]``, to each feature's, or not at all."""

_CLONE_DESCRIPTIONS = {
    "mean": "per class c: x ~ N(mu_c, v_c I), mu_c the class mean, v_c = tr(Sigma_c) / D its average feature variance",
    "gaussian": "per class c: x ~ N(mu_c, Sigma_c + ridge * tr(Sigma_c) / D * I), Sigma_c the class covariance "
                "with 1 / (N_c - 1)",
}


def _seed(key: Any) -> np.random.Generator:
    """A numpy generator seeded by the key's data (as :mod:`jaxbias.datasets` does)."""
    import jax

    return np.random.default_rng(np.random.SeedSequence(np.asarray(jax.random.key_data(as_key(key))).tolist()))


def _groups(shape: tuple[int, ...], channels: int | None) -> list[np.ndarray]:
    """Feature indices (of the flattened input) that share one covariance: all, or one group per channel."""
    size = math.prod(shape)
    if channels is None:
        return [np.arange(size)]
    channels = check_int("channels", channels, 1)
    if shape[-1] == channels and len(shape) > 1:
        pass  # (..., C) images: channels last
    elif len(shape) != 1 or size % channels:
        raise ValueError(f"channels={channels}: inputs of shape {shape} are neither (..., {channels}) images nor "
                         f"flat vectors whose length is a multiple of {channels} (h, w, c order)")
    return [np.arange(c, size, channels) for c in range(channels)]


def _whitened(rng: np.random.Generator, n: int, d: int, exact: bool) -> np.ndarray:
    """``(n, d)`` standard normal draws; ``exact``: centred and whitened so their sample covariance is I."""
    z = rng.standard_normal((n, d))
    if not exact:
        return z
    if n - 1 < d:
        raise ValueError(f"exact=True: a class with {n} samples cannot match a {d}-dimensional covariance exactly "
                         f"(needs at least {d + 1}); use exact=False or channels=")
    z = z - z.mean(axis=0)
    lam, v = np.linalg.eigh(z.T @ z / (n - 1))
    return z @ (v / np.sqrt(lam)) @ v.T


def _factor(cov: np.ndarray) -> np.ndarray:
    """``L`` with ``L L^T = cov`` for a symmetric positive semi-definite ``cov`` (eigenvalues below 0 are rounding)."""
    lam, v = np.linalg.eigh(cov)
    return v * np.sqrt(np.clip(lam, 0.0, None))


def clone(data: Dataset, kind: str = "gaussian", *, ridge: float = 1e-3, channels: int | None = None,
          clamp: str = "global", exact: bool = False, key: Any = 0) -> Dataset:
    """A clone of ``data``'s training split that keeps only its per-class low-order statistics.

    Refinetti, Ingrosso & Goldt 2023 (ICML), section 3: a Gaussian mixture with one component per
    class, fitted to the training split. Sample ``i`` of the clone has the real label ``y_train[i]``
    (so the class frequencies, and the labels a minibatch of a given data order holds, are the
    real ones); its input is drawn from its class's Gaussian. The test split is the real one, so
    :func:`jaxbias.train` on the clone measures accuracy on real data.

    Args:
      data: a classification :class:`~jaxbias.datasets.Dataset` with at least 2 training samples per class.
      kind: ``"mean"``: ``N(mu_c, v_c I)`` with ``v_c = tr(Sigma_c) / D`` (the class mean, and only the
        overall scale of its spread); ``"gaussian"``: ``N(mu_c, Sigma_c + ridge tr(Sigma_c) / D I)``.
      ridge: added to the covariance's diagonal, relative to the class's average feature variance
        (``"gaussian"`` only; keeps the factorisation stable where features are constant).
      channels: images only: the number of channels ``C``. Inputs ``(..., C)`` or flat vectors in
        ``(h, w, c)`` order; each channel gets its own covariance over the pixels, with no
        cross-channel terms (the authors' CIFAR-10 clones). None: one covariance over all features.
      clamp: ``"global"`` clips the clone to the training split's ``[min, max]`` (the authors clip to
        the pixel range), ``"feature"`` to each feature's ``[min, max]``, ``"none"`` keeps the draws.
      exact: whiten the draws of each class so that the clone's per-class sample mean and covariance
        (``1 / (N_c - 1)``) equal the Gaussian's parameters exactly, up to float32 rounding: then a
        linear model trained by full-batch gradient descent with MSE cannot tell the clone from the
        data (module docstring). Needs ``clamp="none"`` and ``N_c > D`` (per channel group).
      key: int seed or jax key of the draws.

    Returns:
      A :class:`~jaxbias.datasets.Dataset` named ``"<name>-<kind>-clone"``; ``attrs`` say how it was made
      and carry the real data's description (with its SHA-256).

    Raises:
      ValueError: naming the argument: an unknown kind or clamp, a regression data set, a class with
        fewer than 2 training samples, channels that do not fit, ``exact`` with clamping.
    """
    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__}: expected a jaxbias.datasets.Dataset")
    if data.task != "classification":
        raise ValueError(f"data={data.name}: clones are per class; expected a classification data set")
    if kind not in CLONES:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(map(repr, CLONES))}")
    if clamp not in CLAMPS:
        raise ValueError(f"clamp={clamp!r}: expected one of {', '.join(map(repr, CLAMPS))}")
    ridge = check_float("ridge", ridge, 0.0)
    if exact and clamp != "none":
        raise ValueError(f"exact=True with clamp={clamp!r}: clamping changes the moments; use clamp='none'")
    shape = data.input_shape
    x = np.asarray(data.x_train, np.float64).reshape(data.n_train, -1)
    y = np.asarray(data.y_train)
    groups = _groups(shape, channels)
    rng = _seed(key)
    out = np.empty_like(x)
    counts = np.bincount(y, minlength=data.n_classes)
    for c in range(data.n_classes):
        rows = np.flatnonzero(y == c)
        if rows.size == 0:
            continue
        if rows.size < 2:
            raise ValueError(f"data={data.name}: class {c} has {rows.size} training sample; a covariance needs at least 2")
        xc = x[rows]
        for g in groups:
            xg = xc[:, g]
            mu = xg.mean(axis=0)
            cov = np.cov(xg, rowvar=False, ddof=1).reshape(len(g), len(g))
            scale = np.trace(cov) / len(g)
            if kind == "mean":
                factor = math.sqrt(scale) * np.eye(len(g))
            else:
                factor = _factor(cov + ridge * scale * np.eye(len(g)))
            z = _whitened(rng, rows.size, len(g), exact)
            out[np.ix_(rows, g)] = mu + z @ factor.T
    if clamp == "global":
        out = np.clip(out, x.min(), x.max())
    elif clamp == "feature":
        out = np.clip(out, x.min(axis=0), x.max(axis=0))
    x_clone = out.astype(np.float32).reshape((data.n_train,) + shape)
    x_clone.setflags(write=False)
    attrs = {
        "source": f"clone of {data.name} (Refinetti, Ingrosso & Goldt 2023): {_CLONE_DESCRIPTIONS[kind]}",
        "kind": kind,
        "ridge": ridge if kind == "gaussian" else None,
        "ridge_convention": "relative: ridge * tr(Sigma_c) / D added to the diagonal",
        "channels": channels,
        "covariance": "per channel over pixels, no cross-channel terms" if channels else "over all features",
        "clamp": clamp,
        "exact": bool(exact),
        "labels": "the real training labels, sample by sample (real class frequencies: "
                  + ", ".join(str(int(n)) for n in counts) + ")",
        "test_split": "the real test split",
        "key": key if isinstance(key, (int, np.integer)) else repr(key),
        "standardization": data.attrs.get("standardization", "none"),
        "real_data": data.describe(),
    }
    return Dataset(x_clone, data.y_train, data.x_test, data.y_test, n_classes=data.n_classes,
                   name=f"{data.name}-{kind}-clone", attrs=attrs)


def cumulant_task(*, n_train: int = 2048, n_test: int = 1024, dim: int = 4, noise: float = 0.1, rotate: bool = True,
                  key: Any = 0) -> Dataset:
    """Two classes with equal mean, covariance and third cumulant, different fourth cumulant.

    Class 0: ``x = Q z`` with ``z ~ N(0, I_D)``. Class 1: the same, except ``z_1 = s sqrt(1 - noise^2)
    + noise g`` with ``s = +-1`` (equal odds) and ``g ~ N(0, 1)``: a bimodal coordinate of zero mean,
    unit variance and zero skewness, whose excess kurtosis is ``-2 (1 - noise^2)^2`` (a Gaussian's is
    0). ``Q`` is a random rotation (``rotate``) so the informative direction is no coordinate axis.
    Both classes have mean 0 and covariance ``I`` in the population, so a Gaussian clone (or a
    mean clone) of this task is one Gaussian for both classes and must stay at chance on real test
    data, while a network that finds the bimodal direction beats chance: the information is only
    in the higher cumulants, as in Refinetti et al. 2023's synthetic tasks. Balanced classes,
    shuffled; the Bayes accuracy is stored in ``attrs`` (numerical quadrature of the 1-D problem).

    Args:
      n_train, n_test: samples per split (>= 2).
      dim: input dimension ``D`` (>= 1).
      noise: the Gaussian spread of the bimodal coordinate's two peaks, in ``[0, 1)``.
      rotate: rotate by a random orthogonal ``Q``; False keeps ``Q = I``.
      key: int seed or jax key.

    Returns:
      A :class:`~jaxbias.datasets.Dataset` named ``"cumulants"``, ``x (N, D)`` float32, ``y (N,)`` int32.

    Example:
      >>> data = cumulant_task(n_train=64, n_test=32, dim=4, key=0)
      >>> data.input_shape, data.n_classes, round(data.attrs["bayes_accuracy"], 3)
      ((4,), 2, 0.881)
    """
    n_train = check_int("n_train", n_train, 2)
    n_test = check_int("n_test", n_test, 2)
    dim = check_int("dim", dim, 1)
    noise = check_float("noise", noise, 0.0)
    if noise >= 1:
        raise ValueError(f"noise={noise}: expected a value in [0, 1) (the peaks' spread, within unit variance)")
    rng = _seed(key)
    q = np.linalg.qr(rng.standard_normal((dim, dim)))[0] if rotate else np.eye(dim)

    def draw(n):
        y = rng.permutation(np.arange(n) % 2)
        z = rng.standard_normal((n, dim))
        s = rng.choice([-1.0, 1.0], n)
        z[:, 0] = np.where(y == 1, s * math.sqrt(1 - noise ** 2) + noise * z[:, 0], z[:, 0])
        return (z @ q.T).astype(np.float32), y.astype(np.int32)

    x_tr, y_tr = draw(n_train)
    x_te, y_te = draw(n_test)
    # Bayes accuracy: 1/2 + 1/4 int |p1 - p0| dz along the informative coordinate.
    t = np.linspace(-8, 8, 160001)
    p0 = np.exp(-t ** 2 / 2) / math.sqrt(2 * math.pi)
    a = math.sqrt(1 - noise ** 2)
    if noise > 0:
        p1 = 0.5 * sum(np.exp(-(t - m) ** 2 / (2 * noise ** 2)) for m in (a, -a)) / (noise * math.sqrt(2 * math.pi))
        bayes = 0.5 + 0.25 * float(np.sum(np.abs(p1 - p0)) * (t[1] - t[0]))
    else:
        bayes = 1.0  # point masses at +-1 against a density: separable almost surely
    attrs = {
        "source": "synthetic (after Refinetti, Ingrosso & Goldt 2023): class 0 x = Q z, z ~ N(0, I); class 1 the "
                  "same but z_1 = s sqrt(1 - noise^2) + noise g, s = +-1: equal mean, covariance and third "
                  "cumulant, excess kurtosis -2 (1 - noise^2)^2 along Q e_1",
        "dim": dim, "noise": noise, "rotate": bool(rotate), "n_train": n_train, "n_test": n_test,
        "excess_kurtosis_class_1": -2 * (1 - noise ** 2) ** 2,
        "bayes_accuracy": bayes,
        "direction": q[:, 0].tolist(),
        "key": key if isinstance(key, (int, np.integer)) else repr(key),
        "standardization": "none",
    }
    for arr in (x_tr, y_tr, x_te, y_te):
        arr.setflags(write=False)
    return Dataset(x_tr, y_tr, x_te, y_te, n_classes=2, name="cumulants", attrs=attrs)


def bonferroni_k(n_steps: int, alpha: float = 0.05, n_nets: int | None = None) -> float:
    """Standard errors for a family-wise level ``alpha`` over ``n_steps`` recorded steps (two-sided Bonferroni).

    The quantile ``1 - alpha / (2 n_steps)`` of Student's t with ``n_nets - 1`` degrees of freedom (the
    standard error is estimated from ``n_nets`` networks), or of the normal distribution when
    ``n_nets`` is None: 3.48 for 100 steps at 5 %; 4.42 with 16 networks.
    """
    from scipy import stats

    q = 1 - alpha / (2 * check_int("n_steps", n_steps, 1))
    if n_nets is None:
        return float(stats.norm.ppf(q))
    return float(stats.t.ppf(q, check_int("n_nets", n_nets, 2) - 1))


def _first_separated(d: np.ndarray, k: float, min_difference: float) -> int:
    """Index of the first step where ``|mean d| > k SE`` and ``|mean d| >= min_difference``; -1 if none.

    ``d``: ``(n_nets, n_steps)`` paired differences (or ``(B, n_nets, n_steps)``: one answer per row).
    """
    n = d.shape[-2]
    mean = d.mean(axis=-2)
    se = d.std(axis=-2, ddof=1) / math.sqrt(n)
    hit = (np.abs(mean) > k * se) & (np.abs(mean) >= min_difference)
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


def separation(a: np.ndarray, b: np.ndarray, steps: Sequence[int], *, k: float | None = None,
               min_difference: float = 0.01, n_boot: int = 1000, confidence: float = 0.95, key: Any = 0) -> dict:
    """The step at which two ensembles' curves separate, with a bootstrap interval over networks.

    Definition: with paired curves (network ``i`` of both ensembles starts from the same
    initialisation) ``d_i(t) = a_i(t) - b_i(t)``, mean ``m(t)`` and standard error ``se(t) =
    sd_i(d_i(t)) / sqrt(n)`` across networks, the separation step is the first recorded ``t`` with
    ``|m(t)| > k se(t)`` and ``|m(t)| >= min_difference``. ``k`` defaults to a Bonferroni bound over
    the recorded steps with Student's t for the estimated standard error (:func:`bonferroni_k`:
    family-wise 5 %), so noise alone rarely separates the curves; ``min_difference`` keeps a large ensemble from declaring differences nobody would see.
    The interval: the same definition on ``n_boot`` resamples of the networks (with replacement,
    pairs kept), its ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (``inf`` where
    resamples never separate within the run).

    Args:
      a, b: ``(n_nets, n_steps)`` curves (e.g. real-test accuracy of networks trained on the data and
        on a clone), ``n_nets >= 2``.
      steps: ``(n_steps,)`` the recorded steps.
      k: standard errors; None: :func:`bonferroni_k` of ``n_steps`` and ``n_nets``.
      min_difference: smallest ``|m(t)|`` that counts (units of the curves: 0.01 = one accuracy point).
      n_boot: bootstrap resamples (0: no interval).
      confidence: of the interval.
      key: seed of the resampling.

    Returns:
      dict: ``step`` (float; ``inf`` if the curves never separate), ``low``, ``high``, ``fraction``
      (share of resamples that separate), ``k``, ``min_difference``, ``mean`` and ``se`` (``(n_steps,)``).

    Example:
      >>> import numpy as np
      >>> steps = np.arange(6)
      >>> a = np.tile([0.1, 0.2, 0.4, 0.8, 0.9, 0.9], (16, 1)) + 0.01 * np.random.default_rng(0).normal(size=(16, 6))
      >>> b = np.tile([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], (16, 1))
      >>> separation(a, b, steps, n_boot=200)["step"]
      2.0
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    steps = np.asarray(steps)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] < 2 or a.shape[1] != steps.shape[0]:
        raise ValueError(f"a with shape {a.shape}, b with shape {b.shape}, steps with shape {steps.shape}: expected "
                         "two (n_nets >= 2, n_steps) arrays and n_steps steps")
    k = bonferroni_k(len(steps), n_nets=a.shape[0]) if k is None else check_float("k", k, 0.0)
    min_difference = check_float("min_difference", min_difference, 0.0)
    n_boot = check_int("n_boot", n_boot, 0)
    confidence = check_float("confidence", confidence, 0.0)
    if confidence >= 1:
        raise ValueError(f"confidence={confidence}: expected a value in (0, 1)")
    d = a - b
    as_step = lambda i: np.where(i >= 0, steps[np.maximum(i, 0)].astype(np.float64), np.inf)  # noqa: E731
    point = float(as_step(_first_separated(d, k, min_difference)))
    low = high = fraction = math.nan
    if n_boot:
        rng = _seed(key)
        found = []
        for start in range(0, n_boot, 256):  # resamples in blocks: (block, n, steps) at a time
            idx = rng.integers(0, d.shape[0], (min(256, n_boot - start), d.shape[0]))
            found.append(as_step(_first_separated(d[idx], k, min_difference)))
        found = np.concatenate(found)
        q = np.quantile(found, [(1 - confidence) / 2, (1 + confidence) / 2], method="inverted_cdf")
        low, high, fraction = float(q[0]), float(q[1]), float(np.mean(np.isfinite(found)))
    return {"step": point, "low": low, "high": high, "fraction": fraction, "k": k, "min_difference": min_difference,
            "mean": d.mean(axis=0), "se": d.std(axis=0, ddof=1) / math.sqrt(d.shape[0])}


def simplicity(data: Dataset, net, optimizer, *, n: int, steps: int, key: Any = 0,
               clones: Sequence[str] = CLONES, loss: str = "mse", batch_size: int | None = None,
               record: int | Sequence[int] = 100, ridge: float = 1e-3, channels: int | None = None,
               clamp: str = "global", clone_key: Any = 0, k: float | None = None, min_difference: float = 0.01,
               n_boot: int = 1000, options=None, progress: bool | None = None) -> xr.Dataset:
    """Trains the same ``n`` initial networks on ``data`` and on each clone; measures all on the real test data.

    Refinetti, Ingrosso & Goldt 2023: networks trained with SGD first learn what the class means
    carry, then the covariances, then higher-order statistics. Each training distribution is one
    :func:`jaxbias.train` run with the same ``key``, so network ``i`` starts from the same
    parameters and (``data_order="per_net"``, same training-set size) sees the same sequence of
    sample indices, hence the same labels, on every distribution; only the inputs differ.

    Args:
      data: a classification :class:`~jaxbias.datasets.Dataset` (digits, :func:`cumulant_task`, MNIST,
        CIFAR-10 with ``channels=3``, ...).
      net: a network spec with ``data.out_dim`` outputs.
      optimizer: a :class:`jaxbias.training.Optimizer` or optax transformation.
      n: networks per distribution (>= 2: the separation needs a spread).
      steps: training steps.
      key: seed of the networks and data orders (shared by all distributions).
      clones: clone kinds to train on besides the data (:data:`CLONES`).
      loss: ``"mse"`` or ``"cross_entropy"``.
      batch_size: minibatch size; None: full-batch gradient descent.
      record: about this many log-spaced steps (or the steps themselves).
      ridge, channels, clamp: of :func:`clone`.
      clone_key: seed of the clones' draws.
      k, min_difference, n_boot: of :func:`separation` (on real-test accuracy).
      options: :class:`jaxbias.RunOptions`.
      progress: progress bar (as :func:`jaxbias.train`).

    Returns:
      ``xarray.Dataset`` with coordinate ``distribution`` (``"data"``, then the clones), dims
      ``(distribution, net, step)``: ``test_accuracy`` and ``test_loss`` (real test data),
      ``train_accuracy`` and ``train_loss`` (each distribution's own training set), ``diverged_step
      (distribution, net)``; per clone (dim ``clone``): ``separation_step``, ``separation_low``,
      ``separation_high``, ``separation_fraction``, ``accuracy_gap (clone, step)`` (mean across
      networks of data minus clone accuracy) and ``accuracy_gap_se``. Attrs: the config (data and
      clones described, preprocessing, net, optimizer, loss, record steps, separation definition).
    """
    from jaxbias.training import train

    if not isinstance(data, Dataset):
        raise ValueError(f"data={type(data).__name__}: expected a jaxbias.datasets.Dataset")
    if isinstance(clones, str):
        clones = (clones,)
    clones = tuple(clones)
    for kind in clones:
        if kind not in CLONES:
            raise ValueError(f"clones={clones!r}: {kind!r} is not one of {', '.join(map(repr, CLONES))}")
    if not clones or len(set(clones)) != len(clones):
        raise ValueError(f"clones={clones!r}: expected one or more distinct clone kinds")
    n = check_int("n", n, 2)
    distributions = {"data": data}
    for kind in clones:
        distributions[kind] = clone(data, kind, ridge=ridge, channels=channels, clamp=clamp, key=clone_key)
    runs = {}
    for name, d in distributions.items():
        runs[name] = train(net, d, optimizer, n=n, key=key, loss=loss, steps=steps, batch_size=batch_size,
                           record=record, eval_train=True, options=options, progress=progress)
    first = runs["data"]
    recorded = first["step"].values
    variables = ["test_accuracy", "test_loss", "train_accuracy", "train_loss", "diverged_step"]
    ds = xr.concat([runs[name][variables] for name in distributions], dim="distribution")
    ds = ds.assign_coords(distribution=list(distributions))
    real = ds["test_accuracy"].sel(distribution="data").transpose("net", "step").values
    rows = []
    for kind in clones:
        other = ds["test_accuracy"].sel(distribution=kind).transpose("net", "step").values
        rows.append(separation(real, other, recorded, k=k, min_difference=min_difference, n_boot=n_boot, key=key))
    ds["separation_step"] = ("clone", [r["step"] for r in rows])
    ds["separation_low"] = ("clone", [r["low"] for r in rows])
    ds["separation_high"] = ("clone", [r["high"] for r in rows])
    ds["separation_fraction"] = ("clone", [r["fraction"] for r in rows])
    ds["accuracy_gap"] = (("clone", "step"), np.stack([r["mean"] for r in rows]))
    ds["accuracy_gap_se"] = (("clone", "step"), np.stack([r["se"] for r in rows]))
    ds = ds.assign_coords(clone=list(clones))
    import json

    engine_config = json.loads(first.attrs["config"])
    config = {
        "experiment": "distributional simplicity bias (Refinetti, Ingrosso & Goldt, ICML 2023)",
        "data": data.describe(),
        "preprocessing": data.attrs.get("standardization", "none"),
        "clones": {kind: dict(distributions[kind].attrs, real_data=None) for kind in clones},
        "net": net, "optimizer": engine_config["optimizer"], "loss": engine_config["loss"], "n": n,
        "steps": engine_config["steps"], "batch_size": engine_config["batch_size"],
        "data_order": engine_config["data_order"], "record": engine_config["record"],
        "evaluation": "every network on the real test split; train_* on each distribution's own training split",
        "separation": {"definition": "first recorded step t with |m(t)| > k se(t) and |m(t)| >= min_difference, "
                                     "m and se the mean and standard error across networks of the paired real-test "
                                     "accuracy difference (data minus clone); interval: bootstrap over networks",
                       "k": rows[0]["k"], "min_difference": min_difference, "n_boot": n_boot, "confidence": 0.95},
        "engine": {"conventions": engine_config["conventions"], "micro_batch": engine_config["micro_batch"]},
    }
    ds.attrs = result_attrs(config, key)
    return ds
