"""Guessing bias: the law of G_0 over 500 networks against the mean-field prediction (docs figure)."""
import matplotlib.pyplot as plt
import numpy as np

import jaxbias as jb
from jaxbias.experiments import igb


def figure(path):
    x = igb.igb_inputs("blobs", n_points=200, dim=16)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    g = np.linspace(0.005, 0.995, 199)
    for ax, (title, net) in zip(axes, [("relu, no bias", jb.nets.MLP(128, 2, "relu", weight_var=2.0)),
                                       ("relu, max(2) pooling", jb.nets.MLP(128, 2, "relu", weight_var=2.0,
                                                                           pool="max(2)"))]):
        stats = jb.reduce(net, x, n=500, key=0, stat=jb.measures.guessing_stats, progress=False)
        gamma = float(jb.theory.predict_gamma(net, x).gamma)
        ax.hist(np.asarray(stats.g0), bins=25, range=(0, 1), density=True, alpha=0.6, label="500 networks")
        ax.plot(g, jb.theory.g0_pdf(g, gamma), "k", label=f"theory, gamma = {gamma:.2f}")
        ax.set(title=title, xlabel="G_0 (fraction of inputs in class 0)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
