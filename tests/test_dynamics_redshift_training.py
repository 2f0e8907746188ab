"""Function complexity during training (Teney et al., CVPR 2024): cases whose answer is known exactly.

A zero learning rate keeps every network's complexity at its initial value, bitwise, and that value
is the untrained redshift experiment's (the same spec and key give the same networks); training on
a linear target takes the polynomial order of low-complexity networks down towards the target's (1).
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxbias.experiments.dynamics import redshift_training as rt
from jaxbias.experiments.redshift import redshift_cell, unit_scale_mlp
from jaxbias.training import Optimizer

SMALL = dict(depth=2, width=16, n_train=64, n_test=32, resolution=12, degree=4)


def test_zero_learning_rate_keeps_the_initial_complexity_exactly():
    measures = ("mean_frequency", "polynomial_order")  # LZ: same outputs, same string (and slow to compile)
    ds = rt.redshift_training(activations=("tanh",), scales=(4.0,), n=4, steps=70, record=(0, 1, 64, 70),
                              optimizer=Optimizer("sgd", learning_rate=0.0), measures=measures, progress=False,
                              **SMALL)
    for name in measures:
        v = ds[name].isel(activation=0, scale=0).values
        for i in range(1, v.shape[1]):
            np.testing.assert_array_equal(v[:, i], v[:, 0])
    # Step 0 is the untrained experiment's networks: redshift_cell rescales a unit-scale draw (float rounding).
    cell = redshift_cell(unit_scale_mlp("tanh", 2, width=16), (4.0,), n=4, resolution=12, dim=2,
                         measures=measures, degree=4, progress=False)
    for name in measures:
        np.testing.assert_allclose(ds[name].isel(activation=0, scale=0, step=0).values,
                                   cell[name].isel(scale=0).values, rtol=1e-4, atol=1e-5)


def test_linear_target_lowers_polynomial_order_towards_the_target():
    ds = rt.redshift_training(activations=("tanh",), scales=(1.0,), n=4, steps=300, record=(0, 300), target="linear",
                              optimizer=Optimizer("sgd", learning_rate=0.5), measures=("polynomial_order",),
                              progress=False, **SMALL)
    target = float(ds["target_polynomial_order"])
    assert abs(target - 1.0) < 1e-4  # a linear function has total degree 1
    start, end = ds["polynomial_order"].isel(activation=0, scale=0).values.T
    assert np.all(end < start), (start, end)
    assert np.all(np.abs(end - target) < np.abs(start - target))
    assert float(ds["test_loss"].isel(step=-1).max()) < 0.1 * float(ds["test_loss"].isel(step=0).min())


def test_targets_and_bad_input():
    assert str(rt.parse_target("sine:2")) == "sine:2"
    x = np.array([[0.5, 0.5], [-1.0, 1.0]])
    np.testing.assert_allclose(rt.parse_target("sine:1")(x), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rt.parse_target("linear")(x), [0.5, 0.0])
    for bad in ("square", "sine:", "sine:-1", "radial:nan"):
        with pytest.raises(ValueError, match="target="):
            rt.parse_target(bad)
    with pytest.raises(ValueError, match="measures="):
        rt.redshift_training(measures=("fft",))
    with pytest.raises(ValueError, match="scale="):
        rt.cell_net("tanh", -1.0)


def test_cli_bad_input_is_a_one_line_error(tmp_path, capsys):
    from jaxbias.cli import main

    assert main(["redshift-training", "--target", "square", "--out", str(tmp_path / "a.nc")]) == 2
    assert "target=" in capsys.readouterr().err
