"""Guessing bias during training (Francazi et al., ICML 2024): known cases.

With a zero learning rate nothing moves: class fractions and output statistics stay bitwise at their
initial values. At step 0 the fractions are those of the untrained experiment (``igb_cell``: the same
spec, inputs and keys), and the prejudiced configuration (deep ReLU) starts with a larger expected
max class fraction than the neutral one (tanh without bias, ``gamma = 0``).
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxbias.experiments.dynamics import igb_training as it
from jaxbias.experiments.igb import igb_cell
from jaxbias.training import Optimizer


@pytest.fixture(scope="module")
def frozen():
    data = it.default_data(n_train=64, n_test=200, dim=16)
    configs = it.default_configs(width=32, depth=3)
    ds = it.igb_training(configs=configs, data=data, n=48, steps=70, record=(0, 1, 64, 70), batch_size=16,
                         optimizer=Optimizer("sgd", learning_rate=0.0), n_boot=200, progress=False)
    return ds, data, configs


def test_zero_learning_rate_keeps_the_class_fractions_exactly(frozen):
    ds = frozen[0]
    for name in ("fractions", "out_mean", "out_var", "max_fraction"):
        v = ds[name].transpose("config", "net", "step", ...).values
        for s in range(1, v.shape[2]):
            np.testing.assert_array_equal(v[:, :, s], v[:, :, 0])


def test_prejudiced_starts_more_biased_than_neutral(frozen):
    start = frozen[0].isel(step=0)
    prejudiced, neutral = start.sel(config="relu (prejudiced)"), start.sel(config="tanh (neutral)")
    assert float(prejudiced["max_g_low"]) > float(neutral["max_g_high"])
    assert float(prejudiced["gamma_low"]) > 0.5 > float(neutral["gamma_high"])
    assert abs(float(neutral["gamma_theory"])) < 1e-2 and float(prejudiced["gamma_theory"]) > 1.0


@pytest.mark.slow
def test_step_zero_is_the_untrained_igb_cell(frozen):
    ds, data, configs = frozen
    start = ds.isel(step=0)
    for name, net in configs.items():
        cell = igb_cell(net, data.x_test, n=48, key=0, n_boot=0)
        # Same networks in another compiled program: a point whose outputs tie to rounding may flip class.
        np.testing.assert_allclose(start["fractions"].sel(config=name).values, cell["fractions"].values, atol=0.011)
        assert abs(float(start["max_g"].sel(config=name)) - float(cell["max_g"])) < 2e-3
        assert abs(float(start["gamma"].sel(config=name)) - float(cell["gamma"])) < 1e-3


def test_early_steps_and_bad_input():
    assert it.early_steps(40, dense=4, count=3) == [0, 1, 2, 3, 4, 13, 40]
    with pytest.raises(ValueError, match="classification"):
        it.igb_training(data=__import__("jaxbias.datasets", fromlist=["x"]).sinusoids(n_train=8, n_test=8))
    with pytest.raises(ValueError, match="probe="):
        it.igb_training(probe="grid")


def test_cli_bad_input_is_a_one_line_error(tmp_path, capsys):
    from jaxbias.cli import main

    assert main(["igb-training", "--steps", "-1", "--out", str(tmp_path / "a.nc")]) == 2
    assert "steps=" in capsys.readouterr().err
