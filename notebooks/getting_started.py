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
# # Getting started with jaxbias
#
# Sample random networks, reduce each to a statistic inside the compiled program, save the
# results with their config, reload them and plot. `N` is small so that the tests can run this
# notebook; raise it for real work.

# %%
import os
import tempfile

import jax.numpy as jnp

import matplotlib.pyplot as plt  # noqa: E402

import jaxbias as jb  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "64"))

# %% [markdown]
# ## Sample
# A tanh MLP with 3 hidden layers of width 64; C_W = 1.5, C_b = 0.05. Network `i` is a pure
# function of `fold_in(key, i)`.

# %%
net = jb.nets.mlp(width=64, depth=3, activation="tanh", weight_var=1.5, bias_var=0.05)
x = jb.inputs.grid(dim=2, resolution=32)
y = jb.sample(net, x, n=N, key=0)
print(y.shape)

# %% [markdown]
# ## Reduce
# Only the per-network statistic leaves the device: here the spread of each function over the
# grid and the fraction of inputs with a positive output.

# %%
stats = jb.reduce(net, x, n=N, key=0, stat=lambda f: {"std": jnp.std(f), "positive": jnp.mean(f > 0)})
moments = jb.summarize(net, x, n=N, key=0, stat=lambda f: jnp.std(f), summary=jb.summaries.moments())
print(f"mean std over nets {moments['mean']:.4f} +- {moments['sem']:.4f}")

# %% [markdown]
# ## Save and reload

# %%
path = os.path.join(tempfile.mkdtemp(), "getting_started.nc")
ds = jb.outputs_dataset(y, x, {"net": net, "n": N}, key=0, grid_shape=(32, 32))
jb.save(ds, path)
again = jb.load(path)
assert (again["outputs"].values == y).all()
print(jb.io.config_of(again)["net"]["activation"], again["outputs"].dims)

# %% [markdown]
# ## Plot

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for i, ax in enumerate(axes[:2]):
    ax.imshow(again["outputs"].isel(net=i, out=0).values.reshape(32, 32).T, origin="lower", cmap="RdBu_r")
    ax.set_title(f"network {i}")
axes[2].hist(stats["positive"], bins=20, range=(0, 1))
axes[2].set_xlabel("fraction of inputs with f(x) > 0")
fig.tight_layout()
