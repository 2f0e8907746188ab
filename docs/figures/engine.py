"""Sampling engine: the functions of 8 random tanh MLPs on a 1-D grid (docs figure)."""
import matplotlib.pyplot as plt

import jaxbias as jb


def figure(path):
    net = jb.nets.MLP(width=128, depth=3, activation="tanh", weight_var=2.0, bias_var=0.1)
    x = jb.inputs.grid(dim=1, resolution=256)                  # (256, 1)
    y = jb.sample(net, x, n=8, key=0, progress=False)           # (8, 256, 1)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(x[:, 0], y[:, :, 0].T, lw=1)
    ax.set(xlabel="x", ylabel="f(x)", title="8 networks: jb.sample(MLP(128, 3, 'tanh', C_W=2), grid, n=8)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
