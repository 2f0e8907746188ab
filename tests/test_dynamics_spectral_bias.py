"""Spectral bias (Rahaman et al., ICML 2019; issue 18): the in-program DFT measure against numpy's FFT, the target
on its bins, the NTK prediction's structure (periodic embedding: Fourier modes are eigenvectors, each frequency decays
as (1 - eta lambda / N)^t), and wide networks against it: lower frequencies learned first, the ensemble-mean residual
within tolerance of the infinite-width prediction."""

from __future__ import annotations

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.cli import main
from jaxbias.experiments.dynamics.spectral_bias import (FourierCoefficients, embed, ntk_prediction, spectral_bias,
                                                       target_grid)


@pytest.mark.parametrize("shape, bins", [((16,), ((1,), (3,), (15,))), ((8, 8), ((1, 0), (2, 3), (7, 5)))])
def test_fourier_coefficients_match_numpy_fft(shape, bins):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(int(np.prod(shape)), 2)).astype(np.float32)
    got = np.asarray(FourierCoefficients(shape, bins, output=1)(f))
    ref = np.fft.fftn(f[:, 1].astype(np.float64).reshape(shape)) / f.shape[0]
    want = np.array([[ref[k].real, ref[k].imag] for k in bins])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_target_lies_on_its_bins():
    for freqs, dim in (((1, 3, 7), 1), (((1, 0), (2, -3)), 2)):
        x, y, bins = target_grid(freqs, points=16, dim=dim, amplitudes=[2.0] * len(freqs), key=5)
        spec = np.abs(np.fft.fftn(y.reshape((16,) * dim))) / y.size
        for k in bins:
            assert spec[k] == pytest.approx(1.0)  # a sin(...) puts a / 2 in each of the bins +-k
        assert np.sum(spec > 1e-9) == 2 * len(freqs)


@pytest.mark.parametrize("freqs, dim, match", [((1, 8), 1, "Nyquist"), ((2, -2), 1, "repeats"), ((1.5,), 1, "integer"),
                                               ((1,), 2, "pairs")])
def test_target_rejects_bad_frequencies(freqs, dim, match):
    with pytest.raises(ValueError, match=match):
        target_grid(freqs, points=16, dim=dim)


def test_periodic_embedding_makes_fourier_modes_ntk_eigenvectors():
    x, y, bins = target_grid((1, 2, 5), points=32)
    net = jb.nets.MLP(64, 2, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
    theta = np.asarray(jb.kernels.infinite(net, embed(x, "periodic")).ntk, np.float64)
    p = np.arange(32)
    for (k,) in bins:
        mode = np.exp(2j * np.pi * k * p / 32)
        lam = np.real(mode.conj() @ theta @ mode) / 32
        np.testing.assert_allclose(theta @ mode, lam * mode, atol=1e-6 * np.abs(theta).max())  # the analytic kernel is float32
    # The prediction: each target frequency's residual decays by exactly (1 - eta lambda_k / N) per step.
    eta = 0.5 * 32 / np.linalg.eigvalsh(theta)[-1]
    steps = np.array([0, 1, 7, 50])
    r = ntk_prediction(theta, y, eta, steps)
    c = np.fft.fft(r, axis=1) / 32
    c0 = np.fft.fft(y) / 32
    for (k,) in bins:
        mode = np.exp(2j * np.pi * k * p / 32)
        rate = eta * np.real(mode.conj() @ theta @ mode) / 32 / 32
        np.testing.assert_allclose(np.abs(c[:, k]) / np.abs(c0[k]), (1 - rate) ** steps, rtol=1e-5, atol=1e-6)


def test_wide_networks_follow_the_ntk_and_learn_low_frequencies_first(tmp_path):
    from jaxbias.plot_dynamics.spectral_bias import plot_spectral_bias
    from jaxbias.results import config_of

    net = jb.nets.MLP(1024, 1, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
    ds = spectral_bias(net, frequencies=(1, 2, 4), points=32, n=16, steps=300, record=20, progress=False)
    cell = ds.isel(width=0)
    for name in ("learned_step", "ntk_learned_step", "eigenvalue"):
        values = cell[name].values
        assert np.all(np.isfinite(values))
        assert np.all(np.diff(values) < 0) if name == "eigenvalue" else np.all(np.diff(values) > 0), (name, values)
    # Measured ensemble mean against the infinite-width prediction: within 3 standard errors plus 0.05.
    assert float(cell["ntk_excess"]) < 0.05, float(cell["ntk_excess"])
    config = config_of(ds)
    for key in ("data", "preprocessing", "net", "optimizer", "record", "steps"):
        assert key in config
    assert plot_spectral_bias(ds, tmp_path / "sb.png").stat().st_size > 10_000


def test_spectral_bias_rejects_bad_input():
    with pytest.raises(ValueError, match="one output"):
        spectral_bias(jb.nets.MLP(8, 1, out=2))
    with pytest.raises(ValueError, match="MLP"):
        spectral_bias(jb.nets.ResNet(8, 1))
    with pytest.raises(ValueError, match="embedding"):
        spectral_bias(jb.nets.MLP(8, 1), embedding="fourier")


def test_cli_spectral_bias_2d(tmp_path, capsys):
    out = tmp_path / "sb.nc"
    rc = main(["spectral-bias", "--dim", "2", "--points", "8", "--frequencies", "1,0", "1,2", "--widths", "16",
               "--n", "2", "--steps", "20", "--record", "5", "--out", str(out), "--figures", str(tmp_path), "--quiet"])
    assert rc == 0 and out.exists() and (tmp_path / "spectral_bias.png").exists()
    ds = jb.load(out)
    assert ds["residual"].dims == ("width", "net", "step", "frequency")
    np.testing.assert_allclose(ds["frequency"].values, [1.0, np.sqrt(5)])
    assert main(["spectral-bias", "--dim", "2", "--frequencies", "3", "--out", str(out)]) == 2
    assert main(["spectral-bias", "--arch", "resnet", "--out", str(out)]) == 2


@pytest.mark.slow
def test_agreement_with_the_ntk_improves_with_width():
    net = jb.nets.MLP(64, 1, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
    ds = spectral_bias(net, widths=(32, 2048), frequencies=(1, 2, 4), points=32, n=32, steps=400, record=20,
                       progress=False)
    excess = ds["ntk_excess"].values
    assert excess[1] < 0.05 and excess[0] > 3 * excess[1], excess  # measured: 0.17 at width 32, 0.037 at 2048
