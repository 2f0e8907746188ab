"""Critical initializations and order/chaos quantities against published closed forms.

Sources (each test says which): He et al., "Delving deep into rectifiers", ICCV 2015, eq. (10)
(ReLU: 1/2 n Var[w] = 1, i.e. C_W = 2) and eq. (15) (PReLU slope a: 1/2 (1 + a^2) n Var[w] = 1);
Williams, "Computing with infinite networks", NeurIPS 1997 (the erf kernel
E[erf(u) erf(v)] = (2/pi) arcsin(2 S_uv / sqrt((1 + 2 S_uu)(1 + 2 S_vv))), as also coded in
neural-tangents' ``stax.Erf``, whose NTK factor on the diagonal is E[erf'(u)^2] = (4/pi) / sqrt(1 + 4 q));
Poole et al., NeurIPS 2016, and Schoenholz et al., ICLR 2017, eq. (9): chi_1 = C_W E[phi'(sqrt(q*) z)^2]
and the correlation depth xi_c = -1 / log(chi_1) in the ordered phase, infinite on the critical line.

No tabulated critical C_W for tanh at C_b > 0 could be found in the text of these papers available
here (the critical line is given as a figure); tanh is checked against scipy in test_theory_recursions.py.
"""

import math

import numpy as np
import pytest

import jaxbias as jb
from jaxbias.theory import recursions as rec


@pytest.mark.parametrize("cb", [0.0, 0.05, 0.5])
def test_he_initialization(cb):
    # He et al. 2015 eq. (10) and (15); scale-invariant maps keep C_W = 2 / (1 + a^2) at every C_b
    assert float(rec.critical_weight_var("relu", cb)) == 2.0
    for a in (0.1, 0.25):
        assert float(rec.critical_weight_var(f"leaky_relu({a})", cb)) == pytest.approx(2.0 / (1.0 + a * a), rel=1e-6)
    r = jb.theory.order_chaos("relu", 2.0, 0.0)
    assert float(r.chi_1) == pytest.approx(1.0) and np.isinf(r.xi_c)


def _erf_line(q):
    """Williams (1997): the erf critical line parametrized by its fixed point q* (chi_1 = 1 and q* = F(q*))."""
    cw = math.pi / 4 * math.sqrt(1 + 4 * q)                      # C_W E[erf'^2] = 1
    cb = q - cw * 2 / math.pi * math.asin(2 * q / (1 + 2 * q))    # q* = C_b + C_W E[erf^2]
    return cw, cb


@pytest.mark.parametrize("q", [0.05, 0.5, 1.0, 5.0])
def test_erf_critical_line_closed_form(q):
    cw, cb = _erf_line(q)
    assert float(rec.critical_weight_var("erf", cb)) == pytest.approx(cw, rel=1e-5)
    r = jb.theory.order_chaos("erf", cw, cb)
    assert float(r.q_star) == pytest.approx(q, rel=1e-4)
    assert float(r.chi_1) == pytest.approx(1.0, abs=1e-5)


def test_erf_critical_at_zero_bias_and_ordered_phase():
    # C_b = 0: q* -> 0 on the line, C_W = pi / 4 (Williams' kernel: E[erf'(0)^2] = 4 / pi)
    assert float(rec.critical_weight_var("erf", 0.0)) == pytest.approx(math.pi / 4)
    # off the line: q* solves q = C_b + C_W (2/pi) arcsin(2q / (1 + 2q)); chi_1 = C_W (4/pi) / sqrt(1 + 4 q*);
    # in the ordered phase xi_c = -1 / log(chi_1) (Schoenholz et al. 2017, eq. 9)
    from scipy import optimize

    for cw, cb in ((1.0, 0.3), (1.2, 0.8)):
        q = optimize.brentq(lambda q, cw=cw, cb=cb: cb + cw * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) - q,
                            1e-9, 100.0)
        chi = cw * 4 / math.pi / math.sqrt(1 + 4 * q)
        r = jb.theory.order_chaos("erf", cw, cb)
        assert chi < 1 and float(r.c_star) == 1.0
        assert float(r.q_star) == pytest.approx(q, rel=1e-4)
        assert float(r.chi_1) == pytest.approx(chi, rel=1e-4)
        assert float(r.xi_c) == pytest.approx(-1 / math.log(chi), rel=1e-3)
