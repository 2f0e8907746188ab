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
# # Initial guessing bias: measurement and theory on one plot
#
# Francazi, Lucchi & Baity-Jesi (ICML 2024) showed that an untrained classifier often sends most
# inputs to one class. Over the inputs, a network's output is `N(mu, sigma^2)`; over networks
# `mu ~ N(0, gamma sigma^2)`, so the fraction of inputs in class 0 is `G_0 = Phi(z)`, `z ~ N(0, gamma)`.
# `gamma = q_ab / (q_aa - q_ab)` follows from the NNGP recursion (Bassi, Francazi et al. 2025).
#
# This notebook reproduces the paper's main observations with jaxbias: the law of `G_0` for
# `gamma` below, at and above 1; ReLU vs tanh; max pooling; input mean; normalization placement;
# and the phase diagram over `(C_W, C_b)`. `N` networks per cell (`JAXBIAS_NOTEBOOK_N`, 32 in CI):
# raise it (2000 or more) for the figures to match the theory closely.

# %%
import os
import pathlib
import tempfile

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from IPython.display import Image, display  # noqa: E402

import jaxbias as jb  # noqa: E402
from jaxbias.experiments import igb  # noqa: E402
from jaxbias.plot import plot_g0_histograms, plot_igb_phase  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "2000"))
SMALL = N < 200  # CI: fewer cells, narrower networks, fewer inputs and a coarser theory grid
WIDTH, POINTS = (64, 200) if SMALL else (256, 500)
WORK = pathlib.Path(tempfile.mkdtemp())

# %% [markdown]
# ## The law of G_0
# Neutral (`gamma < 1`, unimodal at 1/2), uniform (`gamma = 1`), prejudiced (`gamma > 1`, U-shaped).

# %%
g = np.linspace(0.001, 0.999, 500)
fig, ax = plt.subplots(figsize=(5, 3))
for gamma in (0.2, 1.0, 5.0):
    ax.plot(g, jb.theory.g0_pdf(g, gamma), label=f"gamma={gamma}: Var(G_0)={jb.theory.g0_var(gamma):.3f}, "
            f"E[max G]={jb.theory.expected_max_fraction(gamma):.3f}")
ax.set_xlabel("G_0")
ax.set_ylabel("density")
ax.set_ylim(0, 4)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Measured vs predicted: activation and max pooling
# One hidden layer of width 256, 500 centred Gaussian inputs in 64 dimensions. ReLU is biased
# (`gamma = E[relu]^2 / Var[relu] = 0.467`), tanh is not; max pooling raises `gamma`, even for tanh.

# %%
grid = {"activation": ["tanh", "relu"], "pool": ["none", "max(2)"]}
ds = igb.run_igb(WORK / "igb.nc", grid, n=N, width=WIDTH, n_points=POINTS, dim=64, n_boot=300, progress=False)
plot_g0_histograms(ds, WORK / "hist.png")
display(Image(str(WORK / "hist.png")))
print(ds[["gamma", "gamma_low", "gamma_high", "gamma_theory", "var_g0", "var_g0_theory", "ks_pvalue"]]
      .to_dataframe().round(3))

# %% [markdown]
# ## Input mean and normalization placement
# A mean `m` in every input coordinate starts `gamma` at `m^2` (here `|m|^2 / tr S = m^2`); depth
# amplifies it. Batch norm over the inputs removes what all inputs share; layer norm after the
# activation centres each layer's units.

# %%
grid = {"input_mean": [0.0, 0.5], "norm": ["none", "layer_pre", "layer_post", "batch_post"]}
if SMALL:
    grid = {"norm": ["none", "batch_post"]}
ds2 = igb.run_igb(WORK / "norm.nc", grid, n=N, width=WIDTH, n_points=POINTS, dim=64, n_boot=300, progress=False,
                  fixed={"activation": "relu", "depth": 3, "input_mean": 0.5})
print(ds2[["gamma", "gamma_low", "gamma_high", "gamma_theory"]].to_dataframe().round(3))

# %% [markdown]
# ## Phase diagram over (C_W, C_b)
# Regimes from the depth -> infinity limit of the recursion: neutral (correlation -> 0: tanh without
# bias), prejudiced (finite gamma: tanh with a small bias in the chaotic phase), deep prejudice
# (correlation -> 1: the ordered phase, and ReLU everywhere). Contours: predicted `gamma` at depth 3;
# points: `gamma` measured on sampled networks.

# %%
res = 6 if SMALL else 40  # CI: 200 layers of tanh quadrature per grid cell; 6 x 6 still draws the contours
measured = ((1.5,), (0.5,)) if SMALL else ((0.5, 1.5, 3.0), (0.0, 0.3, 1.0))
phase = igb.phase_dataset(("tanh", "relu"), np.linspace(0.25, 4.0, res), np.linspace(0.0, 2.0, res), depth=3,
                          measured_weight_vars=measured[0], measured_bias_vars=measured[1], n=N, width=WIDTH,
                          n_points=200, n_boot=200)
plot_igb_phase(phase, WORK / "phase.png")
display(Image(str(WORK / "phase.png")))
print(phase[["gamma", "gamma_low", "gamma_high", "gamma_point_theory"]].to_dataframe().round(3))

# %% [markdown]
# ## Finite width: which way gamma moves
# The estimator measures `Qo / (Qd - Qo)`, with `Q = E f(x_a) f(x_b)` the kernel averaged over inits at
# the network's actual width (`Qd` over the points, `Qo` over pairs of points). At width `n`,
# `Q = K + K1 / n + O(1/n^2)`, `K1` the mean shift of Roberts, Yaida & Hanin (ch. 4-5);
# `jb.theory.predict_gamma_finite_width` puts it into `gamma`. The sign of the shift depends on the
# activation: for ReLU without bias `gamma` falls below the infinite-width value (depth 4, width 32:
# about 14% lower), for tanh with a bias it rises (the rise SCIENCE.md states), both more so with depth.
# With `d0` small against the width, the spread of the points' norms and overlaps matters too
# (`average="pairs"` averages the kernel over the actual pairs; the infinite-width `predict_gamma` uses
# the averaged input moments): for ReLU it lowers `gamma` further. Depth 1 has no shift at all.

# %%
cells = [("relu, d0=256, depth 4", 256, {"activation": "relu", "depth": 4, "width": 32})]
if not SMALL:  # CI: one cell; the tanh recursion (quadrature) takes ~20 s to compile
    cells += [("relu, d0=8, depth 4", 8, {"activation": "relu", "depth": 4, "width": 128}),
              ("relu, d0=256, depth 1", 256, {"activation": "relu", "depth": 1, "width": 32}),
              ("tanh C_W=3 C_b=0.3, depth 4", 256, {"activation": "tanh", "depth": 4, "width": 16,
                                                       "weight_var": 3.0, "bias_var": 0.3}),
              ("tanh C_W=3 C_b=0.3, depth 8", 256, {"activation": "tanh", "depth": 8, "width": 16,
                                                       "weight_var": 3.0, "bias_var": 0.3})]
points, max_pairs = (64, 64) if SMALL else (200, 1024)  # CI: the pair average over a subset of 64 pairs
rows = []
for label, dim, options in cells:
    x = igb.igb_inputs("blobs", points, dim, 0.0, key=1)
    net = igb.igb_net(**options)
    cell = igb.igb_cell(net, x, n=max(N, 2), key=5, n_boot=200)
    pred = jb.theory.predict_gamma_finite_width(net, x, max_pairs=max_pairs)
    rows.append((label, float(cell["gamma"]), float(cell["gamma_low"]), float(cell["gamma_high"]),
                 float(cell["gamma_theory"]), pred.gamma))
print(f"{'cell':30s} {'measured':>8s} {'95% interval':>16s} {'infinite width':>14s} {'finite width':>12s}")
for label, g, lo, hi, inf, fin in rows:
    print(f"{label:30s} {g:8.3f} [{lo:6.3f}, {hi:6.3f}] {inf:14.3f} {fin:12.3f}")
