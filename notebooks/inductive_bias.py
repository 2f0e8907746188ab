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
# # How much inductive bias does a task need?
#
# Boopathy, Yue, Hwang, Iyer & Fiete (IJCAI 2024) measure the information a model's inductive bias must
# supply to reach test error `eps`: among hypotheses that fit the training set, `I(eps) = -log2 P(test
# error <= eps)` bits. With a Gaussian process conditioned on the training set the test MSE of a posterior
# sample is a generalized chi-square, and jaxbias computes its lower tail exactly (numerical inversion,
# saddlepoint, a certified Chernoff bound), beside the reference code's single non-central chi-square fit.
#
# Here, at small size (`N` scales the sizes; the tests run this notebook with `N = 32`):
# 1. which kernel needs fewer bits on two digit classes: RBF, or the NNGP or NTK of a ReLU MLP;
# 2. the exact tail against the reference ncx2 fit;
# 3. the closed-form generalization difficulty of Boopathy et al. (ICML 2023) on the same data;
# 4. on a tiny Boolean task, exact counts of random networks that fit the training set, beside the NNGP and
#    trained networks.

# %%
import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np  # noqa: E402
from scipy.integrate import IntegrationWarning  # noqa: E402

import jaxbias as jb  # noqa: E402
from jaxbias import datasets  # noqa: E402
from jaxbias.experiments.inductive_bias import RBF, Infinite, inductive_bias  # noqa: E402
from jaxbias.experiments.inductive_bias_networks import boolean_comparison  # noqa: E402
from jaxbias.experiments.task_difficulty import paper_table, task_difficulty  # noqa: E402
from jaxbias.plot_inductive_bias import plot_bits_intervals, plot_bits_vs_epsilon  # noqa: E402
from jaxbias.training import Optimizer  # noqa: E402

warnings.simplefilter("ignore", IntegrationWarning)  # Imhof's quadrature; its error is reported per value
N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "256"))
FIGURES = tempfile.mkdtemp()

# %% [markdown]
# ## 1. Which kernel needs fewer bits on digits?
# Digits 3 and 8 (about 360 images, a quarter held out), one-hot targets. The RBF bandwidth is the median
# distance between training images; the NNGP and NTK are those of a 2-hidden-layer ReLU MLP (`C_W = 2`, NTK
# parameterization, so that the NTK stays O(1)). All three answer the same question at the same `eps` (test MSE
# over test points x outputs). The bits depend on each kernel's scale as well as its shape: a GP with a larger
# prior variance spreads its posterior samples further from the targets.

# %%
data = datasets.digits(classes=[3, 8], key=0)
x = np.asarray(data.x_train).reshape(data.n_train, -1)
bandwidth = float(np.median(np.linalg.norm(x[:, None] - x[None], axis=-1)))
net = jb.nets.MLP(512, 2, "relu", weight_var=2.0, bias_var=0.1, out=2, parameterization="ntk")
kernels = {"rbf": RBF(bandwidth), "nngp": Infinite(net, "nngp"), "ntk": Infinite(net, "ntk")}
eps = np.geomspace(0.02, 0.3, 10)
results = {name: inductive_bias(data, k, eps, methods=("inversion", "saddlepoint", "chernoff")) for name, k in
           kernels.items()}
print(data)
print(f"{'eps':>7s}" + "".join(f"{name:>12s}" for name in results))
for i, e in enumerate(eps):
    print(f"{e:7.3f}" + "".join(f"{float(r['recommended_bits'][i]):12.1f}" for r in results.values()))
for name, r in results.items():
    print(f"{name}: posterior mean's test MSE {float(r['mean_mse']):.4f}, E[Q] {float(r['expected_mse']):.4f}")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for name, r in results.items():
    ax.plot(eps, r["recommended_bits"], marker="o", label=name)
ax.set_xscale("log")
ax.set_yscale("symlog", linthresh=1.0)
ax.set_xlabel("target test MSE epsilon")
ax.set_ylabel("inductive bias (bits)")
ax.legend()
fig.savefig(os.path.join(FIGURES, "kernels.png"))

# %% [markdown]
# ## 2. Exact tail against the reference code's fit
# The reference code samples test errors and fits one non-central chi-square by maximum likelihood. On the
# NNGP posterior the exact methods agree with each other to their stated errors; the fit drifts in the tail.

# %%
exact = inductive_bias(data, kernels["nngp"], eps, methods=("inversion", "saddlepoint", "chernoff", "monte_carlo",
                                                             "ncx2_fit"), n_samples=20 * N)
print(exact["bits"].to_pandas().round(2))
print("values flagged as disagreeing with the recommended one, per method:",
      exact["disagree"].sum("epsilon").to_pandas().to_dict())
plot_bits_vs_epsilon(exact, os.path.join(FIGURES, "methods.png"))

# %% [markdown]
# ## 3. The closed form of the 2023 paper on the same digits
# Intrinsic dimension `m` (Levina-Bickel, bootstrap interval), class separation `delta`, radius `R`; bits are
# astronomically larger than the kernel's because the closed form counts all band-limited functions.
# The paper's table from its stated parameters follows.

# %%
td = task_difficulty(data, eps=[1e-3, 1e-2, 1e-1], n_boot=N)
print(f"m = {float(td['m']):.2f} [{float(td['m_low']):.2f}, {float(td['m_high']):.2f}], "
      f"delta = {float(td['delta']):.3g}, R = {float(td['radius']):.3g}")
print(td[["log10_bits", "log10_bits_low", "log10_bits_high"]].to_pandas().round(2))
print(paper_table()[["n", "m", "eps", "log10_bits"]].to_pandas().round(2))

# %% [markdown]
# ## 4. Ground truth on a Boolean task
# Majority of 4 bits, half the cube held out. Random networks (the prior) are conditioned on fitting the
# 8 training labels by rejection, their sign tables counted exactly on device; beside them the NNGP of the same
# architecture (conditioned on +-1 values, a different hypothesis set) and trained networks. Error: the share
# of the 8 test points whose sign is wrong; `eps = (j + 1/2) / 8` means at most `j` mistakes.

# %%
boolean = datasets.boolean("majority", n_bits=4, test_fraction=0.5, key=0, values="pm1")
small = jb.nets.MLP(64, 2, "relu", weight_var=2.0, bias_var=0.1)
cmp = boolean_comparison(small, boolean, Optimizer("sgd", learning_rate=0.1), n_prior=512 * N, n_trained=N,
                         steps=200, n_samples=200 * N, progress=False)
print(cmp["bits"].to_pandas().T.round(2))
print("hypotheses:", dict(zip(cmp["source"].values.tolist(), cmp["n_hypotheses"].values.tolist())),
      f"| bits to fit the training set under the prior: {float(cmp['bits_fit']):.2f}")
plot_bits_intervals(cmp, os.path.join(FIGURES, "boolean.png"), xlabel="target zero-one test error epsilon")
