"""Measures: the Fourier mean frequency of 200 networks per activation (docs figure)."""
import matplotlib.pyplot as plt

import jaxbias as jb


def figure(path):
    x = jb.inputs.grid(dim=2, resolution=32)
    freq = jb.measures.MeanFrequency(shape=(32, 32), window="hann")
    fig, ax = plt.subplots(figsize=(6, 3))
    for act in ("relu", "sin"):
        s = jb.reduce(jb.nets.MLP(64, 3, act, weight_var=4.0), x, n=100, key=0, stat=freq, progress=False)
        ax.hist(s, bins=30, range=(0, 0.5), histtype="step", label=act)
    ax.set(xlabel="mean frequency (0 = constant, ~0.5 = white noise)", ylabel="networks",
           title="MeanFrequency of 100 MLPs (width 64, depth 3, C_W = 4)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
