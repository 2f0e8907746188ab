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
# # The neural redshift and the Boolean prior
#
# Random networks are not random functions (Teney et al., "Neural Redshift", CVPR 2024): with
# ReLU the functions of random MLPs stay simple whatever the weight scale, with tanh or the
# Gaussian activation their complexity climbs with scale and depth. On Boolean inputs the prior
# over functions is strongly biased towards simple functions (Valle-Perez et al., ICLR 2019).
#
# `N` (networks per cell) is small so that the tests can run this notebook; raise it (e.g. 500)
# for publication-quality figures.

# %%
import os
import tempfile

from IPython.display import Image, display  # noqa: E402

from jaxbias.experiments import boolean_prior, redshift  # noqa: E402
from jaxbias.plot_complexity import plot_boolean_prior, plot_redshift_curves, plot_redshift_heatmaps  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "200"))
work = tempfile.mkdtemp()

# %% [markdown]
# ## Redshift heatmaps: ReLU, GELU, tanh, Gaussian
# Each cell: `N` MLPs of width 64 on a 64 x 64 grid over [-1, 1]^2, every network scored at every
# weight scale C_W (weights N(0, C_W / fan_in), biases variance 0.1) by the Fourier mean frequency
# (full FFT, DC dropped, magnitude-weighted radius / largest radius). The colour bar marks a
# linear ramp (floor) and white noise (ceiling).

# %%
small = N < 100
ds = redshift(os.path.join(work, "redshift.nc"), activations=("relu", "gelu", "tanh", "gaussian"),
              depths=(1, 4) if small else (1, 2, 4, 8), scales=(0.5, 2.0, 8.0, 32.0), widths=(32 if small else 64,),
              n=N, resolution=32 if small else 64, progress=False)
display(Image(plot_redshift_heatmaps(ds, os.path.join(work, "heatmaps.png"))))
display(Image(plot_redshift_curves(ds, os.path.join(work, "curves.png"))))
print(ds["mean_frequency_mean"].sel(scale=32.0).to_pandas().round(3))

# %% [markdown]
# ReLU networks are positively homogeneous: scaling the weights scales the function (up to the
# biases), so the mean frequency barely moves with C_W. tanh and the Gaussian become oscillatory
# as the pre-activations grow, and more so with depth.

# %% [markdown]
# ## The Boolean prior: 7 -> 40 -> 40 -> 1 ReLU networks on {0,1}^7
# Every truth table is packed and counted inside the compiled program; only distinct tables
# and their counts leave it. Valle-Perez et al. use 10^6 - 10^8 networks; here `500 * N`.

# %%
prior = boolean_prior(os.path.join(work, "prior.nc"), bias_stds=(0.1,) if small else (0.1, 1.0), n=500 * N,
                      keep=2**14, progress=False)
display(Image(plot_boolean_prior(prior, os.path.join(work, "prior.png"))))
for b in prior["bias_std"].values:
    cell = prior.sel(bias_std=b)
    print(f"bias std {b:g}: {int(cell['n_distinct'])} distinct functions, P(constant) = {float(cell['p_constant']):.3f}")
top = prior.sel(bias_std=0.1).isel(function=slice(0, 5))
print(top[["probability", "lz_complexity", "sensitivity", "entropy"]].to_dataframe().round(4))
