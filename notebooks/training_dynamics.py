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
# # What changes during training: complexity, the tangent kernel, guessing bias
#
# Three experiments built on the ensemble training engine (`jb.train`: `N` networks in one compiled
# program, measured inside it at chosen steps):
#
# 1. **Redshift during training** (Teney et al., CVPR 2024): the function-complexity measures of the
#    neural-redshift experiment, recorded while networks of several activations and weight scales
#    learn a target on `[-1, 1]^2`.
# 2. **NTK motion and width**: how far the empirical tangent kernel moves, against width, under the
#    NTK and the standard parameterisation, at a fixed function-space time.
# 3. **Guessing bias during training** (Francazi et al., ICML 2024): how fast a prejudiced
#    classifier (deep ReLU) stops sending most inputs to one class, beside a neutral one (tanh).
#
# `N` and the sizes are small so that the tests can run this notebook; the command-line versions
# (`jaxbias redshift-training`, `jaxbias ntk-motion`, `jaxbias igb-training`) use larger defaults.

# %%
import os
import tempfile

import numpy as np
from IPython.display import Image, display

from jaxbias.experiments.dynamics.igb_training import default_configs, igb_training
from jaxbias.experiments.dynamics.ntk_motion import ntk_motion
from jaxbias.experiments.dynamics.redshift_training import redshift_training
from jaxbias.plot_dynamics.igb_training import plot_igb_training
from jaxbias.plot_dynamics.ntk_motion import plot_ntk_motion
from jaxbias.plot_dynamics.redshift_training import plot_redshift_training
from jaxbias.training import Optimizer

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "64"))
SMALL = N < 64
FIGURES = tempfile.mkdtemp()

# %% [markdown]
# ## 1. Complexity during training
# ReLU and tanh MLPs at weight variance `C_W = 1` and `8` learn `sin(pi (x_1 + x_2))` (one full period
# along the diagonal) by Adam. At every recorded step the Fourier mean frequency, the Legendre
# polynomial order and the LZ complexity of each network are taken on a 32 x 32 grid. Black line: the
# target's own score; dotted: a linear ramp (floor); dash-dotted: white noise (ceiling).

# %%
# CI: one hidden layer and fewer steps (each (activation, scale) cell compiles its own training program)
rs = redshift_training(activations=("relu", "tanh"), scales=(1.0, 8.0), depth=1 if SMALL else 3,
                       width=32 if SMALL else 64, target="sine:2", n=N // 2 if SMALL else N,
                       steps=100 if SMALL else 1000, record=6 if SMALL else 12,
                       optimizer=Optimizer("adam", learning_rate=3e-3), resolution=32, progress=False)
for path in plot_redshift_training(rs, FIGURES):
    display(Image(str(path)))
for name in ("mean_frequency", "polynomial_order", "lz"):
    start, end = rs[name].isel(step=0).median("net"), rs[name].isel(step=-1).median("net")
    print(f"{name}: target {float(rs[f'target_{name}']):.3g}")
    for a in rs["activation"].values:
        print("   ", a, ", ".join(f"C_W {s:g}: {float(start.sel(activation=a, scale=s)):.3g} -> "
                                  f"{float(end.sel(activation=a, scale=s)):.3g}" for s in rs["scale"].values))

# %% [markdown]
# ## 2. NTK motion against width
# One-hidden-layer erf networks, 8 training points of a plane wave, full-batch gradient descent on the
# MSE. The learning rate is `eta = 0.5 N / lambda_max(K_0)` per width and parameterisation, so every run
# covers the same function-space time (10 steps at `eta lambda_max / N = 0.5`). Under NTK
# parameterisation the relative change of the kernel falls as `width^-1`. Under the standard
# parameterisation the kernel grows with width and is dominated by the readout layer, `eta` falls
# like `1 / width`, the first layer barely trains (Sohl-Dickstein et al. 2020) and the kernel moves
# less, about as `width^-2`.

# %%
widths = (64, 256) if SMALL else (64, 256, 1024, 4096)  # CI: two widths, the fewest that give a slope
nm = ntk_motion(widths=widths, n=N // 2 if SMALL else N, steps=10, lam_nets=4, n_boot=500, progress=False)
display(Image(str(plot_ntk_motion(nm, os.path.join(FIGURES, "ntk_motion.png")))))
for p in nm["parameterization"].values:
    c = nm.sel(parameterization=p)
    print(f"{p}: slope {float(c['slope']):.3f} [{float(c['slope_low']):.3f}, {float(c['slope_high']):.3f}], "
          f"eta by width {np.round(c['learning_rate'].values, 4).tolist()}")

# %% [markdown]
# ## 3. Guessing bias during training
# Two balanced Gaussian classes (centred inputs). Deep ReLU with `C_W = 2` and no bias starts
# prejudiced (`gamma > 1`, most networks send most inputs to one class), tanh without bias starts
# neutral (`gamma = 0`). Class fractions on the test split at every one of the first 16 steps, then
# log-spaced; `gamma` per step with its bootstrap interval.

# %%
ig = igb_training(configs=default_configs(width=64 if SMALL else 128, depth=2 if SMALL else 4), n=N,
                  steps=50 if SMALL else 200, n_boot=200, progress=False)
display(Image(str(plot_igb_training(ig, os.path.join(FIGURES, "igb_training.png")))))
steps = ig["step"].values
for c in ig["config"].values:
    cell = ig.sel(config=c)
    shown = [i for i, t in enumerate(steps) if t in (0, 2, 8, 16, steps[-1])]
    print(c, "; ".join(f"step {steps[i]}: E[max G] {cell['max_g'].values[i]:.3f}, gamma {cell['gamma'].values[i]:.2f}"
                       for i in shown))
