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
# # Spectral bias against the NTK
#
# Rahaman et al. (ICML 2019): a network fitting a sum of sinusoids fits the low frequencies first.
# Here many networks per width fit `y(x) = sum_j sin(pi k_j x + phi_j)` on a periodic grid by
# full-batch gradient descent; the DFT coefficients of every network's function at the target
# frequencies are computed inside the training program at log-spaced steps. Beside them: the
# infinite-width NTK prediction (Lee et al. 2019), in which the ensemble-mean residual along each
# NTK eigenvector decays by `1 - eta lambda / N` per step. With the periodic embedding
# `x -> (cos pi x, sin pi x)` the NTK's eigenvectors are exactly the Fourier modes, so each target
# frequency has one eigenvalue, and the smaller eigenvalues of the high frequencies are the bias.
# `N` is small so the tests can run this notebook (`jaxbias spectral-bias` does the same).

# %%
import json
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np  # noqa: E402

import jaxbias as jb  # noqa: E402
from jaxbias.experiments.dynamics.spectral_bias import spectral_bias  # noqa: E402
from jaxbias.plot_dynamics.spectral_bias import plot_spectral_bias  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "64"))
SMALL = N < 64
FIGURES = tempfile.mkdtemp()

# %% [markdown]
# ## 1-D: four frequencies, three widths
# One-hidden-layer ReLU MLPs in NTK parameterisation; learning rate `eta = N / lambda_max` of the
# infinite-width NTK; the number of steps is chosen from the prediction so that every frequency
# gets learned.

# %%
net = jb.nets.MLP(256, 1, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
ds = spectral_bias(net, frequencies=(1, 2, 4) if SMALL else (1, 2, 4, 8), points=32 if SMALL else 64,
                   widths=(64, 512) if SMALL else (64, 256, 1024, 4096), n=N // 2 if SMALL else N,
                   record=30 if SMALL else 100, progress=False)
path = plot_spectral_bias(ds, os.path.join(FIGURES, "spectral_bias.png"))
plt.figure(figsize=(15, 3.8))
plt.imshow(plt.imread(path))
plt.axis("off")
print("steps:", json.loads(ds.attrs["config"])["steps"])
print(ds[["learned_step", "ntk_learned_step"]].to_dataframe().unstack("frequency"))
print(ds[["ntk_deviation", "ntk_mc_error", "ntk_excess"]].to_dataframe())

# %% [markdown]
# ## 2-D: wave vectors on a grid
# The same with `y(x) = sum_j sin(pi <k_j, x> + phi_j)` on a 2-D periodic grid; frequencies are
# labelled by `|k_j|`.

# %%
ds2 = spectral_bias(net, dim=2, frequencies=((1, 0), (1, 2), (3, 3)), points=12 if SMALL else 24,
                    widths=(256,) if SMALL else (1024,), n=N // 4 if SMALL else N, record=20 if SMALL else 60,
                    progress=False)
path = plot_spectral_bias(ds2, os.path.join(FIGURES, "spectral_bias_2d.png"))
plt.figure(figsize=(15, 3.8))
plt.imshow(plt.imread(path))
plt.axis("off")
print(ds2[["learned_step", "ntk_learned_step", "eigenvalue"]].isel(width=0).to_dataframe())
