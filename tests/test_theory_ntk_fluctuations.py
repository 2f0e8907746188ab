"""NTK fluctuations over inits: the exact moments E[T], E[T^2] of the diagonal NTK of bias-free ReLU nets
against a hand computation and a float64 Monte Carlo of explicit backpropagation, their large-depth rate
against Hanin & Nica's exp(5 beta), the engine samples against a per-network jacrev loop, and the
catalogue check accepting the exact prediction and rejecting wrong ones."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbias.experiments import ntk_diagonal_samples
from jaxbias.experiments.catalogue import CATALOGUE, check_options, confront
from jaxbias.theory import hanin_nica_ratio, relu_ntk_moment, relu_ntk_moments, relu_ntk_net


def _reference_ntk_diag(net, params, x):
    """Slow obvious reference: T(x, x) = sum over all parameters of (d f_o / d theta)^2, averaged over outputs."""
    out = []
    for xi in x:
        jac = jax.jacrev(lambda p: net.apply(p, xi[None])[0])(params)  # leaves (O, *shape)
        sq = sum(jnp.sum(j.reshape(j.shape[0], -1) ** 2, axis=1) for j in jax.tree_util.tree_leaves(jac))
        out.append(float(jnp.mean(sq)))
    return np.array(out)


def _numpy_ntk_diag(widths, x, cw, n, seed):
    """Float64 Monte Carlo: T = sum_l (C_W/n_(l-1)) |a_(l-1)|^2 |delta_l|^2 by explicit backprop, ``n`` nets at once."""
    rng = np.random.default_rng(seed)
    fans = [x.size] + list(widths) + [1]
    acts, zs, ws = [np.broadcast_to(x, (n, x.size))], [], []
    for i in range(1, len(fans)):
        w = rng.standard_normal((n, fans[i], fans[i - 1])) * math.sqrt(cw / fans[i - 1])
        z = np.einsum("nij,nj->ni", w, acts[-1])
        ws.append(w)
        zs.append(z)
        acts.append(np.maximum(z, 0.0) if i < len(fans) - 1 else z)
    delta, t = np.ones((n, 1)), np.zeros(n)
    for i in range(len(fans) - 1, 0, -1):  # layer i: weights ws[i-1], input acts[i-1]
        t += cw / fans[i - 1] * np.sum(acts[i - 1] ** 2, 1) * np.sum(delta ** 2, 1)
        if i > 1:
            delta = np.einsum("nij,ni->nj", ws[i - 1], delta) * (zs[i - 2] > 0)
    return t


@pytest.mark.parametrize("n1, n0, cw, sq", [(3, 4, 2.0, 4.0), (1, 2, 1.3, 0.7), (10, 5, 2.5, 9.0)])
def test_one_hidden_layer_by_hand(n1, n0, cw, sq):
    # T = (C_W q / n1) (sum_i s_i w_i^2 + sum_i relu(z_i)^2 / q), z_i ~ N(0, q), q = C_W |x|^2 / n0, s_i = 1[z_i > 0]:
    # E T = C_W q and E T^2 = (C_W q)^2 (n1 + 3) / n1 from the moments of independent units.
    q = cw * sq / n0
    m = relu_ntk_moments([n1], n0, sq_norm=sq, weight_var=cw)
    assert math.isclose(m.mean, cw * q, rel_tol=1e-12)
    assert math.isclose(m.second_moment, (cw * q) ** 2 * (n1 + 3) / n1, rel_tol=1e-12)
    assert math.isclose(m.ratio, 1.0 + 3.0 / n1, rel_tol=1e-12)


@pytest.mark.parametrize("n1, n0, cw, sq", [(1, 3, 2.0, 3.0), (5, 2, 1.4, 0.6), (40, 8, 2.0, 8.0)])
def test_higher_moments_one_hidden_layer(n1, n0, cw, sq):
    # one hidden layer: given K ~ Bin(n1, 1/2) active units, T = (C_W q / n1) chi^2_(2K) (the K readout weights
    # and the K active pre-activations / sqrt(q) are 2K independent N(0, 1)), so E T^p = (C_W q / n1)^p E (2K)(2K+2)...
    from scipy import stats

    q = cw * sq / n0
    k = np.arange(n1 + 1)
    pmf = stats.binom.pmf(k, n1, 0.5)
    for p in (1, 2, 3, 4):
        rising = np.prod([2 * k + 2 * j for j in range(p)], axis=0)
        expected = (cw * q / n1) ** p * float(np.sum(pmf * rising))
        assert math.isclose(relu_ntk_moment([n1], n0, p, sq_norm=sq, weight_var=cw), expected, rel_tol=1e-10)


@pytest.mark.parametrize("widths, orders", [((3, 5, 2), (1, 2)), ((2, 2), (1, 2)), ((6, 1, 4, 3), (1, 2)),
                                            ((12, 16), (1, 2, 3, 4)), ((10, 7, 12), (1, 2, 3, 4))])
def test_moments_match_float64_monte_carlo(widths, orders):
    # narrow layers: whole-layer death (probability 2^-n) happens often and its terms are checked too;
    # wider ones keep T^4 light-tailed enough for its sample mean to be a fair reference
    x = np.array([0.3, -1.2, 0.8, 0.5])
    cw, n = 1.7, 100_000
    t = _numpy_ntk_diag(widths, x, cw, n, seed=sum(widths))
    for k in orders:
        pred = relu_ntk_moment(widths, x.size, k, sq_norm=float(x @ x), weight_var=cw)
        est = t ** k
        se = est.std(ddof=1) / math.sqrt(n)
        assert abs(est.mean() - pred) < 5 * se, (widths, k, est.mean(), pred, se)
    m = relu_ntk_moments(widths, x.size, sq_norm=float(x @ x), weight_var=cw)
    assert math.isclose(m.ratio, m.second_moment / m.mean ** 2)


def test_mean_and_scaling_laws():
    # E[T] = d C_W^d / 2^(d-1) |x|^2 / n_0 at any widths; T scales as C_W^d so the ratio does not depend on C_W
    for widths in ([4], [7, 3, 9], [16] * 6):
        d = len(widths) + 1
        for cw in (1.0, 2.0, 3.0):
            m = relu_ntk_moments(widths, 5, sq_norm=2.0, weight_var=cw)
            assert math.isclose(m.mean, d * cw ** d / 2 ** (d - 1) * 2.0 / 5, rel_tol=1e-12)
            assert math.isclose(m.ratio, relu_ntk_moments(widths, 5).ratio, rel_tol=1e-12)
    # infinite width: no fluctuations
    assert math.isclose(relu_ntk_moments([10 ** 6] * 3, 8).ratio, 1.0, abs_tol=1e-4)


def test_large_depth_rate_is_hanin_nica():
    # Hanin & Nica: E[T^2]/E[T]^2 ~ exp(5 beta)(1 + O(sum 1/n^2)); per layer of width n the exact ratio grows by
    # 1 + 5/n at large depth (E[a^2]/E[a]^2 of the forward gain), so n log(growth) -> n log(1 + 5/n) -> 5.
    for n in (32, 256):
        r = [relu_ntk_moments([n] * L, 8).ratio for L in (8 * n, 8 * n + 1)]
        rate = n * math.log(r[1] / r[0])
        assert abs(rate - n * math.log1p(5.0 / n)) < 0.02, (n, rate)
    # at beta <= 1/2 log(ratio) / beta is 3-4, below 5 (the theorem's constants matter there)
    for n, L in ((16, 1), (16, 8), (64, 32), (1024, 4)):
        assert 2.7 < math.log(relu_ntk_moments([n] * L, 8).ratio) / (L / n) < 4.0


def test_bad_input():
    with pytest.raises(ValueError, match="widths"):
        relu_ntk_moments([16, 0], 4)
    with pytest.raises(ValueError, match="widths"):
        hanin_nica_ratio([])
    with pytest.raises(ValueError, match="in_dim"):
        relu_ntk_moments([4], 0)
    with pytest.raises(ValueError, match="sq_norm"):
        relu_ntk_moments([4], 3, sq_norm=-1.0)
    with pytest.raises(ValueError, match="weight_var"):
        relu_ntk_moments([4], 3, weight_var=0.0)
    with pytest.raises(ValueError, match="order"):
        relu_ntk_moment([4], 3, order=5)
    with pytest.raises(ValueError, match="n="):
        ntk_diagonal_samples(relu_ntk_net(4, 1), np.ones((1, 3), np.float32), n=1)
    with pytest.raises(ValueError, match="depths"):
        CATALOGUE["ntk-fluctuations"].measure(check_options("ntk-fluctuations", depths=(0, 3)))
    with pytest.raises(ValueError, match="activation=.tanh"):
        CATALOGUE["ntk-fluctuations"].measure(check_options("ntk-fluctuations", activation="tanh"))
    # heavy tails: width 16, depth 8 needs ~57000 networks for E[T^2] (E[T^4]/E[T^2]^2 = 283)
    with pytest.raises(ValueError, match="effective sample"):
        CATALOGUE["ntk-fluctuations"].measure(check_options("ntk-fluctuations", width=16, depths=(8,)))


def test_samples_match_per_network_jacrev_loop():
    net = relu_ntk_net(5, 2, out=2)
    x = np.array([[1.0, -0.5, 2.0], [0.3, 0.8, -1.1]], np.float32)
    vals = ntk_diagonal_samples(net, x, n=3, key=7)
    assert vals.shape == (3, 2, 2)
    ref = np.stack([_reference_ntk_diag(net, net.init(jax.random.fold_in(jax.random.key(7), i), x), x)
                    for i in range(3)])
    np.testing.assert_allclose(vals[..., 0], ref, rtol=1e-4)
    np.testing.assert_allclose(vals[..., 1], ref ** 2, rtol=2e-4)


def test_check_accepts_exact_and_rejects_wrong_predictions():
    o = check_options("ntk-fluctuations", n=1200, depths=(1, 2))
    entry = CATALOGUE["ntk-fluctuations"]
    meas = entry.measure(o)
    right = entry.predict(o)
    report = confront("ntk-fluctuations", o, right, meas)
    assert report.passed, report.rows
    w, depths = o.width, np.array(o.depths)
    wrong = {
        # infinite width: no fluctuation
        "infinite width": [right[0], np.ones(2), np.ones(2)],
        # Hanin & Nica's exp(5 beta) read as an equality
        "exp(5 beta)": [right[0], np.exp(5 * depths / w), np.exp(5 * depths / (2 * w))],
        # the rate doubled: log-ratio twice the exact one
        "rate doubled": [right[0], right[1] ** 2, right[2] ** 2],
        # mean in Hanin & Nica's normalization d |x|^2 / n_0 (half the ntk-parameterization NTK)
        "mean halved": [right[0] / 2, right[1], right[2]],
    }
    for label, pred in wrong.items():
        rep = confront("ntk-fluctuations", o, pred, meas)
        assert not rep.passed, (label, [(r.estimate, r.prediction, r.stderr) for r in rep.rows])


@pytest.mark.slow
@pytest.mark.parametrize("options", [{}, {"width": 48, "depths": (2, 6), "weight_var": 1.5, "key": 5, "n": 4000}])
def test_check_at_default_size(options):
    report = CATALOGUE["ntk-fluctuations"]
    o = check_options("ntk-fluctuations", **options)
    rep = confront("ntk-fluctuations", o, report.predict(o), report.measure(o))
    assert rep.passed, rep.rows
    assert all(np.all(np.abs(r.z) < 4) for r in rep.rows)


def test_cli_ntk_fluctuations(tmp_path, capsys):
    import jaxbias as jb
    from jaxbias.cli import main

    out = tmp_path / "ntk.nc"
    assert main(["check", "ntk-fluctuations", "--n", "700", "--width", "32", "--depths", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "E[T^2]/E[T]^2, width 64" in text and "consistent" in text
    ds = jb.load(out)
    assert ds.sizes["row"] == 3 and ds.attrs["verdict"] == "consistent"
    np.testing.assert_allclose(ds["prediction"].values[0], 4.0)  # E[T] = 2 d at |x|^2 = n_0
    assert main(["check", "ntk-fluctuations", "--activation", "tanh"]) == 2
