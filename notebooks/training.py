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
# # Training an ensemble of networks
#
# `jaxbias.training.train` trains `N` networks at once, in one compiled program, and measures
# them at log-spaced steps: losses, accuracies, distance from initialisation, and any measure of
# the function on a probe set. Network `i` starts as `jb.sample`'s network `i`, so the trained
# functions can be set beside the random ones they came from.
#
# Here: small tanh MLPs trained by SGD on the 8x8 digits, two learning rates; then the class
# fractions each network assigns to the test digits, at initialisation and after training (at
# initialisation many networks give most inputs to one class: the initial guessing bias).
# `N` and the number of steps are small so that the tests can run this notebook; raise them for
# real work (`jaxbias train` on the command line does the same, with checkpoints).

# %%
import os
import tempfile

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import jaxbias as jb  # noqa: E402
from jaxbias import datasets  # noqa: E402
from jaxbias.plot_training import ensemble_quantiles, plot_learning_curves, plot_training_measures  # noqa: E402
from jaxbias.training import Optimizer, train  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "64"))
STEPS = 1000 if N >= 64 else 200
FIGURES = tempfile.mkdtemp()

# %% [markdown]
# ## Train
# Half the networks use learning rate 0.02, half 0.2 (`vary=`: one run, per-network
# hyperparameters). Minibatches of 64, each network in its own data order. The probe is the test
# set, and `class_fractions` is measured on it at every recorded step.

# %%
data = datasets.digits(key=0)
net = jb.nets.MLP(64, 2, "tanh", weight_var=1.0, bias_var=0.1, out=data.out_dim)
lrs = np.where(np.arange(N) < N // 2, 0.02, 0.2)
ds = train(net, data, Optimizer("sgd", learning_rate=0.1), n=N, key=0, steps=STEPS, batch_size=64,
           vary={"learning_rate": lrs}, record=12, probe=data.x_test,
           measures={"class_fractions": jb.measures.class_fractions}, progress=False)
print(data)
print(ds[["train_loss", "test_accuracy", "class_fractions"]])

# %% [markdown]
# ## Learning curves
# Median across networks, quartiles and the 5-95 % range, one colour per learning rate. The step
# axis is symlog: step 0 (the initial networks) sits at the left edge.

# %%
path = plot_learning_curves(ds, os.path.join(FIGURES, "curves.png"))
plt.imshow(plt.imread(path))
plt.axis("off");

# %%
path = plot_training_measures(ds, os.path.join(FIGURES, "measures.png"))
plt.figure(figsize=(12, 4))
plt.imshow(plt.imread(path))
plt.axis("off");

# %% [markdown]
# ## Trained against initial functions
# The largest fraction of the test digits a network gives to one class: near 1 means a network
# that answers almost always the same class, 0.1 is what a perfect classifier of balanced digits
# gives. Training removes the bias of the initial functions; how fast depends on the learning
# rate.

# %%
largest = ds["class_fractions"].max("class_fractions_dim_0")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
bins = np.geomspace(0.1, 1.0, 31)  # 10 classes: the largest fraction is at least 0.1
final = largest.isel(step=-1)
axes[0].hist([final.values[ds["learning_rate"].values == np.float32(lr)] for lr in np.unique(lrs)], bins=bins,
             stacked=True, alpha=0.7, label=[f"trained, lr {lr:g}" for lr in np.unique(lrs)])
axes[0].hist(largest.isel(step=0).values, bins=bins, histtype="step", color="k", lw=1.5, label="initial")
axes[0].set_xscale("log")
axes[0].set_xlabel("largest class fraction on the test digits")
axes[0].set_ylabel("networks")
axes[0].legend(fontsize=8)

# The same networks before and after: class by class, sorted, medians across networks.
initial = np.sort(ds["class_fractions"].isel(step=0).values, axis=-1)[:, ::-1]
trained = np.sort(ds["class_fractions"].isel(step=-1).values, axis=-1)[:, ::-1]
rank = np.arange(1, data.out_dim + 1)
for values, label in ((initial, "initial"), (trained, "trained")):
    q = ensemble_quantiles(values)
    axes[1].plot(rank, q[2], marker="o", label=label)
    axes[1].fill_between(rank, q[1], q[3], alpha=0.3)
axes[1].axhline(1 / data.out_dim, color="k", ls=":", lw=1, label="balanced")
axes[1].set_xlabel("class, by its share of the test digits (rank)")
axes[1].set_ylabel("fraction of test digits")
axes[1].set_yscale("log")
axes[1].legend(fontsize=8)
fig.tight_layout()

print("median largest class fraction: initial", float(largest.isel(step=0).median()),
      "| trained", float(largest.isel(step=-1).median()))
print("median test accuracy after training:", float(ds["test_accuracy"].isel(step=-1).median()))
