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
# # Kernels: empirical and infinite-width NTK, their spectra
#
# 1. The empirical NTK `T(x, x') = J(x) J(x')^T` three ways (Novak et al., ICML 2022): Jacobian
#    contraction, NTK-vector products and the structured method, which for dense layers needs one
#    vjp and the layer inputs.
# 2. Averaged over random inits, it approaches the infinite-width NTK as the width grows
#    (Jacot et al. 2018), with a spread over inits that shrinks like `1/sqrt(width)`.
# 3. On the Boolean cube coded as {-1,+1}^n an MLP kernel is diagonal in the Walsh basis and its
#    eigenvalues fall with the degree: the spectral bias towards simple (low-degree) functions
#    (on {0,1}^n it is not diagonal).
#
# `N` (networks per average) is small so that the tests can run this notebook; raise it for real work.

# %%
import os
import time

import jax
import numpy as np

import matplotlib.pyplot as plt  # noqa: E402

import jaxbias as jb  # noqa: E402

N = int(os.environ.get("JAXBIAS_NOTEBOOK_N", "128"))

# %% [markdown]
# ## Three methods, one kernel

# %%
x = jb.inputs.sphere(8, 64, key=0)
net = jb.nets.mlp(256, 3, "relu", out=4, weight_var=2.0, bias_var=0.05, parameterization="ntk")
params = net.init(jax.random.key(1), x)
kernels = {}
for method in ("structured", "jacobian", "ntvp"):
    start = time.perf_counter()
    kernels[method] = jb.kernels.empirical_ntk(net, params, x, method=method)
    print(f"{method:>10}: {1e3 * (time.perf_counter() - start):7.1f} ms (first call: includes compilation)")
for method in ("jacobian", "ntvp"):
    diff = np.abs(kernels[method] - kernels["structured"]).max() / np.abs(kernels["structured"]).max()
    print(f"max relative difference structured vs {method}: {diff:.1e}")

# %% [markdown]
# ## Finite width towards infinite width
# Mean and spread of the NTK over `N` inits at growing width, against `jb.kernels.infinite`.

# %%
xs = jb.inputs.sphere(4, 16, key=2)
widths = [16, 64, 256]
distance, spread = [], []
for width in widths:
    wnet = jb.nets.mlp(width, 2, "relu", weight_var=2.0, bias_var=0.05, parameterization="ntk")
    m = jb.kernels.ntk_moments(wnet, xs, n=N, key=3, progress=False)
    inf = np.asarray(jb.kernels.infinite(wnet, xs).ntk)
    distance.append(np.linalg.norm(m.mean - inf) / np.linalg.norm(inf))
    spread.append(np.linalg.norm(m.std) / np.linalg.norm(inf))
    print(f"width {width:4d}: |mean - infinite| / |infinite| = {distance[-1]:.3f}, "
          f"|std over inits| / |infinite| = {spread[-1]:.3f}")
fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.loglog(widths, distance, "o-", label="mean NTK to infinite NTK")
ax.loglog(widths, spread, "s-", label="spread over inits")
ax.loglog(widths, spread[0] * np.sqrt(widths[0] / np.asarray(widths)), "k:", label="1/sqrt(width)")
ax.set_xlabel("width")
ax.set_ylabel("relative Frobenius norm")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## The finite-width NNGP, two Monte Carlo estimators
# Over networks (the mean of `f(x) f(x')`), and conditional: given the last-but-one hidden layer the
# last hidden layer and the readout are integrated exactly, so each draw carries far less noise.
# Both estimate the same finite-width kernel, which at width 8 is visibly not the infinite-width one.

# %%
narrow = jb.nets.mlp(8, 3, "relu", weight_var=2.0, bias_var=0.05)
over_nets = jb.kernels.nngp_monte_carlo(narrow, xs, n=N, key=5, progress=False)
conditional = jb.kernels.nngp_monte_carlo(narrow, xs, n=N, key=5, estimator="conditional", progress=False)
limit = np.asarray(jb.kernels.infinite(narrow, xs).nngp)
z = np.abs(over_nets.mean - conditional.mean) / np.sqrt(over_nets.sem**2 + conditional.sem**2)
print(f"standard error, median over entries: networks {np.median(over_nets.sem):.4f}, "
      f"conditional {np.median(conditional.sem):.4f}; largest gap between them {z.max():.1f} standard errors")
print(f"|conditional - infinite| / |infinite| = {np.linalg.norm(conditional.mean - limit) / np.linalg.norm(limit):.3f}")

# %% [markdown]
# ## Spectrum on the hypercube: eigenvalue per Walsh degree
#
# On {-1,+1}^n an MLP kernel depends only on the Hamming distance: the Walsh characters are its
# eigenvectors and each degree has one eigenvalue (`exact`). On the {0,1}^n coding (the default of
# `jb.inputs.hypercube`, used by the Boolean-prior experiment) it does not, and `walsh_spectrum`
# groups the true eigenvalues by the degree dominating each eigenvector, with the off-diagonal mass.

# %%
cube = jb.inputs.hypercube(7, values="pm1")
cnet = jb.nets.mlp(512, 3, "relu", weight_var=2.0, bias_var=0.05, parameterization="ntk")
inf = jb.kernels.infinite(cnet, cube)
walsh_ntk = jb.kernels.walsh_spectrum(np.asarray(inf.ntk), cube)
walsh_nngp = jb.kernels.walsh_spectrum(np.asarray(inf.nngp), cube)
finite = jb.kernels.ntk_moments(cnet, cube, n=max(4, N // 8), key=0, progress=False)
walsh_finite = jb.kernels.walsh_spectrum(finite.mean, cube)
print("{-1,+1}^7: off-diagonal Walsh mass, infinite NTK:", f"{walsh_ntk.off_diagonal:.1e}",
      f"(exact: {walsh_ntk.exact})", "; finite-width mean NTK:", f"{walsh_finite.off_diagonal:.2f}")
cube01 = jb.inputs.hypercube(7)
walsh_01 = jb.kernels.walsh_spectrum(np.asarray(jb.kernels.infinite(cnet, cube01).ntk), cube01)
print("{0,1}^7: off-diagonal Walsh mass, infinite NTK:", f"{walsh_01.off_diagonal:.2f}",
      f"(exact: {walsh_01.exact}); eigenvectors per degree", walsh_01.count.tolist(),
      "instead of", walsh_01.multiplicity.tolist())
fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.semilogy(walsh_ntk.degree, walsh_ntk.eigenvalue, "o-", label="infinite NTK")
ax.semilogy(walsh_nngp.degree, walsh_nngp.eigenvalue, "s-", label="infinite NNGP")
ax.semilogy(walsh_finite.degree, walsh_finite.eigenvalue, "^--", label="finite width, mean NTK")
ax.set_xlabel("Walsh degree |S|")
ax.set_ylabel("eigenvalue")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Spectrum summaries, and Lanczos without forming the kernel

# %%
spec = jb.kernels.eigen(np.asarray(inf.ntk))
fit = jb.kernels.power_law_fit(spec.values, k_min=2, k_max=64)
print(f"effective rank {jb.kernels.effective_rank(spec.values):.2f}, "
      f"condition number {jb.kernels.condition_number(spec.values):.3g}, power-law exponent {fit.exponent:.2f}")
parity = np.prod(np.asarray(cube), axis=1)  # the degree-7 character (cube is {-1,+1}^7)
first_bit = np.asarray(cube)[:, 0]  # a degree-1 character
for name, y in (("first bit", first_bit), ("parity", parity)):
    frac = jb.kernels.target_alignment(spec.vectors, y)
    print(f"{name:>9}: {frac[:8].sum():.2f} of its energy on the top 8 eigenvectors")
cparams = cnet.init(jax.random.key(0), cube)
lz = jb.kernels.eigen(jb.kernels.ntk_matvec(cnet, cparams, cube), n=cube.shape[0], top=4)
dense = jb.kernels.eigen(jb.kernels.empirical_ntk(cnet, cparams, cube), top=4, vectors=False)
print("Lanczos top-4:", np.round(lz.values, 3), " dense eigh:", np.round(dense.values, 3))
