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
# # Distributional simplicity bias
#
# Refinetti, Ingrosso & Goldt (ICML 2023): networks trained with SGD first use what the class means
# carry, then the covariances, then higher-order statistics. The test: train the same initial
# networks (same keys, same data order) on the data and on *clones* that keep only the per-class
# means (isotropic) or the per-class means and covariances, and evaluate every network on the
# **real** test data. While the curves coincide, the networks on real data use no more than the
# clone holds.
#
# Two data sets: the 8x8 digits, and a synthetic task whose two classes share mean, covariance and
# third cumulant (the information is in the fourth), so its clones must stay at chance.
# `N` and the steps are small so the tests can run this notebook; raise them for real work
# (`jaxbias simplicity` does the same from the command line).

# %%
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np  # noqa: E402

import jaxbias as jb  # noqa: E402
from jaxbias import datasets  # noqa: E402
from jaxbias.experiments.dynamics.simplicity import clone, cumulant_task, simplicity  # noqa: E402
from jaxbias.plot_dynamics.simplicity import plot_simplicity  # noqa: E402
from jaxbias.training import Optimizer  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "64"))
SMALL = N < 64
FIGURES = tempfile.mkdtemp()

# %% [markdown]
# ## The clones
# One class of the digits, real and cloned: the Gaussian clone keeps the class's mean and pixel
# covariance (plus a small ridge), the mean clone only its mean and overall spread. Values are
# clamped to the data's range; the labels are the real ones, sample by sample.

# %%
data = datasets.digits(key=0)
clones = {kind: clone(data, kind, key=0) for kind in ("mean", "gaussian")}
fig, axes = plt.subplots(3, 6, figsize=(8, 4.2))
rows = np.flatnonzero(data.y_train == 3)[:6]
for r, (name, d) in enumerate([("real", data), *clones.items()]):
    for c, i in enumerate(rows):
        axes[r, c].imshow(d.x_train[i].reshape(8, 8), cmap="gray_r")
        axes[r, c].axis("off")
    axes[r, 0].set_title(name, fontsize=8, loc="left")
fig.tight_layout()

# %% [markdown]
# ## Digits
# ReLU MLPs, SGD with minibatches of 32 and MSE loss, 100 log-spaced measurements.

# %%
net = jb.nets.MLP(128, 2, "relu", weight_var=2.0, out=data.out_dim)
ds = simplicity(data, net, Optimizer("sgd", learning_rate=0.05), n=N // 2 if SMALL else N,
                steps=200 if SMALL else 3000,
                batch_size=32, record=25 if SMALL else 100, n_boot=200 if SMALL else 1000, progress=False)
path = plot_simplicity(ds, os.path.join(FIGURES, "simplicity_digits.png"))
plt.figure(figsize=(12, 4.6))
plt.imshow(plt.imread(path))
plt.axis("off")
print(ds[["separation_step", "separation_low", "separation_high"]].to_dataframe())

# %% [markdown]
# ## Information only in the fourth cumulant
# Both clones of this task are one Gaussian for both classes: networks trained on them stay at
# chance on real data, and the separation is the moment the real-data networks find the bimodal
# direction. (Learning from a fourth cumulant is slow for SGD; with few steps the real-data
# networks may not have got there yet.)

# %%
task = cumulant_task(n_train=2048, n_test=1024, dim=4, noise=0.1, key=0)
print("Bayes accuracy of the task:", round(task.attrs["bayes_accuracy"], 3))
net = jb.nets.MLP(64, 2, "relu", weight_var=2.0, out=2)
ds_c = simplicity(task, net, Optimizer("sgd", learning_rate=0.1), n=N // 2 if SMALL else N,
                  steps=200 if SMALL else 3000,
                  batch_size=32, loss="cross_entropy", record=25 if SMALL else 100, n_boot=200 if SMALL else 1000,
                  progress=False)
path = plot_simplicity(ds_c, os.path.join(FIGURES, "simplicity_cumulants.png"))
plt.figure(figsize=(12, 4.6))
plt.imshow(plt.imread(path))
plt.axis("off")
print(ds_c["test_accuracy"].isel(step=-1).median("net").to_series())
