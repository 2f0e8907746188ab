"""One check of kernel triples for every public function that takes one (issue 14): impossible kernels raise."""

import math

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.validation import check_kernel


@pytest.mark.parametrize("call, name", [
    (lambda: jb.kernels.phi_phi("tanh", 1.0, 1.001, 1.0), "k12"),
    (lambda: jb.kernels.dphi_dphi("relu", 2.0, -2.01, 2.0), "k12"),
    (lambda: jb.kernels.gauss_expect(lambda u, v: u * v, 1.0, 0.0, -1.0), "k22"),
    (lambda: jb.kernels.phi_sq("erf", float("nan")), "k"),
    (lambda: jb.theory.gamma_from_kernel(1.0, 1.01), "q_ab"),
    (lambda: jb.theory.predict_gamma(jb.nets.mlp(8, 1, "relu"), moments=(1.0, 1.1)), "moments"),
    (lambda: jb.theory.finite_width("tanh", [4], [1.0, 1.2, 1.0], 1.0, 0.0), "kernel1"),
    (lambda: jb.theory.finite_width("tanh", [4], [-1.0], 1.0, 0.0), "kernel1"),
])
def test_impossible_kernels_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_rounding_is_allowed_and_nothing_more():
    # float64: 64 eps of slack relative to sqrt(k11 k22); float32: 64 eps of float32.
    check_kernel(2.0, 2.0 * (1 + 1e-14), 2.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        check_kernel(2.0, 2.0 * (1 + 1e-12), 2.0)
    check_kernel(np.float32(1.0), np.float32(1.0 + 2e-6), np.float32(1.0))
    with pytest.raises(ValueError, match="positive semi-definite"):
        check_kernel(np.float32(1.0), np.float32(1.0 + 1e-4), np.float32(1.0))
    # negative covariance and the message's numbers
    with pytest.raises(ValueError, match=r"k12=-3\.0 with k11=1\.0, k22=4\.0"):
        check_kernel([1.0, 1.0], [0.5, -3.0], 4.0)
    check_kernel(1.0, -math.sqrt(4.0), 4.0)  # singular but valid
