# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Theory checks: predictions against random networks
#
# Each check of the catalogue (`jaxbias check --list`) sets a prediction of mean-field or
# finite-width theory beside a Monte Carlo estimate over `N` random networks, with simultaneous
# confidence intervals and a verdict at the stated confidence (SCIENCE.md section 4). Below, each
# panel shows the estimate with its CI band against the prediction over depth. `N` is small so that
# the tests can run this notebook (the bands are then wide); raise it (e.g. 2000-20000) for real checks.

# %%
import os

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import jaxbias as jb  # noqa: E402
from jaxbias.experiments.catalogue import CATALOGUE, check_options, confront  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "2000"))
SMALL = N < 200  # CI: fewer depths per panel (each depth of a tanh check is a quadrature recursion of its own)


def run(name, **options):
    """Runs catalogue check `name` with `n = N` networks per depth; returns its report."""
    o = check_options(name, n=N, **options)
    entry = CATALOGUE[name]
    return confront(name, o, entry.predict(o), entry.measure(o))


def panel(ax, report, row=0, title=None):
    """Estimate with its simultaneous CI band against the prediction, over the report's depths."""
    r = report.rows[row]
    depths = np.array(report.options.depths)
    ax.plot(depths, r.prediction, "k-", marker="s", label="prediction")
    if np.any(r.tolerance > 0):
        ax.fill_between(depths, r.prediction - r.tolerance, r.prediction + r.tolerance, color="k", alpha=0.1,
                        label="admitted 1/n error")
    ax.errorbar(depths, r.estimate, yerr=r.critical_z * r.stderr, fmt="o", color="C1", capsize=3,
                label=f"estimate, {report.confidence:.0%} CI")
    ax.set_xlabel("hidden layers")
    verdict = "consistent" if r.passed else "rejected"
    ax.set_title(f"{title or r.name}\n{verdict} (p = {r.p_value:.2g}, n = {r.n})", fontsize=9)
    ax.legend(fontsize=7)


# %% [markdown]
# ## Order and chaos: correlation of two inputs across depth
# tanh at C_W = 4, C_b = 0.05 is chaotic (chi_1 > 1): the correlation of two inputs at 0.5 falls
# towards c* < 1 along the c-map (Poole et al. 2016). The dotted line is the same map in the ordered
# phase (C_W = 0.8), where correlations grow towards 1.

# %%
oc = jb.theory.order_chaos("tanh", 4.0, 0.05)
print(f"chaotic: q* = {float(oc.q_star):.3f}, c* = {float(oc.c_star):.3f}, chi_1 = {float(oc.chi_1):.3f}")
fig, ax = plt.subplots(figsize=(4.5, 3.4))
panel(ax, run("order-chaos", width=64, depths=(1, 3) if SMALL else (1, 3, 6)), title="chaotic, C_W = 4")
ordered = check_options("order-chaos", weight_var=0.8, depths=(1, 3) if SMALL else tuple(range(1, 7)))
ax.plot(ordered.depths, CATALOGUE["order-chaos"].predict(ordered)[0], "b:", label="c-map, ordered (C_W = 0.8)")
ax.set_ylabel("correlation c(l)")
ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## Finite width: excess kurtosis 3V/(nK^2) over depth
# relu at criticality, width 32: the four-point vertex grows linearly with depth (15 L / n to leading
# order; exactly 3((1 + 5/n)^L - 1)). The grey band is the admitted O(1/n^2) remainder.

# %%
fw = run("finite-width", width=32, depths=(1, 2, 3))
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
panel(axes[0], fw, 0)
panel(axes[1], fw, 1)
L = np.array(fw.options.depths)
axes[0].plot(L, 3 * ((1 + 5 / 32) ** L - 1), "g--", label="exact 3((1+5/n)^L - 1)")
axes[0].legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## Guessing bias: gamma over depth
# relu at C_W = 2 with inputs of overlap 1/4: the NNGP recursion predicts gamma = q_ab / (q_aa - q_ab)
# growing with depth (Francazi et al. 2024); the estimate is the finite-n corrected
# `(Var_chi(mean_x f) - E var_x f / P) / E var_x f`.

# %%
igb = run("guessing-bias", width=64, depths=(1, 3))
fig, ax = plt.subplots(figsize=(4.5, 3.4))
panel(ax, igb)
ax.set_ylabel("gamma")
fig.tight_layout()

# %% [markdown]
# ## Weight laws: one infinite-width kernel, different vertices
# Orthogonal weights share the iid kernel (the `weight-laws` check) but give a smaller excess kurtosis
# than the iid 1/n prediction: a measurable difference at finite width, expected to be "rejected".

# %%
fig, ax = plt.subplots(figsize=(4.5, 3.4))
panel(ax, run("weight-law-vertex", width=16, depths=(1, 3)), title="orthogonal kurtosis vs iid prediction")
fig.tight_layout()

# %% [markdown]
# ## NTK fluctuations over inits (ReLU, no biases)
# The diagonal NTK T of a ReLU net fluctuates over inits more with depth and less with width. Lines: its
# exact E[T^2]/E[T]^2 (`jb.theory.relu_ntk_moments`); dashed: Hanin & Nica's exp(5 L/n), their rate,
# which holds only up to constants. Points: the `ntk-fluctuations` check (engine NTK over N networks),
# run when N is large enough for the heavy tail of T^2 (it needs n E[T^2]^2 / E[T^4] >= 500).

# %%
fig, ax = plt.subplots(figsize=(4.5, 3.4))
depths = np.arange(1, 9)
for i, w in enumerate((32, 64)):
    ratio = [jb.theory.relu_ntk_moments([w] * int(d), 8).ratio for d in depths]
    ax.plot(depths, ratio, f"C{i}-", label=f"exact, width {w}")
    ax.plot(depths, np.exp(5 * depths / w), f"C{i}--", lw=0.8, label=f"exp(5 L/n), width {w}")
try:
    ntk = run("ntk-fluctuations", width=32, depths=(1, 2, 4))
    for i, r in enumerate(ntk.rows[1:]):
        ax.errorbar(ntk.options.depths, r.estimate, yerr=r.critical_z * r.stderr, fmt="o", color=f"C{i}",
                    capsize=3)
    ax.set_title(f"ntk-fluctuations: {'consistent' if ntk.passed else 'rejected'} (n = {N})", fontsize=9)
except ValueError as err:  # too few networks for a trustworthy verdict
    print(err)
    ax.set_title("exact E[T^2]/E[T]^2 (raise N for the Monte Carlo)", fontsize=9)
ax.set_xlabel("hidden layers")
ax.set_ylabel("E[T^2] / E[T]^2")
ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## The result table
# Every report converts to an `xarray.Dataset` (one row per checked value), as `jaxbias check --out` saves it.

# %%
ds = jb.experiments.to_dataset(igb)
print(ds.attrs["verdict"], ds.attrs["confidence"])
print(ds[["component", "prediction", "estimate", "ci_low", "ci_high", "passed"]].to_dataframe())
