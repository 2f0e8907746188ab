"""Spectra: eigen against numpy.linalg.eigh, Lanczos against eigh, summaries against closed forms,
Walsh spectra against explicit characters (products over bits) and numpy eigh, detection of bad kernels."""

import functools
import itertools
import math
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.kernels import spectra
from jaxbias.kernels.spectra import KernelWarning


XC = jb.inputs.hypercube(4)  # 16 points: one net and one point set for every finite-network test


@functools.lru_cache(maxsize=None)
def finite_case():
    """A small ReLU net with 2 outputs, its parameters, and its empirical NTK on XC (float64)."""
    net = jb.nets.mlp(16, 2, "relu", out=2, bias_var=0.1)
    params = net.init(jax.random.key(0), XC)
    return net, params, np.asarray(jb.kernels.empirical_ntk(net, params, XC), np.float64)


def psd_matrix(n, decay=1.0, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    values = (1.0 + np.arange(n)) ** -decay
    return (q * values) @ q.T, values


def test_eigen_matches_numpy_eigh():
    k, _ = psd_matrix(40)
    ref_values, ref_vectors = np.linalg.eigh(k)
    s = jb.kernels.eigen(k)
    chex.assert_trees_all_close(s.values, ref_values[::-1], rtol=1e-10, atol=1e-12)
    overlap = np.abs(s.vectors.T @ ref_vectors[:, ::-1])  # eigenvectors up to sign (distinct eigenvalues)
    chex.assert_trees_all_close(overlap, np.eye(40), rtol=1e-7, atol=1e-8)
    top = jb.kernels.eigen(k.astype(np.float32), top=5, vectors=False)
    chex.assert_trees_all_close(top.values, ref_values[::-1][:5], rtol=1e-5)
    assert top.vectors is None and top.check.psd and top.check.symmetric


def test_lanczos_matches_eigh():
    k, values = psd_matrix(300, decay=1.5, seed=1)
    s = jb.kernels.lanczos(lambda v: k @ v, 300, 6, eps=1e-16)
    chex.assert_trees_all_close(s.values, values[:6], rtol=1e-9)
    ref = np.linalg.eigh(k)[1][:, ::-1][:, :6]
    chex.assert_trees_all_close(np.abs(np.sum(s.vectors * ref, axis=0)), 1.0, rtol=1e-7, atol=1e-6)
    assert np.all(s.residuals < 1e-6)


def test_eigen_switches_to_lanczos_beyond_dense_max(monkeypatch):
    monkeypatch.setattr(spectra, "DENSE_MAX", 50)
    k, values = psd_matrix(120, decay=2.0)
    s = jb.kernels.eigen(k, top=4)
    assert s.residuals is not None  # the Lanczos path
    chex.assert_trees_all_close(s.values, values[:4], rtol=1e-7)
    with pytest.raises(ValueError, match="needs top"):
        jb.kernels.eigen(k)


def test_lanczos_on_ntk_vector_products_matches_dense_ntk():
    net, params, k = finite_case()
    dense = np.linalg.eigvalsh(k)[::-1]
    s = jb.kernels.eigen(jb.kernels.ntk_matvec(net, params, XC), n=16, top=3)
    chex.assert_trees_all_close(s.values, dense[:3], rtol=1e-4)


def test_not_psd_asymmetric_and_ill_conditioned_are_reported():
    k, _ = psd_matrix(10)
    bad = k - 0.5 * np.eye(10)  # smallest eigenvalue 0.1 - 0.5 < 0
    with pytest.warns(KernelWarning, match="not positive semi-definite"):
        s = jb.kernels.eigen(bad)
    assert not s.check.psd and s.check.min_eigenvalue == pytest.approx(0.1 - 0.5)
    with pytest.raises(ValueError, match="not positive semi-definite.*jitter"):
        jb.kernels.eigen(bad, check="raise")
    asym = k.copy()
    asym[0, 1] += 0.1
    with pytest.warns(KernelWarning, match="asymmetric"):
        jb.kernels.eigen(asym)
    v = np.random.default_rng(0).standard_normal((10, 3))
    low_rank = v @ v.T  # rank 3: zero eigenvalues, condition number huge
    with pytest.warns(KernelWarning, match="ill-conditioned"):
        jb.kernels.eigen(low_rank)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = jb.kernels.eigen(low_rank, jitter=1e-3)  # jitter regularizes it: no warning
    assert s.jitter == 1e-3 and s.values[-1] == pytest.approx(1e-3, rel=1e-6)
    assert not spectra.check_kernel(low_rank.astype(np.float32)).well_conditioned


def test_effective_rank_condition_number_power_law():
    assert jb.kernels.effective_rank(np.ones(7)) == pytest.approx(7.0)
    assert jb.kernels.effective_rank([5.0, 0.0, 0.0]) == pytest.approx(1.0)
    p = 0.3
    assert jb.kernels.effective_rank([p, 1 - p]) == pytest.approx(math.exp(-p * math.log(p) - (1 - p) * math.log(1 - p)))
    assert jb.kernels.condition_number([4.0, 2.0, 0.5]) == pytest.approx(8.0)
    assert jb.kernels.condition_number([1.0, 0.0]) == math.inf
    ranks = np.arange(1, 51)
    fit = jb.kernels.power_law_fit(3.0 * ranks**-1.5)
    assert fit.exponent == pytest.approx(1.5) and fit.amplitude == pytest.approx(3.0) and fit.r2 == pytest.approx(1.0)
    fit = jb.kernels.power_law_fit(np.where(ranks <= 10, 2.0 * ranks**-0.7, 1e-9 * ranks), k_min=1, k_max=10)
    assert fit.exponent == pytest.approx(0.7) and fit.k_max == 10


def test_target_and_kernel_alignment():
    k, _ = psd_matrix(12, seed=2)
    s = jb.kernels.eigen(k)
    y = np.random.default_rng(1).standard_normal(12)
    frac = jb.kernels.target_alignment(s.vectors, y)
    assert frac.sum() == pytest.approx(1.0)
    one = jb.kernels.target_alignment(s.vectors, s.vectors[:, 3])
    chex.assert_trees_all_close(one, np.eye(12)[3], rtol=1e-7, atol=1e-12)
    assert jb.kernels.kernel_alignment(np.outer(y, y), y) == pytest.approx(1.0)
    assert jb.kernels.kernel_alignment(np.eye(12), y) == pytest.approx(1 / math.sqrt(12))


def characters(bits):
    """chi_S(x) = (-1)^(sum_{i in S} x_i) for every subset S, written out: (2^n subsets, 2^n points)."""
    n = bits.shape[1]
    subsets = [s for d in range(n + 1) for s in itertools.combinations(range(n), d)]
    chi = np.array([[(-1) ** int(sum(b[i] for i in s)) for b in bits] for s in subsets], np.float64)
    return subsets, chi


def direct_walsh(k, bits):
    subsets, chi = characters(bits)
    values = np.einsum("sx,xy,sy->s", chi, k, chi) / bits.shape[0]
    n = bits.shape[1]
    return np.array([np.mean([v for s, v in zip(subsets, values) if len(s) == d]) for d in range(n + 1)])


def test_walsh_spectrum_of_hamming_kernel_matches_projection():
    n = 5
    x = np.asarray(jb.inputs.hypercube(n), np.float64)
    perm = np.random.default_rng(0).permutation(2**n)  # any order of the points
    x = x[perm]
    hamming = np.abs(x[:, None, :] - x[None, :, :]).sum(-1)
    profile = np.random.default_rng(1).random(n + 1)
    k = np.exp(-hamming / 2.0) + profile[hamming.astype(int)] * 0.1
    w = jb.kernels.walsh_spectrum(k, x)
    chex.assert_trees_all_close(w.eigenvalue, direct_walsh(k, x.astype(int)), rtol=1e-10)
    assert w.off_diagonal < 1e-12 and np.all(w.spread < 1e-10) and w.exact and w.coding == "01"
    chex.assert_trees_all_equal(w.multiplicity, np.asarray([1, 5, 10, 10, 5, 1]))
    chex.assert_trees_all_equal(w.count, w.multiplicity)
    chex.assert_trees_all_close(w.rayleigh, w.eigenvalue, rtol=1e-14)
    # the eigenvalues with their multiplicities are the whole spectrum of k
    repeated = np.sort(np.repeat(w.eigenvalue, w.multiplicity))
    chex.assert_trees_all_close(repeated, np.linalg.eigvalsh(k), rtol=1e-7, atol=1e-10)
    chex.assert_trees_all_close(w.values, np.linalg.eigvalsh(k)[::-1], rtol=1e-7, atol=1e-10)
    w_pm1 = jb.kernels.walsh_spectrum(k, 2 * x - 1)
    chex.assert_trees_all_close(w_pm1.eigenvalue, w.eigenvalue, rtol=1e-12)
    assert w_pm1.coding == "pm1"


def test_walsh_spectrum_of_finite_net_kernel():
    k = finite_case()[2]
    w = jb.kernels.walsh_spectrum(k, XC)
    chex.assert_trees_all_close(w.rayleigh, direct_walsh(k, np.asarray(XC, int)), rtol=1e-9)
    assert w.off_diagonal > 0.01 and not w.exact  # a finite network is not exactly invariant under bit flips
    chex.assert_trees_all_close(w.values, np.linalg.eigvalsh(k)[::-1], rtol=1e-10, atol=1e-10)
    assert w.count.sum() == 16


# Walsh spectra against independent references: the character matrix written out as products over
# bits (no fast transform), numpy eigh, and the projection of each eigenspace on each degree.


def character_matrix(x):
    """chi_S(x) = prod_{i in S} s_i(x) with s = +1 for bit 0 and -1 for bit 1, for every subset S:
    ((2^n,) degrees, (2^n subsets, 2^n points)); x in {0,1} or {-1,+1} (-1 is bit 0)."""
    x = np.asarray(x, np.float64)
    signs = 1.0 - 2.0 * x if x.min() >= 0 else -x  # {0,1}: 1 - 2 b;  {-1,+1}: -1 -> +1 (bit 0), +1 -> -1
    n = x.shape[1]
    subsets = [s for d in range(n + 1) for s in itertools.combinations(range(n), d)]
    chi = np.ones((len(subsets), x.shape[0]))
    for row, subset in enumerate(subsets):
        for i in subset:
            chi[row] *= signs[:, i]
    return np.array([len(s) for s in subsets]), chi


def reference_walsh(k, x):
    """Eigenvalues (descending) by numpy eigh, each eigenspace's energy on each degree from the
    explicit characters, the dominant degree, and per-degree mean, spread and count."""
    degree_of, chi = character_matrix(x)
    size, n = chi.shape[0], int(degree_of.max())
    lam, vecs = np.linalg.eigh(k)
    lam, vecs = lam[::-1], vecs[:, ::-1]
    coef = (chi @ vecs) ** 2 / size
    energy = np.array([[coef[degree_of == d, j].sum() for d in range(n + 1)] for j in range(size)])
    # eigenvectors of a degenerate eigenvalue are arbitrary: use the eigenspace's mean energy
    space = np.zeros(size, int)
    for j in range(1, size):
        space[j] = space[j - 1] + (lam[j - 1] - lam[j] > 1e-9 * lam[0])
    for s in np.unique(space):
        energy[space == s] = energy[space == s].mean(axis=0)
    assigned = energy.argmax(axis=1)
    count = np.array([np.sum(assigned == d) for d in range(n + 1)])
    mean = np.array([lam[assigned == d].mean() if count[d] else np.nan for d in range(n + 1)])
    spread = np.array([lam[assigned == d].max() - lam[assigned == d].min() if count[d] else np.nan
                       for d in range(n + 1)])
    rayleigh = np.array([np.mean([chi[r] @ k @ chi[r] / size for r in np.flatnonzero(degree_of == d)])
                         for d in range(n + 1)])
    return dict(values=lam, assigned=assigned, fraction=energy.max(axis=1), count=count, mean=mean, spread=spread,
                rayleigh=rayleigh, chi=chi, degree_of=degree_of)


@functools.lru_cache(maxsize=None)
def relu_ntk_on_cube(values):
    """The infinite-width NTK of a 3-layer ReLU MLP (C_W 2, C_b 0.1) on the 6-bit cube, float64."""
    with jax.enable_x64(True):
        x = np.asarray(jb.inputs.hypercube(6, values=values), np.float64)
        net = jb.nets.mlp(64, 3, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
        k = np.asarray(jb.kernels.infinite(net, x).ntk)
    assert k.dtype == np.float64
    return x, k


def test_walsh_spectrum_of_relu_ntk_on_pm1_cube_is_exact():
    x, k = relu_ntk_on_cube("pm1")
    w = jb.kernels.walsh_spectrum(k, x)
    ref = reference_walsh(k, x)
    assert w.exact and w.coding == "pm1" and w.off_diagonal <= w.tolerance
    chex.assert_trees_all_equal(w.multiplicity, np.asarray([math.comb(6, d) for d in range(7)]))
    chex.assert_trees_all_equal(w.count, w.multiplicity)
    # per-degree values with multiplicities C(6, d) are the whole spectrum (numpy eigh)
    chex.assert_trees_all_close(np.repeat(w.eigenvalue, w.multiplicity), ref["values"], rtol=1e-12, atol=1e-10)
    chex.assert_trees_all_close(w.values, ref["values"], rtol=1e-12, atol=1e-10)
    chex.assert_trees_all_close(w.rayleigh, ref["rayleigh"], rtol=1e-12)
    assert np.all(w.spread <= 1e-10) and np.all(w.dominant_fraction == 1.0)
    # every explicit character is an eigenvector with its degree's eigenvalue
    residual = k @ ref["chi"].T - ref["chi"].T * w.eigenvalue[ref["degree_of"]]
    assert np.abs(residual).max() <= 1e-10 * np.abs(k).max()
    assert np.all(np.diff(w.eigenvalue) < 0)  # spectral bias: eigenvalues fall with the degree
    assert w.eigenvalue[0] == pytest.approx(198.0506, rel=1e-5)


def test_walsh_spectrum_of_relu_ntk_on_01_cube_is_the_true_eigendecomposition():
    x, k = relu_ntk_on_cube("01")
    w = jb.kernels.walsh_spectrum(k, x)
    ref = reference_walsh(k, x)
    assert not w.exact and w.coding == "01"
    assert w.off_diagonal == pytest.approx(0.3094, abs=5e-4) and w.off_diagonal > 1e3 * w.tolerance
    chex.assert_trees_all_close(w.values, ref["values"], rtol=1e-10, atol=1e-10)
    chex.assert_trees_all_equal(w.assigned_degree, ref["assigned"])
    chex.assert_trees_all_close(w.dominant_fraction, ref["fraction"], rtol=1e-8)
    chex.assert_trees_all_equal(w.count, ref["count"])
    chex.assert_trees_all_close(w.eigenvalue, ref["mean"], rtol=1e-10)
    chex.assert_trees_all_close(w.spread, ref["spread"], rtol=1e-8, atol=1e-10)
    chex.assert_trees_all_close(w.rayleigh, ref["rayleigh"], rtol=1e-12)
    # the Walsh diagonal entry of degree 0 (169.13) is not an eigenvalue; the top eigenvalue is 178.79,
    # its eigenvector mostly (not only) constant
    assert w.rayleigh[0] == pytest.approx(169.131, abs=1e-3) and w.values[0] == pytest.approx(178.786, abs=1e-3)
    assert w.eigenvalue[0] == w.values[0] and w.assigned_degree[0] == 0 and 0.9 < w.dominant_fraction[0] < 0.99
    assert not np.array_equal(w.count, w.multiplicity) and w.count.sum() == 64
    assert np.nanmax(w.spread) > 1.0  # eigenvalues within a degree differ


def test_walsh_spectrum_tolerance_follows_the_kernel_dtype():
    x = np.asarray(jb.inputs.hypercube(5, values="pm1"), np.float64)
    hamming = np.abs(x[:, None, :] - x[None, :, :]).sum(-1) / 2
    k = np.exp(-hamming / 2.0)
    exact = jb.kernels.walsh_spectrum(k, x)
    noise = np.random.default_rng(3).uniform(-1, 1, k.shape)
    noisy = k * (1 + 4 * float(np.finfo(np.float32).eps) * (noise + noise.T) / 2)  # a few float32 ulps
    w32 = jb.kernels.walsh_spectrum(noisy.astype(np.float32), x)  # rounding of a float32 kernel: exact
    assert w32.exact and 0 < w32.off_diagonal <= w32.tolerance
    chex.assert_trees_all_close(w32.eigenvalue, exact.eigenvalue, rtol=1e-5)
    w64 = jb.kernels.walsh_spectrum(noisy, x)  # the same perturbation is far above float64 rounding
    assert not w64.exact and w64.off_diagonal > w64.tolerance
    chex.assert_trees_all_equal(w64.count, w64.multiplicity)  # ... but each eigenvector keeps its degree
    chex.assert_trees_all_close(w64.eigenvalue, exact.eigenvalue, rtol=1e-5)
    assert np.all(w64.dominant_fraction > 0.99)


def test_walsh_spectrum_diagonal_but_not_symmetric_in_the_bits():
    # K = prod_i (1 + a_i x_i x'_i) = sum_S (prod_{i in S} a_i) chi_S chi_S^T: characters are
    # eigenvectors (eigenvalue 2^n prod a_i), but eigenvalues differ within a degree
    x = np.asarray(jb.inputs.hypercube(4, values="pm1"), np.float64)
    a = np.array([0.9, 0.5, 0.3, 0.1])
    k = np.prod(1 + a * x[:, None, :] * x[None, :, :], axis=-1)
    w = jb.kernels.walsh_spectrum(k, x)
    assert w.off_diagonal <= w.tolerance and not w.exact
    degree_of, chi = character_matrix(x)
    subsets = [s for d in range(5) for s in itertools.combinations(range(4), d)]
    lam = np.array([16 * np.prod(a[list(s)]) for s in subsets])
    chex.assert_trees_all_close(np.sort(w.values), np.sort(lam), rtol=1e-12)
    for d in range(5):
        chex.assert_trees_all_close(w.eigenvalue[d], lam[degree_of == d].mean(), rtol=1e-12)
        chex.assert_trees_all_close(w.spread[d], np.ptp(lam[degree_of == d]), rtol=1e-10, atol=1e-12)
    chex.assert_trees_all_equal(w.count, w.multiplicity)


def test_ntk_experiment_walsh_fields():
    from jaxbias.experiments.ntk import ntk_spectrum

    net = jb.nets.mlp(8, 2, "relu", bias_var=0.1, parameterization="ntk")
    x = jb.inputs.hypercube(3, values="pm1")
    ds = ntk_spectrum(net, x, n=2, progress=False)
    w = jb.kernels.walsh_spectrum(jb.kernels.infinite(net, x).ntk, x)
    assert w.exact
    chex.assert_trees_all_close(ds["walsh_infinite"].values, w.eigenvalue, rtol=1e-6)
    chex.assert_trees_all_equal(ds["walsh_infinite_count"].values, w.multiplicity)
    assert ds.attrs["walsh_infinite_exact"] == 1 and ds.attrs["walsh_infinite_off_diagonal"] == w.off_diagonal
    # the mean over 2 networks is not invariant under bit flips: the true eigenvalues, by dominant degree
    assert ds.attrs["walsh_finite_exact"] == 0 and ds.attrs["walsh_finite_off_diagonal"] > 0.01
    assert ds["walsh_finite_count"].values.sum() == 8


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: jb.kernels.eigen(np.ones((3, 4))), "square"),
        (lambda: jb.kernels.eigen(np.array([[1.0, np.nan], [np.nan, 1.0]])), "non-finite"),
        (lambda: jb.kernels.eigen(np.eye(3), jitter=-1.0), "jitter=-1.0"),
        (lambda: jb.kernels.eigen(np.eye(3), top=4), "top=4"),
        (lambda: jb.kernels.eigen(np.eye(3), check="loud"), "check='loud'"),
        (lambda: jb.kernels.eigen(lambda v: v), "pass n"),
        (lambda: jb.kernels.power_law_fit([1.0, 0.5], k_min=2), "k_min=2"),
        (lambda: jb.kernels.effective_rank([0.0, 0.0]), "no positive"),
        (lambda: jb.kernels.walsh_spectrum(np.eye(4), np.ones((4, 2))), "repeat"),
        (lambda: jb.kernels.walsh_spectrum(np.eye(3), np.ones((3, 2))), "all 2\\*\\*2"),
        (lambda: jb.kernels.walsh_spectrum(np.eye(4), np.full((4, 2), 0.5)), "expected \\{0, 1\\}"),
        (lambda: jb.kernels.target_alignment(np.eye(3), np.zeros(3)), "zero"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ntk_spectrum_float32_roundoff_is_not_flagged():
    # an empirical NTK in float32 is PSD up to round-off: no warning at the default check
    k = finite_case()[2].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = jb.kernels.eigen(jnp.asarray(k))
    assert s.check.psd
