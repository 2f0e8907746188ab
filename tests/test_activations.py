"""Activations by name against independent numpy/scipy formulas."""

import math

import chex
import numpy as np
import pytest
from scipy import special

from jaxbias.nets.activations import ACTIVATIONS, get_activation

Z = np.linspace(-3, 3, 61).astype(np.float32)
SQ2PI = math.sqrt(2 * math.pi)
REFERENCE = {
    "relu": lambda z: np.maximum(z, 0),
    "gelu": lambda z: z * special.ndtr(z),
    "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))),
    "silu": lambda z: z * special.expit(z),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "tanh": np.tanh,
    "sigmoid": special.expit,
    "erf": special.erf,
    "sin": np.sin,
    "cos": np.cos,
    "gaussian": lambda z: np.exp(-z**2),
    "abs": np.abs,
    "softplus": lambda z: np.log1p(np.exp(z)),
    "step": lambda z: (z > 0).astype(float),
    "identity": lambda z: z,
    "centred_relu": lambda z: np.maximum(z, 0) - 1 / SQ2PI,
    "leaky_relu(0.2)": lambda z: np.where(z >= 0, z, 0.2 * z),
    "snake(2)": lambda z: z + np.sin(2 * z) ** 2 / 2,
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_values(name):
    got = np.asarray(get_activation(name).fn(Z), np.float64)
    chex.assert_trees_all_close(got, REFERENCE[name](Z.astype(np.float64)), rtol=2e-6, atol=2e-6)


def test_every_name_has_a_reference():
    covered = {n.split("(")[0] for n in REFERENCE}
    assert covered == set(ACTIVATIONS)


def test_centred_relu_has_zero_mean_under_unit_gaussian():
    from scipy import integrate

    phi = get_activation("centred_relu").fn
    mean, _ = integrate.quad(lambda z: float(phi(np.float32(z))) * math.exp(-z * z / 2) / SQ2PI, -12, 12, points=[0])
    assert abs(mean) < 1e-6


def test_canonical_names_and_callables():
    assert get_activation("leaky_relu").name == "leaky_relu(0.01)"
    assert get_activation("Leaky_ReLU( 0.1 )").name == "leaky_relu(0.1)"
    assert get_activation(np.tanh).name == "tanh"


@pytest.mark.parametrize("bad", ["relu(2)", "leaky_relu(x)", "foo", "snake(0)", "relu)"])
def test_bad_names(bad):
    with pytest.raises(ValueError, match="activation="):
        get_activation(bad)
